/**
 * `patchbot hosts pin [NAME...] --scan | --key FP` and `patchbot hosts unpin NAME FP...`: SSH host
 * keys pinned in bulk (trust on first use, with every fingerprint printed for review first) or by
 * hand (a key rotation: pin the new key beside the old one, rotate, unpin the old one).
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { UsageError, ValidationError } from '../../core/errors.js';
import type { HostRecord, PinnedHostKey } from '../../db/types.js';
import { describeKey, pinHostKeys, scanHostKeys, type HostScan } from '../../usecases/host-import.js';
import {
  LOCAL_ADDRESS,
  describeHostKeys,
  fingerprintToHex,
  mergeHostKeys,
  type PolicyFileRef,
} from '../../usecases/hosts.js';
import { resolveHosts } from '../../usecases/inventory.js';
import { withApp, type AppContext } from '../context.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import {
  asUsage,
  cliActor,
  collect,
  policyFileRef,
  printTable,
  syncHostsFromPolicy,
} from './hosts-common.js';

interface PinOptions {
  scan?: boolean;
  key: string[];
  unpinned?: boolean;
  replace?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
}

/** Whether the policy file in use defines the host (its keys are pinned there, not here). */
function inPolicyFile(h: HostRecord, ref: PolicyFileRef): boolean {
  return h.source === 'policy' && ref.inUse;
}

function policySnippet(h: HostRecord, keys: readonly PinnedHostKey[], ref: PolicyFileRef): string {
  return (
    `${h.name} is defined in the policy file ${ref.path}; pin its keys there: ` +
    `hostKeys: [${describeHostKeys(keys)
      .map((k) => `"${k.fingerprint}"`)
      .join(', ')}]`
  );
}

async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function selectHosts(app: AppContext, names: string[], unpinned: boolean): Promise<HostRecord[]> {
  if (unpinned) {
    if (names.length > 0) throw new UsageError('--unpinned selects the hosts itself: give no names with it');
    return (await app.repos.hosts.list()).filter(
      (h) => h.hostKeys.length === 0 && h.address !== LOCAL_ADDRESS,
    );
  }
  if (names.length === 0) throw new UsageError('name the hosts to pin, or give --unpinned');
  return resolveHosts(app.repos, names);
}

