/**
 * Redis connections for BullMQ. Redis holds only work in flight: everything a person decided is in
 * PostgreSQL, and the reconciler rebuilds the queues from there after Redis loses them.
 */
import { Redis } from 'ioredis';
import { PatchbotError } from '../core/errors.js';

function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `Redis at ${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'Redis';
  }
}

/**
 * A connection suitable for BullMQ workers (`maxRetriesPerRequest: null`). Fails with a clear
 * message when Redis cannot be reached within `timeoutMs` instead of retrying forever.
 */
export async function connectRedis(url: string, options: { timeoutMs?: number } = {}): Promise<Redis> {
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
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, enableReadyCheck: true });
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
