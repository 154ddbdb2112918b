/**
 * `patchbot scan`: which fixes to install, highest risk first. Scans this machine by default,
 * stored hosts with --host/--all, or an offline dpkg status file with --dpkg-status.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { PatchbotError, UsageError, ValidationError } from '../../core/errors.js';
import type { FixGroup, HostFinding } from '../../core/findings/group.js';
import type { InventorySnapshot, OsFamily, OsInfo } from '../../core/model.js';
import { topFactors } from '../../core/risk/score.js';
import { parseDpkgStatus } from '../../inventory/parsers/dpkg.js';
import { familyOf } from '../../inventory/parsers/os-release.js';
import { defaultFeedSources, syncFeedSources, type PlannedSource } from '../../usecases/feeds-sync.js';
import { collectHosts, collectLocal } from '../../usecases/inventory.js';
import { scanTargets, type ScanResult, type ScanTarget } from '../../usecases/scan.js';
import { withApp, type AppContext } from '../context.js';
import { writeLine, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';

interface ScanOptions {
  host: string[];
  all?: boolean;
  collect: boolean;
  dpkgStatus?: string;
  os?: string;
  feeds: string[];
  sync?: boolean;
  format: 'text' | 'json';
  limit: string;
  quiet?: boolean;
  migrate?: boolean;
}

const collectValues = (value: string, previous: string[]): string[] => [...previous, value];

/** "debian:12" -> OsInfo. */
export function parseOsOption(value: string): OsInfo {
  const m = /^([a-z][a-z0-9-]*):([0-9][0-9A-Za-z.]*|sid)$/.exec(value.trim().toLowerCase());
  if (!m) {
    throw new UsageError(
      `--os: expected DISTRIBUTION:VERSION such as debian:12, ubuntu:22.04, alpine:3.19 or rocky:9, got ${JSON.stringify(value)}`,
    );
  }
  const id = m[1];
  const family: OsFamily = familyOf(id, []);
  if (family === 'unknown') {
    throw new UsageError(`--os: unknown distribution ${JSON.stringify(id)}`);
  }
  return m[2] === 'sid'
    ? { id, family, versionId: '', codename: 'sid', prettyName: `${id} sid` }
    : { id, family, versionId: m[2], prettyName: `${id} ${m[2]}` };
}

export function registerScan(program: Command, io: CliIo): void {
  program
    .command('scan')
    .description(
      'List the security fixes to install, highest risk first: this machine by default, stored hosts with ' +
        '--host/--all, or an offline dpkg status file. Syncs the default advisory feeds first when none are stored.',
    )
    .option('--host <name>', 'scan a stored host (repeatable)', collectValues, [])
    .option('--all', 'scan every stored host')
    .option('--no-collect', 'with --host/--all: use the stored inventory instead of collecting it again')
    .option('--dpkg-status <file>', 'scan a dpkg status file offline (needs --os); findings are not stored')
    .option('--os <dist:version>', 'the distribution of --dpkg-status, e.g. debian:12')
    .option(
      '--feeds <path|url>',
      'sync these advisory sources first (repeatable; format detected by content)',
      collectValues,
      [],
    )
    .option('--sync', 'sync the default advisory feeds first')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--limit <n>', 'text output: show at most this many fixes (0 = all)', '30')
    .option('--quiet', 'no progress output')
    .option('--migrate', 'apply pending database migrations first (PostgreSQL)')
    .action(async (opts: ScanOptions) => {
      if (opts.dpkgStatus && (opts.host.length > 0 || opts.all)) {
        throw new UsageError('--dpkg-status cannot be combined with --host or --all');
      }
      if (opts.dpkgStatus && !opts.os) throw new UsageError('--dpkg-status needs --os, e.g. --os debian:12');
      // a wrong --os is bad usage: say so before anything is opened
      if (opts.os !== undefined) parseOsOption(opts.os);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 0)
        throw new UsageError(`--limit: expected a whole number, got ${opts.limit}`);
      await withApp(io, { migrate: opts.migrate ?? false }, async (app) => {
        await syncFirst(app, io, opts);
        const targets = await scanTargetsFor(app, io, opts);
        const result = await scanTargets(
          { repos: app.repos, riskPolicy: app.config.policy.risk, logger: app.logger },
          targets,
        );
        if (opts.format === 'json') writeLine(io.stdout, JSON.stringify(scanJson(result), null, 2));
        else printText(io, result, limit);
      });
    });
}

