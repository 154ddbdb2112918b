import { describe, expect, it } from 'vitest';

import type {
  CveEnrichment,
  CvssScore,
  HostContext,
  KevEntry,
  RiskAssessment,
} from '../../../src/core/model.js';
import { DEFAULT_RISK_POLICY, RiskPolicy } from '../../../src/core/risk/policy.js';
import {
  assessRisk,
  createRiskAssessor,
  escalationState,
  isEscalation,
  severityBand,
  topFactors,
  type RiskInput,
} from '../../../src/core/risk/score.js';
import { epssScores, fixtureText, kevEntries, nvdCvss } from './fixtures.js';

const policy = DEFAULT_RISK_POLICY;
const NOW = new Date('2025-08-20T12:00:00Z');
const FACTOR_NAMES = ['cvss', 'epss', 'kev', 'ransomware', 'criticality', 'exposure', 'controls', 'fix'];

// Real data: NVD CVSS, FIRST EPSS (2025-08-15) and CISA KEV for CVE-2023-4911 (glibc "Looney Tunables").
const nvd4911 = nvdCvss('CVE-2023-4911.nvd.json');
const kev = kevEntries();
const epss = epssScores();
const glibc: CveEnrichment = {
  cve: 'CVE-2023-4911',
  cvss: nvd4911.scores,
  epss: epss.get('CVE-2023-4911')!,
  kev: kev.get('CVE-2023-4911')!,
};

type Host = RiskInput['host'];
const tier1Internet: Host = { criticality: 1, internetFacing: true, compensatingControls: [] };
const tier4Internal: Host = { criticality: 4, internetFacing: false, compensatingControls: [] };

function input(partial: Partial<RiskInput> = {}): RiskInput {
  return { cves: [glibc], host: tier1Internet, fixAvailable: true, firstSeen: NOW, ...partial };
}

function factor(a: RiskAssessment, name: string) {
  const f = a.factors.find((x) => x.name === name);
  if (!f) throw new Error(`no factor ${name}`);
  return f;
}

function cvss(vector: string, source: string, primary?: boolean): CvssScore {
  // baseScore/severity as a feed would store them; risk recomputes from the vector.
  const version = vector.startsWith('CVSS:') ? (vector.slice(5, 8) as CvssScore['version']) : '2.0';
  const s: CvssScore = { version, vector, baseScore: 0, severity: 'NONE', source };
  if (primary !== undefined) s.primary = primary;
  return s;
}

function kevEntry(dueDate: string, knownRansomware = false): KevEntry {
  return {
    dateAdded: '2024-01-02',
    dueDate,
    knownRansomware,
    vendor: 'v',
    product: 'p',
    name: 'n',
    requiredAction: 'apply updates',
  };
}

/**
 * The documented formula (docs/risk.md), restated independently of the implementation. A null
 * CVSS (nothing known) is the policy's prior; the KEV floor is not included.
 */
function expectedContributions(i: RiskInput, cvssBase: number | null, epssScore: number | null) {
  const w = policy.weights;
  const r = (x: number) => Math.round(x * 10) / 10;
  cvssBase ??= policy.unknownCvss;
  const kevListed = i.cves.some((c) => c.kev);
  const ransomware = i.cves.some((c) => c.kev?.knownRansomware);
  return {
    cvss: r(w.cvss * ((cvssBase ?? 0) / 10)),
    epss: r(w.epss * (epssScore ?? 0)),
    kev: kevListed ? w.kev : 0,
    ransomware: ransomware ? w.ransomware : 0,
    criticality: r((w.criticality * (4 - i.host.criticality)) / 3),
    exposure: i.host.internetFacing ? w.exposure : 0,
    controls: i.host.compensatingControls.length > 0 ? -w.compensatingControls : 0,
    fix: i.fixAvailable ? 0 : -w.noFix,
  };
}

