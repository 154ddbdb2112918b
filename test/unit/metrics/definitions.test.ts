/**
 * The pure parts of the metrics: ratios from counts, headline changes and how they read, the
 * digest's verdict, the trend's gaps, and the flat (CSV) columns.
 */
import { describe, expect, it } from 'vitest';
import {
  assembleMetrics,
  emptyCounts,
  flattenMetrics,
  headlines,
  trendPoints,
  verdictOf,
  type RawScopeCounts,
} from '../../../src/core/metrics/definitions.js';
import { changeTone, formatChange, formatValue } from '../../../src/core/metrics/format.js';

const asOf = new Date('2026-03-30T12:00:00Z');
function metrics(edit: (c: RawScopeCounts) => void = () => undefined) {
  const c = emptyCounts();
  edit(c);
  return assembleMetrics(c, {
    scope: { kind: 'team', name: 'ops' },
    asOf,
    threshold: 'high',
    expiringSoonDays: 14,
  });
}

describe('assembleMetrics', () => {
  it('derives ratios from counts, n/a when there is nothing to divide by', () => {
    const empty = metrics();
    expect(empty.hosts.coverage).toBeNull();
    expect(empty.sla.overall.compliance).toBeNull();
    expect(empty.deployments.successRate).toBeNull();
    const m = metrics((c) => {
      c.hosts = 8;
      c.exposedHosts = 3;
      // only assessed hosts count: 6 covered, 2 at risk (one exposed host was never scanned)
      c.hostStates = { ...c.hostStates, covered: 6, atRisk: 1, neverScanned: 1 };
      c.openByBand = { critical: 1, high: 2, medium: 3, low: 4, none: 5 };
      c.slaDue.high = 4;
      c.slaMet.high = 3;
      c.slaDue.low = 1;
      c.hostRunsFinished = 5;
      c.hostRunsSucceeded = 4;
      c.remediation.all = { fixed: 3, meanDays: 1.23456, p90Days: 2.98765 };
    });
    expect(m.hosts).toMatchObject({ covered: 6, coverage: 0.75 });
    expect(m.hosts.states).toMatchObject({ covered: 6, atRisk: 1, neverScanned: 1, unreachable: 0 });
    expect(m.open).toMatchObject({ total: 15, atOrAboveThreshold: 3 });
    expect(m.sla.overall).toEqual({ due: 5, met: 3, compliance: 0.6 });
    expect(m.sla.bySeverity.low).toEqual({ due: 1, met: 0, compliance: 0 });
    expect(m.deployments.successRate).toBe(0.8);
    expect(m.remediation.overall).toEqual({ fixed: 3, meanDays: 1.23, p90Days: 2.99 });
    expect(m.scope).toBe('team:ops');
  });
});

describe('headlines', () => {
  it('compares with last week and reads the change the way a person does', () => {
    const before = metrics((c) => {
      c.hosts = 10;
      c.exposedHosts = 5;
      c.hostStates = { ...c.hostStates, covered: 5, atRisk: 5 };
      c.openOverdue = 4;
      c.remediation.all = { fixed: 1, meanDays: 3, p90Days: 3 };
    });
    const now = metrics((c) => {
      c.hosts = 10;
      c.exposedHosts = 3;
      c.hostStates = { ...c.hostStates, covered: 7, atRisk: 3 };
      c.openOverdue = 6;
      c.remediation.all = { fixed: 1, meanDays: 3, p90Days: 3 };
    });
    const h = Object.fromEntries(headlines(now, before).map((x) => [x.key, x]));
    expect(h.coverage).toMatchObject({ value: 0.7, previous: 0.5, change: 0.2 });
    expect(formatValue(0.7, 'ratio')).toBe('70.0%');
    expect(formatChange(h.coverage ?? { unit: 'ratio' })).toBe('+20.0 pp');
    expect(changeTone(h.coverage ?? { unit: 'ratio', better: 'up' })).toBe('better');
    expect(formatChange(h.overdue ?? { unit: 'count' })).toBe('+2');
    expect(changeTone(h.overdue ?? { unit: 'count', better: 'down' })).toBe('worse');
    expect(formatChange(h.meanDaysToRemediate ?? { unit: 'days' })).toBe('no change');
    expect(changeTone(h.meanDaysToRemediate ?? { unit: 'days', better: 'down' })).toBe('same');
    // Nothing to compare with: no change at all, not "no change".
    expect(h.slaCompliance?.change).toBeUndefined();
    expect(formatChange(h.slaCompliance ?? { unit: 'ratio' })).toBeUndefined();
    expect(headlines(now).every((x) => x.change === undefined && x.previous === undefined)).toBe(true);
    expect(formatValue(null, 'days')).toBe('n/a');
    expect(formatValue(1234, 'count')).toBe('1,234');
    expect(formatChange({ unit: 'days', change: -0.25 })).toBe('-0.3 d');
  });
});

