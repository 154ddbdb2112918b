/**
 * The Slack edge: a Bolt app that verifies every request, acknowledges at once, and hands the
 * person's intent to the injected handlers as platform-neutral calls.
 *
 * HTTP mode: `POST /slack/events` (slash commands, interactivity, events) through SlackHttpReceiver,
 * whose request listener other routes (/healthz, Teams) can share; it refuses requests whose
 * timestamp is more than 5 minutes off in either direction (Bolt only refuses old ones), or whose
 * signature does not match, before any handler. Socket Mode when an app-level token is given.
 * Start-up calls auth.test and fails with a clear PatchbotError for a bad token.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  App,
  LogLevel,
  SocketModeReceiver,
  type Logger as BoltLogger,
  type RespondFn,
  type webApi,
} from '@slack/bolt';
import type { Logger } from 'pino';
import { ConfigError, PatchbotError, userMessageOf } from '../../core/errors.js';
import type { MessageRef } from '../chat-platform.js';
import { parsePatchCommand } from '../commands.js';
import type { ChatHandlers, ChatUser, Respond } from '../handlers.js';
import {
  CAMPAIGN_ACTIONS,
  isoDay,
  notice,
  patchHelp,
  type CampaignActionKind,
  type MessageContent,
} from '../views/index.js';
import { toPatchbotError } from './errors.js';
import { buildModal, parseSubmission } from './modals.js';
import { BlockActionsBody, ChangeIdValue, SlashCommandBody, ViewSubmissionBody } from './payloads.js';
import { SlackHttpReceiver } from './receiver.js';
import { ACTION_IDS, renderHelp, renderMessage } from './render.js';

/** The handlers Slack calls: the platform-neutral ChatHandlers. */
export type SlackHandlers = ChatHandlers;

export interface CreateSlackAppOptions {
  /** Bot token (xoxb-...). */
  token: string;
  /** Signing secret (HTTP mode). Required unless `appToken` is given. */
  signingSecret?: string;
  /** App-level token (xapp-...): Socket Mode instead of HTTP. */
  appToken?: string;
  /** Web API base with a trailing slash (default https://slack.com/api/). */
  apiUrl?: string;
  logger: Logger;
  handlers: SlackHandlers;
  /** The slash command (default "/patch"). */
  command?: string;
  /** Largest accepted difference between a request's timestamp and now, in seconds (default 300). */
  maxClockSkewSeconds?: number;
  /** Current time (tests). */
  now?: () => Date;
}

export interface SlackEdge {
  readonly mode: 'http' | 'socket';
  readonly app: App;
  /** The Web API client (bot token; rate-limited calls are rejected, see SlackPoster). */
  readonly client: webApi.WebClient;
  /** Bot user id from auth.test. */
  readonly botUserId?: string;
  /** HTTP mode: adds a route to the same listener, e.g. route('GET', '/healthz', handler). */
  readonly route?: (method: string, path: string, handler: RequestListener) => void;
  /** HTTP mode: the request listener (POST /slack/events + added routes) to mount in any http.Server. */
  readonly requestListener?: RequestListener;
  /** HTTP mode: listens on host:port (port 0 = any free one). Socket Mode: connects. */
  start(options?: { port?: number; host?: string }): Promise<{ server?: Server; port?: number }>;
  stop(): Promise<void>;
}

export const SLACK_EVENTS_PATH = '/slack/events';
const MIN_SECRET_LENGTH = 8;

