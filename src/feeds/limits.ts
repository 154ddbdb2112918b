/**
 * Size limits for untrusted feed input. Every reader checks them before it buffers anything, so a
 * hostile or corrupt feed costs a clear rejection, not the process's memory.
 */
export interface FeedLimits {
  /** Largest download accepted from a URL (bytes). */
  maxDownloadBytes: number;
  /** Largest JSON/YAML document read whole (bytes, after decompression). */
  maxDocumentBytes: number;
  /** Largest single entry of a zip archive (bytes, uncompressed). */
  maxZipEntryBytes: number;
  /** Largest sum of uncompressed entry sizes of one zip archive (bytes). */
  maxZipTotalBytes: number;
  /** Most entries read from one zip archive. */
  maxZipEntries: number;
  /** Records handed to the sink at once. */
  batchSize: number;
  /** Download timeout (milliseconds, whole transfer). */
  fetchTimeoutMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_FEED_LIMITS: FeedLimits = {
  // OSV's largest ecosystem archives (Ubuntu, Debian) are a few hundred MiB.
  maxDownloadBytes: 2048 * MiB,
  // The Debian tracker JSON is the largest document read whole (~80 MiB in 2025).
  maxDocumentBytes: 384 * MiB,
  // The largest OSV records (kernel advisories with every binary listed) are around 2 MiB.
  maxZipEntryBytes: 32 * MiB,
  maxZipTotalBytes: 8192 * MiB,
  maxZipEntries: 2_000_000,
  batchSize: 500,
  fetchTimeoutMs: 15 * 60 * 1000,
};

/** Per-field string caps used by the record schemas. */
export const FIELD_LIMITS = {
  id: 256,
  name: 256,
  version: 256,
  shortText: 16 * 1024,
  longText: 1024 * 1024,
  url: 4096,
  listItems: 100_000,
} as const;