describe('verdictOf', () => {
  it('is "On track" when nothing is overdue and no deployment failed', () => {
    expect(verdictOf(metrics())).toEqual({ kind: 'on-track', headline: 'On track', reasons: [] });
  });

  it('names KEV and other overdue findings and failed host deployments', () => {
    const v = verdictOf(
      metrics((c) => {
        c.openOverdue = 5;
        c.kevOverdue = 2;
        c.hostRunsFinished = 3;
        c.hostRunsSucceeded = 2;
      }),
    );
    expect(v).toEqual({
      kind: 'action-required',
      headline: 'Action required',
      reasons: [
        '2 KEV findings are past the CISA due date',
        '3 other findings are past the SLA due date',
        '1 host deployment failed in the last 30 days',
      ],
    });
    expect(verdictOf(metrics((c) => (c.openOverdue = 1))).reasons).toEqual([
      '1 finding is past the SLA due date',
    ]);
  });
});

describe('verdictOf: what was not assessed', () => {
  it('a team with no inventoried host is never "On track"', () => {
    const v = verdictOf(
      metrics((c) => {
        c.hosts = 3;
        c.hostStates = { ...c.hostStates, neverScanned: 3 };
      }),
    );
    expect(v.kind).toBe('action-required');
    expect(v.reasons).toEqual(['3 hosts were not assessed, of 3 (3 never scanned)']);
  });

  it('names every not-assessed state and the stale-data notice, before the rest', () => {
    const v = verdictOf(
      metrics((c) => {
        c.hosts = 6;
        c.hostStates = {
          covered: 1,
          atRisk: 1,
          neverScanned: 1,
          inventoryStale: 1,
          noAdvisories: 1,
          unreachable: 1,
        };
        c.openOverdue = 1;
      }),
      'advisory data is 9 days old (stale: kev); run `patchbot feeds sync`',
    );
    expect(v.reasons).toEqual([
      '4 hosts were not assessed, of 6 (1 never scanned, 1 inventory stale, 1 no current advisories, 1 unreachable)',
      'advisory data is 9 days old (stale: kev); run `patchbot feeds sync`',
      '1 finding is past the SLA due date',
    ]);
  });
});

describe('trendPoints', () => {
  it('covers the weeks up to the current one, with gaps where no snapshot exists', () => {
    const old = metrics((c) => {
      c.hosts = 4;
      c.exposedHosts = 4;
      c.hostStates = { ...c.hostStates, atRisk: 4 };
      c.openByBand.high = 9;
    });
    const now = metrics((c) => {
      c.hosts = 4;
      c.exposedHosts = 1;
      c.hostStates = { ...c.hostStates, covered: 3, atRisk: 1 };
      c.openByBand.critical = 2;
    });
    const points = trendPoints([{ weekStart: '2026-03-16', metrics: old }], now, '2026-03-30', 4);
    expect(points).toEqual([
      { weekStart: '2026-03-09', coverage: null, openRisk: null },
      { weekStart: '2026-03-16', coverage: 0, openRisk: 9 },
      { weekStart: '2026-03-23', coverage: null, openRisk: null },
      { weekStart: '2026-03-30', coverage: 0.75, openRisk: 2 },
    ]);
  });
});

describe('flattenMetrics', () => {
  it('has one column per number, the same for every scope', () => {
    const a = Object.keys(flattenMetrics(metrics()));
    const b = Object.keys(flattenMetrics(metrics((c) => (c.hosts = 3))));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
    expect(a).toEqual(
      expect.arrayContaining(['coverage', 'open_age_ge90', 'sla_critical_compliance', 'mttr_low_p90_days']),
    );
  });
});
