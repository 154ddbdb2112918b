/**
 * The registration point of event sinks: every sink the policy file configures, built once at
 * worker start and handed to the event dispatcher (src/jobs/events/dispatcher.ts). A new kind of
 * sink (an ITSM tool) is built here from its policy section and appended to the list; the
 * dispatcher gives each its own delivery rows, order, retries and dead-letter list.
 */
import type { Logger } from 'pino';
import type { Policy } from '../config/index.js';
import { MIN_WEBHOOK_SECRET } from '../config/policy-webhooks.js';
import type { SinkRegistration } from '../core/events/registration.js';
import { ConfigError } from '../core/errors.js';
import { buildItsmSinks, type ItsmDeps, type ItsmEnv } from './itsm/index.js';
import { WebhookSink } from './webhook-sink.js';

/** Reads a secret from the environment by name (Config.secret). */
export type SecretLookup = (name: string) => string | undefined;

export interface EventSinkDeps {
  logger: Logger;
  fetch?: typeof fetch;
  /** What the ITSM sinks read and write (changes, deployments, their records, thread links). */
  itsm?: { deps: ItsmDeps; env: ItsmEnv };
}

/** ServiceNow and Jira: a delivery may take a lookup, a create and an update, each with its timeout. */
const ITSM_DELIVERY_TIMEOUT_MS = 120_000;

/** The webhooks of the policy as sinks; throws ConfigError naming every missing or short secret. */
export function buildWebhookSinks(
  policy: Pick<Policy, 'webhooks'>,
  secret: SecretLookup,
  deps: EventSinkDeps,
): SinkRegistration[] {
  const problems: string[] = [];
  const sinks: SinkRegistration[] = [];
  for (const w of policy.webhooks) {
    const value = secret(w.secretEnv);
    if (value === undefined) {
      problems.push(
        `webhook ${w.name}: the environment variable ${w.secretEnv} (its signing secret) is not set`,
      );
      continue;
    }
    if (value.length < MIN_WEBHOOK_SECRET) {
      problems.push(
        `webhook ${w.name}: the secret in ${w.secretEnv} has ${value.length} characters; at least ${MIN_WEBHOOK_SECRET} are needed`,
      );
      continue;
    }
    sinks.push({
      sink: new WebhookSink(w, value, { logger: deps.logger, ...(deps.fetch ? { fetch: deps.fetch } : {}) }),
      retry: {
        maxAttempts: w.retry.maxAttempts,
        initialBackoffMs: w.retry.initialBackoff,
        maxBackoffMs: Math.max(w.retry.maxBackoff, w.retry.initialBackoff),
      },
      deliveryTimeoutMs: w.timeout + 5_000,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'), { details: { problems } });
  return sinks;
}

/**
 * Every event sink of the policy: its webhooks, then the ITSM tools it enables (itsm.servicenow,
 * itsm.jira; only when `deps.itsm` is given). Throws ConfigError naming a missing credential.
 */
export function buildEventSinks(
  policy: Policy,
  secret: SecretLookup,
  deps: EventSinkDeps,
): SinkRegistration[] {
  const itsm = deps.itsm
    ? buildItsmSinks(policy, deps.itsm.env, {
        ...deps.itsm.deps,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      }).map((sink) => ({ sink, deliveryTimeoutMs: ITSM_DELIVERY_TIMEOUT_MS }))
    : [];
  return [...buildWebhookSinks(policy, secret, deps), ...itsm];
}