async function syncFirst(app: AppContext, io: CliIo, opts: ScanOptions): Promise<void> {
  const explicit = opts.feeds.map((f) => (/^[a-z]+:\/\//i.test(f) ? f : path.resolve(io.cwd, f)));
  let sources: (string | PlannedSource)[] = explicit;
  if (sources.length === 0) {
    const { advisories } = await app.repos.advisories.count();
    if (advisories > 0 && !opts.sync) return;
    sources = defaultFeedSources(app.config);
    if (!opts.quiet) writeLine(io.stderr, `syncing advisory feeds (${sources.length} sources)…`);
  }
  const progress = createProgress(io, { quiet: opts.quiet ?? false, label: 'feeds' });
  try {
    const summary = await syncFeedSources({
      sources,
      repos: app.repos,
      logger: app.logger,
      cwd: io.cwd,
      onProgress: progress.update,
    });
    for (const s of summary.sources) {
      if (s.status === 'failed') writeLine(io.stderr, `warning: ${s.source}: ${s.error ?? 'failed'}`);
      if (s.status === 'fallback' && !opts.quiet) {
        writeLine(
          io.stderr,
          `note: ${s.source} unreachable (${s.error ?? 'error'}); imported the bundled snapshot`,
        );
      }
    }
    if (explicit.length > 0 && summary.sources.every((s) => s.status === 'failed')) {
      throw new PatchbotError(
        'FEED_UNAVAILABLE',
        'none of the advisory sources given with --feeds could be read',
      );
    }
  } finally {
    progress.stop();
  }
}

async function scanTargetsFor(app: AppContext, io: CliIo, opts: ScanOptions): Promise<ScanTarget[]> {
  if (opts.dpkgStatus) {
    const file = path.resolve(io.cwd, opts.dpkgStatus);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ValidationError(
        `cannot read --dpkg-status ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    const parsed = parseDpkgStatus(text);
    for (const w of parsed.warnings.slice(0, 10))
      writeLine(io.stderr, `warning: ${file}:${w.line}: ${w.reason}`);
    if (parsed.packages.length === 0)
      throw new ValidationError(`${file}: no installed package found in this dpkg status file`);
    const snapshot: InventorySnapshot = {
      os: parseOsOption(opts.os ?? ''),
      kernel: 'unknown',
      packageManager: 'dpkg',
      packages: parsed.packages,
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    };
    return [
      {
        name: path.basename(file),
        context: { criticality: 3, internetFacing: false, compensatingControls: [] },
        snapshot,
      },
    ];
  }
  if (opts.host.length > 0 || opts.all) {
    const hosts = opts.all
      ? await app.repos.hosts.list()
      : await Promise.all(opts.host.map((h) => app.repos.hosts.require(h)));
    if (hosts.length === 0)
      throw new ValidationError('no hosts are stored: add one with `patchbot hosts add` or in patchbot.yaml');
    if (opts.collect) {
      const progress = createProgress(io, { quiet: opts.quiet ?? false, label: 'inventory' });
      try {
        const collected = await collectHosts(
          app,
          hosts.map((h) => h.name),
          { onProgress: progress.update },
        );
        for (const f of collected.failed)
          writeLine(io.stderr, `warning: ${f.host}: ${f.error} (using its last stored inventory, if any)`);
      } finally {
        progress.stop();
      }
    }
    const targets: ScanTarget[] = [];
    for (const host of hosts) {
      const snapshot = await app.repos.inventory.latest(host.name);
      if (!snapshot) {
        writeLine(io.stderr, `warning: ${host.name}: no inventory stored yet; skipped`);
        continue;
      }
      targets.push({ name: host.name, hostId: host.id, context: host, snapshot });
    }
    if (targets.length === 0) throw new PatchbotError('NOT_FOUND', 'no host has an inventory to scan');
    return targets;
  }
  const { host, snapshot } = await collectLocal(app);
  return [{ name: host.name, hostId: host.id, context: host, snapshot }];
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

type SharedFields = Omit<HostFinding, 'host' | 'arch' | 'installedVersion'>;

/** The fields a finding and a fix share, in the JSON shape (dates as YYYY-MM-DD). */
function sharedJson(f: SharedFields) {
  return {
    package: f.package,
    sourcePackage: f.sourcePackage,
    fixedVersion: f.fixedVersion,
    advisories: f.advisories,
    cves: f.cves,
    kev: f.kev,
    epss: f.epss,
    risk: { score: f.risk.score, severity: f.risk.severity, factors: f.risk.factors },
    ssvc: f.ssvc,
    dueDate: day(f.dueDate),
    dueReason: f.dueReason,
  };
}

/** The documented JSON shape of `scan --format json` (docs/scan.md). */
export function scanJson(result: ScanResult) {
  const finding = (f: HostFinding) => ({
    host: f.host,
    arch: f.arch,
    installedVersion: f.installedVersion,
    ...sharedJson(f),
  });
  const bySeverity: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0, none: 0 };
  for (const f of result.fixes) bySeverity[f.risk.severity] = (bySeverity[f.risk.severity] ?? 0) + 1;
  return {
    schemaVersion: 1,
    generatedAt: new Date().toISOString(),
    hosts: result.hosts,
    summary: {
      fixes: result.fixes.length,
      findings: result.findings.length,
      kev: result.fixes.filter((f) => f.kev).length,
      noFixYet: result.fixes.filter((f) => f.fixedVersion === null).length,
      bySeverity,
      advisoriesConsidered: result.advisoriesConsidered,
    },
    findings: result.findings.map(finding),
    fixes: result.fixes.map((f: FixGroup) => ({
      ...sharedJson(f),
      installedVersions: f.installedVersions,
      hosts: f.hosts,
    })),
    warnings: result.warnings,
  };
}

function list(values: readonly string[], max: number): string {
  return values.length <= max
    ? values.join(', ')
    : `${values.slice(0, max).join(', ')} +${values.length - max}`;
}

function printText(io: CliIo, result: ScanResult, limit: number): void {
  const out = (line = ''): void => writeLine(io.stdout, line);
  const hostLine = result.hosts
    .map((h) => `${h.name} (${h.os}, ${h.packages} packages${h.rebootRequired ? ', reboot required' : ''})`)
    .join('; ');
  out(`Scanned ${hostLine} against ${result.advisoriesConsidered} relevant advisories.`);
  if (result.fixes.length === 0) {
    out('No known vulnerable package: nothing to install.');
    return;
  }
  const kev = result.fixes.filter((f) => f.kev).length;
  const noFix = result.fixes.filter((f) => f.fixedVersion === null).length;
  out(
    `${result.fixes.length} fix${result.fixes.length === 1 ? '' : 'es'} to consider` +
      (kev > 0 ? `, ${kev} for actively exploited CVEs (KEV)` : '') +
      (noFix > 0 ? `, ${noFix} with no fix released yet` : '') +
      '.',
  );
  out();
  const now = Date.now();
  const shown = limit === 0 ? result.fixes : result.fixes.slice(0, limit);
  for (const f of shown) {
    const marks = [f.kev ? 'KEV' : '', f.epss !== null ? `EPSS ${(f.epss * 100).toFixed(1)}%` : '']
      .filter(Boolean)
      .join('  ');
    const target = f.fixedVersion ?? 'no fix yet';
    out(
      `${f.risk.score.toFixed(0).padStart(3)} ${f.risk.severity.toUpperCase().padEnd(8)} ${f.package}  ${list(f.installedVersions, 2)} -> ${target}${marks ? `  [${marks}]` : ''}`,
    );
    out(`    ${list(f.advisories, 4)}  ${list(f.cves, 5)}`);
    const overdue = f.dueDate.getTime() < now ? ' (overdue)' : '';
    out(
      `    SSVC ${f.ssvc}; due ${day(f.dueDate)}${overdue} (${f.dueReason}); ${f.hosts.length} host${f.hosts.length === 1 ? '' : 's'}: ${list(f.hosts, 5)}`,
    );
    out(`    why: ${topFactors(f.risk, 3)}`);
  }
  if (shown.length < result.fixes.length)
    out(`…and ${result.fixes.length - shown.length} more (--limit 0 shows all, --format json for data)`);
  if (result.warnings.length > 0)
    out(
      `\n${result.warnings.length} advisory entries could not be evaluated (see the log with LOG_LEVEL=warn).`,
    );
}
