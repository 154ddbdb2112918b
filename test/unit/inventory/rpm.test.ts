import { describe, expect, it } from 'vitest';
import { parseRpmQuery, parseSourceRpmName } from '../../../src/inventory/parsers/rpm.js';

// Lines in the exact shape of `rpm -qa --qf RPM_QUERY_FORMAT` on Rocky Linux 9.
const ROCKY = [
  'openssl-libs\t1\t3.0.7\t27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm',
  'glibc\t(none)\t2.34\t100.el9_4.2\tx86_64\tglibc-2.34-100.el9_4.2.src.rpm',
  'glibc-langpack-en\t(none)\t2.34\t100.el9_4.2\tx86_64\tglibc-2.34-100.el9_4.2.src.rpm',
  'python3-libdnf\t(none)\t0.69.0\t8.el9_4.1\tx86_64\tlibdnf-0.69.0-8.el9_4.1.src.rpm',
  'tzdata\t(none)\t2024a\t1.el9\tnoarch\ttzdata-2024a-1.el9.src.rpm',
  'gpg-pubkey\t(none)\t350d275d\t6279464b\t(none)\t(none)',
  'libstdc++\t(none)\t11.4.1\t3.el9\tx86_64\tgcc-11.4.1-3.el9.src.rpm',
  'fake-nosrc\t(none)\t1.0\t1\tnoarch\tfake-nosrc-1.0-1.nosrc.rpm',
].join('\n');

describe('parseRpmQuery', () => {
  it('reads name, EVR, arch and the source package from SOURCERPM', () => {
    const { packages, warnings } = parseRpmQuery(`${ROCKY}\n`);
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: 'openssl-libs',
        version: '1:3.0.7-27.el9',
        arch: 'x86_64',
        sourceName: 'openssl',
        sourceVersion: '1:3.0.7-27.el9',
      },
      {
        name: 'glibc',
        version: '2.34-100.el9_4.2',
        arch: 'x86_64',
        sourceName: 'glibc',
        sourceVersion: '2.34-100.el9_4.2',
      },
      {
        name: 'glibc-langpack-en',
        version: '2.34-100.el9_4.2',
        arch: 'x86_64',
        sourceName: 'glibc',
        sourceVersion: '2.34-100.el9_4.2',
      },
      {
        name: 'python3-libdnf',
        version: '0.69.0-8.el9_4.1',
        arch: 'x86_64',
        sourceName: 'libdnf',
        sourceVersion: '0.69.0-8.el9_4.1',
      },
      {
        name: 'tzdata',
        version: '2024a-1.el9',
        arch: 'noarch',
        sourceName: 'tzdata',
        sourceVersion: '2024a-1.el9',
      },
      {
        name: 'libstdc++',
        version: '11.4.1-3.el9',
        arch: 'x86_64',
        sourceName: 'gcc',
        sourceVersion: '11.4.1-3.el9',
      },
      {
        name: 'fake-nosrc',
        version: '1.0-1',
        arch: 'noarch',
        sourceName: 'fake-nosrc',
        sourceVersion: '1.0-1',
      },
    ]);
  });

  it('keeps both arches of a multilib package', () => {
    const { packages } = parseRpmQuery(
      'glibc\t(none)\t2.34\t100.el9\tx86_64\tglibc-2.34-100.el9.src.rpm\nglibc\t(none)\t2.34\t100.el9\ti686\tglibc-2.34-100.el9.src.rpm\n',
    );
    expect(packages.map((p) => p.arch)).toEqual(['x86_64', 'i686']);
  });

  it.each([
    ['a short line', 'glibc\t2.34', 'expected 6 tab-separated fields, got 2'],
    ['a bad epoch', 'glibc\tx\t2.34\t1\tx86_64\tglibc-2.34-1.src.rpm', 'invalid EPOCH'],
    [
      'a dash in the version',
      'glibc\t(none)\t2.34-1\t1\tx86_64\tglibc-2.34-1.src.rpm',
      'invalid VERSION or RELEASE',
    ],
    [
      'a shell payload in release',
      'glibc\t(none)\t2.34\t1;reboot\tx86_64\tglibc-2.34-1.src.rpm',
      'invalid VERSION',
    ],
    ['a hostile name', '$(id)\t(none)\t1\t1\tx86_64\tx-1-1.src.rpm', 'invalid rpm package name'],
    ['a bad arch', 'glibc\t(none)\t2.34\t1\tx86 64\tglibc-2.34-1.src.rpm', 'invalid architecture'],
    ['a bad SOURCERPM', 'glibc\t(none)\t2.34\t1\tx86_64\tglibc.src.rpm', 'invalid SOURCERPM'],
    ['SOURCERPM not an srpm', 'glibc\t(none)\t2.34\t1\tx86_64\tglibc-2.34-1.x86_64.rpm', 'invalid SOURCERPM'],
  ])('reports %s and keeps the rest', (_label, bad, reason) => {
    const { packages, warnings } = parseRpmQuery(
      `${bad}\nbash\t(none)\t5.1.8\t9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n`,
    );
    expect(packages.map((p) => p.name)).toEqual(['bash']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].line).toBe(1);
    expect(warnings[0].reason).toContain(reason);
  });
});

describe('parseSourceRpmName', () => {
  it.each([
    ['openssl-3.0.7-27.el9.src.rpm', { name: 'openssl', version: '3.0.7', release: '27.el9' }],
    ['python-pip-21.3.1-1.el9.src.rpm', { name: 'python-pip', version: '21.3.1', release: '1.el9' }],
    [
      'kernel-5.14.0-427.13.1.el9_4.src.rpm',
      { name: 'kernel', version: '5.14.0', release: '427.13.1.el9_4' },
    ],
    ['x-1-1.nosrc.rpm', { name: 'x', version: '1', release: '1' }],
    ['openssl.src.rpm', undefined],
    ['openssl-3.0.7.src.rpm', undefined],
    ['-3.0.7-1.src.rpm', undefined],
    ['openssl-3.0.7-1.rpm', undefined],
    ["open'ssl-3-1.src.rpm", undefined],
  ])('%s', (file, expected) => {
    expect(parseSourceRpmName(file)).toEqual(expected);
  });
});
