import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_WARNINGS } from '../../../src/inventory/parsers/index.js';
import { parseDpkgQuery, parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';

const realStatus = readFileSync(
  new URL('../../fixtures/inventory/debian12-dpkg-status', import.meta.url),
  'utf8',
);

const para = (fields: Record<string, string>): string =>
  Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');

describe('parseDpkgStatus on a real Debian 12 status file', () => {
  const { packages, warnings } = parseDpkgStatus(realStatus);

  it('reads every installed package, with no warning', () => {
    expect(warnings).toEqual([]);
    const expected = realStatus.split('\n').filter((l) => l.startsWith('Package: ')).length;
    expect(packages).toHaveLength(expected);
    expect(new Set(packages.map((p) => `${p.name}:${p.arch}`)).size).toBe(expected);
  });

  it('keeps Source and its version, and defaults to the binary when absent', () => {
    // Each paragraph read independently with a plain regex, as a second reading of the same file.
    for (const block of realStatus.split(/\n\n+/)) {
      const name = /^Package: (.+)$/m.exec(block)?.[1];
      if (name === undefined) continue;
      const version = /^Version: (.+)$/m.exec(block)![1];
      const source = /^Source: (\S+)(?: \((\S+)\))?$/m.exec(block);
      const pkg = packages.find((p) => p.name === name)!;
      expect(pkg.sourceName).toBe(source?.[1] ?? name);
      expect(pkg.sourceVersion).toBe(source?.[2] ?? version);
      expect(pkg.state).toBeUndefined();
    }
  });

  it('handles a binary whose source has another version (Source: name (version))', () => {
    const withVersion = packages.filter((p) => p.sourceVersion !== p.version);
    expect(withVersion.length).toBeGreaterThan(0);
    const bash = packages.find((p) => p.name === 'bash')!;
    expect(bash.sourceName).toBe('bash');
  });
});

describe('parseDpkgStatus states', () => {
  const make = (status: string, extra: Record<string, string> = {}): string =>
    para({ Package: 'libfoo1', Status: status, Architecture: 'amd64', Version: '1.0-1', ...extra });

  it.each([
    ['install ok installed', 1, undefined],
    ['hold ok installed', 1, undefined],
    ['deinstall ok installed', 1, undefined],
    ['install ok half-configured', 1, 'half-configured'],
    ['install ok unpacked', 1, 'unpacked'],
    ['install reinstreq half-installed', 1, 'half-installed'],
    ['install ok triggers-pending', 1, 'triggers-pending'],
    ['install ok triggers-awaited', 1, 'triggers-awaited'],
    ['deinstall ok config-files', 0, undefined],
    ['purge ok not-installed', 0, undefined],
    ['unknown ok not-installed', 0, undefined],
  ])('%s', (status, count, state) => {
    const { packages, warnings } = parseDpkgStatus(make(status));
    expect(packages).toHaveLength(count);
    if (count === 1) expect(packages[0].state).toBe(state);
    // Every state short of "installed" is reported, naming the package.
    if (state !== undefined)
      expect(warnings.some((w) => w.reason.includes('libfoo1') && w.line === 1)).toBe(true);
    if (state === undefined && count === 1) expect(warnings).toEqual([]);
  });

  it('reports an unknown state or malformed Status and keeps the rest', () => {
    const text = [
      make('install ok exploded'),
      para({ Package: 'ok-pkg', Status: 'install ok installed', Architecture: 'all', Version: '2' }),
      make('install installed'),
    ].join('\n\n');
    const { packages, warnings } = parseDpkgStatus(text);
    expect(packages.map((p) => p.name)).toEqual(['ok-pkg']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ line: 1 });
    expect(warnings[0].reason).toContain('exploded');
    expect(warnings[1].line).toBe(11);
  });
});

