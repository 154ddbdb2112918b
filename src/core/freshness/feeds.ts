/**
 * How fresh the advisory data is, and whether a host's distribution has current advisories at all.
 * Pure: the database stores one FeedFreshness record per feed (src/db), reports read them through
 * these functions. docs/feeds.md ("How fresh the data is") documents the rules.
 */
import { ecosystemsForOs } from '../matching/ecosystems.js';
import type { OsInfo } from '../model.js';

const DAY = 86_400_000;

/** The kinds of feed data, each with its own maximum age (policy `feeds.maxAge`). */
export const FEED_KINDS = ['debian-tracker', 'osv', 'kev', 'epss', 'nvd'] as const;
export type FeedKind = (typeof FEED_KINDS)[number];

/** Milliseconds per kind, past which a feed is stale. */
export type FeedMaxAge = Readonly<Record<FeedKind, number>>;

/** The defaults: advisories and KEV change daily, EPSS daily but slowly, NVD CVSS rarely. */
export const DEFAULT_FEED_MAX_AGE: FeedMaxAge = {
  'debian-tracker': 2 * DAY,
  osv: 2 * DAY,
  kev: 2 * DAY,
  epss: 7 * DAY,
  nvd: 7 * DAY,
};

/** How a record's `asOf` was found. */
export type FreshnessBasis =
  /** the feed's own date: KEV dateReleased, EPSS score_date, NVD lastModified */
  | 'published'
  /** the HTTP Last-Modified of the download */
  | 'last-modified'
  /** when it was downloaded (no date in the data or the response) */
  | 'fetched'
  /** a local file's modification time */
  | 'file'
  /** the date of the snapshot bundled with patchbot */
  | 'bundled'
  /** imported before feed dates were recorded: estimated from the stored data */
  | 'estimated';

const BASES: readonly FreshnessBasis[] = [
  'published',
  'last-modified',
  'fetched',
  'file',
  'bundled',
  'estimated',
];

/** A stored basis as the type; anything unknown (written by another version) counts as an estimate. */
export function freshnessBasis(value: string): FreshnessBasis {
  return (BASES as readonly string[]).includes(value) ? (value as FreshnessBasis) : 'estimated';
}

/** One feed's stored freshness (FeedFreshness). */
export interface FeedFreshnessRecord {
  /** "debian-tracker", "osv:Debian", "kev", "epss", "nvd". */
  feed: string;
  asOf: Date;
  basis: FreshnessBasis;
  bundled: boolean;
  /** When a sync last confirmed this is the newest data of its URL; null for files. */
  checkedAt: Date | null;
  location: string;
  /** OSV ecosystems the feed gave advisories for. */
  ecosystems: readonly string[];
}

/** One feed's age as reports show it (the `feeds[]` of every JSON report). */
export interface FeedAge {
  source: string;
  /** The data's date, ISO 8601. */
  asOf: string;
  /** Whole days since `asOf`. */
  ageDays: number;
  /** Past the policy's maximum age, counted from `asOf` or the last confirmation, whichever is later. */
  stale: boolean;
  /** From the snapshot bundled with patchbot. */
  bundled: boolean;
  basis: string;
  /** When a sync last confirmed it current (ISO 8601), when one did. */
  checkedAt: string | null;
  maxAgeDays: number;
}

/** The kind of a feed name: "osv:Ubuntu" -> osv; undefined for a name patchbot does not know. */
export function feedKindOf(feed: string): FeedKind | undefined {
  if (feed.startsWith('osv:')) return 'osv';
  return (FEED_KINDS as readonly string[]).includes(feed) ? (feed as FeedKind) : undefined;
}

function wholeDays(ms: number): number {
  return Math.max(0, Math.floor(ms / DAY));
}

/** The age of one feed at `now`. */
export function feedAge(r: FeedFreshnessRecord, maxAge: FeedMaxAge, now: Date): FeedAge {
  const limit = maxAge[feedKindOf(r.feed) ?? 'osv'];
  const confirmed = Math.max(r.asOf.getTime(), r.checkedAt?.getTime() ?? 0);
  return {
    source: r.feed,
    asOf: r.asOf.toISOString(),
    ageDays: wholeDays(now.getTime() - r.asOf.getTime()),
    stale: now.getTime() - confirmed > limit,
    bundled: r.bundled,
    basis: r.basis,
    checkedAt: r.checkedAt?.toISOString() ?? null,
    maxAgeDays: Math.round((limit / DAY) * 100) / 100,
  };
}

