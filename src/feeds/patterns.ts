/**
 * Strict patterns for the identifiers that leave a feed and may later reach a package manager's
 * command line (package names, versions) or a database key (advisory and CVE ids). Version
 * *ordering* validity is checked by src/core/versions when matching; here a version only has to
 * be a bounded string of characters that some scheme uses.
 */
import { z } from 'zod';
import { FIELD_LIMITS } from './limits.js';

/** Characters found in deb, rpm, apk, semver, PEP 440 versions and git commit ids. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+~^:!*-]*$/;

/**
 * Package names of every supported ecosystem: deb, rpm, apk, npm (@scope/name), PyPI, crates.io,
 * RubyGems, Go module paths (golang.org/x/net, github.com/o/r/v2), firmware GUIDs.
 */
export const PACKAGE_NAME_PATTERN =
  /^@?[A-Za-z0-9_][A-Za-z0-9._+~-]*(?:\/[A-Za-z0-9._~+-]*[A-Za-z0-9_~+-])*$/;

/** Debian source package names (Debian Policy 5.6.1). */
export const DEBIAN_SOURCE_PATTERN = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * Advisory and alias ids: GHSA-..., PYSEC-..., DSA-5514-1, RHSA-2024:1234, UBUNTU-CVE-...,
 * LVFS:com.dell.uefi6180aaaa.firmware:P1.1 (AppStream component ids may hold `_`).
 */
export const ADVISORY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:+_-]*$/;

export const CVE_PATTERN = /^CVE-\d{4}-\d{4,19}$/;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export const VersionString = z
  .string()
  .max(FIELD_LIMITS.version)
  .regex(VERSION_PATTERN, 'not a version string (letters, digits and ._+~^:!*- only)');

export const PackageName = z
  .string()
  .max(FIELD_LIMITS.name)
  .regex(PACKAGE_NAME_PATTERN, 'not a package name');

export const AdvisoryId = z.string().max(FIELD_LIMITS.id).regex(ADVISORY_ID_PATTERN, 'not an advisory id');

export const CveId = z.string().regex(CVE_PATTERN, 'not a CVE id (CVE-YYYY-NNNN)');

export const DateOnly = z
  .string()
  .regex(DATE_ONLY, 'not a date (YYYY-MM-DD)')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'not a calendar date');

/** An RFC 3339 timestamp as OSV writes it ("2023-07-10T22:57:56Z", fractional seconds allowed). */
export const Timestamp = z
  .string()
  .max(64)
  .regex(
    /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/,
    'not a timestamp',
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date');

/**
 * The CVE id an identifier names: "CVE-2024-6387" itself, or a distribution's record of it such as
 * "UBUNTU-CVE-2024-6387" or "DEBIAN-CVE-2024-6387". Anything else gives undefined.
 */
export function cveOf(id: string): string | undefined {
  const m = /^(?:[A-Z]+-)?(CVE-\d{4}-\d{4,19})$/.exec(id);
  return m?.[1];
}

/** The CVE ids among a list of identifiers, deduplicated, in first-seen order. */
export function cvesOf(ids: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const id of ids) {
    const cve = cveOf(id);
    if (cve !== undefined) out.add(cve);
  }
  return [...out];
}
