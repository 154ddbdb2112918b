/**
 * `patchbot scan`: which fixes to install, highest risk first. Scans this machine by default,
 * stored hosts with --host/--all, or an offline dpkg status file with --dpkg-status.
 *
 * Exit code (docs/scan.md): 3 when --fail-on BAND is given and a fix reaches that band; else 4 when
 * the result is partial (a host skipped, unreachable or not assessed, a feed that could not be
 * synced); else 0. The JSON says the same in `outcome`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { PatchbotError, UsageError, ValidationError } from '../../core/errors.js';
import type { FixGroup, HostFinding, SourceFix } from '../../core/findings/group.js';
import { feedShort, staleNotice } from '../../core/freshness/feeds.js';
import type { InventorySnapshot, OsFamily, OsInfo, Severity } from '../../core/model.js';
import { topFactors } from '../../core/risk/score.js';
import { parseDpkgStatus } from '../../inventory/parsers/dpkg.js';
import { familyOf } from '../../inventory/parsers/os-release.js';
import type { PlannedSource } from '../../usecases/feeds-sync.js';
import { scanTargets, type ScanResult, type ScanTarget } from '../../usecases/scan.js';
import { withApp, type AppContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { listOf, plural, wrap } from '../text.js';

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
  failOn?: FailOn;
  quiet?: boolean;
  migrate?: boolean;
}

const collectValues = (value: string, previous: string[]): string[] => [...previous, value];

const BANDS = ['critical', 'high', 'medium', 'low'] as const;
type FailOn = (typeof BANDS)[number];
const RANK: Record<Severity, number> = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** A host or input that could not be scanned (no inventory, collection failed). */
export interface SkippedHost {
  host: string;
  reason: string;
}

/** What the scan leaves out or could not vouch for: each reason makes the exit code 4. */
export interface ScanProblems {
  skipped: SkippedHost[];
  /** Feed sources that could not be synced before the scan. */
  feeds: string[];
}

export interface ScanOutcome {
  exitCode: number;
  /** Something is missing: hosts skipped or not assessed, feeds not synced. */
  partial: boolean;
  reasons: string[];
  failOn: FailOn | null;
  /** Fixes at `failOn` or above. */
  thresholdReached: boolean;
}

/** The exit code and its reasons: --fail-on first (a CI gate), then partial, else success. */
export function scanOutcome(result: ScanResult, problems: ScanProblems, failOn?: FailOn): ScanOutcome {
  const reasons = [
    ...problems.skipped.map((s) => `${s.host}: ${s.reason}`),
    ...result.hosts
      .filter((h) => !h.assessment.assessed)
      .map((h) => `${h.name}: not assessed: ${h.assessment.detail}`),
    ...problems.feeds,
  ];
  const thresholdReached =
    failOn !== undefined && result.sourceFixes.some((f) => RANK[f.risk.severity] >= RANK[failOn]);
  const partial = reasons.length > 0;
  return {
    exitCode: thresholdReached ? EXIT.threshold : partial ? EXIT.partial : EXIT.ok,
    partial,
    reasons,
    failOn: failOn ?? null,
    thresholdReached,
  };
}

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
    .addOption(
      new Option(
        '--fail-on <band>',
        'exit with code 3 when a fix is at this risk band or above (CI gates)',
      ).choices(BANDS),
    )
    .option('--limit <n>', 'text output: show at most this many fixes (0 = all)', '30')
    .option('--quiet', 'no progress output')
    .option('--migrate', 'apply pending database migrations first (PostgreSQL)')
    .addHelpText(
      'after',
      '\nExit status: 0 when every host was scanned against current advisories; 3 when --fail-on is ' +
        'reached; 4 when the result is partial (a host skipped, unreachable or not assessed, a feed ' +
        'not synced); 1 on error; 2 on bad usage.',
    )
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
      const outcome = await withApp(
        io,
        { migrate: opts.migrate ?? false, format: opts.format },
        async (app) => {
          const feedProblems = await syncFirst(app, io, opts);
          const { targets, skipped } = await scanTargetsFor(app, io, opts);
          const result = await scanTargets(
            {
              repos: app.repos,
              riskPolicy: app.config.policy.risk,
              feedMaxAge: app.config.policy.feeds.maxAge,
              logger: app.logger,
            },
            targets,
          );
          const problems: ScanProblems = { skipped, feeds: feedProblems };
          const out = scanOutcome(result, problems, opts.failOn);
          if (opts.format === 'json')
            writeLine(io.stdout, JSON.stringify(scanJson(result, problems, out), null, 2));
          else printText(io, result, problems, out, limit);
          return out;
        },
      );
      if (outcome.exitCode !== EXIT.ok) throw new CliExit(outcome.exitCode);
    });
}

