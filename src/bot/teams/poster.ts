/**
 * ChatPlatform for Microsoft Teams. Every post is proactive: the stored conversation reference of
 * the destination (saved when the bot was installed there) is continued through the CloudAdapter
 * and the card is sent with one Bot Connector call. A message ref is { channel: conversation id,
 * id: activity id, threadId: the channel thread's root for replies }.
 *
 * - Posts, edits and replies go through a per-conversation queue (about one message per second).
 * - A throttled call (HTTP 429, or 412 which Teams answers under load, or 502/503/504) waits the
 *   Retry-After the service sent (else 1, 2, 4… seconds) and is tried again, at most
 *   `maxRetries` times; a Retry-After above `maxRetryAfterSeconds` fails the call as transient.
 *   (botbuilder's HTTP pipeline also retries a 429 or 503 that carries Retry-After, up to three
 *   times, before this layer sees it.)
 * - Cards stay under Teams' message size limit: lists are shortened ("…and N more").
 * - Teams has no ephemeral messages in channels: `postEphemeral` sends the person a 1:1 chat.
 * - `uploadPng` embeds the picture in a card as an Image with a `data:` URI (Teams bots cannot
 *   upload files into channels). A picture too large for one message is scaled down until it
 *   fits (charts stay readable at two thirds of their width); one that never fits is refused.
 */
import type { CloudAdapter } from 'botbuilder';
import type { Logger } from 'pino';
import { NotFoundError, TransientError, ValidationError } from '../../core/errors.js';
import type { StoredTeamsConversation } from '../../usecases/teams-installations.js';
import type { ChatPlatform, Destination, MessageRef, PngFile } from '../chat-platform.js';
import { ChannelRateLimiter, systemClock, type Clock } from '../rate-limiter.js';
import type { MessageContent } from '../views/index.js';
import { adaptiveCard, byteLength, clip, LIMITS, md, rich, text, type CardElement } from './cards.js';
import {
  messageActivity,
  withConversation,
  type ConnectorConversations,
  type OutgoingActivity,
} from './connector.js';
import { RETRYABLE, retryAfterOf, statusOf, toPatchbotError } from './errors.js';
import { fitPng } from './png.js';
import { renderCard, type TeamsMessage } from './render.js';

export interface TeamsPosterOptions {
  adapter: CloudAdapter;
  /** The bot's app id (TEAMS_APP_ID). */
  appId: string;
  /** The stored conversation (reference, kind) of a conversation id. */
  conversation: (conversationId: string) => Promise<StoredTeamsConversation | undefined>;
  logger: Logger;
  /** Spacing of messages per conversation (default 1,000 ms). */
  intervalMs?: number;
  /** How many times one call is retried after throttling (default 4). */
  maxRetries?: number;
  /** Longest Retry-After honoured, in seconds (default 120). */
  maxRetryAfterSeconds?: number;
  /** Largest message, card and summary as JSON (default LIMITS.messageBytes). */
  maxMessageBytes?: number;
  clock?: Clock;
}

export class TeamsPoster implements ChatPlatform {
  readonly platform = 'teams' as const;
  private readonly adapter: CloudAdapter;
  private readonly appId: string;
  private readonly lookup: TeamsPosterOptions['conversation'];
  private readonly logger: Logger;
  private readonly limiter: ChannelRateLimiter;
  private readonly clock: Clock;
  private readonly maxRetries: number;
  private readonly maxRetryAfter: number;
  readonly maxMessageBytes: number;

  constructor(options: TeamsPosterOptions) {
    this.adapter = options.adapter;
    this.appId = options.appId;
    this.lookup = options.conversation;
    this.logger = options.logger.child({ name: 'teams-poster' });
    this.clock = options.clock ?? systemClock;
    this.limiter = new ChannelRateLimiter(options.intervalMs ?? 1000, this.clock);
    this.maxRetries = options.maxRetries ?? 4;
    this.maxRetryAfter = options.maxRetryAfterSeconds ?? 120;
    this.maxMessageBytes = options.maxMessageBytes ?? LIMITS.messageBytes;
  }

  async post(to: Destination, content: MessageContent): Promise<MessageRef> {
    const conv = await this.conversation(to.channel);
    const activity = messageActivity(renderCard(content, this.maxMessageBytes));
    const res = await this.paced(conv, `post to ${conv.id}`, (c) => c.sendToConversation(conv.id, activity));
    return { platform: 'teams', channel: conv.id, id: this.idOf(res, `post to ${conv.id}`) };
  }

  async update(ref: MessageRef, content: MessageContent): Promise<MessageRef> {
    const conv = await this.conversation(ref.channel);
    const activity: OutgoingActivity = {
      ...messageActivity(renderCard(content, this.maxMessageBytes)),
      id: ref.id,
    };
    await this.paced(conv, `update of ${ref.id} in ${conv.id}`, (c) =>
      c.updateActivity(conv.id, ref.id, activity),
    );
    return ref;
  }

  async reply(ref: MessageRef, content: MessageContent): Promise<MessageRef> {
    return this.replyWith(ref, renderCard(content, this.maxMessageBytes));
  }