describe('CVE-2023-4911 (real NVD, EPSS, KEV data)', () => {
  it('on an internet-facing tier-1 host: critical, Act, KEV due date', () => {
    // first seen before CISA's due date (2023-12-12): that date is the deadline
    const i = input({ firstSeen: new Date('2023-11-25T08:00:00Z') });
    const a = assessRisk(i, policy, NOW);
    const expected = expectedContributions(i, 7.8, 0.80735);
    expect(Object.fromEntries(a.factors.map((f) => [f.name, f.contribution]))).toEqual(expected);
    expect(a.score).toBeCloseTo(
      Object.values(expected).reduce((s, x) => s + x, 0),
      9,
    );
    expect(a.severity).toBe('critical');
    expect(a.ssvc).toBe('Act');
    expect(a.ssvcInputs).toEqual({
      exploitation: 'active',
      automatable: 'no',
      technicalImpact: 'total',
      missionWellbeing: 'high',
    });
    expect(a.ssvcCve).toBe('CVE-2023-4911');
    expect(a.dueDate.toISOString()).toBe('2023-12-12T00:00:00.000Z');
    expect(a.dueReason).toBe('KEV due date 2023-12-12 (CVE-2023-4911)');
    expect(factor(a, 'cvss').label).toContain('CVSS 7.8 (v3.1, secalert@redhat.com, CVE-2023-4911)');
    expect(factor(a, 'epss').label).toBe('EPSS 0.81 (99th percentile, CVE-2023-4911)');
    expect(topFactors(a, 3)).toBe('CVSS 7.8 +27, KEV +25, EPSS 0.81 +16');
  });

  it('on an internal tier-4 host: lower score, Track, same KEV due date', () => {
    const i = input({ host: tier4Internal, firstSeen: new Date('2023-12-12T23:00:00Z') });
    const a = assessRisk(i, policy, NOW);
    const expected = expectedContributions(i, 7.8, 0.80735);
    expect(a.score).toBeCloseTo(
      Object.values(expected).reduce((s, x) => s + x, 0),
      9,
    );
    expect(a.severity).toBe(severityBand(a.score, policy));
    expect(a.score).toBeLessThan(assessRisk(input(), policy, NOW).score);
    expect(a.ssvc).toBe('Track');
    expect(a.ssvcInputs?.missionWellbeing).toBe('low');
    expect(a.dueDate.toISOString()).toBe('2023-12-12T00:00:00.000Z');
  });
});

describe('GHSA-c2qf-rxjj-qqgw (real OSV record, advisory vector only)', () => {
  it('on an internet-facing tier-2 host behind a WAF', () => {
    const osv = JSON.parse(fixtureText('GHSA-c2qf-rxjj-qqgw.json')) as {
      aliases: string[];
      severity: { type: string; score: string }[];
    };
    const i = input({
      cves: osv.aliases.map((cve) => ({ cve, cvss: [] })),
      advisorySeverity: osv.severity,
      host: { criticality: 2, internetFacing: true, compensatingControls: ['waf'] },
    });
    const a = assessRisk(i, policy, NOW);
    const expected = expectedContributions(i, 5.3, null);
    expect(Object.fromEntries(a.factors.map((f) => [f.name, f.contribution]))).toEqual(expected);
    expect(factor(a, 'cvss').label).toBe('CVSS 5.3 (v3.1, advisory, CVE-2022-25883)');
    expect(a.ssvcInputs).toEqual({
      exploitation: 'none',
      automatable: 'yes',
      technicalImpact: 'partial',
      missionWellbeing: 'high',
    });
    expect(a.ssvc).toBe('Attend');
  });
});

describe('factors and contributions add up', () => {
  const cases: [string, RiskInput][] = [
    ['KEV on tier 1, exposed', input()],
    ['KEV on tier 4, internal', input({ host: tier4Internal })],
    ['no enrichment at all', input({ cves: [{ cve: 'CVE-2000-0001', cvss: [] }], host: tier4Internal })],
    [
      'controls and no fix',
      input({
        host: { criticality: 2, internetFacing: false, compensatingControls: ['waf', 'segmentation'] },
        fixAvailable: false,
      }),
    ],
    [
      'tier 3 with a v4.0 score only',
      input({
        cves: [
          {
            cve: 'CVE-2024-0002',
            cvss: [
              cvss('CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'cna@example.org'),
            ],
            epss: { score: 0.0111, percentile: 0.77238, date: '2025-08-15' },
          },
        ],
        host: { criticality: 3, internetFacing: true, compensatingControls: [] },
      }),
    ],
  ];

  it.each(cases)('%s', (_name, i) => {
    const a = assessRisk(i, policy, NOW);
    expect(a.factors.map((f) => f.name)).toEqual(FACTOR_NAMES);
    const sum = a.factors.reduce((s, f) => s + Math.round(f.contribution * 10), 0) / 10;
    expect(a.rawScore).toBe(sum);
    expect(a.score).toBe(Math.min(100, Math.max(0, sum)));
    for (const f of a.factors) expect(Math.round(f.contribution * 10) / 10).toBe(f.contribution);
    expect(a.severity).toBe(severityBand(a.score, policy));
  });

  it('clamps at 100 and at 0 and keeps the unclamped sum', () => {
    const worst = input({
      cves: [
        {
          cve: 'CVE-2021-44228',
          cvss: [cvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 'nvd@nist.gov', true)],
          epss: { score: 1, percentile: 1, date: '2025-08-15' },
          kev: kev.get('CVE-2021-44228')!,
        },
      ],
    });
    const hi = assessRisk(worst, policy, NOW);
    expect(hi.rawScore).toBe(105);
    expect(hi.score).toBe(100);
    expect(hi.severity).toBe('critical');

    const least = input({
      cves: [],
      urgency: 'unimportant',
      host: { criticality: 4, internetFacing: false, compensatingControls: ['air gap'] },
      fixAvailable: false,
    });
    const lo = assessRisk(least, policy, NOW);
    expect(lo.rawScore).toBe(-15);
    expect(lo.score).toBe(0);
    expect(lo.severity).toBe('low');
  });
});

