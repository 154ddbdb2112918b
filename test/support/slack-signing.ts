/**
 * Requests as Slack sends them: v0 HMAC-SHA256 signatures, form-encoded slash commands and
 * interactivity payloads (`payload=<json>`) with the fields Slack includes.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const TEST_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export function signedHeaders(
  secret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(secret, timestamp, body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
}

export interface SlackActor {
  userId: string;
  userName?: string;
  teamId?: string;
  teamDomain?: string;
}

const defaults = (a: SlackActor) => ({
  userName: a.userName ?? a.userId.toLowerCase(),
  teamId: a.teamId ?? 'T0FAKE0001',
  teamDomain: a.teamDomain ?? 'fake-workspace',
});

const triggerId = () => `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`;

export function slashCommandBody(
  args: SlackActor & {
    text: string;
    command?: string;
    channelId: string;
    channelName?: string;
    responseUrl: string;
  },
): string {
  const d = defaults(args);
  return new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: d.teamId,
    team_domain: d.teamDomain,
    channel_id: args.channelId,
    channel_name: args.channelName ?? 'patching',
    user_id: args.userId,
    user_name: d.userName,
    command: args.command ?? '/patch',
    text: args.text,
    api_app_id: 'A0PATCHBOT1',
    is_enterprise_install: 'false',
    response_url: args.responseUrl,
    trigger_id: triggerId(),
  }).toString();
}

export function blockActionsBody(
  args: SlackActor & {
    actionId: string;
    value: string;
    channelId: string;
    messageTs: string;
    threadTs?: string;
    responseUrl: string;
    label?: string;
  },
): string {
  const d = defaults(args);
  const payload = {
    type: 'block_actions',
    user: { id: args.userId, username: d.userName, name: d.userName, team_id: d.teamId },
    api_app_id: 'A0PATCHBOT1',
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    container: {
      type: 'message',
      message_ts: args.messageTs,
      channel_id: args.channelId,
      is_ephemeral: false,
      ...(args.threadTs ? { thread_ts: args.threadTs } : {}),
    },
    trigger_id: triggerId(),
    team: { id: d.teamId, domain: d.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: args.channelId, name: 'patching' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      text: 'openssl → 3.0.15-1~deb12u1 for payments',
      ts: args.messageTs,
      bot_id: 'B0BOT00001',
      ...(args.threadTs ? { thread_ts: args.threadTs } : {}),
      blocks: [],
    },
    state: { values: {} },
    response_url: args.responseUrl,
    actions: [
      {
        action_id: args.actionId,
        block_id: `campaign:${args.value}`,
        text: { type: 'plain_text', text: args.label ?? 'Approve', emoji: true },
        value: args.value,
        type: 'button',
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function viewSubmissionBody(
  args: SlackActor & {
    callbackId: string;
    privateMetadata: string;
    values: Record<string, Record<string, Record<string, unknown>>>;
    responseUrls?: { response_url: string; channel_id: string; block_id: string; action_id: string }[];
  },
): string {
  const d = defaults(args);
  const payload = {
    type: 'view_submission',
    team: { id: d.teamId, domain: d.teamDomain },
    user: { id: args.userId, username: d.userName, name: d.userName, team_id: d.teamId },
    api_app_id: 'A0PATCHBOT1',
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    trigger_id: triggerId(),
    view: {
      id: 'V0MODAL0001',
      team_id: d.teamId,
      type: 'modal',
      blocks: [],
      private_metadata: args.privateMetadata,
      callback_id: args.callbackId,
      state: { values: args.values },
      hash: '1700000000.abcdef12',
      title: { type: 'plain_text', text: 'patchbot', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: null,
      previous_view_id: null,
      root_view_id: 'V0MODAL0001',
      app_id: 'A0PATCHBOT1',
      external_id: '',
      app_installed_team_id: d.teamId,
      bot_id: 'B0BOT00001',
    },
    response_urls: args.responseUrls ?? [],
    is_enterprise_install: false,
    enterprise: null,
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface PostResult {
  status: number;
  body: string;
  /** Milliseconds from sending to the full answer. */
  ms: number;
}

/** POSTs `body` to `url`, signed with `secret` (or with the headers given). */
export async function postToSlackApp(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<PostResult> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text, ms: performance.now() - started };
}
