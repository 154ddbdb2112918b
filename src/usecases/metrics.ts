/**
 * Coverage metrics for a scope (the fleet or one team): the numbers of docs/metrics.md counted in
 * PostgreSQL, their change against last week's snapshot, the trend over reporting.trendWeeks
 * weeks, and the same numbers per team, environment and host group. `/patch coverage`,
 * `patchbot report coverage` and the weekly digest all read this one report, so they agree.
 */
import type { CoverageView } from '../bot/views/index.js';
import type { Policy } from '../config/policy-schema.js';
import { NotFoundError } from '../core/errors.js';
import {
  DEFAULT_FEED_MAX_AGE,
  feedAges,
  osAdvisories,
  staleNotice,
  type FeedAge,
  type FeedFreshnessRecord,
  type FeedMaxAge,
} from '../core/freshness/feeds.js';
import { classifyHost, type HostState } from '../core/metrics/coverage.js';
import type { OsFamily, OsInfo } from '../core/model.js';
import {
  addDaysIso,
  assembleMetrics,
  bandsAtOrAbove,
  emptyCounts,
  FLEET,
  headlines,
  METRICS_PERIOD_DAYS,
  scopeKey,
  trendPoints,
  type Headline,
  type MetricScope,
  type RawScopeCounts,
  type ScopeKind,
  type ScopeMetrics,
  type TrendPoint,
} from '../core/metrics/definitions.js';
import { weekStartOf } from '../core/metrics/schedule.js';
import type { Repositories } from '../db/index.js';
import type { HostFactsRow } from '../db/repositories/metrics-queries.js';

const DAY = 86_400_000;
/** `coverage.maxInventoryAge` when the policy given has none. */
const DEFAULT_MAX_INVENTORY_AGE = 7 * DAY;
/** How hosts without an owning team are listed in a per-team breakdown. */
export const NO_TEAM = '(no team)';

export interface MetricsDeps {
  repos: Pick<Repositories, 'metrics' | 'teams' | 'advisories'>;
  /** `feeds.maxAge` and `coverage` default when left out. */
  policy: Pick<Policy, 'reporting' | 'teams'> & Partial<Pick<Policy, 'feeds' | 'coverage'>>;
  now: Date;
}

/** One host's coverage state, as `report coverage --hosts` lists it. */
export interface HostCoverageLine {
  name: string;
  /** An open finding at the coverage threshold or above. */
  exposed: boolean;
  rebootRequired: boolean;
  team: string | null;
  environment: string;
  groups: string[];
  state: HostState;
  detail: string;
  lastInventoryAt: Date | null;
}

export interface BreakdownRow {
  name: string;
  metrics: ScopeMetrics;
}

export interface Breakdown {
  kind: Exclude<ScopeKind, 'fleet'>;
  rows: BreakdownRow[];
}

export interface CoverageReport {
  scope: MetricScope;
  asOf: Date;
  /** Monday of the current week ("YYYY-MM-DD"), in the team's digest time zone (UTC for the fleet). */
  weekStart: string;
  metrics: ScopeMetrics;
  /** Headline numbers with the change against the previous week's snapshot. */
  headlines: Headline[];
  trend: TrendPoint[];
  breakdown: Breakdown[];
  /** Every feed's age, and the stale-data line reports put first (undefined when fresh). */
  feeds: FeedAge[];
  notice?: string;
  /** Every host of the scope with its coverage state, by name. */
  hosts: HostCoverageLine[];
}

/** What the coverage states of a set of hosts rest on: the feeds' records and the policy's limits. */
interface Classifier {
  classify(h: HostFactsRow): HostCoverageLine;
  feeds: FeedAge[];
}

async function classifier(deps: MetricsDeps): Promise<Classifier> {
  const records: FeedFreshnessRecord[] = await deps.repos.advisories.feedFreshness();
  const maxAge: FeedMaxAge = deps.policy.feeds?.maxAge ?? DEFAULT_FEED_MAX_AGE;
  const maxInventoryAge = deps.policy.coverage?.maxInventoryAge ?? DEFAULT_MAX_INVENTORY_AGE;
  const byOs = new Map<string, ReturnType<typeof osAdvisories>>();
  return {
    feeds: feedAges(records, maxAge, deps.now),
    classify(h) {
      let advisories: ReturnType<typeof osAdvisories> | undefined;
      if (h.os !== null) {
        const os: OsInfo = {
          id: h.os.id,
          family: h.os.family as OsFamily,
          versionId: h.os.versionId,
          ...(h.os.codename === null ? {} : { codename: h.os.codename }),
          ...(h.os.prettyName === null ? {} : { prettyName: h.os.prettyName }),
        };
        const key = JSON.stringify(os);
        advisories = byOs.get(key);
        if (!advisories) {
          advisories = osAdvisories(os, records, maxAge, deps.now);
          byOs.set(key, advisories);
        }
      }
      const c = classifyHost(
        {
          lastInventoryAt: h.lastInventoryAt,
          lastCollectAttemptAt: h.lastCollectAttemptAt,
          lastCollectError: h.lastCollectError,
          advisories: advisories?.status ?? null,
          ...(advisories ? { advisoriesDetail: advisories.detail } : {}),
          exposed: h.exposed,
        },
        deps.now,
        maxInventoryAge,
      );
      return {
        name: h.name,
        exposed: h.exposed,
        rebootRequired: h.rebootRequired,
        team: h.team,
        environment: h.environment,
        groups: h.groups,
        state: c.state,
        detail: c.detail,
        lastInventoryAt: h.lastInventoryAt,
      };
    },
  };
}

