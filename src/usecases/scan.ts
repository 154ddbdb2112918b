/**
 * The scan: match the latest inventory of hosts against the advisories in the database, score
 * every match, and (for stored hosts) replace each host's findings with the result.
 */
import type { Logger } from 'pino';
import {
  groupByFix,
  groupByHostPackage,
  groupBySourceFix,
  type FixGroup,
  type HostFinding,
  type ScoredMatch,
  type SourceFix,
} from '../core/findings/group.js';
import {
  DEFAULT_FEED_MAX_AGE,
  feedAges,
  osAdvisories,
  type AdvisoryStatus,
  type FeedAge,
  type FeedFreshnessRecord,
  type FeedMaxAge,
} from '../core/freshness/feeds.js';
import {
  buildAdvisoryIndex,
  buildFirmwareIndex,
  createMatcher,
  ecosystemsForOs,
  matchFirmware,
  normalizePypiName,
  type FirmwareMatch,
  type FirmwareMatchWarning,
  type Match,
  type MatchWarning,
} from '../core/matching/index.js';
import { matchThirdParty, type ThirdPartyMatch } from '../core/matching/third-party.js';
import type { FindingOwner } from '../core/findings/group.js';
import type {
  Advisory,
  AffectedEntry,
  CveEnrichment,
  FindingKind,
  HostContext,
  InventorySnapshot,
  RiskAssessment,
  ThirdPartyPackage,
} from '../core/model.js';
import type { RiskPolicy } from '../core/risk/policy.js';
import { createRiskAssessor } from '../core/risk/score.js';
import type { Repositories } from '../db/index.js';
import {
  findingSeenKey,
  type FindingWrite,
  type HostFindingsChange,
} from '../db/repositories/finding-repository.js';

export interface ScanTarget {
  /** Host name as shown to people. */
  name: string;
  /** Database id; absent for an offline input (`--dpkg-status`), whose findings are not stored. */
  hostId?: string;
  context: Pick<HostContext, 'criticality' | 'internetFacing' | 'compensatingControls'>;
  snapshot: InventorySnapshot;
}

/**
 * Whether a host was assessed: its release has advisories that are not stale. A host that was not
 * is never reported as clean (docs/scan.md, "Not assessed").
 */
export interface HostAssessment {
  assessed: boolean;
  /** current | stale | none | unsupported (osAdvisories). */
  advisories: AdvisoryStatus;
  /** Why it was not assessed; empty when it was. */
  detail: string;
}

export interface ScanResult {
  hosts: {
    name: string;
    os: string;
    packages: number;
    findings: number;
    /** Findings by kind (distribution packages, language packages, firmware). */
    byKind: Record<FindingKind, number>;
    /** Language packages and firmware devices in the host's baseline (absent: no baseline collected). */
    baseline?: { thirdParty: number; firmwareDevices: number; notPresent: string[]; failed: string[] };
    rebootRequired: boolean;
    assessment: HostAssessment;
  }[];
  /** Per host x package x fixed version, highest risk first. */
  findings: HostFinding[];
  /** Per package x fixed version across hosts, highest risk first. */
  fixes: FixGroup[];
  /** Per host x source package x fixed version (what a person installs), highest risk first. */
  sourceFixes: SourceFix[];
  /** Each feed's age (reports say how fresh their data is). */
  feeds: FeedAge[];
  advisoriesConsidered: number;
  warnings: MatchWarning[];
  /** Firmware devices or advisories that could not be compared (not evaluated is not safe). */
  firmwareWarnings: FirmwareMatchWarning[];
  /** What changed in the database, per stored host. */
  changes: Record<string, HostFindingsChange>;
}

export interface ScanDeps {
  repos: Repositories;
  riskPolicy: RiskPolicy;
  /** Policy `feeds.maxAge` (default: DEFAULT_FEED_MAX_AGE). */
  feedMaxAge?: FeedMaxAge;
  logger?: Logger;
  now?: () => Date;
}

const NO_ENRICHMENT = (cve: string): CveEnrichment => ({ cve, cvss: [] });

/** Most risk assessments a scanner keeps for reuse (emptied when it grows past this). */
const MAX_KEPT_SCORES = 200_000;

