/**
 * `feeds sync` as a use case (the CLI, the scheduler and `scan --feeds` call it): which sources to
 * read, reading each into the database, and what happened per source.
 *
 * Which sources (docs/feeds.md):
 * 1. `from` given: exactly those (files, directories, URLs, short names), nothing else.
 * 2. otherwise the enabled sources of the policy file's `feeds` section (official URLs by default);
 *    an official URL that fails as a whole, before any record was read, falls back to the bundled
 *    snapshot of that feed (data/feeds/) with a warning, but only while the feed has never been
 *    imported from its URL: once it has, the newer data already stored is kept and the failure is
 *    reported instead.
 * 3. `offline`: the bundled snapshot of every enabled feed that has one; no network at all.
 *
 * One failing source never stops the others; records read before a failure stay stored; the
 * failure is recorded in FeedState (`lastStatus: error`) without touching its validators.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeedSource } from '../config/policy-schema.js';
import type { FeedFreshnessRecord } from '../core/freshness/feeds.js';
import type { Repositories } from '../db/index.js';
import { DEFAULT_FEED_URLS, osvEcosystemZipUrl, resolveSourceSpec } from '../feeds/defaults.js';
import type { FeedLimits } from '../feeds/limits.js';
import type { FeedRejection } from '../feeds/rejection.js';
import type { FetchFn } from '../feeds/source.js';
import {
  syncFeeds,
  type FeedLogger,
  type FeedObservation,
  type SourceSummary,
  type SyncProgress,
} from '../feeds/sync.js';

/** The snapshot shipped with patchbot (data/feeds/ of the package; the same path from src/ and dist/). */
export const BUNDLED_FEEDS_DIR = fileURLToPath(new URL('../../data/feeds/', import.meta.url));

/**
 * The date of the bundled snapshot (data/feeds/README.md): the `asOf` of its feeds whose format
 * carries no date of its own (the tracker, OSV). KEV, EPSS and NVD keep their own dates.
 */
export const BUNDLED_SNAPSHOT_DATE = new Date('2025-08-25T00:00:00Z');

/** Whether a path lies in a bundled snapshot directory. */
export function isBundledPath(location: string, bundledDir = BUNDLED_FEEDS_DIR): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return false;
  const rel = path.relative(path.resolve(bundledDir), path.resolve(location));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Official feed URL -> the folder of the bundled snapshot that stands in for it. */
const BUNDLED_FOLDERS: Readonly<Record<string, string>> = {
  [DEFAULT_FEED_URLS.debianTracker]: 'debian-tracker',
  [osvEcosystemZipUrl('Debian')]: 'osv/debian',
  [osvEcosystemZipUrl('Ubuntu')]: 'osv/ubuntu',
  [osvEcosystemZipUrl('npm')]: 'osv/npm',
  [osvEcosystemZipUrl('PyPI')]: 'osv/pypi',
  [DEFAULT_FEED_URLS.kev]: 'kev',
  [DEFAULT_FEED_URLS.epss]: 'epss',
  [DEFAULT_FEED_URLS.nvd]: 'nvd',
};

export type SourceOrigin = 'from' | 'policy' | 'bundled';

export interface PlannedSource {
  /** What people see: the policy name ("kev") or the `--from` argument. */
  name: string;
  /** What is read: a path, a URL or a short name. */
  location: string;
  origin: SourceOrigin;
  /** The bundled snapshot read instead when `location` fails before any record was read. */
  fallback?: string;
  /**
   * Read along with the bundled advisories (their NVD records), unless data of this feed from
   * another location is stored already: that is newer.
   */
  companion?: boolean;
}

export interface FeedPlan {
  sources: PlannedSource[];
  /** Enabled sources left out, and why (offline without a bundled snapshot). */
  skipped: { name: string; reason: string }[];
}

export interface PlanInput {
  from?: readonly string[];
  /** The policy file's `feeds.sources` (config.policy.feeds.sources). */
  policyFeeds?: readonly FeedSource[];
  offline?: boolean;
  bundledDir?: string;
}

/** The bundled snapshot folder for a source location, when it names an official feed that has one. */
export function bundledSnapshotFor(location: string, bundledDir = BUNDLED_FEEDS_DIR): string | undefined {
  const folder = BUNDLED_FOLDERS[resolveSourceSpec(location)];
  return folder === undefined ? undefined : path.join(bundledDir, folder);
}