describe('parseDpkgStatus fields', () => {
  it('reads multi-line fields, CRLF, case-insensitive names and Source with version', () => {
    const text = [
      'Package: libc6',
      'STATUS: install ok installed',
      'Description: GNU C Library',
      ' Contains the standard libraries.',
      ' .',
      ' Version: 9.9 (a continuation line is not a field)',
      'Architecture: amd64',
      'Source: glibc (2.36-9+deb12u3)',
      'Version: 2.36-9+deb12u3+b1',
      'Conffiles:',
      ' /etc/ld.so.conf 1234',
    ].join('\r\n');
    const { packages, warnings } = parseDpkgStatus(text);
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: 'libc6',
        version: '2.36-9+deb12u3+b1',
        arch: 'amd64',
        sourceName: 'glibc',
        sourceVersion: '2.36-9+deb12u3',
      },
    ]);
  });

  it('keeps both architectures of a multi-arch package and reports a true duplicate', () => {
    const p = (arch: string): string =>
      para({ Package: 'libc6', Status: 'install ok installed', Architecture: arch, Version: '2.36-9' });
    const { packages, warnings } = parseDpkgStatus([p('amd64'), p('i386'), p('amd64')].join('\n\n'));
    expect(packages.map((x) => x.arch)).toEqual(['amd64', 'i386']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].reason).toContain('listed twice');
  });

  it.each([
    ['Package', 'foo;rm -rf /', 'invalid dpkg package name'],
    ['Package', '-foo', 'invalid dpkg package name'],
    ['Version', '1.0 $(reboot)', 'invalid dpkg version'],
    ['Version', '', 'invalid dpkg version'],
    ['Architecture', 'amd64;id', 'invalid architecture'],
    ['Source', 'glibc (2.36) extra', 'invalid Source'],
    ['Source', 'gl`id`ibc', 'Source: invalid dpkg package name'],
    ['Source', 'glibc (2.36;id)', 'Source: invalid dpkg version'],
  ])('refuses a hostile %s %j', (field, value, reason) => {
    const good = { Package: 'foo', Status: 'install ok installed', Architecture: 'amd64', Version: '1.0-1' };
    const text = [para({ ...good, [field]: value }), para({ ...good, Package: 'bar' })].join('\n\n');
    const { packages, warnings } = parseDpkgStatus(text);
    expect(packages.map((p) => p.name)).toEqual(['bar']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].reason).toContain(reason);
    expect(warnings[0].line).toBe(1);
  });

  it('turns garbage into bounded warnings and never throws', () => {
    const garbage = Array.from({ length: 500 }, (_, i) => `\u0000garbage ${i} $(rm -rf /)`).join('\n');
    const text = `${garbage}\n\n${para({ Package: 'bar', Status: 'install ok installed', Architecture: 'all', Version: '1' })}`;
    const { packages, warnings } = parseDpkgStatus(text);
    expect(packages.map((p) => p.name)).toEqual(['bar']);
    expect(warnings).toHaveLength(MAX_WARNINGS + 1);
    expect(warnings[0]).toMatchObject({ line: 1 });
    expect(warnings.at(-1)!.reason).toBe(`${500 - MAX_WARNINGS} more warnings not shown`);
  });

  it('accepts empty input', () => {
    expect(parseDpkgStatus('')).toEqual({ packages: [], warnings: [] });
  });
});

describe('parseDpkgQuery', () => {
  it('reads the format patchbot runs', () => {
    const text = [
      'libc6\t2.36-9+deb12u3+b1\tamd64\tglibc (2.36-9+deb12u3)\tinstall ok installed',
      'bash\t5.2.15-2+b7\tamd64\tbash (5.2.15-2)\tinstall ok installed',
      'adduser\t3.134\tall\t\tinstall ok installed',
      'openssh-server\t1:9.2p1-2+deb12u3\tamd64\topenssh\tinstall ok half-configured',
      'oldpkg\t\t\t\tdeinstall ok config-files',
      'gone\t\tamd64\t\tunknown ok not-installed',
    ].join('\n');
    const { packages, warnings } = parseDpkgQuery(`${text}\n`);
    expect(packages).toEqual([
      {
        name: 'libc6',
        version: '2.36-9+deb12u3+b1',
        arch: 'amd64',
        sourceName: 'glibc',
        sourceVersion: '2.36-9+deb12u3',
      },
      { name: 'bash', version: '5.2.15-2+b7', arch: 'amd64', sourceName: 'bash', sourceVersion: '5.2.15-2' },
      { name: 'adduser', version: '3.134', arch: 'all', sourceName: 'adduser', sourceVersion: '3.134' },
      {
        name: 'openssh-server',
        version: '1:9.2p1-2+deb12u3',
        arch: 'amd64',
        sourceName: 'openssh',
        sourceVersion: '1:9.2p1-2+deb12u3',
        state: 'half-configured',
      },
    ]);
    expect(warnings).toEqual([{ line: 4, reason: expect.stringContaining('half-configured') as string }]);
  });

  it.each([
    ['too few fields', 'libc6\t2.36\tamd64', 'expected 5 tab-separated fields, got 3'],
    ['too many fields', 'libc6\t2.36\tamd64\t\tinstall ok installed\textra', 'got 6'],
    [
      'a shell payload as version',
      "libc6\t2.36';reboot;'\tamd64\t\tinstall ok installed",
      'invalid dpkg version',
    ],
    ['a newline-less binary blob', '\u0001\u0002\u0003', 'expected 5'],
  ])('reports %s and parses the rest', (_label, bad, reason) => {
    const { packages, warnings } = parseDpkgQuery(
      `${bad}\nzlib1g\t1:1.2.13.dfsg-1\tamd64\tzlib\tinstall ok installed\n`,
    );
    expect(packages.map((p) => p.name)).toEqual(['zlib1g']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].line).toBe(1);
    expect(warnings[0].reason).toContain(reason);
  });
});
