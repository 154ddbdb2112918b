/**
 * Where synced feed data goes. The application implements FeedSink over PostgreSQL; tests use an
 * in-memory one. Every batch a sink receives has been validated: advisories satisfy
 * `AdvisoryRecord` (src/feeds/advisory-schema.ts), enrichment items their schemas below.
 * A sink must be idempotent: upserting the same content again reports it as unchanged
 * (compare `advisoryContentHash` / `enrichmentContentHash` from src/feeds/hash.ts).
 */
import type { Advisory, CvssScore, EpssScore, KevEntry } from './model.js';

export interface AdvisoryUpsertResult {
  /** Ids not stored before. */
  new: string[];
  /** Ids stored before whose content hash differs. */
  changed: string[];
  /** How many were stored already with the same content hash. */
  unchanged: number;
  /** Ids whose `withdrawn` became set by this batch (new withdrawn records included). */
  withdrawn: string[];
}

export interface EnrichmentUpsertResult {
  new: string[];
  changed: string[];
  unchanged: number;
}

/** One CVE in the CISA KEV catalog. */
export interface KevItem {
  cve: string;
  kev: KevEntry;
}

/** One CVE's EPSS score of the day. */
export interface EpssItem {
  cve: string;
  epss: EpssScore;
}

/** What NVD says about one CVE: its CVSS scores and whether it was rejected. */
export interface NvdItem {
  cve: string;
  cvss: CvssScore[];
  rejected: boolean;
  /** NVD's lastModified, when known (ISO 8601). */
  lastModified?: string;
}

export interface EnrichmentItems {
  kev: KevItem;
  epss: EpssItem;
  nvd: NvdItem;
}

export type EnrichmentKind = keyof EnrichmentItems;

/** Per-source bookkeeping for incremental sync. */
export interface FeedState {
  /** HTTP ETag of the last successful download. */
  etag?: string;
  /** HTTP Last-Modified of the last successful download. */
  lastModified?: string;
  /** Source-specific resume point (NVD: the ISO end of the last synced lastMod window). */
  cursor?: string;
}

export interface FeedSink {
  upsertAdvisories(batch: Advisory[]): Promise<AdvisoryUpsertResult>;
  upsertEnrichment<K extends EnrichmentKind>(
    kind: K,
    batch: EnrichmentItems[K][],
  ): Promise<EnrichmentUpsertResult>;
  /** State saved for `source` (the source string as given to syncFeeds), or undefined. */
  getFeedState(source: string): Promise<FeedState | undefined>;
  /** Called only after the source was imported completely. */
  setFeedState(source: string, state: FeedState): Promise<void>;
}