interface Scored {
  risk: RiskAssessment;
  kev: boolean;
  kevCves: string[];
  epss: number | null;
}

export interface ScanOptions {
  /**
   * Whether to build the people-facing report (`findings`, `fixes`); a re-match that only stores
   * findings can skip it. Default true.
   */
  report?: boolean;
}

/**
 * A scan of many targets in batches (a fleet re-match): advisories are loaded and indexed once per
 * ecosystem, the matcher (and what it has evaluated), the enrichment read so far and the risk
 * assessor are shared by every batch, and `now` is the same for the whole run.
 */
export interface Scanner {
  /**
   * Matches, scores and (for stored hosts) stores one batch of targets. Batches may be scanned
   * concurrently (while one is written, the next is matched) when they share no host.
   */
  scan(targets: readonly ScanTarget[], options?: ScanOptions): Promise<ScanResult>;
}

export interface ScannerOptions {
  /**
   * Load only the advisories naming one of these packages (binary or source names): right for a
   * few hosts whose packages are known up front. Without it, every advisory of an ecosystem is
   * loaded when a target first needs that ecosystem.
   */
  packages?: Iterable<string>;
}

export function createScanner(deps: ScanDeps, options: ScannerOptions = {}): Scanner {
  const now = deps.now?.() ?? new Date();
  const packages = options.packages ? new Set(options.packages) : undefined;
  const loaded = new Set<string>();
  const advisoryById = new Map<string, Advisory>();
  let matcher = createMatcher(buildAdvisoryIndex([]));
  const enrichment = new Map<string, CveEnrichment>();
  const assess = createRiskAssessor(deps.riskPolicy);
  /** Warnings logged so far (a new index repeats the earlier ones). */
  const logged = new Set<string>();

  let loading: Promise<void> = Promise.resolve();

  /**
   * Loads the advisories of ecosystems not loaded yet (a new one means a new index and matcher).
   * Scans may overlap: each waits for every load started so far.
   */
  function prepare(ecosystems: readonly string[]): Promise<void> {
    const missing = ecosystems.filter((e) => !loaded.has(e));
    if (missing.length === 0) return loading;
    for (const e of missing) loaded.add(e);
    loading = loading.then(async () => {
      const advisories = await deps.repos.advisories.findForEcosystems(missing, packages);
      for (const a of advisories) {
        // an advisory with entries in several ecosystems arrives once per load
        const known = advisoryById.get(a.id);
        if (known) known.affected.push(...a.affected);
        else advisoryById.set(a.id, a);
      }
      matcher = createMatcher(buildAdvisoryIndex([...advisoryById.values()]));
    });
    return loading;
  }

  /** Language-package names (ecosystem + name as compared) and firmware GUIDs loaded so far. */
  const thirdPartyLoaded = new Set<string>();
  const firmwareLoaded = new Set<string>();
  const firmwareAdvisories = new Map<string, Advisory>();
  let firmwareIndex = buildFirmwareIndex([]);

  /**
   * Loads the advisories of the targets' language packages (by ecosystem and name) and firmware
   * (by GUID) not loaded yet. Like `prepare`, loads run one after another.
   */
  function prepareBaseline(targets: readonly ScanTarget[]): Promise<void> {
    const wanted = new Map<string, Set<string>>();
    const guids = new Set<string>();
    for (const t of targets) {
      for (const p of t.snapshot.baseline?.thirdParty ?? []) {
        const key = `${p.ecosystem}\u0000${p.ecosystem === 'PyPI' ? normalizePypiName(p.name) : p.name}`;
        if (thirdPartyLoaded.has(key)) continue;
        thirdPartyLoaded.add(key);
        let names = wanted.get(p.ecosystem);
        if (names === undefined) wanted.set(p.ecosystem, (names = new Set()));
        names.add(p.name);
      }
      for (const d of t.snapshot.baseline?.firmware ?? []) {
        for (const g of d.guids) {
          const guid = g.toLowerCase();
          if (firmwareLoaded.has(guid)) continue;
          firmwareLoaded.add(guid);
          guids.add(guid);
        }
      }
    }
    if (wanted.size === 0 && guids.size === 0) return loading;
    loading = loading.then(async () => {
      let changed = false;
      for (const [ecosystem, names] of wanted) {
        for (const a of await deps.repos.advisories.findForPackages(ecosystem, names)) {
          changed = true;
          const known = advisoryById.get(a.id);
          if (known) known.affected.push(...a.affected);
          else advisoryById.set(a.id, a);
        }
      }
      if (changed) matcher = createMatcher(buildAdvisoryIndex([...advisoryById.values()]));
      if (guids.size > 0) {
        const found = await deps.repos.advisories.findFirmware(guids);
        for (const a of found) {
          const known = firmwareAdvisories.get(a.id);
          if (known) known.affected.push(...a.affected);
          else firmwareAdvisories.set(a.id, a);
        }
        if (found.length > 0) firmwareIndex = buildFirmwareIndex([...firmwareAdvisories.values()]);
      }
    });
    return loading;
  }

  async function enrichmentOf(cves: ReadonlySet<string>): Promise<void> {
    const missing = [...cves].filter((c) => !enrichment.has(c));
    if (missing.length === 0) return;
    const found = await deps.repos.advisories.enrichmentFor(missing);
    for (const c of missing) enrichment.set(c, found.get(c) ?? NO_ENRICHMENT(c));
  }

  /**
   * Risk is a pure function of the advisory (its CVEs' enrichment, severity, references), the
   * entry's urgency, the host's context, whether a fix exists and the first-seen time: across a
   * fleet most findings share all of them, so assessments are kept and shared (read-only).
   */
  const scores = new Map<string, Scored>();
  function score(
    m: Pick<Match, 'advisoryId' | 'ecosystem' | 'cves' | 'fixedVersion'>,
    advisory: Advisory | undefined,
    entry: AffectedEntry | undefined,
    context: ScanTarget['context'],
    firstSeenAt: Date,
  ): Scored {
    const key = [
      m.advisoryId,
      m.ecosystem,
      entry?.urgency ?? '',
      context.criticality,
      context.internetFacing,
      context.compensatingControls.join('\u0001'),
      m.fixedVersion !== null,
      firstSeenAt.getTime(),
    ].join('\u0000');
    const known = scores.get(key);
    if (known) return known;
    const enriched = m.cves.map((c) => enrichment.get(c) ?? NO_ENRICHMENT(c));
    const risk = assess(
      {
        cves: enriched,
        advisorySeverity: advisory?.severity ?? [],
        urgency: entry?.urgency ?? null,
        ecosystem: m.ecosystem,
        references: advisory?.references ?? [],
        host: context,
        fixAvailable: m.fixedVersion !== null,
        firstSeen: firstSeenAt,
      },
      now,
    );
    const epssValues = enriched.flatMap((e) => (e.epss ? [e.epss.score] : []));
    const kevCves = enriched.filter((e) => e.kev !== undefined && e.rejected !== true).map((e) => e.cve);
    const scored: Scored = {
      risk,
      kev: enriched.some((e) => e.kev !== undefined),
      kevCves,
      epss: epssValues.length > 0 ? Math.max(...epssValues) : null,
    };
    if (scores.size >= MAX_KEPT_SCORES) scores.clear();
    scores.set(key, scored);
    return scored;
  }

  /** The feeds' freshness records, read once per scanner (only reports need them). */
  let freshness: Promise<FeedFreshnessRecord[]> | undefined;

  async function scan(targets: readonly ScanTarget[], scanOptions: ScanOptions = {}): Promise<ScanResult> {
    const report = scanOptions.report ?? true;
    freshness ??= report ? deps.repos.advisories.feedFreshness() : undefined;
    const records = report ? await (freshness ?? Promise.resolve([])) : [];
    const maxAge = deps.feedMaxAge ?? DEFAULT_FEED_MAX_AGE;
    const ecosystemsOf = new Map(targets.map((t) => [t.name, ecosystemsForOs(t.snapshot.os)]));
    await prepare([...new Set([...ecosystemsOf.values()].flat())]);

    await prepareBaseline(targets);

    const firmwareWarnings: FirmwareMatchWarning[] = [];
    const perHost = targets.map((t) => {
      const items: Item[] = matcher.match(ecosystemsOf.get(t.name) ?? [], t.snapshot.packages).map(osItem);
      const baseline = t.snapshot.baseline;
      if (baseline !== undefined) {
        for (const m of matchThirdParty(matcher, baseline.thirdParty)) items.push(thirdPartyItem(m));
        const fw = matchFirmware(firmwareIndex, baseline.firmware);
        for (const w of fw.warnings)
          if (!firmwareWarnings.some((x) => x.message === w.message)) firmwareWarnings.push(w);
        for (const m of fw.matches) {
          const item = firmwareItem(m, firmwareAdvisories.get(m.advisoryId));
          if (item !== undefined) items.push(item);
        }
      }
      return { target: t, items };
    });
    const cves = new Set<string>();
    for (const { items } of perHost) for (const m of items) for (const c of m.cves) cves.add(c);
    await enrichmentOf(cves);

    // the SLA clock of a finding starts when it was first seen, so existing findings keep their date
    const storedIds = targets.flatMap((t) => (t.hostId ? [t.hostId] : []));
    const firstSeen = await deps.repos.findings.firstSeen(storedIds);

    const scored: ScoredMatch[] = [];
    const stored: { name: string; hostId: string; writes: FindingWrite[] }[] = [];
    const hosts: ScanResult['hosts'] = [];
    for (const { target, items } of perHost) {
      const writes = new Map<string, FindingWrite>();
      const byKind: Record<FindingKind, number> = { os: 0, 'third-party': 0, firmware: 0 };
      for (const m of items) {
        const advisory =
          m.kind === 'firmware' ? firmwareAdvisories.get(m.advisoryId) : advisoryById.get(m.advisoryId);
        const entry = m.entry ?? entryOf(advisory, m);
        const ownerPath = m.owner?.path ?? '';
        const seen = target.hostId
          ? firstSeen.get(findingSeenKey(target.hostId, m.packageName, m.advisoryId, ownerPath))
          : undefined;
        const { risk, kev, kevCves, epss } = score(m, advisory, entry, target.context, seen ?? now);
        if (report) {
          scored.push({
            host: target.name,
            ...(m.kind === 'os' ? {} : { kind: m.kind }),
            ...(m.owner === undefined ? {} : { owner: m.owner }),
            package: m.packageName,
            sourcePackage: m.sourcePackage,
            arch: m.arch,
            ecosystem: m.ecosystem,
            installedVersion: m.installedVersion,
            fixedVersion: m.fixedVersion,
            advisoryId: m.advisoryId,
            cves: m.cves,
            kev,
            kevCves,
            epss,
            risk,
          });
        }
        // one finding per package, place and advisory (a multi-arch package counts once)
        const key = `${m.packageName}\u0000${m.advisoryId}\u0000${ownerPath}`;
        if (!writes.has(key)) {
          byKind[m.kind]++;
          writes.set(key, {
            kind: m.kind,
            owner: ownerPath,
            ownerKind: m.owner?.kind ?? null,
            packageName: m.packageName,
            sourcePackage: m.sourcePackage,
            advisoryId: m.advisoryId,
            ecosystem: m.ecosystem,
            installedVersion: m.installedVersion,
            fixedVersion: m.fixedVersion,
            cves: m.cves,
            kev,
            epssScore: epss,
            risk,
          });
        }
      }
      if (target.hostId)
        stored.push({ name: target.name, hostId: target.hostId, writes: [...writes.values()] });
      const advisories = osAdvisories(target.snapshot.os, records, maxAge, now);
      const baseline = target.snapshot.baseline;
      hosts.push({
        name: target.name,
        os: target.snapshot.os.prettyName ?? `${target.snapshot.os.id} ${target.snapshot.os.versionId}`,
        packages: target.snapshot.packages.length,
        findings: items.length,
        byKind,
        ...(baseline === undefined
          ? {}
          : {
              baseline: {
                thirdParty: baseline.thirdParty.length,
                firmwareDevices: baseline.firmware.length,
                notPresent: baseline.sources.filter((x) => x.status === 'not-present').map((x) => x.source),
                failed: baseline.sources.filter((x) => x.status === 'failed').map((x) => x.source),
              },
            }),
        rebootRequired: target.snapshot.rebootRequired,
        assessment: {
          assessed: advisories.status === 'current',
          advisories: advisories.status,
          detail: advisories.detail,
        },
      });
    }
    const changes: Record<string, HostFindingsChange> = {};
    if (stored.length > 0) {
      const byHost = await deps.repos.findings.syncHosts(stored, now);
      for (const h of stored) changes[h.name] = byHost.get(h.hostId)!;
    }
    const warnings = matcher.warnings();
    for (const w of warnings) {
      const key = [w.advisoryId ?? '', w.ecosystem, w.package, w.message].join('\u0000');
      if (logged.has(key)) continue;
      logged.add(key);
      deps.logger?.warn(w, 'advisory data could not be evaluated');
    }
    const findings = report ? groupByHostPackage(scored) : [];
    return {
      hosts,
      findings,
      fixes: report ? groupByFix(findings) : [],
      sourceFixes: report ? groupBySourceFix(scored) : [],
      feeds: report ? feedAges(records, maxAge, now) : [],
      advisoriesConsidered: advisoryById.size + firmwareAdvisories.size,
      warnings,
      firmwareWarnings,
      changes,
    };
  }

  return { scan };
}

