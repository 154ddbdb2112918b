import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { redactUrl } from '../logging/redact.js';
import { isGuid, parseDuration } from './values.js';

/**
 * The environment variables patchbot reads, validated with zod. `loadEnv` is the only place in
 * the code base that reads `process.env`; everything else gets the typed `Env` passed in.
 * An empty variable counts as unset (compose files and systemd units often write `FOO=`).
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Variables whose values are never shown, not even in an error. */
const SECRET_VARS = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'TEAMS_APP_PASSWORD',
]);

const unset = (v: unknown) => (v === '' ? undefined : v);
const opt = <T extends z.ZodType>(schema: T) => z.preprocess(unset, schema.optional());

const urlWith = (protocols: string[], expected: string) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected ${expected}` },
  );

const BOOL_TRUE = ['1', 'true', 'yes', 'on'];
const BOOL_FALSE = ['0', 'false', 'no', 'off'];

export const RawEnv = z.object({
  DATABASE_URL: opt(
    urlWith(
      ['postgres:', 'postgresql:'],
      'a PostgreSQL URL such as postgresql://user:password@host:5432/patchbot',
    ),
  ),
  PATCHBOT_DATA_DIR: opt(z.string()),
  REDIS_URL: opt(urlWith(['redis:', 'rediss:'], 'a Redis URL such as redis://127.0.0.1:6379')),
  PORT: opt(
    z
      .string()
      .regex(/^\d{1,5}$/, { error: 'expected a port number 1-65535' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 65535, { error: 'expected a port number 1-65535' }),
  ),
  PATCHBOT_CONFIG: opt(z.string()),
  /** Prefix of patchbot's keys in Redis (several installations, or tests, can share one Redis). */
  PATCHBOT_QUEUE_PREFIX: opt(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
      error: 'expected letters, digits, ".", "_" or "-" (at most 64)',
    }),
  ),
  SLACK_BOT_TOKEN: opt(
    z.string().regex(/^xoxb-[A-Za-z0-9-]+$/, { error: 'expected a Slack bot token (xoxb-...)' }),
  ),
  SLACK_SIGNING_SECRET: opt(
    z.string().regex(/^\S{8,}$/, { error: 'expected the Slack app signing secret (Basic Information page)' }),
  ),
  SLACK_APP_TOKEN: opt(
    z.string().regex(/^xapp-[A-Za-z0-9-]+$/, {
      error: 'expected a Slack app-level token (xapp-...) for Socket Mode',
    }),
  ),
  SLACK_API_URL: opt(
    urlWith(['https:', 'http:'], 'an http(s) URL of the Slack Web API such as https://slack.com/api/'),
  ),
  TEAMS_APP_ID: opt(z.string().refine(isGuid, { error: 'expected the bot app id (a GUID)' })),
  TEAMS_APP_PASSWORD: opt(z.string().min(1)),
  TEAMS_TENANT_ID: opt(z.string().refine(isGuid, { error: 'expected the Entra tenant id (a GUID)' })),
  TEAMS_DEV_NO_AUTH: opt(
    z
      .string()
      .refine((s) => [...BOOL_TRUE, ...BOOL_FALSE].includes(s.toLowerCase()), {
        error: 'expected 1/true/yes or 0/false/no',
      })
      .transform((s) => BOOL_TRUE.includes(s.toLowerCase())),
  ),
  /** OpenID metadata of the tokens Teams sends (default: the public cloud's); private or sovereign clouds, tests. */
  TEAMS_OPENID_METADATA_URL: opt(
    urlWith(['https:', 'http:'], 'an http(s) URL of an OpenID metadata document'),
  ),
  /** Microsoft Graph (Entra group members for roles and approvers); national clouds have their own. */
  TEAMS_GRAPH_URL: opt(urlWith(['https:', 'http:'], 'an http(s) URL of Microsoft Graph')),
  LOG_LEVEL: opt(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
  /** SSH agent socket, used when a host has no identity file. */
  SSH_AUTH_SOCK: opt(z.string()),
  /**
   * How long a stopping worker (SIGTERM, SIGINT) lets running hosts finish before handing them back
   * to another worker ("10m", "90s"). Set the container's termination grace period a little longer.
   */
  PATCHBOT_SHUTDOWN_GRACE: opt(
    z.string().transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 10m or 90s', input: s });
        return z.NEVER;
      }
      return ms;
    }),
  ),
});

/** The validated environment, grouped by what uses it. */
export const Env = RawEnv.superRefine(
  (e, ctx) => {
    const need = (cond: boolean, path: string, message: string) => {
      if (cond) ctx.addIssue({ code: 'custom', path: [path], message, input: undefined });
    };
    need(
      e.SLACK_BOT_TOKEN !== undefined &&
        e.SLACK_SIGNING_SECRET === undefined &&
        e.SLACK_APP_TOKEN === undefined,
      'SLACK_SIGNING_SECRET',
      'expected SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode) when SLACK_BOT_TOKEN is set',
    );
    need(
      e.SLACK_BOT_TOKEN === undefined &&
        (e.SLACK_SIGNING_SECRET !== undefined || e.SLACK_APP_TOKEN !== undefined),
      'SLACK_BOT_TOKEN',
      'expected SLACK_BOT_TOKEN (xoxb-...) when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set',
    );
    need(
      e.TEAMS_APP_ID !== undefined && e.TEAMS_APP_PASSWORD === undefined && e.TEAMS_DEV_NO_AUTH !== true,
      'TEAMS_APP_PASSWORD',
      'expected TEAMS_APP_PASSWORD when TEAMS_APP_ID is set (or TEAMS_DEV_NO_AUTH=1 for local development)',
    );
    need(
      e.TEAMS_APP_ID === undefined &&
        (e.TEAMS_APP_PASSWORD !== undefined ||
          e.TEAMS_TENANT_ID !== undefined ||
          e.TEAMS_DEV_NO_AUTH === true ||
          e.TEAMS_OPENID_METADATA_URL !== undefined ||
          e.TEAMS_GRAPH_URL !== undefined),
      'TEAMS_APP_ID',
      'expected TEAMS_APP_ID when TEAMS_APP_PASSWORD, TEAMS_TENANT_ID, TEAMS_DEV_NO_AUTH, TEAMS_OPENID_METADATA_URL or TEAMS_GRAPH_URL is set',
    );
    // Run even when a variable is malformed, so one report lists every problem (the checks only test presence).
  },
  { when: () => true },
).transform((e) => ({
  /** PostgreSQL URL; undefined = the embedded database under dataDir. */
  databaseUrl: e.DATABASE_URL,
  dataDir: e.PATCHBOT_DATA_DIR ?? '.patchbot',
  redisUrl: e.REDIS_URL ?? 'redis://127.0.0.1:6379',
  /**
   * Prefix of the BullMQ keys in Redis; undefined = derived from the installation's id stored in
   * its database (src/jobs/prefix.ts).
   */
  queuePrefix: e.PATCHBOT_QUEUE_PREFIX,
  port: e.PORT ?? 3000,
  policyPath: e.PATCHBOT_CONFIG ?? './patchbot.yaml',
  /** Whether PATCHBOT_CONFIG named the file (then it must exist). */
  policyPathExplicit: e.PATCHBOT_CONFIG !== undefined,
  logLevel: e.LOG_LEVEL ?? 'info',
  sshAuthSock: e.SSH_AUTH_SOCK,
  /** How long a stopping worker lets running hosts finish (default 10 minutes). */
  shutdownGraceMs: e.PATCHBOT_SHUTDOWN_GRACE ?? 10 * 60_000,
  /** Set when SLACK_BOT_TOKEN is. */
  slack:
    e.SLACK_BOT_TOKEN === undefined
      ? undefined
      : {
          botToken: e.SLACK_BOT_TOKEN,
          signingSecret: e.SLACK_SIGNING_SECRET,
          /** Socket Mode when set. */
          appToken: e.SLACK_APP_TOKEN,
          /** Web API base with a trailing slash, e.g. https://slack.com/api/ (GovSlack: https://slack-gov.com/api/). */
          apiUrl: e.SLACK_API_URL === undefined ? undefined : e.SLACK_API_URL.replace(/\/?$/, '/'),
        },
  /** Set when TEAMS_APP_ID is. */
  msteams:
    e.TEAMS_APP_ID === undefined
      ? undefined
      : {
          appId: e.TEAMS_APP_ID,
          appPassword: e.TEAMS_APP_PASSWORD,
          /** Single-tenant bot when set; multi-tenant otherwise. */
          tenantId: e.TEAMS_TENANT_ID,
          /** Local development only: accept requests without a Bot Framework token. */
          devNoAuth: e.TEAMS_DEV_NO_AUTH ?? false,
          /** OpenID metadata URL of incoming tokens; undefined = the public cloud's. */
          openIdMetadataUrl: e.TEAMS_OPENID_METADATA_URL,
          /** Microsoft Graph base URL with a trailing slash (default https://graph.microsoft.com/). */
          graphUrl: (e.TEAMS_GRAPH_URL ?? 'https://graph.microsoft.com/').replace(/\/?$/, '/'),
        },
}));
export type Env = z.output<typeof Env>;

/** One problem with one environment variable. */
export interface EnvIssue {
  variable: string;
  message: string;
}

/** Validates the environment; returns every problem (empty when valid). */
export function checkEnv(env: NodeJS.ProcessEnv): { env?: Env; errors: EnvIssue[] } {
  const result = Env.safeParse(env);
  if (result.success) return { env: result.data, errors: [] };
  return {
    errors: result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '');
      const raw = env[variable];
      let message = issue.code === 'invalid_type' ? 'expected text' : issue.message;
      if (raw !== undefined && raw !== '') message = `${message}, got ${showValue(variable, raw)}`;
      return { variable, message };
    }),
  };
}

export function formatEnvIssue(issue: EnvIssue): string {
  return `${issue.variable}: ${issue.message}`;
}

/**
 * Reads and validates the environment (default: this process's). The ONLY reader of process.env.
 * Throws ConfigError naming each bad variable, its value (secrets hidden) and what is expected.
 */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const { env: parsed, errors } = checkEnv(env);
  if (parsed) return parsed;
  const lines = errors.map(formatEnvIssue);
  throw new ConfigError(`invalid environment:\n${lines.join('\n')}`, { details: { issues: errors } });
}

function showValue(variable: string, value: string): string {
  if (SECRET_VARS.has(variable)) return `a value of ${value.length} characters (hidden)`;
  const shown = value.length > 120 ? `${value.slice(0, 120)}…` : value;
  return JSON.stringify(redactUrl(shown));
}
