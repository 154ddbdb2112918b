/**
 * Grouping scored matches into what people act on: per host and package the version to install
 * (the highest fix in the ecosystem's order; advisories with no fix yet apart), and per fix across
 * hosts. The version order is checked against dpkg's and rpm's own test vectors
 * (test/fixtures/versions, see its README for provenance).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  groupByFix,
  groupByHostPackage,
  groupBySourceFix,
  type HostFinding,
  type ScoredMatch,
} from '../../../src/core/findings/group.js';
import type { RiskAssessment, Severity, SsvcDecision } from '../../../src/core/model.js';

const day = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

function risk(
  score: number,
  options: { severity?: Severity; ssvc?: SsvcDecision; due?: string; reason?: string } = {},
): RiskAssessment {
  const due = options.due ?? '2026-12-31';
  return {
    score,
    severity:
      options.severity ?? (score >= 90 ? 'critical' : score >= 70 ? 'high' : score >= 40 ? 'medium' : 'low'),
    factors: [{ name: 'cvss', label: `score ${score}`, value: score, contribution: score }],
    ssvc: options.ssvc ?? 'Track',
    dueDate: day(due),
    dueReason: options.reason ?? `SLA until ${due}`,
  };
}

let seq = 0;
function match(m: Partial<ScoredMatch> = {}): ScoredMatch {
  seq++;
  return {
    host: 'web-1',
    package: 'libc6',
    sourcePackage: 'glibc',
    arch: 'amd64',
    ecosystem: 'Debian:12',
    installedVersion: '2.36-9+deb12u1',
    fixedVersion: '2.36-9+deb12u3',
    advisoryId: `DEBIAN-CVE-2024-${1000 + seq}`,
    cves: [`CVE-2024-${1000 + seq}`],
    kev: false,
    epss: null,
    risk: risk(50),
    ...m,
  };
}

/** Version pairs an upstream test suite orders strictly: [lower, higher]. */
function orderedPairs(file: string): [string, string][] {
  const path = fileURLToPath(new URL(`../../fixtures/versions/${file}`, import.meta.url));
  const pairs: [string, string][] = [];
  for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
    const [a, op, b, expected] = line.split('\t');
    if (expected !== 'true' && expected !== '-1' && expected !== '1') continue;
    if (op === '<') pairs.push([a, b]);
    else if (op === '>') pairs.push([b, a]);
  }
  return pairs;
}

describe('groupByHostPackage: the version to install is the highest fix', () => {
  const cases: { name: string; ecosystem: string; fixes: string[]; want: string }[] = [
    {
      name: 'a later Debian stable update',
      ecosystem: 'Debian:12',
      fixes: ['2.36-9+deb12u3', '2.36-9+deb12u7'],
      want: '2.36-9+deb12u7',
    },
    {
      name: 'stable update numbers compare as numbers',
      ecosystem: 'Debian:12',
      fixes: ['2.36-9+deb12u10', '2.36-9+deb12u9'],
      want: '2.36-9+deb12u10',
    },
    { name: 'an epoch beats no epoch', ecosystem: 'Debian:12', fixes: ['1:1.0-1', '3.0-1'], want: '1:1.0-1' },
    {
      name: 'a tilde sorts before the release',
      ecosystem: 'Debian:12',
      fixes: ['3.0.11-1~deb12u2', '3.0.11-1'],
      want: '3.0.11-1',
    },
    {
      name: 'three advisories',
      ecosystem: 'Debian:12',
      fixes: ['2.36-9+deb12u4', '2.36-9+deb12u7', '2.36-9+deb12u3'],
      want: '2.36-9+deb12u7',
    },
    {
      name: 'rpm order in Rocky Linux',
      ecosystem: 'Rocky Linux:9',
      fixes: ['1.10-1.el9', '1.9-3.el9'],
      want: '1.10-1.el9',
    },
    { name: 'semver order in npm', ecosystem: 'npm', fixes: ['1.9.0', '1.10.0'], want: '1.10.0' },
    { name: 'PEP 440 order in PyPI', ecosystem: 'PyPI', fixes: ['2.0.0', '2.0.0rc1'], want: '2.0.0' },
  ];
  for (const c of cases) {
    it(`${c.name}, in either order`, () => {
      for (const fixes of [c.fixes, [...c.fixes].reverse()]) {
        const groups = groupByHostPackage(
          fixes.map((fixedVersion) => match({ ecosystem: c.ecosystem, fixedVersion })),
        );
        expect(groups).toHaveLength(1);
        expect(groups[0].fixedVersion).toBe(c.want);
        expect(groups[0].advisories).toHaveLength(fixes.length);
      }
    });
  }

  const oracles: { ecosystem: string; file: string }[] = [
    { ecosystem: 'Debian:12', file: 'dpkg_Dpkg_Version_t.tsv' },
    { ecosystem: 'Rocky Linux:9', file: 'rpm_rpmvercmp_at.tsv' },
  ];
  for (const { ecosystem, file } of oracles) {
    it(`agrees with the upstream order of ${file}`, () => {
      const pairs = orderedPairs(file);
      expect(pairs.length).toBeGreaterThan(10);
      for (const [lower, higher] of pairs) {
        for (const fixes of [
          [lower, higher],
          [higher, lower],
        ]) {
          const [group] = groupByHostPackage(fixes.map((fixedVersion) => match({ ecosystem, fixedVersion })));
          expect(group.fixedVersion, `${lower} < ${higher}`).toBe(higher);
        }
      }
    });
  }

  it('keeps the first fix when the versions cannot be compared', () => {
    const cases = [
      { ecosystem: 'Debian:12', fixes: ['not a version!', '2.36-9+deb12u7'] },
      { ecosystem: 'NoSuchEcosystem', fixes: ['1.0', '2.0'] },
    ];
    for (const c of cases) {
      const [group] = groupByHostPackage(
        c.fixes.map((fixedVersion) => match({ ecosystem: c.ecosystem, fixedVersion })),
      );
      expect(group.fixedVersion).toBe(c.fixes[0]);
    }
  });
});

