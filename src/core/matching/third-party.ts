/**
 * Third-party (language) packages against OSV advisories, through the same matcher as OS
 * packages: the advisory index and its per-version memo, OSV range evaluation with each
 * ecosystem's ordering (PEP 440 for PyPI, semver for npm and crates.io, Go's semver for Go,
 * Gem::Version for RubyGems), PyPI names compared as PEP 503 normalises them.
 *
 * A match keeps the package with its owner (interpreter or lockfile), because remediation
 * differs: a system interpreter's package is upgraded in place, a lockfile gets a bump.
 */
import type { AffectedStatus, InstalledPackage, ThirdPartyEcosystem, ThirdPartyPackage } from '../model.js';
import type { Matcher } from './index.js';

export interface ThirdPartyMatch {
  readonly package: ThirdPartyPackage;
  readonly advisoryId: string;
  readonly cves: readonly string[];
  readonly ecosystem: ThirdPartyEcosystem;
  /** The version to move to; null when no fix exists yet. Go versions carry their `v`. */
  readonly fixedVersion: string | null;
  readonly status: AffectedStatus;
}

/** The InstalledPackage shape the matcher reads, one per third-party package object (kept for its caches). */
const asInstalled = new WeakMap<ThirdPartyPackage, InstalledPackage>();

function installedOf(pkg: ThirdPartyPackage): InstalledPackage {
  let out = asInstalled.get(pkg);
  if (out === undefined) {
    out = {
      name: pkg.name,
      version: pkg.version,
      arch: 'all',
      sourceName: pkg.name,
      sourceVersion: pkg.version,
    };
    asInstalled.set(pkg, out);
  }
  return out;
}

/** OSV's Go records write versions without the `v` that go.sum and `go get` use. */
function displayFix(ecosystem: ThirdPartyEcosystem, fixed: string | null): string | null {
  if (fixed === null || ecosystem !== 'Go' || fixed.startsWith('v')) return fixed;
  return `v${fixed}`;
}

/**
 * Matches of one host's third-party packages. Pass the same matcher for every host of a fleet
 * (createMatcher over the index of every advisory); its warnings name the versions it could not
 * compare (not evaluated is reported, never treated as safe).
 */
export function matchThirdParty(matcher: Matcher, packages: readonly ThirdPartyPackage[]): ThirdPartyMatch[] {
  const byEcosystem = new Map<ThirdPartyEcosystem, ThirdPartyPackage[]>();
  for (const pkg of packages) {
    let list = byEcosystem.get(pkg.ecosystem);
    if (list === undefined) byEcosystem.set(pkg.ecosystem, (list = []));
    list.push(pkg);
  }
  const out: ThirdPartyMatch[] = [];
  for (const [ecosystem, list] of byEcosystem) {
    const back = new Map<InstalledPackage, ThirdPartyPackage>();
    const installed = list.map((pkg) => {
      const i = installedOf(pkg);
      back.set(i, pkg);
      return i;
    });
    for (const m of matcher.match([ecosystem], installed)) {
      const pkg = back.get(m.package);
      if (pkg === undefined) continue;
      out.push({
        package: pkg,
        advisoryId: m.advisoryId,
        cves: m.cves,
        ecosystem,
        fixedVersion: displayFix(ecosystem, m.fixedVersion),
        status: m.status,
      });
    }
  }
  return out;
}
