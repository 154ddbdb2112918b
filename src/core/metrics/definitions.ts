/**
 * The metrics of step 8 (measure), as pure definitions: the shape of one scope's numbers, how the
 * ratios are derived from the counts the database returns, the headline numbers with their
 * week-over-week change, and the digest's verdict. docs/metrics.md defines every number in words;
 * the counting itself happens in PostgreSQL (src/db/repositories/metrics-queries.ts).
 *
 * A scope is the fleet, a team, an environment or a host group. A host in several groups counts in
 * each of them. Ratios are 0..1 and null when there is nothing to divide by (no hosts, nothing due).
 */
import { z } from 'zod';
import type { Severity } from '../model.js';
import { emptyStateCounts, type HostStateCounts } from './coverage.js';

export const SEVERITIES = [
  'critical',
  'high',
  'medium',
  'low',
  'none',
] as const satisfies readonly Severity[];

/** SLA compliance, time to remediate and deployment success are measured over this many days. */
export const METRICS_PERIOD_DAYS = 30;
/** "Due this week", "fixed this week": the next / last seven days. */
export const WEEK_DAYS = 7;

/** Age of an open finding (now - first seen), half-open intervals in days. */
export const AGE_BUCKETS = [
  { key: 'lt7', label: 'under 7 days', fromDays: 0, toDays: 7 },
  { key: 'd7to30', label: '7-29 days', fromDays: 7, toDays: 30 },
  { key: 'd30to90', label: '30-89 days', fromDays: 30, toDays: 90 },
  { key: 'ge90', label: '90 days or more', fromDays: 90, toDays: null },
] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number]['key'];
export const AGE_BUCKET_KEYS = AGE_BUCKETS.map((b) => b.key) as readonly AgeBucket[];

export type ScopeKind = 'fleet' | 'team' | 'environment' | 'group';

/** What a set of metrics is about. `name` is empty for the fleet. */
export interface MetricScope {
  kind: ScopeKind;
  name: string;
}

export const FLEET: MetricScope = { kind: 'fleet', name: '' };

/** The MetricSnapshot.scope string: "fleet", "team:payments", "environment:production", "group:dmz". */
export function scopeKey(scope: MetricScope): string {
  return scope.kind === 'fleet' ? 'fleet' : `${scope.kind}:${scope.name}`;
}

export function scopeLabel(scope: MetricScope): string {
  return scope.kind === 'fleet' ? 'fleet' : `${scope.kind} ${scope.name}`;
}

/** The bands at or above `threshold`, critical first. */
export function bandsAtOrAbove(threshold: Severity): Severity[] {
  return SEVERITIES.slice(0, SEVERITIES.indexOf(threshold) + 1);
}

// ---------------------------------------------------------------------------------------------
// the numbers of one scope (also the stored snapshot: MetricSnapshot.metrics)

const count = z.number().int().min(0);
const ratio = z.number().min(0).max(1).nullable();
const days = z.number().min(0).nullable();
const bySeverity = <T extends z.ZodType>(cell: T) =>
  z.object({ critical: cell, high: cell, medium: cell, low: cell, none: cell });

export const SlaCell = z.object({
  /** Findings whose SLA due date fell in the period (open or fixed; accepted and deferred left out). */
  due: count,
  /** ...of them, fixed at or before their due date. */
  met: count,
  compliance: ratio,
});
export type SlaCell = z.infer<typeof SlaCell>;

export const RemediationCell = z.object({
  /** Findings fixed in the period. */
  fixed: count,
  /** Mean and 90th percentile of (fixed - first seen), in days. */
  meanDays: days,
  p90Days: days,
});
export type RemediationCell = z.infer<typeof RemediationCell>;

