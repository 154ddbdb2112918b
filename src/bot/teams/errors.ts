/**
 * Bot Connector (Teams) failures mapped once to patchbot's typed errors, each with a sentence a
 * person can act on. Throttling (429, 412 "precondition failed" under load, 503) is retried by
 * TeamsPoster before it gets here.
 */
import {
  ConfigError,
  NotFoundError,
  PatchbotError,
  TransientError,
  ValidationError,
} from '../../core/errors.js';

interface RestLikeError {
  statusCode?: unknown;
  code?: unknown;
  errorCode?: unknown;
  message?: unknown;
  response?: { status?: unknown; headers?: { get?: (name: string) => string | undefined } };
}

/** HTTP status of a failed connector call, if the error carries one. */
export function statusOf(err: unknown): number | undefined {
  const e = err as RestLikeError | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.response?.status === 'number') return e.response.status;
  return undefined;
}

/** Statuses worth trying again after a wait. */
export const RETRYABLE = new Set([412, 429, 502, 503, 504]);

/** Seconds the service asked to wait (Retry-After: seconds or an HTTP date), if it did. */
export function retryAfterOf(err: unknown, now: number = Date.now()): number | undefined {
  const e = err as RestLikeError | null;
  const get = e?.response?.headers?.get;
  if (typeof get !== 'function') return undefined;
  const raw = get.call(e?.response?.headers, 'retry-after');
  if (raw === undefined || raw === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, (at - now) / 1000) : undefined;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A PatchbotError for a failed Bot Connector call; `what` names the call ("post to 19:…"). */
export function toPatchbotError(err: unknown, what: string): PatchbotError {
  if (err instanceof PatchbotError) return err;
  const status = statusOf(err);
  const msg = messageOf(err);
  const details = { call: what, ...(status === undefined ? {} : { status }) };
  if (/AADSTS\d+|invalid_client|unauthorized_client/i.test(msg))
    return new ConfigError(
      `Entra ID refused the bot's credentials for ${what}: check TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID (${clipMsg(msg)})`,
      { cause: err, details },
    );
  if (status === 401 || status === 403)
    return new ConfigError(
      `Microsoft Teams refused patchbot's credentials (HTTP ${status}) for ${what}: check TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID, and that the app is installed there`,
      { cause: err, details },
    );
  if (status === 404)
    return new NotFoundError(
      `Microsoft Teams could not find what ${what} needs (HTTP 404): the app may have been removed from that team or chat`,
      { cause: err, details },
    );
  if (status === 400 || status === 413)
    return new ValidationError(`Microsoft Teams refused ${what} (HTTP ${status}): ${clipMsg(msg)}`, {
      cause: err,
      details,
    });
  if (status !== undefined && (RETRYABLE.has(status) || status >= 500))
    return new TransientError(`Microsoft Teams answered ${what} with HTTP ${status}`, {
      cause: err,
      details,
    });
  if (
    status === undefined &&
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket|network|fetch failed/i.test(msg)
  )
    return new TransientError(`could not reach Microsoft Teams for ${what}: ${clipMsg(msg)}`, {
      cause: err,
      details,
    });
  return new PatchbotError('CHAT_API', `${what} failed: ${clipMsg(msg)}`, { cause: err, details });
}

function clipMsg(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}
