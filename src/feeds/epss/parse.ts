/**
 * FIRST EPSS CSV rows -> EpssItem. Pure; src/feeds/epss/read.ts streams the file through it.
 * The file starts with `#model_version:v2025.03.14,score_date:2025-08-15T00:00:00Z`, then the
 * header `cve,epss,percentile`, then one row per CVE.
 */
import { CVE_PATTERN } from '../patterns.js';
import type { FeedRejection } from '../rejection.js';
import type { EpssItem } from '../../core/feed-sink.js';

export interface EpssMeta {
  modelVersion?: string;
  /** YYYY-MM-DD of score_date. */
  scoreDate?: string;
}

/** The comment line's fields (split on commas), or undefined when `fields` is not that line. */
export function parseEpssMeta(fields: readonly string[]): EpssMeta | undefined {
  if (!(fields[0] ?? '').startsWith('#')) return undefined;
  const meta: EpssMeta = {};
  for (const field of fields) {
    const m = /^#?\s*([a-z_]+):(.*)$/.exec(field.trim());
    if (m === null) continue;
    const [, key, value] = m;
    if (key === 'model_version' && value !== undefined && /^[\w.-]{1,64}$/.test(value))
      meta.modelVersion = value;
    if (key === 'score_date' && value !== undefined) {
      const date = /^(\d{4}-\d{2}-\d{2})(?:T[\d:.]{1,20}(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(value)?.[1];
      if (date !== undefined && !Number.isNaN(Date.parse(`${date}T00:00:00Z`))) meta.scoreDate = date;
    }
  }
  return meta;
}

export function isEpssHeader(fields: readonly string[]): boolean {
  return fields.length >= 3 && fields[0] === 'cve' && fields[1] === 'epss' && fields[2] === 'percentile';
}

const PROBABILITY = /^(?:0(?:\.\d{1,12})?|1(?:\.0{1,12})?|\.\d{1,12}|\d(?:\.\d{1,12})?e-\d{1,2})$/;

export function parseEpssRow(
  fields: readonly string[],
  date: string,
  source: string,
  line: number,
): EpssItem | FeedRejection {
  const [cve = '', epss = '', percentile = ''] = fields;
  const recordId = CVE_PATTERN.test(cve) ? cve : `line ${line}`;
  const reject = (reason: string): FeedRejection => ({ source, recordId, reason });
  if (fields.length !== 3) return reject(`expected 3 columns (cve,epss,percentile), found ${fields.length}`);
  if (!CVE_PATTERN.test(cve)) return reject('first column is not a CVE id');
  if (!PROBABILITY.test(epss)) return reject('epss is not a number between 0 and 1');
  if (!PROBABILITY.test(percentile)) return reject('percentile is not a number between 0 and 1');
  const score = Number(epss);
  const pct = Number(percentile);
  if (!(score >= 0 && score <= 1) || !(pct >= 0 && pct <= 1))
    return reject('epss and percentile must be within 0..1');
  return { cve, epss: { score, percentile: pct, date } };
}

export function isRejection(value: EpssItem | FeedRejection): value is FeedRejection {
  return 'reason' in value;
}
