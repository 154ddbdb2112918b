import { describe, expect, it } from 'vitest';
import type { Advisory } from '../../../src/core/model.js';
import { parseTrackerJson } from '../../../src/feeds/debian-tracker/parse.js';
import { readFixture, readJsonFixture } from './helpers.js';

const AS_OF = new Date('2025-08-25T00:00:00Z');

/** (CVE, source package, fixed version) from the debsecan feed built from the same DSAs. */
function debsecanFixes(): Set<string> {
  const text = readFixture('debian-tracker/debsecan-bookworm.txt');
  const [header, vulns, fixes] = text.split('\n\n');
  expect(header?.split('\n')[0]).toBe('VERSION 1');
  const cves = (header ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[0]);
  const out = new Set<string>();
  for (const line of (vulns ?? '').split('\n').filter((l) => l !== '')) {
    const [pkg, index, , fixed] = line.split(',');
    out.add(`${cves[Number(index)]} ${pkg} ${fixed}`);
  }
  expect(fixes).toBeDefined();
  return out;
}

function fixedOf(a: Advisory, ecosystem: string): string[] {
  return a.affected
    .filter((e) => e.ecosystem === ecosystem && e.status === 'affected')
    .map((e) => {
      const fixed = e.ranges[0]?.events.find((ev) => 'fixed' in ev);
      return `${a.cves[0]} ${e.package} ${fixed !== undefined && 'fixed' in fixed ? fixed.fixed : '-'}`;
    });
}

describe('parseTrackerJson on the bookworm DSA sample', () => {
  const { advisories, rejections, entries } = parseTrackerJson(
    readJsonFixture('debian-tracker/bookworm-dsa-sample.tracker.json'),
    'sample.json',
    AS_OF,
  );

  it('reads every entry without rejections', () => {
    expect(rejections).toEqual([]);
    expect(entries).toBe(10);
    expect(advisories).toHaveLength(10);
  });

  it('gives exactly the fixes debsecan reads from the same DSAs', () => {
    const ours = new Set(advisories.flatMap((a) => fixedOf(a, 'Debian:12')));
    expect(ours).toEqual(debsecanFixes());
  });

  it('marks fixed_version "0" as not affected (xz-utils, CVE-2024-3094)', () => {
    const xz = advisories.find((a) => a.id === 'DEBIAN-CVE-2024-3094');
    expect(xz?.affected).toEqual([
      {
        ecosystem: 'Debian:12',
        package: 'xz-utils',
        nameKind: 'source',
        status: 'not-affected',
        ranges: [],
        versions: [],
        urgency: 'not yet assigned',
      },
    ]);
  });

  it('keeps the DSA id as an alias and uses stable ids', () => {
    const glibc = advisories.find((a) => a.id === 'DEBIAN-CVE-2023-4911');
    expect(glibc?.aliases).toEqual(['CVE-2023-4911', 'DSA-5514-1']);
    expect(glibc?.cves).toEqual(['CVE-2023-4911']);
    expect(glibc?.modified).toEqual(AS_OF);
    expect(glibc?.source).toBe('debian-tracker');
  });
});

describe('parseTrackerJson on real tracker excerpts', () => {
  it('reads vunnel_debian.json: every release codename maps, urgency kept, empty releases accepted', () => {
    const { advisories, rejections } = parseTrackerJson(
      readJsonFixture('debian-tracker/vunnel_debian.json'),
      'v.json',
      AS_OF,
    );
    expect(rejections.map((r) => r.reason)).toEqual([]);
    const chromium = advisories.find((a) => a.id === 'DEBIAN-CVE-2022-0456');
    const byEco = Object.fromEntries(chromium?.affected.map((e) => [e.ecosystem, e]) ?? []);
    expect(byEco['Debian:10']?.status).toBe('unfixed');
    expect(byEco['Debian:10']?.urgency).toBe('end-of-life');
    expect(byEco['Debian:11']?.ranges).toEqual([
      { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '98.0.4758.80-1~deb11u1' }] },
    ]);
    expect(byEco['Debian:sid']?.status).toBe('affected');
    expect(advisories.find((a) => a.id === 'DEBIAN-CVE-2022-0358')?.affected).toEqual([]);
    expect(
      advisories
        .find((a) => a.id === 'DEBIAN-CVE-2007-2383')
        ?.affected.every((e) => e.status === 'not-affected' && e.urgency === 'unimportant'),
    ).toBe(true);
  });

  it('reads the osv.dev mock: open entries are unfixed with an open range', () => {
    const { advisories, rejections } = parseTrackerJson(
      readJsonFixture('debian-tracker/osvdev_debian_security_tracker_mock.json'),
      'm.json',
      AS_OF,
    );
    expect(rejections).toEqual([]);
    const e = advisories
      .find((a) => a.id === 'DEBIAN-CVE-2016-1585')
      ?.affected.find((x) => x.ecosystem === 'Debian:12');
    expect(e).toMatchObject({
      status: 'unfixed',
      urgency: 'unimportant',
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
    });
    expect(advisories.find((a) => a.id === 'DEBIAN-CVE-2016-1585')?.references).toContainEqual({
      type: 'REPORT',
      url: 'https://bugs.debian.org/929990',
    });
  });
});

