import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOsvRecord } from '../../../src/feeds/osv/parse.js';
import { lookupEcosystem } from '../../../src/feeds/osv/ecosystems.js';
import { FIXTURES, listFixtures, readOsvFixture } from './helpers.js';

type Raw = Record<string, unknown> & {
  id: string;
  aliases?: string[];
  upstream?: string[];
  affected?: {
    package: { ecosystem: string; name: string };
    ranges?: { type: string; events: unknown[] }[];
    versions?: string[];
  }[];
};

const osvFiles = listFixtures('osv').map((f) => relative(FIXTURES, f));

describe('parseOsvRecord on every real OSV fixture', () => {
  it.each(osvFiles)('%s', (file) => {
    const raw = readOsvFixture(file) as Raw;
    const { advisory, rejections } = parseOsvRecord(raw, file);
    expect(rejections).toEqual([]);
    expect(advisory).toBeDefined();
    if (advisory === undefined) return;
    expect(advisory.id).toBe(raw.id);
    expect(advisory.source).toBe('osv');
    expect(advisory.modified.toISOString()).toBe(new Date(raw['modified'] as string).toISOString());
    // The oracle is the record itself: every affected entry, event and version comes through unchanged.
    const rawAffected = raw.affected ?? [];
    expect(advisory.affected).toHaveLength(rawAffected.length);
    advisory.affected.forEach((entry, i) => {
      const r = rawAffected[i];
      expect(entry.ecosystem).toBe(r?.package.ecosystem);
      expect(entry.package).toBe(r?.package.name);
      expect(entry.ranges.map((x) => ({ type: x.type, events: x.events }))).toEqual(
        (r?.ranges ?? []).map((x) => ({ type: x.type, events: x.events })),
      );
      expect(entry.versions).toEqual([...new Set(r?.versions ?? [])]);
    });
    // CVEs: exactly the CVE-shaped ids among id, aliases and upstream (UBUNTU-CVE-x names CVE-x).
    const ids = [raw.id, ...(raw.aliases ?? []), ...(raw.upstream ?? [])];
    const expected = new Set(ids.map((id) => /CVE-\d{4}-\d+$/.exec(id)?.[0]).filter((x) => x !== undefined));
    expect(new Set(advisory.cves)).toEqual(expected);
  });
});

describe('OSV specifics', () => {
  it('maps Ubuntu binaries and names the source package', () => {
    const { advisory } = parseOsvRecord(readOsvFixture('osv/ubuntu/USN-6859-1.json'), 'USN-6859-1.json');
    const jammy = advisory?.affected.find((a) => a.ecosystem === 'Ubuntu:22.04:LTS');
    expect(jammy?.nameKind).toBe('source');
    expect(jammy?.binaries).toContain('openssh-server');
    expect(jammy?.binaries).toHaveLength(11);
    expect(advisory?.cves).toEqual(['CVE-2024-6387']);
  });

  it('keeps GIT ranges and severity vectors from YAML records', () => {
    const { advisory } = parseOsvRecord(
      readOsvFixture('osv/pypi/PYSEC-2023-212.yaml'),
      'PYSEC-2023-212.yaml',
    );
    expect(advisory?.affected[0]?.ranges.map((r) => r.type)).toEqual(['GIT', 'ECOSYSTEM']);
    expect(advisory?.affected[0]?.nameKind).toBe('binary');
    expect(advisory?.severity).toEqual([
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N' },
    ]);
    expect(advisory?.modified.toISOString()).toBe('2023-10-25T18:28:34.811Z');
  });

  it('falls back to the first line of details when there is no summary', () => {
    const { advisory } = parseOsvRecord(readOsvFixture('osv/pypi/PYSEC-2021-66.yaml'), 'x');
    expect(advisory?.summary).toMatch(/^This affects the package jinja2/);
    expect(advisory?.summary.length).toBeLessThanOrEqual(200);
  });
});

const base = () =>
  structuredClone({
    id: 'GHSA-test-0001',
    modified: '2024-01-01T00:00:00Z',
    aliases: ['CVE-2024-0001'],
    affected: [
      {
        package: { ecosystem: 'npm', name: 'left-pad' },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.3.0' }] }],
      },
    ],
  }) as Record<string, unknown> & { affected: Record<string, unknown>[] };

