/**
 * Plain-text pieces of coverage that Slack and Teams both show (each escapes them its own way):
 * the host states of a scope and the hosts that are not covered, grouped by state.
 */
import { HOST_STATE_LABELS, HOST_STATES, type HostState } from '../../core/metrics/coverage.js';
import type { ScopeMetrics } from '../../core/metrics/definitions.js';
import { plural } from './common.js';

/** "assessed 3 of 5 hosts · at risk 1 · never scanned 2": every state that has hosts. */
export function hostStatesLine(m: ScopeMetrics): string | undefined {
  const s = m.hosts.states;
  if (!s) return undefined;
  const parts = HOST_STATES.filter((k) => k !== 'covered' && s[k] > 0).map(
    (k) => `${HOST_STATE_LABELS[k]} ${s[k].toLocaleString('en')}`,
  );
  const assessed = s.covered + s.atRisk;
  return [`assessed ${assessed.toLocaleString('en')} of ${plural(m.hosts.total, 'host')}`, ...parts].join(
    ' · ',
  );
}

export interface NotCoveredGroup {
  state: HostState;
  label: string;
  count: number;
  /** The first `max` host names. */
  names: string[];
  /** How many more there are. */
  more: number;
}

/** The hosts that are not covered, one group per state (not-assessed states first). */
export function notCoveredGroups(
  hosts: readonly { name: string; state: HostState }[],
  max: number,
): NotCoveredGroup[] {
  const order: HostState[] = ['neverScanned', 'unreachable', 'inventoryStale', 'noAdvisories', 'atRisk'];
  return order
    .map((state) => {
      const names = hosts.filter((h) => h.state === state).map((h) => h.name);
      return {
        state,
        label: HOST_STATE_LABELS[state],
        count: names.length,
        names: names.slice(0, max),
        more: Math.max(0, names.length - max),
      };
    })
    .filter((g) => g.count > 0);
}
