/**
 * A local stand-in for Jira Cloud's REST API v3 (Jira Service Management projects) that speaks its
 * wire format: POST /rest/api/3/issue answering 201 `{ id, key, self }`, GET /rest/api/3/search/jql
 * (`project = "X" AND labels = "y"`), GET /rest/api/3/issue/{key}?fields=status, GET/POST
 * /rest/api/3/issue/{key}/transitions (`{ transitions: [{ id, name, to: { id, name } }] }`, 204),
 * POST .../comment with an Atlassian Document Format body (201), POST /rest/api/3/issueLink (201,
 * empty), POST .../remotelink (201); errors as `{ errorMessages: [...], errors: {...} }`; Basic auth
 * with the account email and an API token; 429 with Retry-After when told to. A small workflow:
 * Open → Scheduled → Implementing → Review → Completed, with Failed and Declined. Loopback only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JiraCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
}

export interface JiraIssue {
  id: string;
  key: string;
  fields: {
    project: string;
    issuetype: string;
    summary: string;
    description: unknown;
    labels: string[];
  };
  status: string;
  comments: { id: string; body: unknown; text: string }[];
  remoteLinks: { url: string; title: string }[];
}

/** Transitions out of each status: name → target status. */
const WORKFLOW: Record<string, Record<string, string>> = {
  Open: { Schedule: 'Scheduled', 'Start implementation': 'Implementing', Decline: 'Declined' },
  Scheduled: { 'Start implementation': 'Implementing', Decline: 'Declined' },
  Implementing: { 'Send to review': 'Review', Complete: 'Completed', 'Mark failed': 'Failed' },
  Review: { Complete: 'Completed', 'Mark failed': 'Failed' },
  Completed: {},
  Failed: {},
  Declined: {},
};
const STATUS_IDS: Record<string, string> = {
  Open: '1',
  Scheduled: '10001',
  Implementing: '10002',
  Review: '10003',
  Completed: '10004',
  Failed: '10005',
  Declined: '10006',
};

/** The plain text of an ADF document (paragraph text nodes, hard breaks as newlines). */
export function adfText(doc: unknown): string {
  const walk = (n: unknown): string => {
    if (typeof n !== 'object' || n === null) return '';
    const node = n as { type?: string; text?: string; content?: unknown[] };
    if (node.type === 'text') return node.text ?? '';
    if (node.type === 'hardBreak') return '\n';
    const inner = (node.content ?? []).map(walk).join('');
    return node.type === 'paragraph' ? `${inner}\n` : inner;
  };
  return walk(doc).trim();
}

export class FakeJira {
  readonly calls: JiraCall[] = [];
  readonly issues: JiraIssue[] = [];
  readonly links: { type: string; inward: string; outward: string }[] = [];
  private server?: Server;
  private origin = '';
  private nextId = 10000;
  private counters = new Map<string, number>();
  private failures: {
    status: number;
    retryAfter?: string;
    count: number;
    match?: (c: JiraCall) => boolean;
  }[] = [];

  constructor(
    private readonly options: {
      email: string;
      apiToken: string;
      projects: Record<string, { issueTypes: string[] }>;
      linkTypes?: string[];
    },
  ) {}

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

  fail(
    status: number,
    options: { count?: number; retryAfter?: string; match?: (c: JiraCall) => boolean } = {},
  ): void {
    this.failures.push({
      status,
      count: options.count ?? 1,
      ...(options.retryAfter ? { retryAfter: options.retryAfter } : {}),
      ...(options.match ? { match: options.match } : {}),
    });
  }

