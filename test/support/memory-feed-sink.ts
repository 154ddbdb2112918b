/**
 * A FeedSink that keeps everything in maps. Changes are decided by content hash, exactly as the
 * PostgreSQL sink does (src/feeds/hash.ts), so idempotency tests mean the same thing for both.
 * It re-checks every advisory it receives and throws on an invalid one: a test that passes an
 * invalid record through syncFeeds fails loudly.
 */
import type { Advisory } from '../../src/core/model.js';
import { checkAdvisory } from '../../src/feeds/advisory-schema.js';
import { advisoryContentHash, enrichmentContentHash } from '../../src/core/content-hash.js';
import type {
  AdvisoryUpsertResult,
  EnrichmentItems,
  EnrichmentKind,
  EnrichmentUpsertResult,
  FeedSink,
  FeedState,
} from '../../src/core/feed-sink.js';

export class MemoryFeedSink implements FeedSink {
  readonly advisories = new Map<string, { advisory: Advisory; hash: string }>();
  readonly enrichment: { [K in EnrichmentKind]: Map<string, { item: EnrichmentItems[K]; hash: string }> } = {
    kev: new Map(),
    epss: new Map(),
    nvd: new Map(),
  };
  readonly states = new Map<string, FeedState>();
  /** Sizes of the batches received, to check batching. */
  readonly batchSizes: number[] = [];

  upsertAdvisories(batch: Advisory[]): Promise<AdvisoryUpsertResult> {
    this.batchSizes.push(batch.length);
    const result: AdvisoryUpsertResult = { new: [], changed: [], unchanged: 0, withdrawn: [] };
    for (const advisory of batch) {
      const invalid = checkAdvisory(advisory);
      if (invalid !== undefined)
        throw new Error(`sink received an invalid advisory ${advisory.id}: ${invalid.message}`);
      const hash = advisoryContentHash(advisory);
      const before = this.advisories.get(advisory.id);
      if (before === undefined) result.new.push(advisory.id);
      else if (before.hash !== hash) result.changed.push(advisory.id);
      else {
        result.unchanged++;
        continue;
      }
      if (advisory.withdrawn !== undefined && before?.advisory.withdrawn === undefined)
        result.withdrawn.push(advisory.id);
      this.advisories.set(advisory.id, { advisory: structuredClone(advisory), hash });
    }
    return Promise.resolve(result);
  }

  upsertEnrichment<K extends EnrichmentKind>(
    kind: K,
    batch: EnrichmentItems[K][],
  ): Promise<EnrichmentUpsertResult> {
    this.batchSizes.push(batch.length);
    const store = this.enrichment[kind] as Map<string, { item: EnrichmentItems[K]; hash: string }>;
    const result: EnrichmentUpsertResult = { new: [], changed: [], unchanged: 0 };
    for (const item of batch) {
      const hash = enrichmentContentHash(item);
      const before = store.get(item.cve);
      if (before === undefined) result.new.push(item.cve);
      else if (before.hash !== hash) result.changed.push(item.cve);
      else {
        result.unchanged++;
        continue;
      }
      store.set(item.cve, { item: structuredClone(item), hash });
    }
    return Promise.resolve(result);
  }

  getFeedState(source: string): Promise<FeedState | undefined> {
    return Promise.resolve(this.states.get(source));
  }

  setFeedState(source: string, state: FeedState): Promise<void> {
    this.states.set(source, { ...state });
    return Promise.resolve();
  }
}