/** What of the configuration a sync reads (a `Config` will do). */
export interface FeedConfig {
  policy: { feeds: { sources: readonly FeedSource[] } };
}

/** The sources a sync reads when none are named: the policy's enabled feeds, with their fallbacks. */
export function defaultFeedSources(
  config: FeedConfig,
  options: { offline?: boolean; bundledDir?: string } = {},
): PlannedSource[] {
  return planFeedSources({ policyFeeds: config.policy.feeds.sources, ...options }).sources;
}

export function planFeedSources(input: PlanInput): FeedPlan {
  const bundledDir = input.bundledDir ?? BUNDLED_FEEDS_DIR;
  if (input.from !== undefined && input.from.length > 0) {
    return { sources: input.from.map((s) => ({ name: s, location: s, origin: 'from' })), skipped: [] };
  }
  const sources: PlannedSource[] = [];
  const skipped: FeedPlan['skipped'] = [];
  for (const feed of input.policyFeeds ?? []) {
    if (!feed.enabled) continue;
    const bundled = bundledSnapshotFor(feed.url, bundledDir);
    if (input.offline) {
      if (bundled === undefined)
        skipped.push({ name: feed.name, reason: 'no bundled snapshot of this feed' });
      else sources.push({ name: feed.name, location: bundled, origin: 'bundled' });
      continue;
    }
    sources.push({
      name: feed.name,
      location: feed.url,
      origin: 'policy',
      ...(bundled === undefined ? {} : { fallback: bundled }),
    });
  }
  if (input.offline) {
    const companion = nvdCompanion(input.policyFeeds ?? [], sources, bundledDir);
    if (companion) sources.push(companion);
  }
  return { sources, skipped };
}

/**
 * The bundled NVD records, read with the bundled advisories when the policy does not sync NVD: the
 * snapshot carries the CVSS of its CVEs, so a first run without internet scores like one with NVD.
 * Undefined when NVD is an enabled source (it is read as such) or no bundled advisories are read.
 */
function nvdCompanion(
  policyFeeds: readonly FeedSource[],
  planned: readonly PlannedSource[],
  bundledDir: string,
): PlannedSource | undefined {
  const nvdFolder = path.join(bundledDir, 'nvd');
  const nvdEnabled = policyFeeds.some(
    (f) => f.enabled && bundledSnapshotFor(f.url, bundledDir) === nvdFolder,
  );
  if (nvdEnabled) return undefined;
  const advisoryFolders = [path.join(bundledDir, 'debian-tracker'), path.join(bundledDir, 'osv')];
  const readsAdvisories = planned.some((p) =>
    [p.location, p.fallback].some(
      (l) => l !== undefined && advisoryFolders.some((f) => l === f || l.startsWith(`${f}${path.sep}`)),
    ),
  );
  return readsAdvisories
    ? { name: 'nvd', location: nvdFolder, origin: 'bundled', companion: true }
    : undefined;
}

export type SourceStatus = 'ok' | 'not-modified' | 'fallback' | 'failed';

export interface FeedSourceResult {
  /** The source's name (PlannedSource.name: the policy name or the `--from` argument). */
  source: string;
  location: string;
  origin: SourceOrigin;
  /** ok; not-modified (HTTP 304); fallback (the bundled snapshot was imported instead); failed. */
  status: SourceStatus;
  /** Why the source failed (also set for `fallback`). */
  error?: string;
  /** The bundled snapshot that was imported instead of `location`. */
  fallbackLocation?: string;
  formats: string[];
  read: number;
  new: number;
  changed: number;
  unchanged: number;
  withdrawn: number;
  rejectedCount: number;
  /** The first rejections (all of them up to 1,000 per source). */
  rejected: FeedRejection[];
  /** Files of a directory or archive that are not a feed format. */
  skipped: string[];
  /** Each kind of feed data read and its date (recorded in FeedFreshness when the source succeeded). */
  feeds: { feed: string; asOf: string; basis: string; bundled: boolean }[];
}

export interface FeedSyncResult {
  sources: FeedSourceResult[];
  skipped: FeedPlan['skipped'];
  totals: { read: number; new: number; changed: number; withdrawn: number; rejected: number; failed: number };
  /**
   * ok: every source imported completely. partial: something is missing (a source failed while
   * others imported, records were rejected, the bundled snapshot stood in for an official feed, an
   * enabled feed was skipped). failed: no source could be read.
   */
  outcome: 'ok' | 'partial' | 'failed';
}

