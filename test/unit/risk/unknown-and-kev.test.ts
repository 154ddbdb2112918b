/**
 * Unknown is not zero: a CVE without a CVSS score counts with the distribution's own severity or,
 * without one, the policy's prior, and every label says so. A KEV finding never scores below the
 * high band, and a KEV finding first seen after CISA's due date gets KEV SLA days from first seen.
 * Real data where it exists: NVD, EPSS and KEV of CVE-2023-4911 and CVE-2024-6387.
 */
import { describe, expect, it } from 'vitest';
import type { CveEnrichment, RiskAssessment } from '../../../src/core/model.js';
import { DEFAULT_RISK_POLICY, RiskPolicy } from '../../../src/core/risk/policy.js';
import { assessRisk, severityBand, topFactors, type RiskInput } from '../../../src/core/risk/score.js';
import { epssScores, kevEntries, nvdCvss } from './fixtures.js';

const policy = DEFAULT_RISK_POLICY;
const NOW = new Date('2026-12-07T12:00:00Z');
const kev = kevEntries();
const epss = epssScores();
const tier3: RiskInput['host'] = { criticality: 3, internetFacing: false, compensatingControls: [] };

/** CVE-2023-4911 as the default feeds know it: KEV and EPSS, no CVSS (NVD not synced). */
const looneyNoCvss: CveEnrichment = {
  cve: 'CVE-2023-4911',
  cvss: [],
  epss: epss.get('CVE-2023-4911')!,
  kev: kev.get('CVE-2023-4911')!,
};

function cvssFactor(a: RiskAssessment) {
  const f = a.factors.find((x) => x.name === 'cvss');
  if (!f) throw new Error('no cvss factor');
  return f;
}

function assess(partial: Partial<RiskInput>, p: RiskPolicy = policy): RiskAssessment {
  return assessRisk({ cves: [], host: tier3, fixAvailable: true, firstSeen: NOW, ...partial }, p, NOW);
}

describe('no CVSS: the next honest signal, named in the label', () => {
  it.each([
    [
      'Debian tracker urgency',
      { urgency: 'high', ecosystem: 'Debian:12' },
      8,
      'distribution',
      'CVSS unknown for CVE-2099-0001; Debian urgency high',
      'CVSS unknown, Debian urgency high +28',
    ],
    [
      'a tracker urgency with its "**" mark',
      { urgency: 'medium**', ecosystem: 'Debian:11' },
      5.5,
      'distribution',
      'CVSS unknown for CVE-2099-0001; Debian urgency medium',
      'CVSS unknown, Debian urgency medium +19',
    ],
    [
      'Ubuntu priority (OSV severity of type Ubuntu)',
      { advisorySeverity: [{ type: 'Ubuntu', score: 'medium' }], ecosystem: 'Ubuntu:22.04:LTS' },
      5.5,
      'distribution',
      'CVSS unknown for CVE-2099-0001; Ubuntu priority medium',
      'CVSS unknown, Ubuntu priority medium +19',
    ],
    [
      'Red Hat severity',
      { urgency: 'important', ecosystem: 'Red Hat:enterprise_linux:9::baseos' },
      8,
      'distribution',
      'CVSS unknown for CVE-2099-0001; Red Hat severity important',
      'CVSS unknown, Red Hat severity important +28',
    ],
    [
      'Debian "unimportant": the distribution says there is no real risk',
      { urgency: 'unimportant', ecosystem: 'Debian:12' },
      0,
      'distribution',
      'CVSS unknown for CVE-2099-0001; Debian urgency unimportant',
      '',
    ],
    [
      'an urgency that says nothing ("not yet assigned"): the prior',
      { urgency: 'not yet assigned', ecosystem: 'Debian:12' },
      7,
      'prior',
      'CVSS unknown for CVE-2099-0001; no distribution severity; prior 7.0',
      'CVSS unknown (prior 7.0) +25',
    ],
    [
      'nothing at all: the prior',
      {},
      7,
      'prior',
      'CVSS unknown for CVE-2099-0001; no distribution severity; prior 7.0',
      'CVSS unknown (prior 7.0) +25',
    ],
  ] as const)('%s', (_name, extra, value, basis, label, short) => {
    const a = assess({ cves: [{ cve: 'CVE-2099-0001', cvss: [] }], ...extra });
    const f = cvssFactor(a);
    expect(f).toMatchObject({ value, basis, label, contribution: Math.round(value * 35) / 10 });
    if (short !== '') expect(topFactors(a, 1)).toBe(short);
  });

  it('a known CVSS score wins over the distribution severity', () => {
    const nvd = nvdCvss('CVE-2023-4911.nvd.json');
    const a = assess({
      cves: [{ cve: 'CVE-2023-4911', cvss: nvd.scores }],
      urgency: 'low',
      ecosystem: 'Debian:12',
    });
    expect(cvssFactor(a)).toMatchObject({ value: 7.8, basis: 'cvss', cve: 'CVE-2023-4911' });
  });

  it('of several CVEs, an unknown one counts with the stand-in when that is the worst', () => {
    const low: CveEnrichment = {
      cve: 'CVE-2099-0002',
      cvss: [
        {
          version: '3.1',
          vector: 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N',
          baseScore: 1.8,
          severity: 'LOW',
          source: 'nvd@nist.gov',
          primary: true,
        },
      ],
    };
    const a = assess({ cves: [low, { cve: 'CVE-2099-0003', cvss: [] }] });
    expect(cvssFactor(a)).toMatchObject({ value: 7, basis: 'prior', cve: 'CVE-2099-0003' });
    const b = assess({ cves: [low, { cve: 'CVE-2099-0003', cvss: [] }], urgency: 'unimportant' });
    expect(cvssFactor(b)).toMatchObject({ value: 1.8, basis: 'cvss', cve: 'CVE-2099-0002' });
  });

  it('the prior comes from the policy', () => {
    const a = assess({ cves: [{ cve: 'CVE-2099-0001', cvss: [] }] }, RiskPolicy.parse({ unknownCvss: 9 }));
    expect(cvssFactor(a)).toMatchObject({ value: 9, contribution: 31.5 });
  });

  it('regreSSHion without NVD on a tier-3 host is at least medium, not low', () => {
    const a = assess({
      cves: [{ cve: 'CVE-2024-6387', cvss: [], epss: epss.get('CVE-2024-6387')! }],
      ecosystem: 'Debian:12',
      urgency: 'not yet assigned',
    });
    // prior 24.5 + EPSS 0.63 12.5 + tier 3 3.3
    expect(a.score).toBe(40.3);
    expect(a.severity).toBe('medium');
    expect(a.dueReason).toBe('SLA medium: 60 days from first seen 2026-12-07');
  });
});