  issue(key: string): JiraIssue | undefined {
    return this.issues.find((i) => i.key === key);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    let body: unknown = undefined;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const call: JiraCall = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      status: 0,
    };
    this.calls.push(call);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, {
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const error = (status: number, errorMessages: string[], errors: Record<string, string> = {}) =>
      send(status, { errorMessages, errors });

    const failure = this.failures.find((f) => f.count > 0 && (!f.match || f.match(call)));
    if (failure) {
      failure.count -= 1;
      return send(
        failure.status,
        {
          errorMessages: [failure.status === 429 ? 'Rate limit exceeded.' : 'Internal server error'],
          errors: {},
        },
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
    }
    const expected = `Basic ${Buffer.from(`${this.options.email}:${this.options.apiToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      return error(401, ['Client must be authenticated to access this resource.']);
    }

    const p = url.pathname;
    const b = (body ?? {}) as Record<string, unknown>;
    if (req.method === 'POST' && p === '/rest/api/3/issue') {
      const fields = (b.fields ?? {}) as Record<string, unknown>;
      const project = (fields.project as { key?: string } | undefined)?.key ?? '';
      const type = (fields.issuetype as { name?: string } | undefined)?.name ?? '';
      const proj = this.options.projects[project];
      const errors: Record<string, string> = {};
      if (!proj) errors.project = 'Specify a valid project ID or key';
      else if (!proj.issueTypes.includes(type)) errors.issuetype = 'Specify a valid issue type';
      if (typeof fields.summary !== 'string' || fields.summary === '')
        errors.summary = 'You must specify a summary of the issue.';
      const labels = (fields.labels ?? []) as unknown[];
      if (labels.some((l) => typeof l !== 'string' || /\s/.test(l)))
        errors.labels = 'Labels cannot contain spaces.';
      const desc = fields.description as { type?: string; version?: number } | undefined;
      if (desc !== undefined && (desc.type !== 'doc' || desc.version !== 1))
        errors.description = 'Operation value must be an Atlassian Document.';
      if (Object.keys(errors).length > 0) return error(400, [], errors);
      const n = (this.counters.get(project) ?? 0) + 1;
      this.counters.set(project, n);
      const issue: JiraIssue = {
        id: String(this.nextId++),
        key: `${project}-${n}`,
        fields: {
          project,
          issuetype: type,
          summary: fields.summary as string,
          description: fields.description,
          labels: labels as string[],
        },
        status: 'Open',
        comments: [],
        remoteLinks: [],
      };
      this.issues.push(issue);
      return send(201, { id: issue.id, key: issue.key, self: `${this.origin}/rest/api/3/issue/${issue.id}` });
    }
    if (req.method === 'GET' && p === '/rest/api/3/search/jql') {
      const jql = call.query.jql ?? '';
      const project = /project = "([^"]+)"/.exec(jql)?.[1];
      const label = /labels = "([^"]+)"/.exec(jql)?.[1];
      const found = this.issues.filter(
        (i) =>
          (project === undefined || i.fields.project === project) &&
          (label === undefined || i.fields.labels.includes(label)),
      );
      const max = call.query.maxResults ? Number(call.query.maxResults) : 50;
      return send(200, {
        issues: found.slice(0, max).map((i) => ({ id: i.id, key: i.key, self: '' })),
        isLast: true,
      });
    }
    if (req.method === 'POST' && p === '/rest/api/3/issueLink') {
      const type = (b.type as { name?: string } | undefined)?.name ?? '';
      const inward = (b.inwardIssue as { key?: string } | undefined)?.key ?? '';
      const outward = (b.outwardIssue as { key?: string } | undefined)?.key ?? '';
      if (!(this.options.linkTypes ?? ['Relates', 'Blocks']).includes(type)) {
        return error(404, [`No issue link type with name '${type}' found.`]);
      }
      if (!this.issue(inward) || !this.issue(outward)) return error(404, ['Issue Does Not Exist']);
      this.links.push({ type, inward, outward });
      return send(201);
    }
    const m =
      /^\/rest\/api\/3\/issue\/([A-Z][A-Z0-9_]*-\d+|\d+)(?:\/(transitions|comment|remotelink))?$/.exec(p);
    const issue = m ? this.issues.find((i) => i.key === m[1] || i.id === m[1]) : undefined;
    if (m && !issue) return error(404, ['Issue does not exist or you do not have permission to see it.']);
    if (m && issue) {
      const sub = m[2];
      if (req.method === 'GET' && sub === undefined) {
        return send(200, {
          id: issue.id,
          key: issue.key,
          fields: { status: { name: issue.status, id: STATUS_IDS[issue.status] } },
        });
      }
      if (req.method === 'GET' && sub === 'transitions') {
        const out = WORKFLOW[issue.status] ?? {};
        return send(200, {
          expand: 'transitions',
          transitions: Object.entries(out).map(([name, to]) => ({
            id: `${STATUS_IDS[issue.status]}${STATUS_IDS[to]}`,
            name,
            to: { id: STATUS_IDS[to], name: to },
            hasScreen: false,
            isAvailable: true,
          })),
        });
      }
      if (req.method === 'POST' && sub === 'transitions') {
        const id = (b.transition as { id?: string } | undefined)?.id;
        const target = Object.values(WORKFLOW[issue.status] ?? {}).find(
          (to) => `${STATUS_IDS[issue.status]}${STATUS_IDS[to]}` === id,
        );
        if (!target) {
          return error(400, [`Transition id '${id ?? ''}' is not valid for this issue.`]);
        }
        issue.status = target;
        return send(204);
      }
      if (req.method === 'POST' && sub === 'comment') {
        const doc = b.body as { type?: string; version?: number } | undefined;
        if (!doc || doc.type !== 'doc' || doc.version !== 1) {
          return error(400, [], { comment: 'Comment body can not be empty!' });
        }
        const c = { id: String(this.nextId++), body: doc, text: adfText(doc) };
        issue.comments.push(c);
        return send(201, { id: c.id, body: doc, self: '' });
      }
      if (req.method === 'POST' && sub === 'remotelink') {
        const object = (b.object ?? {}) as { url?: string; title?: string };
        if (!object.url || !object.title) return error(400, [], { title: 'Title is required.' });
        issue.remoteLinks.push({ url: object.url, title: object.title });
        return send(201, { id: this.nextId++, self: '' });
      }
    }
    return error(404, [`No resource at ${req.method ?? ''} ${p}`]);
  }
}
