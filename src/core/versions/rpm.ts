/**
 * RPM version ordering: `rpmvercmp` as in rpm >= 4.15 (rpmio/rpmvercmp.c, with `~` sorting before
 * everything and `^` after the base version but before any further segment), and EVR strings
 * `[epoch:]version[-release]` split as rpm's `parseEVR` does and compared as rpm 4.18's version
 * objects (`rpm.ver`) compare: epochs (missing = 0), then versions, then releases, where a missing
 * release sorts before any release.
 *
 * rpm itself accepts any non-empty string; patchbot also rejects what no package can carry: white
 * space or control characters, an empty version, an empty release after `-`, an empty epoch.
 */
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

export interface RpmVersion {
  /** undefined when the EVR has no epoch (compares as 0). */
  epoch: string | undefined;
  version: string;
  /** undefined when the EVR has no release (it then sorts before any release). */
  release: string | undefined;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isAlnum(c: number): boolean {
  return isDigit(c) || isAlpha(c);
}

const TILDE = 126;
const CARET = 94;

/** rpmvercmp(a, b): -1, 0 or 1. Any two strings compare (rpm does not validate here). */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const la = a.length;
  const lb = b.length;
  let one = 0;
  let two = 0;
  const at = (s: string, i: number, n: number): number => (i < n ? s.charCodeAt(i) : 0);

  while (one < la || two < lb) {
    while (
      one < la &&
      !isAlnum(a.charCodeAt(one)) &&
      a.charCodeAt(one) !== TILDE &&
      a.charCodeAt(one) !== CARET
    )
      one++;
    while (
      two < lb &&
      !isAlnum(b.charCodeAt(two)) &&
      b.charCodeAt(two) !== TILDE &&
      b.charCodeAt(two) !== CARET
    )
      two++;
    const c1 = at(a, one, la);
    const c2 = at(b, two, lb);

    // `~` sorts before everything, even the end of the string.
    if (c1 === TILDE || c2 === TILDE) {
      if (c1 !== TILDE) return 1;
      if (c2 !== TILDE) return -1;
      one++;
      two++;
      continue;
    }
    // `^` sorts after the end of the string but before any other segment.
    if (c1 === CARET || c2 === CARET) {
      if (c1 === 0) return -1;
      if (c2 === 0) return 1;
      if (c1 !== CARET) return 1;
      if (c2 !== CARET) return -1;
      one++;
      two++;
      continue;
    }
    if (!(c1 !== 0 && c2 !== 0)) break;

    let str1 = one;
    let str2 = two;
    let isNum: boolean;
    if (isDigit(c1)) {
      while (str1 < la && isDigit(a.charCodeAt(str1))) str1++;
      while (str2 < lb && isDigit(b.charCodeAt(str2))) str2++;
      isNum = true;
    } else {
      while (str1 < la && isAlpha(a.charCodeAt(str1))) str1++;
      while (str2 < lb && isAlpha(b.charCodeAt(str2))) str2++;
      isNum = false;
    }
    if (one === str1) return -1; // cannot happen: the first string has a non-empty segment
    // Segments of different types: numeric is newer than alpha.
    if (two === str2) return isNum ? 1 : -1;

    let s1 = one;
    let s2 = two;
    if (isNum) {
      while (s1 < str1 && a.charCodeAt(s1) === 48) s1++;
      while (s2 < str2 && b.charCodeAt(s2) === 48) s2++;
      const len1 = str1 - s1;
      const len2 = str2 - s2;
      if (len1 > len2) return 1;
      if (len2 > len1) return -1;
    }
    // strcmp of the two segments
    const n1 = str1 - s1;
    const n2 = str2 - s2;
    const n = n1 < n2 ? n1 : n2;
    for (let i = 0; i < n; i++) {
      const d = a.charCodeAt(s1 + i) - b.charCodeAt(s2 + i);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    if (n1 !== n2) return n1 < n2 ? -1 : 1;
    one = str1;
    two = str2;
  }
  if (one >= la && two >= lb) return 0;
  return one >= la ? -1 : 1;
}

/** rpm's parseEVR: leading digits followed by `:` are the epoch; the last `-` starts the release. */
function splitEvr(evr: string): RpmVersion {
  let s = 0;
  while (s < evr.length && isDigit(evr.charCodeAt(s))) s++;
  const hyphen = evr.lastIndexOf('-');
  const se = hyphen >= s ? hyphen : -1;
  let epoch: string | undefined;
  let versionStart = 0;
  if (evr.charCodeAt(s) === 58) {
    epoch = s === 0 ? '0' : evr.slice(0, s);
    versionStart = s + 1;
  }
  if (se !== -1) return { epoch, version: evr.slice(versionStart, se), release: evr.slice(se + 1) };
  return { epoch, version: evr.slice(versionStart), release: undefined };
}

function problemOf(v: string): string | undefined {
  if (v.length === 0) return 'version string is empty';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c === 127) return 'contains white space or a control character';
  }
  const parsed = splitEvr(v);
  if (v.charCodeAt(0) === 58) return 'epoch before ":" is empty';
  if (parsed.version.length === 0) return 'version part is empty';
  if (parsed.release !== undefined && parsed.release.length === 0) return 'release after "-" is empty';
  return undefined;
}

export function parseRpm(v: string): RpmVersion {
  const problem = problemOf(v);
  if (problem !== undefined) throw new InvalidVersionError('rpm', v, problem);
  return splitEvr(v);
}

export function isValidRpm(v: string): boolean {
  return problemOf(v) === undefined;
}

/** Compares two parsed EVRs as rpm's version objects do. */
export function compareRpmEvr(x: RpmVersion, y: RpmVersion): -1 | 0 | 1 {
  const r = rpmvercmp(x.epoch ?? '0', y.epoch ?? '0');
  if (r !== 0) return r;
  const rv = rpmvercmp(x.version, y.version);
  if (rv !== 0) return rv;
  if (x.release !== undefined && y.release !== undefined) return rpmvercmp(x.release, y.release);
  if (x.release === y.release) return 0;
  return x.release === undefined ? -1 : 1;
}

export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  const x = parseRpm(a);
  if (a === b) return 0;
  return compareRpmEvr(x, parseRpm(b));
}

export const rpm: VersionSchemeImpl = {
  name: 'rpm',
  parse: parseRpm,
  isValid: isValidRpm,
  compare: compareRpm,
};
