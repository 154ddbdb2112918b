/**
 * Events in the outbox. An event is written as one outbox row of kind `event` in the same
 * transaction as the state change it reports (the decision ledger, campaigns, deployment
 * transitions, host results), keyed `events:change:<id>` so the events of one change are fanned
 * out in the order they were written. The row holds what the writer knows (id, type, change,
 * deployment, summary); when it is fanned out, the change's number and team are read and the
 * event's time is the row's `createdAt` (the database's clock of the writing transaction).
 *
 * Fan-out (src/jobs/events/dispatcher.ts) writes one delivery row per sink that accepts the event
 * (kind `sink:<name>`, key `sink:<name>|change:<id>`, `dedupeKey` "<event id>|<sink>"), so each
 * sink has its own order, retries and dead letters.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { PATCHBOT_EVENT_TYPES, type PatchbotEventType } from '../../core/events/event.js';

export const EVENT_OUTBOX_KIND = 'event';
export const SINK_KIND_PREFIX = 'sink:';

export const eventOrderKey = (changeId: string): string => `events:change:${changeId}`;
export const sinkKind = (sink: string): string => `${SINK_KIND_PREFIX}${sink}`;
export const sinkOrderKey = (sink: string, changeId: string): string =>
  `${sinkKind(sink)}|change:${changeId}`;
export const deliveryKey = (eventId: string, sink: string): string => `${eventId}|${sink}`;

/** An outbox row to write (the shape of DeploymentRepository's OutboxEntry). */
export interface EventOutboxEntry {
  kind: string;
  destination: string;
  orderKey: string;
  payload: StoredEvent;
}

/** What the writer of an event knows. */
export interface EventDraft {
  type: PatchbotEventType;
  changeId: string;
  deploymentId?: string;
  data: Record<string, unknown>;
}

/** The payload of an `event` outbox row. */
export const StoredEvent = z.object({
  id: z.string().min(1),
  type: z.enum(PATCHBOT_EVENT_TYPES),
  changeId: z.string().uuid(),
  deploymentId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type StoredEvent = z.infer<typeof StoredEvent>;

/** The outbox row of a new event (its id is given here, once, and never changes). */
export function eventEntry(draft: EventDraft): EventOutboxEntry {
  const payload: StoredEvent = {
    id: randomUUID(),
    type: draft.type,
    changeId: draft.changeId,
    ...(draft.deploymentId === undefined ? {} : { deploymentId: draft.deploymentId }),
    data: draft.data,
  };
  return {
    kind: EVENT_OUTBOX_KIND,
    destination: draft.type,
    orderKey: eventOrderKey(draft.changeId),
    payload,
  };
}
