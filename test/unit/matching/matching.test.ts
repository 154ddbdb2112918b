import { describe, expect, it } from 'vitest';
import type { AffectedEntry, AffectedStatus, InstalledPackage, OsInfo } from '../../../src/core/model.js';
import {
  buildAdvisoryIndex,
  createMatcher,
  diffFindings,
  ecosystemsForOs,
  findingKeyOf,
  matchPackages,
  type Match,
} from '../../../src/core/matching/index.js';
import { advisory, debian12Packages, osvAdvisory, pkg, trackerAdvisories } from './fixtures.js';

const BOOKWORM = ['Debian:12'];
const trackerIndex = buildAdvisoryIndex(trackerAdvisories('bookworm', 'Debian:12'));

function summary(matches: Match[]): string[] {
  return matches.map((m) => `${m.package.name} ${m.cves.join(',')} -> ${m.fixedVersion ?? 'no fix'}`).sort();
}

describe('Debian security tracker fixes against bookworm packages (source names, source versions)', () => {
  it.each<[string, InstalledPackage, string[]]>([
    [
      'glibc before DSA-5514-1',
      pkg('libc6', '2.36-9+deb12u2', 'glibc'),
      [
        'libc6 CVE-2023-4911 -> 2.36-9+deb12u3',
        'libc6 CVE-2024-33599 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33600 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33601 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33602 -> 2.36-9+deb12u7',
      ],
    ],
    [
      'glibc at the DSA-5514-1 fix still has the DSA-5678-1 issues',
      pkg('libc6', '2.36-9+deb12u3', 'glibc'),
      [
        'libc6 CVE-2024-33599 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33600 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33601 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33602 -> 2.36-9+deb12u7',
      ],
    ],
    ['binNMU of the fixed source is fixed', pkg('libc6', '2.36-9+deb12u7+b1', 'glibc', '2.36-9+deb12u7'), []],
    [
      'binNMU is judged by its source version, not its binary version',
      pkg('libc6', '2.36-9+deb12u3+b1', 'glibc', '2.36-9+deb12u3'),
      [
        'libc6 CVE-2024-33599 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33600 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33601 -> 2.36-9+deb12u7',
        'libc6 CVE-2024-33602 -> 2.36-9+deb12u7',
      ],
    ],
    ['later stable update', pkg('libc-bin', '2.36-9+deb12u14', 'glibc'), []],
    [
      'openssh with an epoch before both DSAs',
      pkg('openssh-server', '1:9.2p1-2+deb12u1', 'openssh'),
      [
        'openssh-server CVE-2023-48795 -> 1:9.2p1-2+deb12u2',
        'openssh-server CVE-2023-51385 -> 1:9.2p1-2+deb12u2',
        'openssh-server CVE-2024-6387 -> 1:9.2p1-2+deb12u3',
      ],
    ],
    ['openssh at the regreSSHion fix', pkg('openssh-client', '1:9.2p1-2+deb12u3', 'openssh'), []],
    [
      'a version without the epoch is older than any with epoch 1',
      pkg('openssh-client', '9.2p1-2+deb12u9', 'openssh'),
      [
        'openssh-client CVE-2023-48795 -> 1:9.2p1-2+deb12u2',
        'openssh-client CVE-2023-51385 -> 1:9.2p1-2+deb12u2',
        'openssh-client CVE-2024-6387 -> 1:9.2p1-2+deb12u3',
      ],
    ],
    [
      'openssl: a ~deb12u1 upload is before the ~deb12u2 fix',
      pkg('libssl3', '3.0.11-1~deb12u1', 'openssl'),
      ['libssl3 CVE-2023-5363 -> 3.0.11-1~deb12u2'],
    ],
    [
      'openssl: the plain upload sorts after its ~deb12u2 backport',
      pkg('libssl3', '3.0.11-1', 'openssl'),
      [],
    ],
    ['xz-utils is <not-affected> in bookworm (fixed_version 0)', pkg('liblzma5', '5.4.1-1', 'xz-utils'), []],
    ['a binary named like a source package but built from another', pkg('glibc', '2.0-1', 'not-glibc'), []],
  ])('%s', (_name, installed, expected) => {
    const { matches, warnings } = matchPackages(trackerIndex, BOOKWORM, [installed]);
    expect(summary(matches)).toEqual(expected);
    expect(warnings).toEqual([]);
    for (const m of matches) {
      expect(m.package).toBe(installed);
      expect(m.ecosystem).toBe('Debian:12');
      expect(m.status).toBe('affected');
      expect(m.advisoryId).toBe(`DEBIAN-${m.cves[0]}`);
    }
  });

  it('finds nothing on the real, up-to-date Debian 12 status file', () => {
    const packages = debian12Packages();
    expect(packages.length).toBeGreaterThan(700);
    expect(matchPackages(trackerIndex, BOOKWORM, packages).matches).toEqual([]);
  });

  it('finds every binary of a source package set back to an old version', () => {
    const packages = debian12Packages().map((p) =>
      p.sourceName === 'glibc' ? { ...p, version: '2.36-9+deb12u2', sourceVersion: '2.36-9+deb12u2' } : p,
    );
    const glibcBinaries = packages.filter((p) => p.sourceName === 'glibc').map((p) => p.name);
    expect(glibcBinaries.length).toBeGreaterThan(3);
    const { matches } = matchPackages(trackerIndex, BOOKWORM, packages);
    expect(new Set(matches.map((m) => m.package.name))).toEqual(new Set(glibcBinaries));
    expect(matches.filter((m) => m.cves.includes('CVE-2023-4911'))).toHaveLength(glibcBinaries.length);
  });

  it('applies only to the host release', () => {
    expect(matchPackages(trackerIndex, ['Debian:11'], [pkg('libc6', '2.31-13', 'glibc')]).matches).toEqual(
      [],
    );
  });
});