describe('SSVC: KEV raises the decision', () => {
  const notKev: CveEnrichment = { ...glibc };
  delete notKev.kev;
  it.each([
    // [host, without KEV (EPSS 0.81 -> public PoC), with KEV (active)]
    [tier1Internet, 'Attend', 'Act'],
    [{ criticality: 2, internetFacing: true, compensatingControls: [] }, 'Attend', 'Act'],
    [{ criticality: 2, internetFacing: false, compensatingControls: [] }, 'Track*', 'Attend'],
    [{ criticality: 3, internetFacing: true, compensatingControls: [] }, 'Track*', 'Attend'],
    [tier4Internal, 'Track', 'Track'],
  ] as const)('%j: %s -> %s', (host, without, withKev) => {
    expect(assessRisk(input({ cves: [notKev], host }), policy, NOW).ssvc).toBe(without);
    expect(assessRisk(input({ cves: [glibc], host }), policy, NOW).ssvc).toBe(withKev);
  });

  it('a PoC reference makes exploitation "public poc" without EPSS', () => {
    const quiet: CveEnrichment = { cve: 'CVE-2023-4911', cvss: nvd4911.scores };
    expect(assessRisk(input({ cves: [quiet] }), policy, NOW).ssvcInputs?.exploitation).toBe('none');
    const withPoc = input({
      cves: [quiet],
      references: [{ type: 'WEB', url: 'https://www.exploit-db.com/exploits/51608' }],
    });
    expect(assessRisk(withPoc, policy, NOW).ssvcInputs?.exploitation).toBe('public poc');
  });

  it('the EPSS PoC threshold comes from the policy', () => {
    const strict = RiskPolicy.parse({ pocEpssThreshold: 0.9 });
    expect(assessRisk(input({ cves: [notKev] }), strict, NOW).ssvcInputs?.exploitation).toBe('none');
  });
});

describe('host facts', () => {
  it.each([
    [['waf'], true],
    [['waf', 'segmentation'], true],
    [[], false],
    [[' '], false],
  ])('compensating controls %j lower the score: %s', (controls, lowers) => {
    const base = assessRisk(input(), policy, NOW);
    const a = assessRisk(input({ host: { ...tier1Internet, compensatingControls: controls } }), policy, NOW);
    expect(base.score - a.score).toBeCloseTo(lowers ? policy.weights.compensatingControls : 0, 9);
    expect(factor(a, 'controls').value).toBe(lowers);
  });

  it('no fix lowers the score by the noFix weight', () => {
    const withFix = assessRisk(input({ host: tier4Internal }), policy, NOW);
    const noFix = assessRisk(input({ host: tier4Internal, fixAvailable: false }), policy, NOW);
    expect(withFix.score - noFix.score).toBeCloseTo(policy.weights.noFix, 9);
    expect(factor(noFix, 'fix')).toMatchObject({ value: false, contribution: -policy.weights.noFix });
  });

  it.each([
    [1, 10],
    [2, 6.7],
    [3, 3.3],
    [4, 0],
  ] as const)('criticality tier %d adds %d', (criticality, points) => {
    const a = assessRisk(input({ host: { ...tier4Internal, criticality } }), policy, NOW);
    expect(factor(a, 'criticality').contribution).toBe(points);
  });

  it('weights come from the policy', () => {
    const heavy = RiskPolicy.parse({ weights: { exposure: 30, kev: 0 } });
    const a = assessRisk(input(), heavy, NOW);
    expect(factor(a, 'exposure').contribution).toBe(30);
    expect(factor(a, 'kev').contribution).toBe(0);
  });
});