  async postEphemeral(to: Destination, userId: string, content: MessageContent): Promise<void> {
    const conv = await this.conversation(to.channel);
    const activity = messageActivity(renderCard(content, this.maxMessageBytes));
    const what = `1:1 message to ${userId}`;
    // Not a channel post: it does not count against the conversation's pace.
    await withConversation(this.adapter, this.appId, conv.reference, async (c) => {
      const tenantId = conv.tenantId ?? conv.reference.conversation.tenantId;
      const created = await this.withRetry(`create ${what}`, () =>
        c.createConversation({
          isGroup: false,
          ...(conv.reference.bot ? { bot: conv.reference.bot } : {}),
          members: [{ id: userId }],
          ...(tenantId ? { tenantId, channelData: { tenant: { id: tenantId } } } : {}),
        }),
      );
      const chat = created.id;
      if (!chat) throw toPatchbotError(new Error('no conversation id in the answer'), `create ${what}`);
      await this.withRetry(what, () => c.sendToConversation(chat, activity));
    });
  }

  async uploadPng(to: Destination, file: PngFile, thread?: MessageRef): Promise<{ fileId: string }> {
    const PREFIX = 'data:image/png;base64,';
    const card = (url: string): TeamsMessage => {
      const body: CardElement[] = [];
      if (file.title) body.push(text(`**${md(clip(file.title, 300))}**`));
      body.push({
        type: 'Image',
        url,
        altText: clip(file.altText || file.title || file.filename, 1000),
        size: 'stretch',
      });
      if (file.comment) body.push(rich([clip(file.comment, LIMITS.longText)]));
      const summary = clip(file.title ?? file.comment ?? file.filename, LIMITS.summary);
      return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
    };
    // What the picture may take: the message limit less the rest of the card, in base64.
    const room = this.maxMessageBytes - byteLength(card(PREFIX));
    const png = fitPng(file.data, Math.floor((Math.max(0, room) * 3) / 4));
    if (!png)
      throw new ValidationError(
        `${file.filename} is too large to show in Teams: ${Math.ceil(file.data.byteLength / 1024)} KB, and even scaled down it does not fit in one message (${Math.floor(this.maxMessageBytes / 1024)} KB with the card)`,
      );
    if (png !== file.data)
      this.logger.debug(
        { file: file.filename, from: file.data.byteLength, to: png.byteLength },
        'picture scaled down to fit a Teams message',
      );
    const msg = card(`${PREFIX}${Buffer.from(png).toString('base64')}`);
    if (thread) {
      const ref = await this.replyWith(thread, msg);
      return { fileId: ref.id };
    }
    const conv = await this.conversation(to.channel);
    const activity = messageActivity(msg);
    const res = await this.paced(conv, `picture to ${conv.id}`, (c) =>
      c.sendToConversation(conv.id, activity),
    );
    return { fileId: this.idOf(res, `picture to ${conv.id}`) };
  }

  private async replyWith(ref: MessageRef, msg: TeamsMessage): Promise<MessageRef> {
    const conv = await this.conversation(ref.channel);
    const root = ref.threadId ?? ref.id;
    const activity = messageActivity(msg);
    const what = `reply to ${root} in ${conv.id}`;
    // Channels have threads (a reply to the root); chats do not (the reply is a new message).
    const res = await this.paced(conv, what, (c) =>
      conv.kind === 'channel'
        ? c.replyToActivity(conv.id, root, activity)
        : c.sendToConversation(conv.id, activity),
    );
    return { platform: 'teams', channel: conv.id, id: this.idOf(res, what), threadId: root };
  }

  private async conversation(id: string): Promise<StoredTeamsConversation> {
    const conv = await this.lookup(id);
    if (!conv)
      throw new NotFoundError(
        `patchbot is not installed in the Teams conversation ${id}: add the app to that team or chat (docs/teams.md)`,
      );
    if (conv.removed)
      throw new NotFoundError(
        `patchbot was removed from the Teams conversation ${id}${conv.team ? ` (team ${conv.team})` : ''}: add the app again to post there`,
      );
    return conv;
  }

  private paced<T>(
    conv: StoredTeamsConversation,
    what: string,
    call: (c: ConnectorConversations) => Promise<T>,
  ): Promise<T> {
    return this.limiter.schedule(conv.id, () =>
      withConversation(this.adapter, this.appId, conv.reference, (c) => this.withRetry(what, () => call(c))),
    );
  }

  /** Calls `call`; when throttled waits (Retry-After, else backoff) and tries again, up to `maxRetries` times. */
  async withRetry<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const status = statusOf(err);
        if (status === undefined || !RETRYABLE.has(status) || attempt >= this.maxRetries)
          throw toPatchbotError(err, what);
        const wait = retryAfterOf(err, this.clock.now()) ?? 2 ** attempt;
        if (wait > this.maxRetryAfter)
          throw new TransientError(
            `Microsoft Teams asked patchbot to wait ${Math.round(wait)} s before ${what}; not waiting more than ${this.maxRetryAfter} s`,
            { cause: err },
          );
        this.logger.warn(
          { call: what, status, retryAfter: wait, attempt: attempt + 1 },
          'Teams throttled a call: waiting before retrying',
        );
        await this.clock.sleep(Math.max(wait, 0.1) * 1000);
      }
    }
  }

  private idOf(res: { id?: string }, what: string): string {
    if (typeof res.id !== 'string' || res.id === '')
      throw toPatchbotError(new Error('no activity id in the answer'), what);
    return res.id;
  }
}
