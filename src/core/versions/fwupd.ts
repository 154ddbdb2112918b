/**
 * Firmware version ordering and formatting as fwupd does it (libfwupdplugin/fu-version-common.c):
 *
 * - A device reports its version as a string and, often, the raw integer the hardware gave
 *   (`VersionRaw`, e.g. the UEFI ESRT value) together with a `VersionFormat` saying how to print it:
 *   `quad` AA.BB.CC.DD, `triplet` AA.BB.CCDD, `pair` AABB.CCDD, `bcd`, `intel-me`, `hex` 0x%08x...
 *   (`fwupdVersionFromUint16/24/32/64`).
 * - Comparing (`compareFwupdVersions`, fu_version_compare): `plain` compares the strings byte by
 *   byte; `hex` first turns a number into `0x%08x`; every other format splits on `.` and compares
 *   each part as a decimal integer (strtoll), then any text left in the part character by
 *   character with `~` lower than anything, even the end (`1.2.3~rc1` < `1.2.3` < `1.2.3a`). A
 *   version with fewer parts is lower (`1.2.3` < `1.2.3.1`); leading zeros do not count.
 *
 * fwupd compares any two strings; patchbot only refuses what no device reports: an empty string,
 * control characters, more than 256 characters.
 */
import { InvalidVersionError } from '../errors.js';
import type { FirmwareVersionFormat } from '../model.js';
import type { VersionSchemeImpl } from './scheme.js';

/** fwupd's `FwupdVersionFormat` names (libfwupd/fwupd-enums), in enum order. */
export const FWUPD_VERSION_FORMATS = [
  'unknown',
  'plain',
  'number',
  'pair',
  'triplet',
  'quad',
  'bcd',
  'intel-me',
  'intel-me2',
  'surface-legacy',
  'surface',
  'dell-bios',
  'hex',
  'dell-bios-msb',
  'intel-csme19',
  'compal-bios',
] as const satisfies readonly FirmwareVersionFormat[];

export type FwupdVersionFormat = FirmwareVersionFormat;

// Every format of the model is listed above.
type Unlisted = Exclude<FirmwareVersionFormat, (typeof FWUPD_VERSION_FORMATS)[number]>;
const ALL_LISTED: Unlisted extends never ? true : never = true;
void ALL_LISTED;

const FORMAT_SET: ReadonlySet<string> = new Set(FWUPD_VERSION_FORMATS);

export function isFwupdVersionFormat(name: string): name is FwupdVersionFormat {
  return FORMAT_SET.has(name);
}

const MAX_LENGTH = 256;

function bcd(byte: number): number {
  return ((byte >> 4) & 0x0f) * 10 + (byte & 0x0f);
}

function hex(value: number | bigint, width: number): string {
  return value.toString(16).padStart(width, '0');
}

function unsupported(format: FwupdVersionFormat, bits: number): never {
  throw new InvalidVersionError(
    'fwupd',
    format,
    `fwupd cannot print a ${bits}-bit raw version in the ${format} format`,
  );
}

/** fu_version_from_uint16. */
export function fwupdVersionFromUint16(val: number, format: FwupdVersionFormat): string {
  const v = val & 0xffff;
  switch (format) {
    case 'bcd':
      return `${bcd(v >> 8)}.${bcd(v & 0xff)}`;
    case 'pair':
      return `${(v >> 8) & 0xff}.${v & 0xff}`;
    case 'triplet':
      return `${(v >> 12) & 0xf}.${(v >> 8) & 0xf}.${v & 0xff}`;
    case 'number':
    case 'plain':
      return String(v);
    case 'hex':
      return `0x${hex(v, 4)}`;
    case 'compal-bios':
      return `${hex((v >> 8) & 0xff, 2)}.${hex(v & 0xff, 2)}`;
    default:
      return unsupported(format, 16);
  }
}

