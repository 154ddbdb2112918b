/**
 * patchbot's one HTTP server: `GET /healthz` (the process is up), `GET /readyz` (the database and
 * Redis answer: 200, else 503 naming what failed), `GET /metrics` (Prometheus), the routes given
 * (`POST /api/messages`: Teams), and everything else handed to the chat edge's listener
 * (`POST /slack/events`), or 404 when there is none.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { routeLabel, type Metrics } from './metrics.js';

/** One readiness check: resolves when the dependency answers, rejects (or times out) otherwise. */
export type ReadinessCheck = () => Promise<void>;

export interface HttpDeps {
  metrics: Metrics;
  checks: Record<string, ReadinessCheck>;
  /** The chat edge (Slack's request listener): serves POST /slack/events. */
  fallback?: RequestListener;
  /** Listeners for exact paths, tried before `fallback` (Teams: /api/messages). */
  routes?: Record<string, RequestListener>;
  logger: Logger;
  /** Each readiness check must answer within this (default 2,000 ms). */
  checkTimeoutMs?: number;
  /**
   * More of the state for `/readyz` to show (how fresh the advisory data is). It informs and never
   * makes the process unready; when it fails, `/readyz` says so in its place.
   */
  readinessDetail?: () => Promise<Record<string, unknown>>;
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Runs every readiness check; `ok` only when all pass. */
export async function readiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs = 2_000,
): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), timeoutMs);
        return [name, 'ok'] as const;
      } catch (err) {
        return [name, `failing: ${(err as Error).message}`] as const;
      }
    }),
  );
  return { ok: entries.every(([, v]) => v === 'ok'), checks: Object.fromEntries(entries) };
}

/** Methods named in the latency histogram; others are `other`. */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function createRequestListener(deps: HttpDeps): RequestListener {
  const log = deps.logger.child({ name: 'http' });
  const json = (res: Parameters<RequestListener>[1], status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const started = performance.now();
    res.once('finish', () => {
      deps.metrics.httpDuration.observe(
        {
          route: routeLabel(path ?? '/'),
          method: HTTP_METHODS.has(req.method ?? '') ? (req.method ?? 'other') : 'other',
          status: String(res.statusCode),
        },
        (performance.now() - started) / 1000,
      );
    });
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return;
    }
    if (get && path === '/readyz') {
      const detail = async (): Promise<Record<string, unknown>> => {
        if (!deps.readinessDetail) return {};
        try {
          return await deps.readinessDetail();
        } catch (err) {
          return { detail: `unavailable: ${(err as Error).message}` };
        }
      };
      Promise.all([readiness(deps.checks, deps.checkTimeoutMs), detail()]).then(
        ([r, more]) => {
          if (!r.ok) log.warn({ checks: r.checks }, 'not ready');
          json(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', checks: r.checks, ...more });
        },
        (err: unknown) => {
          log.error({ err }, 'readiness check failed');
          json(res, 503, { status: 'not ready' });
        },
      );
      return;
    }
    if (get && path === '/metrics') {
      deps.metrics.render().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => {
          log.error({ err }, 'metrics collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
      return;
    }
    const route = deps.routes?.[path];
    if (route) {
      route(req, res);
      return;
    }
    if (deps.fallback) {
      deps.fallback(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  };
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting connections and closes the open ones. */
  close(): Promise<void>;
}

export async function listen(
  listener: RequestListener,
  port: number,
  host = '0.0.0.0',
): Promise<RunningServer> {
  const server = createServer(listener);
  // Slack retries after 3 s; a request that takes longer is not worth keeping.
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
}
