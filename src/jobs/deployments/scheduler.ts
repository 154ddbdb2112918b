/**
 * The deployment engine's job port over BullMQ: one flow per ring (the ring job is the parent of
 * its lane jobs), and delayed advance and rollback jobs. Delays come from the engine's clock and
 * are capped, so a job wakes up at least every `maxDelayMs` to look at the clock again (windows
 * and soak times follow the injected clock in tests, and a changed clock in production).
 */
import { randomUUID } from 'node:crypto';
import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_TIMING, type DeploymentScheduler } from '../../usecases/deployments/types.js';
import { redisUnavailable } from '../connection.js';
import { backoffFor, validatePayload } from '../queue.js';
import { DEPLOYMENT_QUEUE, DeploymentJobs } from './definitions.js';

export interface BullDeploymentScheduler extends DeploymentScheduler {
  queue: Queue;
  close(): Promise<void>;
}

const PENDING_STATES = ['waiting', 'delayed', 'active', 'waiting-children', 'prioritized'] as const;

export function createBullDeploymentScheduler(options: {
  connection: Redis;
  prefix?: string;
  now: () => Date;
  maxDelayMs?: number;
}): BullDeploymentScheduler {
  const prefix = options.prefix ?? 'patchbot';
  const queue = new Queue(DEPLOYMENT_QUEUE, { connection: options.connection, prefix });
  const flows = new FlowProducer({ connection: options.connection, prefix });
  const maxDelay = options.maxDelayMs ?? DEFAULT_TIMING.maxDelayMs;
  const delayUntil = (at: Date): number =>
    Math.max(0, Math.min(at.getTime() - options.now().getTime(), maxDelay));
  /** Redis down: a clear transient error at once (the reconciler re-creates what was not added). */
  const redis = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw redisUnavailable(err, 'Redis (the deployment queue)');
    }
  };

  return {
    queue,
    async enqueueRing({ deploymentId, ringIndex, generation, lanes }) {
      const base = `dep-${deploymentId}-r${ringIndex}-g${generation}`;
      const ringData = validatePayload(DeploymentJobs.ring, { deploymentId, ringIndex, generation });
      const laneOpts = (lane: number): JobsOptions => ({
        ...backoffFor(DeploymentJobs.lane),
        jobId: `${base}-l${lane}`,
        ignoreDependencyOnFailure: true,
      });
      await redis(() =>
        flows.add({
          name: DeploymentJobs.ring.name,
          queueName: DEPLOYMENT_QUEUE,
          data: ringData,
          opts: { ...backoffFor(DeploymentJobs.ring), jobId: base },
          children: Array.from({ length: lanes }, (_, lane) => ({
            name: DeploymentJobs.lane.name,
            queueName: DEPLOYMENT_QUEUE,
            data: validatePayload(DeploymentJobs.lane, { deploymentId, ringIndex, generation, lane }),
            opts: laneOpts(lane),
          })),
        }),
      );
    },
    async enqueueAdvance({ deploymentId, at }) {
      await redis(() =>
        queue.add(DeploymentJobs.advance.name, validatePayload(DeploymentJobs.advance, { deploymentId }), {
          ...backoffFor(DeploymentJobs.advance),
          jobId: `dep-${deploymentId}-adv-${randomUUID()}`,
          delay: delayUntil(at),
        }),
      );
    },
    async enqueueRollback({ deploymentId }) {
      await redis(() =>
        queue.add(DeploymentJobs.rollback.name, validatePayload(DeploymentJobs.rollback, { deploymentId }), {
          ...backoffFor(DeploymentJobs.rollback),
          jobId: `dep-${deploymentId}-rb-${randomUUID()}`,
        }),
      );
    },
    async hasPendingJobs(deploymentId) {
      const jobs = await redis(() => queue.getJobs([...PENDING_STATES], 0, -1));
      return jobs.some(
        (j) => (j.data as { deploymentId?: unknown } | undefined)?.deploymentId === deploymentId,
      );
    },
    async close() {
      await flows.close();
      await queue.close();
    },
  };
}
