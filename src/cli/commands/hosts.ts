/**
 * `patchbot hosts add|list|remove|check`: hosts defined on the command line, beside the ones the policy
 * file defines (those are reconciled into the database first and can only be changed in the file),
 * and a read-only check of what a host gives patchbot (pinned key, sudo rights, reads).
 */
import os from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { HostAddress, LabelKey, LabelValue, Name, UnixUser, closest } from '../../config/values.js';
import { ValidationError } from '../../core/errors.js';
import { HostName, type HostInput, type HostRecord } from '../../db/types.js';
import { fetchHostKeyFingerprint } from '../../executors/ssh/index.js';
import {
  LOCAL_ADDRESS,
  addHost,
  describeDefinition,
  fingerprintToHex,
  hexToFingerprint,
  listHosts,
  removeHost,
  syncPolicyHosts,
  type Actor,
} from '../../usecases/hosts.js';
import { checkHost } from '../../usecases/host-check.js';
import { withApp, type AppContext } from '../context.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

/** The person running the command: the OS user. */
export function cliActor(io: CliIo): Actor {
  let id: string | undefined;
  try {
    id = os.userInfo().username;
  } catch {
    id = undefined;
  }
  id = id || io.env.USER || io.env.LOGNAME || `uid:${process.getuid?.() ?? 'unknown'}`;
  return { id, surface: 'cli' };
}

/** The policy file's name for messages ("patchbot.yaml"). */
export function policyFileName(app: Pick<AppContext, 'config'>): string {
  return path.basename(app.config.policyPath);
}

/**
 * Brings the database's policy hosts in line with the policy file before a hosts or inventory
 * command. Without a policy file (built-in defaults) nothing is removed: a missing file is not an
 * empty one.
 */
export async function syncHostsFromPolicy(app: AppContext, io: CliIo): Promise<void> {
  const file = policyFileName(app);
  if (app.config.policySource === 'defaults') {
    const stored = await app.repos.hosts.list({ source: 'policy' });
    if (stored.length > 0) {
      writeLine(
        io.stderr,
        `warning: no policy file at ${app.config.policyPath}; keeping the ${stored.length} host(s) an earlier policy file defined`,
      );
    }
    return;
  }
  const r = await syncPolicyHosts(app.config.policy, app.repos, {
    actor: cliActor(io),
    policyFile: app.config.policyPath,
  });
  const parts = [
    r.added.length ? `${r.added.length} added (${r.added.join(', ')})` : '',
    r.updated.length ? `${r.updated.length} updated (${r.updated.map((u) => u.name).join(', ')})` : '',
    r.adopted.length ? `${r.adopted.length} now defined by the file (${r.adopted.join(', ')})` : '',
    r.removed.length ? `${r.removed.length} removed (${r.removed.join(', ')})` : '',
  ].filter((p) => p !== '');
  if (parts.length > 0) writeLine(io.stderr, `${file}: hosts ${parts.join(', ')}`);
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Parses a flag's value with a schema; the error names the flag and the value. */
function check<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const message = r.error.issues[0]?.message ?? 'invalid value';
  throw new ValidationError(`${flag}: ${message}, got ${JSON.stringify(value)}`, {
    details: { flag, value },
  });
}

function intFlag(value: string, flag: string, min: number, max: number, what: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new ValidationError(`${flag}: expected ${what}, got ${JSON.stringify(value)}`, {
      details: { flag, value },
    });
  }
  return Number(value);
}

function unknownName(flag: string, value: string, kind: string, known: readonly string[]): string {
  const hint = closest(value, known);
  return `${flag}: unknown ${kind} ${JSON.stringify(value)}${hint ? `; did you mean "${hint}"?` : ''} (${
    known.length ? `known: ${known.join(', ')}` : `no ${kind}s are defined`
  })`;
}

