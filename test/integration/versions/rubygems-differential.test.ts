/**
 * patchbot's RubyGems ordering and validity against Ruby's own Gem::Version (Debian `ruby`), on
 * real gem versions (the Gemfile.lock fixture) and mutations of them: prereleases with letters,
 * `-pre` suffixes, trailing zeros, leading zeros, extra parts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareRubyGems, isValidRubyGems } from '../../../src/core/versions/rubygems.js';
import { prng, requireRuby, rubyGemsCompareAll } from './oracles.js';

const GEMFILE_LOCK = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/third-party/Gemfile.lock',
);

const MUTATIONS: ((v: string) => string)[] = [
  (v) => `${v}.0`,
  (v) => `${v}.0.0`,
  (v) => `${v}.a`,
  (v) => `${v}.rc1`,
  (v) => `${v}.rc10`,
  (v) => `${v}.pre.1`,
  (v) => `${v}-beta`,
  (v) => `${v}-beta.2`,
  (v) => `${v}a`,
  (v) => `${v}.b.0`,
  (v) => v.replace(/\d+/, (d) => `00${d}`),
  (v) => v.replace(/(\d+)(?!.*\d)/, (d) => String(Number(d) + 1)),
  (v) => v.replace(/(\d+)(?!.*\d)/, (d) => String(Math.max(0, Number(d) - 1))),
  (v) => `${v}.1`,
  (v) => v.replace(/\.\d+$/, ''),
  (v) => ` ${v}`,
  (v) => `${v}_1`,
  (v) => `${v}..1`,
];

describe('RubyGems ordering agrees with Gem::Version', () => {
  let pairs: [string, string][] = [];
  let versions: string[] = [];

  beforeAll(() => {
    requireRuby();
    const text = readFileSync(GEMFILE_LOCK, 'utf8');
    versions = [
      ...new Set(
        [...text.matchAll(/^ {4}[A-Za-z0-9_.-]+ \(([^)]+)\)$/gm)].map((m) =>
          m[1].replace(/-[a-z0-9_]+(-[a-z0-9_]+)*$/, ''),
        ),
      ),
    ];
    const rand = prng(424242);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const out: [string, string][] = [];
    for (let i = 0; i < 3000; i++) {
      const v = pick(versions);
      const kind = rand();
      const a = kind < 0.3 ? v : pick(MUTATIONS)(v);
      const b = kind < 0.6 ? pick(MUTATIONS)(pick(MUTATIONS)(v)) : pick(versions);
      out.push([a, b]);
    }
    pairs = out;
  });

  it('uses real gem versions', () => {
    expect(versions.length).toBeGreaterThan(10);
  });

  it('accepts, rejects and orders every pair as Ruby does', () => {
    const expected = rubyGemsCompareAll(pairs);
    const mismatches: string[] = [];
    pairs.forEach(([a, b], i) => {
      const valid = isValidRubyGems(a) && isValidRubyGems(b);
      const got = valid ? compareRubyGems(a, b) : 'invalid';
      if (got !== expected[i])
        mismatches.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: patchbot ${got}, ruby ${expected[i]}`);
    });
    expect(expected.filter((r) => r === 'invalid').length).toBeGreaterThan(0);
    expect(mismatches.slice(0, 20)).toEqual([]);
  });
});
