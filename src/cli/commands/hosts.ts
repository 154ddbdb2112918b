/**
 * `patchbot hosts add|list|remove|import|pin|unpin|check`: hosts defined on the command line, beside
 * the ones the policy file defines (those are reconciled into the database first and can only be
 * changed in the file), and a read-only check of what a host gives patchbot (pinned key, sudo
 * rights, reads). Removing retires a host: it keeps its history.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { HostAddress, Name, UnixUser } from '../../config/values.js';
import { UsageError } from '../../core/errors.js';
import { HostName, type HostInput, type HostRecord, type PinnedHostKey } from '../../db/types.js';
import { fetchHostKeyFingerprint } from '../../executors/ssh/index.js';
import {
  LOCAL_ADDRESS,
  addHost,
  checkHostReferences,
  describeDefinition,
  describeHostKeys,
  fingerprintToHex,
  listHosts,
  mergeHostKeys,
  removeHost,
  type PolicyFileRef,
} from '../../usecases/hosts.js';
import { checkHost } from '../../usecases/host-check.js';
import { withApp } from '../context.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import {
  asUsage,
  check,
  cliActor,
  collect,
  defaultEnvironment,
  identityFileFlag,
  intFlag,
  parseLabels,
  policyFileRef,
  printTable,
  syncHostsFromPolicy,
} from './hosts-common.js';
import { registerHostsImport } from './hosts-import.js';
import { registerHostsPin } from './hosts-pin.js';

export { cliActor, syncHostsFromPolicy } from './hosts-common.js';

interface AddOptions {
  address: string;
  port?: string;
  user?: string;
  identityFile?: string;
  hostKey: string[];
  scanHostKey?: boolean;
  label: string[];
  env?: string;
  criticality?: string;
  internetFacing?: boolean;
  control: string[];
  ring?: string;
  team?: string;
  group: string[];
  replace?: boolean;
}

async function runAdd(io: CliIo, rawName: string, o: AddOptions): Promise<void> {
  const name = check(HostName, rawName, 'NAME');
  const address = o.address === LOCAL_ADDRESS ? LOCAL_ADDRESS : check(HostAddress, o.address, '--address');
  const user = o.user === undefined ? undefined : check(UnixUser, o.user, '--user');
  if (o.hostKey.length > 0 && o.scanHostKey === true) {
    throw new UsageError('--host-key and --scan-host-key: give one, not both');
  }
  if (
    address === LOCAL_ADDRESS &&
    (o.hostKey.length > 0 || o.scanHostKey === true || o.identityFile !== undefined)
  ) {
    throw new UsageError(
      `--address ${LOCAL_ADDRESS} is this machine (no SSH): --host-key, --scan-host-key and --identity-file do not apply`,
    );
  }
  let hostKeys: PinnedHostKey[] = mergeHostKeys(
    [],
    asUsage(() => o.hostKey.map((k) => ({ sha256: fingerprintToHex(k, '--host-key'), type: null }))),
  );
  const labels = parseLabels(o.label);
  const criticality =
    o.criticality === undefined
      ? undefined
      : (intFlag(o.criticality, '--criticality', 1, 4, '1 (most critical) to 4 (least)') as 1 | 2 | 3 | 4);
  const controls = o.control.map((c) => {
    if (c.trim() === '' || c.length > 128)
      throw new UsageError(
        `--control: expected a control name of 1-128 characters, got ${JSON.stringify(c)}`,
      );
    return c.trim();
  });
  const ring = o.ring === undefined ? undefined : check(Name, o.ring, '--ring');
  const team = o.team === undefined ? undefined : check(Name, o.team, '--team');
  const groups = o.group.map((g) => check(Name, g, '--group'));
  const envName = o.env === undefined ? undefined : check(Name, o.env, '--env');
  const portFlag =
    o.port === undefined ? undefined : intFlag(o.port, '--port', 1, 65535, 'a port number 1-65535');
  const identityFile = o.identityFile === undefined ? undefined : await identityFileFlag(o.identityFile, io);

  await withApp(io, {}, async (app) => {
    const { policy } = app.config;
    const ref = policyFileRef(app);
    const port = portFlag ?? policy.ssh.port;
    const environment = envName ?? defaultEnvironment(policy.environments);
    const unknownGroups = asUsage(() =>
      checkHostReferences(policy, { team, ring, environment, groups }, ref, {
        team: '--team',
        ring: '--ring',
        environment: '--env',
        group: '--group',
      }),
    );
    for (const g of unknownGroups) writeLine(io.stderr, `warning: ${g}`);

    await syncHostsFromPolicy(app, io);

    let hostKeySource: 'given' | 'scanned' | 'none' = hostKeys.length === 0 ? 'none' : 'given';
    if (o.scanHostKey === true) {
      const existing = await app.repos.hosts.get(name);
      if (existing?.source === 'policy' && existing.retiredAt === null && ref.inUse) {
        // addHost refuses it; do not contact the host first
      } else {
        const key = await fetchHostKeyFingerprint(address, port, { timeoutMs: policy.ssh.connectTimeout });
        hostKeys = [{ sha256: fingerprintToHex(key.fingerprint, 'scanned host key'), type: key.keyType }];
        hostKeySource = 'scanned';
        writeLine(
          io.stderr,
          `warning: pinning the ${key.keyType} key that ${address}:${port} presented just now:`,
        );
        writeLine(io.stderr, `  ${key.fingerprint}`);
        writeLine(
          io.stderr,
          '  This is trust on first use. Verify it out of band before relying on it: run ' +
            '`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host (console, provisioning log) and compare.',
        );
      }
    }

    const input: HostInput = {
      name,
      address,
      port,
      sshUser: user ?? null,
      hostKeys,
      identityFile: identityFile ?? null,
      labels,
      groups,
      environment,
      ...(criticality !== undefined ? { criticality } : {}),
      internetFacing: o.internetFacing === true,
      compensatingControls: controls,
      ring: ring ?? null,
      team: team ?? null,
      source: 'cli',
    };
    const record = await addHost(app.repos, input, {
      actor: cliActor(io),
      replace: o.replace === true,
      policy,
      policyFile: ref,
      auditDetails: { hostKeySource },
    });
    writeLine(io.stdout, `${o.replace ? 'saved' : 'added'} host ${describeHost(record, policy.ssh.user)}`);
    if (record.hostKeys.length === 0 && record.address !== LOCAL_ADDRESS) {
      writeLine(
        io.stderr,
        `note: no host key pinned: inventory and deployments refuse ${record.name} until one is ` +
          `(patchbot hosts pin --scan ${record.name}, or patchbot hosts pin ${record.name} --key SHA256:...)`,
      );
    }
  });
}

/** "SHA256:abc (ssh-ed25519), SHA256:def" or "NOT PINNED". */
export function hostKeysText(h: Pick<HostRecord, 'hostKeys'>): string {
  return h.hostKeys.length === 0
    ? 'NOT PINNED'
    : describeHostKeys(h.hostKeys)
        .map((k) => (k.type ? `${k.fingerprint} (${k.type})` : k.fingerprint))
        .join(', ');
}