async function runPinScan(io: CliIo, app: AppContext, names: string[], o: PinOptions): Promise<void> {
  const ref = policyFileRef(app);
  const hosts = await selectHosts(app, names, o.unpinned === true);
  const local = hosts.filter((h) => h.address === LOCAL_ADDRESS);
  for (const h of local) writeLine(io.stderr, `note: ${h.name} is this machine (no SSH); nothing to pin`);
  const remote = hosts.filter((h) => h.address !== LOCAL_ADDRESS);
  if (remote.length === 0) {
    writeLine(io.stdout, o.unpinned === true ? 'every host has a pinned key' : 'no host to scan');
    return;
  }
  const progress = createProgress(io, { quiet: o.quiet === true, label: 'scan' });
  let scans: HostScan[];
  try {
    scans = await scanHostKeys(remote, {
      concurrency: app.config.policy.ssh.concurrency,
      timeoutMs: app.config.policy.ssh.connectTimeout,
      onProgress: progress.update,
    });
  } finally {
    progress.stop();
  }

  const rows = [['HOST', 'ADDRESS', 'KEY TYPE', 'FINGERPRINT (SHA256)', 'STATUS']];
  const toPin: { scan: HostScan; keys: PinnedHostKey[]; added: PinnedHostKey[] }[] = [];
  const problems: string[] = [];
  for (const s of scans) {
    const where = `${s.host.address}:${s.host.port}`;
    if (!s.ok) {
      rows.push([s.host.name, where, '-', '-', 'UNREACHABLE']);
      problems.push(`${s.host.name}: ${s.error ?? 'scan failed'}`);
      continue;
    }
    const policyOwned = inPolicyFile(s.host, ref);
    for (const k of s.keys) {
      const status =
        k.status === 'pinned'
          ? 'pinned already'
          : s.changed && o.replace !== true
            ? 'NOT PINNED: KEY CHANGED'
            : policyOwned
              ? 'new (policy file)'
              : 'new';
      rows.push([s.host.name, where, k.type ?? '?', k.fingerprint, status]);
    }
    if (policyOwned) {
      if (s.keys.some((k) => k.status === 'new')) problems.push(policySnippet(s.host, s.keys, ref));
      continue;
    }
    if (s.changed && o.replace !== true) {
      problems.push(
        `${s.host.name}: presents none of its pinned keys (${describeHostKeys(s.host.hostKeys)
          .map((k) => k.fingerprint)
          .join(', ')}): reinstalled, its keys replaced, or someone is in between. ` +
          'Check on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then --replace pins what it presents now',
      );
      continue;
    }
    const scanned = s.keys.map((k) => ({ sha256: k.sha256, type: k.type }));
    const added = scanned.filter((k) => !s.host.hostKeys.some((p) => p.sha256 === k.sha256));
    const keys = o.replace === true ? scanned : mergeHostKeys(s.host.hostKeys, scanned);
    if (added.length > 0 || (o.replace === true && keys.length !== s.host.hostKeys.length))
      toPin.push({ scan: s, keys, added });
  }
  printTable(io, rows);
  for (const p of problems) writeLine(io.stderr, `error: ${p}`);

  const newKeys = toPin.reduce((n, p) => n + p.added.length, 0);
  if (toPin.length > 0) {
    writeLine(
      io.stderr,
      'These keys were read just now (trust on first use). Compare them with what the hosts say out of band ' +
        '(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the console, a provisioning log) before pinning.',
    );
    let go = false;
    if (o.dryRun === true) {
      writeLine(
        io.stdout,
        `dry run: ${newKeys} key(s) on ${toPin.length} host(s) would be pinned; nothing was changed`,
      );
    } else if (o.yes === true) {
      go = true;
    } else if ((io.stdin as Partial<NodeJS.ReadStream>).isTTY === true) {
      go = await confirm(io, `Pin ${newKeys} key(s) on ${toPin.length} host(s)?`);
      if (!go) writeLine(io.stdout, 'nothing was pinned');
    } else {
      writeLine(
        io.stdout,
        `nothing was pinned: review the fingerprints above, then run again with --yes to pin ${newKeys} key(s) on ${toPin.length} host(s)`,
      );
    }
    if (go) {
      for (const p of toPin) {
        await pinHostKeys(app.repos, p.scan.host.name, p.keys, {
          actor: cliActor(io),
          auditDetails: { hostKeySource: 'scanned', replace: o.replace === true },
        });
        writeLine(io.stdout, `pinned ${p.scan.host.name}: ${p.keys.map(describeKey).join(', ')}`);
      }
    }
  } else if (problems.length === 0) {
    writeLine(io.stdout, 'nothing new to pin');
  }
  if (problems.length > 0) throw new CliExit(problems.length < scans.length ? 4 : 1);
}

async function runPinKeys(io: CliIo, app: AppContext, names: string[], o: PinOptions): Promise<void> {
  if (names.length !== 1) throw new UsageError('--key pins keys on one host: name exactly one');
  const given = mergeHostKeys(
    [],
    asUsage(() => o.key.map((k) => ({ sha256: fingerprintToHex(k, '--key'), type: null }))),
  );
  const [host] = await resolveHosts(app.repos, names);
  if (host === undefined) return;
  const ref = policyFileRef(app);
  if (host.address === LOCAL_ADDRESS)
    throw new ValidationError(`${host.name} is this machine (no SSH): there is no host key to pin`);
  if (inPolicyFile(host, ref))
    throw new ValidationError(policySnippet(host, mergeHostKeys(host.hostKeys, given), ref));
  const keys = o.replace === true ? given : mergeHostKeys(host.hostKeys, given);
  if (o.dryRun === true) {
    writeLine(io.stdout, `dry run: ${host.name} would have ${keys.map(describeKey).join(', ')}`);
    return;
  }
  const after = await pinHostKeys(app.repos, host.name, keys, {
    actor: cliActor(io),
    auditDetails: { hostKeySource: 'given', replace: o.replace === true },
  });
  writeLine(io.stdout, `pinned ${after.name}: ${after.hostKeys.map(describeKey).join(', ')}`);
}