/** Builds and initializes the Slack app. Throws ConfigError for a bad secret or token. */
export async function createSlackApp(options: CreateSlackAppOptions): Promise<SlackEdge> {
  const log = options.logger.child({ name: 'slack' });
  const now = options.now ?? (() => new Date());
  const skew = options.maxClockSkewSeconds ?? 300;
  const command = options.command ?? '/patch';
  if (!options.token)
    throw new ConfigError(
      "SLACK_BOT_TOKEN is missing: copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page",
    );
  const socketMode = options.appToken !== undefined && options.appToken !== '';
  if (!socketMode) {
    if (options.signingSecret === undefined || options.signingSecret === '')
      throw new ConfigError(
        "SLACK_SIGNING_SECRET is missing: copy the Signing Secret from the app's Basic Information page (or set SLACK_APP_TOKEN for Socket Mode)",
      );
    if (options.signingSecret.length < MIN_SECRET_LENGTH)
      throw new ConfigError(
        `SLACK_SIGNING_SECRET is too short (${options.signingSecret.length} characters): copy the whole Signing Secret from the app's Basic Information page`,
      );
  }
  const apiUrl = options.apiUrl ?? 'https://slack.com/api/';
  const boltLog = boltLogger(log);
  const clientOptions: webApi.WebClientOptions = {
    slackApiUrl: apiUrl,
    // 429s are rejected here and retried explicitly by SlackPoster (Retry-After honoured there);
    // network errors and 5xx are retried twice, quickly, so start-up and clicks fail fast.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1000 },
    timeout: 10_000,
  };

  let receiver: SlackHttpReceiver | SocketModeReceiver;
  if (socketMode) {
    receiver = new SocketModeReceiver({
      appToken: options.appToken as string,
      logger: boltLog,
      installerOptions: { clientOptions: { slackApiUrl: apiUrl } },
    });
  } else {
    receiver = new SlackHttpReceiver({
      signingSecret: options.signingSecret as string,
      logger: log,
      path: SLACK_EVENTS_PATH,
      maxSkewSeconds: skew,
      now,
    });
  }
  const http = receiver instanceof SlackHttpReceiver ? receiver : undefined;

  const app = new App({
    token: options.token,
    receiver,
    logger: boltLog,
    clientOptions,
    deferInitialization: true,
    // No conversation store: patchbot keeps its state in PostgreSQL, and Bolt's in-memory default
    // creates an Error per request (most of the per-click CPU time under load).
    convoStore: false,
  });
  app.error(async (err) => {
    log.error({ err }, 'Slack listener failed');
    await Promise.resolve();
  });

  try {
    await app.init();
  } catch (err) {
    throw toPatchbotError(err, `auth.test at ${apiUrl}`);
  }
  let botUserId: string | undefined;
  try {
    const auth = await app.client.auth.test();
    botUserId = typeof auth.user_id === 'string' ? auth.user_id : undefined;
    log.info({ team: auth.team, botUserId, mode: socketMode ? 'socket' : 'http' }, 'Slack token accepted');
  } catch (err) {
    throw toPatchbotError(err, `auth.test at ${apiUrl}`);
  }

  registerListeners(app, { handlers: options.handlers, log, now, command });

  let server: Server | undefined;
  return {
    mode: socketMode ? 'socket' : 'http',
    app,
    client: app.client,
    botUserId,
    route: http ? (method, path, handler) => http.route(method, path, handler) : undefined,
    requestListener: http?.requestListener,
    async start(opts = {}) {
      if (socketMode) {
        await app.start();
        return {};
      }
      const s = createServer((http as SlackHttpReceiver).requestListener);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(opts.port ?? 3000, opts.host ?? '0.0.0.0', () => {
          s.off('error', reject);
          resolve();
        });
      });
      return { server: s, port: (s.address() as AddressInfo).port };
    },
    async stop() {
      if (socketMode) {
        await app.stop();
        return;
      }
      const s = server;
      server = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Listeners

interface ListenerDeps {
  handlers: SlackHandlers;
  log: Logger;
  now: () => Date;
  command: string;
}

const KIND_BY_ACTION_ID = new Map<string, CampaignActionKind>(
  CAMPAIGN_ACTIONS.map((k) => [ACTION_IDS[k], k]),
);
const ACTION_ID_RE = new RegExp(`^(${CAMPAIGN_ACTIONS.map((k) => ACTION_IDS[k]).join('|')})$`);

function registerListeners(app: App, deps: ListenerDeps): void {
  const { handlers, log, now } = deps;

  const makeRespond =
    (
      client: webApi.WebClient,
      respond: RespondFn | undefined,
      fallback?: { channel: string; user: string },
    ): Respond =>
    async (content, opts = {}) => {
      const { text, blocks } = renderMessage(content);
      if (respond) {
        await respond({
          text,
          blocks,
          response_type: opts.visibility === 'channel' ? 'in_channel' : 'ephemeral',
          replace_original: opts.replaceOriginal ?? false,
        });
      } else if (fallback) {
        await client.chat.postEphemeral({ channel: fallback.channel, user: fallback.user, text, blocks });
      } else {
        log.warn({ text }, 'No response_url or channel to answer in; answer dropped');
      }
    };

  /** Runs a handler; a failure becomes an ephemeral message (its userMessage, or a generic line). */
  const guarded = async (what: string, respond: Respond, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const safe = err instanceof PatchbotError;
      log[safe ? 'warn' : 'error']({ err, what }, 'Slack interaction failed');
      const content: MessageContent = safe
        ? notice(err.code === 'POLICY_DENIED' ? 'warning' : 'error', userMessageOf(err))
        : notice('error', 'Something went wrong; the error was logged.');
      try {
        await respond(content);
      } catch (respondErr) {
        log.warn({ err: respondErr }, 'Could not tell the person about a failure');
      }
    }
  };

  app.action({ type: 'block_actions', action_id: ACTION_ID_RE }, async ({ ack, body, client, respond }) => {
    await ack();
    await afterPendingAcks();
    const parsed = BlockActionsBody.safeParse(body);
    if (!parsed.success) {
      log.warn({ issues: parsed.error.issues.slice(0, 5) }, 'Unexpected block_actions payload');
      return;
    }
    const b = parsed.data;
    const action = b.actions.find((a) => KIND_BY_ACTION_ID.has(a.action_id));
    const kind = action ? KIND_BY_ACTION_ID.get(action.action_id) : undefined;
    const changeId = ChangeIdValue.safeParse(action?.value);
    const channel = b.channel?.id ?? b.container?.channel_id;
    const user = chatUser(b.user, b.team?.id);
    const reply = makeRespond(
      client,
      b.response_url ? respond : undefined,
      channel ? { channel, user: user.id } : undefined,
    );
    if (!kind || !changeId.success) {
      log.warn({ actionId: action?.action_id }, 'Button without a valid change id');
      return;
    }
    const ts = b.message?.ts ?? b.container?.message_ts;
    const threadTs = b.message?.thread_ts ?? b.container?.thread_ts;
    const message: MessageRef | undefined =
      channel && ts
        ? {
            platform: 'slack',
            channel,
            id: ts,
            ...(threadTs && threadTs !== ts ? { threadId: threadTs } : {}),
          }
        : undefined;
    await guarded(`button ${kind}`, reply, async () => {
      const result = await handlers.onAction({
        kind,
        changeId: changeId.data,
        user,
        ...(message ? { message } : {}),
        respond: reply,
      });
      if (result.type === 'notice') await reply(result.content);
      else if (result.type === 'modal') {
        try {
          await client.views.open({ trigger_id: b.trigger_id, view: buildModal(result.modal, message) });
        } catch (err) {
          throw toPatchbotError(err, 'views.open');
        }
      }
    });
  });

  app.view(
    { type: 'view_submission', callback_id: /^patch_[a-z_]+_modal$/ },
    async ({ ack, body, client, respond }) => {
      const parsedBody = ViewSubmissionBody.safeParse(body);
      if (!parsedBody.success) {
        await ack();
        log.warn({ issues: parsedBody.error.issues.slice(0, 5) }, 'Unexpected view_submission payload');
        return;
      }
      const b = parsedBody.data;
      const result = parseSubmission(
        b.view.callback_id,
        b.view.state.values,
        b.view.private_metadata,
        isoDay(now()),
      );
      if (result === undefined) {
        await ack();
        return;
      }
      if (!result.ok) {
        await ack({ response_action: 'errors', errors: result.errors });
        return;
      }
      await ack();
      await afterPendingAcks();
      const user = chatUser(b.user, b.team?.id);
      const hasResponseUrl = (b.response_urls ?? []).length > 0;
      const reply = makeRespond(
        client,
        hasResponseUrl ? respond : undefined,
        result.message ? { channel: result.message.channel, user: user.id } : undefined,
      );
      const replyOrDm: Respond = result.message || hasResponseUrl ? reply : dmRespond(client, user.id);
      await guarded(`dialog ${result.submission.kind}`, replyOrDm, async () => {
        const outcome = await handlers.onViewSubmission({
          submission: result.submission,
          user,
          ...(result.message ? { message: result.message } : {}),
          respond: replyOrDm,
        });
        if (outcome.notice) await replyOrDm(outcome.notice);
      });
    },
  );

  // Events are acknowledged by Bolt itself; these only make the cause of later failures visible.
  app.event('app_uninstalled', async () => {
    log.error(
      'patchbot was uninstalled from the Slack workspace: posts will fail until it is installed again',
    );
    await Promise.resolve();
  });
  app.event('tokens_revoked', async () => {
    log.error("Slack revoked patchbot's tokens: install the app again and update SLACK_BOT_TOKEN");
    await Promise.resolve();
  });

  app.command(deps.command, async ({ ack, body, client, respond }) => {
    const parsed = SlashCommandBody.safeParse(body);
    if (!parsed.success) {
      await ack({ response_type: 'ephemeral', text: 'patchbot could not read this command.' });
      log.warn({ issues: parsed.error.issues.slice(0, 5) }, 'Unexpected slash command payload');
      return;
    }
    const c = parsed.data;
    const cmd = parsePatchCommand(c.text);
    if (cmd.kind === 'help' || cmd.kind === 'unknown') {
      const help = renderHelp(
        patchHelp(deps.command, cmd.kind === 'unknown' ? capitalize(cmd.problem) : undefined),
      );
      await ack({ response_type: 'ephemeral', ...help });
      return;
    }
    await ack({
      response_type: 'ephemeral',
      text: `Working on \`${deps.command} ${escapeInline(c.text.trim())}\`…`,
    });
    await afterPendingAcks();
    const user: ChatUser = {
      platform: 'slack',
      id: c.user_id,
      ...(c.team_id ? { teamId: c.team_id } : {}),
      ...(c.user_name ? { name: c.user_name } : {}),
    };
    const reply = makeRespond(client, respond);
    await guarded(`command ${cmd.kind}`, reply, () =>
      handlers.onCommand({
        command: cmd,
        text: c.text,
        user,
        channel: c.channel_id,
        respond: reply,
        responseUrl: c.response_url,
      }),
    );
  });
}