describe('Ubuntu USN-6859-1 (per-release entries, binaries list)', () => {
  const index = buildAdvisoryIndex([osvAdvisory('USN-6859-1.json', 'source')]);
  const jammy = ecosystemsForOs({ id: 'ubuntu', family: 'ubuntu', versionId: '22.04' });

  it.each<[string, InstalledPackage, string | null | undefined]>([
    ['listed binary, old', pkg('openssh-server', '1:8.9p1-3ubuntu0.7', 'openssh'), '1:8.9p1-3ubuntu0.10'],
    ['listed binary, fixed', pkg('openssh-client', '1:8.9p1-3ubuntu0.10', 'openssh'), undefined],
    ['binary not in the binaries list', pkg('openssh-extra', '1:8.9p1-3ubuntu0.7', 'openssh'), undefined],
  ])('%s', (_name, installed, fix) => {
    const { matches } = matchPackages(index, jammy, [installed]);
    if (fix === undefined) expect(matches).toEqual([]);
    else {
      expect(matches).toHaveLength(1); // one match although the host has two ecosystem spellings
      expect(matches[0]).toMatchObject({
        advisoryId: 'USN-6859-1',
        fixedVersion: fix,
        ecosystem: 'Ubuntu:22.04:LTS',
      });
      expect(matches[0].cves).toContain('CVE-2024-6387');
    }
  });

  it('the 24.04 entry does not apply to 22.04', () => {
    const noble = pkg('openssh-server', '1:9.6p1-3ubuntu13', 'openssh');
    expect(matchPackages(index, jammy, [noble]).matches).toEqual([]);
    const nobleHost = ecosystemsForOs({ id: 'ubuntu', family: 'ubuntu', versionId: '24.04' });
    expect(matchPackages(index, nobleHost, [noble]).matches[0]?.fixedVersion).toBe('1:9.6p1-3ubuntu13.3');
  });
});

describe('npm GHSA-c2qf-rxjj-qqgw (binary names, several entries of one advisory)', () => {
  const index = buildAdvisoryIndex([osvAdvisory('GHSA-c2qf-rxjj-qqgw.json', 'binary')]);
  it.each([
    ['5.7.1', '5.7.2'],
    ['6.2.0', '6.3.1'],
    ['7.5.1', '7.5.2'],
    ['7.5.2', null],
    ['6.3.1', null],
  ])('semver %s -> %s', (version, fix) => {
    const { matches } = matchPackages(index, ['npm'], [pkg('semver', version)]);
    expect(matches.map((m) => m.fixedVersion)).toEqual(fix === null ? [] : [fix]);
  });
});