describe('groupByHostPackage: groups and what they carry', () => {
  it('keeps advisories with no fix yet as their own group', () => {
    const fixed = [match({ fixedVersion: '2.36-9+deb12u3' }), match({ fixedVersion: '2.36-9+deb12u7' })];
    const unfixed = [match({ fixedVersion: null }), match({ fixedVersion: null })];
    const groups = groupByHostPackage([unfixed[0], ...fixed, unfixed[1]]);
    expect(groups).toHaveLength(2);
    const noFix = groups.find((g) => g.fixedVersion === null)!;
    const fix = groups.find((g) => g.fixedVersion !== null)!;
    expect(fix.fixedVersion).toBe('2.36-9+deb12u7');
    expect(noFix.advisories).toEqual(unfixed.map((m) => m.advisoryId).sort());
    expect(fix.advisories).toEqual(fixed.map((m) => m.advisoryId).sort());
  });

  it('separates hosts, packages and architectures', () => {
    const cases: { name: string; other: Partial<ScoredMatch> }[] = [
      { name: 'another host', other: { host: 'web-2' } },
      { name: 'another package', other: { package: 'libc-bin' } },
      { name: 'another architecture', other: { arch: 'i386' } },
    ];
    for (const c of cases) {
      const groups = groupByHostPackage([match(), match(c.other)]);
      expect(groups, c.name).toHaveLength(2);
    }
  });

  it('carries the worst risk, the highest SSVC decision, the earliest due date and the union of CVEs', () => {
    const a = match({
      cves: ['CVE-2024-2', 'CVE-2024-1'],
      kev: false,
      epss: 0.2,
      risk: risk(40, { ssvc: 'Attend', due: '2026-12-01', reason: 'SLA medium' }),
    });
    const b = match({
      cves: ['CVE-2024-1', 'CVE-2024-3'],
      kev: true,
      epss: null,
      risk: risk(80, { ssvc: 'Track*', due: '2026-12-20', reason: 'SLA high' }),
    });
    const c = match({
      cves: ['CVE-2024-4'],
      epss: 0.7,
      risk: risk(60, { ssvc: 'Track', due: '2026-11-15', reason: 'KEV due date' }),
    });
    for (const order of [
      [a, b, c],
      [c, b, a],
      [b, a, c],
    ]) {
      const [g] = groupByHostPackage(order);
      expect(g.risk).toEqual({ score: 80, severity: 'high', factors: b.risk.factors });
      expect(g.ssvc).toBe('Attend');
      expect(g.dueDate).toEqual(day('2026-11-15'));
      expect(g.dueReason).toBe('KEV due date');
      expect(g.cves).toEqual(['CVE-2024-1', 'CVE-2024-2', 'CVE-2024-3', 'CVE-2024-4']);
      expect(g.advisories).toEqual([a, b, c].map((m) => m.advisoryId).sort());
      expect(g.kev).toBe(true);
      expect(g.epss).toBe(0.7);
    }
  });

  it('lists the highest risk first, then the higher severity, the earlier due date, the package, the host', () => {
    const input = [
      match({ host: 'b', package: 'zlib1g', risk: risk(30) }),
      match({ host: 'a', package: 'zlib1g', risk: risk(30) }),
      match({ host: 'a', package: 'openssl', risk: risk(30) }),
      match({ host: 'a', package: 'curl', risk: risk(30, { due: '2026-12-01' }) }),
      match({ host: 'a', package: 'bash', risk: risk(30, { severity: 'medium' }) }),
      match({ host: 'a', package: 'libc6', risk: risk(95) }),
    ];
    const order = groupByHostPackage(input).map((g) => `${g.host}/${g.package}`);
    expect(order).toEqual(['a/libc6', 'a/bash', 'a/curl', 'a/openssl', 'a/zlib1g', 'b/zlib1g']);
  });
});

