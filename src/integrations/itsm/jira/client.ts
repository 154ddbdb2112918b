/**
 * Jira Cloud / Jira Service Management REST API v3 as patchbot uses it: create an issue, find one
 * by label, look up transitions by name and apply them, comment in Atlassian Document Format,
 * link two issues, add a remote link. API token basic auth (account email + token). Errors come
 * as `{ errorMessages: [...], errors: { field: message } }`; 429 carries Retry-After.
 */
import { z } from 'zod';
import { PatchbotError } from '../../../core/errors.js';
import type { JiraIntegration } from '../../../config/policy-schema.js';
import type { Logger } from '../../../logging/logger.js';
import { createHttpClient, type FetchFn } from '../http.js';

/** An Atlassian Document Format document. */
export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: unknown[];
}

/** Paragraphs of plain text (URLs become links), lines kept as hard breaks. */
export function adf(text: string): AdfDoc {
  const paragraphs = text.split(/\n{2,}/).filter((p) => p.trim() !== '');
  return {
    type: 'doc',
    version: 1,
    content: paragraphs.map((p) => ({
      type: 'paragraph',
      content: p
        .split('\n')
        .flatMap((line, i) => [...(i > 0 ? [{ type: 'hardBreak' }] : []), ...inline(line)]),
    })),
  };
}

function inline(line: string): unknown[] {
  const parts: unknown[] = [];
  const re = /https?:\/\/[^\s<>"]+/g;
  let last = 0;
  for (const m of line.matchAll(re)) {
    const at = m.index;
    if (at > last) parts.push({ type: 'text', text: line.slice(last, at) });
    parts.push({ type: 'text', text: m[0], marks: [{ type: 'link', attrs: { href: m[0] } }] });
    last = at + m[0].length;
  }
  if (last < line.length) parts.push({ type: 'text', text: line.slice(last) });
  return parts.length > 0 ? parts : [{ type: 'text', text: ' ' }];
}

const IssueKey = z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/, { error: 'expected an issue key such as OPS-42' });
const Created = z.object({ id: z.string().min(1), key: IssueKey }).loose();
const Search = z.object({ issues: z.array(z.object({ id: z.string(), key: IssueKey }).loose()) }).loose();
const Transitions = z.object({
  transitions: z.array(
    z
      .object({ id: z.string(), name: z.string(), to: z.object({ name: z.string() }).loose().optional() })
      .loose(),
  ),
});
const Issue = z
  .object({
    id: z.string(),
    key: IssueKey,
    fields: z
      .object({ status: z.object({ name: z.string() }).loose().optional() })
      .loose()
      .optional(),
  })
  .loose();
const Comment = z.object({ id: z.string() }).loose();
const Anything = z.unknown();

export interface JiraIssueRef {
  id: string;
  key: string;
}

export interface JiraClient {
  issueUrl(key: string): string;
  createIssue(fields: Record<string, unknown>, signal: AbortSignal): Promise<JiraIssueRef>;
  /** The first issue of the project carrying `label`. */
  findByLabel(project: string, label: string, signal: AbortSignal): Promise<JiraIssueRef | undefined>;
  status(key: string, signal: AbortSignal): Promise<string | undefined>;
  /**
   * Applies the transition named `name` (the transition's or its target status's name, any case).
   * Returns false when the issue is already in that status; throws naming the transitions there
   * are when none matches.
   */
  transition(key: string, name: string, signal: AbortSignal): Promise<boolean>;
  comment(key: string, text: string, signal: AbortSignal): Promise<void>;
  link(type: string, inward: string, outward: string, signal: AbortSignal): Promise<void>;
  remoteLink(key: string, url: string, title: string, signal: AbortSignal): Promise<void>;
}

