/**
 * The Microsoft Teams edge: `POST /api/messages` served by botbuilder's CloudAdapter behind
 * Bot Framework authentication, and the TeamsPoster that posts proactively.
 *
 * Before the adapter sees a request, in order: POST only (405), a JSON body of at most
 * `maxBodyBytes` (413, 400), the shape of a Bot Framework activity (400), then the JWT in
 * `Authorization` (401 for a missing, expired, wrongly addressed, wrongly issued, unknown-key or
 * badly signed token, logged with the reason; the bot logic never runs), then the channel (only
 * `msteams`: 403) and, for a single-tenant bot, the activity's tenant (403, also when it names
 * none). The adapter checks the token again and runs the bot.
 *
 * `allowUnauthenticated` (TEAMS_DEV_NO_AUTH) skips the token check for local development with the
 * Bot Framework Emulator or a tunnel: anyone who can reach the port can then act as any Teams user
 * and make patchbot send requests to any URL. Start-up logs that loudly.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { CloudAdapter, type Activity } from 'botbuilder';
import type { Logger } from 'pino';
import { ConfigError, userMessageOf } from '../../core/errors.js';
import type { Clock } from '../rate-limiter.js';
import type { ChatHandlers } from '../handlers.js';
import type { CampaignView } from '../views/index.js';
import { createAuthentication, type TeamsAuthOptions } from './auth.js';
import { TeamsBot, type TeamsConversationStore } from './bot.js';
import { InboundActivity } from './payloads.js';
import { TeamsPoster } from './poster.js';

export const TEAMS_MESSAGES_PATH = '/api/messages';

export interface CreateTeamsEdgeOptions extends TeamsAuthOptions {
  logger: Logger;
  handlers: ChatHandlers;
  /** The campaign card of a change as it is now (answers to card actions). */
  cardFor: (changeId: string) => Promise<CampaignView>;
  conversations: TeamsConversationStore;
  now?: () => Date;
  /** Largest accepted request body (default 256 KiB; Teams' activities are a few KiB). */
  maxBodyBytes?: number;
  /** TeamsPoster pacing and retries (tests use a virtual clock). */
  poster?: {
    intervalMs?: number;
    maxRetries?: number;
    maxRetryAfterSeconds?: number;
    maxMessageBytes?: number;
    clock?: Clock;
  };
  /** The command word people type (default "patch"). */
  command?: string;
}

export interface TeamsEdge {
  readonly path: typeof TEAMS_MESSAGES_PATH;
  /** Serves POST /api/messages; mount it in any http.Server (other paths get 404). */
  readonly requestListener: RequestListener;
  /** Posts proactively to the conversations the bot is installed in. */
  readonly poster: TeamsPoster;
  /** Resolves when the work started by earlier requests (commands) is done. */
  idle(): Promise<void>;
  /** Waits for that work; new requests get 503. */
  stop(): Promise<void>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a body of at most `limit` bytes. A larger one (declared, or found while reading a body sent
 * without Content-Length) is refused with 413 by the caller; the rest of it is read and dropped so
 * the client receives that answer instead of a reset connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'body too large'));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, 'body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** The response object botbuilder's adapter writes to (express-like), over Node's ServerResponse. */
function adapterResponse(res: ServerResponse) {
  let status = 200;
  const response = {
    socket: res.socket,
    status(code: number) {
      status = code;
      return response;
    },
    header(name: string, value: unknown) {
      if (!res.headersSent) res.setHeader(name, String(value));
      return response;
    },
    send(body: unknown) {
      if (res.headersSent) return response;
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        res.writeHead(status).end(body);
      } else {
        res
          .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify(body));
      }
      return response;
    },
    end() {
      if (!res.writableEnded) {
        if (!res.headersSent) res.writeHead(status);
        res.end();
      }
      return response;
    },
  };
  return response;
}

