/**
 * The ServiceNow Table API (/api/now/table/{table}) as patchbot uses it: change_request and
 * incident records, cmdb_ci look-ups. Answers are `{ result: ... }` with every field a string
 * (sysparm_display_value=false). Basic auth, or an OAuth 2.0 client-credentials token from
 * /oauth_token.do kept until shortly before it expires.
 */
import { z } from 'zod';
import { PatchbotError, TransientError } from '../../../core/errors.js';
import type { ServiceNowIntegration } from '../../../config/policy-schema.js';
import type { Logger } from '../../../logging/logger.js';
import { createHttpClient, retryAfterMs, type FetchFn, type HttpClient } from '../http.js';

/** change_request.state values of the normal and emergency change models. */
export const CHANGE_STATE = {
  new: '-5',
  assess: '-4',
  authorize: '-3',
  scheduled: '-2',
  implement: '-1',
  review: '0',
  closed: '3',
  canceled: '4',
} as const;
export type ChangeStateName = keyof typeof CHANGE_STATE;

export const CHANGE_APPROVALS = ['not requested', 'requested', 'approved', 'rejected'] as const;

const SysId = z.string().regex(/^[0-9a-f]{32}$/, { error: 'expected a sys_id (32 hex digits)' });

export const ServiceNowRecord = z
  .object({
    sys_id: SysId,
    number: z.string().min(1),
    state: z.string().optional(),
    approval: z.string().optional(),
  })
  .loose();
export type ServiceNowRecord = z.infer<typeof ServiceNowRecord>;

const One = z.object({ result: ServiceNowRecord });
const Many = z.object({ result: z.array(ServiceNowRecord) });
const Cis = z.object({ result: z.array(z.object({ sys_id: SysId, name: z.string() }).loose()) });
const Token = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
});

export interface ServiceNowCredentials {
  kind: 'basic' | 'oauth';
  /** username / client id */
  id: string;
  /** password / client secret */
  secret: string;
}

export interface ServiceNowClient {
  readonly instanceUrl: string;
  /** The record's page in the instance ("…/nav_to.do?uri=change_request.do?sys_id=…"). */
  recordUrl(table: string, sysId: string): string;
  create(table: string, fields: Record<string, string>, signal: AbortSignal): Promise<ServiceNowRecord>;
  update(
    table: string,
    sysId: string,
    fields: Record<string, string>,
    signal: AbortSignal,
  ): Promise<ServiceNowRecord>;
  get(table: string, sysId: string, signal: AbortSignal): Promise<ServiceNowRecord>;
  /** The first record of `table` whose correlation_id is `correlationId`. */
  findByCorrelation(
    table: string,
    correlationId: string,
    signal: AbortSignal,
  ): Promise<ServiceNowRecord | undefined>;
  /** Configuration items by name (cmdb_ci), for the names found. */
  cis(names: readonly string[], signal: AbortSignal): Promise<Map<string, string>>;
}

const errorText = (body: unknown): string | undefined => {
  const parsed = z
    .object({ error: z.object({ message: z.string().optional(), detail: z.string().nullish() }) })
    .safeParse(body);
  if (!parsed.success) return undefined;
  const e = parsed.data.error;
  return (
    [e.message, e.detail].filter((s) => s !== undefined && s !== null && s !== '').join(': ') || undefined
  );
};

/** A query value for sysparm_query: ServiceNow has no escaping, so "^" and "," never reach it. */
function queryValue(s: string): string {
  if (/[\^,=]/.test(s))
    throw new PatchbotError('VALIDATION', `ServiceNow query value ${JSON.stringify(s)} has ^ , or =`);
  return s;
}

