/**
 * ChatPlatform for Slack through a Web API client. Every post, edit and reply goes through a
 * per-channel queue (about one message per second per channel, in order), and a rate-limited call
 * (HTTP 429) waits the Retry-After Slack sent, then is tried again. The client must be made with
 * `rejectRateLimitedCalls: true` (createSlackApp does this) so that this is the only place that
 * handles 429s and the behaviour is explicit.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ChatPlatform, Destination, MessageRef, PngFile } from '../chat-platform.js';
import { ChannelRateLimiter, systemClock, type Clock } from '../rate-limiter.js';
import type { MessageContent } from '../views/index.js';
import { toPatchbotError, retryAfterOf } from './errors.js';
import { renderMessage } from './render.js';

export interface SlackPosterOptions {
  client: webApi.WebClient;
  logger: Logger;
  /** Spacing of messages per channel (default 1,000 ms). */
  intervalMs?: number;
  /** How many times one call is retried after a 429 (default 5). */
  maxRateLimitRetries?: number;
  /** Longest Retry-After honoured, in seconds (default 120); longer waits fail the call as transient. */
  maxRetryAfterSeconds?: number;
  clock?: Clock;
}

interface PostResult {
  ts?: string;
  channel?: string;
}

export class SlackPoster implements ChatPlatform {
  readonly platform = 'slack' as const;
  private readonly client: webApi.WebClient;
  private readonly logger: Logger;
  private readonly limiter: ChannelRateLimiter;
  private readonly clock: Clock;
  private readonly maxRetries: number;
  private readonly maxRetryAfter: number;

  constructor(options: SlackPosterOptions) {
    this.client = options.client;
    this.logger = options.logger.child({ name: 'slack-poster' });
    this.clock = options.clock ?? systemClock;
    this.limiter = new ChannelRateLimiter(options.intervalMs ?? 1000, this.clock);
    this.maxRetries = options.maxRateLimitRetries ?? 5;
    this.maxRetryAfter = options.maxRetryAfterSeconds ?? 120;
  }

  async post(to: Destination, content: MessageContent): Promise<MessageRef> {
    const { text, blocks } = renderMessage(content);
    const res = await this.paced(to.channel, 'chat.postMessage', () =>
      this.client.chat.postMessage({
        channel: to.channel,
        text,
        blocks,
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    return this.ref(res, to.channel);
  }

  async update(ref: MessageRef, content: MessageContent): Promise<MessageRef> {
    const { text, blocks } = renderMessage(content);
    const res = await this.paced(ref.channel, 'chat.update', () =>
      this.client.chat.update({ channel: ref.channel, ts: ref.id, text, blocks }),
    );
    return { ...ref, id: res.ts ?? ref.id };
  }

  async reply(ref: MessageRef, content: MessageContent): Promise<MessageRef> {
    const { text, blocks } = renderMessage(content);
    const threadTs = ref.threadId ?? ref.id;
    const res = await this.paced(ref.channel, 'chat.postMessage (thread)', () =>
      this.client.chat.postMessage({
        channel: ref.channel,
        thread_ts: threadTs,
        text,
        blocks,
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    return { ...this.ref(res, ref.channel), threadId: threadTs };
  }

  /** The message's permalink (chat.getPermalink), for links back from other tools. */
  async permalink(ref: Pick<MessageRef, 'channel' | 'id'>): Promise<string> {
    const res = (await this.withRetry(`chat.getPermalink in ${ref.channel}`, () =>
      this.client.chat.getPermalink({ channel: ref.channel, message_ts: ref.id }),
    )) as { permalink?: string };
    if (typeof res.permalink !== 'string') {
      throw toPatchbotError(new Error('chat.getPermalink answered without a permalink'), 'chat.getPermalink');
    }
    return res.permalink;
  }

  async postEphemeral(to: Destination, userId: string, content: MessageContent): Promise<void> {
    const { text, blocks } = renderMessage(content);
    // Ephemeral messages are not channel posts: they do not count against the channel's pace.
    await this.withRetry(`chat.postEphemeral to ${to.channel}`, () =>
      this.client.chat.postEphemeral({ channel: to.channel, user: userId, text, blocks }),
    );
  }

  async uploadPng(to: Destination, file: PngFile, thread?: MessageRef): Promise<{ fileId: string }> {
    const threadTs = thread ? (thread.threadId ?? thread.id) : undefined;
    const common = {
      file: Buffer.from(file.data),
      filename: file.filename,
      ...(file.title === undefined ? {} : { title: file.title }),
      ...(file.altText === undefined ? {} : { alt_text: file.altText }),
      ...(file.comment === undefined ? {} : { initial_comment: file.comment }),
    };
    const res = await this.paced(to.channel, 'files upload', () =>
      threadTs === undefined
        ? this.client.filesUploadV2({ ...common, channel_id: to.channel })
        : this.client.filesUploadV2({ ...common, channel_id: to.channel, thread_ts: threadTs }),
    );
    const fileId = firstFileId(res);
    if (fileId === undefined)
      throw toPatchbotError(new Error('no file id in the answer'), `files upload to ${to.channel}`);
    return { fileId };
  }

  private paced<T>(channel: string, method: string, call: () => Promise<T>): Promise<T> {
    return this.limiter.schedule(channel, () => this.withRetry(`${method} to ${channel}`, call));
  }

  /** Calls `call`; on a 429 waits Retry-After seconds and tries again, up to `maxRateLimitRetries` times. */
  private async withRetry<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const retryAfter = retryAfterOf(err);
        if (retryAfter === undefined || attempt >= this.maxRetries || retryAfter > this.maxRetryAfter) {
          throw toPatchbotError(err, what);
        }
        this.logger.warn(
          { call: what, retryAfter, attempt: attempt + 1 },
          'Slack rate limit: waiting before retrying',
        );
        await this.clock.sleep(Math.max(retryAfter, 1) * 1000);
      }
    }
  }

  private ref(res: PostResult, channel: string): MessageRef {
    if (typeof res.ts !== 'string')
      throw toPatchbotError(new Error('no ts in the answer'), `chat.postMessage to ${channel}`);
    return { platform: 'slack', channel: res.channel ?? channel, id: res.ts };
  }
}

function firstFileId(res: unknown): string | undefined {
  // filesUploadV2 answers { ok, files: [ { ok, files: [ { id } ] } ] } (one completion per thread/channel).
  const completions = (res as { files?: { files?: { id?: unknown }[] }[] }).files ?? [];
  for (const c of completions) for (const f of c.files ?? []) if (typeof f.id === 'string') return f.id;
  return undefined;
}
