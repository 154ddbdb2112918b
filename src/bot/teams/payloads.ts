/**
 * The parts of Bot Framework activities from Teams that patchbot reads, validated with zod (the
 * token has been checked, not the shape). Unknown fields are kept: botbuilder reads them too.
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 */
import { z } from 'zod';

const Id = z.string().min(1).max(500);

export const ChannelAccount = z.looseObject({
  id: Id,
  name: z.string().max(500).optional(),
  /** Entra (AAD) object id of a Teams user. */
  aadObjectId: z.string().max(100).optional(),
});
export type ChannelAccount = z.infer<typeof ChannelAccount>;

export const InboundActivity = z.looseObject({
  type: z.string().min(1).max(100),
  id: z.string().max(500).optional(),
  name: z.string().max(200).optional(),
  channelId: z.string().min(1).max(100),
  serviceUrl: z.url({ protocol: /^https?$/ }).max(2000),
  from: ChannelAccount,
  recipient: ChannelAccount,
  conversation: z.looseObject({
    id: Id,
    conversationType: z.string().max(50).optional(),
    tenantId: z.string().max(100).optional(),
    isGroup: z.boolean().optional(),
    name: z.string().max(500).optional(),
  }),
  text: z.string().max(40_000).optional(),
  replyToId: z.string().max(500).optional(),
  value: z.unknown().optional(),
  /** installationUpdate: "add", "remove", "add-upgrade", "remove-upgrade". */
  action: z.string().max(50).optional(),
  channelData: z.unknown().optional(),
  membersAdded: z.array(ChannelAccount).optional(),
  membersRemoved: z.array(ChannelAccount).optional(),
});
export type InboundActivity = z.infer<typeof InboundActivity>;

export const TeamsChannelData = z.looseObject({
  eventType: z.string().max(100).optional(),
  team: z.looseObject({ id: Id, name: z.string().max(500).optional() }).optional(),
  channel: z.looseObject({ id: Id, name: z.string().max(500).optional() }).optional(),
  tenant: z.looseObject({ id: z.string().max(100) }).optional(),
});
export type TeamsChannelData = z.infer<typeof TeamsChannelData>;

/** The value of an `adaptiveCard/action` invoke (Universal Actions). */
export const ExecuteValue = z.looseObject({
  action: z.looseObject({
    type: z.literal('Action.Execute'),
    verb: z.string().min(1).max(100),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ExecuteValue = z.infer<typeof ExecuteValue>;

/** A channel list entry (GET /v3/teams/{teamId}/conversations); the General channel has no name. */
export const TeamChannel = z.looseObject({ id: Id, name: z.string().max(500).nullish() });