describe('groupByFix: one fix across hosts', () => {
  function finding(f: Partial<HostFinding>): HostFinding {
    const [g] = groupByHostPackage([match()]);
    return { ...g, ...f };
  }

  it('merges hosts that need the same version of the same package', () => {
    const input = [
      finding({
        host: 'web-2',
        installedVersion: '2.36-9+deb12u1',
        advisories: ['A-2'],
        cves: ['CVE-2'],
        epss: 0.1,
        risk: { score: 40, severity: 'medium', factors: [] },
        ssvc: 'Attend',
        dueDate: day('2026-12-10'),
        dueReason: 'later',
      }),
      finding({
        host: 'web-1',
        installedVersion: '2.36-9+deb12u2',
        advisories: ['A-1', 'A-2'],
        cves: ['CVE-1', 'CVE-2'],
        kev: true,
        epss: 0.5,
        risk: { score: 75, severity: 'high', factors: [] },
        ssvc: 'Track',
        dueDate: day('2026-12-01'),
        dueReason: 'earlier',
      }),
      // the same host twice (two architectures) counts once
      finding({
        host: 'web-1',
        arch: 'i386',
        installedVersion: '2.36-9+deb12u2',
        advisories: ['A-1'],
        cves: ['CVE-1'],
      }),
    ];
    const snapshot = structuredClone(input);
    const fixes = groupByFix(input);
    expect(fixes).toHaveLength(1);
    const [fix] = fixes;
    expect(fix.hosts).toEqual(['web-1', 'web-2']);
    expect(fix.installedVersions).toEqual(['2.36-9+deb12u1', '2.36-9+deb12u2']);
    expect(fix.advisories).toEqual(['A-1', 'A-2']);
    expect(fix.cves).toEqual(['CVE-1', 'CVE-2']);
    expect(fix.risk.score).toBe(75);
    expect(fix.ssvc).toBe('Attend');
    expect(fix.dueDate).toEqual(day('2026-12-01'));
    expect(fix.dueReason).toBe('earlier');
    expect(fix.kev).toBe(true);
    expect(fix.epss).toBe(0.5);
    expect(input).toEqual(snapshot);
  });

  it('keeps different versions, packages and "no fix yet" apart, highest risk first', () => {
    const fixes = groupByFix([
      finding({
        package: 'libc6',
        fixedVersion: '2.36-9+deb12u3',
        risk: { score: 30, severity: 'low', factors: [] },
      }),
      finding({
        package: 'libc6',
        fixedVersion: '2.36-9+deb12u7',
        risk: { score: 90, severity: 'critical', factors: [] },
      }),
      finding({ package: 'libc6', fixedVersion: null, risk: { score: 50, severity: 'medium', factors: [] } }),
      finding({
        host: 'web-2',
        package: 'libc6',
        fixedVersion: null,
        risk: { score: 20, severity: 'low', factors: [] },
      }),
      finding({
        package: 'libssl3',
        fixedVersion: '2.36-9+deb12u7',
        risk: { score: 60, severity: 'medium', factors: [] },
      }),
    ]);
    expect(fixes.map((f) => `${f.package} ${f.fixedVersion ?? 'no fix'} ${f.hosts.join(',')}`)).toEqual([
      'libc6 2.36-9+deb12u7 web-1',
      'libssl3 2.36-9+deb12u7 web-1',
      'libc6 no fix web-1,web-2',
      'libc6 2.36-9+deb12u3 web-1',
    ]);
  });

  it('matches grouping per host first: every host finding lands in exactly one fix', () => {
    const matches = ['web-1', 'web-2', 'web-3'].flatMap((host, h) => [
      match({ host, fixedVersion: `2.36-9+deb12u${3 + h}` }),
      match({ host, fixedVersion: '2.36-9+deb12u7' }),
      match({ host, package: 'libssl3', sourcePackage: 'openssl', fixedVersion: null }),
    ]);
    const findings = groupByHostPackage(matches);
    const fixes = groupByFix(findings);
    expect(fixes.reduce((n, f) => n + f.hosts.length, 0)).toBe(findings.length);
    const libc = fixes.find((f) => f.package === 'libc6')!;
    expect(libc.fixedVersion).toBe('2.36-9+deb12u7');
    expect(libc.hosts).toEqual(['web-1', 'web-2', 'web-3']);
    expect(libc.advisories).toHaveLength(6);
  });
});

