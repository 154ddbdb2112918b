/**
 * `syncFeeds`: reads each source (file, directory, zip, URL), detects its format by content, parses
 * and validates every record, and hands valid ones to the FeedSink in batches. A bad record is
 * reported (source, record id, reason) and skipped; a source that fails as a whole (unreachable,
 * unrecognised, truncated) is reported and the next source still runs. Records already handed to
 * the sink stay there: nothing stored is lost.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import type { Advisory } from '../core/model.js';
import { PatchbotError, userMessageOf } from '../core/errors.js';
import { parseTrackerJson } from './debian-tracker/parse.js';
import { DEFAULT_FEED_URLS, isNvdApiUrl, resolveSourceSpec } from './defaults.js';
import { detectDocument, looksLikeOsv, sniffBytes, type DocumentFormat } from './detect.js';
import { DocumentSyntaxError, decodeUtf8, parseJsonText, parseYamlText } from './document.js';
import { readEpssCsv } from './epss/read.js';
import { parseKevCatalog } from './kev/parse.js';
import { LvfsDocumentError, looksLikeLvfs, parseLvfsMetadata } from './lvfs/parse.js';
import { DEFAULT_FEED_LIMITS, type FeedLimits } from './limits.js';
import { fetchNvdPages } from './nvd/fetch.js';
import { parseNvdDocument } from './nvd/parse.js';
import { parseOsvRecord } from './osv/parse.js';
import type { FeedRejection } from './rejection.js';
import type { EnrichmentItems, EnrichmentKind, FeedSink } from '../core/feed-sink.js';
import { downloadToFile, locateSource, redact, type FetchFn, type HttpOptions } from './source.js';
import { countZipEntries, readZip } from './zip.js';
import { inflateZstd } from './zstd.js';

/** pino-compatible: static message, details in fields. */
export interface FeedLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface SyncProgress {
  source: string;
  done: number;
  /** Known for zip archives (entries), directories (files), KEV, NVD and the tracker (records). */
  total?: number;
  unit: 'records' | 'files' | 'entries';
}

export interface SourceSummary {
  source: string;
  /** Formats found in the source (a directory or archive may mix them). */
  formats: string[];
  /** Records read: OSV records, tracker (package, issue) entries, KEV entries, EPSS rows, NVD CVEs. */
  read: number;
  new: number;
  changed: number;
  unchanged: number;
  withdrawn: number;
  /** The first MAX_LISTED_REJECTIONS rejections; `rejectedCount` has them all. */
  rejected: FeedRejection[];
  rejectedCount: number;
  /** Files of a directory or archive that are no feed format patchbot reads. */
  skipped: string[];
  /** The URL answered 304 Not Modified: nothing was read. */
  notModified: boolean;
  /** Why the source stopped early, if it did. */
  error?: string;
  /** The kinds of feed data read, each with its date (FeedFreshness). */
  feeds: FeedObservation[];
}

/** What one source showed of one kind of feed data: its date and the ecosystems it covered. */
export interface FeedObservation {
  /** "debian-tracker", "osv:Debian", "kev", "epss", "nvd". */
  feed: string;
  /** The feed's own date where its format has one, else the download's or the file's. */
  asOf: Date;
  basis: 'published' | 'last-modified' | 'fetched' | 'file';
  /** OSV ecosystems of the advisories read ("Debian:12"), sorted. */
  ecosystems: string[];
}

interface Observed {
  published?: Date;
  transport?: Date;
  transportBasis: 'last-modified' | 'fetched' | 'file';
  ecosystems: Set<string>;
}

