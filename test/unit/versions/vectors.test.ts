import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareApkRaw, isValidApk } from '../../../src/core/versions/apk.js';
import { getScheme } from '../../../src/core/versions/index.js';
import { rpmvercmp } from '../../../src/core/versions/rpm.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/versions');

function rows(file: string): string[][] {
  return readFileSync(path.join(fixtures, file), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

interface Vector {
  a: string;
  op: string;
  b: string;
  expected: boolean;
  line: string;
}

function vectors(file: string): Vector[] {
  return rows(file).map(([a, op, b, expected, line]) => ({
    a: a,
    op: op,
    b: b,
    expected: expected === 'true',
    line: line,
  }));
}

function holds(op: string, r: number): boolean {
  switch (op) {
    case '<':
      return r < 0;
    case '>':
      return r > 0;
    case '=':
      return r === 0;
    case '<=':
      return r <= 0;
    case '>=':
      return r >= 0;
    default:
      throw new Error(`unknown op ${op}`);
  }
}

describe('dpkg vectors', () => {
  const deb = getScheme('deb');
  const all = [...vectors('dpkg_Dpkg_Version_t.tsv'), ...vectors('dpkg_t-version_c.tsv')];
  it.each(all)('$a $op $b is $expected (line $line)', ({ a, op, b, expected }) => {
    expect(holds(op, deb.compare(a, b))).toBe(expected);
    // antisymmetry
    expect(deb.compare(b, a) + deb.compare(a, b)).toBe(0);
  });
});

describe('rpm vectors', () => {
  const all = [...vectors('rpm_rpmvercmp_at.tsv'), ...vectors('rpm_rpmvercmp_at_oddities_disabled.tsv')];
  it.each(all)('rpmvercmp($a, $b) $op is $expected (line $line)', ({ a, op, b, expected }) => {
    expect(holds(op, rpmvercmp(a, b))).toBe(expected);
    expect(holds(op, getScheme('rpm').compare(a, b))).toBe(expected);
  });
});

describe('apk vectors', () => {
  const all = vectors('apk_version_data.tsv');
  it.each(all)('$a $op $b is $expected (line $line)', ({ a, op, b, expected }) => {
    let result: boolean;
    if (op.includes('~')) {
      // apk's fuzzy match: `~` is equal-or-prefix, `<~` / `>~` add less / greater.
      const r = compareApkRaw(a, b, true);
      result =
        (r === 0 && op.includes('~')) || (op.startsWith('<') && r < 0) || (op.startsWith('>') && r > 0);
    } else {
      result = holds(op, compareApkRaw(a, b));
      if (isValidApk(a) && isValidApk(b)) expect(holds(op, getScheme('apk').compare(a, b))).toBe(expected);
    }
    expect(result).toBe(expected);
  });

  it.each(
    rows('apk_version_data_validity.tsv').map(([v, valid, line]) => ({
      v: v,
      valid: valid === 'true',
      line,
    })),
  )('validity of "$v" is $valid (line $line)', ({ v, valid }) => {
    expect(isValidApk(v)).toBe(valid);
    if (valid) expect(() => getScheme('apk').parse(v)).not.toThrow();
    else expect(() => getScheme('apk').parse(v)).toThrow(/invalid apk version/);
  });
});
