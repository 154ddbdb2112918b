/**
 * Registers the deployment jobs on a JobHandlers (the worker runs them). The handlers are thin: the
 * rollout logic is in src/usecases/deployments/engine.ts; a handler that has to wait (a window, a
 * soak, a lease held by another worker) moves its own job back to delayed instead of holding a
 * worker slot.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobQueue } from '../queue.js';
import type { JobHandlers } from '../worker.js';
import {
  advance,
  finishRing,
  reconcile,
  runLane,
  runRollback,
  type LaneResult,
} from '../../usecases/deployments/engine.js';
import { timingOf, type EngineDeps } from '../../usecases/deployments/types.js';
import { retryingTransient } from '../../db/retry.js';
import { DeploymentJobs } from './definitions.js';
import { createBullDeploymentScheduler, type BullDeploymentScheduler } from './scheduler.js';

export type DeploymentJobDeps = Omit<EngineDeps, 'scheduler'> & {
  connection: Redis;
  /** BullMQ key prefix (the runner's). */
  prefix?: string;
  /** Names this process in the host runs it claims (default host:pid), so an operator sees who holds a host. */
  processId?: string;
};

export interface DeploymentJobRegistration {
  (handlers: JobHandlers): JobHandlers;
  /** The engine's dependencies with the BullMQ scheduler (for scheduleDeployment, deploymentControl). */
  engine: EngineDeps;
  scheduler: BullDeploymentScheduler;
  close(): Promise<void>;
}

async function settle(job: Job, result: LaneResult): Promise<void> {
  if (result.kind === 'done') return;
  await job.moveToDelayed(Date.now() + result.delayMs, job.token);
  throw new DelayedError();
}

/** Worker concurrency the deployments queue needs: every lane of the widest ring at once, plus room. */
export function deploymentQueueConcurrency(rings: readonly { concurrency: number }[]): number {
  return Math.max(4, ...rings.map((r) => r.concurrency + 2));
}

export function createDeploymentJobHandlers(deps: DeploymentJobDeps): DeploymentJobRegistration {
  const timing = timingOf(deps);
  const scheduler = createBullDeploymentScheduler({
    connection: deps.connection,
    ...(deps.prefix !== undefined ? { prefix: deps.prefix } : {}),
    now: deps.now,
    maxDelayMs: timing.maxDelayMs,
  });
  const { connection: _connection, prefix: _prefix, processId: _processId, ...rest } = deps;
  const processId = deps.processId ?? `${hostname()}:${process.pid}`;
  // A database blip is retried (with backoff, a cap) instead of failing a step. Not retried here:
  // what is not safe to run twice after an unseen outcome, and what retries on its own.
  const deployments = retryingTransient(deps.deployments, {
    exclude: ['create', 'bumpFlowGeneration', 'saveProgress', 'heartbeat'],
    onRetry: (err, attempt, delayMs) =>
      deps.logger.warn({ err, attempt, delayMs }, 'database unavailable; retrying'),
  });
  const engine: EngineDeps = { ...rest, deployments, scheduler };
  const register = (handlers: JobHandlers): JobHandlers =>
    handlers
      .on(DeploymentJobs.lane, async (data, { job }) => {
        await settle(
          job,
          await runLane(engine, {
            deploymentId: data.deploymentId,
            ringIndex: data.ringIndex,
            lane: data.lane,
            workerId: `${processId}/lane-${randomUUID()}`,
          }),
        );
      })
      .on(DeploymentJobs.ring, async (data) => {
        await finishRing(engine, { deploymentId: data.deploymentId, ringIndex: data.ringIndex });
      })
      .on(DeploymentJobs.advance, async (data, { job }) => {
        await settle(job, await advance(engine, { deploymentId: data.deploymentId }));
      })
      .on(DeploymentJobs.rollback, async (data, { job }) => {
        await settle(job, await runRollback(engine, { deploymentId: data.deploymentId }));
      })
      .on(DeploymentJobs.reconcile, async () => reconcile(engine));
  return Object.assign(register, {
    engine,
    scheduler,
    close: () => scheduler.close(),
  });
}

/** Runs the reconciler every `everyMs` (and once at once) through the runner's queue. */
export async function scheduleDeploymentReconciler(queue: JobQueue, everyMs = 60_000): Promise<void> {
  await queue.repeat('deployment-reconcile', DeploymentJobs.reconcile, {}, everyMs);
}
