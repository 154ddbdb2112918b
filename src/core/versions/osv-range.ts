/**
 * OSV range evaluation (ossf/osv-schema, "Evaluation"): a version is affected when it is listed in
 * `versions`, or when some range has it at or after an `introduced` and before the next `fixed`
 * (or at or before the next `last_affected`), and below one of the range's `limit`s if it has any.
 * SEMVER ranges use semver order whatever the ecosystem (Go's own semver for Go); ECOSYSTEM ranges
 * use the ecosystem's;
 * GIT ranges name commits and cannot be evaluated against a package version (they are ignored).
 * `introduced: "0"` is below every version.
 */
import type { AffectedRange, RangeEvent, VersionScheme } from '../model.js';
import { apk } from './apk.js';
import { deb } from './deb.js';
import { fwupd } from './fwupd.js';
import { go } from './go.js';
import { pep440 } from './pep440.js';
import { rpm } from './rpm.js';
import { rubygems } from './rubygems.js';
import type { VersionSchemeImpl } from './scheme.js';
import { semverScheme } from './semver.js';

type Compare = (a: string, b: string) => -1 | 0 | 1;

interface PreparedEvent {
  kind: 'introduced' | 'fixed' | 'last_affected';
  version: string;
  /** `introduced: "0"`: below everything. */
  zero: boolean;
}

export interface PreparedRange {
  compare: Compare;
  /** Sorted by version, `introduced: "0"` first, an introduced before a fix at the same version. */
  events: PreparedEvent[];
  /** `limit` versions; undefined when the range has none (no upper limit). `*` is no limit. */
  limits: string[] | undefined;
}

const BY_NAME: Readonly<Record<VersionScheme, VersionSchemeImpl>> = {
  deb,
  rpm,
  apk,
  semver: semverScheme,
  pep440,
  go,
  rubygems,
  fwupd,
};

function eventOf(e: RangeEvent): { kind: PreparedEvent['kind'] | 'limit'; version: string } {
  if ('introduced' in e) return { kind: 'introduced', version: e.introduced };
  if ('fixed' in e) return { kind: 'fixed', version: e.fixed };
  if ('last_affected' in e) return { kind: 'last_affected', version: e.last_affected };
  return { kind: 'limit', version: e.limit };
}

/**
 * Validates and sorts the events of each range once, for evaluating many versions.
 * Throws InvalidVersionError when an event's version is not a version of the range's ordering.
 */
export function prepareRanges(
  scheme: VersionScheme | VersionSchemeImpl,
  ranges: readonly AffectedRange[],
): PreparedRange[] {
  const own = implOf(scheme);
  const out: PreparedRange[] = [];
  for (const range of ranges) {
    if (range.type === 'GIT') continue;
    // Go's SEMVER ranges follow Go's own semver (golang.org/x/mod/semver: `v1.2` shorthands).
    const impl = range.type === 'SEMVER' && own.name !== 'go' ? semverScheme : own;
    const compare = impl.compare;
    const events: PreparedEvent[] = [];
    let limits: string[] | undefined;
    for (const raw of range.events) {
      const e = eventOf(raw);
      if (e.kind === 'limit') {
        if (e.version !== '*' && !impl.isValid(e.version)) impl.parse(e.version);
        (limits ??= []).push(e.version);
        continue;
      }
      const zero = e.kind === 'introduced' && e.version === '0';
      if (!zero && !impl.isValid(e.version)) impl.parse(e.version); // throws with the reason
      events.push({ kind: e.kind, version: e.version, zero });
    }
    events.sort((x, y) => {
      if (x.zero || y.zero) return x.zero === y.zero ? 0 : x.zero ? -1 : 1;
      const r = compare(x.version, y.version);
      if (r !== 0) return r;
      if (x.kind === y.kind) return 0;
      return x.kind === 'introduced' ? -1 : y.kind === 'introduced' ? 1 : 0;
    });
    out.push({ compare, events, limits });
  }
  return out;
}

function beforeLimits(version: string, range: PreparedRange): boolean {
  if (range.limits === undefined) return true;
  for (const limit of range.limits) {
    if (limit === '*' || range.compare(version, limit) < 0) return true;
  }
  return false;
}

function affectedBy(version: string, range: PreparedRange): boolean {
  let vulnerable = false;
  for (const e of range.events) {
    if (e.kind === 'introduced') {
      if (e.zero || range.compare(version, e.version) >= 0) vulnerable = true;
    } else if (e.kind === 'fixed') {
      if (range.compare(version, e.version) >= 0) vulnerable = false;
    } else if (range.compare(version, e.version) > 0) {
      vulnerable = false;
    }
  }
  return vulnerable;
}

/**
 * A scheme by name, or an ordering given as is: firmware passes fwupd's ordering for one version
 * format (src/core/matching/firmware.ts), which no scheme name can say.
 */
function implOf(scheme: VersionScheme | VersionSchemeImpl): VersionSchemeImpl {
  return typeof scheme === 'string' ? BY_NAME[scheme] : scheme;
}

function listed(
  scheme: VersionScheme | VersionSchemeImpl,
  version: string,
  versions: readonly string[],
): boolean {
  if (versions.length === 0) return false;
  const impl = implOf(scheme);
  for (const v of versions) {
    if (v === version) return true;
    if (impl.isValid(v) && impl.compare(v, version) === 0) return true;
  }
  return false;
}

/** isAffected over ranges already prepared with prepareRanges. */
export function isAffectedPrepared(
  scheme: VersionScheme | VersionSchemeImpl,
  version: string,
  ranges: readonly PreparedRange[],
  versions: readonly string[],
): boolean {
  for (const range of ranges) {
    if (beforeLimits(version, range) && affectedBy(version, range)) return true;
  }
  return listed(scheme, version, versions);
}

/**
 * Whether `version` is affected by an OSV affected entry's `ranges` and `versions`.
 * Throws InvalidVersionError when `version` or an event version is invalid for the ordering used.
 */
export function isAffected(
  scheme: VersionScheme,
  version: string,
  ranges: readonly AffectedRange[],
  versions: readonly string[],
): boolean {
  BY_NAME[scheme].parse(version);
  return isAffectedPrepared(scheme, version, prepareRanges(scheme, ranges), versions);
}

/** fixedVersionFor over prepared ranges. */
export function fixedVersionForPrepared(version: string, ranges: readonly PreparedRange[]): string | null {
  let best: string | null = null;
  let bestCompare: Compare | undefined;
  for (const range of ranges) {
    if (!beforeLimits(version, range) || !affectedBy(version, range)) continue;
    // Events are sorted: the first fix above the version is this range's lowest.
    const fix = range.events.find((e) => e.kind === 'fixed' && range.compare(e.version, version) > 0);
    if (fix === undefined) continue;
    if (best === null || (bestCompare === range.compare && range.compare(fix.version, best) < 0)) {
      best = fix.version;
      bestCompare = range.compare;
    }
  }
  return best;
}

/**
 * The version that fixes `version`: the lowest `fixed` event above it in a range that affects it.
 * null when no affecting range has a fix (not affected, or affected with no fix yet).
 */
export function fixedVersionFor(
  scheme: VersionScheme,
  version: string,
  ranges: readonly AffectedRange[],
): string | null {
  BY_NAME[scheme].parse(version);
  return fixedVersionForPrepared(version, prepareRanges(scheme, ranges));
}
