/**
 * `webhooks:` in the policy file: where change and deployment events are sent (docs/integrations.md).
 * The secret is never in the file: `secretEnv` names the environment variable that holds it.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { eventPatternProblem } from '../core/events/patterns.js';
import { Duration, Name, intIn } from './values.js';

/** An environment variable name, as `secretEnv` takes it. */
export const ENV_VAR_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
/** The shortest webhook secret accepted (characters). */
export const MIN_WEBHOOK_SECRET = 16;

/** Whether `hostname` (from a URL) is this machine: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

const EventPattern = z.string().superRefine((p, ctx) => {
  const problem = eventPatternProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: p });
});

const Timeout = Duration.refine((ms) => ms >= 1000 && ms <= 60_000, {
  error: 'expected a timeout from 1s to 60s',
});

export const WebhookRetry = z.strictObject({
  /** Deliveries tried before the event goes to the dead-letter list (`patchbot webhooks failed`). */
  maxAttempts: intIn(1, 100, 'a number of attempts').default(12),
  /** Wait after the first failure; doubles after each one, up to maxBackoff. */
  initialBackoff: Duration.refine((ms) => ms >= 1000, { error: 'expected at least 1s' }).prefault('5s'),
  maxBackoff: Duration.refine((ms) => ms >= 1000, { error: 'expected at least 1s' }).prefault('15m'),
});

export const Webhook = z
  .strictObject({
    name: Name,
    /** https; http only to this machine with allowHttpLoopback (local receivers, tests). */
    url: z.string(),
    /** The environment variable holding the signing secret (at least 16 characters). */
    secretEnv: z.string().regex(ENV_VAR_NAME, {
      error: 'expected the name of an environment variable (A-Z, 0-9, _), not the secret itself',
    }),
    /** Event types, groups ("deployment.*") or "*". */
    events: z.array(EventPattern).min(1).default(['*']),
    /** Only changes of these teams; left out = every change (a global webhook). */
    teams: z.array(Name).min(1).optional(),
    timeout: Timeout.prefault('10s'),
    /** Lets `url` be plain http when it points at this machine (127.0.0.1, ::1, localhost). */
    allowHttpLoopback: z.boolean().default(false),
    retry: WebhookRetry.prefault({}),
  })
  .superRefine((w, ctx) => {
    let url: URL;
    try {
      url = new URL(w.url);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected an https URL', input: w.url });
      return;
    }
    if (url.username || url.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'expected a URL without credentials (the signature authenticates patchbot)',
        input: '(hidden)',
      });
    }
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && w.allowHttpLoopback && isLoopbackHost(url.hostname)) return;
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message:
        url.protocol === 'http:'
          ? w.allowHttpLoopback
            ? 'expected https: plain http is allowed only to this machine (127.0.0.1, ::1, localhost)'
            : 'expected https (plain http only to this machine, with allowHttpLoopback: true)'
          : 'expected an https URL',
      input: w.url,
    });
  });
export type Webhook = z.infer<typeof Webhook>;

export const Webhooks = z.array(Webhook).default([]);