function describeHost(h: HostRecord, defaultUser: string): string {
  const where =
    h.address === LOCAL_ADDRESS ? 'this machine' : `${h.sshUser ?? defaultUser}@${h.address}:${h.port}`;
  const facts = [
    where,
    h.address === LOCAL_ADDRESS ? '' : `host key ${hostKeysText(h)}`,
    h.identityFile ? `identity file ${h.identityFile}` : '',
    `environment ${h.environment}`,
    `criticality ${h.criticality}`,
    h.internetFacing ? 'internet-facing' : '',
    h.team ? `team ${h.team}` : '',
    h.ring ? `ring ${h.ring}` : '',
    h.groups.length ? `groups ${h.groups.join(', ')}` : '',
    Object.keys(h.labels).length
      ? `labels ${Object.entries(h.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`
      : '',
    h.compensatingControls.length ? `controls ${h.compensatingControls.join(', ')}` : '',
  ].filter((f) => f !== '');
  return `${h.name} (${facts.join('; ')})`;
}

/** A host as `hosts list --format json` prints it. */
export function hostJson(h: HostRecord) {
  const { hostKeys: _sorted, ...definition } = describeDefinition(h);
  return {
    name: h.name,
    ...definition,
    hostKeys: describeHostKeys(h.hostKeys),
    status: h.retiredAt === null ? 'managed' : 'retired',
    retiredAt: h.retiredAt?.toISOString() ?? null,
    osFamily: h.osFamily,
    osRelease: h.osRelease,
    kernel: h.kernel,
    lastInventoryAt: h.lastInventoryAt?.toISOString() ?? null,
    rebootRequired: h.rebootRequired,
    createdAt: h.createdAt.toISOString(),
    updatedAt: h.updatedAt.toISOString(),
  };
}

