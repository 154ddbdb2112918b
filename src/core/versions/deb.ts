/**
 * Debian version ordering, as dpkg does it (lib/dpkg/parsehelp.c `parseversion`, lib/dpkg/version.c
 * `dpkg_version_compare` / `verrevcmp`).
 *
 * Validity mirrors `dpkg --compare-versions`: what dpkg's parser reports as an error (empty version,
 * embedded blanks, a non-numeric, negative or too big epoch, nothing after the colon, an empty
 * upstream version or revision) is rejected; what it only warns about (upstream not starting with a
 * digit, characters outside the allowed set) is accepted and compared as dpkg compares it. Leading
 * and trailing blanks are ignored, as dpkg ignores them.
 *
 * The comparison works on the raw strings with index arithmetic: no regular expression and no
 * allocation on the hot path (a version with a non-ASCII character takes a slower path that
 * compares its UTF-8 bytes, as dpkg sees them).
 */
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
  /** What dpkg would warn about (it still accepts and compares the version). */
  warning?: string;
}

const INT_MAX = 2147483647;

const CH_0 = 48;
const CH_9 = 57;
const CH_TILDE = 126;
const CH_SPACE = 32;
const CH_TAB = 9;

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isBlank(c: number): boolean {
  return c === CH_SPACE || c === CH_TAB;
}

/** C isspace(), which strtol skips before the number. */
function isCSpace(c: number): boolean {
  return c === CH_SPACE || (c >= 9 && c <= 13);
}

/**
 * Bounds of the three parts of a version inside its string, filled by `locate`:
 * [epoch, upstreamStart, upstreamEnd, revisionStart, revisionEnd]. revisionStart === revisionEnd
 * when there is no revision. Two scratch buffers, one per side of a comparison.
 */
const SCRATCH_A = new Int32Array(5);
const SCRATCH_B = new Int32Array(5);

/**
 * Finds the parts of a trimmed version; returns an error text (dpkg's wording) or undefined.
 * `s` must not start or end with a blank (callers trim first). `checked` is 1 when the caller
 * already knows `s` has no blank and no NUL.
 */
function locate(s: string, out: Int32Array, checked: 0 | 1 = 0): string | undefined {
  const end = s.length;
  if (end === 0) return 'version string is empty';
  if (checked === 0) {
    for (let i = 0; i < end; i++) {
      const c = s.charCodeAt(i);
      if (isBlank(c)) return 'version string has embedded spaces';
      if (c === 0) return 'version string contains a NUL character';
    }
  }
  let start = 0;
  let epoch = 0;
  const colon = s.indexOf(':');
  if (colon !== -1) {
    // strtol(string, &end, 10): optional white space, an optional sign, then digits.
    let p = 0;
    while (p < end && isCSpace(s.charCodeAt(p))) p++;
    let negative = false;
    const sign = s.charCodeAt(p);
    if (sign === 43 || sign === 45) {
      negative = sign === 45;
      p++;
    }
    const digitsStart = p;
    let value = 0;
    while (p < end && isDigit(s.charCodeAt(p))) {
      value = value * 10 + (s.charCodeAt(p) - CH_0);
      p++;
    }
    if (p === digitsStart) return 'epoch in version is empty';
    if (p !== colon) return 'epoch in version is not number';
    if (negative && value !== 0) return 'epoch in version is negative';
    if (value > INT_MAX) return 'epoch in version is too big';
    if (colon + 1 === end) return 'nothing after colon in version number';
    epoch = value;
    start = colon + 1;
  }
  let upstreamEnd = end;
  let revisionStart = end;
  const hyphen = s.lastIndexOf('-');
  if (hyphen >= start) {
    if (hyphen + 1 === end) return 'revision number is empty';
    upstreamEnd = hyphen;
    revisionStart = hyphen + 1;
  }
  if (upstreamEnd === start) return 'upstream version is empty';
  out[0] = epoch;
  out[1] = start;
  out[2] = upstreamEnd;
  out[3] = revisionStart;
  out[4] = end;
  return undefined;
}

/** dpkg's `order()`: digits 0, letters themselves, `~` before everything, other characters after letters. */
function order(c: number): number {
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === CH_TILDE) return -1;
  if (c >= 128) return c; // a UTF-8 byte as dpkg's signed char: (c - 256) + 256
  return c + 256;
}

