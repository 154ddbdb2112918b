/**
 * Where a feed comes from: a local file, a local directory, or a URL; and the HTTP client that
 * downloads URLs with a timeout, a size cap, conditional requests (ETag / If-Modified-Since) and
 * https-only redirects. Plain http is accepted only for loopback hosts (tests, local mirrors).
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PatchbotError, TransientError, truncate } from '../core/errors.js';

export type SourceLocation =
  { kind: 'file'; path: string } | { kind: 'directory'; path: string } | { kind: 'url'; url: URL };

export type FetchFn = typeof globalThis.fetch;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Throws unless `url` is https, or http on a loopback host. */
export function checkFeedUrl(url: URL): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return;
  throw new PatchbotError(
    'FEED_UNAVAILABLE',
    `refusing ${url.protocol}//${url.host}: feeds are fetched over https only (http only from 127.0.0.1/localhost)`,
  );
}

/** A source string -> what it names. Paths are resolved against `cwd` and must exist. */
export async function locateSource(spec: string, cwd: string): Promise<SourceLocation> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new PatchbotError('FEED_UNAVAILABLE', `not a valid URL: ${truncate(spec, 200)}`);
    }
    checkFeedUrl(url);
    return { kind: 'url', url };
  }
  const path = isAbsolute(spec) ? spec : resolve(cwd, spec);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new PatchbotError('FEED_UNAVAILABLE', `no such file or directory: ${truncate(spec, 200)}`);
  }
  if (info.isDirectory()) return { kind: 'directory', path };
  if (info.isFile()) return { kind: 'file', path };
  throw new PatchbotError('FEED_UNAVAILABLE', `not a regular file or directory: ${truncate(spec, 200)}`);
}

export interface HttpValidators {
  etag?: string;
  lastModified?: string;
}

export interface HttpOptions {
  fetch: FetchFn;
  timeoutMs: number;
  maxBytes: number;
  headers?: Record<string, string>;
}

export type DownloadResult =
  | { status: 'not-modified' }
  | { status: 'downloaded'; bytes: number; validators: HttpValidators; finalUrl: string };

const MAX_REDIRECTS = 5;

/**
 * GET `url` into `destPath`. With validators, sends If-None-Match / If-Modified-Since and returns
 * `not-modified` on 304. The validators of the response are returned for the caller to store.
 */
export async function downloadToFile(
  url: URL,
  destPath: string,
  validators: HttpValidators | undefined,
  options: HttpOptions,
): Promise<DownloadResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (validators?.etag !== undefined) headers['if-none-match'] = validators.etag;
  if (validators?.lastModified !== undefined) headers['if-modified-since'] = validators.lastModified;
  return withTimeout(url, options.timeoutMs, async (signal) => {
    const res = await get(url, headers, options.fetch, signal);
    if (res.status === 304) {
      await res.body?.cancel();
      return { status: 'not-modified' } as const;
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > options.maxBytes) {
      await res.body?.cancel();
      throw new PatchbotError(
        'FEED_INVALID',
        `${redact(url)}: ${length} bytes is over the ${options.maxBytes}-byte limit`,
      );
    }
    if (res.body === null) throw new PatchbotError('FEED_UNAVAILABLE', `${redact(url)}: empty response`);
    let bytes = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > options.maxBytes) {
          done(
            new PatchbotError(
              'FEED_INVALID',
              `${redact(url)}: response is over the ${options.maxBytes}-byte limit`,
            ),
          );
        } else done(null, chunk);
      },
    });
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      cap,
      createWriteStream(destPath),
    );
    const out: HttpValidators = {};
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (etag !== null && etag.length <= 512) out.etag = etag;
    if (lastModified !== null && lastModified.length <= 128) out.lastModified = lastModified;
    return {
      status: 'downloaded',
      bytes,
      validators: out,
      finalUrl: res.url === '' ? url.href : res.url,
    } as const;
  });
}

/** GET `url` and parse its body as JSON (NVD API pages). */
export async function fetchJson(url: URL, options: HttpOptions): Promise<unknown> {
  return withTimeout(url, options.timeoutMs, async (signal) => {
    const res = await get(url, { accept: 'application/json', ...options.headers }, options.fetch, signal);
    const text = await readCapped(res, url, options.maxBytes);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PatchbotError('FEED_INVALID', `${redact(url)}: response is not JSON`);
    }
  });
}

async function get(
  url: URL,
  headers: Record<string, string>,
  fetchFn: FetchFn,
  signal: AbortSignal,
): Promise<Response> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    checkFeedUrl(current);
    let res: Response;
    try {
      res = await fetchFn(current, { headers, redirect: 'manual', signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new TransientError(
        `${redact(current)}: ${err instanceof Error ? (causeText(err) ?? err.message) : String(err)}`,
        {
          cause: err,
        },
      );
    }
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (location === null)
        throw new PatchbotError('FEED_UNAVAILABLE', `${redact(current)}: redirect without Location`);
      current = new URL(location, current);
      continue;
    }
    if (res.status === 304 || res.ok) return res;
    await res.body?.cancel();
    const message = `${redact(current)}: HTTP ${res.status} ${truncate(res.statusText, 60)}`.trim();
    if (res.status === 429 || res.status >= 500) throw new TransientError(message);
    throw new PatchbotError('FEED_UNAVAILABLE', message);
  }
  throw new PatchbotError('FEED_UNAVAILABLE', `${redact(url)}: more than ${MAX_REDIRECTS} redirects`);
}

async function readCapped(res: Response, url: URL, maxBytes: number): Promise<string> {
  if (res.body === null) return '';
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) {
    const buf = chunk as Buffer;
    bytes += buf.length;
    if (bytes > maxBytes)
      throw new PatchbotError('FEED_INVALID', `${redact(url)}: response is over the ${maxBytes}-byte limit`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function withTimeout<T>(
  url: URL,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (controller.signal.aborted) {
      throw new TransientError(`${redact(url)}: timed out after ${Math.round(timeoutMs / 1000)} s`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without credentials or query string, for messages. */
export function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function causeText(err: Error): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  return undefined;
}
