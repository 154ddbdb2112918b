/**
 * Events as CloudEvents 1.0 in the structured JSON mode (application/cloudevents+json): the
 * envelope attributes at the top, the event's own fields under `data`.
 */
import { z } from 'zod';
import { cloudEventType, PATCHBOT_EVENT_TYPES, type PatchbotEvent } from './event.js';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
/** The CloudEvents `source` of every event patchbot sends. */
export const CLOUDEVENT_SOURCE = '/patchbot';

/** A stored or received event, checked field by field. */
export const PatchbotEventSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.enum(PATCHBOT_EVENT_TYPES),
  time: z.iso.datetime({ offset: true }),
  changeId: z.string().min(1),
  changeNumber: z.number().int(),
  teamId: z.string().nullable(),
  teamName: z.string().nullable(),
  deploymentId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

export const CloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().regex(/^dev\.patchbot\.[a-z_.]+$/),
  subject: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json'),
  data: z.record(z.string(), z.unknown()),
});
export type CloudEvent = z.infer<typeof CloudEventSchema>;

/** The signed test event of `patchbot webhooks test` (type dev.patchbot.ping). */
export function pingCloudEvent(
  id: string,
  webhook: string,
  time: Date,
  source: string = CLOUDEVENT_SOURCE,
): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source,
    type: 'dev.patchbot.ping',
    subject: `webhook/${webhook}`,
    time: time.toISOString(),
    datacontenttype: 'application/json',
    data: { webhook, message: 'patchbot webhook test: the signature of this delivery should verify' },
  };
}

/** The CloudEvent of `event`; `subject` names the change ("change/42"). */
export function toCloudEvent(event: PatchbotEvent, source: string = CLOUDEVENT_SOURCE): CloudEvent {
  return {
    specversion: '1.0',
    id: event.id,
    source,
    type: cloudEventType(event.type),
    subject: `change/${event.changeNumber}`,
    time: event.time,
    datacontenttype: 'application/json',
    data: {
      ...event.data,
      changeId: event.changeId,
      changeNumber: event.changeNumber,
      teamId: event.teamId,
      teamName: event.teamName,
      ...(event.deploymentId === undefined ? {} : { deploymentId: event.deploymentId }),
    },
  };
}
