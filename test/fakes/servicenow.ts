/**
 * A local stand-in for a ServiceNow instance's Table API (/api/now/table/{table}) that speaks its
 * wire format: JSON bodies, answers `{ "result": {...} }` or `{ "result": [...] }` with every field
 * a string (as with sysparm_display_value=false), generated 32-hex sys_ids and numbers
 * (CHG0030001, INC0010001), change_request state values (-5 New ... 3 Closed, 4 Canceled) and
 * approval ("not requested", "requested", "approved", "rejected"), sysparm_query with `field=value`,
 * `fieldINa,b` and `^` (AND), journal fields (work_notes) appended rather than stored, errors as
 * `{ "error": { "message", "detail" }, "status": "failure" }`, Basic auth or OAuth bearer tokens
 * from POST /oauth_token.do (client credentials), and 429/5xx (with Retry-After) or 401/403 when
 * told to. Every request is recorded. Loopback only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SnCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  authorization?: string;
}

export interface SnRecord {
  table: string;
  fields: Record<string, string>;
  /** Journal entries (work_notes, comments) in the order written. */
  journal: { field: string; value: string }[];
}

const PREFIX: Record<string, { prefix: string; start: number }> = {
  change_request: { prefix: 'CHG', start: 30001 },
  incident: { prefix: 'INC', start: 10001 },
};
const JOURNAL = new Set(['work_notes', 'comments']);

export class FakeServiceNow {
  readonly calls: SnCall[] = [];
  readonly records: SnRecord[] = [];
  private server?: Server;
  private origin = '';
  private counters = new Map<string, number>();
  private failures: { status: number; retryAfter?: string; count: number; match?: (c: SnCall) => boolean }[] =
    [];
  private readonly tokens = new Set<string>();

  constructor(
    private readonly options: {
      basic?: { user: string; password: string };
      oauth?: { clientId: string; clientSecret: string };
      /** cmdb_ci names to sys_ids that exist in the instance. */
      cis?: string[];
    } = {},
  ) {
    for (const name of options.cis ?? []) {
      this.records.push({ table: 'cmdb_ci', fields: { sys_id: sysId(), name }, journal: [] });
    }
  }

