/**
 * Runs jobs. A handler gets a payload validated against its definition; a PatchbotError that is not
 * transient (validation, policy) fails the job at once, a transient one (connection refused,
 * timeouts) is retried with backoff, as is anything unexpected.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { PatchbotError, userMessageOf } from '../core/errors.js';
import { QUEUES, type JobData, type JobDefinition, type QueueName } from './definitions.js';
import { validatePayload } from './queue.js';

export interface JobContext {
  job: Job;
  logger: Logger;
}

export type JobHandler<D extends JobDefinition> = (data: JobData<D>, ctx: JobContext) => Promise<unknown>;

interface Registered {
  def: JobDefinition;
  handler: (data: unknown, ctx: JobContext) => Promise<unknown>;
}

export class JobHandlers {
  private readonly byName = new Map<string, Registered>();

  on<D extends JobDefinition>(def: D, handler: JobHandler<D>): this {
    this.byName.set(def.name, { def, handler: handler as Registered['handler'] });
    return this;
  }

  get(name: string): Registered | undefined {
    return this.byName.get(name);
  }

  queues(): QueueName[] {
    return QUEUES.filter((q) => [...this.byName.values()].some((r) => r.def.queue === q));
  }
}

export interface RunnerOptions {
  connection: Redis;
  handlers: JobHandlers;
  logger: Logger;
  prefix?: string;
  concurrency?: Partial<Record<QueueName, number>>;
}

export interface JobRunner {
  /** Stops taking work, waits for running jobs to finish, closes the workers. */
  close(): Promise<void>;
  workers: Worker[];
}

/**
 * Job locks: a worker renews its jobs' locks every few seconds; when it dies, the jobs it held go
 * back to the queue once their lock runs out and the next stalled-job check sees it (seconds, not
 * a minute), and another worker runs them.
 */
export const JOB_LOCK_MS = 15_000;
export const STALLED_CHECK_MS = 5_000;

/** The processor of one job: validation, dispatch and the retry decision. */
export async function processJob(job: Job, handlers: JobHandlers, logger: Logger): Promise<unknown> {
  const registered = handlers.get(job.name);
  if (!registered) throw new UnrecoverableError(`no handler for job ${job.name}`);
  const log = logger.child({ job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
  let data: unknown;
  try {
    data = validatePayload(registered.def, job.data);
  } catch (err) {
    log.error({ err }, 'job payload rejected');
    throw new UnrecoverableError(userMessageOf(err));
  }
  try {
    return await registered.handler(data, { job, logger: log });
  } catch (err) {
    if (err instanceof PatchbotError && !err.transient) {
      log.error({ code: err.code, err }, 'job failed; not retried');
      throw new UnrecoverableError(err.userMessage);
    }
    log.warn({ err }, 'job failed; will be retried if attempts remain');
    throw err;
  }
}

export function startJobRunner(options: RunnerOptions): JobRunner {
  const prefix = options.prefix ?? 'patchbot';
  const workers = options.handlers.queues().map(
    (queue) =>
      new Worker(queue, (job) => processJob(job, options.handlers, options.logger), {
        connection: options.connection,
        prefix,
        concurrency: options.concurrency?.[queue] ?? 2,
        lockDuration: JOB_LOCK_MS,
        stalledInterval: STALLED_CHECK_MS,
        maxStalledCount: 3,
      }),
  );
  for (const w of workers) {
    w.on('error', (err) => options.logger.error({ err, queue: w.name }, 'worker error'));
  }
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