describe('groupBySourceFix: one row per host x source package x version to install', () => {
  it('every binary of a source package with the same fix is one fix, counting CVEs and KEV CVEs', () => {
    const binaries = ['libc6', 'libc-bin', 'locales', 'libc6-dev'];
    const matches = binaries.flatMap((pkg) => [
      match({
        package: pkg,
        advisoryId: 'DEBIAN-CVE-2023-4911',
        cves: ['CVE-2023-4911'],
        kev: true,
        kevCves: ['CVE-2023-4911'],
        fixedVersion: '2.36-9+deb12u3',
        risk: risk(72, { due: '2026-12-14' }),
      }),
      ...['CVE-2024-33599', 'CVE-2024-33600'].map((cve) =>
        match({
          package: pkg,
          advisoryId: `DEBIAN-${cve}`,
          cves: [cve],
          fixedVersion: '2.36-9+deb12u7',
          risk: risk(60),
        }),
      ),
    ]);
    const fixes = groupBySourceFix(matches);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({
      host: 'web-1',
      sourcePackage: 'glibc',
      installedVersions: ['2.36-9+deb12u1'],
      fixedVersion: '2.36-9+deb12u7',
      packages: [...binaries].sort(),
      cves: ['CVE-2023-4911', 'CVE-2024-33599', 'CVE-2024-33600'],
      kevCves: ['CVE-2023-4911'],
      kev: true,
    });
    expect(fixes[0]?.risk.score).toBe(72);
    expect(fixes[0]?.dueDate).toEqual(day('2026-12-14'));
    // the per-binary grouping of the same matches has one row per binary
    expect(groupByHostPackage(matches)).toHaveLength(binaries.length);
  });

  it('separates hosts, source packages, and advisories with no fix yet; keeps the earliest KEV due date', () => {
    const kevDue = (iso: string) => ({ ...risk(80, { due: '2026-12-20' }), kevDueDate: day(iso) });
    const fixes = groupBySourceFix([
      match({ host: 'web-1', risk: kevDue('2024-01-10') }),
      match({ host: 'web-1', package: 'libc-bin', risk: kevDue('2023-12-12') }),
      match({ host: 'web-2' }),
      match({
        host: 'web-1',
        package: 'openssh-server',
        sourcePackage: 'openssh',
        fixedVersion: '1:9.2p1-2+deb12u3',
      }),
      match({ host: 'web-1', fixedVersion: null, risk: risk(10) }),
    ]);
    expect(fixes.map((f) => [f.host, f.sourcePackage, f.fixedVersion])).toEqual([
      // highest risk first, then earliest due date, then the package name
      ['web-1', 'glibc', '2.36-9+deb12u3'],
      ['web-2', 'glibc', '2.36-9+deb12u3'],
      ['web-1', 'openssh', '1:9.2p1-2+deb12u3'],
      ['web-1', 'glibc', null],
    ]);
    expect(fixes[0]?.kevDueDate).toEqual(day('2023-12-12'));
    expect(fixes[0]?.packages).toEqual(['libc-bin', 'libc6']);
  });

  it('without kevCves, a KEV match counts its CVEs as KEV', () => {
    const [f] = groupBySourceFix([match({ kev: true, cves: ['CVE-2023-4911'] })]);
    expect(f?.kevCves).toEqual(['CVE-2023-4911']);
  });
});