export function createServiceNowClient(options: {
  config: Pick<ServiceNowIntegration, 'instanceUrl' | 'timeout' | 'allowHttpLoopback'>;
  credentials: ServiceNowCredentials;
  fetch?: FetchFn;
  logger: Logger;
}): ServiceNowClient {
  const { config, credentials } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  let token: { value: string; until: number } | undefined;

  async function oauthToken(signal: AbortSignal): Promise<string> {
    if (token && token.until > Date.now()) return token.value;
    const timeout = AbortSignal.timeout(config.timeout);
    let res: Response;
    try {
      res = await doFetch(new URL('/oauth_token.do', config.instanceUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: credentials.id,
          client_secret: credentials.secret,
        }).toString(),
        signal: AbortSignal.any([signal, timeout]),
        redirect: 'error',
      });
    } catch (err) {
      throw new TransientError(
        `ServiceNow OAuth token: ${timeout.aborted ? 'no answer in time' : err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (res.status === 429 || res.status >= 500) {
      const wait = retryAfterMs(res.headers.get('retry-after'));
      throw new TransientError(`ServiceNow OAuth token: HTTP ${res.status}`, {
        details: { status: res.status, ...(wait === undefined ? {} : { retryAfterMs: wait }) },
      });
    }
    if (!res.ok) {
      throw new PatchbotError(
        'POLICY_DENIED',
        `ServiceNow OAuth token: HTTP ${res.status} (check the OAuth application's client id and secret and that it allows the client credentials grant)`,
      );
    }
    const parsed = Token.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new PatchbotError('VALIDATION', 'ServiceNow OAuth token: unexpected answer');
    const lifetime = (parsed.data.expires_in ?? 1800) * 1000;
    token = { value: parsed.data.access_token, until: Date.now() + Math.max(0, lifetime - 60_000) };
    return token.value;
  }

  const basic = `Basic ${Buffer.from(`${credentials.id}:${credentials.secret}`).toString('base64')}`;
  const http: HttpClient = createHttpClient({
    system: 'ServiceNow',
    baseUrl: config.instanceUrl,
    allowHttpLoopback: config.allowHttpLoopback,
    timeoutMs: config.timeout,
    authorization: async (signal) =>
      credentials.kind === 'basic' ? basic : `Bearer ${await oauthToken(signal)}`,
    onUnauthorized: () => {
      token = undefined;
    },
    errorText,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    logger: options.logger,
  });
  const table = (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name))
      throw new PatchbotError('VALIDATION', `bad ServiceNow table ${name}`);
    return `api/now/table/${name}`;
  };
  const common = { sysparm_display_value: 'false', sysparm_exclude_reference_link: 'true' };

  return {
    instanceUrl: http.baseUrl.origin,
    recordUrl: (t, sysId) =>
      `${http.baseUrl.origin}/nav_to.do?uri=${encodeURIComponent(`${t}.do?sys_id=${sysId}`)}`,
    async create(t, fields, signal) {
      const r = await http.request('POST', table(t), { query: common, body: fields, schema: One, signal });
      return r.result;
    },
    async update(t, sysId, fields, signal) {
      const r = await http.request('PATCH', `${table(t)}/${SysId.parse(sysId)}`, {
        query: common,
        body: fields,
        schema: One,
        signal,
      });
      return r.result;
    },
    async get(t, sysId, signal) {
      const r = await http.request('GET', `${table(t)}/${SysId.parse(sysId)}`, {
        query: { ...common, sysparm_fields: 'sys_id,number,state,approval' },
        schema: One,
        signal,
      });
      return r.result;
    },
    async findByCorrelation(t, correlationId, signal) {
      const r = await http.request('GET', table(t), {
        query: {
          ...common,
          sysparm_query: `correlation_id=${queryValue(correlationId)}`,
          sysparm_fields: 'sys_id,number,state,approval',
          sysparm_limit: '1',
        },
        schema: Many,
        signal,
      });
      return r.result[0];
    },
    async cis(names, signal) {
      const found = new Map<string, string>();
      const usable = names.filter((n) => !/[\^,=]/.test(n));
      for (let i = 0; i < usable.length; i += 50) {
        const chunk = usable.slice(i, i + 50);
        const r = await http.request('GET', table('cmdb_ci'), {
          query: {
            ...common,
            sysparm_query: `nameIN${chunk.join(',')}`,
            sysparm_fields: 'sys_id,name',
            sysparm_limit: String(chunk.length * 2),
          },
          schema: Cis,
          signal,
        });
        for (const ci of r.result) if (!found.has(ci.name)) found.set(ci.name, ci.sys_id);
      }
      return found;
    },
  };
}