/** The outcome of a sync from its sources (see FeedSyncResult.outcome). */
export function syncOutcome(r: Pick<FeedSyncResult, 'sources' | 'skipped'>): FeedSyncResult['outcome'] {
  if (r.sources.length > 0 && r.sources.every((s) => s.status === 'failed')) return 'failed';
  const partial =
    r.skipped.length > 0 ||
    r.sources.some((s) => s.status === 'failed' || s.status === 'fallback' || s.rejectedCount > 0);
  return partial ? 'partial' : 'ok';
}

export interface FeedSyncProgress {
  /** The source's name (PlannedSource.name). */
  source: string;
  done: number;
  total?: number;
  unit: SyncProgress['unit'];
}

export interface SyncFeedSourcesInput extends PlanInput {
  /**
   * What to read. A string is read exactly as given (like `--from`); a PlannedSource may carry a
   * fallback. Absent or empty: planned from `from` / `policyFeeds` (or `config`) / `offline`.
   */
  sources?: readonly (string | PlannedSource)[];
  /** Where `policyFeeds` come from when not given. */
  config?: FeedConfig;
  repos: Pick<Repositories, 'advisories'>;
  logger?: FeedLogger;
  onProgress?: (progress: FeedSyncProgress) => void;
  /** Called when a source is finished (progress bars close their line). */
  onSourceDone?: (result: FeedSourceResult) => void;
  fetch?: FetchFn;
  /** Base of relative paths (default: the process's working directory). */
  cwd?: string;
  limits?: Partial<FeedLimits>;
  nvdApiKey?: string;
  /** The clock of the freshness records (default: the system clock). */
  now?: () => Date;
}

/** The key FeedState rows use for a location: the URL for URLs, the absolute path otherwise. */
function stateKey(location: string, cwd: string): string {
  const spec = resolveSourceSpec(location);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    try {
      return new URL(spec).href;
    } catch {
      return spec;
    }
  }
  return path.resolve(cwd, spec);
}

function resultOf(planned: PlannedSource, summary: SourceSummary): FeedSourceResult {
  return {
    source: planned.name,
    location: planned.location,
    origin: planned.origin,
    status: summary.error !== undefined ? 'failed' : summary.notModified ? 'not-modified' : 'ok',
    ...(summary.error === undefined ? {} : { error: summary.error }),
    formats: summary.formats,
    read: summary.read,
    new: summary.new,
    changed: summary.changed,
    unchanged: summary.unchanged,
    withdrawn: summary.withdrawn,
    rejectedCount: summary.rejectedCount,
    rejected: summary.rejected,
    skipped: summary.skipped,
    feeds: [],
  };
}

/** What a completed import of a source (its FeedState key: URL or absolute path) says about each feed. */
function freshnessOf(
  observations: readonly FeedObservation[],
  key: string,
  now: Date,
  bundledDir: string,
): FeedFreshnessRecord[] {
  const bundled = isBundledPath(key, bundledDir);
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(key);
  return observations.map((o) => ({
    feed: o.feed,
    // the bundled files' mtimes are when patchbot was installed, not when the data was published
    asOf: bundled && o.basis !== 'published' ? BUNDLED_SNAPSHOT_DATE : o.asOf,
    basis: bundled && o.basis !== 'published' ? 'bundled' : o.basis,
    bundled,
    checkedAt: url ? now : null,
    location: key,
    ecosystems: o.ecosystems,
  }));
}

