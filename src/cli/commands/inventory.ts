/**
 * `patchbot inventory collect [--host NAME]... [--all] [--local]`: collects the installed packages,
 * OS, kernel and reboot state of hosts (SSH with the pinned host key, or this machine), stores a
 * snapshot per host, and prints a summary. Exit status 4 when some hosts failed (the others are stored),
 * 1 when every host failed.
 */
import { Option, type Command } from 'commander';
import { UsageError, ValidationError } from '../../core/errors.js';
import {
  collectHosts,
  ensureLocalHost,
  type CollectProgress,
  type CollectSummary,
  type CollectedHost,
} from '../../usecases/inventory.js';
import { rescanHosts } from '../../usecases/rescan.js';
import { EXIT } from '../exit-codes.js';
import { withApp } from '../context.js';
import { rescanLine } from './feeds.js';
import { createProgress } from '../progress.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import { cliActor, syncHostsFromPolicy } from './hosts.js';

interface CollectOptions {
  host: string[];
  all?: boolean;
  local?: boolean;
  concurrency?: string;
  format: 'text' | 'json';
  quiet?: boolean;
  rescan: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function hostLine(r: CollectedHost): string {
  if (!r.ok) return `FAILED  ${r.host}: ${r.error ?? 'unknown error'}`;
  const os = r.os ? `${r.os.prettyName ?? `${r.os.id} ${r.os.versionId}`}` : '';
  const facts = [
    `${r.packages ?? 0} packages`,
    os,
    r.kernel ? `kernel ${r.kernel}` : '',
    r.baseline
      ? `${r.baseline.thirdParty} language packages, ${r.baseline.firmwareDevices} firmware devices`
      : '',
    r.baseline
      ? `not present: ${
          r.baseline.sources
            .filter((x) => x.status === 'not-present')
            .map((x) => x.source)
            .join(' ') || 'none'
        }`
      : '',
    r.baseline?.sources.some((x) => x.status === 'failed')
      ? `FAILED: ${r.baseline.sources
          .filter((x) => x.status === 'failed')
          .map((x) => `${x.source} (${x.detail})`)
          .join('; ')}`
      : '',
    r.rebootRequired ? 'REBOOT REQUIRED' : '',
    r.warnings.length ? `${r.warnings.length} unreadable line(s) skipped` : '',
  ].filter((f) => f !== '');
  return `ok      ${r.host}: ${facts.join(', ')}`;
}

function progressLine(p: CollectProgress): string {
  const width = String(p.total).length;
  return `[${String(p.done).padStart(width)}/${p.total}] ${hostLine(p.result)}`;
}

function summaryJson(s: CollectSummary) {
  return {
    ok: s.succeeded.length,
    failed: s.failed.length,
    packages: s.packages,
    rebootRequired: s.rebootRequired,
    hosts: s.hosts.map((r) => ({
      host: r.host,
      address: r.address,
      ok: r.ok,
      ...(r.ok
        ? {
            snapshotId: r.snapshotId,
            packages: r.packages,
            os: r.os,
            kernel: r.kernel,
            rebootRequired: r.rebootRequired,
            ...(r.baseline === undefined ? {} : { baseline: r.baseline }),
            warnings: r.warnings,
          }
        : { error: r.error, code: r.code }),
    })),
  };
}

async function runCollect(io: CliIo, o: CollectOptions): Promise<void> {
  if (o.host.length === 0 && o.all !== true && o.local !== true) {
    throw new UsageError(
      'name the hosts to collect: --host NAME (repeatable), --all (every host) or --local (this machine)',
    );
  }
  if (o.all === true && o.host.length > 0) {
    throw new UsageError('--all and --host: give one, not both (--all already collects every host)');
  }
  let concurrency: number | undefined;
  if (o.concurrency !== undefined) {
    if (!/^\d{1,4}$/.test(o.concurrency) || Number(o.concurrency) < 1) {
      throw new UsageError(
        `--concurrency: expected a number of hosts at the same time (1-9999), got ${JSON.stringify(o.concurrency)}`,
      );
    }
    concurrency = Number(o.concurrency);
  }

  const summary = await withApp(io, { format: o.format }, async (app) => {
    await syncHostsFromPolicy(app, io);
    const actor = cliActor(io);
    const selection: string[] =
      o.all === true ? (await app.repos.hosts.list()).map((h) => h.name) : [...o.host];
    const localHosts = new Set<string>();
    if (o.local === true) {
      const me = await ensureLocalHost(app.repos, { actor, policy: app.config.policy });
      localHosts.add(me.name);
      if (!selection.includes(me.name)) selection.push(me.name);
    }
    if (selection.length === 0) {
      throw new ValidationError(
        'no hosts to collect (add one with `patchbot hosts add` or in the policy file)',
      );
    }
    // on stderr: a bar (terminal) or plain lines, and one line per host as it ends
    const progress = createProgress(io, { quiet: o.quiet === true, label: 'inventory' });
    try {
      const collected = await collectHosts(app, selection, {
        concurrency,
        localHosts,
        actor,
        onProgress: (p) => {
          progress.update(p);
          progress.log(progressLine(p));
        },
      });
      const rescan =
        o.rescan && collected.succeeded.length > 0
          ? await rescanHosts(
              { repos: app.repos, riskPolicy: app.config.policy.risk, logger: app.logger },
              collected.succeeded.map((h) => h.host),
            )
          : undefined;
      return { ...collected, rescan };
    } finally {
      progress.stop();
    }
  });

  if (o.format === 'json') {
    writeLine(io.stdout, JSON.stringify(summaryJson(summary), null, 2));
  } else {
    for (const r of summary.hosts) writeLine(io.stdout, hostLine(r));
    const reboot = summary.rebootRequired.length ? summary.rebootRequired.join(', ') : 'none';
    writeLine(
      io.stdout,
      `hosts: ${summary.succeeded.length} ok, ${summary.failed.length} failed; packages: ${summary.packages}; reboot required: ${reboot}`,
    );
    if (summary.rescan) writeLine(io.stdout, rescanLine(summary.rescan));
  }
  // some hosts failed: partial; every host failed: an error
  if (summary.failed.length > 0) throw new CliExit(summary.succeeded.length > 0 ? EXIT.partial : EXIT.error);
}

export function registerInventory(program: Command, io: CliIo): void {
  const inventory = program
    .command('inventory')
    .description('Inventory of hosts: installed packages, OS, kernel, reboot state.');
  inventory
    .command('collect')
    .description(
      'Collect and store the inventory of hosts: over SSH with the pinned host key, or this machine with --local.',
    )
    .option('--host <name>', 'a host to collect (repeatable)', collect, [])
    .option('--all', 'every host')
    .option('--local', 'this machine (registered as a host named after it when missing)')
    .option('--concurrency <n>', 'hosts contacted at the same time (default: ssh.concurrency of the policy)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--quiet', 'no progress output on stderr')
    .option('--no-rescan', 'do not re-match the collected hosts against the stored advisories')
    .addHelpText(
      'after',
      '\nExit status: 0 when every host was collected; 4 when some failed (the others are stored; the ' +
        'failed ones show as unreachable in coverage); 1 when every host failed; 2 on bad usage.',
    )
    .action(async (opts: CollectOptions) => runCollect(io, opts));
}
