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

const DAY = 86_400_000;
/** How hosts without an owning team are listed in a per-team breakdown. */
export const NO_TEAM = '(no team)';

export interface MetricsDeps {
  repos: Pick<Repositories, 'metrics' | 'teams'>;
  policy: Pick<Policy, 'reporting' | 'teams'>;
  now: Date;
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
  const all = await metricsByScopes(deps, [...new Set<ScopeKind>([own, ...kinds])], team);
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
  };
}
