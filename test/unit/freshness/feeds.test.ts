/**
 * Feed freshness: each feed's age against the policy's maximum, the line reports put first when
 * data is stale, and whether a host's release has current advisories at all.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEED_MAX_AGE,
  feedAge,
  feedAges,
  feedKindOf,
  feedLine,
  osAdvisories,
  staleNotice,
  type FeedFreshnessRecord,
} from '../../../src/core/freshness/feeds.js';
import type { OsInfo } from '../../../src/core/model.js';

const DAY = 86_400_000;
const NOW = new Date('2026-12-07T12:00:00Z');
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

function record(
  feed: string,
  asOfDaysAgo: number,
  extra: Partial<FeedFreshnessRecord> = {},
): FeedFreshnessRecord {
  return {
    feed,
    asOf: ago(asOfDaysAgo),
    basis: 'fetched',
    bundled: false,
    checkedAt: null,
    location: 'https://example.org/feed',
    ecosystems: [],
    ...extra,
  };
}

const debian12: OsInfo = { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' };
const ubuntu2204: OsInfo = { id: 'ubuntu', family: 'ubuntu', versionId: '22.04' };

describe('feed kinds and their maximum age', () => {
  it.each([
    ['debian-tracker', 'debian-tracker', 2],
    ['osv:Debian', 'osv', 2],
    ['osv:Rocky Linux', 'osv', 2],
    ['kev', 'kev', 2],
    ['epss', 'epss', 7],
    ['nvd', 'nvd', 7],
  ] as const)('%s is a %s feed, stale after %d days', (feed, kind, days) => {
    expect(feedKindOf(feed)).toBe(kind);
    expect(feedAge(record(feed, days - 0.01), DEFAULT_FEED_MAX_AGE, NOW).stale).toBe(false);
    expect(feedAge(record(feed, days + 0.01), DEFAULT_FEED_MAX_AGE, NOW).stale).toBe(true);
  });

  it('a recent confirmation keeps data fresh; its age is still the data date', () => {
    // KEV released five days ago, the URL answered "not modified" an hour ago
    const a = feedAge(
      record('kev', 5, { basis: 'published', checkedAt: ago(1 / 24) }),
      DEFAULT_FEED_MAX_AGE,
      NOW,
    );
    expect(a).toMatchObject({ ageDays: 5, stale: false, maxAgeDays: 2 });
    expect(feedLine(a)).toBe('kev 2026-12-02 (5 days old, checked 2026-12-07)');
  });

  it('orders advisories first, then KEV, EPSS, NVD', () => {
    const ages = feedAges(
      [
        record('nvd', 1),
        record('kev', 1),
        record('osv:Ubuntu', 1),
        record('debian-tracker', 1),
        record('osv:Debian', 1),
      ],
      DEFAULT_FEED_MAX_AGE,
      NOW,
    );
    expect(ages.map((a) => a.source)).toEqual(['debian-tracker', 'osv:Debian', 'osv:Ubuntu', 'kev', 'nvd']);
  });
});

describe('the stale notice every report starts with', () => {
  it('is absent when every feed is fresh', () => {
    expect(
      staleNotice(feedAges([record('kev', 1), record('epss', 3)], DEFAULT_FEED_MAX_AGE, NOW)),
    ).toBeUndefined();
  });

  it('says nothing is loaded when nothing is', () => {
    expect(staleNotice([])).toBe('no advisory data is loaded: run `patchbot feeds sync`');
  });

  it('names the oldest age, the bundled snapshot and the stale feeds', () => {
    const ages = feedAges(
      [
        record('debian-tracker', 469, { bundled: true, basis: 'bundled' }),
        record('kev', 469, { bundled: true, basis: 'published' }),
        record('epss', 10),
        record('nvd', 1),
      ],
      DEFAULT_FEED_MAX_AGE,
      NOW,
    );
    expect(staleNotice(ages)).toBe(
      'advisory data is 469 days old (bundled snapshot: debian-tracker, kev; stale: epss); ' +
        'run `patchbot feeds sync`',
    );
  });
});

describe('does a release have current advisories?', () => {
  const tracker = (days: number, extra: Partial<FeedFreshnessRecord> = {}) =>
    record('debian-tracker', days, { ecosystems: ['Debian:11', 'Debian:12'], ...extra });

  it('current when a feed covering it is fresh', () => {
    const s = osAdvisories(debian12, [tracker(1)], DEFAULT_FEED_MAX_AGE, NOW);
    expect(s).toMatchObject({ status: 'current', ecosystems: ['Debian:12'], detail: '' });
  });

  it('current when one of its feeds is fresh, stale when all are', () => {
    const osv = record('osv:Debian', 1, { ecosystems: ['Debian:12'] });
    expect(osAdvisories(debian12, [tracker(30), osv], DEFAULT_FEED_MAX_AGE, NOW).status).toBe('current');
    const s = osAdvisories(debian12, [tracker(469, { bundled: true })], DEFAULT_FEED_MAX_AGE, NOW);
    expect(s.status).toBe('stale');
    expect(s.detail).toBe(
      'advisories for debian 12 are 469 days old (bundled snapshot of 2025-08-25); run `patchbot feeds sync`',
    );
  });

  it('none when no feed gave advisories for the release, naming the source to enable', () => {
    const s = osAdvisories(ubuntu2204, [tracker(1), record('kev', 1)], DEFAULT_FEED_MAX_AGE, NOW);
    expect(s).toMatchObject({ status: 'none', ecosystems: ['Ubuntu:22.04:LTS', 'Ubuntu:22.04'] });
    expect(s.detail).toBe(
      'no advisories for ubuntu 22.04 (run `patchbot feeds sync` with the osv-ubuntu source enabled)',
    );
    // Debian 13 is not covered by advisories of Debian 11 and 12
    const trixie = osAdvisories({ ...debian12, versionId: '13' }, [tracker(1)], DEFAULT_FEED_MAX_AGE, NOW);
    expect(trixie.status).toBe('none');
  });

  it('unsupported when patchbot reads no feed for the distribution', () => {
    const s = osAdvisories(
      { id: 'plan9', family: 'unknown', versionId: '4' },
      [tracker(1)],
      DEFAULT_FEED_MAX_AGE,
      NOW,
    );
    expect(s.status).toBe('unsupported');
    expect(s.detail).toContain('no advisories for plan9 4');
  });
});
