/**
 * Semantic Versioning 2.0 (npm), through the `semver` package in strict mode: build metadata is
 * ignored for ordering, a prerelease sorts before its release. A leading `v` or `=` is tolerated,
 * as npm does.
 */
import { SemVer } from 'semver';
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

export function parseSemver(v: string): SemVer {
  if (v.length > 256) throw new InvalidVersionError('semver', v, 'longer than 256 characters');
  try {
    return new SemVer(v);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidVersionError(
      'semver',
      v,
      /Invalid Version/.test(why) ? 'not MAJOR.MINOR.PATCH[-prerelease][+build]' : why,
    );
  }
}

export function isValidSemver(v: string): boolean {
  try {
    parseSemver(v);
    return true;
  } catch {
    return false;
  }
}

export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  return parseSemver(a).compare(parseSemver(b));
}

export const semverScheme: VersionSchemeImpl = {
  name: 'semver',
  parse: parseSemver,
  isValid: isValidSemver,
  compare: compareSemver,
};
