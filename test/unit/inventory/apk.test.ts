import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseApkInstalled } from '../../../src/inventory/parsers/apk.js';

const sample = readFileSync(
  new URL('../../fixtures/inventory/apk-installed-sample', import.meta.url),
  'utf8',
);

describe('parseApkInstalled', () => {
  it('reads P, V, A and the origin of each package', () => {
    const { packages, warnings } = parseApkInstalled(sample);
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: 'musl',
        version: '1.2.4_git20230717-r4',
        arch: 'x86_64',
        sourceName: 'musl',
        sourceVersion: '1.2.4_git20230717-r4',
      },
      {
        name: 'libcrypto3',
        version: '3.1.4-r5',
        arch: 'x86_64',
        sourceName: 'openssl',
        sourceVersion: '3.1.4-r5',
      },
      {
        name: 'busybox-binsh',
        version: '1.36.1-r15',
        arch: 'x86_64',
        sourceName: 'busybox',
        sourceVersion: '1.36.1-r15',
      },
      {
        name: 'alpine-baselayout-data',
        version: '3.4.3-r2',
        arch: 'x86_64',
        sourceName: 'alpine-baselayout',
        sourceVersion: '3.4.3-r2',
      },
    ]);
  });

  it('reads the same packages from the filtered form the collector asks for', () => {
    const filtered = sample
      .split('\n')
      .filter((l) => /^([PVAo]:|$)/.test(l))
      .join('\n');
    expect(parseApkInstalled(filtered).packages).toEqual(parseApkInstalled(sample).packages);
  });

  it.each([
    ['a hostile version', 'P:evil\nV:1.0;reboot\nA:x86_64\n', 'invalid apk version'],
    ['no name', 'V:1.0-r0\nA:x86_64\n', 'without P:'],
    ['a hostile origin', 'P:evil\nV:1.0-r0\nA:x86_64\no:$(id)\n', 'invalid apk package name'],
    ['a garbage line', 'this is not apk\n', 'not a "K:value" line'],
  ])('reports %s and keeps the rest', (_label, bad, reason) => {
    const { packages, warnings } = parseApkInstalled(`${bad}\nP:zlib\nV:1.3.1-r0\nA:x86_64\no:zlib\n`);
    expect(packages.map((p) => p.name)).toEqual(['zlib']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].line).toBe(1);
    expect(warnings[0].reason).toContain(reason);
  });
});
