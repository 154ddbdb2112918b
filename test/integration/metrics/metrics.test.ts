/**
 * Coverage metrics counted in the database over the hand-made history of seed.ts; every expected
 * number below is worked out from the table at the top of that file.
 */
import { beforeAll, expect, it } from 'vitest';
import { Policy } from '../../../src/config/policy-schema.js';
import { assembleMetrics, emptyCounts, type ScopeMetrics } from '../../../src/core/metrics/definitions.js';
import { createRepositories, type Repositories } from '../../../src/db/index.js';
import { coverageReport, metricsByScope, saveWeeklySnapshots } from '../../../src/usecases/metrics.js';
import { forEachBackend } from '../../support/db.js';
import { NOW, seedHistory } from './seed.js';

const policy = Policy.parse({
  teams: [{ name: 'payments', digest: { timeZone: 'Europe/Berlin' } }, { name: 'web' }],
  reporting: { coverageThreshold: 'high', expiringSoonDays: 14, trendWeeks: 12 },
});

/** A stored snapshot with the given coverage and open findings at high or above. */
function snapshot(
  scope: string,
  hosts: number,
  exposed: number,
  critical: number,
  high: number,
  overdue: number,
) {
  const raw = emptyCounts();
  raw.hosts = hosts;
  raw.exposedHosts = exposed;
  raw.hostStates = { ...raw.hostStates, covered: hosts - exposed, atRisk: exposed };
  raw.openByBand.critical = critical;
  raw.openByBand.high = high;
  raw.openOverdue = overdue;
  const [kind, name] = scope.split(':') as ['team', string];
  return assembleMetrics(raw, {
    scope: { kind, name },
    asOf: new Date('2026-03-23T08:00:00Z'),
    threshold: 'high',
    expiringSoonDays: 14,
  });
}

