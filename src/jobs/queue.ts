/**
 * Enqueuing jobs: every payload is validated against its definition before it reaches Redis.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ValidationError } from '../core/errors.js';
import { QUEUES, type JobData, type JobDefinition, type QueueName } from './definitions.js';

export interface EnqueueOptions {
  /** A stable id makes enqueuing idempotent: a second job with the same id is not added. */
  jobId?: string;
  delayMs?: number;
}

export interface JobQueue {
  enqueue<D extends JobDefinition>(def: D, data: JobData<D>, options?: EnqueueOptions): Promise<string>;
  /** Runs `def` every `everyMs` (one scheduler per id, updated in place when the interval changes). */
  repeat<D extends JobDefinition>(id: string, def: D, data: JobData<D>, everyMs: number): Promise<void>;
  queue(name: QueueName): Queue;
  close(): Promise<void>;
}

export function backoffFor(def: JobDefinition): JobsOptions {
  return {
    attempts: def.attempts,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 1_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

export function validatePayload<D extends JobDefinition>(def: D, data: unknown): JobData<D> {
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'payload';
    throw new ValidationError(`job ${def.name}: ${where}: ${issue?.message ?? 'invalid payload'}`);
  }
  return parsed.data as JobData<D>;
}

export function createJobQueue(connection: Redis, options: { prefix?: string } = {}): JobQueue {
  const prefix = options.prefix ?? 'patchbot';
  const queues = new Map<QueueName, Queue>(
    QUEUES.map((name) => [name, new Queue(name, { connection, prefix })] as const),
  );
  const get = (name: QueueName): Queue => {
    const q = queues.get(name);
    if (!q) throw new ValidationError(`unknown queue ${name}`);
    return q;
  };
  return {
    async enqueue(def, data, opts = {}) {
      const payload = validatePayload(def, data);
      const job = await get(def.queue).add(def.name, payload, {
        ...backoffFor(def),
        ...(opts.jobId ? { jobId: opts.jobId } : {}),
        ...(opts.delayMs ? { delay: opts.delayMs } : {}),
      });
      return job.id ?? '';
    },
    async repeat(id, def, data, everyMs) {
      const payload = validatePayload(def, data);
      await get(def.queue).upsertJobScheduler(
        id,
        { every: everyMs },
        { name: def.name, data: payload, opts: backoffFor(def) },
      );
    },
    queue: get,
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}

/** One queue's jobs by state and how long its oldest job ready to run has waited. */
export interface QueueStatsRow {
  queue: QueueName;
  counts: Record<string, number>;
  oldestWaitingAgeSeconds: number;
}

const COUNTED_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed'] as const;

/**
 * Every queue's depth (jobs by state) and the age of its oldest waiting job: the time since the job
 * became ready to run (added, or its delay ran out). Read from Redis (a few commands per queue).
 */
export async function queueStats(
  queue: JobQueue,
  now: () => Date = () => new Date(),
): Promise<QueueStatsRow[]> {
  return Promise.all(
    QUEUES.map(async (name) => {
      const q = queue.queue(name);
      const counts = await q.getJobCounts(...COUNTED_STATES);
      // the wait list is oldest-last; prioritized jobs are read in priority order, so both are looked at
      const [oldestWaiting] = await q.getJobs(['wait'], 0, 0, true);
      const [firstPrioritized] = await q.getJobs(['prioritized'], 0, 0, true);
      const readyAt = [oldestWaiting, firstPrioritized]
        .filter((j) => j !== undefined)
        .map((j) => j.timestamp + (j.delay ?? 0));
      const oldest = readyAt.length > 0 ? Math.min(...readyAt) : undefined;
      return {
        queue: name,
        counts,
        oldestWaitingAgeSeconds: oldest === undefined ? 0 : Math.max(0, (now().getTime() - oldest) / 1000),
      };
    }),
  );
}