/** One match of any kind, in the shape scoring and storing read. */
interface Item {
  kind: FindingKind;
  owner?: FindingOwner;
  packageName: string;
  sourcePackage: string;
  arch: string;
  installedVersion: string;
  advisoryId: string;
  ecosystem: string;
  cves: readonly string[];
  fixedVersion: string | null;
  /** The advisory entry that matched, when known without a lookup. */
  entry?: AffectedEntry;
  /** For the entry lookup: the names the entry may use. */
  names: readonly string[];
}

function osItem(m: Match): Item {
  return {
    kind: 'os',
    packageName: m.package.name,
    sourcePackage: m.package.sourceName,
    arch: m.package.arch,
    installedVersion: m.package.version,
    advisoryId: m.advisoryId,
    ecosystem: m.ecosystem,
    cves: m.cves,
    fixedVersion: m.fixedVersion,
    names: [m.package.sourceName, m.package.name],
  };
}

function thirdPartyItem(m: ThirdPartyMatch): Item {
  const pkg: ThirdPartyPackage = m.package;
  return {
    kind: 'third-party',
    owner: { path: pkg.owner, kind: pkg.ownerKind },
    packageName: pkg.name,
    sourcePackage: pkg.name,
    arch: '',
    installedVersion: pkg.version,
    advisoryId: m.advisoryId,
    ecosystem: m.ecosystem,
    cves: m.cves,
    fixedVersion: m.fixedVersion,
    names: [pkg.name],
  };
}

