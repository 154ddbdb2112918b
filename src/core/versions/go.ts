/**
 * Go module version ordering, as golang.org/x/mod/semver does it: `vMAJOR[.MINOR[.PATCH]]` with
 * `-prerelease` and `+build` only after a full `vMAJOR.MINOR.PATCH`; `v1` and `v1.2` are short
 * for `v1.0.0` and `v1.2.0`; no leading zeros in numbers; build metadata (`+incompatible`) does
 * not count. Pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) are prereleases and order by
 * their timestamp.
 *
 * go.sum and `go list` write the `v`; OSV's Go records leave it out (`"fixed": "0.17.0"`): both
 * spellings are accepted and mean the same version.
 */
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

export interface GoVersion {
  major: string;
  minor: string;
  patch: string;
  /** Without the leading `-`; '' for a release. */
  prerelease: string;
  /** Without the leading `+`; '' when absent. */
  build: string;
}

const MAX_LENGTH = 256;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
}

/** Reads a number at `i`: digits, no leading zero unless it is `0`. Returns the end or -1. */
function readInt(s: string, i: number): number {
  let j = i;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  if (j === i) return -1;
  if (s.charCodeAt(i) === 48 && j - i > 1) return -1;
  return j;
}

function isNumeric(id: string): boolean {
  for (let i = 0; i < id.length; i++) if (!isDigit(id.charCodeAt(i))) return false;
  return id.length > 0;
}

/** Dot-separated identifiers of [0-9A-Za-z-]; `numericNoLeadingZero` for prereleases. */
function identifiersProblem(ids: string, what: string, numericNoLeadingZero: boolean): string | undefined {
  for (const id of ids.split('.')) {
    if (id.length === 0) return `empty ${what} identifier`;
    for (let i = 0; i < id.length; i++) {
      if (!isIdentChar(id.charCodeAt(i))) return `${what} may hold only letters, digits, - and .`;
    }
    if (numericNoLeadingZero && isNumeric(id) && id.length > 1 && id.charCodeAt(0) === 48) {
      return `numeric ${what} identifier ${id} has a leading zero`;
    }
  }
  return undefined;
}

function parse(input: string): GoVersion | string {
  if (input.length === 0) return 'version string is empty';
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const s = input.charCodeAt(0) === 118 ? input : `v${input}`;
  let i = 1;
  const majorEnd = readInt(s, i);
  if (majorEnd === -1) return 'expected a major version number without leading zeros after "v"';
  const major = s.slice(i, majorEnd);
  i = majorEnd;
  if (i === s.length) return { major, minor: '0', patch: '0', prerelease: '', build: '' };
  if (s[i] !== '.') return `unexpected ${JSON.stringify(s[i])} after the major version`;
  const minorEnd = readInt(s, i + 1);
  if (minorEnd === -1) return 'expected a minor version number without leading zeros';
  const minor = s.slice(i + 1, minorEnd);
  i = minorEnd;
  if (i === s.length) return { major, minor, patch: '0', prerelease: '', build: '' };
  if (s[i] !== '.')
    return `unexpected ${JSON.stringify(s[i])} after the minor version (a prerelease needs MAJOR.MINOR.PATCH)`;
  const patchEnd = readInt(s, i + 1);
  if (patchEnd === -1) return 'expected a patch version number without leading zeros';
  const patch = s.slice(i + 1, patchEnd);
  i = patchEnd;
  let prerelease = '';
  let build = '';
  if (i < s.length && s[i] === '-') {
    const end = s.indexOf('+', i);
    prerelease = s.slice(i + 1, end === -1 ? s.length : end);
    const problem = identifiersProblem(prerelease, 'prerelease', true);
    if (problem !== undefined) return problem;
    i = end === -1 ? s.length : end;
  }
  if (i < s.length && s[i] === '+') {
    build = s.slice(i + 1);
    const problem = identifiersProblem(build, 'build', false);
    if (problem !== undefined) return problem;
    i = s.length;
  }
  if (i !== s.length) return `unexpected ${JSON.stringify(s[i])} after the patch version`;
  return { major, minor, patch, prerelease, build };
}

export function parseGo(v: string): GoVersion {
  const parsed = parse(v);
  if (typeof parsed === 'string') throw new InvalidVersionError('go', v, parsed);
  return parsed;
}

export function isValidGo(v: string): boolean {
  return typeof parse(v) !== 'string';
}

function compareInt(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : 1;
}

/** semver's prerelease precedence; '' (a release) is above every prerelease. */
function comparePrerelease(x: string, y: string): -1 | 0 | 1 {
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  const xs = x.split('.');
  const ys = y.split('.');
  for (let i = 0; i < xs.length && i < ys.length; i++) {
    const dx = xs[i];
    const dy = ys[i];
    if (dx === dy) continue;
    const nx = isNumeric(dx);
    const ny = isNumeric(dy);
    if (nx !== ny) return nx ? -1 : 1;
    if (nx) return compareInt(dx, dy);
    return dx < dy ? -1 : 1;
  }
  return xs.length === ys.length ? 0 : xs.length < ys.length ? -1 : 1;
}

export function compareGoParsed(a: GoVersion, b: GoVersion): -1 | 0 | 1 {
  return (
    compareInt(a.major, b.major) ||
    compareInt(a.minor, b.minor) ||
    compareInt(a.patch, b.patch) ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}

export function compareGo(a: string, b: string): -1 | 0 | 1 {
  return compareGoParsed(parseGo(a), parseGo(b));
}

/** Whether a Go version is a pseudo-version (a commit, not a tag): vX.Y.Z-[0.]yyyymmddhhmmss-abcdef123456. */
export function isGoPseudoVersion(v: string): boolean {
  const parsed = parse(v);
  if (typeof parsed === 'string') return false;
  return /(?:^|\.)\d{14}-[0-9a-f]{12}$/.test(parsed.prerelease);
}

export const go: VersionSchemeImpl = {
  name: 'go',
  parse: parseGo,
  isValid: isValidGo,
  compare: compareGo,
};
