/**
 * Coverage counts only what was assessed: each host is in exactly one state, in the documented
 * order (never scanned, inventory stale, no advisories, at risk, covered; unreachable when
 * collecting failed).
 */
import { describe, expect, it } from 'vitest';
import { classifyHost, type HostCoverageFacts } from '../../../src/core/metrics/coverage.js';

const DAY = 86_400_000;
const NOW = new Date('2026-12-07T12:00:00Z');
const MAX = 7 * DAY;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

function facts(f: Partial<HostCoverageFacts> = {}): HostCoverageFacts {
  return {
    lastInventoryAt: ago(1),
    lastCollectAttemptAt: ago(1),
    lastCollectError: null,
    advisories: 'current',
    exposed: false,
    ...f,
  };
}

describe('classifyHost', () => {
  it.each([
    ['assessed, nothing open at the threshold', facts(), 'covered'],
    ['assessed, an open finding at the threshold', facts({ exposed: true }), 'atRisk'],
    [
      'no inventory, never tried',
      facts({ lastInventoryAt: null, lastCollectAttemptAt: null, advisories: null }),
      'neverScanned',
    ],
    [
      'no inventory, collecting failed',
      facts({ lastInventoryAt: null, lastCollectError: 'connection refused', advisories: null }),
      'unreachable',
    ],
    [
      'inventory 8 days old',
      facts({ lastInventoryAt: ago(8), lastCollectAttemptAt: ago(8) }),
      'inventoryStale',
    ],
    [
      'inventory exactly the maximum age',
      facts({ lastInventoryAt: ago(7), lastCollectAttemptAt: ago(7) }),
      'covered',
    ],
    [
      'inventory 8 days old, the last collection failed',
      facts({ lastInventoryAt: ago(8), lastCollectAttemptAt: ago(1), lastCollectError: 'timeout' }),
      'unreachable',
    ],
    [
      'fresh inventory, a later collection failed: the inventory still counts',
      facts({ lastInventoryAt: ago(2), lastCollectAttemptAt: ago(1), lastCollectError: 'timeout' }),
      'covered',
    ],
    ['no advisories for the release', facts({ advisories: 'none' }), 'noAdvisories'],
    ['only stale advisories', facts({ advisories: 'stale', exposed: true }), 'noAdvisories'],
    ['a distribution patchbot has no feed for', facts({ advisories: 'unsupported' }), 'noAdvisories'],
    [
      'stale inventory wins over no advisories',
      facts({ lastInventoryAt: ago(30), advisories: 'none' }),
      'inventoryStale',
    ],
  ] as const)('%s -> %s', (_name, f, state) => {
    expect(classifyHost(f, NOW, MAX).state).toBe(state);
  });

  it('says why', () => {
    expect(classifyHost(facts({ lastInventoryAt: ago(36.5) }), NOW, MAX).detail).toBe(
      'last inventory 2026-11-01 (36 days old) (run `patchbot inventory collect`)',
    );
    expect(
      classifyHost(
        facts({ advisories: 'none', advisoriesDetail: 'no advisories for ubuntu 22.04' }),
        NOW,
        MAX,
      ).detail,
    ).toBe('no advisories for ubuntu 22.04');
    expect(
      classifyHost(facts({ lastInventoryAt: null, lastCollectError: 'connection refused' }), NOW, MAX).detail,
    ).toBe('no inventory yet; collecting failed: connection refused');
  });
});
