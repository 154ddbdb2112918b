/**
 * Talking to the Bot Connector (the activity's serviceUrl) through botbuilder's CloudAdapter: a
 * conversation reference is continued (`continueConversationAsync`, which builds the connector
 * client with the bot's credentials) and the REST calls are made on that client explicitly, so
 * each operation is exactly one request:
 *
 *   post     POST /v3/conversations/{id}/activities
 *   reply    POST /v3/conversations/{id}/activities/{rootId}   (a reply in a channel thread)
 *   update   PUT  /v3/conversations/{id}/activities/{activityId}
 *   1:1 chat POST /v3/conversations
 */
import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { ConversationReferenceData } from '../../usecases/teams-installations.js';
import { CARD_CONTENT_TYPE } from './cards.js';
import type { TeamsMessage } from './render.js';

/** An outgoing message activity. */
export interface OutgoingActivity {
  type: 'message';
  summary?: string;
  attachments?: { contentType: string; content: unknown }[];
  id?: string;
  [key: string]: unknown;
}

/** The connector operations patchbot uses (botframework-connector's ConnectorClient.conversations). */
export interface ConnectorConversations {
  sendToConversation(conversationId: string, activity: OutgoingActivity): Promise<{ id?: string }>;
  replyToActivity(
    conversationId: string,
    activityId: string,
    activity: OutgoingActivity,
  ): Promise<{ id?: string }>;
  updateActivity(
    conversationId: string,
    activityId: string,
    activity: OutgoingActivity,
  ): Promise<{ id?: string }>;
  createConversation(parameters: {
    isGroup: boolean;
    bot?: { id: string; name?: string };
    members: { id: string }[];
    tenantId?: string;
    channelData?: unknown;
  }): Promise<{ id?: string; activityId?: string }>;
}

export function messageActivity(msg: TeamsMessage): OutgoingActivity {
  return {
    type: 'message',
    summary: msg.summary,
    attachments: [{ contentType: CARD_CONTENT_TYPE, content: msg.card }],
  };
}

/** The connector client of a turn (inbound or continued). */
export function connectorOf(ctx: TurnContext): ConnectorConversations {
  const client = ctx.turnState.get<{ conversations?: ConnectorConversations } | undefined>(
    ctx.adapter.ConnectorClientKey,
  );
  if (!client?.conversations) throw new Error('no Bot Connector client in this turn');
  return client.conversations;
}

/** Runs `fn` with a connector client for the conversation of `reference`. */
export async function withConversation<T>(
  adapter: CloudAdapter,
  appId: string,
  reference: ConversationReferenceData,
  fn: (connector: ConnectorConversations, ctx: TurnContext) => Promise<T>,
): Promise<T> {
  let result: { value: T } | undefined;
  let failure: { error: unknown } | undefined;
  // Without activityId: nothing posted in this turn is turned into a reply by botbuilder.
  const { activityId: _activityId, ...ref } = reference as ConversationReferenceData & {
    activityId?: string;
  };
  await adapter.continueConversationAsync(
    appId,
    ref as unknown as Partial<ConversationReference>,
    async (ctx) => {
      // Errors are carried out of the turn here, not left to the adapter's turn-error handler.
      try {
        result = { value: await fn(connectorOf(ctx), ctx) };
      } catch (error) {
        failure = { error };
      }
    },
  );
  if (failure) throw failure.error;
  if (!result) throw new Error('the conversation turn ended without a result');
  return result.value;
}
