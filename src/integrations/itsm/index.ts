/**
 * Change records in the team's ITSM tool: ServiceNow (change_request, incident) and Jira Service
 * Management (issues), as event sinks the event dispatcher delivers to, and the ServiceNow CAB
 * gate the deployment scheduler asks before deploying an approved change. Credentials come from
 * the environment variables the policy names (docs/integrations.md).
 */
import type { EventSink } from '../../core/events/event.js';
import { ConfigError } from '../../core/errors.js';
import type { Policy } from '../../config/policy-schema.js';
import type { ItsmDeps } from './deps.js';
import { createJiraClient } from './jira/client.js';
import { createJiraSink } from './jira/sink.js';
import { createCabGate, type CabGate, type CabGateOptions } from './servicenow/cab.js';
import { createServiceNowClient, type ServiceNowClient } from './servicenow/client.js';
import { createServiceNowSink } from './servicenow/sink.js';

export type { ItsmDeps } from './deps.js';
export { chatThreadLinks, type ThreadLinkDeps } from './thread-links.js';
export type { CabGate, CabPollResult } from './servicenow/cab.js';
export { CAB_ACTOR, createCabHold } from './servicenow/cab.js';

/** Environment variables, as read once at start-up (the same object `loadConfig` read). */
export type ItsmEnv = Readonly<Record<string, string | undefined>>;

function need(env: ItsmEnv, name: string, what: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') {
    throw new ConfigError(`${what}: environment variable ${name} is not set (docs/integrations.md)`, {
      details: { variable: name },
    });
  }
  return v;
}

function serviceNowClient(policy: Policy, env: ItsmEnv, deps: ItsmDeps): ServiceNowClient | undefined {
  const sn = policy.itsm.servicenow;
  if (!sn?.enabled) return undefined;
  const auth = sn.auth;
  const credentials =
    auth.kind === 'basic'
      ? {
          kind: 'basic' as const,
          id: need(env, auth.usernameEnv, 'itsm.servicenow.auth'),
          secret: need(env, auth.passwordEnv, 'itsm.servicenow.auth'),
        }
      : {
          kind: 'oauth' as const,
          id: need(env, auth.clientIdEnv, 'itsm.servicenow.auth'),
          secret: need(env, auth.clientSecretEnv, 'itsm.servicenow.auth'),
        };
  return createServiceNowClient({
    config: sn,
    credentials,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    logger: deps.logger.child({ name: 'servicenow' }),
  });
}

/**
 * The sinks the policy enables (itsm.servicenow, itsm.jira), with credentials from `env`. Throws a
 * ConfigError naming the variable when one is missing, and when a URL is not https.
 */
export function buildItsmSinks(policy: Policy, env: ItsmEnv, deps: ItsmDeps): EventSink[] {
  const sinks: EventSink[] = [];
  const sn = policy.itsm.servicenow;
  const snClient = serviceNowClient(policy, env, deps);
  if (sn && snClient) sinks.push(createServiceNowSink({ config: sn, policy, client: snClient, deps }));
  const jira = policy.itsm.jira;
  if (jira?.enabled) {
    const client = createJiraClient({
      config: jira,
      email: need(env, jira.emailEnv, 'itsm.jira'),
      apiToken: need(env, jira.apiTokenEnv, 'itsm.jira'),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      logger: deps.logger.child({ name: 'jira' }),
    });
    sinks.push(createJiraSink({ config: jira, policy, client, deps }));
  }
  return sinks;
}

/**
 * The CAB gate when the policy asks for it (approval.itsm: required), undefined otherwise. Give
 * it to the deployment services (`gate`) and run its `poll` from the worker's recurring job.
 */
export function buildCabGate(
  policy: Policy,
  env: ItsmEnv,
  deps: ItsmDeps,
  hooks: Pick<CabGateOptions, 'release' | 'rejected'> = {},
): CabGate | undefined {
  if (policy.approval.itsm === 'off') return undefined;
  const sn = policy.itsm.servicenow;
  const client = serviceNowClient(policy, env, deps);
  if (!sn || !client) {
    throw new ConfigError(`approval.itsm is "${policy.approval.itsm}" but itsm.servicenow is not enabled`);
  }
  return createCabGate({ config: sn, client, deps, ...hooks });
}