describe('KEV floor: a KEV finding is never below the high band', () => {
  it('raises a KEV finding that would score below the high band, and says so', () => {
    // unimportant urgency (0) + EPSS 0.81 16.1 + KEV 25 + tier 4 0 - controls 10 - no fix 5 = 26.1
    const a = assess({
      cves: [looneyNoCvss],
      urgency: 'unimportant',
      host: { criticality: 4, internetFacing: false, compensatingControls: ['segmentation'] },
      fixAvailable: false,
    });
    const floor = a.factors.find((f) => f.name === 'kev-floor');
    expect(floor).toMatchObject({ contribution: 23.9, cve: 'CVE-2023-4911', value: 50 });
    expect(a.score).toBe(50);
    expect(a.severity).toBe('high');
    const sum = a.factors.reduce((n, f) => n + Math.round(f.contribution * 10), 0) / 10;
    expect(a.rawScore).toBe(sum);
    expect(topFactors(a, 2)).toBe('KEV +25, KEV floor +24');
  });

  it('adds nothing when the KEV finding is already high or above', () => {
    const a = assess({ cves: [looneyNoCvss] });
    // prior 24.5 + EPSS 16.1 + KEV 25 + tier 3 3.3 = 68.9
    expect(a.score).toBe(68.9);
    expect(a.factors.some((f) => f.name === 'kev-floor')).toBe(false);
  });

  it('follows the policy bands, and leaves findings not in KEV alone', () => {
    const p = RiskPolicy.parse({ bands: { critical: 90, high: 80, medium: 30 } });
    const a = assess({ cves: [looneyNoCvss], urgency: 'low' }, p);
    expect(a.score).toBe(80);
    expect(severityBand(a.score, p)).toBe('high');
    const notKev = assess({ cves: [{ ...looneyNoCvss, kev: undefined }], urgency: 'low' }, p);
    expect(notKev.score).toBeLessThan(80);
    expect(notKev.factors.some((f) => f.name === 'kev-floor')).toBe(false);
  });
});

describe('KEV due dates people can act on', () => {
  it.each([
    // first seen, due, reason
    ['2023-11-25T10:00:00Z', '2023-12-12', 'KEV due date 2023-12-12 (CVE-2023-4911)'],
    ['2023-12-12T23:59:59Z', '2023-12-12', 'KEV due date 2023-12-12 (CVE-2023-4911)'],
    [
      '2023-12-13T00:00:00Z',
      '2023-12-20',
      'KEV due 2023-12-12 (CVE-2023-4911) passed before first seen 2023-12-13; KEV SLA 7 days from first seen',
    ],
    [
      '2026-12-07T09:30:00+02:00',
      '2026-12-14',
      'KEV due 2023-12-12 (CVE-2023-4911) passed before first seen 2026-12-07; KEV SLA 7 days from first seen',
    ],
  ])('first seen %s: due %s', (firstSeen, due, reason) => {
    const a = assess({ cves: [looneyNoCvss], firstSeen: new Date(firstSeen) });
    expect(a.dueDate.toISOString().slice(0, 10)).toBe(due);
    expect(a.dueReason).toBe(reason);
    expect(a.kevDueDate?.toISOString()).toBe('2023-12-12T00:00:00.000Z');
  });

  it('KEV SLA days come from the policy', () => {
    const a = assess({ cves: [looneyNoCvss] }, RiskPolicy.parse({ kevSlaDays: 3 }));
    expect(a.dueDate.toISOString().slice(0, 10)).toBe('2026-12-10');
  });

  it('a finding not in KEV has no KEV due date', () => {
    const a = assess({ cves: [{ ...looneyNoCvss, kev: undefined }] });
    expect(a.kevDueDate).toBeUndefined();
    expect(a.dueReason).toMatch(/^SLA medium: 60 days from first seen 2026-12-07$/);
  });
});
