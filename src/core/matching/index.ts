/**
 * Relevancy: which advisories apply to which installed packages (pure, no I/O).
 *
 * - Advisories are indexed by ecosystem and package name once (`buildAdvisoryIndex`); withdrawn
 *   advisories and `not-affected` entries are left out, and an entry whose versions are invalid
 *   for its ecosystem's ordering is skipped with a warning naming the advisory and the package.
 * - Distribution advisories (Debian, Ubuntu, Alpine, Rocky, Alma) name SOURCE packages: such an
 *   entry matches an installed package through its `sourceName`, and compares the fix with its
 *   `sourceVersion` (a binNMU `2.36-9+deb12u3+b1` is built from source `2.36-9+deb12u3`). An entry
 *   naming binary packages (npm, PyPI, Go, crates.io, RubyGems, Red Hat) matches `name` (PyPI
 *   names as PEP 503 normalises them) and compares `version`. Ubuntu's `binaries` list restricts
 *   an entry to the binary packages it names.
 * - `affected` entries decide with the OSV ranges and versions; `unfixed`, `no-dsa`, `ignored` and
 *   `postponed` always match, with no fixed version.
 * - A matcher remembers each (package group, version) it evaluated, so a fleet of hosts that share
 *   versions costs one evaluation per distinct version; and the matches of each package object it
 *   saw, so hosts that share package objects (an inventory store that interns equal records) share
 *   their Match objects too. Packages and matches are treated as immutable.
 */
import { InvalidVersionError, userMessageOf } from '../errors.js';
import type { Advisory, AffectedEntry, AffectedStatus, InstalledPackage, VersionScheme } from '../model.js';
import {
  fixedVersionForPrepared,
  getScheme,
  isAffectedPrepared,
  prepareRanges,
  schemeForEcosystem,
  type PreparedRange,
} from '../versions/index.js';
import { nameNormalizer } from './ecosystems.js';
import type { Match, MatchWarning } from './types.js';

export type { Match, MatchWarning } from './types.js';
export { ecosystemsForOs, nameNormalizer, normalizePypiName } from './ecosystems.js';
export { diffFindings, findingKeyOf, type FindingKey, type FindingsDiff } from './diff.js';
export {
  buildFirmwareIndex,
  matchFirmware,
  type FirmwareAdvisoryIndex,
  type FirmwareMatch,
  type FirmwareMatchWarning,
} from './firmware.js';

interface IndexedEntry {
  advisoryId: string;
  cves: string[];
  ecosystem: string;
  scheme: VersionScheme;
  status: AffectedStatus;
  ranges: PreparedRange[];
  versions: string[];
  binaries: ReadonlySet<string> | undefined;
}

interface Group {
  /** Position in the index's group list (matchers keep their memo by it). */
  id: number;
  ecosystem: string;
  name: string;
  nameKind: AffectedEntry['nameKind'];
  scheme: VersionScheme;
  entries: IndexedEntry[];
  /** Whether one advisory has several entries here (then its hits are merged). */
  repeatsAdvisory: boolean;
}

export interface AdvisoryIndex {
  /** ecosystem -> package name -> entries naming that source package. */
  readonly source: ReadonlyMap<string, ReadonlyMap<string, Group>>;
  /** ecosystem -> package name -> entries naming that binary package. */
  readonly binary: ReadonlyMap<string, ReadonlyMap<string, Group>>;
  readonly groupCount: number;
  /** Entries that were skipped, with the reason. */
  readonly warnings: readonly MatchWarning[];
}

const ALWAYS_MATCH: ReadonlySet<AffectedStatus> = new Set(['unfixed', 'no-dsa', 'ignored', 'postponed']);

