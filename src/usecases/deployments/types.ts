/**
 * What the deployment engine works with: its dependencies (passed in, never imported), the settings a
 * deployment stores when it is planned (so a later policy edit does not change a running rollout),
 * the progress events chat edits into the thread, and the port through which it enqueues its jobs
 * (implemented over BullMQ in src/jobs/deployments).
 */
import { z } from 'zod';
import { MaintenanceWindowSpec } from '../../core/deployments/windows.js';
import type { Logger } from '../../logging/logger.js';
import type { AuditRepository } from '../../db/repositories/audit-repository.js';
import type { DeploymentRepository } from '../../db/repositories/deployment-repository.js';
import type { Executor } from '../../executors/executor.js';
import type { Surface } from '../../db/types.js';

// ---------------------------------------------------------------------------------------------
// settings stored with a deployment

export const StoredHealthCheck = z.object({
  name: z.string(),
  command: z.array(z.string()).min(1).optional(),
  http: z.object({ url: z.string(), expectStatus: z.array(z.number().int()) }).optional(),
  timeoutMs: z.number().int().positive(),
  retries: z.number().int().min(0),
  intervalMs: z.number().int().min(0),
});
export type StoredHealthCheck = z.infer<typeof StoredHealthCheck>;

export const StoredHost = z.object({
  address: z.string(),
  sudo: z.boolean(),
  window: z.string().optional(),
  healthChecks: z.array(StoredHealthCheck).default([]),
  /** pip deployments: the interpreter (policy inventory.python) whose pip installs. */
  python: z.string().optional(),
});
export type StoredHost = z.infer<typeof StoredHost>;

export const DeploymentSettings = z.object({
  installTimeoutMs: z.number().int().positive(),
  /** How often a host whose result is unknown is looked at again (engine timing when missing). */
  recheckMs: z.number().int().positive().optional(),
  commandTimeoutMs: z.number().int().positive(),
  maxOutputBytes: z.number().int().positive(),
  reboot: z.object({
    policy: z.enum(['never', 'if-required', 'always']),
    waitLimitMs: z.number().int().positive(),
  }),
  onFailure: z.enum(['halt', 'rollback']),
  retry: z.object({ attempts: z.number().int().min(0), backoffMs: z.number().int().min(0) }),
  /** Hosts do not wait for their windows (emergency lane). */
  skipWindows: z.boolean(),
  skipSoak: z.boolean(),
  windows: z.array(MaintenanceWindowSpec),
  blackoutDates: z.array(z.object({ from: z.string(), to: z.string() })).default([]),
  hosts: z.record(z.string(), StoredHost),
});
export type DeploymentSettings = z.output<typeof DeploymentSettings>;

/** The `plan` column: the plan as shown by `deploy plan`, and the settings the jobs run with. */
export const StoredPlan = z.object({
  version: z.literal(1),
  change: z.object({
    number: z.number().int(),
    packageName: z.string(),
    fixedVersion: z.string(),
    ecosystem: z.string(),
  }),
  plan: z.unknown(),
  settings: DeploymentSettings,
});
export type StoredPlan = z.output<typeof StoredPlan>;

// ---------------------------------------------------------------------------------------------
// progress events (chat edits the thread from these)

export interface RingRef {
  index: number;
  name: string;
  /** 1-based position and the ring count: "ring 2/3". */
  number: number;
  of: number;
}

interface EventBase {
  deploymentId: string;
  deploymentNumber: number;
  changeRequestId: string;
  changeNumber: number;
  at: Date;
}