/** SOURCE column: the policy file (its name), "cli", or the policy file no longer in use. */
function sourceText(h: HostRecord, ref: PolicyFileRef): string {
  if (h.source !== 'policy') return 'cli';
  return ref.inUse ? path.basename(ref.path) : 'policy (no file in use)';
}

export function registerHosts(program: Command, io: CliIo): void {
  const hosts = program
    .command('hosts')
    .description(
      "Hosts patchbot manages: the policy file's and those added here (add, list, remove, import, pin, unpin).",
    );

  hosts
    .command('add')
    .description(
      'Add a host reached over SSH (or this machine with --address local). Hosts in the policy file are changed there.',
    )
    .argument('<name>', 'host name (letters, digits, ".", "_", "-")')
    .requiredOption('--address <address>', `DNS name or IP address, or "${LOCAL_ADDRESS}" for this machine`)
    .option('--port <port>', 'SSH port (default: ssh.port of the policy, 22)')
    .option('--user <user>', 'SSH user (default: ssh.user of the policy)')
    .option(
      '--identity-file <file>',
      "SSH private key for this host (default: the policy's ssh.identityFile, else the agent)",
    )
    .option(
      '--host-key <fingerprint>',
      'pinned host key, SHA256:... as `ssh-keygen -lf` prints it (repeatable: any pinned key is accepted)',
      collect,
      [],
    )
    .option(
      '--scan-host-key',
      'read the key the host presents now and pin it (trust on first use: verify it)',
    )
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--env <environment>', "environment (one of the policy's environments; default production)")
    .option('--criticality <1-4>', '1 = most critical ... 4 = least (default 3)')
    .option('--internet-facing', 'the host is reachable from the internet')
    .option('--control <name>', 'a compensating control in place (repeatable)', collect, [])
    .option('--ring <ring>', "deployment ring (one of the policy's rings), whatever the ring selectors say")
    .option('--team <team>', "owning team (one of the policy's teams; default: from the policy's routing)")
    .option('--group <group>', "host group (repeatable), on top of the policy's group selectors", collect, [])
    .option('--replace', 'redefine a host added earlier with `hosts add`')
    .addHelpText(
      'after',
      '\nEvery change is written to the audit trail. Without --host-key or --scan-host-key, SSH connections ' +
        'to the host are refused until a key is pinned (`patchbot hosts pin`). A team or ring the policy ' +
        'file does not define is refused. A retired host added again is managed again, with its history.',
    )
    .action(async (name: string, opts: AddOptions) => runAdd(io, name, opts));

  hosts
    .command('list')
    .description('List hosts (from the policy file and added with `hosts add` or `hosts import`).')
    .option('--team <team>', 'only hosts of this team')
    .option('--retired', 'retired hosts too (no longer managed; their history is kept)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { team?: string; retired?: boolean; format: 'text' | 'json' }) => {
      await withApp(io, { format: opts.format }, async (app) => {
        await syncHostsFromPolicy(app, io);
        const ref = policyFileRef(app);
        const list = await listHosts(app.repos, {
          ...(opts.team === undefined ? {} : { team: opts.team }),
          ...(opts.retired === true ? { includeRetired: true } : {}),
        });
        const retiredCount =
          opts.retired === true
            ? 0
            : (await app.repos.hosts.list({ includeRetired: true })).length -
              (await app.repos.hosts.list()).length;
        if (opts.format === 'json') {
          writeLine(
            io.stdout,
            JSON.stringify({ policyFile: ref.inUse ? ref.path : null, hosts: list.map(hostJson) }, null, 2),
          );
          return;
        }
        const tail = () => {
          if (retiredCount > 0)
            writeLine(io.stdout, `(${retiredCount} retired host(s) not shown: --retired lists them)`);
        };
        if (list.length === 0) {
          writeLine(
            io.stdout,
            opts.team === undefined
              ? 'no hosts (add one with `patchbot hosts add`, `patchbot hosts import` or in the policy file)'
              : `no hosts of team ${opts.team}`,
          );
          tail();
          return;
        }
        const rows = [
          [
            'NAME',
            'ADDRESS',
            'USER',
            'ENV',
            'CRIT',
            'TEAM',
            'SOURCE',
            'STATUS',
            'HOST KEY',
            'LAST INVENTORY',
          ],
        ];
        for (const h of list) {
          const local = h.address === LOCAL_ADDRESS;
          const keys = describeHostKeys(h.hostKeys).map((k) => k.fingerprint);
          rows.push([
            h.name,
            local ? LOCAL_ADDRESS : `${h.address}:${h.port}`,
            local ? '-' : (h.sshUser ?? app.config.policy.ssh.user),
            h.environment,
            String(h.criticality),
            h.team ?? '-',
            sourceText(h, ref),
            h.retiredAt === null ? 'managed' : `retired ${h.retiredAt.toISOString().slice(0, 10)}`,
            local
              ? '-'
              : keys.length === 0
                ? 'NOT PINNED'
                : keys.length === 1
                  ? (keys[0] ?? '')
                  : `${keys[0]} +${keys.length - 1}`,
            h.lastInventoryAt ? h.lastInventoryAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : 'never',
          ]);
        }
        printTable(io, rows);
        tail();
      });
    });

  hosts
    .command('check')
    .description(
      'Check, read-only, that a host gives patchbot what a deployment needs: the pinned host key, the ' +
        'sudo rights of docs/patchbot.sudoers for its package manager (asked of sudo, nothing is run as ' +
        'root), and the reads it runs as its user. Exit code 1 when something is missing.',
    )
    .argument('<name>', 'host name')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (name: string, opts: { format: 'text' | 'json' }) => {
      const ok = await withApp(io, { format: opts.format }, async (app) => {
        await syncHostsFromPolicy(app, io);
        const host = await app.repos.hosts.require(check(HostName, name, 'NAME'));
        const report = await checkHost(
          {
            repos: app.repos,
            config: {
              policy: app.config.policy,
              policyPath: app.config.policyPath,
              env:
                app.config.env.sshAuthSock === undefined ? {} : { sshAuthSock: app.config.env.sshAuthSock },
            },
          },
          host,
        );
        if (opts.format === 'json') {
          writeLine(io.stdout, JSON.stringify(report, null, 2));
          return report.ok;
        }
        writeLine(
          io.stdout,
          `${report.host} (${report.user}@${report.address}): ${report.tool ?? 'unknown package manager'}, ` +
            `${report.sudo ? 'through sudo' : 'as root'}`,
        );
        for (const item of report.items) {
          writeLine(io.stdout, `  ${item.ok ? 'ok     ' : 'MISSING'} ${item.name}: ${item.detail}`);
        }
        const missing = report.items.filter((i) => !i.ok).length;
        writeLine(
          io.stdout,
          missing === 0
            ? `${report.host} gives patchbot everything a deployment needs`
            : `${report.host}: ${missing} item(s) missing`,
        );
        return report.ok;
      });
      // the report says what is missing; the exit code says that something is
      if (!ok) throw new CliExit(1);
    });

  hosts
    .command('remove')
    .description(
      'Retire a host added with `hosts add` or `hosts import`: no longer collected, counted or deployed to; its history is kept (policy hosts: edit the file).',
    )
    .argument('<name>', 'host name')
    .option(
      '--purge',
      'delete the host with its inventory and findings instead (deployment history keeps its name)',
    )
    .action(async (name: string, opts: { purge?: boolean }) => {
      await withApp(io, {}, async (app) => {
        await syncHostsFromPolicy(app, io);
        const r = await removeHost(app.repos, name, {
          actor: cliActor(io),
          policyFile: policyFileRef(app),
          purge: opts.purge === true,
        });
        writeLine(
          io.stdout,
          r.outcome === 'purged'
            ? `deleted host ${r.host.name} with its inventory and findings`
            : `retired host ${r.host.name}: no longer collected, counted or deployed to; its history is kept ` +
                '(`patchbot hosts list --retired`)',
        );
      });
    });

  registerHostsImport(hosts, io);
  registerHostsPin(hosts, io);
}