export interface SyncDeps {
  fetch?: FetchFn;
  logger?: FeedLogger;
  onProgress?: (progress: SyncProgress) => void;
  limits?: Partial<FeedLimits>;
  /** Base for relative paths (default: the process's working directory). */
  cwd?: string;
  /** Where downloads are kept while they are read (default: the OS temp directory). */
  tmpDir?: string;
  now?: () => Date;
  /** NVD API key (raises NVD's rate limit). */
  nvdApiKey?: string;
  /** Pause between NVD API requests (default 6000 ms without a key, 700 ms with one). */
  nvdPauseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export const MAX_LISTED_REJECTIONS = 1000;
/** The first line of the tracker's DSA/DLA list: "[29 Mar 2023] DSA-5380-1 xorg-server - security update". */
const DSA_LIST = /^\s*\[\d{1,2} [A-Z][a-z]{2} \d{4}\] D[SL]A-\d/;
const MAX_LOGGED_REJECTIONS = 20;
const HEAD_BYTES = 64 * 1024;

export async function syncFeeds(
  sources: readonly string[],
  sink: FeedSink,
  deps: SyncDeps = {},
): Promise<SourceSummary[]> {
  const summaries: SourceSummary[] = [];
  for (const source of sources) {
    const run = new SourceRun(source, sink, deps);
    await run.run();
    summaries.push(run.summary);
  }
  return summaries;
}

class SourceRun {
  readonly summary: SourceSummary;
  private readonly limits: FeedLimits;
  private readonly formats = new Set<string>();
  private advisories: Advisory[] = [];
  private readonly enrichment: { [K in EnrichmentKind]: EnrichmentItems[K][] } = {
    kev: [],
    epss: [],
    nvd: [],
  };
  private done = 0;
  private total: number | undefined;
  private unit: SyncProgress['unit'] = 'records';

  constructor(
    private readonly source: string,
    private readonly sink: FeedSink,
    private readonly deps: SyncDeps,
  ) {
    this.limits = { ...DEFAULT_FEED_LIMITS, ...deps.limits };
    this.summary = {
      source,
      formats: [],
      read: 0,
      new: 0,
      changed: 0,
      unchanged: 0,
      withdrawn: 0,
      rejected: [],
      rejectedCount: 0,
      skipped: [],
      notModified: false,
      feeds: [],
    };
  }

  /** Feed kind -> what was seen of it. */
  private readonly observed = new Map<string, Observed>();
  /** The date of what is being read: the download's (Last-Modified or now) or the file's. */
  private transport: { date: Date; basis: Observed['transportBasis'] } | undefined;

  /** Notes that `feed` data was read (dated `published` when the data says so). */
  private observe(feed: string, published?: Date, ecosystems: Iterable<string> = []): void {
    let o = this.observed.get(feed);
    if (!o) {
      o = { transportBasis: 'file', ecosystems: new Set() };
      this.observed.set(feed, o);
    }
    if (published !== undefined && (o.published === undefined || published > o.published))
      o.published = published;
    if (this.transport && (o.transport === undefined || this.transport.date > o.transport)) {
      o.transport = this.transport.date;
      o.transportBasis = this.transport.basis;
    }
    for (const e of ecosystems) o.ecosystems.add(e);
  }

  private observations(): FeedObservation[] {
    const out: FeedObservation[] = [];
    for (const [feed, o] of this.observed) {
      const asOf = o.published ?? o.transport;
      if (asOf === undefined) continue;
      out.push({
        feed,
        asOf,
        basis: o.published !== undefined ? 'published' : o.transportBasis,
        ecosystems: [...o.ecosystems].sort(),
      });
    }
    return out.sort((a, b) => a.feed.localeCompare(b.feed));
  }

  async run(): Promise<void> {
    try {
      const location = await locateSource(resolveSourceSpec(this.source), this.deps.cwd ?? process.cwd());
      if (location.kind === 'url') {
        if (isNvdApiUrl(location.url)) await this.runNvd(location.url);
        else await this.runDownload(location.url);
      } else if (location.kind === 'directory') {
        await this.runDirectory(location.path);
      } else {
        await this.processFile(location.path, this.source, { inContainer: false });
      }
      await this.flushAll();
    } catch (err) {
      // Keep what was read before the failure.
      try {
        await this.flushAll();
      } catch (flushErr) {
        this.deps.logger?.warn({ source: this.source, err: userMessageOf(flushErr) }, 'feed sink failed');
      }
      this.summary.error = userMessageOf(err);
      this.deps.logger?.warn({ source: this.source, err: this.summary.error }, 'feed source failed');
    } finally {
      this.summary.formats = [...this.formats];
      this.summary.feeds = this.observations();
    }
  }

  // ---- sources ---------------------------------------------------------------------------

  private http(): HttpOptions {
    return {
      fetch: this.deps.fetch ?? globalThis.fetch,
      timeoutMs: this.limits.fetchTimeoutMs,
      maxBytes: this.limits.maxDownloadBytes,
      headers: { 'user-agent': 'patchbot-feeds' },
    };
  }