/** Every feed's age, in a stable order (advisories first, then KEV, EPSS, NVD). */
export function feedAges(records: readonly FeedFreshnessRecord[], maxAge: FeedMaxAge, now: Date): FeedAge[] {
  const rank = (feed: string) => FEED_KINDS.indexOf(feedKindOf(feed) ?? 'osv');
  return [...records]
    .sort((a, b) => rank(a.feed) - rank(b.feed) || a.feed.localeCompare(b.feed))
    .map((r) => feedAge(r, maxAge, now));
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/**
 * The line every report puts first when data is stale or missing: "advisory data is 469 days old
 * (debian-tracker, kev: bundled snapshot of 2025-08-25); run `patchbot feeds sync`". Undefined when
 * every feed is fresh.
 */
export function staleNotice(ages: readonly FeedAge[]): string | undefined {
  if (ages.length === 0) return 'no advisory data is loaded: run `patchbot feeds sync`';
  const stale = ages.filter((a) => a.stale);
  if (stale.length === 0) return undefined;
  const oldest = Math.max(...stale.map((a) => a.ageDays));
  const bundled = stale.filter((a) => a.bundled);
  const names = (list: readonly FeedAge[]) => list.map((a) => a.source).join(', ');
  const parts = [
    ...(bundled.length > 0 ? [`bundled snapshot: ${names(bundled)}`] : []),
    ...(stale.length > bundled.length ? [`stale: ${names(stale.filter((a) => !a.bundled))}`] : []),
  ];
  return `advisory data is ${plural(oldest, 'day')} old (${parts.join('; ')}); run \`patchbot feeds sync\``;
}

/** "3 days", "today", for a freshness line. */
export function ageText(a: Pick<FeedAge, 'ageDays'>): string {
  return a.ageDays === 0 ? 'today' : `${plural(a.ageDays, 'day')} old`;
}

/** Short form for a list: "kev 2025-08-25 (469 days, bundled, stale)". */
export function feedShort(a: FeedAge): string {
  const notes = [
    a.ageDays === 0 ? 'today' : plural(a.ageDays, 'day'),
    ...(a.bundled ? ['bundled'] : []),
    ...(a.stale ? ['stale'] : []),
  ];
  return `${a.source} ${a.asOf.slice(0, 10)} (${notes.join(', ')})`;
}

/** One line per feed: "kev 2025-08-25 (469 days old, bundled snapshot, STALE)". */
export function feedLine(a: FeedAge): string {
  const notes = [
    ageText(a),
    ...(a.bundled ? ['bundled snapshot'] : []),
    ...(a.checkedAt !== null && a.ageDays > 0 ? [`checked ${a.checkedAt.slice(0, 10)}`] : []),
    ...(a.stale ? ['STALE'] : []),
  ];
  return `${a.source} ${a.asOf.slice(0, 10)} (${notes.join(', ')})`;
}

// ---------------------------------------------------------------------------------------------
// does a host's distribution have current advisories?

export type AdvisoryStatus =
  /** at least one feed with advisories for the release is fresh */
  | 'current'
  /** every feed with advisories for the release is stale */
  | 'stale'
  /** no feed has given advisories for the release */
  | 'none'
  /** patchbot knows no advisory ecosystem for this distribution */
  | 'unsupported';

export interface OsAdvisories {
  status: AdvisoryStatus;
  /** The OSV ecosystems of the release ("Debian:12"). */
  ecosystems: string[];
  /** The feeds with advisories for it, with their ages. */
  feeds: FeedAge[];
  /** What a person reads: "no advisories for ubuntu 22.04 (...)". Empty when current. */
  detail: string;
}

/** "ubuntu 22.04", "debian sid". */
export function osLabel(os: Pick<OsInfo, 'id' | 'versionId' | 'codename'>): string {
  return `${os.id} ${os.versionId || os.codename || '?'}`.trim();
}

/** The built-in source of the policy file that brings advisories of an ecosystem family. */
const SOURCE_OF: Readonly<Record<string, string>> = {
  Debian: 'debian-tracker',
  Ubuntu: 'osv-ubuntu',
  Alpine: 'osv-alpine',
  'Rocky Linux': 'osv-rocky',
  AlmaLinux: 'osv-almalinux',
  'Red Hat': 'osv-redhat',
};

/** Whether the advisories for `os` are loaded and fresh, judged from the feeds' records. */
export function osAdvisories(
  os: OsInfo,
  records: readonly FeedFreshnessRecord[],
  maxAge: FeedMaxAge,
  now: Date,
): OsAdvisories {
  const ecosystems = ecosystemsForOs(os);
  const label = osLabel(os);
  if (ecosystems.length === 0)
    return {
      status: 'unsupported',
      ecosystems,
      feeds: [],
      detail: `no advisories for ${label}: patchbot reads no advisory feed for this distribution`,
    };
  const wanted = new Set(ecosystems);
  const feeds = records
    .filter((r) => r.ecosystems.some((e) => wanted.has(e)))
    .map((r) => feedAge(r, maxAge, now));
  const base = ecosystems[0]?.split(':')[0] ?? '';
  const source = SOURCE_OF[base];
  if (feeds.length === 0)
    return {
      status: 'none',
      ecosystems,
      feeds,
      detail:
        `no advisories for ${label} (run \`patchbot feeds sync\`` +
        (source ? ` with the ${source} source enabled)` : ')'),
    };
  if (feeds.every((f) => f.stale)) {
    const newest = feeds.reduce((a, b) => (a.ageDays <= b.ageDays ? a : b));
    return {
      status: 'stale',
      ecosystems,
      feeds,
      detail:
        `advisories for ${label} are ${plural(newest.ageDays, 'day')} old` +
        `${newest.bundled ? ` (bundled snapshot of ${newest.asOf.slice(0, 10)})` : ''}; run \`patchbot feeds sync\``,
    };
  }
  return { status: 'current', ecosystems, feeds, detail: '' };
}