export async function syncFeedSources(input: SyncFeedSourcesInput): Promise<FeedSyncResult> {
  const plan: FeedPlan =
    input.sources !== undefined && input.sources.length > 0
      ? {
          sources: input.sources.map((s) =>
            typeof s === 'string' ? { name: s, location: s, origin: 'from' as const } : s,
          ),
          skipped: [],
        }
      : planFeedSources({
          ...input,
          policyFeeds: input.policyFeeds ?? input.config?.policy.feeds.sources,
        });
  const repo = input.repos.advisories;
  const cwd = input.cwd ?? process.cwd();
  const bundledDir = input.bundledDir ?? BUNDLED_FEEDS_DIR;
  const results: FeedSourceResult[] = [];

  /** Records the feeds' freshness after a source was read completely; the result shows them. */
  const recordFreshness = async (result: FeedSourceResult, location: string, summary: SourceSummary) => {
    if (summary.error !== undefined) return;
    const now = input.now?.() ?? new Date();
    const records = freshnessOf(summary.feeds, stateKey(location, cwd), now, bundledDir);
    await repo.recordFeedFreshness(records, now);
    result.feeds = records.map((r) => ({
      feed: r.feed,
      asOf: r.asOf.toISOString(),
      basis: r.basis,
      bundled: r.bundled,
    }));
  };

  const readOne = async (planned: PlannedSource, location: string): Promise<SourceSummary> => {
    const [summary] = await syncFeeds([location], repo, {
      fetch: input.fetch,
      logger: input.logger,
      cwd,
      limits: input.limits,
      nvdApiKey: input.nvdApiKey,
      onProgress: (p) =>
        input.onProgress?.({ source: planned.name, done: p.done, total: p.total, unit: p.unit }),
    });
    if (summary === undefined) throw new Error(`syncFeeds returned no summary for ${location}`);
    return summary;
  };

  const readAndRecord = async (planned: PlannedSource): Promise<FeedSourceResult> => {
    const summary = await readOne(planned, planned.location);
    let result = resultOf(planned, summary);
    await recordFreshness(result, planned.location, summary);
    if (summary.notModified) {
      // reachable and up to date: a success for the bookkeeping too, and the data is current
      const key = stateKey(planned.location, cwd);
      const state = await repo.getFeedState(key);
      if (state !== undefined) await repo.setFeedState(key, state);
      await repo.confirmFeedFreshness(key, input.now?.() ?? new Date());
    }
    if (summary.error !== undefined) {
      const key = stateKey(planned.location, cwd);
      await repo.recordFeedFailure(key, summary.error);
      const everSynced = (await repo.feedStatus(key))?.syncedAt != null;
      if (planned.fallback !== undefined && summary.read === 0 && !everSynced) {
        input.logger?.warn(
          { source: planned.name, err: summary.error, fallback: planned.fallback },
          'feed unreachable, importing the bundled snapshot instead',
        );
        const fallback = await readOne(planned, planned.fallback);
        const fallbackResult = resultOf(planned, fallback);
        await recordFreshness(fallbackResult, planned.fallback, fallback);
        result = {
          ...fallbackResult,
          error:
            fallback.error === undefined
              ? summary.error
              : `${summary.error}; bundled snapshot: ${fallback.error}`,
          status: fallback.error === undefined ? 'fallback' : 'failed',
          fallbackLocation: planned.fallback,
        };
      } else if (planned.fallback !== undefined && everSynced) {
        input.logger?.warn(
          { source: planned.name, err: summary.error },
          'feed unreachable, keeping the data of its last sync',
        );
      }
    }
    results.push(result);
    input.onSourceDone?.(result);
    return result;
  };

  /** A companion is read only while no data of its feed from elsewhere is stored. */
  const companionWanted = async (): Promise<boolean> => {
    const nvd = (await repo.feedFreshness()).find((f) => f.feed === 'nvd');
    return nvd === undefined || nvd.bundled;
  };

  for (const planned of plan.sources) {
    if (planned.companion === true && !(await companionWanted())) continue;
    await readAndRecord(planned);
  }

  // The bundled advisories stood in for an unreachable feed: their NVD records come with them.
  const fellBack = results.filter((r) => r.status === 'fallback' && r.fallbackLocation !== undefined);
  const nvdFolder = path.join(bundledDir, 'nvd');
  const nvdPlanned = plan.sources.some(
    (p) =>
      p.companion === true ||
      p.fallback === nvdFolder ||
      bundledSnapshotFor(p.location, bundledDir) === nvdFolder,
  );
  if (fellBack.length > 0 && !nvdPlanned) {
    const companion = nvdCompanion(
      input.policyFeeds ?? input.config?.policy.feeds.sources ?? [],
      fellBack.map((r) => ({ name: r.source, location: r.fallbackLocation ?? '', origin: 'bundled' })),
      bundledDir,
    );
    if (companion && (await companionWanted())) await readAndRecord(companion);
  }

  const totals = { read: 0, new: 0, changed: 0, withdrawn: 0, rejected: 0, failed: 0 };
  for (const r of results) {
    totals.read += r.read;
    totals.new += r.new;
    totals.changed += r.changed;
    totals.withdrawn += r.withdrawn;
    totals.rejected += r.rejectedCount;
    if (r.status === 'failed') totals.failed++;
  }
  return {
    sources: results,
    skipped: plan.skipped,
    totals,
    outcome: syncOutcome({ sources: results, skipped: plan.skipped }),
  };
}
