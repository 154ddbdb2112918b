/**
 * RubyGems version ordering, as `Gem::Version#<=>` does it (rubygems/version.rb):
 * - valid: `N(.X)*` then an optional `-pre(.x)*`, letters and digits (`1.0.0.rc1`, `2.0-beta.2`);
 *   surrounding white space is ignored; `-` means `.pre.` (`1.0-x` is `1.0.pre.x`);
 * - the version is read as segments: runs of digits (numbers) and runs of letters (strings);
 * - trailing zeros of the numeric part and of the part after the first string are dropped
 *   (`1.0` = `1`, `1.0.a.0` = `1.a`);
 * - segments compare left to right, a missing one counting as 0; a string is below any number
 *   (`1.0.a` < `1.0`: a prerelease), strings compare bytewise, numbers numerically.
 *
 * Ruby reads an empty string as "0"; patchbot refuses it (no gem has an empty version).
 */
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

/** A segment: a number (its digits without leading zeros) or a string. */
type Segment = { n: string } | { s: string };

const MAX_LENGTH = 256;

// Ruby's \s: space, \t, \n, \v, \f, \r.
const PATTERN =
  /^[ \t\n\v\f\r]*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)[ \t\n\v\f\r]*$/;

function problemOf(v: string): string | undefined {
  if (v.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  if (v.trim().length === 0) return 'version string is empty';
  if (!PATTERN.test(v)) {
    return 'not a RubyGems version (N(.X)* with an optional -prerelease, letters and digits only)';
  }
  return undefined;
}

function segmentsOf(v: string): Segment[] {
  const body = (PATTERN.exec(v)?.[1] ?? '').replace(/-/g, '.pre.');
  const out: Segment[] = [];
  for (const m of body.matchAll(/[0-9]+|[a-z]+/gi)) {
    const t = m[0];
    if (/^[0-9]/.test(t)) out.push({ n: t.replace(/^0+(?=.)/, '') });
    else out.push({ s: t });
  }
  return out;
}

const isZero = (x: Segment): boolean => 'n' in x && x.n === '0';

/** Gem::Version#canonical_segments. */
export function canonicalRubyGemsSegments(v: string): Segment[] {
  const segments = segmentsOf(v);
  const firstString = segments.findIndex((x) => 's' in x);
  const numeric = firstString === -1 ? segments : segments.slice(0, firstString);
  const rest = firstString === -1 ? [] : segments.slice(firstString);
  const trim = (xs: Segment[]): Segment[] => {
    let end = xs.length;
    while (end > 0 && isZero(xs[end - 1])) end--;
    return xs.slice(0, end);
  };
  return [...trim(numeric), ...trim(rest)];
}

export function parseRubyGems(v: string): { segments: Segment[] } {
  const problem = problemOf(v);
  if (problem !== undefined) throw new InvalidVersionError('rubygems', v, problem);
  return { segments: canonicalRubyGemsSegments(v) };
}

export function isValidRubyGems(v: string): boolean {
  return problemOf(v) === undefined;
}

function compareNumbers(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : 1;
}

function compareStrings(a: string, b: string): -1 | 0 | 1 {
  // Ruby's String#<=> is bytewise; these are ASCII letters.
  return a === b ? 0 : a < b ? -1 : 1;
}

const ZERO: Segment = { n: '0' };

export function compareRubyGems(a: string, b: string): -1 | 0 | 1 {
  const x = parseRubyGems(a).segments;
  const y = parseRubyGems(b).segments;
  const limit = Math.max(x.length, y.length);
  for (let i = 0; i < limit; i++) {
    const l = x[i] ?? ZERO;
    const r = y[i] ?? ZERO;
    if ('s' in l) {
      if ('n' in r) return -1;
      const c = compareStrings(l.s, r.s);
      if (c !== 0) return c;
    } else {
      if ('s' in r) return 1;
      const c = compareNumbers(l.n, r.n);
      if (c !== 0) return c;
    }
  }
  return 0;
}

export const rubygems: VersionSchemeImpl = {
  name: 'rubygems',
  parse: parseRubyGems,
  isValid: isValidRubyGems,
  compare: compareRubyGems,
};
