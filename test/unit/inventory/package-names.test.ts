import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PackageManagerKind } from '../../../src/core/model.js';
import {
  isValidArch,
  isValidPackageName,
  isValidVersion,
  packageNameProblem,
  versionProblem,
} from '../../../src/core/packages/names.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/inventory/${name}`, import.meta.url), 'utf8');

const HOSTILE = [
  '',
  '-rf',
  '--force-all',
  'foo bar',
  'foo;rm -rf /',
  'foo$(id)',
  'foo`id`',
  "foo'bar",
  'foo"bar',
  'foo\nbar',
  'foo\tbar',
  'foo|bar',
  'foo&bar',
  'foo>bar',
  'foo<bar',
  'foo\\bar',
  'foo*',
  'foo?',
  'foo\0',
  'föö',
  'a'.repeat(201),
];

describe('package names', () => {
  it.each<[PackageManagerKind, string, boolean]>([
    ['dpkg', 'libc6', true],
    ['dpkg', 'libstdc++6', true],
    ['dpkg', 'python3.11', true],
    ['dpkg', 'g++-12', true],
    ['dpkg', 'x', false],
    ['dpkg', 'Libc6', false],
    ['dpkg', '+foo', false],
    ['dpkg', 'foo_bar', false],
    ['rpm', 'NetworkManager', true],
    ['rpm', 'perl-Data-Dumper', true],
    ['rpm', 'libstdc++', true],
    ['rpm', 'python3.11-pip', true],
    ['rpm', '-foo', false],
    ['rpm', '.foo', false],
    ['apk', 'py3-pip', true],
    ['apk', 'busybox-binsh', true],
    ['apk', 'so:libc.musl-x86_64.so.1', false],
  ])('%s %j -> %s', (manager, name, valid) => {
    expect(isValidPackageName(manager, name)).toBe(valid);
  });

  it.each(['dpkg', 'rpm', 'apk'] as const)('%s refuses hostile names', (manager) => {
    for (const name of HOSTILE) {
      expect(isValidPackageName(manager, name), JSON.stringify(name)).toBe(false);
      expect(packageNameProblem(manager, name)).toContain(manager);
    }
  });
});

describe('versions', () => {
  it.each<[PackageManagerKind, string, boolean]>([
    ['dpkg', '2.36-9+deb12u3', true],
    ['dpkg', '2.36-9+deb12u3+b1', true],
    ['dpkg', '1:9.2p1-2+deb12u3', true],
    ['dpkg', '1.0~rc1-1', true],
    ['dpkg', '20230311', true],
    ['dpkg', ':1.0', false],
    ['dpkg', '1:', false],
    ['dpkg', 'a:1.0', false],
    ['rpm', '3.0.7-27.el9', true],
    ['rpm', '1:3.0.7-27.el9_4', true],
    ['rpm', '1.2^git20240101-1.fc40', true],
    ['rpm', '1.0~rc1-0.1', true],
    ['rpm', '1.0-2-3', false],
    ['rpm', '1.0-', false],
    ['apk', '3.1.4-r5', true],
    ['apk', '1.2.4_git20230717-r4', true],
    ['apk', '1.36.1-r15', true],
    ['apk', '1.0-r', false],
  ])('%s %j -> %s', (manager, version, valid) => {
    expect(isValidVersion(manager, version)).toBe(valid);
  });

  it.each(['dpkg', 'rpm', 'apk'] as const)('%s refuses hostile versions', (manager) => {
    for (const v of [...HOSTILE, '1.0 ', ' 1.0', '1.0;id', '1.0$(id)', '1.0\n2.0']) {
      expect(isValidVersion(manager, v), JSON.stringify(v)).toBe(false);
      expect(versionProblem(manager, v)).toBeDefined();
    }
  });

  it('agrees with apk-tools on which versions are valid', () => {
    const rows = fixture('apk_version_data_validity.tsv')
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => l.split('\t'));
    expect(rows.length).toBeGreaterThan(25);
    for (const [version, valid] of rows) {
      expect(isValidVersion('apk', version), JSON.stringify(version)).toBe(valid === 'true');
    }
  });

  it('accepts every name, version and source of a real Debian 12 status file', () => {
    const { packages, warnings } = parseDpkgStatus(fixture('debian12-dpkg-status'));
    expect(warnings).toEqual([]);
    expect(packages).toHaveLength(731);
    for (const p of packages) {
      expect(isValidPackageName('dpkg', p.name)).toBe(true);
      expect(isValidPackageName('dpkg', p.sourceName)).toBe(true);
      expect(isValidVersion('dpkg', p.version)).toBe(true);
      expect(isValidVersion('dpkg', p.sourceVersion)).toBe(true);
      expect(isValidArch(p.arch)).toBe(true);
    }
  });
});
