/**
 * Alpine version ordering, as apk-tools does it (src/version.c of apk-tools 2.14/3.x):
 * `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}`.
 * Suffixes order as `_alpha < _beta < _pre < _rc` < (none) < `_cvs < _svn < _git < _hg < _p`.
 * A number with a leading zero (after the first) compares as a string, as in Gentoo.
 * `~hash` is a run of lowercase hex digits compared as a string.
 */
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

const enum Token {
  InitialDigit = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  CommitHash = 5,
  RevisionNo = 6,
  End = 7,
  Invalid = 8,
}

const SUFFIX_INVALID = 0;
const SUFFIX_NONE = 5;
const SUFFIXES: Readonly<Record<string, number>> = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
};

const TOKEN_NAMES: Record<number, string> = {
  [Token.InitialDigit]: 'number',
  [Token.Digit]: 'number',
  [Token.Letter]: 'letter',
  [Token.Suffix]: 'suffix',
  [Token.SuffixNo]: 'suffix number',
  [Token.CommitHash]: 'commit hash',
  [Token.RevisionNo]: 'revision',
};

/** One tokenizer over a version string (apk's `struct token_state` plus its blob). */
class Tokens {
  token: Token = Token.InitialDigit;
  suffix = SUFFIX_INVALID;
  /** The digits of a number token without leading zeros (compared by length, then as text). */
  number = '';
  valueStart = 0;
  valueEnd = 0;
  pos = 0;
  /** Why the tokenizer stopped at Invalid. */
  why = '';

  constructor(readonly s: string) {}

  private isDigitAt(i: number): boolean {
    const c = this.s.charCodeAt(i);
    return c >= 48 && c <= 57;
  }

  private parseDigits(): void {
    const start = this.pos;
    while (this.pos < this.s.length && this.isDigitAt(this.pos)) this.pos++;
    this.valueStart = start;
    this.valueEnd = this.pos;
    let nz = start;
    while (nz < this.pos && this.s.charCodeAt(nz) === 48) nz++;
    this.number = this.s.slice(nz, this.pos);
    if (this.pos === start) this.invalid('expected a number');
  }

  private invalid(why: string): void {
    this.token = Token.Invalid;
    this.why = `${why} at position ${this.pos + 1}`;
  }

  first(): void {
    this.token = Token.InitialDigit;
    this.parseDigits();
  }

  next(): void {
    const s = this.s;
    if (this.pos >= s.length) {
      this.token = Token.End;
      return;
    }
    const c = s.charCodeAt(this.pos);
    const t = this.token;
    if (c >= 97 && c <= 122) {
      if (t > Token.Digit) return this.invalid(`unexpected letter after the ${TOKEN_NAMES[t]}`);
      this.valueStart = this.pos;
      this.valueEnd = this.pos + 1;
      this.token = Token.Letter;
      this.pos++;
      return;
    }
    if (c === 46 || (c >= 48 && c <= 57)) {
      if (c === 46) {
        if (t > Token.Digit) return this.invalid(`unexpected "." after the ${TOKEN_NAMES[t]}`);
        this.pos++;
      }
      if (t === Token.InitialDigit || t === Token.Digit) this.token = Token.Digit;
      else if (t === Token.Suffix) this.token = Token.SuffixNo;
      else return this.invalid(`unexpected number after the ${TOKEN_NAMES[t]}`);
      this.parseDigits();
      return;
    }
    if (c === 95) {
      if (t > Token.SuffixNo) return this.invalid(`unexpected suffix after the ${TOKEN_NAMES[t]}`);
      this.pos++;
      const start = this.pos;
      while (this.pos < s.length) {
        const d = s.charCodeAt(this.pos);
        if (d < 97 || d > 122) break;
        this.pos++;
      }
      this.valueStart = start;
      this.valueEnd = this.pos;
      const name = s.slice(start, this.pos);
      this.suffix = Object.hasOwn(SUFFIXES, name) ? SUFFIXES[name] : SUFFIX_INVALID;
      if (this.suffix === SUFFIX_INVALID) {
        this.pos = start;
        return this.invalid(
          `unknown suffix "_${name}" (expected alpha, beta, pre, rc, cvs, svn, git, hg or p)`,
        );
      }
      this.token = Token.Suffix;
      return;
    }
    if (c === 126) {
      if (t >= Token.CommitHash) return this.invalid(`unexpected "~" after the ${TOKEN_NAMES[t]}`);
      this.pos++;
      const start = this.pos;
      while (this.pos < s.length) {
        const d = s.charCodeAt(this.pos);
        if (!((d >= 48 && d <= 57) || (d >= 97 && d <= 102))) break;
        this.pos++;
      }
      this.valueStart = start;
      this.valueEnd = this.pos;
      if (this.pos === start) return this.invalid('"~" must be followed by a lowercase hex commit hash');
      this.token = Token.CommitHash;
      return;
    }
    if (c === 45) {
      if (t >= Token.RevisionNo) return this.invalid('a second revision');
      if (s.charCodeAt(this.pos + 1) !== 114) return this.invalid('"-" must start a revision "-rN"');
      this.pos += 2;
      this.token = Token.RevisionNo;
      this.parseDigits();
      return;
    }
    this.invalid(`unexpected character ${JSON.stringify(s[this.pos])}`);
  }
}