interface AddOptions {
  address: string;
  port?: string;
  user?: string;
  hostKey?: string;
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
  if (o.hostKey !== undefined && o.scanHostKey === true) {
    throw new ValidationError('--host-key and --scan-host-key: give one, not both');
  }
  if (address === LOCAL_ADDRESS && (o.hostKey !== undefined || o.scanHostKey === true)) {
    throw new ValidationError(
      `--address ${LOCAL_ADDRESS} is this machine (no SSH): --host-key and --scan-host-key do not apply`,
    );
  }
  let hostKeySha256 = o.hostKey === undefined ? undefined : fingerprintToHex(o.hostKey, '--host-key');
  const labels: Record<string, string> = {};
  for (const kv of o.label) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ValidationError(`--label: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
    labels[check(LabelKey, kv.slice(0, eq), '--label')] = check(LabelValue, kv.slice(eq + 1), '--label');
  }
  const criticality =
    o.criticality === undefined
      ? undefined
      : (intFlag(o.criticality, '--criticality', 1, 4, '1 (most critical) to 4 (least)') as 1 | 2 | 3 | 4);
  const controls = o.control.map((c) => {
    if (c.trim() === '' || c.length > 128)
      throw new ValidationError(
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

  await withApp(io, {}, async (app) => {
    const { policy } = app.config;
    const file = policyFileName(app);
    const port = portFlag ?? policy.ssh.port;
    if (envName !== undefined && !policy.environments.includes(envName)) {
      throw new ValidationError(unknownName('--env', envName, 'environment', policy.environments));
    }
    const environment =
      envName ?? (policy.environments.includes('production') ? 'production' : policy.environments[0]);
    // Names the policy does not define are allowed (a team is created on first use) but probably typos.
    const warnUnknown = (flag: string, value: string, kind: string, known: string[]) => {
      if (known.length > 0 && !known.includes(value))
        writeLine(io.stderr, `warning: ${unknownName(flag, value, kind, known)}`);
    };
    if (team !== undefined)
      warnUnknown(
        '--team',
        team,
        'team',
        policy.teams.map((t) => t.name),
      );
    if (ring !== undefined)
      warnUnknown(
        '--ring',
        ring,
        'ring',
        policy.rings.map((r) => r.name),
      );
    for (const g of groups)
      warnUnknown(
        '--group',
        g,
        'group',
        policy.groups.map((x) => x.name),
      );

    await syncHostsFromPolicy(app, io);

    let hostKeySource: 'given' | 'scanned' | 'none' = hostKeySha256 === undefined ? 'none' : 'given';
    if (o.scanHostKey === true) {
      const existing = await app.repos.hosts.get(name);
      if (existing?.source === 'policy') {
        // addHost refuses it; do not contact the host first
      } else {
        const key = await fetchHostKeyFingerprint(address, port, { timeoutMs: policy.ssh.connectTimeout });
        hostKeySha256 = fingerprintToHex(key.fingerprint, 'scanned host key');
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
      hostKeySha256: hostKeySha256 ?? null,
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
      policyFile: file,
      auditDetails: { hostKeySource },
    });
    writeLine(io.stdout, `${o.replace ? 'saved' : 'added'} host ${describeHost(record, policy.ssh.user)}`);
    if (record.hostKeySha256 === null && record.address !== LOCAL_ADDRESS) {
      writeLine(
        io.stderr,
        `note: no host key pinned: inventory and deployments refuse ${record.name} until one is ` +
          `(patchbot hosts add ${record.name} --address ${record.address} --host-key SHA256:... --replace)`,
      );
    }
  });
}

function describeHost(h: HostRecord, defaultUser: string): string {
  const where =
    h.address === LOCAL_ADDRESS ? 'this machine' : `${h.sshUser ?? defaultUser}@${h.address}:${h.port}`;
  const facts = [
    where,
    h.address === LOCAL_ADDRESS
      ? ''
      : `host key ${h.hostKeySha256 ? hexToFingerprint(h.hostKeySha256) : 'NOT PINNED'}`,
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
  const { hostKey, ...definition } = describeDefinition(h);
  return {
    name: h.name,
    ...definition,
    hostKey,
    osFamily: h.osFamily,
    osRelease: h.osRelease,
    kernel: h.kernel,
    lastInventoryAt: h.lastInventoryAt?.toISOString() ?? null,
    rebootRequired: h.rebootRequired,
    createdAt: h.createdAt.toISOString(),
    updatedAt: h.updatedAt.toISOString(),
  };
}

function printTable(io: CliIo, rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  for (const r of rows)
    writeLine(
      io.stdout,
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
}

export function registerHosts(program: Command, io: CliIo): void {
  const hosts = program
    .command('hosts')
    .description("Hosts patchbot manages: the policy file's and those added here (add, list, remove).");

  hosts
    .command('add')
    .description(
      'Add a host reached over SSH (or this machine with --address local). Hosts in the policy file are changed there.',
    )
    .argument('<name>', 'host name (letters, digits, ".", "_", "-")')
    .requiredOption('--address <address>', `DNS name or IP address, or "${LOCAL_ADDRESS}" for this machine`)
    .option('--port <port>', 'SSH port (default: ssh.port of the policy, 22)')
    .option('--user <user>', 'SSH user (default: ssh.user of the policy)')
    .option('--host-key <fingerprint>', 'pinned host key, SHA256:... as `ssh-keygen -lf` prints it')
    .option(
      '--scan-host-key',
      'read the key the host presents now and pin it (trust on first use: verify it)',
    )
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--env <environment>', "environment (one of the policy's environments; default production)")
    .option('--criticality <1-4>', '1 = most critical ... 4 = least (default 3)')
    .option('--internet-facing', 'the host is reachable from the internet')
    .option('--control <name>', 'a compensating control in place (repeatable)', collect, [])
    .option('--ring <ring>', 'deployment ring, whatever the ring selectors say')
    .option('--team <team>', "owning team (default: from the policy's routing)")
    .option('--group <group>', "host group (repeatable), on top of the policy's group selectors", collect, [])
    .option('--replace', 'redefine a host added earlier with `hosts add`')
    .addHelpText(
      'after',
      '\nEvery change is written to the audit trail. Without --host-key or --scan-host-key, SSH connections ' +
        'to the host are refused until a key is pinned.',
    )
    .action(async (name: string, opts: AddOptions) => runAdd(io, name, opts));

  hosts
    .command('list')
    .description('List hosts (from the policy file and added with `hosts add`).')
    .option('--team <team>', 'only hosts of this team')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { team?: string; format: 'text' | 'json' }) => {
      await withApp(io, {}, async (app) => {
        await syncHostsFromPolicy(app, io);
        const list = await listHosts(app.repos, opts.team === undefined ? {} : { team: opts.team });
        if (opts.format === 'json') {
          writeLine(io.stdout, JSON.stringify({ hosts: list.map(hostJson) }, null, 2));
          return;
        }
        if (list.length === 0) {
          writeLine(
            io.stdout,
            opts.team === undefined
              ? 'no hosts (add one with `patchbot hosts add` or in the policy file)'
              : `no hosts of team ${opts.team}`,
          );
          return;
        }
        const rows = [
          ['NAME', 'ADDRESS', 'USER', 'ENV', 'CRIT', 'TEAM', 'SOURCE', 'HOST KEY', 'LAST INVENTORY'],
        ];
        for (const h of list) {
          const local = h.address === LOCAL_ADDRESS;
          rows.push([
            h.name,
            local ? LOCAL_ADDRESS : `${h.address}:${h.port}`,
            local ? '-' : (h.sshUser ?? app.config.policy.ssh.user),
            h.environment,
            String(h.criticality),
            h.team ?? '-',
            h.source === 'policy' ? policyFileName(app) : 'cli',
            local ? '-' : h.hostKeySha256 ? hexToFingerprint(h.hostKeySha256) : 'NOT PINNED',
            h.lastInventoryAt ? h.lastInventoryAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : 'never',
          ]);
        }
        printTable(io, rows);
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
      const ok = await withApp(io, {}, async (app) => {
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
      'Remove a host added with `hosts add`, with its inventory and findings (policy hosts: edit the file).',
    )
    .argument('<name>', 'host name')
    .action(async (name: string) => {
      await withApp(io, {}, async (app) => {
        await syncHostsFromPolicy(app, io);
        const removed = await removeHost(app.repos, name, {
          actor: cliActor(io),
          policyFile: policyFileName(app),
        });
        writeLine(io.stdout, `removed host ${removed.name}`);
      });
    });
}