describe('several CVEs: the worst per factor, and which CVE', () => {
  const critical: CveEnrichment = {
    cve: 'CVE-2024-0001',
    cvss: [cvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'nvd@nist.gov', true)],
    epss: { score: 0.02, percentile: 0.8, date: '2025-08-15' },
  };
  const exploited: CveEnrichment = {
    cve: 'CVE-2024-0002',
    cvss: [cvss('CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N', 'nvd@nist.gov', true)],
    epss: { score: 0.9, percentile: 0.99, date: '2025-08-15' },
    kev: kevEntry('2025-02-01', true),
  };
  const alsoExploited: CveEnrichment = {
    cve: 'CVE-2024-0003',
    cvss: [],
    kev: kevEntry('2025-01-15'),
  };

  it('takes each factor from its worst CVE', () => {
    const a = assessRisk(
      input({ cves: [critical, exploited, alsoExploited], firstSeen: new Date('2024-12-01T00:00:00Z') }),
      policy,
      NOW,
    );
    expect(factor(a, 'cvss')).toMatchObject({ value: 9.8, cve: 'CVE-2024-0001' });
    expect(factor(a, 'epss')).toMatchObject({ value: 0.9, cve: 'CVE-2024-0002' });
    expect(factor(a, 'kev')).toMatchObject({ value: true, cve: 'CVE-2024-0003' });
    expect(factor(a, 'ransomware')).toMatchObject({ value: true, cve: 'CVE-2024-0002' });
    expect(a.dueDate.toISOString()).toBe('2025-01-15T00:00:00.000Z');
    expect(a.dueReason).toBe('KEV due date 2025-01-15 (CVE-2024-0003)');
  });

  it('decides SSVC per CVE and keeps the worst decision', () => {
    // CVE-2024-0001: none/yes/total/high -> Attend; CVE-2024-0002: active/no/partial/high -> Attend;
    // with KEV added to the automatable total one: active/yes/total -> Act.
    const a = assessRisk(input({ cves: [critical, exploited] }), policy, NOW);
    expect(a.ssvc).toBe('Attend');
    const b = assessRisk(
      input({ cves: [exploited, { ...critical, kev: kevEntry('2025-03-01') }] }),
      policy,
      NOW,
    );
    expect(b.ssvc).toBe('Act');
    expect(b.ssvcCve).toBe('CVE-2024-0001');
  });

  it('ignores rejected CVEs', () => {
    const a = assessRisk(input({ cves: [{ ...exploited, rejected: true }, critical] }), policy, NOW);
    expect(factor(a, 'kev').value).toBe(false);
    expect(factor(a, 'epss')).toMatchObject({ value: 0.02, cve: 'CVE-2024-0001' });
  });
});

describe('which CVSS score is used', () => {
  const one = (scores: CvssScore[], extra: Partial<RiskInput> = {}) =>
    factor(
      assessRisk(input({ cves: [{ cve: 'CVE-2024-1000', cvss: scores }], ...extra }), policy, NOW),
      'cvss',
    );
  const v31Nvd = cvss('CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N', 'nvd@nist.gov', true); // 6.5
  const v31Cna = cvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'cna@example.org', false); // 9.8
  const v40Nvd = cvss(
    'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N',
    'nvd@nist.gov',
    true,
  ); // 8.7
  const v40Cna = cvss('CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'cna@example.org'); // 7.3
  const v2 = cvss('AV:N/AC:L/Au:N/C:C/I:C/A:C', 'nvd@nist.gov', true); // 10.0
  const advisoryV3 = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L' }]; // 5.3

  it.each([
    ['NVD primary v3.1 over a CNA v3.1, v4.0 and v2', [v2, v40Nvd, v31Cna, v31Nvd], {}, 6.5, 'nvd@nist.gov'],
    ['a CNA v3.1 over v4.0 and v2', [v2, v40Nvd, v31Cna], {}, 9.8, 'cna@example.org'],
    ['NVD v4.0 over a CNA v4.0', [v40Cna, v40Nvd], {}, 8.7, 'v4.0, nvd@nist.gov'],
    ['a CNA v4.0 over v2', [v2, v40Cna], {}, 7.3, 'cna@example.org'],
    ['the advisory vector over v2', [v2], { advisorySeverity: advisoryV3 }, 5.3, 'advisory'],
    ['v4.0 over the advisory vector', [v40Cna], { advisorySeverity: advisoryV3 }, 7.3, 'v4.0'],
    ['v2 when nothing else', [v2], {}, 10, 'v2.0'],
    [
      'the next score when the preferred vector is invalid',
      [cvss('CVSS:3.1/AV:N/AC:L', 'nvd@nist.gov', true), v40Cna],
      {},
      7.3,
      'v4.0',
    ],
    ['distribution urgency when no vector exists', [], { urgency: 'high**' }, 8, 'urgency high'],
    ['the prior when nothing is known', [], {}, 7, 'no distribution severity; prior 7.0'],
  ] as const)('%s', (_name, scores, extra, value, labelPart) => {
    const f = one([...scores], extra);
    expect(f.value).toBe(value);
    expect(f.label).toContain(labelPart);
  });

  it('uses the advisory vectors when the advisory has no CVE', () => {
    const a = assessRisk(
      input({
        cves: [],
        advisorySeverity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L' }],
      }),
      policy,
      NOW,
    );
    expect(factor(a, 'cvss').value).toBe(5.3);
    expect(a.ssvcInputs).toMatchObject({ automatable: 'yes', technicalImpact: 'partial' });
    expect(a.ssvcCve).toBeUndefined();
  });
});

