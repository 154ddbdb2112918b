/**
 * patchbot's deb ordering against dpkg's, on real versions from this machine's apt lists and
 * installed packages plus mutations of them (epochs, `~`, binNMU `+bN`, stable updates `+debNuN`,
 * revision bumps, letters, dots). Thousands of pairs go through one python3-apt process; a sample
 * is checked against `dpkg --compare-versions` itself, and so is validity.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareDeb, isValidDeb } from '../../../src/core/versions/deb.js';
import {
  aptCompareAll,
  dpkgAccepts,
  dpkgCompare,
  prng,
  realDebianVersions,
  requireAptPkg,
  requireDpkg,
} from './oracles.js';

const STATUS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/versions/debian12-dpkg-status',
);

type Pair = readonly [string, string];

function bumpLastNumber(v: string, by: number): string {
  const m = /(\d+)(\D*)$/.exec(v);
  if (!m) return `${v}1`;
  const n = Math.max(0, Number(m[1]) + by);
  return `${v.slice(0, m.index)}${n}${m[2]}`;
}

/** Realistic edits of a Debian version. */
const MUTATIONS: ((v: string) => string)[] = [
  (v) => (v.includes(':') ? v : `1:${v}`),
  (v) => (v.includes(':') ? v.slice(v.indexOf(':') + 1) : v),
  (v) => `${v}~`,
  (v) => `${v}~rc1`,
  (v) => (v.includes('-') ? v.replace(/-([^-]*)$/, '~bpo12+1-$1') : `${v}~bpo12+1`),
  (v) => `${v}+b1`,
  (v) => `${v}+b2`,
  (v) => `${v}+deb12u1`,
  (v) => `${v}+deb11u3`,
  (v) => `${v}+really1.0`,
  (v) => `${v}.1`,
  (v) => `${v}a`,
  (v) => `${v}-1`,
  (v) => `${v}.0`,
  (v) => `${v}+dfsg`,
  (v) => `${v}+git20240101.abcdef`,
  (v) => bumpLastNumber(v, 1),
  (v) => bumpLastNumber(v, -1),
  (v) => bumpLastNumber(v, 10),
  (v) => v.replace(/\./, '~'),
  (v) => v.replace(/\d+/, (d) => `0${d}`),
  (v) => v.replace(/-(\d+)/, (_m, d: string) => `-${Number(d) + 1}`),
  (v) => v.replace(/\+deb(\d+)u(\d+)/, (_m, r: string, u: string) => `+deb${r}u${Number(u) + 1}`),
  (v) => v.replace(/\+b\d+$/, ''),
  (v) => v.toUpperCase(),
  (v) => v.replace(/[a-z]/, 'Z'),
  (v) => `${v}ubuntu0.22.04.1`,
  (v) => `${v}build1`,
];