  get url(): string {
    return this.origin;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** The next `count` API requests (matching `match`) answer `status` (with Retry-After when given). */
  fail(
    status: number,
    options: { count?: number; retryAfter?: string; match?: (c: SnCall) => boolean } = {},
  ): void {
    this.failures.push({
      status,
      count: options.count ?? 1,
      ...(options.retryAfter ? { retryAfter: options.retryAfter } : {}),
      ...(options.match ? { match: options.match } : {}),
    });
  }

  /** Forgets every failure still to come: the instance answers normally again. */
  clearFailures(): void {
    this.failures = [];
  }

  table(name: string): SnRecord[] {
    return this.records.filter((r) => r.table === name);
  }

  byNumber(number: string): SnRecord | undefined {
    return this.records.find((r) => r.fields.number === number);
  }

  /** What the CAB does in the instance: sets the change_request's approval. */
  setApproval(number: string, approval: 'requested' | 'approved' | 'rejected'): void {
    const r = this.byNumber(number);
    if (!r) throw new Error(`no record ${number}`);
    r.fields.approval = approval;
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Basic ') && this.options.basic) {
      const [user, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      return user === this.options.basic.user && rest.join(':') === this.options.basic.password;
    }
    if (h.startsWith('Bearer ')) return this.tokens.has(h.slice(7));
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    const query = Object.fromEntries(url.searchParams);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    const error = (status: number, message: string, detail: string | null = null) =>
      send(status, { error: { message, detail }, status: 'failure' });
    let body: unknown = undefined;
    if (url.pathname === '/oauth_token.do') {
      body = Object.fromEntries(new URLSearchParams(raw));
    } else if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const call: SnCall = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      body,
      status: 0,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    this.calls.push(call);

    const failure = this.failures.find((f) => f.count > 0 && (!f.match || f.match(call)));
    if (failure) {
      failure.count -= 1;
      return send(
        failure.status,
        {
          error: {
            message:
              failure.status === 429
                ? 'Too many requests'
                : failure.status === 401 || failure.status === 403
                  ? 'User Not Authorized'
                  : 'Internal server error',
            detail: null,
          },
          status: 'failure',
        },
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
    }

    if (url.pathname === '/oauth_token.do' && req.method === 'POST') {
      const p = body as Record<string, string>;
      const o = this.options.oauth;
      if (
        !o ||
        p.grant_type !== 'client_credentials' ||
        p.client_id !== o.clientId ||
        p.client_secret !== o.clientSecret
      ) {
        return send(401, { error: 'access_denied', error_description: 'access_denied' });
      }
      const token = randomBytes(24).toString('base64url');
      this.tokens.add(token);
      return send(200, { access_token: token, scope: 'useraccount', token_type: 'Bearer', expires_in: 1799 });
    }

    const m = /^\/api\/now\/table\/([a-z_][a-z0-9_]*)(?:\/([0-9a-f]{32}))?$/.exec(url.pathname);
    if (!m) return error(400, 'Invalid URL', `${url.pathname} is not a Table API URL`);
    if (!this.authorized(req))
      return error(401, 'User Not Authenticated', 'Required to provide Auth information');
    const [, table = '', id] = m;

    if (req.method === 'POST' && !id) {
      if (typeof body !== 'object' || body === null)
        return error(400, 'Exception while reading request', 'The payload is not valid JSON.');
      const fields: Record<string, string> = { sys_id: sysId(), ...this.defaults(table) };
      const record: SnRecord = { table, fields, journal: [] };
      this.write(record, body as Record<string, unknown>);
      this.records.push(record);
      return send(201, { result: { ...record.fields } });
    }
    if (req.method === 'PATCH' && id) {
      const record = this.records.find((r) => r.table === table && r.fields.sys_id === id);
      if (!record)
        return error(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
      this.write(record, body as Record<string, unknown>);
      return send(200, { result: { ...record.fields } });
    }
    if (req.method === 'GET' && id) {
      const record = this.records.find((r) => r.table === table && r.fields.sys_id === id);
      if (!record)
        return error(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
      return send(200, { result: pick(record.fields, query.sysparm_fields) });
    }
    if (req.method === 'GET') {
      const matches = this.records
        .filter((r) => r.table === table)
        .filter((r) => matchesQuery(r.fields, query.sysparm_query ?? ''))
        .slice(0, query.sysparm_limit ? Number(query.sysparm_limit) : undefined);
      return send(200, { result: matches.map((r) => pick(r.fields, query.sysparm_fields)) });
    }
    return error(405, 'Method not Supported', `${req.method} is not supported here`);
  }

  private defaults(table: string): Record<string, string> {
    const p = PREFIX[table];
    if (!p) return {};
    const n = this.counters.get(table) ?? p.start;
    this.counters.set(table, n + 1);
    const base = { number: `${p.prefix}${String(n).padStart(7, '0')}`, sys_created_on: now() };
    if (table === 'change_request')
      return { ...base, state: '-5', approval: 'not requested', type: 'normal' };
    if (table === 'incident') return { ...base, state: '1', urgency: '3', impact: '3' };
    return base;
  }

  private write(record: SnRecord, fields: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(fields)) {
      const value = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      if (JOURNAL.has(k)) {
        if (value !== '') record.journal.push({ field: k, value });
      } else {
        record.fields[k] = value;
      }
    }
    record.fields.sys_updated_on = now();
  }
}

function sysId(): string {
  return randomBytes(16).toString('hex');
}

function now(): string {
  return new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}

function pick(fields: Record<string, string>, list: string | undefined): Record<string, string> {
  if (!list) return { ...fields };
  return Object.fromEntries(list.split(',').map((f) => [f, fields[f] ?? '']));
}

function matchesQuery(fields: Record<string, string>, q: string): boolean {
  if (q === '') return true;
  return q.split('^').every((term) => {
    const inMatch = /^([a-z_]+)IN(.*)$/.exec(term);
    if (inMatch) return inMatch[2]?.split(',').includes(fields[inMatch[1] ?? ''] ?? '') ?? false;
    const eq = /^([a-z_]+)=(.*)$/.exec(term);
    if (eq) return (fields[eq[1] ?? ''] ?? '') === eq[2];
    return false;
  });
}
