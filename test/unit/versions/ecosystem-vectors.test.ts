/**
 * Upstream test vectors for the orderings OSV and firmware matching add: fwupd's own
 * fu-version-test.c, Go's golang.org/x/mod/semver tests, RubyGems' Gem::Version tests.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  compareFwupdVersions,
  fwupdEnsureSemver,
  fwupdVersionFormatProblem,
  fwupdVersionFromRaw,
  fwupdVersionFromUint16,
  fwupdVersionFromUint24,
  fwupdVersionFromUint32,
  fwupdVersionFromUint64,
  guessFwupdVersionFormat,
  isFwupdVersionFormat,
  parseFwupdVersionFromFormat,
  type FwupdVersionFormat,
} from '../../../src/core/versions/fwupd.js';
import { compareGo, isGoPseudoVersion, isValidGo } from '../../../src/core/versions/go.js';
import { getScheme, schemeForEcosystem } from '../../../src/core/versions/index.js';
import { compareRubyGems, isValidRubyGems } from '../../../src/core/versions/rubygems.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/versions');
const json = <T>(file: string): T => JSON.parse(readFileSync(path.join(fixtures, file), 'utf8')) as T;

const SIGN = { '<': -1, '=': 0, '>': 1 } as const;

function format(name: string): FwupdVersionFormat {
  if (!isFwupdVersionFormat(name)) throw new Error(`fixture names unknown format ${name}`);
  return name;
}

describe('fwupd: fu-version-test.c', () => {
  const v = json<{
    fromUint32: [number, string, string][];
    fromUint24: [number, string, string][];
    fromUint64: [string, string, string][];
    fromUint16: [number, string, string][];
    parseTriplet: [string, string][];
    guessFormat: [string, string][];
    verifyFormat: [string, string, boolean][];
    compare: [string, '<' | '=' | '>', string, string][];
    ensureSemver: [string, string, string][];
  }>('fwupd_fu-version-test.json');

  it.each(v.fromUint32)('fu_version_from_uint32(%d) is %s (%s)', (val, ver, fmt) => {
    expect(fwupdVersionFromUint32(val, format(fmt))).toBe(ver);
  });
  it.each(v.fromUint24)('fu_version_from_uint24(%d) is %s (%s)', (val, ver, fmt) => {
    expect(fwupdVersionFromUint24(val, format(fmt))).toBe(ver);
  });
  it.each(v.fromUint64)('fu_version_from_uint64(%s) is %s (%s)', (val, ver, fmt) => {
    expect(fwupdVersionFromUint64(BigInt(val), format(fmt))).toBe(ver);
  });
  it.each(v.fromUint16)('fu_version_from_uint16(%d) is %s (%s)', (val, ver, fmt) => {
    expect(fwupdVersionFromUint16(val, format(fmt))).toBe(ver);
  });
  it.each(v.parseTriplet)('fu_version_parse_from_format(%s, triplet) is %s', (input, out) => {
    expect(parseFwupdVersionFromFormat(input, 'triplet')).toBe(out);
  });
  it.each(v.guessFormat)('fu_version_guess_format(%j) is %s', (input, fmt) => {
    expect(guessFwupdVersionFormat(input)).toBe(fmt);
  });
  it.each(v.verifyFormat)('fu_version_verify_format(%s, %s) is %s', (input, fmt, ok) => {
    const problem = fwupdVersionFormatProblem(input, format(fmt));
    if (ok) expect(problem).toBeUndefined();
    else expect(problem).toMatch(new RegExp(`${input} is not a valid ${fmt}`));
  });
  it.each(v.ensureSemver)('fu_version_ensure_semver(%s) is %s (%s)', (input, out, fmt) => {
    expect(fwupdEnsureSemver(input, format(fmt))).toBe(out);
  });
  it.each(v.compare)('fu_version_compare(%s %s %s, %s)', (a, op, b, fmt) => {
    expect(compareFwupdVersions(a, b, format(fmt))).toBe(SIGN[op]);
    expect(compareFwupdVersions(b, a, format(fmt))).toBe(SIGN[op] === 0 ? 0 : -SIGN[op]);
  });

  it('prints the raw versions of the real devices in the sample data as fwupd did', () => {
    // fwupd-json samples: HP System Firmware, a TPM, a USB hub, a CPU (VersionRaw -> Version).
    expect(fwupdVersionFromRaw(131162n, 'pair')).toBe('2.90');
    expect(fwupdVersionFromRaw(1970689910360832n, 'quad')).toBe('7.85.17.51968');
    expect(fwupdVersionFromUint16(20835, 'bcd')).toBe('51.63');
    expect(fwupdVersionFromRaw(222n, 'hex')).toBe('0x000000de');
    expect(fwupdVersionFromRaw(5n, 'intel-me2')).toBe('0.0.0.5');
    expect(fwupdVersionFromRaw(0x1_0000_0000n, 'dell-bios')).toBeUndefined();
  });

  it('compares plain versions byte by byte and refuses what no device reports', () => {
    expect(compareFwupdVersions('1.10', '1.9', 'plain')).toBe(-1);
    expect(compareFwupdVersions('1.10', '1.9', 'triplet')).toBe(1);
    expect(compareFwupdVersions('0xde', '0x000000df', 'hex')).toBe(-1);
    expect(() => compareFwupdVersions('', '1', 'unknown')).toThrow(
      /invalid fwupd version "": version string is empty/,
    );
    expect(() => compareFwupdVersions('1\n2', '1', 'quad')).toThrow(/control character/);
    expect(schemeForEcosystem('fwupd:dell-bios')).toBe('fwupd');
    expect(fwupdEnsureSemver('dave', 'triplet')).toBeUndefined();
    expect(fwupdEnsureSemver('0x10203', 'triplet')).toBe('0.1.515');
    expect(getScheme('fwupd').compare('P1.2', 'P1.10')).toBe(-1);
  });
});

describe('Go: golang.org/x/mod/semver tests', () => {
  const v = json<{ ordered: [string, string][]; pairs: [string, string, number][] }>(
    'go_x-mod-semver_test.json',
  );

  it.each(v.ordered)('IsValid(%s) agrees with canonical %j', (input, canonical) => {
    expect(isValidGo(input)).toBe(canonical !== '');
  });

  it('orders the table as TestCompare does (equal canonical forms compare equal)', () => {
    const valid = v.ordered.filter(([, c]) => c !== '');
    for (let i = 0; i < valid.length; i++) {
      for (let j = 0; j < valid.length; j++) {
        const want = valid[i][1] === valid[j][1] ? 0 : i < j ? -1 : 1;
        expect({ a: valid[i][0], b: valid[j][0], r: compareGo(valid[i][0], valid[j][0]) }).toEqual({
          a: valid[i][0],
          b: valid[j][0],
          r: want,
        });
      }
    }
  });

  it.each(v.pairs)('Compare(%s, %s) = %d', (a, b, r) => {
    expect(compareGo(a, b)).toBe(r);
  });

  it('reads OSV versions without the v and orders pseudo-versions by time', () => {
    expect(compareGo('0.17.0', 'v0.17.0')).toBe(0);
    expect(compareGo('v0.0.0-20191109021931-daa7c04131f5', 'v0.0.0-20200101000000-000000000000')).toBe(-1);
    expect(compareGo('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.4')).toBe(-1);
    expect(compareGo('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3')).toBe(1);
    expect(compareGo('v2.0.0+incompatible', 'v2.0.0')).toBe(0);
    expect(isGoPseudoVersion('v0.0.0-20191109021931-daa7c04131f5')).toBe(true);
    expect(isGoPseudoVersion('v1.2.3-rc.1')).toBe(false);
    expect(() => compareGo('v01.2.3', 'v1')).toThrow(
      /invalid go version "v01\.2\.3": expected a major version/,
    );
  });
});

describe('RubyGems: test_gem_version.rb', () => {
  const rows = readFileSync(path.join(fixtures, 'rubygems_test_gem_version.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t') as [string, '<' | '=' | '>', string, string]);

  it.each(rows)('%j %s %j (%s)', (a, op, b) => {
    expect(compareRubyGems(a, b)).toBe(SIGN[op]);
    expect(compareRubyGems(b, a)).toBe(SIGN[op] === 0 ? 0 : -SIGN[op]);
  });

  it('refuses what Gem::Version refuses', () => {
    expect(isValidRubyGems('junk')).toBe(false);
    expect(isValidRubyGems('1.0\n2.0')).toBe(false);
    expect(isValidRubyGems('')).toBe(false);
    expect(isValidRubyGems('1.0.0-rc.1')).toBe(true);
    expect(() => compareRubyGems('1.0', 'x')).toThrow(/invalid rubygems version "x"/);
  });
});