describe('deb ordering agrees with dpkg', () => {
  let pairs: Pair[] = [];
  let versions: string[] = [];

  beforeAll(() => {
    requireDpkg();
    requireAptPkg();
    const byPackage = realDebianVersions(STATUS);
    const all = new Set<string>();
    for (const set of byPackage.values()) for (const v of set) all.add(v);
    versions = [...all].sort();
    const rand = prng(20240701);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const out: Pair[] = [];
    // Versions of the same package (several suites, source vs binary versions).
    for (const set of byPackage.values()) {
      const vs = [...set];
      for (let i = 1; i < vs.length; i++) out.push([vs[i - 1], vs[i]]);
    }
    // Random pairs, and neighbours in text order (long shared prefixes).
    for (let i = 0; i < 3000; i++) out.push([pick(versions), pick(versions)]);
    for (let i = 0; i < 2000; i++) {
      const j = Math.floor(rand() * (versions.length - 1));
      out.push([versions[j], versions[j + 1]]);
    }
    // Mutations: the version against its edit, and two edits against each other.
    for (let i = 0; i < 4000; i++) {
      const v = pick(versions);
      const m1 = pick(MUTATIONS)(v);
      const m2 = pick(MUTATIONS)(pick(MUTATIONS)(v));
      out.push([v, m1], [m1, m2]);
    }
    pairs = out;
  });

  it('uses thousands of real versions', () => {
    expect(versions.length).toBeGreaterThan(500);
    expect(pairs.length).toBeGreaterThan(10_000);
  });

  it('gives the same order as apt_pkg.version_compare on every valid pair', () => {
    const valid = pairs.filter(([a, b]) => isValidDeb(a) && isValidDeb(b));
    // Mutations of valid versions stay valid (dpkg only warns about odd characters).
    expect(valid.length).toBe(pairs.length);
    const expected = aptCompareAll(valid);
    const mismatches: string[] = [];
    valid.forEach(([a, b], i) => {
      const got = compareDeb(a, b);
      if (got !== expected[i]) mismatches.push(`${a} vs ${b}: patchbot ${got}, apt ${expected[i]}`);
    });
    expect(mismatches.slice(0, 20)).toEqual([]);
  });

  it('apt_pkg (the batch oracle) and patchbot agree with dpkg --compare-versions on a sample', () => {
    const rand = prng(7);
    const sample = Array.from({ length: 150 }, () => pairs[Math.floor(rand() * pairs.length)]);
    const apt = aptCompareAll(sample);
    sample.forEach(([a, b], i) => {
      const dpkg = dpkgCompare(a, b);
      expect({ a, b, apt: apt[i] }).toEqual({ a, b, apt: dpkg });
      expect({ a, b, patchbot: compareDeb(a, b) }).toEqual({ a, b, patchbot: dpkg });
    });
  });

  it('accepts and rejects what dpkg --compare-versions accepts and rejects', () => {
    const rand = prng(99);
    const tricky = [
      '1.0',
      ' 1.0 ',
      '1.0 1',
      '1.0\t',
      '',
      ':1.0',
      '1:',
      'a:1.0',
      '-1:1.0',
      '+1:1.0',
      '1a:1.0',
      '01:1.0',
      '99999999999:1.0',
      '2147483647:1',
      '2147483648:1',
      '1.0-',
      '-1',
      '1:-1',
      '1.0--1',
      '1.0-1-',
      'a1.0',
      '~1',
      '1.0_1',
      '1.0-1_1',
      '1.0-a:b',
      '1:1.0:2-3',
      '1.0:2',
      '1.0-1:2',
      '1:1.0-1:2',
      'é1',
      '1é',
      '1.0-+',
      '1..0',
      '0',
      '00',
      '0:0',
      '1.0~',
      '1.0-~',
      '1.0+',
      'x',
      '1:a',
      '1 :1',
      '1: 1',
      '\t1.0',
      '1.0,1',
      '1.0/1',
      '1.0@1',
      '1.0=',
      '-0:1',
    ];
    for (let i = 0; i < 60; i++) {
      const v = versions[Math.floor(rand() * versions.length)];
      const at = Math.floor(rand() * (v.length + 1));
      const ch = ':- _~+.a!#'[Math.floor(rand() * 10)];
      tricky.push(v.slice(0, at) + ch + v.slice(at));
    }
    for (const v of tricky) {
      if (v === '') continue; // dpkg reads an empty argument as "no version"; patchbot rejects it
      expect({ v, valid: isValidDeb(v) }).toEqual({ v, valid: dpkgAccepts(v) });
    }
    expect(isValidDeb('')).toBe(false);
  });

  it('orders odd but accepted versions as dpkg does', () => {
    const odd = [
      'a1.0',
      '~1',
      '1.0_1',
      '1.0-1_1',
      '1:1.0:2-3',
      '1:1.0-1:2',
      '1é',
      'é1',
      '1.0,1',
      '1.0@1',
      '1.0=1',
    ];
    for (const a of odd) {
      for (const b of ['1.0', '1.0-1', 'a', '1é', '1.0~', '1.0a', '1.0+']) {
        expect({ a, b, r: compareDeb(a, b) }).toEqual({ a, b, r: dpkgCompare(a, b) });
      }
    }
  });
});
