/**
 * Typed errors. Every error patchbot raises on purpose is a PatchbotError with a stable `code`
 * (for logs, tests and metrics) and a `userMessage` that is safe to show a person in chat or on a
 * terminal: it names the problem and where it was, never a secret. `cause` keeps the original.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'VALIDATION'
  | 'USAGE'
  | 'INVALID_VERSION'
  | 'FEED_INVALID'
  | 'FEED_UNAVAILABLE'
  | 'EXEC_FAILED'
  | 'EXEC_TIMEOUT'
  | 'HOST_KEY_REJECTED'
  | 'HOST_UNREACHABLE'
  | 'HOST_AUTH_FAILED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'POLICY_DENIED'
  | 'DATABASE'
  | 'TRANSIENT'
  | 'CHAT_API'
  | 'UNSUPPORTED';

export interface PatchbotErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class PatchbotError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, userMessage: string, options: PatchbotErrorOptions = {}) {
    super(userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.userMessage = userMessage;
    this.details = options.details ?? {};
  }

  /** Whether retrying the same operation later may succeed (connection refused, timeouts, 429/5xx). */
  get transient(): boolean {
    return this.code === 'TRANSIENT' || this.code === 'HOST_UNREACHABLE' || this.code === 'EXEC_TIMEOUT';
  }
}

/** Input that does not have the expected shape: a config key, a feed record, a chat payload. */
export class ValidationError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('VALIDATION', userMessage, options);
  }
}

/** A command used wrongly: options that do not go together, a value an option does not take. */
export class UsageError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('USAGE', userMessage, options);
  }
}

export class ConfigError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('CONFIG_INVALID', userMessage, options);
  }
}

export class InvalidVersionError extends PatchbotError {
  readonly scheme: string;
  readonly version: string;
  constructor(scheme: string, version: string, reason: string) {
    super(
      'INVALID_VERSION',
      `invalid ${scheme} version ${JSON.stringify(truncate(version, 80))}: ${reason}`,
      {
        details: { scheme, version: truncate(version, 200), reason },
      },
    );
    this.scheme = scheme;
    this.version = version;
  }
}

export class NotFoundError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('NOT_FOUND', userMessage, options);
  }
}

export class PolicyDeniedError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('POLICY_DENIED', userMessage, options);
  }
}

/** A failure that may pass if tried again later (network, timeouts, rate limits). */
export class TransientError extends PatchbotError {
  constructor(userMessage: string, options: PatchbotErrorOptions = {}) {
    super('TRANSIENT', userMessage, options);
  }
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/** A message safe to show a person for any thrown value. */
export function userMessageOf(err: unknown): string {
  if (err instanceof PatchbotError) return err.userMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}