/** fu_version_from_uint24. */
export function fwupdVersionFromUint24(val: number, format: FwupdVersionFormat): string {
  const v = val >>> 0;
  switch (format) {
    case 'triplet':
      return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${v & 0xffff}`;
    case 'pair':
      return `${(v >>> 16) & 0xff}.${v & 0xffff}`;
    case 'number':
    case 'plain':
      return String(v);
    case 'hex':
      return `0x${hex(v, 6)}`;
    default:
      return unsupported(format, 24);
  }
}

/** fu_version_from_uint32. */
export function fwupdVersionFromUint32(val: number, format: FwupdVersionFormat): string {
  const v = val >>> 0;
  const b3 = (v >>> 24) & 0xff;
  const b2 = (v >>> 16) & 0xff;
  const b1 = (v >>> 8) & 0xff;
  const b0 = v & 0xff;
  switch (format) {
    case 'quad':
      return `${b3}.${b2}.${b1}.${b0}`;
    case 'triplet':
      return `${b3}.${b2}.${v & 0xffff}`;
    case 'pair':
      return `${(v >>> 16) & 0xffff}.${v & 0xffff}`;
    case 'number':
    case 'plain':
      return String(v);
    case 'bcd':
      return `${bcd(b3)}.${bcd(b2)}.${bcd(b1)}.${bcd(b0)}`;
    case 'intel-me':
      return `${((v >>> 29) & 0x07) + 0x0b}.${(v >>> 24) & 0x1f}.${b2}.${v & 0xffff}`;
    case 'intel-csme19':
      return `${((v >>> 29) & 0x07) + 19}.${(v >>> 24) & 0x1f}.${b2}.${v & 0xffff}`;
    case 'intel-me2':
      return `${(v >>> 28) & 0x0f}.${(v >>> 24) & 0x0f}.${b2}.${v & 0xffff}`;
    case 'surface-legacy':
      return `${(v >>> 22) & 0x3ff}.${(v >>> 10) & 0xfff}.${v & 0x3ff}`;
    case 'surface':
      return `${b3}.${(v >>> 8) & 0xffff}.${b0}`;
    case 'dell-bios':
      return `${b2}.${b1}.${b0}`;
    case 'dell-bios-msb':
      return `${b3}.${b2}.${b1}`;
    case 'hex':
      return `0x${hex(v, 8)}`;
    case 'compal-bios':
      return `${hex(b1, 2)}.${hex(b0, 2)}`;
    default:
      return unsupported(format, 32);
  }
}

/** fu_version_from_uint64. */
export function fwupdVersionFromUint64(val: bigint, format: FwupdVersionFormat): string {
  const v = BigInt.asUintN(64, val);
  const part = (shift: bigint, mask: bigint): bigint => (v >> shift) & mask;
  switch (format) {
    case 'quad':
      return `${part(48n, 0xffffn)}.${part(32n, 0xffffn)}.${part(16n, 0xffffn)}.${part(0n, 0xffffn)}`;
    case 'pair':
      return `${part(32n, 0xffffffffn)}.${part(0n, 0xffffffffn)}`;
    case 'number':
    case 'plain':
      return v.toString();
    case 'hex':
      return `0x${hex(v, 16)}`;
    case 'compal-bios':
      return `${hex(part(8n, 0xffn), 2)}.${hex(part(0n, 0xffn), 2)}`;
    default:
      return unsupported(format, 64);
  }
}

/**
 * A device's raw version as fwupd prints it: values that fit in 32 bits through
 * fu_version_from_uint32, larger ones (a TPM's four 16-bit parts) through fu_version_from_uint64.
 * undefined when fwupd has no printing of that size for the format.
 */
export function fwupdVersionFromRaw(raw: bigint, format: FwupdVersionFormat): string | undefined {
  try {
    return raw <= 0xffffffffn
      ? fwupdVersionFromUint32(Number(raw), format)
      : fwupdVersionFromUint64(raw, format);
  } catch (err) {
    if (err instanceof InvalidVersionError) return undefined;
    throw err;
  }
}

function isDigits(s: string): boolean {
  if (s.length === 0) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const HEX_DIGITS = /^[0-9a-fA-F]+$/;

/**
 * fu_version_parse_from_format: a plain integer (decimal, or hex with `0x`) up to 32 bits becomes
 * the dotted form of `format`; anything with a dot, a YYYYMMDD date, zero, or text stays as it is.
 */
export function parseFwupdVersionFromFormat(version: string, format: FwupdVersionFormat): string {
  if (version.includes('.')) return version;
  if (version.startsWith('20') && version.length === 8) return version;
  let value: number;
  if (version.startsWith('0x')) {
    const digits = version.slice(2);
    if (!HEX_DIGITS.test(digits)) return version;
    value = Number.parseInt(digits, 16);
  } else {
    if (version.length === 0 || !isDigits(version)) return version;
    value = Number(version);
  }
  if (!Number.isSafeInteger(value) || value > 0xffffffff || value === 0) return version;
  try {
    return fwupdVersionFromUint32(value, format);
  } catch (err) {
    if (err instanceof InvalidVersionError) return version;
    throw err;
  }
}

/**
 * fu_version_guess_format: no dot and digits (or `0x...`) is `number`, other hex digits `hex`,
 * other text `plain`; 2, 3, 4 numeric parts are `pair`, `triplet`, `quad`; a non-numeric part is
 * `plain`; more parts `unknown`.
 */
export function guessFwupdVersionFormat(version: string): FwupdVersionFormat {
  if (version.length === 0) return 'unknown';
  const split = version.split('.');
  if (split.length === 1) {
    if (version.startsWith('0x') || isDigits(version)) return 'number';
    if (HEX_DIGITS.test(version)) return 'hex';
    return 'plain';
  }
  for (const part of split) if (!isDigits(part)) return 'plain';
  if (split.length === 2) return 'pair';
  if (split.length === 3) return 'triplet';
  if (split.length === 4) return 'quad';
  return 'unknown';
}

const BASE_FORMAT: Partial<Record<FwupdVersionFormat, FwupdVersionFormat>> = {
  'intel-me': 'quad',
  'intel-me2': 'quad',
  'intel-csme19': 'quad',
  'dell-bios': 'triplet',
  'dell-bios-msb': 'triplet',
  bcd: 'pair',
  'compal-bios': 'pair',
  hex: 'number',
};

/**
 * fu_version_verify_format: why `version` does not look like `format` ("2.90 is not a valid
 * triplet (guessed pair)"), or undefined when it does (always for `plain` and `unknown`).
 */
export function fwupdVersionFormatProblem(version: string, format: FwupdVersionFormat): string | undefined {
  if (format === 'plain' || format === 'unknown') return undefined;
  const base = BASE_FORMAT[format] ?? format;
  const guessed = guessFwupdVersionFormat(version);
  if (guessed === base) return undefined;
  if (format === 'hex' && guessed === 'hex') return undefined;
  return `${version} is not a valid ${format} (guessed ${guessed})`;
}

const SECTIONS: Partial<Record<FwupdVersionFormat, number>> = {
  plain: 1,
  number: 1,
  hex: 1,
  pair: 2,
  bcd: 2,
  triplet: 3,
  'surface-legacy': 3,
  surface: 3,
  'dell-bios': 3,
  'dell-bios-msb': 3,
  quad: 4,
  'intel-me': 4,
  'intel-me2': 4,
};

/**
 * fu_version_ensure_semver: a dotted-decimal version from a "crazy" one (`CBET1.2.3` -> `1.2.3`,
 * `4.11-1190-g12d8072e6b-dirty` -> `4.11.1190` as a triplet), with as many sections as the format
 * has (missing ones are zeros in front: `1.2` -> `0.1.2`). undefined when it holds no digit.
 */
export function fwupdEnsureSemver(
  version: string,
  format: FwupdVersionFormat = 'unknown',
): string | undefined {
  let safe: string;
  if (version.startsWith('0x')) {
    safe = parseFwupdVersionFromFormat(version, 'triplet');
  } else {
    let out = '';
    let digits = 0;
    let dotValid = false;
    for (let i = 0; i < version.length; i++) {
      const c = version[i];
      if (c >= '0' && c <= '9') {
        out += c;
        digits++;
        dotValid = true;
      } else if (c === '-' || c === '~') {
        out += '.';
        dotValid = false;
      } else if (c === '.' && dotValid && i + 1 < version.length) {
        out += c;
        dotValid = false;
      }
    }
    if (out.endsWith('.')) out = out.slice(0, -1);
    if (digits === 0) return undefined;
    safe = out;
  }
  if (format === 'unknown') return safe;
  const expected = SECTIONS[format] ?? 0;
  const split = safe.split('.');
  const parts: string[] = [];
  for (let i = split.length; i < expected; i++) parts.push('0');
  parts.push(...split.slice(0, expected));
  return parts.join('.');
}

// ---- comparison ---------------------------------------------------------------------------

const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

/** C isspace() in the "C" locale, as g_ascii_strtoll skips it. */
function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * g_ascii_strtoll(s, &end, 10): leading white space, a sign, digits; clamped to int64. With no
 * digits the value is 0 and the rest is the whole string (end = the start).
 */
function strtoll(s: Uint8Array, start: number, end: number): { value: bigint; rest: number } {
  let p = start;
  while (p < end && isAsciiSpace(s[p])) p++;
  let negative = false;
  if (p < end && (s[p] === 43 || s[p] === 45)) {
    negative = s[p] === 45;
    p++;
  }
  const digitsStart = p;
  let value = 0n;
  let small = 0;
  let big = false;
  while (p < end && s[p] >= 48 && s[p] <= 57) {
    if (!big) {
      small = small * 10 + (s[p] - 48);
      if (small > Number.MAX_SAFE_INTEGER / 10) {
        big = true;
        value = BigInt(small);
      }
    } else {
      value = value * 10n + BigInt(s[p] - 48);
    }
    p++;
  }
  if (p === digitsStart) return { value: 0n, rest: start };
  let result = big ? value : BigInt(small);
  if (negative) result = -result;
  if (result > INT64_MAX) result = INT64_MAX;
  if (result < INT64_MIN) result = INT64_MIN;
  return { value: result, rest: p };
}

/** A byte as C's (signed) `gchar` on x86 and arm64-Linux-with-signed-char builds. */
function signedByte(b: number): number {
  return b >= 128 ? b - 256 : b;
}

function compareChar(c1: number, c2: number): number {
  if (c1 === c2) return 0;
  if (c1 === 126) return -1;
  if (c2 === 126) return 1;
  return signedByte(c1) < signedByte(c2) ? -1 : 1;
}

/** fu_version_compare_chunk over s1[a..aEnd) and s2[b..bEnd); the end of a range reads as NUL. */
function compareChunk(
  s1: Uint8Array,
  a: number,
  aEnd: number,
  s2: Uint8Array,
  b: number,
  bEnd: number,
): number {
  let i = 0;
  for (; a + i < aEnd && b + i < bEnd; i++) {
    const rc = compareChar(s1[a + i], s2[b + i]);
    if (rc !== 0) return rc;
  }
  return compareChar(a + i < aEnd ? s1[a + i] : 0, b + i < bEnd ? s2[b + i] : 0);
}

/** Start and end offsets of the `.`-separated parts of a byte string. */
function splitDots(s: Uint8Array): number[] {
  const bounds: number[] = [0];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === 46) bounds.push(i, i + 1);
  }
  bounds.push(s.length);
  return bounds;
}

const encoder = new TextEncoder();

/** fu_version_compare_safe. */
function compareSafe(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const sa = encoder.encode(a);
  const sb = encoder.encode(b);
  const pa = splitDots(sa);
  const pb = splitDots(sb);
  const na = pa.length / 2;
  const nb = pb.length / 2;
  const longest = na > nb ? na : nb;
  for (let i = 0; i < longest; i++) {
    if (i >= na) return -1;
    if (i >= nb) return 1;
    const aStart = pa[2 * i];
    const aEnd = pa[2 * i + 1];
    const bStart = pb[2 * i];
    const bEnd = pb[2 * i + 1];
    const va = strtoll(sa, aStart, aEnd);
    const vb = strtoll(sb, bStart, bEnd);
    if (va.value < vb.value) return -1;
    if (va.value > vb.value) return 1;
    if (va.rest < aEnd || vb.rest < bEnd) {
      // fu_version_compare_chunk returns 0 at once for equal strings
      const rc = compareChunk(sa, va.rest, aEnd, sb, vb.rest, bEnd);
      if (rc < 0) return -1;
      if (rc > 0) return 1;
    }
  }
  return 0;
}

/** strcmp over UTF-8 bytes. */
function compareBytes(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const sa = encoder.encode(a);
  const sb = encoder.encode(b);
  const n = Math.min(sa.length, sb.length);
  for (let i = 0; i < n; i++) {
    if (sa[i] !== sb[i]) return sa[i] < sb[i] ? -1 : 1;
  }
  return sa.length === sb.length ? 0 : sa.length < sb.length ? -1 : 1;
}

function problemOf(v: string): string | undefined {
  if (v.length === 0) return 'version string is empty';
  if (v.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 32 || c === 127) return 'contains a control character';
  }
  return undefined;
}

export function parseFwupd(v: string): { version: string } {
  const problem = problemOf(v);
  if (problem !== undefined) throw new InvalidVersionError('fwupd', v, problem);
  return { version: v };
}

export function isValidFwupd(v: string): boolean {
  return problemOf(v) === undefined;
}

/** fu_version_compare(a, b, format): -1, 0 or 1. Throws InvalidVersionError for an empty or control-character version. */
export function compareFwupdVersions(
  a: string,
  b: string,
  format: FwupdVersionFormat = 'unknown',
): -1 | 0 | 1 {
  parseFwupd(a);
  parseFwupd(b);
  if (format === 'plain') return compareBytes(a, b);
  if (format === 'hex')
    return compareSafe(parseFwupdVersionFromFormat(a, 'hex'), parseFwupdVersionFromFormat(b, 'hex'));
  return compareSafe(a, b);
}

/** The `fwupd` scheme: fu_version_compare with no version format (dotted parts, `~` lowest). */
export const fwupd: VersionSchemeImpl = {
  name: 'fwupd',
  parse: parseFwupd,
  isValid: isValidFwupd,
  compare: (a, b) => compareFwupdVersions(a, b, 'unknown'),
};