export function registerHostsPin(hosts: Command, io: CliIo): void {
  hosts
    .command('pin')
    .description('Pin SSH host keys: read them from the hosts for review (--scan) or give them (--key).')
    .argument('[name...]', 'hosts to pin')
    .option('--scan', 'read every key each host presents now (trust on first use: review them)')
    .option('--unpinned', 'with --scan: every managed host that has no pinned key')
    .option(
      '--key <fingerprint>',
      'pin this key (SHA256:... as `ssh-keygen -lf` prints it; repeatable)',
      collect,
      [],
    )
    .option('--replace', "replace the host's pins instead of adding to them")
    .option('--yes', 'pin what the scan found without asking')
    .option('--dry-run', 'show what would be pinned and change nothing')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      [
        '',
        'Pins are added beside the ones a host has: any pinned key is accepted, so a key rotation is',
        'pin the new key, rotate it on the host, then `patchbot hosts unpin NAME OLD-FINGERPRINT`.',
        'A scanned host that presents none of its pinned keys is never re-pinned without --replace.',
        'Without --yes a terminal is asked to confirm; anything else only prints the fingerprints.',
        'Hosts of the policy file are pinned there (hostKeys:); the lines to add are printed.',
        'Every change is audited. Exit 4 when some hosts could not be scanned or pinned.',
      ].join('\n'),
    )
    .action(async (names: string[], opts: PinOptions) => {
      if (opts.scan === true && opts.key.length > 0)
        throw new UsageError('--scan and --key: give one, not both');
      if (opts.scan !== true && opts.key.length === 0)
        throw new UsageError('give --scan or --key SHA256:...');
      await withApp(io, {}, async (app) => {
        await syncHostsFromPolicy(app, io);
        if (opts.scan === true) await runPinScan(io, app, names, opts);
        else await runPinKeys(io, app, names, opts);
      });
    });

  hosts
    .command('unpin')
    .description('Remove pinned SSH host keys of a host (after a key rotation).')
    .argument('<name>', 'host name')
    .argument('<fingerprint...>', 'keys to remove, SHA256:...')
    .action(async (name: string, fingerprints: string[]) => {
      const remove = asUsage(() => fingerprints.map((f) => fingerprintToHex(f, 'FINGERPRINT')));
      await withApp(io, {}, async (app) => {
        await syncHostsFromPolicy(app, io);
        const [host] = await resolveHosts(app.repos, [name]);
        if (host === undefined) return;
        const ref = policyFileRef(app);
        if (inPolicyFile(host, ref))
          throw new ValidationError(
            `${host.name} is defined in the policy file ${ref.path}; remove the key from hostKeys there`,
          );
        const missing = remove.filter((r) => !host.hostKeys.some((k) => k.sha256 === r));
        if (missing.length > 0)
          throw new ValidationError(
            `${host.name} has no pinned key ${describeHostKeys(
              missing.map((sha256) => ({ sha256, type: null })),
            )
              .map((k) => k.fingerprint)
              .join(', ')} (pinned: ${
              describeHostKeys(host.hostKeys)
                .map((k) => k.fingerprint)
                .join(', ') || 'none'
            })`,
          );
        const after = await pinHostKeys(
          app.repos,
          host.name,
          host.hostKeys.filter((k) => !remove.includes(k.sha256)),
          { actor: cliActor(io), auditDetails: { unpinned: fingerprints } },
        );
        writeLine(
          io.stdout,
          after.hostKeys.length === 0
            ? `unpinned: ${host.name} has no pinned key now; connections to it are refused until one is pinned`
            : `unpinned: ${host.name} keeps ${after.hostKeys.map(describeKey).join(', ')}`,
        );
      });
    });
}
