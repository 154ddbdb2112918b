/**
 * Transient PostgreSQL failures (a connection terminated by the server or the network, the server
 * restarting, too many connections, a serialization conflict, a statement timeout) are retried
 * with exponential backoff up to a cap; anything else is thrown at once. What is retried must be
 * safe to run again after an outcome that was not seen (the repositories' conditional updates are).
 */
import { PatchbotError } from '../core/errors.js';

/** SQLSTATEs worth trying again: connection exceptions, shutdown, overload, conflicts, timeouts. */
const TRANSIENT_SQLSTATE = /^(08...|57P0[1-3]|53300|53400|40001|40P01|57014|55P03)$/;
const TRANSIENT_NODE_CODE = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTCONN',
  'EHOSTUNREACH',
]);
/** Prisma's codes for a lost or unreachable server, pool timeouts and write conflicts. */
const TRANSIENT_PRISMA_CODE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2034']);
const TRANSIENT_ADAPTER_KIND = new Set([
  'ConnectionClosed',
  'DatabaseNotReachable',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionWriteConflict',
  'TransactionAlreadyClosed',
]);
const TRANSIENT_MESSAGE =
  /Connection terminated|connection (timeout|error)|terminating connection|Client has encountered a connection error|timeout exceeded when trying to connect|the database system is (starting up|shutting down)|Server has closed the connection|Can't reach database server|Timed out fetching a new connection/i;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } };
}

/** Whether `err` (a node-postgres, Prisma or driver-adapter error, or one caused by one) is transient. */
export function isTransientDbError(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 5) return false;
  if (err instanceof PatchbotError) return err.code === 'DATABASE' && err.transient;
  const e = err as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code !== undefined && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE_CODE.has(code))) return true;
  if (code !== undefined && TRANSIENT_PRISMA_CODE.has(code)) return true;
  const adapter = e.meta?.driverAdapterError?.cause;
  if (adapter) {
    if (typeof adapter.kind === 'string' && TRANSIENT_ADAPTER_KIND.has(adapter.kind)) return true;
    if (typeof adapter.originalCode === 'string' && TRANSIENT_SQLSTATE.test(adapter.originalCode))
      return true;
  }
  if (typeof e.message === 'string' && TRANSIENT_MESSAGE.test(e.message)) return true;
  return isTransientDbError(e.cause, depth + 1);
}

export interface RetryOptions {
  /** Tries after the first (default 6: about 12 s of backoff in all). */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn`, trying again after transient database errors (backoff from `baseMs`, doubling, at
 * most `maxMs` apart). After the last try the error is thrown as a transient DATABASE PatchbotError.
 */
export async function retryTransient<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseMs ?? 200;
  const max = options.maxMs ?? 5_000;
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      if (attempt >= attempts) {
        if (err instanceof PatchbotError) throw err;
        throw new DatabaseUnavailableError(err);
      }
      const delay = Math.min(max, base * 2 ** attempt);
      options.onRetry?.(err, attempt + 1, delay);
      await sleep(delay);
    }
  }
}

/** The database could not be reached or kept failing transiently: try the whole operation later. */
export class DatabaseUnavailableError extends PatchbotError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('DATABASE', `the database is unavailable: ${reason.split('\n')[0]?.slice(0, 200) ?? ''}`, {
      cause,
    });
  }

  override get transient(): boolean {
    return true;
  }
}

/**
 * `target` with each of its async methods (except those in `exclude`) retried on transient
 * database errors. Methods that are not safe to run twice after an unseen outcome go in `exclude`.
 */
export function retryingTransient<T extends object>(
  target: T,
  options: RetryOptions & { exclude?: readonly (keyof T)[] } = {},
): T {
  const exclude = new Set<PropertyKey>(options.exclude ?? []);
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function' || exclude.has(key) || key === 'constructor') return value;
      return (...args: unknown[]) =>
        retryTransient(() => (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args), options);
    },
  });
}
