/**
 * Answering a slash command later, from a background job, through its `response_url`. The URL
 * comes from a job payload, so it is checked before anything is sent: https on hooks.slack.com
 * (Slack's own), or the scheme and host of the configured Web API (SLACK_API_URL: GovSlack, or a
 * local stand-in in tests). Never an arbitrary URL; redirects are not followed.
 */
import { PatchbotError, TransientError, ValidationError } from '../../core/errors.js';
import type { Respond } from '../handlers.js';
import { renderMessage } from './render.js';

export const SLACK_RESPONSE_HOSTS: readonly string[] = ['hooks.slack.com', 'hooks.slack-gov.com'];

/** The URL when patchbot may POST to it, else a ValidationError naming why. */
export function checkResponseUrl(raw: string, apiUrl?: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError('response_url is not a URL');
  }
  if (url.username !== '' || url.password !== '')
    throw new ValidationError('response_url must not carry credentials');
  if (url.protocol === 'https:' && SLACK_RESPONSE_HOSTS.includes(url.hostname) && url.port === '') return url;
  if (apiUrl !== undefined) {
    const api = new URL(apiUrl);
    if (url.protocol === api.protocol && url.host === api.host) return url;
  }
  throw new ValidationError(
    `response_url host ${JSON.stringify(url.host)} is not Slack's (${SLACK_RESPONSE_HOSTS.join(', ')}${apiUrl ? ` or the host of SLACK_API_URL` : ''})`,
  );
}

export interface ResponseUrlOptions {
  /** SLACK_API_URL, when configured: its host is accepted too. */
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** A Respond that POSTs rendered content to `responseUrl` (checked first, see checkResponseUrl). */
export function respondVia(responseUrl: string, options: ResponseUrlOptions = {}): Respond {
  const url = checkResponseUrl(responseUrl, options.apiUrl);
  const doFetch = options.fetch ?? fetch;
  return async (content, opts = {}) => {
    const { text, blocks } = renderMessage(content);
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({
          text,
          blocks,
          response_type: opts.visibility === 'channel' ? 'in_channel' : 'ephemeral',
          replace_original: opts.replaceOriginal ?? false,
        }),
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new TransientError(`cannot reach Slack's response_url at ${url.host}`, { cause: err });
    }
    const body = await res.text().catch(() => '');
    if (res.status === 429 || res.status >= 500)
      throw new TransientError(`Slack's response_url answered HTTP ${res.status}`);
    if (res.status < 200 || res.status >= 300)
      throw new PatchbotError(
        'CHAT_API',
        `Slack's response_url refused the answer: HTTP ${res.status} ${body.slice(0, 200)}`,
      );
  };
}