function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** apk_blob_sort: bytewise, then the shorter first. */
function compareValues(ta: Tokens, tb: Tokens): number {
  const na = ta.valueEnd - ta.valueStart;
  const nb = tb.valueEnd - tb.valueStart;
  const n = na < nb ? na : nb;
  for (let i = 0; i < n; i++) {
    const d = ta.s.charCodeAt(ta.valueStart + i) - tb.s.charCodeAt(tb.valueStart + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return na === nb ? 0 : na < nb ? -1 : 1;
}

function tokenCompare(ta: Tokens, tb: Tokens): number {
  switch (ta.token) {
    case Token.Digit:
      if (ta.s.charCodeAt(ta.valueStart) === 48 || tb.s.charCodeAt(tb.valueStart) === 48) {
        return compareValues(ta, tb);
      }
      return compareNumbers(ta.number, tb.number);
    case Token.InitialDigit:
    case Token.SuffixNo:
    case Token.RevisionNo:
      return compareNumbers(ta.number, tb.number);
    case Token.Letter: {
      const d = ta.s.charCodeAt(ta.valueStart) - tb.s.charCodeAt(tb.valueStart);
      return d < 0 ? -1 : d > 0 ? 1 : 0;
    }
    case Token.Suffix:
      return ta.suffix < tb.suffix ? -1 : ta.suffix > tb.suffix ? 1 : 0;
    default:
      return compareValues(ta, tb);
  }
}

/**
 * apk_version_compare_fuzzy without validation: any two strings compare, as in apk-tools (an
 * invalid tail stops the comparison). With `fuzzy`, `a` equals `b` when `b` is a prefix of it
 * (apk's `~` operator).
 */
export function compareApkRaw(a: string, b: string, fuzzy = false): -1 | 0 | 1 {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  ta.first();
  tb.first();
  while (ta.token === tb.token && ta.token < Token.End) {
    const r = tokenCompare(ta, tb);
    if (r !== 0) return r < 0 ? -1 : 1;
    ta.next();
    tb.next();
  }
  if (ta.token === tb.token) return 0;
  if (tb.token === Token.End && fuzzy) return 0;
  if (ta.token === Token.Suffix && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.token === Token.Suffix && tb.suffix < SUFFIX_NONE) return 1;
  if (ta.token > tb.token) return -1;
  if (tb.token > ta.token) return 1;
  return 0;
}

/** Why `v` is not a valid apk version, or undefined (apk_version_validate). */
function problemOf(v: string): string | undefined {
  if (v.length === 0) return 'version string is empty';
  const t = new Tokens(v);
  for (t.first(); t.token < Token.End; t.next());
  return t.token === Token.End ? undefined : t.why;
}

export interface ApkVersion {
  version: string;
}

export function parseApk(v: string): ApkVersion {
  const problem = problemOf(v);
  if (problem !== undefined) throw new InvalidVersionError('apk', v, problem);
  return { version: v };
}

export function isValidApk(v: string): boolean {
  return problemOf(v) === undefined;
}

export function compareApk(a: string, b: string): -1 | 0 | 1 {
  parseApk(a);
  if (a === b) return 0;
  parseApk(b);
  return compareApkRaw(a, b);
}

export const apk: VersionSchemeImpl = {
  name: 'apk',
  parse: parseApk,
  isValid: isValidApk,
  compare: compareApk,
};
