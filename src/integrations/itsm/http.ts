/**
 * HTTP for ITSM APIs: fetch with a timeout on every request (and the caller's AbortSignal), https
 * only (plain http only to a loopback address, and only when the policy says so), JSON bodies,
 * answers validated with zod, and failures sorted into what a retry may fix (network, timeout,
 * 429, 5xx: code TRANSIENT with `details.retryAfterMs` from Retry-After) and what it will not.
 * Credentials travel only in the Authorization header and are never part of an error or a log line.
 */
import type { z } from 'zod';
import { PatchbotError, TransientError, truncate, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';

export type FetchFn = typeof globalThis.fetch;

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/** Refuses anything but https (or http to loopback when `allowHttpLoopback`). */
export function checkServiceUrl(url: string, allowHttpLoopback: boolean, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PatchbotError('CONFIG_INVALID', `${what}: ${JSON.stringify(url)} is not a URL`);
  }
  if (u.username || u.password) {
    throw new PatchbotError('CONFIG_INVALID', `${what}: the URL must not carry credentials`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && allowHttpLoopback && LOOPBACK.has(u.hostname)) return u;
  throw new PatchbotError(
    'CONFIG_INVALID',
    `${what}: ${u.origin} is not https (plain http is allowed only to a loopback address with allowHttpLoopback)`,
  );
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date = new Date()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

export interface HttpClientOptions {
  /** "ServiceNow", "Jira": names the far side in messages. */
  system: string;
  baseUrl: string;
  allowHttpLoopback: boolean;
  timeoutMs: number;
  /** The Authorization header value (may fetch or refresh a token). */
  authorization: (signal: AbortSignal) => Promise<string>;
  /** Called when the far side answered 401: a cached token is dropped before the retry. */
  onUnauthorized?: () => void;
  /** Reads the far side's error body into one sentence. */
  errorText: (body: unknown) => string | undefined;
  fetch?: FetchFn;
  logger: Logger;
}

export interface RequestOptions<T extends z.ZodType> {
  query?: Record<string, string>;
  body?: unknown;
  schema: T;
  signal: AbortSignal;
}

export interface HttpClient {
  readonly baseUrl: URL;
  request<T extends z.ZodType>(
    method: string,
    path: string,
    options: RequestOptions<T>,
  ): Promise<z.output<T>>;
  /** A request whose answer has no body worth reading (204). */
  send(method: string, path: string, options: Omit<RequestOptions<z.ZodType>, 'schema'>): Promise<void>;
}

function permanentCode(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'POLICY_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  return 'VALIDATION';
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const base = checkServiceUrl(options.baseUrl, options.allowHttpLoopback, options.system);
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.logger;

  async function call(
    method: string,
    path: string,
    query: Record<string, string> | undefined,
    body: unknown,
    signal: AbortSignal,
  ): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, `${base.origin}${base.pathname.replace(/\/?$/, '/')}`);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const where = `${options.system} ${method} ${url.pathname}`;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    let res: Response;
    try {
      const headers: Record<string, string> = {
        accept: 'application/json',
        authorization: await options.authorization(combined),
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      res = await doFetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: combined,
        redirect: 'error',
      });
    } catch (err) {
      if (err instanceof PatchbotError) throw err;
      const reason = timeout.aborted
        ? `no answer within ${Math.round(options.timeoutMs / 1000)} s`
        : signal.aborted
          ? 'the delivery was cancelled'
          : err instanceof Error
            ? (err.cause instanceof Error ? err.cause.message : err.message) || err.name
            : String(err);
      log.warn({ system: options.system, method, path: url.pathname, reason }, 'ITSM request failed');
      throw new TransientError(`${where}: ${reason}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    let json: unknown = undefined;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (res.ok) return { status: res.status, json };
    const said =
      options.errorText(json) ?? (text === '' ? undefined : truncate(text.replace(/\s+/g, ' '), 200));
    const message = `${where}: HTTP ${res.status}${said ? ` (${truncate(said, 300)})` : ''}`;
    log.warn(
      { system: options.system, method, path: url.pathname, status: res.status },
      'ITSM request refused',
    );
    if (res.status === 429 || res.status >= 500 || res.status === 408) {
      const wait = retryAfterMs(res.headers.get('retry-after'));
      throw new TransientError(message, {
        details: { status: res.status, ...(wait === undefined ? {} : { retryAfterMs: wait }) },
      });
    }
    if (res.status === 401) options.onUnauthorized?.();
    throw new PatchbotError(permanentCode(res.status), message, { details: { status: res.status } });
  }

  return {
    baseUrl: base,
    async request(method, path, o) {
      const { json } = await call(method, path, o.query, o.body, o.signal);
      const parsed = o.schema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new PatchbotError(
          'VALIDATION',
          `${options.system} ${method} ${path}: unexpected answer (${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'unreadable'})`,
        );
      }
      return parsed.data;
    },
    async send(method, path, o) {
      await call(method, path, o.query, o.body, o.signal);
    },
  };
}
