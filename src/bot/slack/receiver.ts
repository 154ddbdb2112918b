/**
 * The HTTP transport in front of Bolt: a Bolt `Receiver` that serves `POST /slack/events` from a
 * plain Node request listener, so the same http.Server can carry /healthz, /metrics and Teams.
 *
 * In order, before any listener runs: the request timestamp must be within `maxSkewSeconds` of
 * now in BOTH directions (Bolt's own receivers only refuse old ones), the body must fit the size
 * limit, and the v0 HMAC-SHA256 signature over `v0:<timestamp>:<raw body>` must match (constant
 * time). Anything else is answered 401 (413 for a body too large, 400 for one that is not
 * Slack's format). `ack()` writes the HTTP answer at once; the listener goes on working after it.
 * A button click (block_actions) needs no answer but a 200: it gets it as soon as it is verified,
 * before Bolt runs, so a burst of clicks is acked at the pace of signature checks.
 *
 * Why not ExpressReceiver: it does the same work through express, router, body-parser and
 * raw-body, which cost more than half of the app's time per click and pushed the ack p99 of
 * 200 concurrent clicks past 100 ms (bench/slack-ack.bench.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from 'pino';

export interface SlackHttpReceiverOptions {
  signingSecret: string;
  logger: Logger;
  path?: string;
  /** Largest accepted difference between the request timestamp and now (default 300 s). */
  maxSkewSeconds?: number;
  /** Largest accepted body (default 1 MiB; Slack's payloads are a few KiB). */
  bodyLimitBytes?: number;
  /** A request no listener acknowledges gets 404 after this long (default 3,001 ms, Slack's limit). */
  unhandledTimeoutMs?: number;
  now?: () => Date;
}

type Handler = RequestListener;

export class SlackHttpReceiver implements Receiver {
  private app?: App;
  private readonly routes = new Map<string, Handler>();
  private readonly secret: string;
  private readonly log: Logger;
  private readonly path: string;
  private readonly skew: number;
  private readonly limit: number;
  private readonly unhandledMs: number;
  private readonly now: () => Date;

  constructor(options: SlackHttpReceiverOptions) {
    this.secret = options.signingSecret;
    this.log = options.logger;
    this.path = options.path ?? '/slack/events';
    this.skew = options.maxSkewSeconds ?? 300;
    this.limit = options.bodyLimitBytes ?? 1024 * 1024;
    this.unhandledMs = options.unhandledTimeoutMs ?? 3001;
    this.now = options.now ?? (() => new Date());
  }

  init(app: App): void {
    this.app = app;
  }

  /** Serving is done by whoever mounts `requestListener`; Bolt's start/stop have nothing to do. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Adds another route to the same listener, e.g. route('GET', '/healthz', handler). */
  route(method: string, path: string, handler: Handler): void {
    this.routes.set(`${method.toUpperCase()} ${path}`, handler);
  }

  readonly requestListener: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === this.path) {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      this.handleEvent(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'Slack request failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    const route = this.routes.get(`${req.method ?? 'GET'} ${path}`);
    if (route) {
      route(req, res);
      return;
    }
    res.writeHead(404).end();
  };

  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    problem: string,
    extra: object = {},
  ): void {
    this.log.warn({ problem, status, ...extra }, 'Slack request refused');
    req.resume();
    if (!res.headersSent) res.writeHead(status).end();
  }

  private async handleEvent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // 1. Timestamp, both directions, before reading the body.
    const tsHeader = header(req, 'x-slack-request-timestamp');
    const signature = header(req, 'x-slack-signature');
    if (tsHeader === undefined || signature === undefined) {
      this.refuse(req, res, 401, 'missing signature headers');
      return;
    }
    if (!/^\d{1,12}$/.test(tsHeader)) {
      this.refuse(req, res, 401, 'invalid timestamp');
      return;
    }
    const ts = Number(tsHeader);
    const nowSec = Math.floor(this.now().getTime() / 1000);
    if (ts > nowSec + this.skew) {
      this.refuse(req, res, 401, 'timestamp in the future', { skewSeconds: ts - nowSec });
      return;
    }
    if (ts < nowSec - this.skew) {
      this.refuse(req, res, 401, 'timestamp too old', { skewSeconds: ts - nowSec });
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.limit) {
      this.refuse(req, res, 413, 'body too large');
      return;
    }
    // 2. Body (bounded), then the signature over the exact bytes received.
    const raw = await readBody(req, this.limit);
    if (raw === undefined) {
      this.refuse(req, res, 413, 'body too large');
      return;
    }
    const expected = Buffer.from(
      `v0=${createHmac('sha256', this.secret).update(`v0:${tsHeader}:`).update(raw).digest('hex')}`,
    );
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.refuse(req, res, 401, 'signature mismatch');
      return;
    }
    // 3. Slack's formats: form-encoded (commands; interactivity as payload=<json>) or JSON (events).
    let body: Record<string, unknown>;
    try {
      body = parseBody(raw.toString('utf8'), header(req, 'content-type') ?? '');
    } catch {
      this.refuse(req, res, 400, 'body is not in Slack format');
      return;
    }
    if (body.ssl_check !== undefined) {
      res.writeHead(200).end();
      return;
    }
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ challenge: body.challenge }));
      return;
    }
    await this.dispatch(req, res, body);
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    body: Record<string, unknown>,
  ): Promise<void> {
    const app = this.app;
    if (!app) {
      res.writeHead(503).end();
      return;
    }
    let acked = false;
    const timer = setTimeout(() => {
      if (acked) return;
      acked = true;
      this.log.warn({ type: body.type }, 'No listener acknowledged a Slack request in time');
      if (!res.headersSent) res.writeHead(404).end();
    }, this.unhandledMs);
    timer.unref();
    const ack = (response?: unknown): Promise<void> => {
      if (acked) return Promise.resolve();
      acked = true;
      clearTimeout(timer);
      if (response === undefined || response === null || response === '') res.writeHead(200).end();
      else if (typeof response === 'string')
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(response);
      else
        res
          .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify(response));
      return Promise.resolve();
    };
    const retryNum = header(req, 'x-slack-retry-num');
    const retryReason = header(req, 'x-slack-retry-reason');
    const event: ReceiverEvent = {
      body,
      ack,
      ...(retryNum !== undefined && /^\d+$/.test(retryNum) ? { retryNum: Number(retryNum) } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
    };
    // A button click needs nothing but a 200 back: it is answered now, and processed once the
    // requests already waiting were answered too (a burst of clicks is acked at the speed of the
    // signature check, not of the handlers).
    if (body.type === 'block_actions') {
      await ack();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    try {
      await app.processEvent(event);
    } catch (err) {
      clearTimeout(timer);
      this.log.error({ err, type: body.type }, 'Slack event processing failed');
      if (!acked) {
        acked = true;
        const status = (err as { code?: unknown }).code === 'slack_bolt_authorization_error' ? 401 : 500;
        if (!res.headersSent) res.writeHead(status).end();
      }
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function parseBody(text: string, contentType: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  }
  const form = new URLSearchParams(text);
  const payload = form.get('payload');
  if (payload !== null) {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  }
  return Object.fromEntries(form);
}