/** One host's coverage state (`/patch status HOST`), or undefined for an unknown host. */
export async function hostCoverage(deps: MetricsDeps, name: string): Promise<HostCoverageLine | undefined> {
  const c = await classifier(deps);
  const facts = await deps.repos.metrics.hostFacts({
    bands: bandsAtOrAbove(deps.policy.reporting.coverageThreshold),
    host: name,
  });
  return facts[0] === undefined ? undefined : c.classify(facts[0]);
}

/** The scope keys a host counts in, per grouping (a host counts in each of its groups). */
function keysOf(h: HostCoverageLine, grouping: ScopeKind): (string | null)[] {
  switch (grouping) {
    case 'fleet':
      return ['fleet'];
    case 'team':
      return [h.team];
    case 'environment':
      return [h.environment];
    case 'group':
      return [...new Set(h.groups)];
  }
}

/** The time zone a team's weeks are counted in: its digest zone (UTC for the fleet). */
export function weekZoneOf(policy: Pick<Policy, 'teams'>, team?: string): string {
  if (team === undefined) return 'UTC';
  return policy.teams.find((t) => t.name === team)?.digest.timeZone ?? 'UTC';
}

export async function requireKnownTeam(repos: Pick<Repositories, 'teams'>, team: string): Promise<void> {
  if (await repos.teams.exists(team)) return;
  const teams = await repos.teams.names();
  throw new NotFoundError(
    `no team named ${JSON.stringify(team)}${teams.length > 0 ? ` (teams: ${teams.slice(0, 20).join(', ')})` : ' (none are defined yet)'}`,
    { details: { team } },
  );
}

/** ScopeMetrics of every scope of each grouping, restricted to `team`'s hosts when given (one pass). */
export async function metricsByScopes(
  deps: MetricsDeps,
  groupings: readonly ScopeKind[],
  team?: string,
  options: {
    classifier?: Classifier;
    /** Hears of every host's coverage state (the report lists them). */
    onHosts?: (hosts: HostCoverageLine[], classifier: Classifier) => void;
  } = {},
): Promise<Map<ScopeKind, Map<string | null, ScopeMetrics>>> {
  const r = deps.policy.reporting;
  const counts = await deps.repos.metrics.counts({
    groupings,
    ...(team === undefined ? {} : { team }),
    now: deps.now,
    since: new Date(deps.now.getTime() - METRICS_PERIOD_DAYS * DAY),
    bands: bandsAtOrAbove(r.coverageThreshold),
    expiringBefore: new Date(deps.now.getTime() + r.expiringSoonDays * DAY),
  });
  // every host in one coverage state; the states are added up per scope like the other counts
  const c = options.classifier ?? (await classifier(deps));
  const lines = (
    await deps.repos.metrics.hostFacts({
      ...(team === undefined ? {} : { team }),
      bands: bandsAtOrAbove(r.coverageThreshold),
    })
  ).map((h) => c.classify(h));
  for (const grouping of groupings) {
    const byKey = counts.get(grouping) ?? new Map<string | null, RawScopeCounts>();
    counts.set(grouping, byKey);
    for (const h of lines) {
      for (const key of keysOf(h, grouping)) {
        let raw = byKey.get(key);
        if (!raw) {
          raw = emptyCounts();
          byKey.set(key, raw);
        }
        raw.hosts += 1;
        if (h.exposed) raw.exposedHosts += 1;
        if (h.rebootRequired) raw.rebootRequired += 1;
        if (h.lastInventoryAt !== null) raw.inventoried += 1;
        raw.hostStates[h.state] += 1;
      }
    }
  }
  options.onHosts?.(lines, c);

  const out = new Map<ScopeKind, Map<string | null, ScopeMetrics>>();
  for (const grouping of groupings) {
    const byKey = new Map<string | null, ScopeMetrics>();
    for (const [key, raw] of counts.get(grouping) ?? new Map<string | null, RawScopeCounts>()) {
      const scope: MetricScope = grouping === 'fleet' ? FLEET : { kind: grouping, name: key ?? NO_TEAM };
      byKey.set(
        key,
        assembleMetrics(raw, {
          scope,
          asOf: deps.now,
          threshold: r.coverageThreshold,
          expiringSoonDays: r.expiringSoonDays,
        }),
      );
    }
    out.set(grouping, byKey);
  }
  return out;
}

/** ScopeMetrics of every scope of `grouping`, restricted to `team`'s hosts when given. */
export async function metricsByScope(
  deps: MetricsDeps,
  grouping: ScopeKind,
  team?: string,
): Promise<Map<string | null, ScopeMetrics>> {
  return (await metricsByScopes(deps, [grouping], team)).get(grouping) ?? new Map();
}