describe('hostile OSV records', () => {
  const cases: [string, (r: ReturnType<typeof base>) => unknown, RegExp][] = [
    ['id of the wrong type', (r) => ({ ...r, id: 42 }), /id/],
    ['missing modified', (r) => ({ ...r, modified: undefined }), /modified/],
    ['unparseable modified', (r) => ({ ...r, modified: 'yesterday' }), /modified: not a timestamp/],
    ['10 MB details', (r) => ({ ...r, details: 'x'.repeat(10 * 1024 * 1024) }), /details: Too big/],
    [
      'event version of the wrong type',
      (r) => {
        r.affected[0] = { ...r.affected[0], ranges: [{ type: 'SEMVER', events: [{ introduced: 0 }] }] };
        return r;
      },
      /affected\.0\.ranges\.0\.events\.0/,
    ],
    [
      'huge event version',
      (r) => {
        r.affected[0] = {
          ...r.affected[0],
          ranges: [{ type: 'SEMVER', events: [{ fixed: '1'.repeat(100_000) }] }],
        };
        return r;
      },
      /events\.0/,
    ],
    [
      'shell characters in a version',
      (r) => {
        r.affected[0] = { ...r.affected[0], versions: ['1.0; rm -rf /'] };
        return r;
      },
      /versions\.0: not a version string/,
    ],
    [
      'event with two keys',
      (r) => {
        r.affected[0] = {
          ...r.affected[0],
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1' }] }],
        };
        return r;
      },
      /exactly one of introduced/,
    ],
    [
      'unknown range type',
      (r) => {
        r.affected[0] = { ...r.affected[0], ranges: [{ type: 'DATE', events: [{ introduced: '0' }] }] };
        return r;
      },
      /ranges\.0\.type/,
    ],
    [
      'huge package name',
      (r) => {
        r.affected[0] = { ...r.affected[0], package: { ecosystem: 'npm', name: 'x'.repeat(300) } };
        return r;
      },
      /affected\.0\.package\.name: Too big/,
    ],
    ['not an object', () => 'just a string', /invalid OSV record/],
  ];
  it.each(cases)('%s is rejected with the record id and the field', (_name, mutate, reason) => {
    const raw = mutate(base());
    const { advisory, rejections } = parseOsvRecord(raw, 'feed.json');
    expect(advisory).toBeUndefined();
    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.source).toBe('feed.json');
    expect(rejections[0]?.recordId).toBe(
      typeof (raw as { id?: unknown }).id === 'string' ? 'GHSA-test-0001' : '(unknown id)',
    );
    expect(rejections[0]?.reason).toMatch(reason);
    expect(rejections[0]?.reason.length).toBeLessThan(1000);
  });

  it('skips an affected entry of an unsupported ecosystem and keeps the rest', () => {
    const raw = base();
    raw.affected.unshift({
      package: { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core' },
      ranges: [],
    });
    const { advisory, rejections } = parseOsvRecord(raw, 'feed.json');
    expect(advisory?.affected.map((a) => a.package)).toEqual(['left-pad']);
    expect(rejections).toEqual([
      {
        source: 'feed.json',
        recordId: 'GHSA-test-0001',
        reason: 'affected[0]: unsupported ecosystem "Maven", skipped',
      },
    ]);
  });

  it.each([
    ['../../etc/passwd', 'path'],
    ['openssl; reboot', 'shell'],
    ['golang.org/../etc/passwd', 'path segment'],
    ['-rf', 'option'],
  ])('skips an affected entry whose package name is unsafe (%s)', (name) => {
    const raw = base();
    raw.affected.push({ package: { ecosystem: 'npm', name }, ranges: [] });
    const { advisory, rejections } = parseOsvRecord(raw, 'feed.json');
    expect(advisory?.affected.map((a) => a.package)).toEqual(['left-pad']);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.recordId).toBe('GHSA-test-0001');
    expect(rejections[0]?.reason).toMatch(/^affected\[1\]: package name ".*" is not valid, skipped$/);
  });

  it('keeps Go module paths, crates and gems with their ecosystem', () => {
    const raw = base();
    raw.affected.push(
      { package: { ecosystem: 'Go', name: 'github.com/BurntSushi/toml/v2' }, ranges: [] },
      { package: { ecosystem: 'crates.io', name: 'tikv-jemalloc-sys' }, ranges: [] },
      { package: { ecosystem: 'RubyGems', name: 'nokogiri' }, ranges: [] },
    );
    const { advisory, rejections } = parseOsvRecord(raw, 'feed.json');
    expect(rejections).toEqual([]);
    expect(advisory?.affected.map((a) => `${a.ecosystem} ${a.package} ${a.nameKind}`)).toEqual([
      'npm left-pad binary',
      'Go github.com/BurntSushi/toml/v2 binary',
      'crates.io tikv-jemalloc-sys binary',
      'RubyGems nokogiri binary',
    ]);
  });

  it('keeps a withdrawn record with its withdrawal date', () => {
    const { advisory } = parseOsvRecord({ ...base(), withdrawn: '2024-02-01T00:00:00Z' }, 'feed.json');
    expect(advisory?.withdrawn?.toISOString()).toBe('2024-02-01T00:00:00.000Z');
  });
});

describe('lookupEcosystem', () => {
  it.each([
    ['Debian:12', 'source'],
    ['Debian', 'source'],
    ['Debian:sid', 'source'],
    ['Ubuntu:22.04:LTS', 'source'],
    ['Ubuntu:Pro:14.04:LTS', 'source'],
    ['Ubuntu:24.10', 'source'],
    ['Alpine:v3.19', 'source'],
    ['Rocky Linux:9', 'source'],
    ['AlmaLinux:8', 'source'],
    ['Red Hat:enterprise_linux:9::baseos', 'binary'],
    ['npm', 'binary'],
    ['PyPI', 'binary'],
    ['Go', 'binary'],
    ['crates.io', 'binary'],
    ['RubyGems', 'binary'],
  ])('%s names %s packages', (eco, kind) => {
    const r = lookupEcosystem(eco);
    expect(r.ok && r.info.nameKind).toBe(kind);
  });
  it.each([
    ['Maven', 'unsupported'],
    ['Packagist', 'unsupported'],
    ['Go:1.21', 'malformed'],
    ['Alpine:3.19', 'malformed'],
    ['Ubuntu', 'malformed'],
    ['npm:1', 'malformed'],
  ])('%s is %s', (eco, reason) => {
    const r = lookupEcosystem(eco);
    expect(!r.ok && r.reason).toBe(reason);
  });
});
