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
import type { CommandObserver } from '../../executors/observed.js';
import type { Logger } from '../../logging/logger.js';
import type { CampaignMessenger, DeploymentGate, DeploymentPort } from '../../usecases/approvals/ports.js';
import {
  createChatProgress,
  createDeploymentPort,
  eventFromPayload,
  type ChatProgress,
} from '../../usecases/deployments/chat.js';
import { CHAT_DEPLOYMENT_OUTBOX } from '../../usecases/deployments/engine.js';
import { createExecutorFactory } from '../../usecases/deployments/executors.js';
import type {
  EngineDeps,
  EngineTiming,
  ExecutorFactory,
  ShutdownSignal,
} from '../../usecases/deployments/types.js';
import { createOutboxRelay, type OutboxRelay } from '../outbox-relay.js';
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
  repos: Pick<Repositories, 'hosts' | 'inventory' | 'audit' | 'deployments' | 'outbox'>;
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
  /** The process shutting down: no new hosts, then hosts handed back (worker processes). */
  shutdown?: ShutdownSignal;
  /** How often the outbox is looked at when nothing nudged it (default 1 s). */
  outboxPollMs?: number;
  /** Approval outside patchbot an approved change also waits for (the CAB in ServiceNow). */
  gate?: DeploymentGate;
  /** Hears of every command run over SSH (the SSH metrics). */
  onCommand?: CommandObserver;
}

export interface DeploymentServices {
  /** Registers the deployment jobs on a runner's handlers (the processes that run workers). */
  register(handlers: JobHandlers): JobHandlers;
  /** What the approval use case calls: schedule an approved change, press a control button. */
  port: DeploymentPort;
  /** The engine's dependencies (scheduler over BullMQ, chat progress). */
  engine: EngineDeps;
  progress: ChatProgress;
  /** Delivers the outbox (thread posts) in processes that run workers (started by `register`). */
  relay: OutboxRelay;
  /** Worker slots the deployments queue needs: every lane of the policy's widest ring at once. */
  concurrency: number;
  /** Puts the reconciler's recurring job in place (one scheduler across all workers). */
  scheduleReconciler(queue: JobQueue, everyMs?: number): Promise<void>;
  /** Sends the chat progress still queued, then closes the scheduler's queues. */
  close(): Promise<void>;
}

export function deploymentServices(deps: DeploymentServicesDeps): DeploymentServices {
  const logger = deps.logger.child({ name: 'deployments' });
  const late: { relay?: OutboxRelay } = {};
  const chat = createChatProgress(deps.messenger ?? (() => undefined), {
    deployments: deps.repos.deployments,
    logger,
    onStored: () => late.relay?.nudge(),
    ...(deps.approvers ? { approvers: deps.approvers } : {}),
    ...(deps.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: deps.refreshIntervalMs }),
  });
  const relay = createOutboxRelay({
    outbox: deps.repos.outbox,
    handlers: { [CHAT_DEPLOYMENT_OUTBOX]: (m) => chat.deliver(eventFromPayload(m.payload)) },
    logger,
    ...(deps.outboxPollMs === undefined ? {} : { pollMs: deps.outboxPollMs }),
  });
  late.relay = relay;
  // flushing delivers the outbox first, then the paced edits
  const progress: ChatProgress = {
    emit: (e) => chat.emit(e),
    deliver: (e) => chat.deliver(e),
    async flush() {
      await relay.drain();
      await chat.flush();
    },
    async close() {
      await relay.drain();
      await chat.close();
    },
  };
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
        ...(deps.onCommand ? { onCommand: deps.onCommand } : {}),
      }),
    now: deps.now,
    logger,
    progress,
    ...(deps.timing ? { timing: deps.timing } : {}),
    ...(deps.shutdown ? { shutdown: deps.shutdown } : {}),
  });
  const port = createDeploymentPort({
    ...registration.engine,
    hosts: deps.repos.hosts,
    policy: deps.config.policy,
    ...(deps.gate ? { gate: deps.gate } : {}),
  });
  return {
    register: (handlers) => {
      relay.start();
      return registration(handlers);
    },
    port,
    engine: registration.engine,
    progress,
    relay,
    concurrency: deploymentQueueConcurrency(deps.config.policy.rings),
    scheduleReconciler: (queue, everyMs) => scheduleDeploymentReconciler(queue, everyMs),
    async close() {
      await relay.stop();
      await chat.close();
      await registration.close();
    },
  };
}
