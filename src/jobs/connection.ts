/**
 * Redis connections for BullMQ. Redis holds only work in flight: everything a person decided is in
 * PostgreSQL, and the reconciler rebuilds the queues from there after Redis loses them.
 *
 * Two kinds of connection:
 * - `worker` (the default): what BullMQ workers block on (BullMQ requires `maxRetriesPerRequest: null`); while
 *   Redis is down they wait and reconnect, and resume when it is back.
 * - `producer`: what adds and reads jobs (queues, flows, the deployment scheduler).
 *   While Redis is down its commands fail at once with a clear error (no offline queue, no endless
 *   retries), so nothing hangs on an outage; it reconnects by itself and works again when Redis is
 *   back.
 */
import { Redis } from 'ioredis';
import { PatchbotError } from '../core/errors.js';

export type RedisRole = 'producer' | 'worker';

export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `Redis at ${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'Redis';
  }
}

/** A Redis command that failed because Redis is unreachable, as a transient PatchbotError. */
export function redisUnavailable(err: unknown, where = 'Redis'): PatchbotError {
  if (err instanceof PatchbotError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new PatchbotError('TRANSIENT', `${where} is unavailable: ${reason}`, { cause: err });
}

/**
 * A connection for `role`. Fails with a clear message when Redis cannot be reached within
 * `timeoutMs` instead of retrying forever.
 */
export async function connectRedis(
  url: string,
  options: { timeoutMs?: number; role?: RedisRole } = {},
): Promise<Redis> {
  const where = describeRedis(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PatchbotError('CONFIG_INVALID', `REDIS_URL is not a valid URL (expected redis://host:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new PatchbotError('CONFIG_INVALID', `REDIS_URL must start with redis:// or rediss://`);
  }
  const worker = options.role !== 'producer';
  const redis = new Redis(url, {
    lazyConnect: true,
    enableReadyCheck: true,
    // reconnect every second at most, for ever: an outage ends when Redis is back
    retryStrategy: (times) => Math.min(1_000, 50 * 2 ** Math.min(times, 5)),
    ...(worker ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, enableOfflineQueue: false }),
  });
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  const timeoutMs = options.timeoutMs ?? 5_000;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const reason = (lastError as Error | undefined)?.message ?? (err as Error).message;
    throw new PatchbotError('TRANSIENT', `cannot connect to ${where}: ${reason}`, { cause: err });
  }
  return redis;
}