function firmwareItem(m: FirmwareMatch, advisory: Advisory | undefined): Item | undefined {
  const entry = advisory?.affected.find((e) => e.package.toLowerCase() === m.guid.toLowerCase());
  if (entry === undefined) return undefined;
  return {
    kind: 'firmware',
    owner: { path: m.device.id, kind: 'device' },
    packageName: m.device.name ?? m.device.id,
    sourcePackage: m.guid.toLowerCase(),
    arch: '',
    installedVersion: m.installedVersion,
    advisoryId: m.advisoryId,
    ecosystem: entry.ecosystem,
    cves: m.cves,
    fixedVersion: m.fixedVersion,
    entry,
    names: [m.guid],
  };
}

/** The advisory entry an OS or language-package match was made with. */
function entryOf(advisory: Advisory | undefined, m: Item): AffectedEntry | undefined {
  const norm = m.ecosystem === 'PyPI' ? normalizePypiName : (n: string) => n;
  const names = new Set(m.names.map(norm));
  return advisory?.affected.find((e) => e.ecosystem === m.ecosystem && names.has(norm(e.package)));
}

/** Scans the targets in one batch, loading only the advisories that name their packages. */
export async function scanTargets(deps: ScanDeps, targets: readonly ScanTarget[]): Promise<ScanResult> {
  const names = new Set<string>();
  for (const t of targets) {
    for (const p of t.snapshot.packages) {
      names.add(p.name);
      names.add(p.sourceName);
    }
  }
  return createScanner(deps, { packages: names }).scan(targets);
}