  private async runDownload(url: URL): Promise<void> {
    const key = url.href;
    const state = await this.sink.getFeedState(key);
    const dir = await mkdtemp(join(this.deps.tmpDir ?? tmpdir(), 'patchbot-feed-'));
    try {
      const file = join(dir, 'download');
      const result = await downloadToFile(url, file, state, this.http());
      if (result.status === 'not-modified') {
        this.summary.notModified = true;
        this.deps.logger?.info({ source: this.source }, 'feed not modified');
        return;
      }
      const lastModified = httpDate(result.validators.lastModified);
      const asOf = lastModified ?? this.now();
      this.transport = { date: asOf, basis: lastModified ? 'last-modified' : 'fetched' };
      await this.processFile(file, redact(url), { inContainer: false, asOf });
      await this.flushAll();
      await this.sink.setFeedState(key, {
        ...state,
        etag: result.validators.etag,
        lastModified: result.validators.lastModified,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async runNvd(url: URL): Promise<void> {
    const key = url.href;
    const state = await this.sink.getFeedState(key);
    const until = this.now();
    const headers: Record<string, string> = { 'user-agent': 'patchbot-feeds' };
    if (this.deps.nvdApiKey !== undefined) headers['apiKey'] = this.deps.nvdApiKey;
    const pauseMs = this.deps.nvdPauseMs ?? (this.deps.nvdApiKey === undefined ? 6000 : 700);
    this.formats.add('nvd');
    // the API answers with every change up to `until`: the data is current as of then
    this.transport = { date: until, basis: 'fetched' };
    for await (const page of fetchNvdPages(url, {
      http: { ...this.http(), maxBytes: this.limits.maxDocumentBytes, headers },
      since: state?.cursor,
      until,
      pauseMs,
      sleep: this.deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    })) {
      this.total = page.page?.totalResults;
      for (const item of page.items) await this.addEnrichment('nvd', item);
      for (const r of page.rejections) this.reject(r);
      this.summary.read += page.page?.resultsPerPage ?? page.items.length;
      this.tick(page.page?.resultsPerPage ?? page.items.length);
    }
    await this.flushAll();
    this.observe('nvd');
    await this.sink.setFeedState(key, { ...state, cursor: until.toISOString() });
    if (url.href !== DEFAULT_FEED_URLS.nvd)
      this.deps.logger?.info({ source: this.source }, 'NVD API mirror synced');
  }

  private async runDirectory(root: string): Promise<void> {
    const files = await walk(root);
    this.total = files.length;
    this.unit = 'files';
    for (const file of files) {
      const label = `${this.source}/${relative(root, file)}`;
      try {
        await this.processFile(file, label, { inContainer: true });
      } catch (err) {
        this.reject({ source: label, recordId: '(file)', reason: userMessageOf(err) });
      }
      this.tick();
    }
  }

  // ---- files and documents ----------------------------------------------------------------

  private async processFile(
    path: string,
    label: string,
    opts: { inContainer: boolean; asOf?: Date },
  ): Promise<void> {
    const info = await stat(path);
    const asOf = opts.asOf ?? info.mtime;
    // a local file is as fresh as its modification time (when it was downloaded or written)
    if (opts.asOf === undefined) this.transport = { date: info.mtime, basis: 'file' };
    const head = await readHead(path, HEAD_BYTES);
    const kind = sniffBytes(head);
    if (kind === 'zip') {
      if (opts.inContainer && this.unit !== 'files') return this.skip(label);
      return this.processZip(path, label);
    }
    if (kind === 'gzip') return this.processGzip(path, head, label, opts.inContainer, asOf);
    if (kind === 'zstd') {
      const inner = await inflateZstd(createReadStream(path), this.limits.maxDocumentBytes, label);
      return this.processDocument(inner, label, opts.inContainer, asOf, true);
    }
    if (kind === 'epss') return this.processEpss(createReadStream(path), label, asOf);
    if (info.size > this.limits.maxDocumentBytes) {
      throw new PatchbotError(
        'FEED_INVALID',
        `${label}: ${info.size} bytes is over the ${this.limits.maxDocumentBytes}-byte limit`,
      );
    }
    return this.processDocument(await readFile(path), label, opts.inContainer, asOf);
  }

  private async processGzip(
    path: string,
    head: Buffer,
    label: string,
    inContainer: boolean,
    asOf: Date,
  ): Promise<void> {
    let inner: Buffer;
    try {
      inner = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new PatchbotError('FEED_INVALID', `${label}: corrupt gzip data (${userMessageOf(err)})`);
    }
    const kind = sniffBytes(inner);
    const gunzip = () => {
      const z = createGunzip();
      const input = createReadStream(path);
      input.on('error', (e) => z.destroy(e));
      z.on('error', () => input.destroy());
      return input.pipe(z);
    };
    if (kind === 'epss') return this.processEpss(gunzip(), label, asOf);
    if (kind === 'zip' || kind === 'gzip' || kind === 'zstd') {
      if (inContainer) return this.skip(label);
      throw new PatchbotError(
        'FEED_INVALID',
        `${label}: a compressed archive inside gzip is not a feed format`,
      );
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of gunzip()) {
        bytes += (chunk as Buffer).length;
        if (bytes > this.limits.maxDocumentBytes) {
          throw new PatchbotError(
            'FEED_INVALID',
            `${label}: inflates past the ${this.limits.maxDocumentBytes}-byte limit`,
          );
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw gzipError(label, err);
    }
    return this.processDocument(Buffer.concat(chunks), label, inContainer, asOf);
  }

  private async processZip(path: string, label: string): Promise<void> {
    this.formats.add('zip');
    const isTop = this.unit !== 'files';
    if (isTop) {
      this.total = await countZipEntries(path);
      this.unit = 'entries';
    }
    for await (const item of readZip(path, {
      maxEntryBytes: this.limits.maxZipEntryBytes,
      maxTotalBytes: this.limits.maxZipTotalBytes,
      maxEntries: this.limits.maxZipEntries,
    })) {
      const entryLabel = `${label}:${item.name}`;
      if (item.kind === 'rejected') {
        this.reject({ source: label, recordId: item.name, reason: item.reason });
      } else {
        try {
          await this.processDocument(item.data, entryLabel, true, item.modified);
        } catch (err) {
          this.reject({ source: entryLabel, recordId: '(entry)', reason: userMessageOf(err) });
        }
      }
      if (isTop) this.tick();
    }
  }

  private async processDocument(
    bytes: Buffer,
    label: string,
    inContainer: boolean,
    asOf: Date,
    decompressed = false,
  ): Promise<void> {
    const kind = sniffBytes(bytes.subarray(0, 512));
    if (kind === 'epss') return this.processEpss(Readable.from([bytes]), label, asOf);
    if (kind === 'zstd' && !decompressed) {
      const inner = await inflateZstd([bytes], this.limits.maxDocumentBytes, label);
      return this.processDocument(inner, label, inContainer, asOf, true);
    }
    if (kind === 'zip' || kind === 'gzip' || kind === 'zstd') return this.skip(label, inContainer);
    let text: string;
    try {
      text = decodeUtf8(bytes);
    } catch (err) {
      if (inContainer) return this.skip(label);
      throw new PatchbotError('FEED_INVALID', `${label}: ${userMessageOf(err)}`);
    }
    if (DSA_LIST.test(text.slice(0, 200))) {
      return this.skip(
        label,
        inContainer,
        "a Debian DSA/DLA list (the security tracker's data/DSA/list text), which is not a feed format " +
          'patchbot reads: use the tracker JSON instead (`--from debian-tracker`)',
      );
    }
    if (kind === 'json') {
      let value: unknown;
      try {
        value = parseJsonText(text);
      } catch (err) {
        if (!(err instanceof DocumentSyntaxError)) throw err;
        // a file given on its own that is not even JSON is no feed: the source fails as a whole
        if (!inContainer) throw new PatchbotError('FEED_INVALID', `${label}: ${err.message}`);
        this.summary.read++;
        this.reject({ source: label, recordId: '(file)', reason: err.message });
        return;
      }
      const format = detectDocument(value);
      if (format === undefined) return this.skip(label, inContainer, 'JSON of no known feed format');
      return this.dispatch(format, value, label, asOf);
    }
    if (kind === 'xml') {
      if (!looksLikeLvfs(text)) return this.skip(label, inContainer, 'XML of no known feed format');
      return this.processLvfs(text, label, asOf);
    }
    // Not JSON: OSV records may be YAML (PyPI's advisory database).
    let value: unknown;
    try {
      value = parseYamlText(text);
    } catch (err) {
      if (!(err instanceof DocumentSyntaxError)) throw err;
      if (/^id:\s*\S/m.test(text) && /^modified:/m.test(text)) {
        this.summary.read++;
        this.reject({ source: label, recordId: '(file)', reason: err.message });
        return;
      }
      return this.skip(label, inContainer);
    }
    if (looksLikeOsv(value)) return this.dispatch('osv', value, label, asOf);
    return this.skip(label, inContainer);
  }

  private async dispatch(format: DocumentFormat, value: unknown, label: string, asOf: Date): Promise<void> {
    this.formats.add(format);
    switch (format) {
      case 'osv':
        return this.addOsv(value, label);
      case 'osv-list':
        for (const record of value as unknown[]) await this.addOsv(record, label);
        return;
      case 'kev': {
        const result = parseKevCatalog(value, label);
        if (result.items.length > 0) this.observe('kev', result.released);
        const count = (value as { vulnerabilities: unknown[] }).vulnerabilities.length;
        this.summary.read += count;
        this.setTotal(count);
        for (const r of result.rejections) this.reject(r);
        for (const item of result.items) {
          await this.addEnrichment('kev', item);
          this.tickRecord();
        }
        return;
      }
      case 'nvd': {
        const result = parseNvdDocument(value, label);
        this.summary.read += result.page?.resultsPerPage ?? 1;
        if (result.items.length > 0) this.observe('nvd', newestNvdChange(result.items));
        for (const r of result.rejections) this.reject(r);
        for (const item of result.items) await this.addEnrichment('nvd', item);
        this.tickRecord(result.items.length);
        return;
      }
      case 'debian-tracker': {
        const result = parseTrackerJson(value, label, asOf);
        this.summary.read += result.entries;
        if (result.advisories.length > 0)
          this.observe(
            'debian-tracker',
            undefined,
            result.advisories.flatMap((a) => a.affected.map((e) => e.ecosystem)),
          );
        this.setTotal(result.advisories.length);
        for (const r of result.rejections) this.reject(r);
        for (const advisory of result.advisories) {
          await this.addAdvisory(advisory);
          this.tickRecord();
        }
        return;
      }
    }
  }

  private async processEpss(input: Readable, label: string, asOf: Date): Promise<void> {
    this.formats.add('epss');
    try {
      for await (const batch of readEpssCsv(
        input,
        label,
        asOf.toISOString().slice(0, 10),
        this.limits.batchSize,
      )) {
        this.summary.read += batch.items.length + batch.rejections.length;
        if (batch.items.length > 0) this.observe('epss', epssDate(batch.meta.scoreDate));
        for (const r of batch.rejections) this.reject(r);
        for (const item of batch.items) await this.addEnrichment('epss', item);
        this.tickRecord(batch.items.length + batch.rejections.length);
      }
    } catch (err) {
      throw err instanceof PatchbotError ? err : gzipError(label, err);
    }
  }

  /** LVFS/AppStream firmware metadata: one advisory per release that lists issues. */
  private async processLvfs(text: string, label: string, asOf: Date): Promise<void> {
    this.formats.add('lvfs');
    let result;
    try {
      result = parseLvfsMetadata(text, label, asOf);
    } catch (err) {
      if (!(err instanceof LvfsDocumentError)) throw err;
      throw new PatchbotError('FEED_INVALID', `${label}: ${err.message}`);
    }
    this.summary.read += result.releases;
    this.setTotal(result.releases);
    for (const r of result.rejections) this.reject(r);
    for (const advisory of result.advisories) {
      await this.addAdvisory(advisory);
      this.tickRecord();
    }
  }

  private async addOsv(value: unknown, label: string): Promise<void> {
    this.summary.read++;
    const result = parseOsvRecord(value, label);
    for (const r of result.rejections) this.reject(r);
    if (result.advisory !== undefined) {
      // one feed per ecosystem family: an OSV archive of Debian is "osv:Debian"
      for (const e of result.advisory.affected)
        this.observe(`osv:${e.ecosystem.split(':')[0] ?? e.ecosystem}`, undefined, [e.ecosystem]);
      await this.addAdvisory(result.advisory);
    }
    this.tickRecord();
  }

  // ---- batching ------------------------------------------------------------------------------

  private async addAdvisory(advisory: Advisory): Promise<void> {
    this.advisories.push(advisory);
    if (this.advisories.length >= this.limits.batchSize) await this.flushAdvisories();
  }

  private async addEnrichment<K extends EnrichmentKind>(kind: K, item: EnrichmentItems[K]): Promise<void> {
    const list = this.enrichment[kind];
    list.push(item);
    if (list.length >= this.limits.batchSize) await this.flushEnrichment(kind);
  }

  private async flushAdvisories(): Promise<void> {
    if (this.advisories.length === 0) return;
    const batch = this.advisories;
    this.advisories = [];
    const result = await this.sink.upsertAdvisories(batch);
    this.summary.new += result.new.length;
    this.summary.changed += result.changed.length;
    this.summary.unchanged += result.unchanged;
    this.summary.withdrawn += result.withdrawn.length;
  }

  private async flushEnrichment(kind: EnrichmentKind): Promise<void> {
    const batch = this.enrichment[kind];
    if (batch.length === 0) return;
    this.enrichment[kind] = [];
    const result = await this.sink.upsertEnrichment(kind, batch);
    this.summary.new += result.new.length;
    this.summary.changed += result.changed.length;
    this.summary.unchanged += result.unchanged;
  }

  private async flushAll(): Promise<void> {
    await this.flushAdvisories();
    await this.flushEnrichment('kev');
    await this.flushEnrichment('epss');
    await this.flushEnrichment('nvd');
  }

  // ---- reporting -----------------------------------------------------------------------------

  private reject(rejection: FeedRejection): void {
    this.summary.rejectedCount++;
    if (this.summary.rejected.length < MAX_LISTED_REJECTIONS) this.summary.rejected.push(rejection);
    if (this.summary.rejectedCount <= MAX_LOGGED_REJECTIONS) {
      this.deps.logger?.warn({ ...rejection }, 'feed record rejected');
    }
  }

  private skip(label: string, inContainer = true, why = 'not a feed format patchbot reads'): void {
    if (!inContainer) throw new PatchbotError('FEED_INVALID', `${label}: ${why}`);
    this.summary.skipped.push(label);
  }

  private setTotal(total: number): void {
    if (this.unit === 'records') this.total = total;
  }

  /** A record was processed (counts toward progress only when records are the unit). */
  private tickRecord(n = 1): void {
    if (this.unit === 'records') this.tick(n);
  }

  private tick(n = 1): void {
    this.done += n;
    this.deps.onProgress?.({ source: this.source, done: this.done, total: this.total, unit: this.unit });
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

async function readHead(path: string, bytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Regular files under `root`, sorted; hidden entries and symbolic links are not followed. */
async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) await visit(path);
      else if (info.isFile()) out.push(path);
    }
  };
  await visit(root);
  return out;
}

/** The latest NVD lastModified of a page (UTC without a zone designator in NVD's JSON). */
function newestNvdChange(items: readonly { lastModified?: string }[]): Date | undefined {
  let newest: Date | undefined;
  for (const { lastModified } of items) {
    if (lastModified === undefined) continue;
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(lastModified) ? lastModified : `${lastModified}Z`;
    const d = new Date(zoned);
    if (!Number.isNaN(d.getTime()) && (newest === undefined || d > newest)) newest = d;
  }
  return newest;
}

/** EPSS score_date (YYYY-MM-DD) as a Date, when the file gave one. */
function epssDate(day: string | undefined): Date | undefined {
  return day === undefined ? undefined : new Date(`${day}T00:00:00Z`);
}

function httpDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function gzipError(label: string, err: unknown): PatchbotError {
  if (err instanceof PatchbotError) return err;
  const message = userMessageOf(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new PatchbotError('FEED_INVALID', `${label}: gzip data is truncated or corrupt (${message})`, {
      cause: err,
    });
  }
  return new PatchbotError('FEED_INVALID', `${label}: ${message}`, { cause: err });
}
