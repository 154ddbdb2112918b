/**
 * A local stand-in for Slack's Web API that speaks its wire format: POST /api/<method> with
 * form-encoded, JSON or multipart bodies, the token in `Authorization: Bearer` (or a `token`
 * field), `blocks`/`view` arriving as JSON strings, answers `{ ok: true, ... }` or
 * `{ ok: false, error }` with HTTP 200, and HTTP 429 + Retry-After when told to rate-limit.
 * It also serves the file upload URLs that files.getUploadURLExternal hands out and
 * `response_url`s. Every call is recorded with the time it arrived. Loopback only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  /** Parsed parameters; `blocks`, `view`, `files` and `attachments` are parsed from their JSON strings. */
  params: Record<string, unknown>;
  token?: string;
  /** Date.now() when the request arrived. */
  at: number;
  /** HTTP status the fake answered with. */
  status: number;
  /** The `error` of an `{ ok: false }` answer. */
  error?: string;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text?: string;
  blocks?: unknown[];
  /** How many times chat.update changed it. */
  updates: number;
}

export interface FakeSlackOptions {
  /** Bot tokens accepted (default ['xoxb-test-token']). Any other token gets invalid_auth. */
  tokens?: string[];
  teamId?: string;
  botUserId?: string;
  users?: Record<
    string,
    { name: string; realName?: string; tz?: string; isBot?: boolean; deleted?: boolean }
  >;
  usergroups?: Record<string, string[]>;
  channels?: Record<string, { name: string; isPrivate?: boolean; isMember?: boolean }>;
}

interface RateLimitRule {
  retryAfter: number;
  /** Calls left to refuse; undefined = always. */
  remaining?: number;
}

export class FakeSlackWebApi {
  readonly calls: RecordedCall[] = [];
  readonly messages: StoredMessage[] = [];
  readonly ephemerals: { channel: string; user: string; text?: string; blocks?: unknown[] }[] = [];
  readonly views: { triggerId: string; view: Record<string, unknown> }[] = [];
  readonly files: {
    id: string;
    filename: string;
    bytes: Buffer;
    channel?: string;
    threadTs?: string;
    title?: string;
  }[] = [];
  /** Bodies POSTed to response_urls, with the url id. */
  readonly responses: { id: string; body: Record<string, unknown>; at: number }[] = [];

  /** What apps.connections.open hands out (Socket Mode): a ws:// URL the test serves. */
  socketModeUrl?: string;

