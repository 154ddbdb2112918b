/**
 * The one interface the rest of patchbot uses to talk in chat. Slack (src/bot/slack) and Teams
 * (src/bot/teams) implement it; callers hand it platform-neutral views (src/bot/views).
 */
import type { MessageContent } from './views/index.js';

export type PlatformName = 'slack' | 'teams';

/** A message patchbot posted and may edit or reply to later (stored with the change request). */
export interface MessageRef {
  platform: PlatformName;
  /** Slack channel id / Teams conversation id. */
  channel: string;
  /** Slack message `ts` / Teams activity id. */
  id: string;
  /** Set when the message is itself a reply: the thread root (Slack `thread_ts`). */
  threadId?: string;
}

/** Where to post: a channel (Slack channel id, Teams conversation id). */
export interface Destination {
  channel: string;
}

export interface PngFile {
  filename: string;
  data: Uint8Array;
  title?: string;
  /** Describes the picture for screen readers. */
  altText?: string;
  /** Message posted with the file. */
  comment?: string;
}

export interface ChatPlatform {
  readonly platform: PlatformName;
  /** Posts a new top-level message (campaign, summary, status...). */
  post(to: Destination, content: MessageContent): Promise<MessageRef>;
  /** Replaces a message in place (the campaign message as its state changes). */
  update(ref: MessageRef, content: MessageContent): Promise<MessageRef>;
  /** Replies in the thread of `ref` (or of its root when `ref` is a reply). */
  reply(ref: MessageRef, content: MessageContent): Promise<MessageRef>;
  /** A message only `userId` sees, in `to`. */
  postEphemeral(to: Destination, userId: string, content: MessageContent): Promise<void>;
  /** Uploads a PNG into a channel, or into the thread of `thread` when given. */
  uploadPng(to: Destination, file: PngFile, thread?: MessageRef): Promise<{ fileId: string }>;
}