describe('tracker release semantics', () => {
  const one = (release: Record<string, unknown>) =>
    parseTrackerJson(
      { bash: { 'CVE-2026-2000': { description: 'd', releases: { trixie: release } } } },
      't.json',
      AS_OF,
    );
  it.each([
    [{ status: 'resolved', fixed_version: '0' }, 'not-affected'],
    [{ status: 'resolved', fixed_version: '5.2-1' }, 'affected'],
    [{ status: 'open', urgency: 'low' }, 'unfixed'],
    [{ status: 'open', fixed_version: '', nodsa: 'Minor issue', nodsa_reason: '' }, 'no-dsa'],
    [{ status: 'open', nodsa: 'Minor issue', nodsa_reason: 'postponed' }, 'postponed'],
    [{ status: 'open', nodsa: 'Not built', nodsa_reason: 'ignored' }, 'ignored'],
    [{ status: 'open', fixed_version: '<no-dsa>' }, 'no-dsa'],
    [{ status: 'open', fixed_version: '<unfixed>' }, 'unfixed'],
    [{ status: 'resolved', fixed_version: '<not-affected>' }, 'not-affected'],
    [{ status: 'undetermined' }, undefined],
  ])('%j -> %s', (release, status) => {
    const { advisories, rejections } = one(release);
    expect(rejections).toEqual([]);
    expect(advisories[0]?.affected[0]?.status).toBe(status);
    if (status !== undefined) expect(advisories[0]?.affected[0]?.ecosystem).toBe('Debian:13');
  });

  it.each([
    [{ status: 'resolved', fixed_version: 42 }, /fixed_version/],
    [{ status: 'resolved', fixed_version: '1.0 && reboot' }, /not a version string/],
    [{ status: 'resolved', fixed_version: '1'.repeat(10_000) }, /fixed_version: Too big/],
    [{ status: 'maybe' }, /unknown status "maybe"|unknown status maybe/],
  ])('rejects %j naming the CVE, package and release', (release, reason) => {
    const { advisories, rejections } = one(release);
    expect(advisories[0]?.affected).toEqual([]);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ source: 't.json', recordId: 'CVE-2026-2000 (bash)' });
    expect(rejections[0]?.reason).toMatch(/^release trixie: /);
    expect(rejections[0]?.reason).toMatch(reason);
  });

  it('rejects bad packages and issues but keeps the good ones', () => {
    const { advisories, rejections } = parseTrackerJson(
      {
        'Bad Name!': { 'CVE-2024-1': { releases: {} } },
        notanobject: 'x',
        zlib: {
          'CVE-2023-45853': {
            description: 'ok',
            releases: { bookworm: { status: 'open' }, potato: { status: 'open' } },
          },
          'not-a-cve': { releases: {} },
          'CVE-2023-0001': { description: 1, releases: {} },
        },
      },
      't.json',
      AS_OF,
    );
    expect(advisories.map((a) => a.id)).toEqual(['DEBIAN-CVE-2023-45853']);
    expect(advisories[0]?.affected.map((e) => e.ecosystem)).toEqual(['Debian:12']);
    expect(rejections.map((r) => `${r.recordId}: ${r.reason.split(':')[0]}`)).toEqual([
      'Bad Name!: not a Debian source package name, package skipped',
      'notanobject: expected an object of issues, package skipped',
      'CVE-2023-45853 (zlib): release potato',
      'not-a-cve (zlib): issue id is neither a CVE id nor a TEMP- id',
      'CVE-2023-0001 (zlib): invalid tracker entry',
    ]);
  });

  it('rejects a document that is not an object', () => {
    expect(parseTrackerJson([], 't.json', AS_OF).rejections[0]?.reason).toMatch(/must be an object/);
  });
});