export const ScopeMetrics = z.object({
  version: z.literal(1),
  scope: z.string(),
  asOf: z.iso.datetime(),
  periodDays: z.number().int().positive(),
  threshold: z.enum(SEVERITIES),
  hosts: z.object({
    total: count,
    /** Assessed (fresh inventory, current advisories) and no open finding in the threshold band or above. */
    covered: count,
    coverage: ratio,
    /**
     * Every host in exactly one state (src/core/metrics/coverage.ts). Absent in snapshots stored
     * before hosts were classified.
     */
    states: z
      .object({
        covered: count,
        atRisk: count,
        neverScanned: count,
        inventoryStale: count,
        noAdvisories: count,
        unreachable: count,
      })
      .optional(),
    /** Hosts whose last inventory said a reboot is required. */
    rebootRequired: count,
    /** Hosts with at least one inventory. */
    inventoried: count,
  }),
  open: z.object({
    total: count,
    /** Open findings in the threshold band or above: the "open risk" of the trend chart. */
    atOrAboveThreshold: count,
    byBand: bySeverity(count),
    byAge: z.object({ lt7: count, d7to30: count, d30to90: count, ge90: count }),
    /**
     * Fleet view: open findings of distribution packages, language packages and firmware. Absent
     * in snapshots stored before firmware and third-party software were inventoried.
     */
    byKind: z.object({ os: count, thirdParty: count, firmware: count }).optional(),
    /** Open findings past their SLA due date (SLA breaches). */
    overdue: count,
    /** Open findings due within the next seven days (not yet overdue). */
    dueThisWeek: count,
  }),
  kev: z.object({ open: count, overdue: count }),
  sla: z.object({ overall: SlaCell, bySeverity: bySeverity(SlaCell) }),
  remediation: z.object({ overall: RemediationCell, bySeverity: bySeverity(RemediationCell) }),
  deployments: z.object({
    /** Host runs (one host in one deployment) that finished in the period: succeeded or failed. */
    hostRuns: count,
    succeeded: count,
    successRate: ratio,
  }),
  acceptedRisks: z.object({
    /** Risk acceptances in force (not revoked, not expired) covering a finding in the scope. */
    active: count,
    /** ...of them, expiring within `withinDays`. */
    expiringSoon: count,
    withinDays: z.number().int().positive(),
  }),
  /** Findings fixed in the last seven days. */
  fixedThisWeek: count,
});
export type ScopeMetrics = z.infer<typeof ScopeMetrics>;

// ---------------------------------------------------------------------------------------------
// from counts to metrics

/** What the database counts for one scope (every number a plain count or a duration in days). */
export interface RawScopeCounts {
  hosts: number;
  exposedHosts: number;
  /** Hosts per coverage state (src/core/metrics/coverage.ts); `covered` is what coverage counts. */
  hostStates: HostStateCounts;
  rebootRequired: number;
  inventoried: number;
  openByBand: Record<Severity, number>;
  openByAge: Record<AgeBucket, number>;
  /** Open findings per kind (os, third-party, firmware). */
  openByKind: { os: number; thirdParty: number; firmware: number };
  openOverdue: number;
  openDueThisWeek: number;
  kevOpen: number;
  kevOverdue: number;
  slaDue: Record<Severity, number>;
  slaMet: Record<Severity, number>;
  /** Per band and overall ("all"): fixed count, mean and p90 days. */
  remediation: Record<Severity | 'all', { fixed: number; meanDays: number | null; p90Days: number | null }>;
  hostRunsFinished: number;
  hostRunsSucceeded: number;
  acceptancesActive: number;
  acceptancesExpiringSoon: number;
  fixedThisWeek: number;
}

export interface MetricsContext {
  scope: MetricScope;
  asOf: Date;
  threshold: Severity;
  expiringSoonDays: number;
  periodDays?: number;
}

