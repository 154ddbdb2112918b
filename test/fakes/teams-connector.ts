/**
 * A local stand-in for the Bot Connector service Teams gives a bot as an activity's `serviceUrl`,
 * speaking its REST API (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference):
 *
 *   POST /v3/conversations                                    create a conversation (1:1 chat)
 *   POST /v3/conversations/{conversationId}/activities        send to a conversation
 *   POST /v3/conversations/{conversationId}/activities/{id}   reply to an activity (a channel thread)
 *   PUT  /v3/conversations/{conversationId}/activities/{id}   update an activity (404 when unknown)
 *   GET  /v3/teams/{teamId}/conversations                     list a team's channels
 *
 * Every call is recorded; calls without the expected `Authorization: Bearer <token>` get 401.
 * `throttle()` makes the next calls answer 429 or 412 with a Retry-After. Loopback only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConnectorCall {
  method: string;
  path: string;
  operation: 'createConversation' | 'send' | 'reply' | 'update' | 'channels' | 'unknown';
  conversationId?: string;
  activityId?: string;
  body?: Record<string, unknown>;
  authorization?: string;
  status: number;
}

export interface ConnectorMessage {
  conversationId: string;
  id: string;
  /** Set for replies: the activity replied to (a channel thread's root). */
  replyToId?: string;
  activity: Record<string, unknown>;
  /** Every version, the first one first. */
  versions: Record<string, unknown>[];
}

export interface FakeConnectorOptions {
  /** The bearer token outgoing calls must carry; undefined = any (or none). */
  token?: string;
  /** Channels per team id (GET /v3/teams/{id}/conversations). */
  channels?: Record<string, { id: string; name?: string }[]>;
}

interface ThrottleRule {
  operation: ConnectorCall['operation'];
  status: 429 | 412;
  retryAfter?: number;
  remaining: number;
}