/**
 * Lets the requests already waiting on the socket be read and acknowledged before this one's work
 * goes on (setImmediate runs after pending I/O): under a burst of clicks every ack goes out first.
 */
const afterPendingAcks = () => new Promise<void>((resolve) => setImmediate(resolve));

function dmRespond(client: webApi.WebClient, userId: string): Respond {
  return async (content) => {
    const { text, blocks } = renderMessage(content);
    await client.chat.postMessage({ channel: userId, text, blocks });
  };
}

function chatUser(
  u: { id: string; team_id?: string; username?: string; name?: string },
  teamId?: string,
): ChatUser {
  const team = u.team_id ?? teamId;
  const name = u.username ?? u.name;
  return { platform: 'slack', id: u.id, ...(team ? { teamId: team } : {}), ...(name ? { name } : {}) };
}

const capitalize = (s: string) => (s === '' ? s : `${s[0].toUpperCase()}${s.slice(1)}`);
const escapeInline = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s).replace(/[`<>&]/g, ' ');

/** Bolt's logger interface over pino (Bolt's lines at their own level, under name "slack"). */
function boltLogger(log: Logger): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  const text = (msg: unknown[]) =>
    msg
      .map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m)))
      .join(' ');
  // Format only what will be written: Bolt logs at debug on every request.
  const at =
    (lvl: 'debug' | 'info' | 'warn' | 'error') =>
    (...msg: unknown[]) => {
      if (log.isLevelEnabled(lvl)) log[lvl](text(msg));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
