/**
 * Pages through the NVD CVE API 2.0. With a cursor (the end of the last synced window) it asks only
 * for CVEs modified since, in windows of at most 120 days (the API's limit); without one it reads
 * everything. NVD asks clients to pause between requests (6 s without an API key, less with one).
 */
import { PatchbotError } from '../../core/errors.js';
import { fetchJson, type HttpOptions } from '../source.js';
import { parseNvdDocument, type NvdParseResult } from './parse.js';

export interface NvdFetchOptions {
  http: HttpOptions;
  /** Resume from here (ISO 8601); undefined = full sync. */
  since?: string;
  until: Date;
  resultsPerPage?: number;
  pauseMs: number;
  sleep: (ms: number) => Promise<void>;
}

export interface NvdFetchedPage extends NvdParseResult {
  url: string;
  /** The lastMod window this page belongs to (undefined for a full sync). */
  windowEnd?: Date;
}

const WINDOW_MS = 120 * 24 * 3600 * 1000;

export async function* fetchNvdPages(base: URL, options: NvdFetchOptions): AsyncGenerator<NvdFetchedPage> {
  const perPage = options.resultsPerPage ?? 2000;
  const windows: ({ start: Date; end: Date } | undefined)[] = [];
  if (options.since === undefined) windows.push(undefined);
  else {
    let start = new Date(options.since);
    if (Number.isNaN(start.getTime()))
      throw new PatchbotError('FEED_INVALID', `bad NVD cursor ${options.since}`);
    while (start < options.until) {
      const end = new Date(Math.min(start.getTime() + WINDOW_MS, options.until.getTime()));
      windows.push({ start, end });
      start = end;
    }
  }
  let first = true;
  for (const window of windows) {
    let startIndex = 0;
    for (;;) {
      const url = new URL(base.href);
      url.searchParams.set('resultsPerPage', String(perPage));
      url.searchParams.set('startIndex', String(startIndex));
      if (window !== undefined) {
        url.searchParams.set('lastModStartDate', nvdDate(window.start));
        url.searchParams.set('lastModEndDate', nvdDate(window.end));
      }
      if (!first) await options.sleep(options.pauseMs);
      first = false;
      const raw = await fetchJson(url, options.http);
      const page = parseNvdDocument(raw, `${base.host}${base.pathname}?startIndex=${startIndex}`);
      if (page.page === undefined)
        throw new PatchbotError('FEED_INVALID', `${base.href}: not a CVE API response`);
      yield { ...page, url: url.href, windowEnd: window?.end };
      if (page.page.resultsPerPage === 0) break;
      startIndex = page.page.startIndex + page.page.resultsPerPage;
      if (startIndex >= page.page.totalResults) break;
    }
  }
}

/** NVD's date format: 2024-01-01T00:00:00.000+00:00 (URLSearchParams encodes the +). */
export function nvdDate(d: Date): string {
  return d.toISOString().replace('Z', '+00:00');
}