export class FakeTeamsConnector {
  readonly calls: ConnectorCall[] = [];
  readonly messages: ConnectorMessage[] = [];
  readonly createdConversations: { id: string; body: Record<string, unknown> }[] = [];
  private readonly throttles: ThrottleRule[] = [];
  private counter = 0;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly serviceUrl: string,
    private readonly options: FakeConnectorOptions,
  ) {}

  static async start(options: FakeConnectorOptions = {}): Promise<FakeTeamsConnector> {
    const ref: { self?: FakeTeamsConnector } = {};
    const server = createServer((req, res) => {
      const self = ref.self;
      if (!self) return void res.writeHead(503).end();
      self.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // Teams' service URLs end with a slash ("https://smba.trafficmanager.net/amer/").
    ref.self = new FakeTeamsConnector(server, `http://127.0.0.1:${port}/teams/`, options);
    return ref.self;
  }

  /** The next `times` calls of `operation` answer `status` (with Retry-After when given). */
  throttle(
    operation: ThrottleRule['operation'],
    status: 429 | 412,
    times: number,
    retryAfter?: number,
  ): void {
    this.throttles.push({
      operation,
      status,
      remaining: times,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    });
  }

  /** Sets the channels of a Teams team (what GET /v3/teams/{id}/conversations lists). */
  setChannels(teamId: string, channels: { id: string; name?: string }[]): void {
    this.options.channels = { ...this.options.channels, [teamId]: channels };
  }

  /** Forgets the throttling rules not used up yet. */
  clearThrottles(): void {
    this.throttles.length = 0;
  }

  message(conversationId: string, id: string): ConnectorMessage | undefined {
    return this.messages.find((m) => m.conversationId === conversationId && m.id === id);
  }

  /** Top-level messages (not replies) in a conversation. */
  posts(conversationId: string): ConnectorMessage[] {
    return this.messages.filter((m) => m.conversationId === conversationId && m.replyToId === undefined);
  }

  replies(conversationId: string, rootId: string): ConnectorMessage[] {
    return this.messages.filter((m) => m.conversationId === conversationId && m.replyToId === rootId);
  }

  /** Resolves with the first truthy value of `check`, re-checked after every call (fails after `timeoutMs`). */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `FakeTeamsConnector.waitFor timed out; calls: ${JSON.stringify(this.calls.map((c) => `${c.method} ${c.path} ${c.status}`))}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private nextId(): string {
    this.counter++;
    return `17241500000${String(this.counter).padStart(3, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      body = undefined;
    }
    const prefix = new URL(this.serviceUrl).pathname.replace(/\/$/, '');
    const rel = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    const seg = rel
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const method = req.method ?? 'GET';
    let operation: ConnectorCall['operation'] = 'unknown';
    let conversationId: string | undefined;
    let activityId: string | undefined;
    if (seg[0] === 'v3' && seg[1] === 'conversations') {
      if (seg.length === 2 && method === 'POST') operation = 'createConversation';
      else if (seg.length === 4 && seg[3] === 'activities' && method === 'POST') operation = 'send';
      else if (seg.length === 5 && seg[3] === 'activities' && method === 'POST') operation = 'reply';
      else if (seg.length === 5 && seg[3] === 'activities' && method === 'PUT') operation = 'update';
      conversationId = seg[2];
      activityId = seg[4];
    } else if (seg[0] === 'v3' && seg[1] === 'teams' && seg[3] === 'conversations' && method === 'GET') {
      operation = 'channels';
    }
    const authorization = req.headers.authorization;
    const call: ConnectorCall = {
      method,
      path: rel,
      operation,
      ...(conversationId === undefined ? {} : { conversationId }),
      ...(activityId === undefined ? {} : { activityId }),
      ...(body === undefined ? {} : { body }),
      ...(authorization === undefined ? {} : { authorization }),
      status: 0,
    };
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      this.calls.push(call);
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        .end(payload === undefined ? '' : JSON.stringify(payload));
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    };

    if (this.options.token !== undefined && authorization !== `Bearer ${this.options.token}`)
      return reply(401, {
        error: { code: 'Unauthorized', message: 'Authorization has been denied for this request.' },
      });
    const rule = this.throttles.find((t) => t.operation === operation && t.remaining > 0);
    if (rule) {
      rule.remaining--;
      return reply(
        rule.status,
        {
          error: {
            code: rule.status === 429 ? 'TooManyRequests' : 'PreconditionFailed',
            message: 'slow down',
          },
        },
        rule.retryAfter === undefined ? {} : { 'retry-after': String(rule.retryAfter) },
      );
    }

    switch (operation) {
      case 'createConversation': {
        const id = `a:1on1-${this.nextId()}`;
        this.createdConversations.push({ id, body: body ?? {} });
        return reply(201, { id });
      }
      case 'send':
      case 'reply': {
        if (!body || body.type !== 'message')
          return reply(400, { error: { code: 'BadArgument', message: 'expected a message activity' } });
        const id = this.nextId();
        this.messages.push({
          conversationId: conversationId as string,
          id,
          ...(operation === 'reply' && activityId !== undefined ? { replyToId: activityId } : {}),
          activity: body,
          versions: [body],
        });
        return reply(201, { id });
      }
      case 'update': {
        const m = this.message(conversationId as string, activityId as string);
        if (!m) return reply(404, { error: { code: 'NotFound', message: 'activity not found' } });
        if (!body) return reply(400, { error: { code: 'BadArgument', message: 'expected an activity' } });
        m.activity = body;
        m.versions.push(body);
        return reply(200, { id: m.id });
      }
      case 'channels': {
        const list = this.options.channels?.[seg[2]];
        if (!list) return reply(404, { error: { code: 'NotFound', message: 'team not found' } });
        return reply(200, { conversations: list });
      }
      default:
        return reply(404, { error: { code: 'NotFound', message: `${method} ${rel}` } });
    }
  }
}

/** The Adaptive Card of a recorded message activity. */
export function cardOf(activity: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const attachments = activity?.attachments as
    { contentType?: string; content?: Record<string, unknown> }[] | undefined;
  return attachments?.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
}