/** Builds the Teams edge. Throws ConfigError for missing or malformed settings. */
export function createTeamsEdge(options: CreateTeamsEdgeOptions): TeamsEdge {
  const log = options.logger.child({ name: 'teams' });
  const now = options.now ?? (() => new Date());
  const limit = options.maxBodyBytes ?? 256 * 1024;
  const open = options.allowUnauthenticated === true;
  if (!GUID.test(options.appId))
    throw new ConfigError(
      `TEAMS_APP_ID must be the bot's app id (a GUID), got ${JSON.stringify(options.appId.slice(0, 60))}`,
    );
  if (options.tenantId !== undefined && !GUID.test(options.tenantId))
    throw new ConfigError('TEAMS_TENANT_ID must be the Entra tenant id (a GUID)');
  if (!open && !options.outboundToken && (options.appPassword === undefined || options.appPassword === ''))
    throw new ConfigError(
      "TEAMS_APP_PASSWORD is missing: create a client secret for the bot's app registration (docs/teams.md), or set TEAMS_DEV_NO_AUTH=1 for local development",
    );

  const auth = createAuthentication(options);
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (_ctx, err) => {
    log.error({ err }, 'Teams turn failed');
    await Promise.resolve();
  };

  const inflight = new Set<Promise<void>>();
  const track = (work: () => Promise<void>) => {
    const p = work().catch((err: unknown) => log.error({ err }, 'Teams background work failed'));
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const idle = async () => {
    while (inflight.size > 0) await Promise.all([...inflight]);
  };

  const poster = new TeamsPoster({
    adapter,
    appId: options.appId,
    conversation: (id) => options.conversations.find(id),
    logger: options.logger,
    ...options.poster,
  });
  const bot = new TeamsBot({
    adapter,
    appId: options.appId,
    handlers: options.handlers,
    cardFor: options.cardFor,
    conversations: options.conversations,
    poster,
    logger: options.logger,
    now,
    track,
    ...(options.command === undefined ? {} : { command: options.command }),
  });

  if (open)
    log.warn(
      'TEAMS_DEV_NO_AUTH IS ON: POST /api/messages ACCEPTS REQUESTS WITHOUT A BOT FRAMEWORK TOKEN. ' +
        'Anyone who can reach this port can act as any Teams user (approve changes) and make patchbot send requests to any URL. ' +
        'Local development only: never expose this process to a network.',
    );
  else
    log.info(
      {
        appId: options.appId,
        tenant: options.tenantId ?? 'multi-tenant',
        openIdMetadata: options.openIdMetadataUrl ?? 'public cloud',
      },
      'Teams edge ready: POST /api/messages checks Bot Framework tokens',
    );

  let stopped = false;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const refuse = (status: number, reason: string, extra: Record<string, unknown> = {}) => {
      if (status >= 401 && status < 404) log.warn({ status, reason, ...extra }, 'Teams request refused');
      else log.debug({ status, reason }, 'Teams request refused');
      if (res.headersSent) return;
      const unread = !req.readableEnded;
      res
        .writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          // a body still arriving is dropped: the connection is not reused after this answer
          ...(unread ? { connection: 'close' } : {}),
        })
        .end(`${reason}\n`);
      if (unread) {
        // Drop the rest of the body so the client reads the answer, then close, however much is sent.
        req.resume();
        const cap = setTimeout(() => req.destroy(), 5_000);
        cap.unref();
        req.once('end', () => clearTimeout(cap));
      }
    };
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    if (stopped) return refuse(503, 'shutting down');
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, limit)).toString('utf8'));
    } catch (err) {
      return refuse(
        err instanceof HttpError ? err.status : 400,
        err instanceof HttpError ? err.message : 'body is not JSON',
      );
    }
    const shape = InboundActivity.safeParse(body);
    if (!shape.success) return refuse(400, 'not a Bot Framework activity');
    const activity = body as Activity;
    const authorization = req.headers.authorization ?? '';
    if (!open) {
      try {
        await auth.authenticateRequest(activity, authorization);
      } catch (err) {
        return refuse(401, 'unauthorized', { why: userMessageOf(err).slice(0, 200), type: shape.data.type });
      }
    }
    // Microsoft Teams only (the Bot Framework Emulator too, with authentication off for development).
    const channel = shape.data.channelId;
    if (channel !== 'msteams' && !(open && channel === 'emulator'))
      return refuse(403, 'this bot serves Microsoft Teams only', { channelId: channel.slice(0, 40) });
    if (options.tenantId) {
      // Every tenant the activity names must be ours, and it must name one.
      const named = [
        shape.data.conversation.tenantId,
        (shape.data.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id,
      ].filter((t) => t !== undefined && t !== null);
      if (named.length === 0 || named.some((t) => typeof t !== 'string' || t === ''))
        return refuse(403, 'this bot serves one tenant only, and the activity names none');
      const other = (named as string[]).find((t) => t.toLowerCase() !== options.tenantId?.toLowerCase());
      if (other !== undefined)
        return refuse(403, 'this bot serves one tenant only', { tenant: other.slice(0, 60) });
    }
    await adapter.process(
      { body: body as Record<string, unknown>, headers: req.headers, method: 'POST' },
      adapterResponse(res),
      (ctx) => bot.run(ctx),
    );
  };

  const requestListener: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TEAMS_MESSAGES_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'Teams request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  };

  return {
    path: TEAMS_MESSAGES_PATH,
    requestListener,
    poster,
    idle,
    async stop() {
      stopped = true;
      await idle();
    },
  };
}
