/**
 * The OSV ecosystems patchbot matches, and whether each names source or binary packages
 * (ossf/osv-schema ecosystems.json):
 * - Debian, Ubuntu, Alpine, Rocky Linux, AlmaLinux: "the `name` is the name of the source package".
 * - Red Hat: "the name of a binary or source RPM". Red Hat's OSV records are generated from its
 *   CSAF advisories, whose product ids name binary RPMs (openssh-server, kernel-rt-core...), so
 *   they are treated as binary names; matching compares them with the installed RPM's name.
 * - npm, PyPI, Go, crates.io, RubyGems: the registry package (a Go module path), which is what is
 *   installed or locked: binary.
 */
import type { AffectedEntry, VersionScheme } from '../../core/model.js';

export interface EcosystemInfo {
  /** The ecosystem without its release suffix ("Debian" for "Debian:12"). */
  base: string;
  nameKind: AffectedEntry['nameKind'];
  scheme: VersionScheme;
  /** Whether the ecosystem string must carry a release (`Ubuntu:22.04:LTS`, `Alpine:v3.19`). */
  releasePattern: RegExp;
}

const ECOSYSTEMS: readonly EcosystemInfo[] = [
  { base: 'Debian', nameKind: 'source', scheme: 'deb', releasePattern: /^(?:|:(?:\d+|[a-z]+))$/ },
  {
    base: 'Ubuntu',
    nameKind: 'source',
    scheme: 'deb',
    releasePattern: /^:(?:Pro:)?(?:FIPS(?:-updates|-preview)?:)?\d{2}\.\d{2}(?::LTS)?$/,
  },
  { base: 'Alpine', nameKind: 'source', scheme: 'apk', releasePattern: /^:v\d+\.\d+$/ },
  { base: 'Rocky Linux', nameKind: 'source', scheme: 'rpm', releasePattern: /^(?:|:\d+(?:\.\d+)?)$/ },
  { base: 'AlmaLinux', nameKind: 'source', scheme: 'rpm', releasePattern: /^(?:|:\d+(?:\.\d+)?)$/ },
  { base: 'Red Hat', nameKind: 'binary', scheme: 'rpm', releasePattern: /^(?:|:[A-Za-z0-9_.:-]+)$/ },
  { base: 'npm', nameKind: 'binary', scheme: 'semver', releasePattern: /^$/ },
  { base: 'PyPI', nameKind: 'binary', scheme: 'pep440', releasePattern: /^$/ },
  { base: 'Go', nameKind: 'binary', scheme: 'go', releasePattern: /^$/ },
  { base: 'crates.io', nameKind: 'binary', scheme: 'semver', releasePattern: /^$/ },
  { base: 'RubyGems', nameKind: 'binary', scheme: 'rubygems', releasePattern: /^$/ },
];

export type EcosystemLookup =
  { ok: true; info: EcosystemInfo } | { ok: false; reason: 'unsupported' | 'malformed'; base: string };

/** Which supported ecosystem an OSV ecosystem string belongs to. */
export function lookupEcosystem(ecosystem: string): EcosystemLookup {
  const colon = ecosystem.indexOf(':');
  const base = colon === -1 ? ecosystem : ecosystem.slice(0, colon);
  const rest = colon === -1 ? '' : ecosystem.slice(colon);
  const info = ECOSYSTEMS.find((e) => e.base === base);
  if (info === undefined) return { ok: false, reason: 'unsupported', base };
  if (!info.releasePattern.test(rest)) return { ok: false, reason: 'malformed', base };
  return { ok: true, info };
}

export const SUPPORTED_ECOSYSTEMS: readonly string[] = ECOSYSTEMS.map((e) => e.base);