export function ratioOf(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** Rounds a duration to 0.01 day (about 15 minutes) so stored and shown numbers agree. */
function roundDays(d: number | null): number | null {
  return d === null ? null : Math.round(d * 100) / 100;
}

function zeroBands(): Record<Severity, number> {
  return { critical: 0, high: 0, medium: 0, low: 0, none: 0 };
}

export function emptyCounts(): RawScopeCounts {
  const cell = { fixed: 0, meanDays: null, p90Days: null };
  return {
    hosts: 0,
    exposedHosts: 0,
    hostStates: emptyStateCounts(),
    rebootRequired: 0,
    inventoried: 0,
    openByBand: zeroBands(),
    openByAge: { lt7: 0, d7to30: 0, d30to90: 0, ge90: 0 },
    openByKind: { os: 0, thirdParty: 0, firmware: 0 },
    openOverdue: 0,
    openDueThisWeek: 0,
    kevOpen: 0,
    kevOverdue: 0,
    slaDue: zeroBands(),
    slaMet: zeroBands(),
    remediation: {
      all: { ...cell },
      critical: { ...cell },
      high: { ...cell },
      medium: { ...cell },
      low: { ...cell },
      none: { ...cell },
    },
    hostRunsFinished: 0,
    hostRunsSucceeded: 0,
    acceptancesActive: 0,
    acceptancesExpiringSoon: 0,
    fixedThisWeek: 0,
  };
}

export function assembleMetrics(raw: RawScopeCounts, ctx: MetricsContext): ScopeMetrics {
  // only assessed hosts without an open finding at the threshold are covered
  const covered = raw.hostStates.covered;
  const atOrAbove = bandsAtOrAbove(ctx.threshold).reduce((n, b) => n + raw.openByBand[b], 0);
  const total = SEVERITIES.reduce((n, b) => n + raw.openByBand[b], 0);
  const sla = (b: Severity): SlaCell => ({
    due: raw.slaDue[b],
    met: raw.slaMet[b],
    compliance: ratioOf(raw.slaMet[b], raw.slaDue[b]),
  });
  const slaDue = SEVERITIES.reduce((n, b) => n + raw.slaDue[b], 0);
  const slaMet = SEVERITIES.reduce((n, b) => n + raw.slaMet[b], 0);
  const ttr = (k: Severity | 'all'): RemediationCell => ({
    fixed: raw.remediation[k].fixed,
    meanDays: roundDays(raw.remediation[k].meanDays),
    p90Days: roundDays(raw.remediation[k].p90Days),
  });
  return {
    version: 1,
    scope: scopeKey(ctx.scope),
    asOf: ctx.asOf.toISOString(),
    periodDays: ctx.periodDays ?? METRICS_PERIOD_DAYS,
    threshold: ctx.threshold,
    hosts: {
      total: raw.hosts,
      covered,
      coverage: ratioOf(covered, raw.hosts),
      states: { ...raw.hostStates },
      rebootRequired: raw.rebootRequired,
      inventoried: raw.inventoried,
    },
    open: {
      total,
      atOrAboveThreshold: atOrAbove,
      byBand: { ...raw.openByBand },
      byAge: { ...raw.openByAge },
      byKind: { ...raw.openByKind },
      overdue: raw.openOverdue,
      dueThisWeek: raw.openDueThisWeek,
    },
    kev: { open: raw.kevOpen, overdue: raw.kevOverdue },
    sla: {
      overall: { due: slaDue, met: slaMet, compliance: ratioOf(slaMet, slaDue) },
      bySeverity: {
        critical: sla('critical'),
        high: sla('high'),
        medium: sla('medium'),
        low: sla('low'),
        none: sla('none'),
      },
    },
    remediation: {
      overall: ttr('all'),
      bySeverity: {
        critical: ttr('critical'),
        high: ttr('high'),
        medium: ttr('medium'),
        low: ttr('low'),
        none: ttr('none'),
      },
    },
    deployments: {
      hostRuns: raw.hostRunsFinished,
      succeeded: raw.hostRunsSucceeded,
      successRate: ratioOf(raw.hostRunsSucceeded, raw.hostRunsFinished),
    },
    acceptedRisks: {
      active: raw.acceptancesActive,
      expiringSoon: raw.acceptancesExpiringSoon,
      withinDays: ctx.expiringSoonDays,
    },
    fixedThisWeek: raw.fixedThisWeek,
  };
}

// ---------------------------------------------------------------------------------------------
// headline numbers and their week-over-week change

export type HeadlineKey =
  | 'coverage'
  | 'openAtOrAboveThreshold'
  | 'overdue'
  | 'kevOverdue'
  | 'slaCompliance'
  | 'meanDaysToRemediate'
  | 'p90DaysToRemediate'
  | 'deploymentSuccess'
  | 'acceptedRisks'
  | 'rebootRequired';

export type HeadlineUnit = 'ratio' | 'count' | 'days';

export interface Headline {
  key: HeadlineKey;
  label: string;
  unit: HeadlineUnit;
  value: number | null;
  /** The same number one week earlier, when a snapshot of that week exists. */
  previous?: number | null;
  /** value - previous (ratios in 0..1 units), when both exist. */
  change?: number;
  /** Whether a rise is good news (coverage) or bad news (overdue findings). */
  better: 'up' | 'down';
}

const HEADLINES: readonly {
  key: HeadlineKey;
  label: (m: ScopeMetrics) => string;
  unit: HeadlineUnit;
  better: 'up' | 'down';
  get: (m: ScopeMetrics) => number | null;
}[] = [
  {
    key: 'coverage',
    label: () => 'Host coverage',
    unit: 'ratio',
    better: 'up',
    get: (m) => m.hosts.coverage,
  },
  {
    key: 'openAtOrAboveThreshold',
    label: (m) => `Open findings at ${m.threshold} risk or above`,
    unit: 'count',
    better: 'down',
    get: (m) => m.open.atOrAboveThreshold,
  },
  {
    key: 'overdue',
    label: () => 'SLA breaches (open, overdue)',
    unit: 'count',
    better: 'down',
    get: (m) => m.open.overdue,
  },
  { key: 'kevOverdue', label: () => 'KEV overdue', unit: 'count', better: 'down', get: (m) => m.kev.overdue },
  {
    key: 'slaCompliance',
    label: (m) => `SLA compliance (${m.periodDays} d)`,
    unit: 'ratio',
    better: 'up',
    get: (m) => m.sla.overall.compliance,
  },
  {
    key: 'meanDaysToRemediate',
    label: () => 'Mean time to remediate',
    unit: 'days',
    better: 'down',
    get: (m) => m.remediation.overall.meanDays,
  },
  {
    key: 'p90DaysToRemediate',
    label: () => 'p90 time to remediate',
    unit: 'days',
    better: 'down',
    get: (m) => m.remediation.overall.p90Days,
  },
  {
    key: 'deploymentSuccess',
    label: (m) => `Deployment success (${m.periodDays} d)`,
    unit: 'ratio',
    better: 'up',
    get: (m) => m.deployments.successRate,
  },
  {
    key: 'acceptedRisks',
    label: () => 'Accepted risks',
    unit: 'count',
    better: 'down',
    get: (m) => m.acceptedRisks.active,
  },
  {
    key: 'rebootRequired',
    label: () => 'Hosts needing a reboot',
    unit: 'count',
    better: 'down',
    get: (m) => m.hosts.rebootRequired,
  },
];

/** The headline numbers, with their change against `previous` (a week earlier) when given. */
export function headlines(current: ScopeMetrics, previous?: ScopeMetrics): Headline[] {
  return HEADLINES.map((h) => {
    const value = h.get(current);
    const line: Headline = { key: h.key, label: h.label(current), unit: h.unit, value, better: h.better };
    if (previous) {
      const before = h.get(previous);
      line.previous = before;
      if (value !== null && before !== null) line.change = roundChange(value - before, h.unit);
    }
    return line;
  });
}

function roundChange(d: number, unit: HeadlineUnit): number {
  if (unit === 'count') return Math.round(d);
  if (unit === 'days') return Math.round(d * 100) / 100;
  return Math.round(d * 1e6) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// trend and verdict

export interface TrendPoint {
  /** Monday of the week, "YYYY-MM-DD". */
  weekStart: string;
  /** 0..1, null when the week has no snapshot or no hosts. */
  coverage: number | null;
  /** Open findings at the threshold band or above; null when the week has no snapshot. */
  openRisk: number | null;
}

/**
 * `weeks` points ending with the week of `currentWeekStart`: each week's snapshot, the current
 * week from `current` (live numbers), null where no snapshot exists.
 */
export function trendPoints(
  snapshots: readonly { weekStart: string; metrics: ScopeMetrics }[],
  current: ScopeMetrics,
  currentWeekStart: string,
  weeks: number,
): TrendPoint[] {
  const byWeek = new Map(snapshots.map((s) => [s.weekStart, s.metrics]));
  byWeek.set(currentWeekStart, current);
  const points: TrendPoint[] = [];
  for (let i = weeks - 1; i >= 0; i--) {
    const week = addDaysIso(currentWeekStart, -7 * i);
    const m = byWeek.get(week);
    points.push({
      weekStart: week,
      coverage: m ? m.hosts.coverage : null,
      openRisk: m ? m.open.atOrAboveThreshold : null,
    });
  }
  return points;
}

/** "2026-03-30" + n days (calendar arithmetic, no time zone). */
export function addDaysIso(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + n)).toISOString().slice(0, 10);
}