function emptyMetrics(deps: MetricsDeps, team?: string): ScopeMetrics {
  const r = deps.policy.reporting;
  const scope: MetricScope = team === undefined ? FLEET : { kind: 'team', name: team };
  return assembleMetrics(emptyCounts(), {
    scope,
    asOf: deps.now,
    threshold: r.coverageThreshold,
    expiringSoonDays: r.expiringSoonDays,
  });
}

/** The live metrics of the fleet or one team (zeros when the scope has no hosts). */
export async function scopeMetrics(deps: MetricsDeps, team?: string): Promise<ScopeMetrics> {
  const grouping: ScopeKind = team === undefined ? 'fleet' : 'team';
  return (await metricsByScope(deps, grouping, team)).get(team ?? 'fleet') ?? emptyMetrics(deps, team);
}

/** The coverage report of the fleet (team undefined) or one team. */
export async function coverageReport(
  deps: MetricsDeps,
  team?: string,
  options: { breakdown?: boolean } = {},
): Promise<CoverageReport> {
  if (team !== undefined) await requireKnownTeam(deps.repos, team);
  const scope: MetricScope = team === undefined ? FLEET : { kind: 'team', name: team };
  const own: ScopeKind = team === undefined ? 'fleet' : 'team';
  const kinds: Breakdown['kind'][] =
    options.breakdown === false
      ? []
      : team === undefined
        ? ['team', 'environment', 'group']
        : ['environment', 'group'];
  let hosts: HostCoverageLine[] = [];
  let feeds: FeedAge[] = [];
  const all = await metricsByScopes(deps, [...new Set<ScopeKind>([own, ...kinds])], team, {
    onHosts: (lines, c) => {
      hosts = lines;
      feeds = c.feeds;
    },
  });
  const metrics = all.get(own)?.get(team ?? 'fleet') ?? emptyMetrics(deps, team);
  const weekStart = weekStartOf(deps.now, weekZoneOf(deps.policy, team));
  const weeks = deps.policy.reporting.trendWeeks;
  const snapshots = await deps.repos.metrics.snapshots(
    scopeKey(scope),
    addDaysIso(weekStart, -7 * weeks),
    addDaysIso(weekStart, -1),
  );
  const previousWeek = addDaysIso(weekStart, -7);
  const previous = snapshots.find((s) => s.weekStart === previousWeek)?.metrics;
  const breakdown: Breakdown[] = kinds.map((kind) => ({
    kind,
    rows: [...(all.get(kind) ?? new Map<string | null, ScopeMetrics>()).entries()]
      .map(([key, m]) => ({ name: key ?? NO_TEAM, metrics: m, none: key === null }))
      .sort((a, b) => Number(a.none) - Number(b.none) || a.name.localeCompare(b.name))
      .map(({ name, metrics: m }) => ({ name, metrics: m })),
  }));
  return {
    scope,
    asOf: deps.now,
    weekStart,
    metrics,
    headlines: headlines(metrics, previous),
    trend: trendPoints(snapshots, metrics, weekStart, weeks),
    breakdown,
    feeds,
    ...(staleNotice(feeds) === undefined ? {} : { notice: staleNotice(feeds) }),
    hosts,
  };
}

/**
 * Stores this week's snapshot of the team (in the team's week) and of the fleet (UTC week), so the
 * trend and the week-over-week change survive findings being cleaned up.
 */
export async function saveWeeklySnapshots(
  deps: MetricsDeps,
  team: string,
  teamMetrics?: ScopeMetrics,
): Promise<{ teamWeek: string; fleetWeek: string }> {
  const teamWeek = weekStartOf(deps.now, weekZoneOf(deps.policy, team));
  const m = teamMetrics ?? (await scopeMetrics(deps, team));
  await deps.repos.metrics.saveSnapshot({
    scope: scopeKey({ kind: 'team', name: team }),
    team,
    weekStart: teamWeek,
    metrics: m,
  });
  const fleetWeek = weekStartOf(deps.now, 'UTC');
  await deps.repos.metrics.saveSnapshot({
    scope: 'fleet',
    weekStart: fleetWeek,
    metrics: await scopeMetrics(deps),
  });
  return { teamWeek, fleetWeek };
}

/** The answer to `/patch coverage [team]`: the coverage report as a view. */
export async function coverageView(deps: MetricsDeps, team?: string): Promise<CoverageView> {
  const r = await coverageReport(deps, team);
  return {
    type: 'coverage',
    ...(team === undefined ? {} : { team }),
    metrics: r.metrics,
    headlines: r.headlines,
    trend: r.trend,
    breakdown: r.breakdown,
    weekStart: r.weekStart,
    asOf: r.asOf,
    feeds: r.feeds,
    ...(r.notice === undefined ? {} : { notice: r.notice }),
    notCovered: r.hosts
      .filter((h) => h.state !== 'covered')
      .map((h) => ({ name: h.name, state: h.state, detail: h.detail })),
  };
}
