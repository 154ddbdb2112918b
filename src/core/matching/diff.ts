/**
 * Incremental re-matching: compare a host's previous open findings with its current matches after
 * a feed sync or a new inventory snapshot.
 */
import type { Match } from './types.js';

/** What identifies a finding on one host: binary package, architecture and advisory. */
export interface FindingKey {
  package: string;
  arch: string;
  advisoryId: string;
}

export interface FindingsDiff {
  /** Matches that were not open before. */
  appeared: Match[];
  /** Matches that were already open. */
  stillOpen: Match[];
  /** Previous findings with no current match: the package is at or above the fix, removed, or the advisory withdrawn. */
  resolved: FindingKey[];
}

export function findingKeyOf(m: Match): FindingKey {
  return { package: m.package.name, arch: m.package.arch, advisoryId: m.advisoryId };
}

function keyString(k: FindingKey): string {
  return `${k.package}\u0000${k.arch}\u0000${k.advisoryId}`;
}

export function diffFindings(previous: readonly FindingKey[], current: readonly Match[]): FindingsDiff {
  const before = new Set(previous.map(keyString));
  const now = new Set<string>();
  const appeared: Match[] = [];
  const stillOpen: Match[] = [];
  for (const m of current) {
    const key = keyString(findingKeyOf(m));
    if (now.has(key)) continue;
    now.add(key);
    (before.has(key) ? stillOpen : appeared).push(m);
  }
  const resolved: FindingKey[] = [];
  const seen = new Set<string>();
  for (const k of previous) {
    const key = keyString(k);
    if (now.has(key) || seen.has(key)) continue;
    seen.add(key);
    resolved.push(k);
  }
  return { appeared, stillOpen, resolved };
}
