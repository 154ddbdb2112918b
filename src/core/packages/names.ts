/**
 * Strict patterns for package names, versions and architectures as each package manager writes
 * them. Everything read from a host (inventory) and everything that will be put on a host's command
 * line (deployment command builders) passes through these checks, so a name or version can never
 * carry whitespace, quotes or shell metacharacters, and never starts with `-` (no option injection).
 *
 * The patterns are deliberately a little narrower than what each tool would accept in theory and
 * match what real distributions ship:
 *
 * - dpkg names: Debian Policy 5.6.1, `[a-z0-9][a-z0-9+.-]+` (at least two characters, lower case).
 * - dpkg versions: Debian Policy 5.6.12, `[epoch:]upstream[-revision]`; epoch digits, then letters,
 *   digits and `. + ~ -` (a colon is only allowed as the epoch separator; a revision cannot contain `-`
 *   but the upstream part may, so the whole is one character class after the epoch).
 * - rpm names: letters (either case), digits and `. _ + -`, starting with a letter, digit, `_` or `+`
 *   (e.g. `NetworkManager`, `libstdc++`, `perl-Data-Dumper`, `python3.11`).
 * - rpm versions: `[epoch:]version[-release]` where version and release are made of letters, digits
 *   and `. _ + ~ ^` (rpm forbids `-` inside version and release).
 * - apk names: letters, digits and `. _ + -`, starting with a letter, digit or `_`.
 * - apk versions: apk-tools' own grammar, `digits(.digits)*[letter](_suffix[digits])*[~hash][-rN]`
 *   with suffixes alpha, beta, pre, rc, cvs, svn, git, hg, p (agrees with apk-tools' validity vectors).
 */
import type { PackageManagerKind } from '../model.js';

export const MAX_PACKAGE_NAME_LENGTH = 200;
export const MAX_VERSION_LENGTH = 200;
export const MAX_ARCH_LENGTH = 64;

export const DPKG_NAME_PATTERN = /^[a-z0-9][a-z0-9+.-]+$/;
export const DPKG_VERSION_PATTERN = /^(?:[0-9]{1,10}:)?[A-Za-z0-9][A-Za-z0-9.+~-]*$/;

export const RPM_NAME_PATTERN = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;
/** One rpm version or release field (no epoch, no `-`). */
export const RPM_FIELD_PATTERN = /^[A-Za-z0-9._+~^]+$/;
export const RPM_EVR_PATTERN = /^(?:[0-9]{1,10}:)?[A-Za-z0-9._+~^]+(?:-[A-Za-z0-9._+~^]+)?$/;

export const APK_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
export const APK_VERSION_PATTERN =
  /^[0-9]+(?:\.[0-9]+)*[a-z]?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(?:~[0-9a-f]+)?(?:-r[0-9]+)?$/;

/** Architecture names: amd64, all, x86_64, noarch, aarch64, armv7hl, i686, ppc64le, s390x... */
export const ARCH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const NAME_PATTERNS: Record<PackageManagerKind, RegExp> = {
  dpkg: DPKG_NAME_PATTERN,
  rpm: RPM_NAME_PATTERN,
  apk: APK_NAME_PATTERN,
};

const VERSION_PATTERNS: Record<PackageManagerKind, RegExp> = {
  dpkg: DPKG_VERSION_PATTERN,
  rpm: RPM_EVR_PATTERN,
  apk: APK_VERSION_PATTERN,
};

export function isValidPackageName(manager: PackageManagerKind, name: string): boolean {
  return name.length <= MAX_PACKAGE_NAME_LENGTH && NAME_PATTERNS[manager].test(name);
}

export function isValidVersion(manager: PackageManagerKind, version: string): boolean {
  return version.length <= MAX_VERSION_LENGTH && VERSION_PATTERNS[manager].test(version);
}

export function isValidArch(arch: string): boolean {
  return arch.length <= MAX_ARCH_LENGTH && ARCH_PATTERN.test(arch);
}

/**
 * Why a name is refused, or undefined when it is valid. For messages that name the problem:
 * `invalid dpkg package name "x;y": ...`.
 */
export function packageNameProblem(manager: PackageManagerKind, name: string): string | undefined {
  if (isValidPackageName(manager, name)) return undefined;
  return `invalid ${manager} package name ${describeValue(name)}: ${NAME_RULES[manager]}`;
}

export function versionProblem(manager: PackageManagerKind, version: string): string | undefined {
  if (isValidVersion(manager, version)) return undefined;
  return `invalid ${manager} version ${describeValue(version)}: ${VERSION_RULES[manager]}`;
}

export function archProblem(arch: string): string | undefined {
  if (isValidArch(arch)) return undefined;
  return `invalid architecture ${describeValue(arch)}: letters, digits and _ . - only`;
}

const NAME_RULES: Record<PackageManagerKind, string> = {
  dpkg: `expected [a-z0-9][a-z0-9+.-]+, at most ${MAX_PACKAGE_NAME_LENGTH} characters`,
  rpm: `expected letters, digits and . _ + - (not starting with . or -), at most ${MAX_PACKAGE_NAME_LENGTH} characters`,
  apk: `expected letters, digits and . _ + - (not starting with . + or -), at most ${MAX_PACKAGE_NAME_LENGTH} characters`,
};

const VERSION_RULES: Record<PackageManagerKind, string> = {
  dpkg: `expected [epoch:]upstream[-revision] of letters, digits and . + ~ -, at most ${MAX_VERSION_LENGTH} characters`,
  rpm: `expected [epoch:]version[-release] of letters, digits and . _ + ~ ^, at most ${MAX_VERSION_LENGTH} characters`,
  apk: `expected an apk version such as 1.2.3_rc1-r0, at most ${MAX_VERSION_LENGTH} characters`,
};

/** A short, printable rendering of an untrusted value for a message (JSON-escaped, cut at 80). */
export function describeValue(value: string): string {
  return JSON.stringify(value.length <= 80 ? value : `${value.slice(0, 80)}…`);
}
