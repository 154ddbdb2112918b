/**
 * A change or deployment event: written to the outbox in the same transaction as the state change
 * that caused it, then delivered to every sink that accepts it (signed webhooks, ITSM records).
 * Events carry identifiers and a small summary; a sink that needs more reads the current state.
 */
export const PATCHBOT_EVENT_TYPES = [
  'change.opened',
  'change.escalated',
  'change.requested',
  'change.approved',
  'change.rejected',
  'change.deferred',
  'change.risk_accepted',
  'deployment.planned',
  'deployment.started',
  'deployment.ring_completed',
  'deployment.halted',
  'deployment.rolled_back',
  'deployment.completed',
  'host.failed',
] as const;

export type PatchbotEventType = (typeof PATCHBOT_EVENT_TYPES)[number];

/** The CloudEvents `type` of an event: "dev.patchbot.change.approved". */
export const cloudEventType = (type: PatchbotEventType): string => `dev.patchbot.${type}`;

export interface PatchbotEvent {
  /** Unique and stable across redeliveries (the CloudEvents `id`). */
  id: string;
  type: PatchbotEventType;
  /** When the state changed, by the database's clock (ISO 8601). */
  time: string;
  /** ChangeRequest.id (uuid) the event belongs to; events of one change are delivered in order. */
  changeId: string;
  /** ChangeRequest.number, as people type it. */
  changeNumber: number;
  /** Team.id of the owning team, null when the change has none. */
  teamId: string | null;
  /** Team.name of the owning team, null when the change has none. */
  teamName: string | null;
  /** Deployment.id for deployment.* and host.* events. */
  deploymentId?: string;
  /** Type-specific summary (actor, reason, ring name, host name, counts...). */
  data: Record<string, unknown>;
}

/** Where events go: a webhook, a ServiceNow or Jira project. */
export interface EventSink {
  /** Stable name used in delivery records and the dead-letter list ("webhook:secops", "servicenow"). */
  readonly name: string;
  accepts(event: PatchbotEvent): boolean;
  /**
   * Delivers one event. Throws a PatchbotError with code 'TRANSIENT' (src/core/errors.ts; `details.retryAfterMs`
   * when the receiver said when to come back) for failures worth retrying (network, timeout, 429, 5xx), any
   * other error for permanent failures. Must be idempotent for the same event id.
   */
  deliver(event: PatchbotEvent, signal: AbortSignal): Promise<void>;
}
