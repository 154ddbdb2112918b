/**
 * patchbot's rpm ordering against rpm's own (rpm.vercmp for version strings, rpm.ver objects for
 * epoch:version-release), all pairs in one `rpm --eval` Lua run (rpm 4.18's Lua `rpm.vercmp` parses epoch:version-release too): real Debian versions read as rpm
 * versions, rpm-style versions built from them (`.el9`, `.fc40`, `~rc1`, `^20240101git...`), the
 * upstream rpmvercmp vectors, and mutations.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareRpm, isValidRpm, rpmvercmp } from '../../../src/core/versions/rpm.js';
import { prng, realDebianVersions, requireRpm, rpmCompareAll } from './oracles.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/versions');

type Pair = readonly [string, string];

const RELEASES = [
  '1',
  '2',
  '1.el9',
  '3.el9_2',
  '3.el9_2.1',
  '0.rc1.fc38',
  '1.fc40',
  '10.el8',
  '1.module+el8.9.0+1234+abcd',
];

const MUTATIONS: ((v: string) => string)[] = [
  (v) => `${v}~rc1`,
  (v) => `${v}~`,
  (v) => `${v}^`,
  (v) => `${v}^20240101git1a2b3c`,
  (v) => `${v}~rc1^post1`,
  (v) => `${v}.1`,
  (v) => `${v}a`,
  (v) => `${v}.0`,
  (v) => `${v}_1`,
  (v) => v.replace(/\d+/, (d) => `0${d}`),
  (v) => v.replace(/(\d+)(\D*)$/, (_m, d: string, rest: string) => `${Number(d) + 1}${rest}`),
  (v) => v.replace(/\./, '~'),
  (v) => v.replace(/\./, '^'),
  (v) => v.replace(/\./g, ''),
  (v) => (v.includes(':') ? v.slice(v.indexOf(':') + 1) : `1:${v}`),
  (v) => (v.includes('-') ? v.slice(0, v.lastIndexOf('-')) : `${v}-1`),
  (v) => `${v}-${RELEASES[v.length % RELEASES.length]}`,
  (v) => `2:${v}`,
  (v) => v.toUpperCase(),
];

describe('rpm ordering agrees with rpm', () => {
  let pairs: Pair[] = [];

  beforeAll(() => {
    requireRpm();
    const rand = prng(424242);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const debVersions = new Set<string>();
    for (const set of realDebianVersions(path.join(FIXTURES, 'debian12-dpkg-status')).values()) {
      for (const v of set) debVersions.add(v);
    }
    const real = [...debVersions].filter(isValidRpm);
    // rpm-style EVRs from the upstream parts of real versions.
    const rpmStyle = real.slice(0, 4000).map((v) => {
      const upstream = v.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
      return `${upstream.replace(/[^A-Za-z0-9.~^+_]/g, '.')}-${pick(RELEASES)}`;
    });
    const vectorValues: string[] = [];
    for (const f of ['rpm_rpmvercmp_at.tsv', 'rpm_rpmvercmp_at_oddities_disabled.tsv']) {
      for (const line of readFileSync(path.join(FIXTURES, f), 'utf8').split('\n').slice(1)) {
        const [a, , b] = line.split('\t');
        if (a) vectorValues.push(a);
        if (b) vectorValues.push(b);
      }
    }
    const pool = [...real, ...rpmStyle, ...vectorValues].filter(isValidRpm);
    const out: Pair[] = [];
    for (let i = 0; i < 3000; i++) out.push([pick(pool), pick(pool)]);
    const sorted = [...pool].sort();
    for (let i = 0; i < 2000; i++) {
      const j = Math.floor(rand() * (sorted.length - 1));
      out.push([sorted[j], sorted[j + 1]]);
    }
    for (let i = 0; i < 4000; i++) {
      const v = pick(pool);
      const m1 = pick(MUTATIONS)(v);
      const m2 = pick(MUTATIONS)(pick(MUTATIONS)(v));
      out.push([v, m1], [m1, m2]);
    }
    for (const a of vectorValues) for (const b of vectorValues.slice(0, 60)) out.push([a, b]);
    pairs = out.filter(([a, b]) => isValidRpm(a) && isValidRpm(b));
  });

  it('uses thousands of pairs', () => {
    expect(pairs.length).toBeGreaterThan(10_000);
  });

  it('compares every pair as rpm.vercmp and rpm.ver objects do (rpmvercmp itself where there is no epoch or release)', () => {
    const expected = rpmCompareAll(pairs);
    const mismatches: string[] = [];
    let raw = 0;
    pairs.forEach(([a, b], i) => {
      const [vercmp, ver] = expected[i];
      const got = compareRpm(a, b);
      if (got !== vercmp || got !== ver)
        mismatches.push(`${a} vs ${b}: patchbot ${got}, rpm.vercmp ${vercmp}, rpm.ver ${ver}`);
      // Without an epoch or a release, an EVR comparison is rpmvercmp of the two strings.
      if (!/[:-]/.test(a + b)) {
        raw++;
        const r = rpmvercmp(a, b);
        if (r !== vercmp) mismatches.push(`rpmvercmp(${a}, ${b}): patchbot ${r}, rpm ${vercmp}`);
      }
    });
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(raw).toBeGreaterThan(1000);
  });
});
