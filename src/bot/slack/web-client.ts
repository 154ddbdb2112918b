/**
 * A Slack poster without the Bolt app, for processes that only post (`patchbot digest --now`,
 * `patchbot changes`): a Web API client with the same settings as the app's (429s rejected and
 * retried by SlackPoster), checked with auth.test so a bad token fails with a clear message before
 * anything is built.
 */
import { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/errors.js';
import { toPatchbotError } from './errors.js';
import { SlackPoster } from './poster.js';

/** The Web API client, with the bot token checked by auth.test. */
export async function createSlackWebClient(options: {
  token: string;
  /** Web API base with a trailing slash (default https://slack.com/api/). */
  apiUrl?: string;
}): Promise<webApi.WebClient> {
  if (!options.token)
    throw new ConfigError(
      "SLACK_BOT_TOKEN is missing: copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page",
    );
  const apiUrl = options.apiUrl ?? 'https://slack.com/api/';
  const client = new webApi.WebClient(options.token, {
    slackApiUrl: apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1000 },
    timeout: 10_000,
    logLevel: webApi.LogLevel.ERROR,
  });
  try {
    await client.auth.test();
  } catch (err) {
    throw toPatchbotError(err, `auth.test at ${apiUrl}`);
  }
  return client;
}

export async function createSlackPoster(options: {
  token: string;
  /** Web API base with a trailing slash (default https://slack.com/api/). */
  apiUrl?: string;
  logger: Logger;
  /** Spacing of messages per channel (default 1,000 ms). */
  intervalMs?: number;
}): Promise<SlackPoster> {
  const client = await createSlackWebClient(options);
  return new SlackPoster({
    client,
    logger: options.logger,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
  });
}