export type DeploymentProgressEvent = EventBase &
  (
    | { type: 'scheduled'; emergency: boolean; rings: number; hosts: number; firstStart: Date | null }
    | { type: 'ring_started'; ring: RingRef; hosts: number }
    | { type: 'host_succeeded'; ring: RingRef; host: string; installed: { name: string; version: string }[] }
    | { type: 'host_skipped'; ring: RingRef; host: string; reason: string }
    | {
        type: 'host_failed';
        ring: RingRef;
        host: string;
        step: string;
        /** The first lines of the error, safe to show. */
        error: string;
      }
    | {
        /** An install or rollback was sent and its result not seen: the host is looked at again. */
        type: 'host_unknown';
        ring: RingRef;
        host: string;
        reason: string;
      }
    | {
        type: 'ring_passed';
        ring: RingRef;
        succeeded: number;
        failed: number;
        skipped: number;
        /** When the next ring may start (end of the soak); null after the last ring. */
        soakUntil: Date | null;
      }
    | {
        type: 'ring_halted';
        ring: RingRef;
        reason: string;
        failed: { host: string; error: string }[];
        /** A rollback of the ring's hosts follows (policy deployments.onFailure). */
        rollingBack: boolean;
      }
    | { type: 'completed'; succeeded: number; failed: number; skipped: number }
    | {
        type: 'state_changed';
        action: 'pause' | 'resume' | 'abort' | 'rollback';
        from: string;
        to: string;
        actor: string;
      }
    | {
        type: 'rollback_finished';
        ok: boolean;
        hosts: { host: string; result: 'rolled_back' | 'rollback_failed' | 'unchanged'; detail: string }[];
      }
  );

export type DeploymentProgressType = DeploymentProgressEvent['type'];

/** Hears of everything a deployment does; its errors are logged and never stop the rollout. */
export interface DeploymentProgress {
  emit(event: DeploymentProgressEvent): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// the jobs port

export interface DeploymentScheduler {
  /** One flow for a ring: the ring job (runs when its lanes end) over `lanes` lane jobs. */
  enqueueRing(job: {
    deploymentId: string;
    ringIndex: number;
    generation: number;
    lanes: number;
  }): Promise<void>;
  /** Runs `advance` for the deployment at `at` (by the engine's clock). */
  enqueueAdvance(job: { deploymentId: string; at: Date }): Promise<void>;
  enqueueRollback(job: { deploymentId: string }): Promise<void>;
  /** Whether any job for the deployment is waiting, delayed or running (the reconciler asks). */
  hasPendingJobs(deploymentId: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// dependencies

export interface ExecutorTarget {
  hostId: string | null;
  hostName: string;
}

/** Opens an executor for a host (SSH with its pinned key in production). */
export type ExecutorFactory = (target: ExecutorTarget) => Promise<Executor>;

export interface EngineTiming {
  /**
   * A host whose worker has not written a heartbeat for this long may be taken over: a few missed
   * heartbeats, however long the host's own command runs (a worker that died costs seconds).
   */
  leaseMs: number;
  heartbeatMs: number;
  /** Longest a job sleeps before it looks at the clock again (windows, soak). */
  maxDelayMs: number;
  /** How long a resumed install or rollback waits for the host to show its result. */
  recoverWaitMs: number;
  /** How often a rebooting host is asked whether it is back. */
  rebootPollMs: number;
  /** How often a host whose install or rollback result is unknown is looked at again. */
  recheckMs: number;
}

export const DEFAULT_TIMING: EngineTiming = {
  leaseMs: 15_000,
  heartbeatMs: 5_000,
  maxDelayMs: 15 * 60_000,
  recoverWaitMs: 60_000,
  rebootPollMs: 5_000,
  recheckMs: 30_000,
};

/**
 * A process shutting down (SIGTERM): `draining` while no new host may be claimed; `handBack` aborts
 * once the grace period is over, and hosts still working are handed back to another worker (the
 * commands running on them go on; the next worker reads their result).
 */
export interface ShutdownSignal {
  draining(): boolean;
  handBack: AbortSignal;
}

export interface Actor {
  id: string;
  display?: string;
  surface: Surface;
}

export const SYSTEM_ACTOR: Actor = { id: 'patchbot', surface: 'system' };

export interface EngineDeps {
  deployments: DeploymentRepository;
  audit: AuditRepository;
  scheduler: DeploymentScheduler;
  executors: ExecutorFactory;
  /** The engine's clock: windows, soak and times stored (tests move it). */
  now: () => Date;
  logger: Logger;
  progress?: DeploymentProgress;
  timing?: Partial<EngineTiming>;
  /** Sleeps for retries and polls (real time). */
  sleep?: (ms: number) => Promise<void>;
  /** HTTP health probes. */
  fetch?: typeof fetch;
  shutdown?: ShutdownSignal;
}

export function timingOf(deps: Pick<EngineDeps, 'timing'>): EngineTiming {
  return { ...DEFAULT_TIMING, ...deps.timing };
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