export interface Verdict {
  kind: 'action-required' | 'on-track';
  /** "Action required" / "On track". */
  headline: string;
  /** Why action is required (empty when on track). */
  reasons: string[];
}

/**
 * "Action required" when an open finding is past its SLA due date (KEV ones named on their own),
 * or a host deployment failed this period; "On track" otherwise.
 */
export function verdictOf(m: ScopeMetrics, notice?: string): Verdict {
  const reasons: string[] = [];
  const n = (x: number, one: string, many: string) => `${x.toLocaleString('en')} ${x === 1 ? one : many}`;
  // what was not assessed comes first: nothing else can be judged for it
  const s = m.hosts.states;
  const notAssessed = s ? s.neverScanned + s.inventoryStale + s.noAdvisories + s.unreachable : 0;
  if (s && notAssessed > 0) {
    const parts = (
      [
        ['neverScanned', 'never scanned'],
        ['inventoryStale', 'inventory stale'],
        ['noAdvisories', 'no current advisories'],
        ['unreachable', 'unreachable'],
      ] as const
    )
      .filter(([k]) => s[k] > 0)
      .map(([k, label]) => `${s[k]} ${label}`);
    reasons.push(
      `${n(notAssessed, 'host was', 'hosts were')} not assessed, of ${m.hosts.total} (${parts.join(', ')})`,
    );
  }
  // stale or missing advisory data matters to a scope with hosts
  if (notice !== undefined && m.hosts.total > 0) reasons.push(notice);
  if (m.kev.overdue > 0)
    reasons.push(`${n(m.kev.overdue, 'KEV finding is', 'KEV findings are')} past the CISA due date`);
  const otherOverdue = m.open.overdue - m.kev.overdue;
  if (otherOverdue > 0)
    reasons.push(
      `${n(otherOverdue, m.kev.overdue > 0 ? 'other finding is' : 'finding is', m.kev.overdue > 0 ? 'other findings are' : 'findings are')} past the SLA due date`,
    );
  const failed = m.deployments.hostRuns - m.deployments.succeeded;
  if (failed > 0)
    reasons.push(
      `${n(failed, 'host deployment', 'host deployments')} failed in the last ${m.periodDays} days`,
    );
  return reasons.length > 0
    ? { kind: 'action-required', headline: 'Action required', reasons }
    : { kind: 'on-track', headline: 'On track', reasons: [] };
}