describe('due dates', () => {
  const noKev = (cvssVector: string): CveEnrichment => ({
    cve: 'CVE-2024-2000',
    cvss: [cvss(cvssVector, 'nvd@nist.gov', true)],
  });

  it.each([
    // first seen (any offset) -> the UTC day it falls on + SLA days of the band
    [
      '2025-03-30T00:30:00+02:00',
      tier1Internet,
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      'high',
      '2025-04-28',
    ],
    [
      '2025-03-30T23:59:59Z',
      tier1Internet,
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      'high',
      '2025-04-29',
    ],
    [
      '2024-02-28T10:00:00Z',
      tier4Internal,
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L',
      'low',
      '2024-08-26',
    ],
    [
      '2025-10-26T01:30:00Z',
      tier4Internal,
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L',
      'low',
      '2026-04-24',
    ],
  ] as const)('first seen %s (%j, %s) -> %s band, due %s', (firstSeen, host, vector, band, due) => {
    const a = assessRisk(input({ cves: [noKev(vector)], host, firstSeen: new Date(firstSeen) }), policy, NOW);
    expect(a.severity).toBe(band);
    const start = new Date(firstSeen);
    const startDay = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    expect(a.dueDate.getTime()).toBe(startDay + policy.slaDays[band] * 86_400_000);
    expect(a.dueDate.toISOString()).toBe(`${due}T00:00:00.000Z`);
    expect(a.dueReason).toBe(
      `SLA ${band}: ${policy.slaDays[band]} days from first seen ${new Date(startDay).toISOString().slice(0, 10)}`,
    );
  });

  it('does not depend on the local time zone', () => {
    const saved = process.env['TZ'];
    const i = input({
      cves: [noKev('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')],
      firstSeen: new Date('2025-03-30T00:30:00Z'),
    });
    try {
      const results = ['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Pacific/Kiritimati'].map((tz) => {
        process.env['TZ'] = tz;
        return assessRisk(i, policy, NOW).dueDate.toISOString();
      });
      expect(new Set(results).size).toBe(1);
    } finally {
      if (saved === undefined) delete process.env['TZ'];
      else process.env['TZ'] = saved;
    }
  });

  it('starts the SLA clock at `now` when first seen is unknown', () => {
    const i = input({ cves: [noKev('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L')], host: tier4Internal });
    delete i.firstSeen;
    const a = assessRisk(i, policy, NOW);
    expect(a.dueDate.toISOString()).toBe(
      `${new Date(Date.UTC(2025, 7, 20 + policy.slaDays.low)).toISOString()}`,
    );
  });

  it('the KEV due date wins over the SLA', () => {
    const a = assessRisk(
      input({
        cves: [{ ...noKev('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L'), kev: kevEntry('2026-01-31') }],
      }),
      policy,
      NOW,
    );
    expect(a.dueDate.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(a.dueReason).toBe('KEV due date 2026-01-31 (CVE-2024-2000)');
  });

  it('falls back to the SLA when a KEV due date is not a date', () => {
    const a = assessRisk(
      input({
        cves: [{ ...noKev('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L'), kev: kevEntry('2026-02-30') }],
      }),
      policy,
      NOW,
    );
    expect(factor(a, 'kev').value).toBe(true);
    expect(a.dueReason).toMatch(/^SLA /);
  });
});

describe('topFactors', () => {
  it.each([
    [1, 'CVSS 7.8 +27'],
    [4, 'CVSS 7.8 +27, KEV +25, EPSS 0.81 +16, tier 1 +10'],
    [99, 'CVSS 7.8 +27, KEV +25, EPSS 0.81 +16, tier 1 +10, internet-facing +10'],
    [0, ''],
  ])('n = %d: %s', (n, expected) => {
    expect(topFactors(assessRisk(input(), policy, NOW), n)).toBe(expected);
  });

  it('shows reductions with a minus sign', () => {
    const a = assessRisk(
      input({
        host: { criticality: 4, internetFacing: false, compensatingControls: ['waf'] },
        fixAvailable: false,
      }),
      policy,
      NOW,
    );
    expect(topFactors(a, 8)).toBe(
      'CVSS 7.8 +27, KEV +25, EPSS 0.81 +16, compensating controls -10, no fix -5',
    );
  });
});

describe('isEscalation', () => {
  it.each([
    [{ score: 40, kev: false, epss: 0.1 }, { score: 40, kev: true, epss: 0.1 }, true, 'became KEV'],
    [
      { score: 40, kev: false, epss: 0.1 },
      { score: 55, kev: false, epss: 0.1 },
      true,
      'score rose 40 -> 55 (+15',
    ],
    [{ score: 40, kev: false, epss: 0.1 }, { score: 54.9, kev: false, epss: 0.1 }, false, 'no new KEV'],
    [
      { score: 40, kev: false, epss: 0.49 },
      { score: 41, kev: false, epss: 0.5 },
      true,
      'EPSS crossed 0.5 (0.49 -> 0.50)',
    ],
    [
      { score: 40, kev: false, epss: null },
      { score: 41, kev: false, epss: 0.7 },
      true,
      'EPSS crossed 0.5 (unknown -> 0.70)',
    ],
    [{ score: 40, kev: false, epss: 0.6 }, { score: 41, kev: false, epss: 0.9 }, false, 'no new KEV'],
    [{ score: 80, kev: true, epss: 0.9 }, { score: 60, kev: true, epss: 0.9 }, false, 'no new KEV'],
    [
      { score: 20, kev: false, epss: 0.01 },
      { score: 90, kev: true, epss: 0.8 },
      true,
      'became KEV; score rose 20 -> 90 (+70, threshold 15); EPSS crossed 0.5 (0.01 -> 0.80)',
    ],
  ])('%j -> %j: %s', (previous, current, escalated, reason) => {
    const r = isEscalation(previous, current, policy);
    expect(r.escalated).toBe(escalated);
    expect(r.reason).toContain(reason);
  });

  it('reads the state from assessments', () => {
    const before = escalationState(
      assessRisk(input({ cves: [{ cve: 'CVE-2023-4911', cvss: nvd4911.scores }] }), policy, NOW),
    );
    const after = escalationState(assessRisk(input(), policy, NOW));
    expect(before).toMatchObject({ kev: false, epss: null });
    expect(after).toMatchObject({ kev: true, epss: 0.80735 });
    expect(isEscalation(before, after, policy).reason).toContain('became KEV');
  });
});

describe('determinism and the assessor cache', () => {
  it('gives the same result with a shared assessor, a fresh one and repeated calls', () => {
    const assess = createRiskAssessor(policy, { maxCachedVectors: 2 });
    const inputs = [input(), input({ host: tier4Internal }), input({ fixAvailable: false })];
    for (let round = 0; round < 3; round++) {
      for (const i of inputs) expect(assess(i, NOW)).toEqual(assessRisk(i, policy, NOW));
    }
  });

  it('does not change its input', () => {
    const i = input();
    const copy = structuredClone(i);
    assessRisk(i, policy, NOW);
    expect(i).toEqual(copy);
  });

  it('takes a host context as it is', () => {
    const host: HostContext = {
      name: 'web-1',
      environment: 'production',
      criticality: 1,
      internetFacing: true,
      compensatingControls: [],
      labels: {},
    };
    expect(assessRisk(input({ host }), policy, NOW).score).toBe(assessRisk(input(), policy, NOW).score);
  });
});