  private readonly rateLimits = new Map<string, RateLimitRule>();
  private readonly failures = new Map<string, string[]>();
  private readonly tokens: Set<string>;
  private tsCounter = 0;
  private fileCounter = 0;
  private responseCounter = 0;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    private readonly options: FakeSlackOptions,
  ) {
    this.tokens = new Set(options.tokens ?? ['xoxb-test-token']);
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlackWebApi> {
    const holder: { fake?: FakeSlackWebApi } = {};
    const server = createServer((req, res) => {
      const fake = holder.fake;
      if (!fake) {
        res.statusCode = 503;
        res.end();
        return;
      }
      fake.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeSlackWebApi(server, `http://127.0.0.1:${port}`, options);
    holder.fake = fake;
    return fake;
  }

  /** Web API base for WebClient's slackApiUrl. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  /** A fresh response_url served by this fake. */
  responseUrl(): string {
    this.responseCounter++;
    return `${this.origin}/response/R${String(this.responseCounter).padStart(6, '0')}`;
  }

  /** Answer the next `times` calls of `method` ('*' = any) with 429 and Retry-After; without `times`, always. */
  rateLimit(method: string, retryAfter: number, times?: number): void {
    this.rateLimits.set(method, times === undefined ? { retryAfter } : { retryAfter, remaining: times });
  }

  clearRateLimits(): void {
    this.rateLimits.clear();
  }

  /** Answer the next call of `method` with `{ ok: false, error }`. */
  failNext(method: string, error: string): void {
    const list = this.failures.get(method) ?? [];
    list.push(error);
    this.failures.set(method, list);
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves when `predicate` holds (checked after every request), or rejects after `timeoutMs`. */
  async waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('FakeSlackWebApi.waitFor timed out');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // -------------------------------------------------------------------------------------------

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const raw = await readBody(req);
    const at = Date.now();
    try {
      if (req.method === 'POST' && url.pathname.startsWith('/response/')) {
        const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
        this.responses.push({ id: url.pathname.slice('/response/'.length), body, at });
        send(res, 200, 'ok', 'text/plain');
        return;
      }
      if (req.method === 'POST' && url.pathname.startsWith('/upload/')) {
        const fileId = url.pathname.slice('/upload/'.length);
        const file = this.files.find((f) => f.id === fileId);
        if (!file) {
          send(res, 404, 'unknown upload url', 'text/plain');
          return;
        }
        const form = await parseForm(req, raw);
        const part = form.files.get('body') ?? form.files.get('file');
        file.bytes = part ?? raw;
        send(res, 200, `OK - ${file.bytes.length}`, 'text/plain');
        return;
      }
      if (req.method !== 'POST' || !url.pathname.startsWith('/api/')) {
        send(res, 404, JSON.stringify({ ok: false, error: 'unknown_method' }));
        return;
      }
      const method = url.pathname.slice('/api/'.length);
      const form = await parseForm(req, raw);
      const params: Record<string, unknown> = { ...form.fields };
      for (const key of ['blocks', 'view', 'files', 'attachments']) {
        const value = params[key];
        if (typeof value === 'string') {
          try {
            params[key] = JSON.parse(value);
          } catch {
            this.record({ method, params, at, status: 200, error: 'invalid_arguments' });
            send(
              res,
              200,
              JSON.stringify({
                ok: false,
                error: key === 'blocks' ? 'invalid_blocks_format' : 'invalid_arguments',
              }),
            );
            return;
          }
        }
      }
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ')
        ? auth.slice(7)
        : typeof params.token === 'string'
          ? params.token
          : undefined;
      delete params.token;

      const rule = this.rateLimits.get(method) ?? this.rateLimits.get('*');
      if (rule) {
        if (rule.remaining !== undefined) {
          rule.remaining--;
          if (rule.remaining <= 0) {
            for (const [k, v] of this.rateLimits) if (v === rule) this.rateLimits.delete(k);
          }
        }
        this.record({ method, params, token, at, status: 429, error: 'ratelimited' });
        res.setHeader('Retry-After', String(rule.retryAfter));
        send(res, 429, JSON.stringify({ ok: false, error: 'ratelimited' }));
        return;
      }
      const answer = this.answer(method, params, token);
      this.record({
        method,
        params,
        token,
        at,
        status: 200,
        ...(answer.ok ? {} : { error: String(answer.error) }),
      });
      send(res, 200, JSON.stringify(answer));
    } finally {
      this.notify();
    }
  }

  private record(call: RecordedCall): void {
    if (call.token === undefined) delete call.token;
    this.calls.push(call);
  }

  private nextTs(): string {
    this.tsCounter++;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private answer(
    method: string,
    p: Record<string, unknown>,
    token: string | undefined,
  ): Record<string, unknown> {
    if (token === undefined) return { ok: false, error: 'not_authed' };
    if (!this.tokens.has(token)) return { ok: false, error: 'invalid_auth' };
    const queued = this.failures.get(method);
    if (queued && queued.length > 0) return { ok: false, error: queued.shift() };
    const teamId = this.options.teamId ?? 'T0FAKE0001';
    const str = (k: string): string | undefined => {
      const v = p[k];
      return typeof v === 'string' ? v : undefined;
    };
    const channelOk = (c: string | undefined) =>
      c !== undefined &&
      (this.options.channels ? c in this.options.channels || /^[UWD]/.test(c) : /^[CGDUW][A-Z0-9]+$/.test(c));

    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.test/',
          team: 'Fake Workspace',
          user: 'patchbot',
          team_id: teamId,
          user_id: this.options.botUserId ?? 'U0BOT00001',
          bot_id: 'B0BOT00001',
          is_enterprise_install: false,
        };
      case 'apps.connections.open':
        if (!token.startsWith('xapp-')) return { ok: false, error: 'not_allowed_token_type' };
        if (this.socketModeUrl === undefined) return { ok: false, error: 'internal_error' };
        return { ok: true, url: this.socketModeUrl };
      case 'chat.postMessage': {
        const channel = str('channel');
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!channelOk(channel)) return { ok: false, error: 'channel_not_found' };
        const problem = checkMessage(p);
        if (problem) return { ok: false, error: problem };
        const threadTs = str('thread_ts');
        if (threadTs !== undefined && !this.messages.some((m) => m.channel === channel && m.ts === threadTs))
          return { ok: false, error: 'thread_not_found' };
        const ts = this.nextTs();
        const msg: StoredMessage = { channel, ts, updates: 0 };
        if (threadTs !== undefined) msg.threadTs = threadTs;
        if (str('text') !== undefined) msg.text = str('text');
        if (Array.isArray(p.blocks)) msg.blocks = p.blocks;
        this.messages.push(msg);
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: 'message',
            text: msg.text ?? '',
            blocks: msg.blocks ?? [],
            ts,
            bot_id: 'B0BOT00001',
          },
        };
      }
      case 'chat.update': {
        const channel = str('channel');
        const ts = str('ts');
        const msg = this.messages.find((m) => m.channel === channel && m.ts === ts);
        if (!msg) return { ok: false, error: 'message_not_found' };
        const problem = checkMessage(p);
        if (problem) return { ok: false, error: problem };
        if (str('text') !== undefined) msg.text = str('text');
        if (Array.isArray(p.blocks)) msg.blocks = p.blocks;
        msg.updates++;
        return { ok: true, channel, ts, text: msg.text ?? '' };
      }
      case 'chat.getPermalink': {
        // https://api.slack.com/methods/chat.getPermalink
        const channel = str('channel');
        const ts = str('message_ts');
        const msg = this.messages.find((m) => m.channel === channel && m.ts === ts);
        if (!msg) return { ok: false, error: 'message_not_found' };
        const root = msg.threadTs ?? msg.ts;
        const link = `https://fake.slack.test/archives/${channel}/p${ts?.replace('.', '') ?? ''}`;
        return {
          ok: true,
          channel,
          permalink: msg.threadTs ? `${link}?thread_ts=${root}&cid=${channel}` : link,
        };
      }
      case 'chat.postEphemeral': {
        const channel = str('channel');
        const user = str('user');
        if (!channelOk(channel)) return { ok: false, error: 'channel_not_found' };
        if (!user) return { ok: false, error: 'user_not_found' };
        const problem = checkMessage(p);
        if (problem) return { ok: false, error: problem };
        this.ephemerals.push({
          channel: channel as string,
          user,
          ...(str('text') !== undefined ? { text: str('text') } : {}),
          ...(Array.isArray(p.blocks) ? { blocks: p.blocks } : {}),
        });
        return { ok: true, message_ts: this.nextTs() };
      }
      case 'views.open': {
        const triggerId = str('trigger_id');
        if (!triggerId) return { ok: false, error: 'invalid_trigger_id' };
        const view = p.view;
        if (typeof view !== 'object' || view === null) return { ok: false, error: 'invalid_arguments' };
        const v = view as Record<string, unknown>;
        if (!Array.isArray(v.blocks) || v.blocks.length > 100)
          return { ok: false, error: 'invalid_arguments' };
        const title = (v.title as { text?: string } | undefined)?.text ?? '';
        if (title.length > 24) return { ok: false, error: 'invalid_arguments' };
        this.views.push({ triggerId, view: v });
        return { ok: true, view: { id: `V${String(this.views.length).padStart(8, '0')}`, ...v } };
      }
      case 'users.info': {
        const id = str('user') ?? '';
        const u = this.options.users?.[id];
        if (!u) return { ok: false, error: 'user_not_found' };
        return {
          ok: true,
          user: {
            id,
            team_id: teamId,
            name: u.name,
            real_name: u.realName ?? u.name,
            deleted: u.deleted ?? false,
            is_bot: u.isBot ?? false,
            tz: u.tz ?? 'Europe/Berlin',
            profile: { real_name: u.realName ?? u.name, display_name: u.name },
          },
        };
      }
      case 'usergroups.users.list': {
        const id = str('usergroup') ?? '';
        const users = this.options.usergroups?.[id];
        if (!users) return { ok: false, error: 'no_such_subteam' };
        return { ok: true, users };
      }
      case 'conversations.info': {
        const id = str('channel') ?? '';
        const c = this.options.channels?.[id];
        if (!c) return { ok: false, error: 'channel_not_found' };
        return {
          ok: true,
          channel: {
            id,
            name: c.name,
            is_channel: !c.isPrivate,
            is_private: c.isPrivate ?? false,
            is_member: c.isMember ?? true,
            is_archived: false,
          },
        };
      }
      case 'files.getUploadURLExternal': {
        const filename = str('filename');
        const length = Number(p.length);
        if (!filename || !Number.isInteger(length) || length <= 0)
          return { ok: false, error: 'invalid_arguments' };
        this.fileCounter++;
        const id = `F${String(this.fileCounter).padStart(8, '0')}`;
        this.files.push({ id, filename, bytes: Buffer.alloc(0) });
        return { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = Array.isArray(p.files) ? (p.files as { id?: string; title?: string }[]) : [];
        const out: Record<string, unknown>[] = [];
        for (const f of list) {
          const stored = this.files.find((x) => x.id === f.id);
          if (!stored || stored.bytes.length === 0) return { ok: false, error: 'file_not_found' };
          const channel = str('channel_id');
          if (channel !== undefined) {
            if (!channelOk(channel)) return { ok: false, error: 'channel_not_found' };
            stored.channel = channel;
          }
          const threadTs = str('thread_ts');
          if (threadTs !== undefined) stored.threadTs = threadTs;
          if (f.title !== undefined) stored.title = f.title;
          out.push({
            id: stored.id,
            name: stored.filename,
            title: f.title ?? stored.filename,
            size: stored.bytes.length,
          });
        }
        return { ok: true, files: out };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** The subset of Slack's message validation that catches limit mistakes. */
function checkMessage(p: Record<string, unknown>): string | undefined {
  const text = typeof p.text === 'string' ? p.text : undefined;
  const blocks = p.blocks;
  if (text === undefined && blocks === undefined) return 'no_text';
  if (text !== undefined && text.length > 40_000) return 'msg_too_long';
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || blocks.length > 50) return 'invalid_blocks';
  for (const b of blocks as Record<string, unknown>[]) {
    const t = (b.text as { text?: string } | undefined)?.text;
    if (b.type === 'header' && (t === undefined || t.length > 150)) return 'invalid_blocks';
    if (b.type === 'section') {
      if (t !== undefined && t.length > 3000) return 'invalid_blocks';
      const fields = b.fields as { text?: string }[] | undefined;
      if (fields && (fields.length > 10 || fields.some((f) => (f.text ?? '').length > 2000)))
        return 'invalid_blocks';
      if (t === undefined && !fields) return 'invalid_blocks';
    }
    if (b.type === 'actions' && (!Array.isArray(b.elements) || b.elements.length > 25))
      return 'invalid_blocks';
    if (b.type === 'context' && (!Array.isArray(b.elements) || b.elements.length > 10))
      return 'invalid_blocks';
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function parseForm(
  req: IncomingMessage,
  raw: Buffer,
): Promise<{ fields: Record<string, string>; files: Map<string, Buffer> }> {
  const type = req.headers['content-type'] ?? '';
  const fields: Record<string, string> = {};
  const files = new Map<string, Buffer>();
  if (type.startsWith('application/json')) {
    const obj = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
  } else if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://local/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: raw,
    }).formData();
    for (const [k, v] of form.entries()) {
      if (typeof v === 'string') fields[k] = v;
      else files.set(k, Buffer.from(await v.arrayBuffer()));
    }
  } else if (raw.length > 0) {
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) fields[k] = v;
  }
  return { fields, files };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'application/json; charset=utf-8',
): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.end(body);
}