// ---------------------------------------------------------------------------------------------
// flat rows (CSV)

/** Column order of flattened metrics (CSV). */
export function flattenMetrics(m: ScopeMetrics): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = {
    scope: m.scope,
    as_of: m.asOf,
    period_days: m.periodDays,
    threshold: m.threshold,
    hosts: m.hosts.total,
    hosts_covered: m.hosts.covered,
    coverage: m.hosts.coverage,
    hosts_at_risk: m.hosts.states?.atRisk ?? null,
    hosts_never_scanned: m.hosts.states?.neverScanned ?? null,
    hosts_inventory_stale: m.hosts.states?.inventoryStale ?? null,
    hosts_no_advisories: m.hosts.states?.noAdvisories ?? null,
    hosts_unreachable: m.hosts.states?.unreachable ?? null,
    hosts_reboot_required: m.hosts.rebootRequired,
    hosts_inventoried: m.hosts.inventoried,
    open: m.open.total,
    open_at_or_above_threshold: m.open.atOrAboveThreshold,
  };
  for (const b of SEVERITIES) row[`open_${b}`] = m.open.byBand[b];
  for (const a of AGE_BUCKET_KEYS) row[`open_age_${a}`] = m.open.byAge[a];
  row.open_overdue = m.open.overdue;
  row.open_due_this_week = m.open.dueThisWeek;
  row.kev_open = m.kev.open;
  row.kev_overdue = m.kev.overdue;
  row.sla_due = m.sla.overall.due;
  row.sla_met = m.sla.overall.met;
  row.sla_compliance = m.sla.overall.compliance;
  for (const b of SEVERITIES) {
    row[`sla_${b}_due`] = m.sla.bySeverity[b].due;
    row[`sla_${b}_met`] = m.sla.bySeverity[b].met;
    row[`sla_${b}_compliance`] = m.sla.bySeverity[b].compliance;
  }
  row.fixed = m.remediation.overall.fixed;
  row.mttr_mean_days = m.remediation.overall.meanDays;
  row.mttr_p90_days = m.remediation.overall.p90Days;
  for (const b of SEVERITIES) {
    row[`mttr_${b}_fixed`] = m.remediation.bySeverity[b].fixed;
    row[`mttr_${b}_mean_days`] = m.remediation.bySeverity[b].meanDays;
    row[`mttr_${b}_p90_days`] = m.remediation.bySeverity[b].p90Days;
  }
  row.host_runs = m.deployments.hostRuns;
  row.host_runs_succeeded = m.deployments.succeeded;
  row.deployment_success_rate = m.deployments.successRate;
  row.accepted_risks = m.acceptedRisks.active;
  row.accepted_risks_expiring = m.acceptedRisks.expiringSoon;
  row.fixed_this_week = m.fixedThisWeek;
  return row;
}
