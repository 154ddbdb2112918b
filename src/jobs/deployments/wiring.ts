/**
 * Deployments in a long-running process (`patchbot serve`, `patchbot worker`): the engine over
 * BullMQ and the hosts' SSH executors, its progress written into the change's chat thread, the port
 * the approval use case schedules and controls deployments through, the job handlers the runner
 * registers and the reconciler's schedule.
 */
import type { Redis } from 'ioredis';
import type { ChatMention } from '../../bot/views/index.js';
import type { Policy } from '../../config/policy-schema.js';
import type { Repositories } from '../../db/index.js';
import type { Logger } from '../../logging/logger.js';
import type { CampaignMessenger, DeploymentPort } from '../../usecases/approvals/ports.js';
import {
  createChatProgress,
  createDeploymentPort,
  type ChatProgress,
} from '../../usecases/deployments/chat.js';
import { createExecutorFactory } from '../../usecases/deployments/executors.js';
import type { EngineDeps, EngineTiming, ExecutorFactory } from '../../usecases/deployments/types.js';
import type { JobQueue } from '../queue.js';
import type { JobHandlers } from '../worker.js';
import {
  createDeploymentJobHandlers,
  deploymentQueueConcurrency,
  scheduleDeploymentReconciler,
} from './handlers.js';

export interface DeploymentServicesDeps {
  config: {
    policy: Policy;
    policyPath: string;
    env: { sshAuthSock?: string };
  };
  repos: Pick<Repositories, 'hosts' | 'inventory' | 'audit' | 'deployments'>;
  connection: Redis;
  /** BullMQ key prefix (the runner's). */
  prefix?: string;
  now: () => Date;
  logger: Logger;
  /**
   * The campaign messages of a change (the approval use case's); asked on every event, so it may
   * be set after these services are built. While it gives undefined, progress is only logged.
   */
  messenger?: () => CampaignMessenger | undefined;
  /** People and groups a halt notifies besides those who approved the change. */
  approvers?: (changeId: string) => Promise<ChatMention[]>;
  /** Opens an executor for a host (default: SSH with its pinned host key, or local). */
  executors?: ExecutorFactory;
  timing?: Partial<EngineTiming>;
  /** Least time between two campaign message edits caused by host successes (default 5 s). */
  refreshIntervalMs?: number;
}

export interface DeploymentServices {
  /** Registers the deployment jobs on a runner's handlers (the processes that run workers). */
  register(handlers: JobHandlers): JobHandlers;
  /** What the approval use case calls: schedule an approved change, press a control button. */
  port: DeploymentPort;
  /** The engine's dependencies (scheduler over BullMQ, chat progress). */
  engine: EngineDeps;
  progress: ChatProgress;
  /** Worker slots the deployments queue needs: every lane of the policy's widest ring at once. */
  concurrency: number;
  /** Puts the reconciler's recurring job in place (one scheduler across all workers). */
  scheduleReconciler(queue: JobQueue, everyMs?: number): Promise<void>;
  /** Sends the chat progress still queued, then closes the scheduler's queues. */
  close(): Promise<void>;
}

export function deploymentServices(deps: DeploymentServicesDeps): DeploymentServices {
  const logger = deps.logger.child({ name: 'deployments' });
  const progress = createChatProgress(deps.messenger ?? (() => undefined), {
    deployments: deps.repos.deployments,
    logger,
    ...(deps.approvers ? { approvers: deps.approvers } : {}),
    ...(deps.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: deps.refreshIntervalMs }),
  });
  const registration = createDeploymentJobHandlers({
    connection: deps.connection,
    ...(deps.prefix === undefined ? {} : { prefix: deps.prefix }),
    deployments: deps.repos.deployments,
    audit: deps.repos.audit,
    executors:
      deps.executors ??
      createExecutorFactory({
        repos: deps.repos,
        config: {
          policy: deps.config.policy,
          policyPath: deps.config.policyPath,
          env: deps.config.env.sshAuthSock === undefined ? {} : { sshAuthSock: deps.config.env.sshAuthSock },
        },
      }),
    now: deps.now,
    logger,
    progress,
    ...(deps.timing ? { timing: deps.timing } : {}),
  });
  const port = createDeploymentPort({
    ...registration.engine,
    hosts: deps.repos.hosts,
    policy: deps.config.policy,
  });
  return {
    register: (handlers) => registration(handlers),
    port,
    engine: registration.engine,
    progress,
    concurrency: deploymentQueueConcurrency(deps.config.policy.rings),
    scheduleReconciler: (queue, everyMs) => scheduleDeploymentReconciler(queue, everyMs),
    async close() {
      await progress.close();
      await registration.close();
    },
  };
}