export function buildAdvisoryIndex(advisories: readonly Advisory[]): AdvisoryIndex {
  const source = new Map<string, Map<string, Group>>();
  const binary = new Map<string, Map<string, Group>>();
  const warnings: MatchWarning[] = [];
  let groupCount = 0;
  const advisoryIdsOf = new Map<Group, Set<string>>();

  for (const advisory of advisories) {
    if (advisory.withdrawn !== undefined) continue;
    for (const entry of advisory.affected) {
      if (entry.status === 'not-affected') continue;
      const scheme = schemeForEcosystem(entry.ecosystem);
      const warn = (message: string): void => {
        warnings.push({
          advisoryId: advisory.id,
          package: entry.package,
          ecosystem: entry.ecosystem,
          message,
        });
      };
      if (scheme === undefined) {
        warn(`unknown ecosystem ${JSON.stringify(entry.ecosystem)}: entry skipped`);
        continue;
      }
      let ranges: PreparedRange[] = [];
      if (entry.status === 'affected') {
        try {
          ranges = prepareRanges(scheme, entry.ranges);
        } catch (err) {
          if (!(err instanceof InvalidVersionError)) throw err;
          warn(`${err.userMessage}: entry skipped`);
          continue;
        }
        if (ranges.length === 0 && entry.versions.length === 0) continue; // nothing evaluable (GIT only)
      }
      const byEco = entry.nameKind === 'source' ? source : binary;
      let byName = byEco.get(entry.ecosystem);
      if (byName === undefined) byEco.set(entry.ecosystem, (byName = new Map<string, Group>()));
      const key = nameNormalizer(entry.ecosystem)?.(entry.package) ?? entry.package;
      let group = byName.get(key);
      if (group === undefined) {
        group = {
          id: groupCount++,
          ecosystem: entry.ecosystem,
          name: entry.package,
          nameKind: entry.nameKind,
          scheme,
          entries: [],
          repeatsAdvisory: false,
        };
        byName.set(key, group);
      }
      let ids = advisoryIdsOf.get(group);
      if (ids === undefined) advisoryIdsOf.set(group, (ids = new Set()));
      if (ids.has(advisory.id)) group.repeatsAdvisory = true;
      ids.add(advisory.id);
      group.entries.push({
        advisoryId: advisory.id,
        cves: advisory.cves,
        ecosystem: entry.ecosystem,
        scheme,
        status: entry.status,
        ranges,
        versions: entry.versions,
        binaries: entry.binaries === undefined ? undefined : new Set(entry.binaries),
      });
    }
  }
  return { source, binary, groupCount, warnings };
}

interface Hit {
  entry: IndexedEntry;
  fixedVersion: string | null;
}

const NO_HITS: readonly Hit[] = [];

export interface Matcher {
  /** Matches of one host's packages against the advisories of its ecosystems. */
  match(ecosystems: readonly string[], packages: readonly InstalledPackage[]): Match[];
  /** Index warnings, then the installed versions that could not be compared (each once). */
  warnings(): MatchWarning[];
}