describe('statuses and withdrawn advisories', () => {
  const entry = (status: AffectedStatus, extra: Partial<AffectedEntry> = {}): AffectedEntry => ({
    ecosystem: 'Debian:12',
    package: 'curl',
    nameKind: 'source',
    status,
    ranges: [],
    versions: [],
    ...extra,
  });
  const curl = pkg('libcurl4', '7.88.1-10+deb12u5', 'curl');

  it.each<[AffectedStatus, boolean]>([
    ['unfixed', true],
    ['no-dsa', true],
    ['ignored', true],
    ['postponed', true],
    ['not-affected', false],
  ])('%s matches: %s (with no fixed version)', (status, matches) => {
    const index = buildAdvisoryIndex([advisory('TEST-1', ['CVE-2024-0001'], [entry(status)])]);
    const found = matchPackages(index, BOOKWORM, [curl]).matches;
    expect(found).toHaveLength(matches ? 1 : 0);
    if (matches) expect(found[0]).toMatchObject({ status, fixedVersion: null });
  });

  it('a withdrawn advisory never matches', () => {
    const ranges = [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: '9.0' }] }];
    const live = advisory('TEST-2', [], [entry('affected', { ranges })]);
    const withdrawn = advisory(
      'TEST-3',
      [],
      [entry('affected', { ranges })],
      new Date('2024-01-01T00:00:00Z'),
    );
    const index = buildAdvisoryIndex([live, withdrawn]);
    expect(matchPackages(index, BOOKWORM, [curl]).matches.map((m) => m.advisoryId)).toEqual(['TEST-2']);
  });
});

describe('bad data is skipped with a warning, the rest still matches', () => {
  it('an invalid fixed version in an advisory', () => {
    const bad = advisory(
      'TEST-BAD',
      [],
      [
        {
          ecosystem: 'Debian:12',
          package: 'glibc',
          nameKind: 'source',
          status: 'affected',
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-' }] }],
          versions: [],
        },
      ],
    );
    const index = buildAdvisoryIndex([bad, ...trackerAdvisories('bookworm', 'Debian:12')]);
    const { matches, warnings } = matchPackages(index, BOOKWORM, [pkg('libc6', '2.36-9+deb12u2', 'glibc')]);
    expect(matches).toHaveLength(5);
    expect(warnings).toEqual([
      {
        advisoryId: 'TEST-BAD',
        package: 'glibc',
        ecosystem: 'Debian:12',
        message: 'invalid deb version "2.36-": revision number is empty: entry skipped',
      },
    ]);
  });

  it('an unknown ecosystem', () => {
    const index = buildAdvisoryIndex([
      advisory(
        'TEST-MAVEN',
        [],
        [
          {
            ecosystem: 'Maven',
            package: 'x',
            nameKind: 'binary',
            status: 'affected',
            ranges: [],
            versions: ['1.0.0'],
          },
        ],
      ),
    ]);
    expect(index.warnings[0]).toMatchObject({ advisoryId: 'TEST-MAVEN', package: 'x', ecosystem: 'Maven' });
    expect(index.warnings[0].message).toMatch(/unknown ecosystem "Maven"/);
  });

  it('an invalid installed version is reported once, not thrown', () => {
    const matcher = createMatcher(trackerIndex);
    const broken = pkg('libc6', 'x:1', 'glibc');
    expect(matcher.match(BOOKWORM, [broken, pkg('libc6', '2.36-9+deb12u2', 'glibc')])).toHaveLength(5);
    expect(matcher.match(BOOKWORM, [broken])).toEqual([]);
    const warnings = matcher.warnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ package: 'glibc', ecosystem: 'Debian:12' });
    expect(warnings[0].message).toMatch(/epoch in version is empty/);
  });
});

