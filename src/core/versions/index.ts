/**
 * Version ordering per scheme, and which scheme an OSV ecosystem uses.
 * One module per scheme: deb (dpkg), rpm (rpmvercmp), apk (apk-tools), semver (npm, crates.io),
 * pep440 (PyPI), go (Go modules), rubygems (Gem::Version), fwupd (firmware, fu_version_compare).
 */
import { ValidationError } from '../errors.js';
import type { VersionScheme } from '../model.js';
import { apk } from './apk.js';
import { deb } from './deb.js';
import { fwupd } from './fwupd.js';
import { go } from './go.js';
import { pep440 } from './pep440.js';
import { rpm } from './rpm.js';
import { rubygems } from './rubygems.js';
import type { VersionSchemeImpl } from './scheme.js';
import { semverScheme } from './semver.js';

export type { VersionSchemeImpl } from './scheme.js';
export {
  isAffected,
  fixedVersionFor,
  prepareRanges,
  isAffectedPrepared,
  fixedVersionForPrepared,
} from './osv-range.js';
export type { PreparedRange } from './osv-range.js';

const SCHEMES: Readonly<Record<VersionScheme, VersionSchemeImpl>> = {
  deb,
  rpm,
  apk,
  semver: semverScheme,
  pep440,
  go,
  rubygems,
  fwupd,
};

export const VERSION_SCHEMES: readonly VersionScheme[] = [
  'deb',
  'rpm',
  'apk',
  'semver',
  'pep440',
  'go',
  'rubygems',
  'fwupd',
];

export function isVersionScheme(name: string): name is VersionScheme {
  return Object.hasOwn(SCHEMES, name);
}

export function getScheme(name: VersionScheme): VersionSchemeImpl {
  if (!isVersionScheme(name)) {
    throw new ValidationError(
      `unknown version scheme ${JSON.stringify(String(name))} (expected one of ${VERSION_SCHEMES.join(', ')})`,
    );
  }
  return SCHEMES[name];
}

/** OSV ecosystem base names (before the first `:`) and the ordering each uses. */
const ECOSYSTEM_SCHEMES: Readonly<Record<string, VersionScheme>> = {
  Debian: 'deb',
  Ubuntu: 'deb',
  Alpine: 'apk',
  'Rocky Linux': 'rpm',
  AlmaLinux: 'rpm',
  'Red Hat': 'rpm',
  openSUSE: 'rpm',
  SUSE: 'rpm',
  npm: 'semver',
  PyPI: 'pep440',
  Go: 'go',
  'crates.io': 'semver',
  RubyGems: 'rubygems',
  // LVFS firmware advisories (src/feeds/lvfs): "fwupd" or "fwupd:<VersionFormat>".
  fwupd: 'fwupd',
};

/** "Debian:12" -> deb, "Alpine:v3.19" -> apk, "npm" -> semver, "Go" -> go, "fwupd:quad" -> fwupd; unknown -> undefined. */
export function schemeForEcosystem(ecosystem: string): VersionScheme | undefined {
  const colon = ecosystem.indexOf(':');
  const base = colon === -1 ? ecosystem : ecosystem.slice(0, colon);
  return Object.hasOwn(ECOSYSTEM_SCHEMES, base) ? ECOSYSTEM_SCHEMES[base] : undefined;
}