/** Syncs first when asked or when nothing is stored; returns the sources that could not be read. */
async function syncFirst(app: AppContext, io: CliIo, opts: ScanOptions): Promise<string[]> {
  const explicit = opts.feeds.map((f) => (/^[a-z]+:\/\//i.test(f) ? f : path.resolve(io.cwd, f)));
  let sources: (string | PlannedSource)[] = explicit;
  if (sources.length === 0) {
    const { advisories } = await app.repos.advisories.count();
    if (advisories > 0 && !opts.sync) return [];
    const { defaultFeedSources } = await import('../../usecases/feeds-sync.js');
    sources = defaultFeedSources(app.config);
    if (!opts.quiet) writeLine(io.stderr, `syncing advisory feeds (${sources.length} sources)…`);
  }
  // the feed readers and parsers are loaded only when a sync runs
  const { syncFeedSources } = await import('../../usecases/feeds-sync.js');
  const progress = createProgress(io, { quiet: opts.quiet ?? false, label: 'feeds' });
  const problems: string[] = [];
  try {
    const summary = await syncFeedSources({
      sources,
      repos: app.repos,
      logger: app.logger,
      cwd: io.cwd,
      onProgress: progress.update,
    });
    for (const s of summary.sources) {
      if (s.status === 'failed') {
        writeLine(io.stderr, `warning: ${s.source}: ${s.error ?? 'failed'}`);
        problems.push(`feed ${s.source} could not be synced: ${s.error ?? 'failed'}`);
      }
      if (s.status === 'fallback') {
        if (!opts.quiet)
          writeLine(
            io.stderr,
            `note: ${s.source} unreachable (${s.error ?? 'error'}); imported the bundled snapshot`,
          );
        problems.push(`feed ${s.source} unreachable: the bundled snapshot stands in for it`);
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
  return problems;
}

async function scanTargetsFor(
  app: AppContext,
  io: CliIo,
  opts: ScanOptions,
): Promise<{ targets: ScanTarget[]; skipped: SkippedHost[] }> {
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
    return {
      targets: [
        {
          name: path.basename(file),
          context: { criticality: 3, internetFacing: false, compensatingControls: [] },
          snapshot,
        },
      ],
      skipped: [],
    };
  }
  // collection (SSH, this machine's package managers) is loaded only when hosts are scanned
  const { collectHosts, collectLocal, resolveHosts } = await import('../../usecases/inventory.js');
  if (opts.host.length > 0 || opts.all) {
    const hosts = opts.all ? await app.repos.hosts.list() : await resolveHosts(app.repos, opts.host);
    if (hosts.length === 0)
      throw new ValidationError(
        'no hosts are managed: add them with `patchbot hosts add` or `patchbot hosts import`, or in the policy file',
      );
    const unreachable = new Map<string, string>();
    if (opts.collect) {
      const progress = createProgress(io, { quiet: opts.quiet ?? false, label: 'inventory' });
      try {
        const collected = await collectHosts(
          app,
          hosts.map((h) => h.name),
          { onProgress: progress.update },
        );
        for (const f of collected.failed) {
          writeLine(io.stderr, `warning: ${f.host}: ${f.error} (using its last stored inventory, if any)`);
          unreachable.set(f.host, f.error ?? 'collection failed');
        }
      } finally {
        progress.stop();
      }
    }
    const targets: ScanTarget[] = [];
    const skipped: SkippedHost[] = [];
    for (const host of hosts) {
      const snapshot = await app.repos.inventory.latest(host.name);
      const failure = unreachable.get(host.name);
      if (!snapshot) {
        const reason =
          failure === undefined
            ? 'no inventory stored yet'
            : `unreachable (${failure}) and no inventory stored`;
        writeLine(io.stderr, `warning: ${host.name}: ${reason}; skipped`);
        skipped.push({ host: host.name, reason: `skipped: ${reason}` });
        continue;
      }
      if (failure !== undefined)
        skipped.push({
          host: host.name,
          reason: `unreachable (${failure}); scanned its inventory of ${snapshot.collectedAt.toISOString().slice(0, 10)}`,
        });
      targets.push({ name: host.name, hostId: host.id, context: host, snapshot });
    }
    if (targets.length === 0) throw new PatchbotError('NOT_FOUND', 'no host has an inventory to scan');
    return { targets, skipped };
  }
  const { host, snapshot } = await collectLocal(app);
  return { targets: [{ name: host.name, hostId: host.id, context: host, snapshot }], skipped: [] };
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

type SharedFields = Omit<HostFinding, 'host' | 'arch' | 'installedVersion'>;

/** The fields a finding and a fix share, in the JSON shape (dates as YYYY-MM-DD). */
function sharedJson(f: SharedFields) {
  return {
    kind: f.kind,
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
    kevDueDate: f.kevDueDate ? day(f.kevDueDate) : null,
  };
}

/** The documented JSON shape of `scan --format json` (docs/scan.md), schema version 2. */
export function scanJson(result: ScanResult, problems: ScanProblems, outcome: ScanOutcome) {
  const finding = (f: HostFinding) => ({
    host: f.host,
    arch: f.arch,
    installedVersion: f.installedVersion,
    ...sharedJson(f),
    owner: f.owner ?? null,
  });
  const byKind: Record<string, number> = { os: 0, 'third-party': 0, firmware: 0 };
  for (const f of result.sourceFixes) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  const bySeverity: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0, none: 0 };
  for (const f of result.sourceFixes) bySeverity[f.risk.severity] = (bySeverity[f.risk.severity] ?? 0) + 1;
  return {
    schemaVersion: 2,
    generatedAt: new Date().toISOString(),
    notice: staleNotice(result.feeds) ?? null,
    feeds: result.feeds,
    outcome,
    hosts: result.hosts,
    skipped: problems.skipped,
    summary: {
      fixes: result.sourceFixes.length,
      findings: result.findings.length,
      kev: result.sourceFixes.filter((f) => f.kev).length,
      noFixYet: result.sourceFixes.filter((f) => f.fixedVersion === null).length,
      bySeverity,
      byKind,
      hostsAssessed: result.hosts.filter((h) => h.assessment.assessed).length,
      hostsNotAssessed: result.hosts.filter((h) => !h.assessment.assessed).length,
      hostsSkipped: problems.skipped.filter((s) => !result.hosts.some((h) => h.name === s.host)).length,
      advisoriesConsidered: result.advisoriesConsidered,
    },
    findings: result.findings.map(finding),
    fixes: result.sourceFixes.map((f: SourceFix) => ({
      host: f.host,
      kind: f.kind,
      owner: f.owner ?? null,
      sourcePackage: f.sourcePackage,
      installedVersions: f.installedVersions,
      fixedVersion: f.fixedVersion,
      packages: f.packages,
      advisories: f.advisories,
      cves: f.cves,
      kevCves: f.kevCves,
      kev: f.kev,
      epss: f.epss,
      risk: { score: f.risk.score, severity: f.risk.severity, factors: f.risk.factors },
      ssvc: f.ssvc,
      dueDate: day(f.dueDate),
      dueReason: f.dueReason,
      kevDueDate: f.kevDueDate ? day(f.kevDueDate) : null,
    })),
    fixesAcrossHosts: result.fixes.map((f: FixGroup) => ({
      ...sharedJson(f),
      installedVersions: f.installedVersions,
      hosts: f.hosts,
      owners: f.owners ?? [],
    })),
    warnings: result.warnings,
    firmwareWarnings: result.firmwareWarnings,
  };
}

/** "due 2026-12-14 (KEV due 2023-12-12 passed before first seen)" / "due 2027-02-05 (SLA medium, 60 days)". */
function dueText(f: SourceFix, now: number): string {
  const overdue = f.dueDate.getTime() < now ? ', overdue' : '';
  if (f.kevDueDate !== undefined && f.kevDueDate.getTime() < f.dueDate.getTime())
    return `KEV due ${day(f.kevDueDate)} passed before first seen; due ${day(f.dueDate)}${overdue}`;
  if (f.kevDueDate !== undefined && f.kevDueDate.getTime() === f.dueDate.getTime())
    return `due ${day(f.dueDate)} (KEV${overdue})`;
  const sla = /^SLA (\w+): (\d+) days/.exec(f.dueReason);
  return `due ${day(f.dueDate)} (${sla ? `SLA ${sla[1]}, ${sla[2]} days` : f.dueReason}${overdue})`;
}

/** "glibc 2.36-9+deb12u1 -> 2.36-9+deb12u7 (libc6, libc-bin, locales; 5 CVEs, 1 KEV)" */
export function fixLine(f: SourceFix): string {
  const counts = [
    plural(f.cves.length, 'CVE'),
    ...(f.kevCves.length > 0 ? [`${f.kevCves.length} KEV`] : []),
    ...(f.cves.length === 0 ? [plural(f.advisories.length, 'advisory', 'advisories')] : []),
  ];
  const target = f.fixedVersion ?? 'no fix yet';
  if (f.kind === 'firmware') {
    return `[firmware] ${listOf(f.packages, 2)} ${listOf(f.installedVersions, 2)} -> ${target} (device ${f.owner?.path ?? '?'}, GUID ${f.sourcePackage}; ${counts.join(', ')})`;
  }
  if (f.kind === 'third-party') {
    return `[third-party] ${f.sourcePackage} ${listOf(f.installedVersions, 2)} -> ${target} (${ownerText(f.owner)}; ${counts.join(', ')})`;
  }
  return `${f.sourcePackage} ${listOf(f.installedVersions, 2)} -> ${target} (${listOf(f.packages, 4)}; ${counts.join(', ')})`;
}

/** Where a language package is, and what moving it means: "lockfile /srv/app/requirements.txt: bump the pin". */
export function ownerText(owner: SourceFix['owner']): string {
  if (owner === undefined) return 'unknown place';
  switch (owner.kind) {
    case 'lockfile':
      return `lockfile ${owner.path}: bump it in the project`;
    case 'interpreter':
      return `pip of ${owner.path}`;
    case 'site-packages':
      return `installed in ${owner.path}`;
    case 'global-npm':
      return `global npm ${owner.path}`;
    case 'device':
      return `device ${owner.path}`;
  }
}

function printText(
  io: CliIo,
  result: ScanResult,
  problems: ScanProblems,
  outcome: ScanOutcome,
  limit: number,
): void {
  const out = (text = '', indent = '    ', first = ''): void => {
    if (text === '') writeLine(io.stdout);
    for (const line of wrap(text, indent, undefined, first)) writeLine(io.stdout, line);
  };
  // how fresh the data is comes first, when it is not
  const notice = staleNotice(result.feeds);
  if (notice !== undefined) out(`WARNING: ${notice}`);
  const hostList = result.hosts
    .map(
      (h) =>
        `${h.name} (${h.os}, ${plural(h.packages, 'package')}` +
        (h.baseline
          ? `, ${plural(h.baseline.thirdParty, 'language package')}, ${plural(h.baseline.firmwareDevices, 'firmware device')}`
          : '') +
        `${h.rebootRequired ? ', reboot required' : ''})`,
    )
    .join('; ');
  out(
    `Scanned ${hostList} against ${plural(result.advisoriesConsidered, 'relevant advisory', 'relevant advisories')}.`,
  );
  if (result.feeds.length > 0) out(`Advisory data: ${result.feeds.map(feedShort).join(', ')}.`);
  const notAssessed = result.hosts.filter((h) => !h.assessment.assessed);
  for (const h of notAssessed) out(`NOT ASSESSED ${h.name}: ${h.assessment.detail}`);
  for (const s of problems.skipped) out(`PARTIAL ${s.host}: ${s.reason}`);
  for (const f of problems.feeds) out(`PARTIAL ${f}`);

  const fixes = result.sourceFixes;
  if (fixes.length === 0) {
    if (notAssessed.length === 0 && problems.skipped.length === 0)
      out('No known vulnerable package: nothing to install.');
    else
      out(
        `No fix found in the advisories that were loaded; ${plural(notAssessed.length + problems.skipped.length, 'host')} ` +
          'could not be checked completely (above): that is not a clean bill of health.',
      );
    return;
  }
  const hostCount = new Set(fixes.map((f) => f.host)).size;
  const kinds = (['os', 'third-party', 'firmware'] as const).map(
    (k) => `${fixes.filter((f) => f.kind === k).length} ${k === 'os' ? 'OS' : k}`,
  );
  const kev = fixes.filter((f) => f.kev).length;
  const noFix = fixes.filter((f) => f.fixedVersion === null).length;
  out(
    `${plural(fixes.length, 'fix', 'fixes')} to install on ${plural(hostCount, 'host')}` +
      (kev > 0 ? `, ${kev} for actively exploited CVEs (KEV)` : '') +
      (noFix > 0 ? `, ${noFix} with no fix released yet` : '') +
      (outcome.thresholdReached ? ` (--fail-on ${outcome.failOn ?? ''} reached)` : '') +
      `: ${kinds.join(', ')}.`,
  );
  out();
  const now = Date.now();
  const shown = limit === 0 ? fixes : fixes.slice(0, limit);
  for (const f of shown) {
    const head = `${f.risk.score.toFixed(0).padStart(3)} ${f.risk.severity.toUpperCase().padEnd(8)} `;
    out(fixLine(f), ' '.repeat(head.length + 2), head);
    const marks = [f.kev ? 'KEV' : '', f.epss !== null ? `EPSS ${(f.epss * 100).toFixed(1)}%` : '']
      .filter(Boolean)
      .join(', ');
    out(`${f.host} · SSVC ${f.ssvc} · ${dueText(f, now)}${marks ? ` · ${marks}` : ''}`, '      ', '    ');
    out(`${listOf(f.cves.length > 0 ? f.cves : f.advisories, 6)}`, '      ', '    ');
    out(`why: ${topFactors(f.risk, 3)}`, '      ', '    ');
  }
  if (shown.length < fixes.length)
    out(`…and ${fixes.length - shown.length} more (--limit 0 shows all, --format json for data)`);
  if (result.warnings.length > 0)
    out(
      `${result.warnings.length} advisory entries could not be evaluated (see the log with LOG_LEVEL=warn).`,
    );
  for (const w of result.firmwareWarnings) out(`NOT EVALUATED firmware: ${w.message}`);
}
