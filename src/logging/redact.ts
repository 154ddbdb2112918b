/**
 * Scrubbing of credentials from text: passwords in URLs, secrets in query strings, Slack tokens,
 * bearer tokens. Used by the logger for every message and string field, and by anyone who shows
 * a URL or an error message (config errors, chat replies).
 */

export const REDACTED = '***';

// scheme://user:password@  (user may be empty: redis://:password@host)
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]*)@/gi;
// ?password=...&token=...&sig=... (any parameter whose name says it carries a secret)
const SECRET_QUERY_PARAM =
  /([?&;](?:[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|access_key|signature|sig|credential)[a-z0-9_.-]*)=)[^&;#\s"']+/gi;
// Slack tokens: bot, user, app-level, config, refresh, legacy workspace tokens.
const SLACK_TOKEN = /\b(xox[abeposrt]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** `postgresql://user:pass@host/db` -> `postgresql://user:***@host/db`; secret query parameters too. */
export function redactUrl(url: string): string {
  return url
    .replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(SECRET_QUERY_PARAM, (_m, name: string) => `${name}${REDACTED}`);
}

/** Every credential pattern patchbot knows, removed from free text (log messages, error messages). */
export function redactSecrets(text: string): string {
  if (!/[:@=]|xox|xapp|Bearer|Basic/.test(text)) return text;
  return redactUrl(text)
    .replace(SLACK_TOKEN, (_m, prefix: string) => `${prefix}-${REDACTED}`)
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

/** Field names whose values are always secret, whatever they contain (compared without case, - and _). */
const SECRET_KEY =
  /(token|password|passwd|secret|privatekey|passphrase|authorization|cookie|apikey|signingsecret|credential)/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(/[-_]/g, ''));
}

/**
 * A deep copy of `value` with secret-named fields replaced and every string scrubbed.
 * Cycles and depth are bounded; Errors become { type, message, stack } with both scrubbed.
 */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      type: value.name,
      message: redactSecrets(value.message),
    };
    if (value.stack) out.stack = redactSecrets(value.stack);
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) ? REDACTED : redactDeep(v, depth + 1, seen);
    }
    if (value.cause !== undefined) out.cause = redactDeep(value.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (value instanceof Date || Buffer.isBuffer(value) || value instanceof URL) {
    return value instanceof URL ? redactUrl(value.href) : value;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redactDeep(v, depth + 1, seen);
  }
  return out;
}
