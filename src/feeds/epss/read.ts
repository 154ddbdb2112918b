/**
 * Streams an EPSS CSV (already decompressed) in batches, so the ~330k-row daily file never sits
 * whole in memory.
 */
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { PatchbotError } from '../../core/errors.js';
import type { FeedRejection } from '../rejection.js';
import type { EpssItem } from '../../core/feed-sink.js';
import { isEpssHeader, isRejection, parseEpssMeta, parseEpssRow, type EpssMeta } from './parse.js';

export interface EpssBatch {
  items: EpssItem[];
  rejections: FeedRejection[];
  meta: EpssMeta;
}

/**
 * @param fallbackDate YYYY-MM-DD used when the file has no `#model_version...score_date` line.
 */
export async function* readEpssCsv(
  input: Readable,
  source: string,
  fallbackDate: string,
  batchSize: number,
): AsyncGenerator<EpssBatch> {
  const parser = input.pipe(
    parse({
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      max_record_size: 4096,
      info: true,
    }),
  );
  input.on('error', (err) => parser.destroy(err));
  let meta: EpssMeta = {};
  let sawHeader = false;
  let items: EpssItem[] = [];
  let rejections: FeedRejection[] = [];
  for await (const chunk of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const { record, info } = chunk;
    if (!sawHeader) {
      const m = parseEpssMeta(record);
      if (m !== undefined) {
        meta = m;
        continue;
      }
      if (!isEpssHeader(record)) {
        throw new PatchbotError(
          'FEED_INVALID',
          `${source}: line ${info.lines} is not the EPSS header cve,epss,percentile`,
        );
      }
      sawHeader = true;
      continue;
    }
    const row = parseEpssRow(record, meta.scoreDate ?? fallbackDate, source, info.lines);
    if (isRejection(row)) rejections.push(row);
    else items.push(row);
    if (items.length + rejections.length >= batchSize) {
      yield { items, rejections, meta };
      items = [];
      rejections = [];
    }
  }
  if (!sawHeader)
    throw new PatchbotError('FEED_INVALID', `${source}: no EPSS header line (cve,epss,percentile)`);
  if (items.length > 0 || rejections.length > 0) yield { items, rejections, meta };
}
