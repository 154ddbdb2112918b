/**
 * Slack Web API failures mapped once to patchbot's typed errors, each with a sentence a person can
 * act on. Rate limits are handled by the caller (SlackPoster) before they get here.
 */
import {
  ConfigError,
  NotFoundError,
  PatchbotError,
  TransientError,
  ValidationError,
} from '../../core/errors.js';

const AUTH_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'ekm_access_denied',
]);
const NOT_FOUND_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'message_not_found',
  'user_not_found',
  'user_not_in_channel',
  'thread_not_found',
]);
const INPUT_ERRORS = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
  'invalid_arguments',
  'invalid_arg_name',
  'invalid_trigger_id',
  'expired_trigger_id',
  'exchanged_trigger_id',
  'cant_update_message',
  'edit_window_closed',
]);
const TRANSIENT_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

interface SlackLikeError {
  code?: unknown;
  data?: { error?: unknown; needed?: unknown };
  statusCode?: unknown;
  original?: unknown;
  retryAfter?: unknown;
}

/** Slack's `error` string of a platform error (`{ ok: false, error }`), if that is what `err` is. */
export function platformErrorOf(err: unknown): string | undefined {
  const e = err as SlackLikeError | null;
  if (e && e.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string') return e.data.error;
  return undefined;
}

/** Seconds Slack asked to wait, if `err` is a rate-limit rejection. */
export function retryAfterOf(err: unknown): number | undefined {
  const e = err as SlackLikeError | null;
  if (e && e.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number')
    return e.retryAfter;
  return undefined;
}

/** A PatchbotError for a failed Web API call; `what` names the call ("chat.postMessage to C123"). */
export function toPatchbotError(err: unknown, what: string): PatchbotError {
  if (err instanceof PatchbotError) return err;
  const e = err as SlackLikeError | null;
  const platform = platformErrorOf(err);
  if (platform !== undefined) {
    const details = { slackError: platform, call: what };
    if (AUTH_ERRORS.has(platform)) {
      const needed = typeof e?.data?.needed === 'string' ? ` (needs scope ${e.data.needed})` : '';
      return new ConfigError(`SLACK_BOT_TOKEN was rejected by Slack: ${platform}${needed} (${what})`, {
        cause: err,
        details,
      });
    }
    if (NOT_FOUND_ERRORS.has(platform)) {
      const hint = platform === 'not_in_channel' ? '; invite the bot with /invite @patchbot' : '';
      return new NotFoundError(`Slack could not find what ${what} needs: ${platform}${hint}`, {
        cause: err,
        details,
      });
    }
    if (INPUT_ERRORS.has(platform))
      return new ValidationError(`Slack refused ${what}: ${platform}`, { cause: err, details });
    if (TRANSIENT_ERRORS.has(platform))
      return new TransientError(`Slack failed ${what}: ${platform}`, { cause: err, details });
    return new PatchbotError('CHAT_API', `Slack refused ${what}: ${platform}`, { cause: err, details });
  }
  if (e && e.code === 'slack_webapi_rate_limited_error')
    return new TransientError(`Slack rate-limited ${what} (retry after ${String(e.retryAfter)} s)`, {
      cause: err,
    });
  if (e && e.code === 'slack_webapi_http_error')
    return new TransientError(`Slack answered ${what} with HTTP ${String(e.statusCode)}`, { cause: err });
  if (e && e.code === 'slack_webapi_request_error') {
    const original = e.original instanceof Error ? e.original.message : 'request failed';
    return new TransientError(`could not reach the Slack Web API for ${what}: ${original}`, { cause: err });
  }
  return new PatchbotError(
    'CHAT_API',
    `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
