import {
  pino,
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger,
  type LoggerOptions,
} from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { REDACTED, redactDeep, redactSecrets } from './redact.js';

export type { Logger } from 'pino';
export { REDACTED, redactDeep, redactSecrets, redactUrl, isSecretKey } from './redact.js';

/** Field names pino removes at any of the first two levels (`token`, `slack.token`, `headers.authorization`...). */
const SECRET_FIELDS = [
  'token',
  'botToken',
  'appToken',
  'accessToken',
  'refreshToken',
  'password',
  'appPassword',
  'passphrase',
  'secret',
  'signingSecret',
  'clientSecret',
  'privateKey',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
];
export const REDACT_PATHS: string[] = [
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_$][\w$]*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_$][\w$]*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
];

export interface CreateLoggerOptions {
  level?: string;
  /**
   * Human-readable lines (pino-pretty) instead of JSON. Default: only when no destination is given
   * and stdout is a terminal.
   */
  pretty?: boolean;
  /** Where lines go (default stdout). Anything with write(string). */
  destination?: DestinationStream;
  /** Fields on every line (e.g. { name: 'worker' }). */
  base?: Record<string, unknown>;
}

/**
 * The patchbot logger: JSON lines for machines, pretty lines on a terminal, and never a secret.
 * Secrets are removed three ways: pino's `redact` for known field names, a formatter that walks
 * every logged object (any depth) replacing secret-named fields and scrubbing credentials out of
 * strings (URL passwords, Slack tokens, bearer tokens), and a hook that scrubs the message itself.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && Boolean(process.stdout.isTTY));
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: options.base ?? {},
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: {
      err: (e: unknown) => redactDeep(e),
      error: (e: unknown) => redactDeep(e),
    },
    formatters: {
      bindings: (bindings) => redactDeep(bindings) as Record<string, unknown>,
      log: (obj) => redactDeep(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed: unknown[] = args.map((a, i) =>
          typeof a === 'string' ? redactSecrets(a) : i === 0 ? a : redactDeep(a),
        );
        const first = scrubbed[0];
        if (first instanceof Error) {
          // pino would take the message from the error unscrubbed; name it here instead.
          scrubbed[0] = { err: first };
          if (typeof scrubbed[1] !== 'string') scrubbed.splice(1, 0, redactSecrets(first.message));
        }
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    // loaded only for a terminal: most processes log JSON lines or nothing
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    const stream = pinoPretty({
      colorize: options.destination === undefined && Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      ...(options.destination === undefined ? {} : { destination: options.destination }),
    });
    return scrubChildBindings(pino(pinoOptions, stream));
  }
  return scrubChildBindings(
    pino(pinoOptions, options.destination ?? pino.destination({ dest: 1, sync: false })),
  );
}

/** pino applies no formatter to a child's bindings; scrub them on the way in (children inherit this). */
function scrubChildBindings(logger: Logger): Logger {
  // Unbound on purpose: it is called below with the logger (or child) it is invoked on.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const protoChild = logger.child as unknown as (
    this: Logger,
    bindings: Bindings,
    options?: ChildLoggerOptions,
  ) => Logger;
  const child = function (this: Logger, bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return protoChild.call(this, redactDeep(bindings) as Bindings, options);
  };
  logger.child = child as unknown as Logger['child'];
  return logger;
}