describe('a matcher reused across hosts gives the same answers as fresh ones', () => {
  it('fleet of varied versions', () => {
    const matcher = createMatcher(trackerIndex);
    const versions = ['2.36-9', '2.36-9+deb12u3', '2.36-9+deb12u3+b1', '2.36-9+deb12u7', '2.36-9+deb12u2'];
    for (let round = 0; round < 2; round++) {
      for (const v of versions) {
        const host = [
          pkg('libc6', v, 'glibc', v.replace(/\+b\d+$/, '')),
          pkg('openssh-client', '1:9.2p1-2', 'openssh'),
        ];
        expect(summary(matcher.match(BOOKWORM, host))).toEqual(
          summary(matchPackages(trackerIndex, BOOKWORM, host).matches),
        );
      }
    }
  });
});

describe('diffFindings', () => {
  it('splits matches into appeared and still open, and lists resolved findings', () => {
    const before = matchPackages(trackerIndex, BOOKWORM, [
      pkg('libc6', '2.36-9+deb12u2', 'glibc'),
      pkg('openssh-server', '1:9.2p1-2+deb12u2', 'openssh'),
    ]).matches;
    // glibc upgraded to the DSA-5514-1 fix, openssh set back to before DSA-5586-1.
    const after = matchPackages(trackerIndex, BOOKWORM, [
      pkg('libc6', '2.36-9+deb12u3', 'glibc'),
      pkg('openssh-server', '1:9.2p1-2+deb12u1', 'openssh'),
    ]).matches;
    const diff = diffFindings(before.map(findingKeyOf), after);
    expect(diff.resolved).toEqual([{ package: 'libc6', arch: 'amd64', advisoryId: 'DEBIAN-CVE-2023-4911' }]);
    expect(diff.appeared.map((m) => m.advisoryId).sort()).toEqual([
      'DEBIAN-CVE-2023-48795',
      'DEBIAN-CVE-2023-51385',
    ]);
    expect(diff.stillOpen.map((m) => m.advisoryId).sort()).toEqual([
      'DEBIAN-CVE-2024-33599',
      'DEBIAN-CVE-2024-33600',
      'DEBIAN-CVE-2024-33601',
      'DEBIAN-CVE-2024-33602',
      'DEBIAN-CVE-2024-6387',
    ]);
  });

  it('keys by architecture too', () => {
    const [m] = matchPackages(trackerIndex, BOOKWORM, [pkg('libc6', '2.36-9+deb12u2', 'glibc')]).matches;
    const diff = diffFindings([{ ...findingKeyOf(m), arch: 'i386' }], [m]);
    expect(diff.appeared).toEqual([m]);
    expect(diff.resolved).toHaveLength(1);
  });
});

describe('ecosystemsForOs', () => {
  it.each<[OsInfo, string[]]>([
    [{ id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' }, ['Debian:12']],
    [{ id: 'debian', family: 'debian', versionId: '', codename: 'sid' }, ['Debian:sid']],
    [{ id: 'ubuntu', family: 'ubuntu', versionId: '22.04' }, ['Ubuntu:22.04:LTS', 'Ubuntu:22.04']],
    [{ id: 'ubuntu', family: 'ubuntu', versionId: '23.10' }, ['Ubuntu:23.10']],
    [{ id: 'alpine', family: 'alpine', versionId: '3.19.1' }, ['Alpine:v3.19']],
    [{ id: 'rocky', family: 'rocky', versionId: '9.4' }, ['Rocky Linux:9']],
    [{ id: 'almalinux', family: 'almalinux', versionId: '9.3' }, ['AlmaLinux:9']],
    [
      { id: 'opensuse-leap', family: 'suse', versionId: '15.5', prettyName: 'openSUSE Leap 15.5' },
      ['openSUSE:Leap 15.5'],
    ],
    [{ id: 'fedora', family: 'fedora', versionId: '40' }, []],
    [{ id: 'plan9', family: 'unknown', versionId: '4' }, []],
  ])('%o', (os, expected) => {
    expect(ecosystemsForOs(os)).toEqual(expected);
  });

  it('RHEL names Red Hat CPE product streams', () => {
    const ecos = ecosystemsForOs({ id: 'rhel', family: 'rhel', versionId: '9.4' });
    expect(ecos).toContain('Red Hat:enterprise_linux:9::baseos');
    expect(ecos).toContain('Red Hat:enterprise_linux:9::appstream');
  });
});