/** A matcher over one index; it caches evaluations, so reuse it for the hosts of a fleet. */
export function createMatcher(index: AdvisoryIndex): Matcher {
  const memo: (Map<string, readonly Hit[]> | undefined)[] = new Array<
    Map<string, readonly Hit[]> | undefined
  >(index.groupCount);
  const versionWarnings = new Map<string, MatchWarning>();

  function evaluate(group: Group, version: string): readonly Hit[] {
    let byVersion = memo[group.id];
    if (byVersion === undefined) memo[group.id] = byVersion = new Map();
    const cached = byVersion.get(version);
    if (cached !== undefined) return cached;
    let hits: Hit[] | undefined;
    const impl = getScheme(group.scheme);
    const valid = impl.isValid(version);
    if (!valid) {
      const key = `${group.ecosystem}\u0000${group.name}\u0000${version}`;
      if (!versionWarnings.has(key)) {
        let reason = 'invalid version';
        try {
          impl.parse(version);
        } catch (err) {
          reason = userMessageOf(err);
        }
        versionWarnings.set(key, {
          package: group.name,
          ecosystem: group.ecosystem,
          message: `installed ${group.nameKind} package ${group.name}: ${reason}; ${group.entries.length} advisories not evaluated`,
        });
      }
    }
    for (const entry of group.entries) {
      let fixedVersion: string | null = null;
      if (!ALWAYS_MATCH.has(entry.status)) {
        if (!valid) continue;
        if (!isAffectedPrepared(entry.scheme, version, entry.ranges, entry.versions)) continue;
        fixedVersion = fixedVersionForPrepared(version, entry.ranges);
      }
      (hits ??= []).push({ entry, fixedVersion });
    }
    const result = hits ?? NO_HITS;
    byVersion.set(version, result);
    return result;
  }

  /** Per ecosystem list: package object -> its matches. */
  const byPackage = new Map<string, WeakMap<InstalledPackage, readonly Match[]>>();

  function match(ecosystems: readonly string[], packages: readonly InstalledPackage[]): Match[] {
    const out: Match[] = [];
    const ecoKey = ecosystems.join('\u0000');
    let seen = byPackage.get(ecoKey);
    if (seen === undefined) byPackage.set(ecoKey, (seen = new WeakMap()));
    const sources: (ReadonlyMap<string, Group> | undefined)[] = ecosystems.map((e) => index.source.get(e));
    const binaries: (ReadonlyMap<string, Group> | undefined)[] = ecosystems.map((e) => index.binary.get(e));
    const binaryKey = ecosystems.map((e) => nameNormalizer(e));
    const pending: Hit[] = [];
    for (const pkg of packages) {
      const known = seen.get(pkg);
      if (known !== undefined) {
        for (let i = 0; i < known.length; i++) out.push(known[i]);
        continue;
      }
      let groups = 0;
      let merge = false;
      for (let i = 0; i < ecosystems.length; i++) {
        const src = sources[i]?.get(pkg.sourceName);
        if (src !== undefined && collect(evaluate(src, pkg.sourceVersion), pkg, pending)) {
          groups++;
          merge ||= src.repeatsAdvisory;
        }
        const bin = binaries[i]?.get(binaryKey[i]?.(pkg.name) ?? pkg.name);
        if (bin !== undefined && collect(evaluate(bin, pkg.version), pkg, pending)) {
          groups++;
          merge ||= bin.repeatsAdvisory;
        }
      }
      const matches = pending.length === 0 ? NO_MATCHES : toMatches(pkg, pending, merge || groups > 1);
      pending.length = 0;
      seen.set(pkg, matches);
      for (let i = 0; i < matches.length; i++) out.push(matches[i]);
    }
    return out;
  }

  return {
    match,
    warnings: () => [...index.warnings, ...versionWarnings.values()],
  };
}

const NO_MATCHES: readonly Match[] = [];

/** Adds the hits that apply to this binary package; whether any did. */
function collect(hits: readonly Hit[], pkg: InstalledPackage, into: Hit[]): boolean {
  let added = false;
  for (const hit of hits) {
    const only = hit.entry.binaries;
    if (only !== undefined && !only.has(pkg.name)) continue;
    into.push(hit);
    added = true;
  }
  return added;
}

/** One match per advisory: several entries (or ecosystems) of one advisory merge into one. */
function toMatches(pkg: InstalledPackage, hits: readonly Hit[], merge: boolean): Match[] {
  if (!merge) return hits.map((hit) => toMatch(pkg, hit));
  const byAdvisory = new Map<string, Hit>();
  for (const hit of hits) {
    const seen = byAdvisory.get(hit.entry.advisoryId);
    if (seen === undefined) {
      byAdvisory.set(hit.entry.advisoryId, hit);
      continue;
    }
    // No fix on one side means no fix for the advisory; otherwise the higher fix resolves both.
    if (seen.fixedVersion === null) continue;
    if (hit.fixedVersion === null) {
      byAdvisory.set(hit.entry.advisoryId, hit);
      continue;
    }
    const impl = getScheme(hit.entry.scheme);
    if (impl.compare(hit.fixedVersion, seen.fixedVersion) > 0) byAdvisory.set(hit.entry.advisoryId, hit);
  }
  return [...byAdvisory.values()].map((hit) => toMatch(pkg, hit));
}

function toMatch(pkg: InstalledPackage, hit: Hit): Match {
  return {
    package: pkg,
    advisoryId: hit.entry.advisoryId,
    cves: hit.entry.cves,
    ecosystem: hit.entry.ecosystem,
    fixedVersion: hit.fixedVersion,
    status: hit.entry.status,
  };
}

/** Matches of one host with a fresh matcher (for many hosts, reuse one `createMatcher`). */
export function matchPackages(
  index: AdvisoryIndex,
  ecosystems: readonly string[],
  packages: readonly InstalledPackage[],
): { matches: Match[]; warnings: MatchWarning[] } {
  const matcher = createMatcher(index);
  const matches = matcher.match(ecosystems, packages);
  return { matches, warnings: matcher.warnings() };
}
