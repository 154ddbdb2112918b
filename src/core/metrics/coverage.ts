/**
 * Coverage counts only what was assessed. Every host is in exactly one state, decided in this
 * order (docs/metrics.md, "Host coverage"):
 *
 * 1. never scanned   no inventory was ever stored (unreachable when collecting it failed);
 * 2. inventory stale its newest inventory is older than `coverage.maxInventoryAge` (unreachable when
 *                    the last collection failed);
 * 3. no advisories   its release has no advisories loaded, or only stale ones;
 * 4. at risk         assessed, with an open finding at the coverage threshold or above;
 * 5. covered         assessed, and no such finding.
 *
 * Only `covered` counts as covered; hosts in states 1-3 were not assessed and are never clean.
 */
import type { AdvisoryStatus } from '../freshness/feeds.js';

export const HOST_STATES = [
  'covered',
  'atRisk',
  'neverScanned',
  'inventoryStale',
  'noAdvisories',
  'unreachable',
] as const;
export type HostState = (typeof HOST_STATES)[number];

/** How each state reads in reports. */
export const HOST_STATE_LABELS: Readonly<Record<HostState, string>> = {
  covered: 'covered',
  atRisk: 'at risk',
  neverScanned: 'never scanned',
  inventoryStale: 'inventory stale',
  noAdvisories: 'no advisories',
  unreachable: 'unreachable',
};

/** The facts about one host that decide its state. */
export interface HostCoverageFacts {
  /** When its newest inventory was collected; null when none is stored. */
  lastInventoryAt: Date | null;
  /** When collection was last tried, and why it failed (null when it succeeded or was never tried). */
  lastCollectAttemptAt: Date | null;
  lastCollectError: string | null;
  /** Whether its release has current advisories (null without an inventory). */
  advisories: AdvisoryStatus | null;
  /** Why not, as osAdvisories words it. */
  advisoriesDetail?: string;
  /** It has an open finding at the coverage threshold or above. */
  exposed: boolean;
}

export interface HostCoverage {
  state: HostState;
  /** Why, for a person: "no inventory stored", "last inventory 2026-11-01 (36 days old)"... */
  detail: string;
}

const DAY = 86_400_000;
const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/** The state of one host at `now`. */
export function classifyHost(f: HostCoverageFacts, now: Date, maxInventoryAgeMs: number): HostCoverage {
  const failed =
    f.lastCollectError !== null &&
    (f.lastInventoryAt === null ||
      f.lastCollectAttemptAt === null ||
      f.lastCollectAttemptAt.getTime() >= f.lastInventoryAt.getTime());
  if (f.lastInventoryAt === null) {
    return failed
      ? { state: 'unreachable', detail: `no inventory yet; collecting failed: ${f.lastCollectError ?? ''}` }
      : { state: 'neverScanned', detail: 'no inventory stored (run `patchbot inventory collect`)' };
  }
  const age = now.getTime() - f.lastInventoryAt.getTime();
  if (age > maxInventoryAgeMs) {
    const days = Math.floor(age / DAY);
    const last = `last inventory ${dayOf(f.lastInventoryAt)} (${days} day${days === 1 ? '' : 's'} old)`;
    return failed
      ? { state: 'unreachable', detail: `${last}; collecting failed: ${f.lastCollectError ?? ''}` }
      : { state: 'inventoryStale', detail: `${last} (run \`patchbot inventory collect\`)` };
  }
  if (f.advisories !== 'current')
    return { state: 'noAdvisories', detail: f.advisoriesDetail ?? 'no current advisories for its release' };
  if (f.exposed) return { state: 'atRisk', detail: 'open findings at the coverage threshold or above' };
  return { state: 'covered', detail: '' };
}

export type HostStateCounts = Record<HostState, number>;

export function emptyStateCounts(): HostStateCounts {
  return { covered: 0, atRisk: 0, neverScanned: 0, inventoryStale: 0, noAdvisories: 0, unreachable: 0 };
}

/** Hosts that were assessed (inventory fresh and current advisories): covered or at risk. */
export function assessedOf(c: HostStateCounts): number {
  return c.covered + c.atRisk;
}
