/**
 * patchbot's firmware ordering against fwupd's own (`fwupdtool vercmp A B FORMAT`, Debian `fwupd`),
 * on the versions real devices report in the sample data (fwupd-json, sandbox, LVFS metadata)
 * and mutations of them (`~rc`, letter suffixes, leading zeros, extra parts, hex and decimal
 * spellings), in every version format fwupd knows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareFwupdVersions, type FwupdVersionFormat } from '../../../src/core/versions/fwupd.js';
import { fwupdCompareAll, prng, requireFwupdtool } from './oracles.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/firmware');

/** Every "Version..." string of the fwupd JSON fixtures and every release version of the metadata. */
function realFirmwareVersions(): string[] {
  const out = new Set<string>();
  for (const dir of ['fwupd', 'lvfs']) {
    for (const file of readdirSync(path.join(FIXTURES, dir))) {
      const text = readFileSync(path.join(FIXTURES, dir, file), 'utf8');
      for (const m of text.matchAll(/"Version(?:Bootloader|Lowest)?"\s*:\s*"([^"]+)"/g)) out.add(m[1]);
      for (const m of text.matchAll(/<release [^>]*version="([^"]+)"/g)) out.add(m[1]);
    }
  }
  return [...out];
}

const MUTATIONS: ((v: string) => string)[] = [
  (v) => `${v}~rc1`,
  (v) => `${v}~rc2`,
  (v) => `${v}a`,
  (v) => `${v}b`,
  (v) => `${v}.1`,
  (v) => `${v}.0`,
  (v) => v.replace(/\d+/, (d) => `0${d}`),
  (v) => v.replace(/(\d+)(?!.*\d)/, (d) => String(Number(d) + 1)),
  (v) => v.replace(/(\d+)(?!.*\d)/, (d) => String(Math.max(0, Number(d) - 1))),
  (v) => v.replace(/(\d+)(?!.*\d)/, (d) => String(Number(d) * 10)),
  (v) => v.replace(/\./, '..'),
  (v) => (/^\d+$/.test(v) ? `0x${Number(v).toString(16)}` : v),
  (v) => (/^0x[0-9a-f]+$/i.test(v) ? String(Number.parseInt(v.slice(2), 16)) : v),
  (v) => v.toUpperCase(),
  (v) => `P${v}`,
];

const FORMATS: FwupdVersionFormat[] = [
  'unknown',
  'plain',
  'number',
  'pair',
  'triplet',
  'quad',
  'bcd',
  'hex',
  'intel-me',
  'dell-bios',
];

describe('fwupd ordering agrees with fwupdtool vercmp', () => {
  let cases: { a: string; b: string; format: FwupdVersionFormat }[] = [];
  let versions: string[] = [];

  beforeAll(() => {
    requireFwupdtool();
    versions = realFirmwareVersions();
    const rand = prng(20261207);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const out: typeof cases = [];
    for (let i = 0; i < 700; i++) {
      const v = pick(versions);
      const kind = rand();
      const a = kind < 0.3 ? v : pick(MUTATIONS)(v);
      const b =
        kind < 0.6 ? pick(MUTATIONS)(v) : kind < 0.8 ? pick(versions) : pick(MUTATIONS)(pick(versions));
      out.push({ a, b, format: pick(FORMATS) });
    }
    cases = out.filter(({ a, b }) => !a.startsWith('-') && !b.startsWith('-'));
  });

  it('uses the real versions of the sample devices and metadata', () => {
    expect(versions).toEqual(
      expect.arrayContaining(['2.90', '0x000000de', '7.85.17.51968', '51.63', 'P1.1', '1.2.4']),
    );
    expect(cases.length).toBeGreaterThan(600);
  });

  it('gives the same answer as fwupd for every pair and format', async () => {
    const expected = await fwupdCompareAll(cases);
    const mismatches: string[] = [];
    cases.forEach(({ a, b, format }, i) => {
      const got = compareFwupdVersions(a, b, format);
      if (got !== expected[i])
        mismatches.push(`${a} vs ${b} (${format}): patchbot ${got}, fwupd ${expected[i]}`);
    });
    expect(mismatches.slice(0, 20)).toEqual([]);
  }, 240_000);
});