const errorText = (body: unknown): string | undefined => {
  const parsed = z
    .object({
      errorMessages: z.array(z.string()).optional(),
      errors: z.record(z.string(), z.string()).optional(),
    })
    .safeParse(body);
  if (!parsed.success) return undefined;
  const msgs = [
    ...(parsed.data.errorMessages ?? []),
    ...Object.entries(parsed.data.errors ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  return msgs.length > 0 ? msgs.join('; ') : undefined;
};

/** A label Jira accepts (no spaces). */
const Label = z.string().regex(/^[A-Za-z0-9_.:-]+$/);

export function createJiraClient(options: {
  config: Pick<JiraIntegration, 'baseUrl' | 'timeout' | 'allowHttpLoopback'>;
  email: string;
  apiToken: string;
  fetch?: FetchFn;
  logger: Logger;
}): JiraClient {
  const basic = `Basic ${Buffer.from(`${options.email}:${options.apiToken}`).toString('base64')}`;
  const http = createHttpClient({
    system: 'Jira',
    baseUrl: options.config.baseUrl,
    allowHttpLoopback: options.config.allowHttpLoopback,
    timeoutMs: options.config.timeout,
    authorization: () => Promise.resolve(basic),
    errorText,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    logger: options.logger,
  });
  const key = (k: string) => encodeURIComponent(IssueKey.parse(k));

  return {
    issueUrl: (k) => `${http.baseUrl.origin}/browse/${encodeURIComponent(k)}`,
    async createIssue(fields, signal) {
      const r = await http.request('POST', 'rest/api/3/issue', { body: { fields }, schema: Created, signal });
      return { id: r.id, key: r.key };
    },
    async findByLabel(project, label, signal) {
      const r = await http.request('GET', 'rest/api/3/search/jql', {
        query: {
          jql: `project = "${project}" AND labels = "${Label.parse(label)}" ORDER BY created ASC`,
          fields: 'key',
          maxResults: '1',
        },
        schema: Search,
        signal,
      });
      const first = r.issues[0];
      return first ? { id: first.id, key: first.key } : undefined;
    },
    async status(k, signal) {
      const r = await http.request('GET', `rest/api/3/issue/${key(k)}`, {
        query: { fields: 'status' },
        schema: Issue,
        signal,
      });
      return r.fields?.status?.name;
    },
    async transition(k, name, signal) {
      const wanted = name.toLowerCase();
      const r = await http.request('GET', `rest/api/3/issue/${key(k)}/transitions`, {
        schema: Transitions,
        signal,
      });
      const t =
        r.transitions.find((x) => x.name.toLowerCase() === wanted) ??
        r.transitions.find((x) => x.to?.name.toLowerCase() === wanted);
      if (!t) {
        const current = await this.status(k, signal);
        if (current?.toLowerCase() === wanted) return false;
        throw new PatchbotError(
          'VALIDATION',
          `Jira ${k}: no transition "${name}" from status ${JSON.stringify(current ?? 'unknown')} (available: ${r.transitions.map((x) => x.name).join(', ') || 'none'}); set itsm.jira.transitions to the workflow's names`,
        );
      }
      await http.send('POST', `rest/api/3/issue/${key(k)}/transitions`, {
        body: { transition: { id: t.id } },
        signal,
      });
      return true;
    },
    async comment(k, text, signal) {
      await http.request('POST', `rest/api/3/issue/${key(k)}/comment`, {
        body: { body: adf(text) },
        schema: Comment,
        signal,
      });
    },
    async link(type, inward, outward, signal) {
      await http.request('POST', 'rest/api/3/issueLink', {
        body: {
          type: { name: type },
          inwardIssue: { key: IssueKey.parse(inward) },
          outwardIssue: { key: IssueKey.parse(outward) },
        },
        schema: Anything,
        signal,
      });
    },
    async remoteLink(k, url, title, signal) {
      await http.request('POST', `rest/api/3/issue/${key(k)}/remotelink`, {
        body: { globalId: `patchbot:${url}`, object: { url, title } },
        schema: Anything,
        signal,
      });
    },
  };
}
