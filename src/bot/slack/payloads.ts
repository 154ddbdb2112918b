/**
 * The parts of Slack's interactive payloads patchbot reads, validated with zod (Bolt has checked
 * the signature, not the shape). Unknown fields are dropped.
 */
import { z } from 'zod';

const Id = z.string().min(1).max(64);

export const SlackUserField = z.object({
  id: z.string().regex(/^[UWB][A-Z0-9]{2,}$/, { error: 'expected a Slack user id' }),
  team_id: Id.optional(),
  username: z.string().max(200).optional(),
  name: z.string().max(200).optional(),
});

/** The `value` of a campaign button: a change request id. */
export const ChangeIdValue = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, { error: 'expected a change id' });

export const BlockActionsBody = z.object({
  type: z.literal('block_actions'),
  user: SlackUserField,
  team: z.object({ id: Id }).nullish(),
  trigger_id: z.string().min(1).max(200),
  response_url: z.string().url().optional(),
  channel: z.object({ id: Id }).optional(),
  container: z
    .looseObject({
      channel_id: Id.optional(),
      message_ts: z.string().max(40).optional(),
      thread_ts: z.string().max(40).optional(),
    })
    .optional(),
  message: z.object({ ts: z.string().max(40), thread_ts: z.string().max(40).optional() }).optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
});
export type BlockActionsBody = z.infer<typeof BlockActionsBody>;

export const ViewSubmissionBody = z.object({
  type: z.literal('view_submission'),
  user: SlackUserField,
  team: z.object({ id: Id }).nullish(),
  view: z.object({
    callback_id: z.string().max(255),
    private_metadata: z.string().max(3000).default(''),
    state: z.object({ values: z.unknown() }),
  }),
  response_urls: z
    .array(z.object({ response_url: z.string().url(), channel_id: z.string().optional() }))
    .optional(),
});
export type ViewSubmissionBody = z.infer<typeof ViewSubmissionBody>;

export const SlashCommandBody = z.object({
  command: z.string().max(100),
  text: z.string().max(4000).default(''),
  user_id: z.string().regex(/^[UW][A-Z0-9]{2,}$/),
  user_name: z.string().max(200).optional(),
  team_id: Id.optional(),
  channel_id: Id,
  response_url: z.string().url(),
});
export type SlashCommandBody = z.infer<typeof SlashCommandBody>;