/** dpkg's verrevcmp over s1[a..aEnd) and s2[b..bEnd); the end of a range reads as NUL. */
function verrevcmp(s1: string, a: number, aEnd: number, s2: string, b: number, bEnd: number): number {
  while (a < aEnd || b < bEnd) {
    let firstDiff = 0;
    for (;;) {
      const ca = a < aEnd ? s1.charCodeAt(a) : 0;
      const cb = b < bEnd ? s2.charCodeAt(b) : 0;
      if (!((ca !== 0 && !isDigit(ca)) || (cb !== 0 && !isDigit(cb)))) break;
      const oa = ca === 0 ? 0 : order(ca);
      const ob = cb === 0 ? 0 : order(cb);
      if (oa !== ob) return oa - ob;
      a++;
      b++;
    }
    while (a < aEnd && s1.charCodeAt(a) === CH_0) a++;
    while (b < bEnd && s2.charCodeAt(b) === CH_0) b++;
    for (;;) {
      const ca = a < aEnd ? s1.charCodeAt(a) : 0;
      const cb = b < bEnd ? s2.charCodeAt(b) : 0;
      if (!(isDigit(ca) && isDigit(cb))) break;
      if (firstDiff === 0) firstDiff = ca - cb;
      a++;
      b++;
    }
    if (a < aEnd && isDigit(s1.charCodeAt(a))) return 1;
    if (b < bEnd && isDigit(s2.charCodeAt(b))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isBlank(s.charCodeAt(start))) start++;
  while (end > start && isBlank(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function needsTrim(s: string): boolean {
  const n = s.length;
  return n > 0 && (isBlank(s.charCodeAt(0)) || isBlank(s.charCodeAt(n - 1)));
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return true;
  return false;
}

const encoder = new TextEncoder();

/** The string dpkg sees: one character per UTF-8 byte. */
function asBytes(s: string): string {
  const bytes = encoder.encode(s);
  let out = '';
  for (const byte of bytes) out += String.fromCharCode(byte);
  return out;
}

/**
 * The common case in one pass: printable ASCII, an epoch of plain digits if any, non-empty parts.
 * Returns false when the version needs the full treatment (trimming, bytes, or an error message).
 */
function locateFast(s: string, out: Int32Array): boolean {
  const end = s.length;
  let colon = -1;
  let hyphen = -1;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c <= CH_SPACE || c >= 127) return false;
    if (c === 58) {
      if (colon === -1) colon = i;
    } else if (c === 45) hyphen = i;
  }
  let epoch = 0;
  if (colon !== -1) {
    if (colon === 0 || colon > 10 || colon + 1 === end) return false;
    for (let i = 0; i < colon; i++) {
      const c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) return false;
      epoch = epoch * 10 + (c - CH_0);
    }
    if (epoch > INT_MAX) return false;
  }
  const start = colon + 1;
  let upstreamEnd = end;
  let revisionStart = end;
  if (hyphen >= start) {
    if (hyphen + 1 === end) return false;
    upstreamEnd = hyphen;
    revisionStart = hyphen + 1;
  }
  if (upstreamEnd === start) return false;
  out[0] = epoch;
  out[1] = start;
  out[2] = upstreamEnd;
  out[3] = revisionStart;
  out[4] = end;
  return true;
}

function prepare(v: string): string {
  let s = needsTrim(v) ? trimBlanks(v) : v;
  if (hasNonAscii(s)) s = asBytes(s);
  return s;
}

/** The full path: trims blanks, reads non-ASCII as UTF-8 bytes; returns the string to compare. */
function locateSlow(v: string, out: Int32Array): string {
  const s = prepare(v);
  const err = locate(s, out);
  if (err !== undefined) throw new InvalidVersionError('deb', v, err);
  return s;
}

/**
 * Compares two Debian versions: negative, 0 or positive, like dpkg. Throws InvalidVersionError for
 * a version dpkg rejects.
 */
export function compareDebRaw(a: string, b: string): number {
  const sa = locateFast(a, SCRATCH_A) ? a : locateSlow(a, SCRATCH_A);
  if (a === b) return 0;
  const sb = locateFast(b, SCRATCH_B) ? b : locateSlow(b, SCRATCH_B);
  const ea = SCRATCH_A[0];
  const eb = SCRATCH_B[0];
  if (ea !== eb) return ea > eb ? 1 : -1;
  const r = verrevcmp(sa, SCRATCH_A[1], SCRATCH_A[2], sb, SCRATCH_B[1], SCRATCH_B[2]);
  if (r !== 0) return r;
  return verrevcmp(sa, SCRATCH_A[3], SCRATCH_A[4], sb, SCRATCH_B[3], SCRATCH_B[4]);
}

export function compareDeb(a: string, b: string): -1 | 0 | 1 {
  const r = compareDebRaw(a, b);
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}

/** What dpkg would warn about for an accepted version, in dpkg's words. */
function warningOf(upstream: string, revision: string): string | undefined {
  const first = upstream.charCodeAt(0);
  if (!isDigit(first)) return 'version number does not start with digit';
  for (let i = 1; i < upstream.length; i++) {
    const c = upstream.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && '.-+~:'.indexOf(upstream[i]) === -1) {
      return 'invalid character in version number';
    }
  }
  for (let i = 0; i < revision.length; i++) {
    const c = revision.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && '.+~'.indexOf(revision[i]) === -1) {
      return 'invalid character in revision number';
    }
  }
  return undefined;
}

export function parseDeb(v: string): DebVersion {
  const s = needsTrim(v) ? trimBlanks(v) : v;
  const out = new Int32Array(5);
  const err = locate(s, out);
  if (err !== undefined) throw new InvalidVersionError('deb', v, err);
  const upstream = s.slice(out[1], out[2]);
  const revision = s.slice(out[3], out[4]);
  const parsed: DebVersion = { epoch: out[0], upstream, revision };
  const warning = warningOf(upstream, revision);
  if (warning !== undefined) parsed.warning = warning;
  return parsed;
}

export function isValidDeb(v: string): boolean {
  return locateFast(v, SCRATCH_A) || locate(needsTrim(v) ? trimBlanks(v) : v, SCRATCH_A) === undefined;
}

export const deb: VersionSchemeImpl = {
  name: 'deb',
  parse: parseDeb,
  isValid: isValidDeb,
  compare: compareDeb,
};
