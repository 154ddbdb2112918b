/**
 * Coverage and digest views filled to their limits (long names, many rows), for renderer tests.
 */
import { cveRef, type CoverageView, type DigestView } from '../../src/bot/views/index.js';
import type { FeedAge } from '../../src/core/freshness/feeds.js';
import type { HostState } from '../../src/core/metrics/coverage.js';
import {
  assembleMetrics,
  emptyCounts,
  headlines,
  type ScopeMetrics,
  type TrendPoint,
} from '../../src/core/metrics/definitions.js';

const asOf = new Date('2026-03-30T07:00:00Z');

export function sampleMetrics(name = 'payments', scale = 1): ScopeMetrics {
  const raw = emptyCounts();
  raw.hosts = 120 * scale;
  raw.exposedHosts = 30 * scale;
  raw.hostStates = {
    covered: 80 * scale,
    atRisk: 30 * scale,
    neverScanned: 2 * scale,
    inventoryStale: 4 * scale,
    noAdvisories: 3 * scale,
    unreachable: 1 * scale,
  };
  raw.rebootRequired = 4 * scale;
  raw.inventoried = 118 * scale;
  raw.openByBand = { critical: 3, high: 40, medium: 200, low: 90, none: 12 };
  raw.openByAge = { lt7: 100, d7to30: 120, d30to90: 80, ge90: 45 };
  raw.openOverdue = 17;
  raw.openDueThisWeek = 9;
  raw.kevOpen = 5;
  raw.kevOverdue = 2;
  raw.slaDue = { critical: 4, high: 20, medium: 30, low: 3, none: 0 };
  raw.slaMet = { critical: 3, high: 15, medium: 29, low: 3, none: 0 };
  raw.remediation.all = { fixed: 80, meanDays: 12.345, p90Days: 31.9 };
  raw.remediation.critical = { fixed: 5, meanDays: 3.2, p90Days: 6.1 };
  raw.remediation.high = { fixed: 30, meanDays: 9.4, p90Days: 20 };
  raw.hostRunsFinished = 50;
  raw.hostRunsSucceeded = 48;
  raw.acceptancesActive = 6;
  raw.acceptancesExpiringSoon = 2;
  raw.fixedThisWeek = 21;
  return assembleMetrics(raw, {
    scope: { kind: 'team', name },
    asOf,
    threshold: 'high',
    expiringSoonDays: 14,
  });
}

export function sampleTrend(weeks = 12): TrendPoint[] {
  return Array.from({ length: weeks }, (_, i) => ({
    weekStart: new Date(Date.UTC(2026, 0, 5 + 7 * i)).toISOString().slice(0, 10),
    coverage: i === 3 ? null : 0.5 + i * 0.03,
    openRisk: i === 3 ? null : 200 - i * 9,
  }));
}

/** Feeds as a long-running installation has them: fresh advisories, one stale enrichment feed. */
export function sampleFeeds(): FeedAge[] {
  const feed = (source: string, ageDays: number, stale: boolean, bundled = false): FeedAge => ({
    source,
    asOf: new Date(asOf.getTime() - ageDays * 86_400_000).toISOString(),
    ageDays,
    stale,
    bundled,
    basis: bundled ? 'bundled' : 'fetched',
    checkedAt: null,
    maxAgeDays: 2,
  });
  return [
    feed('debian-tracker', 0, false),
    feed('osv:Debian', 1, false),
    feed('kev', 3, false),
    feed('nvd', 469, true, true),
  ];
}

/** `n` hosts that are not covered, with long names, in every state but covered. */
export function sampleNotCovered(n = 60): { name: string; state: HostState; detail: string }[] {
  const states: HostState[] = ['neverScanned', 'inventoryStale', 'noAdvisories', 'unreachable', 'atRisk'];
  return Array.from({ length: n }, (_, i) => ({
    name: `host-${'h'.repeat(40)}-${i}`,
    state: states[i % states.length] ?? 'atRisk',
    detail: `why ${'w'.repeat(100)}`,
  }));
}

export function sampleCoverageView(rows = 60): CoverageView {
  const m = sampleMetrics();
  const prev = sampleMetrics('payments', 2);
  const long = (i: number) => `team-${'x'.repeat(50)}-${i}`;
  return {
    type: 'coverage',
    team: 'payments',
    metrics: m,
    headlines: headlines(m, prev),
    trend: sampleTrend(),
    breakdown: [
      {
        kind: 'environment',
        rows: Array.from({ length: rows }, (_, i) => ({ name: long(i), metrics: m })),
      },
      { kind: 'group', rows: Array.from({ length: rows }, (_, i) => ({ name: long(i), metrics: m })) },
    ],
    weekStart: '2026-03-30',
    asOf,
    feeds: sampleFeeds(),
    notice: 'advisory data is 469 days old (bundled snapshot: nvd); run `patchbot feeds sync`',
    notCovered: sampleNotCovered(rows),
  };
}

export function sampleDigestView(lines = 10): DigestView {
  const m = sampleMetrics();
  const risk = (i: number) => ({
    package: `lib${'y'.repeat(60)}${i}`,
    advisoryId: `DSA-${5500 + i}-1`,
    advisoryUrl: `https://security-tracker.debian.org/tracker/DSA-${5500 + i}-1`,
    cves: Array.from({ length: 30 }, (_, j) => cveRef(`CVE-2024-${10000 + i * 100 + j}`, 'Debian:12')),
    fixedVersion: `1.2.${i}-1+deb12u${i}`,
    score: 90 - i,
    band: 'critical' as const,
    kev: i % 2 === 0,
    due: new Date(asOf.getTime() + (i - 3) * 86_400_000),
    hosts: 10 + i,
  });
  return {
    type: 'digest',
    team: 'payments',
    weekStart: '2026-03-30',
    verdict: {
      kind: 'action-required',
      headline: 'Action required',
      reasons: ['2 KEV findings are past the CISA due date'],
    },
    headlines: headlines(m, sampleMetrics('payments', 2)),
    metrics: m,
    topRisks: Array.from({ length: 5 }, (_, i) => risk(i)),
    slaBreaches: { total: 17, lines: Array.from({ length: lines }, (_, i) => risk(i)) },
    dueThisWeek: { total: 9, lines: Array.from({ length: Math.min(lines, 9) }, (_, i) => risk(i)) },
    patched: {
      total: 21,
      hosts: 7,
      lines: Array.from({ length: lines }, (_, i) => ({
        package: `pkg-${'z'.repeat(80)}-${i}`,
        findings: 3,
        hosts: 2,
      })),
    },
    expiringAcceptances: {
      total: 2,
      withinDays: 14,
      lines: [
        {
          owner: 'alice',
          reason: 'r'.repeat(2000),
          expires: new Date('2026-04-05T00:00:00Z'),
          package: 'openssl',
          advisoryId: 'DSA-5764-1',
          cves: [cveRef('CVE-2024-5535')],
          findings: 4,
        },
      ],
    },
    trend: sampleTrend(),
    chart: { filename: 'chart.png', title: 'Team payments', altText: 'alt', width: 960, height: 480 },
    coverageCommand: '/patch coverage payments',
    asOf,
    feeds: sampleFeeds(),
    notice: 'advisory data is 469 days old (bundled snapshot: nvd); run `patchbot feeds sync`',
    notCovered: sampleNotCovered(lines * 6),
  };
}