forEachBackend('coverage metrics', (getDb) => {
  let repos: Repositories;
  const deps = () => ({ repos, policy, now: NOW });

  beforeAll(async () => {
    const db = getDb();
    repos = createRepositories(db);
    await seedHistory(db);
    await repos.metrics.saveSnapshot({
      scope: 'team:payments',
      team: 'payments',
      weekStart: '2026-03-23',
      metrics: snapshot('team:payments', 3, 3, 2, 2, 5),
    });
    await repos.metrics.saveSnapshot({
      scope: 'team:payments',
      team: 'payments',
      weekStart: '2026-02-23',
      metrics: snapshot('team:payments', 3, 2, 1, 1, 1),
    });
    // A snapshot another version wrote in a shape this one does not read: left out of the trend.
    await db.prisma.metricSnapshot.create({
      data: {
        scope: 'team:payments',
        weekStart: new Date('2026-03-02T00:00:00Z'),
        metrics: { coverage: 'high' },
      },
    });
  });

  it('counts team payments as worked out by hand', async () => {
    const m = (await metricsByScope(deps(), 'team', 'payments')).get('payments') as ScopeMetrics;
    expect(m.scope).toBe('team:payments');
    // pay-1 (F1 critical) and pay-3 (F7 high) are exposed; pay-2 has only F4 (low) open.
    // pay-1 at risk (F1 critical), pay-2 covered, pay-3 never scanned (its open F7 does not make it assessed)
    expect(m.hosts).toEqual({
      total: 3,
      covered: 1,
      coverage: 1 / 3,
      states: { covered: 1, atRisk: 1, neverScanned: 1, inventoryStale: 0, noAdvisories: 0, unreachable: 0 },
      rebootRequired: 1,
      inventoried: 2,
    });
    expect(m.open).toEqual({
      total: 4,
      atOrAboveThreshold: 2,
      byBand: { critical: 1, high: 1, medium: 1, low: 1, none: 0 },
      // F2 3 days, F7 10 days, F1 40 days, F4 100 days
      byAge: { lt7: 1, d7to30: 1, d30to90: 1, ge90: 1 },
      // every seeded finding is of a distribution package
      byKind: { os: 4, thirdParty: 0, firmware: 0 },
      overdue: 2, // F1, F7
      dueThisWeek: 1, // F2
    });
    expect(m.kev).toEqual({ open: 1, overdue: 1 });
    // Due in the last 30 days: F1 (open), F5 (fixed late) critical; F3 (fixed in time), F7 (open) high.
    expect(m.sla.overall).toEqual({ due: 4, met: 1, compliance: 0.25 });
    expect(m.sla.bySeverity.critical).toEqual({ due: 2, met: 0, compliance: 0 });
    expect(m.sla.bySeverity.high).toEqual({ due: 2, met: 1, compliance: 0.5 });
    expect(m.sla.bySeverity.medium).toEqual({ due: 0, met: 0, compliance: null });
    // Fixed in the period: F3 15 d, F5 10 d, F8 4 d. Mean 29/3; p90 = 10 + 0.8 * (15 - 10) = 14.
    expect(m.remediation.overall).toEqual({ fixed: 3, meanDays: 9.67, p90Days: 14 });
    expect(m.remediation.bySeverity.critical).toEqual({ fixed: 1, meanDays: 10, p90Days: 10 });
    expect(m.remediation.bySeverity.high).toEqual({ fixed: 1, meanDays: 15, p90Days: 15 });
    expect(m.remediation.bySeverity.medium).toEqual({ fixed: 1, meanDays: 4, p90Days: 4 });
    expect(m.remediation.bySeverity.low).toEqual({ fixed: 0, meanDays: null, p90Days: null });
    // pay-1 succeeded, pay-2 failed (d 3); pay-3's run of d 40 is outside, the running one unfinished.
    expect(m.deployments).toEqual({ hostRuns: 2, succeeded: 1, successRate: 0.5 });
    // RA1 (F6) active and expiring within 14 days; RA3 revoked, RA4 expired.
    expect(m.acceptedRisks).toEqual({ active: 1, expiringSoon: 1, withinDays: 14 });
    expect(m.fixedThisWeek).toBe(2); // F5 (d 2), F8 (d 4)
  });

  it('counts team web and the fleet', async () => {
    const web = (await metricsByScope(deps(), 'team', 'web')).get('web') as ScopeMetrics;
    expect(web.hosts.coverage).toBe(0);
    expect(web.open.byAge).toEqual({ lt7: 0, d7to30: 0, d30to90: 1, ge90: 0 });
    expect(web.kev).toEqual({ open: 1, overdue: 0 });
    expect(web.sla.overall.compliance).toBeNull(); // F10 was due 35 days ago
    expect(web.remediation.overall).toEqual({ fixed: 0, meanDays: null, p90Days: null });
    expect(web.deployments.successRate).toBe(1);
    // RA2 covers F9 through its change request.
    expect(web.acceptedRisks).toEqual({ active: 1, expiringSoon: 0, withinDays: 14 });

    const fleet = (await metricsByScope(deps(), 'fleet')).get('fleet') as ScopeMetrics;
    // covered: pay-2 (low only) and orph-1 (none only)
    expect(fleet.hosts).toEqual({
      total: 5,
      covered: 2,
      coverage: 0.4,
      states: { covered: 2, atRisk: 2, neverScanned: 1, inventoryStale: 0, noAdvisories: 0, unreachable: 0 },
      rebootRequired: 1,
      inventoried: 4,
    });
    expect(fleet.open.byBand).toEqual({ critical: 1, high: 2, medium: 1, low: 1, none: 1 });
    expect(fleet.open.byAge).toEqual({ lt7: 1, d7to30: 2, d30to90: 2, ge90: 1 });
    expect(fleet.open.atOrAboveThreshold).toBe(3);
    expect(fleet.kev).toEqual({ open: 2, overdue: 1 });
    expect(fleet.sla.overall).toEqual({ due: 4, met: 1, compliance: 0.25 });
    expect(fleet.deployments).toEqual({ hostRuns: 3, succeeded: 2, successRate: 2 / 3 });
    expect(fleet.acceptedRisks).toEqual({ active: 2, expiringSoon: 1, withinDays: 14 });
  });

  it('counts per environment and host group (a host in two groups counts in both)', async () => {
    const env = await metricsByScope(deps(), 'environment');
    expect([...env.keys()].sort()).toEqual(['development', 'production', 'staging']);
    expect(env.get('production')?.hosts).toMatchObject({ total: 3, covered: 1 });
    expect(env.get('staging')?.hosts).toMatchObject({ total: 1, covered: 0 });
    expect(env.get('development')?.hosts).toMatchObject({ total: 1, covered: 1 });
    const groups = await metricsByScope(deps(), 'group');
    expect(groups.get('dmz')?.hosts).toMatchObject({ total: 2, covered: 0 });
    expect(groups.get('db')?.hosts).toMatchObject({ total: 2, covered: 1 });
    expect(groups.get('db')?.open.total).toBe(3); // F1, F2 on pay-1; F4 on pay-2
    const teams = await metricsByScope(deps(), 'team');
    expect(teams.get(null)?.hosts.total).toBe(1); // orph-1
    const inTeam = await metricsByScope(deps(), 'group', 'payments');
    expect(inTeam.get('dmz')?.hosts).toMatchObject({ total: 1, covered: 0 });
  });

  it('reports the change against last week and a 12-week trend from the snapshots', async () => {
    const r = await coverageReport(deps(), 'payments');
    expect(r.weekStart).toBe('2026-03-30');
    const byKey = Object.fromEntries(r.headlines.map((h) => [h.key, h]));
    // last week: 0 of 3 covered, 4 at high or above, 5 overdue
    expect(byKey.coverage).toMatchObject({ value: 1 / 3, previous: 0 });
    expect(byKey.coverage?.change).toBeCloseTo(1 / 3, 6);
    expect(byKey.openAtOrAboveThreshold).toMatchObject({ value: 2, previous: 4, change: -2 });
    expect(byKey.overdue).toMatchObject({ value: 2, previous: 5, change: -3 });
    expect(r.trend).toHaveLength(12);
    expect(r.trend[0]?.weekStart).toBe('2026-01-12');
    expect(r.trend.at(-1)).toEqual({ weekStart: '2026-03-30', coverage: 1 / 3, openRisk: 2 });
    expect(r.trend.at(-2)).toEqual({ weekStart: '2026-03-23', coverage: 0, openRisk: 4 });
    expect(r.trend.find((p) => p.weekStart === '2026-02-23')).toEqual({
      weekStart: '2026-02-23',
      coverage: 1 / 3,
      openRisk: 2,
    });
    expect(r.trend.find((p) => p.weekStart === '2026-03-02')).toEqual({
      weekStart: '2026-03-02',
      coverage: null,
      openRisk: null,
    });
    expect(r.breakdown.map((b) => b.kind)).toEqual(['environment', 'group']);
    expect(r.breakdown[0]?.rows.map((x) => [x.name, x.metrics.hosts.covered, x.metrics.hosts.total])).toEqual(
      [
        ['production', 1, 2],
        ['staging', 0, 1],
      ],
    );
    const fleet = await coverageReport(deps());
    expect(fleet.breakdown.find((b) => b.kind === 'team')?.rows.map((x) => x.name)).toEqual([
      'payments',
      'web',
      '(no team)',
    ]);
  });

  it('keeps the trend when findings are cleaned up', async () => {
    const db = getDb();
    const saved = await saveWeeklySnapshots(deps(), 'payments');
    expect(saved).toEqual({ teamWeek: '2026-03-30', fleetWeek: '2026-03-30' });
    await db.prisma.finding.deleteMany({});
    const later = { repos, policy, now: new Date('2026-04-06T12:00:00Z') };
    const r = await coverageReport(later, 'payments');
    expect(r.metrics.open.total).toBe(0);
    // no finding is left, but a week on the inventories (collected d(1)) are older than 7 days and
    // the tracker was not synced again: nothing is covered that was not assessed
    expect(r.metrics.hosts.coverage).toBe(0);
    expect(r.metrics.hosts.states).toMatchObject({ covered: 0, inventoryStale: 2, neverScanned: 1 });
    expect(r.notice).toMatch(/^advisory data is 7 days old/);
    // Last week's numbers come from the snapshot, not from the (deleted) findings.
    expect(r.trend.at(-2)).toEqual({ weekStart: '2026-03-30', coverage: 1 / 3, openRisk: 2 });
    expect(r.headlines.find((h) => h.key === 'overdue')).toMatchObject({ value: 0, previous: 2, change: -2 });
    const fleet = await repos.metrics.snapshots('fleet', '2026-03-30', '2026-03-30');
    expect(fleet[0]?.metrics.hosts).toMatchObject({ total: 5, covered: 2 });
  });
});
