/**
 * The rollout itself, as the jobs drive it. Every function reads its state from PostgreSQL, does
 * one thing, stores the result, and is safe to run twice (a retried or duplicated job changes
 * nothing the first run did):
 *
 * - startRing: a ring's hosts get their earliest start (the next opening of their maintenance
 *   window, by the engine's clock), then the ring's jobs are enqueued once per generation.
 * - runLane: one of the ring's `concurrency` lanes: claims the ring's next host in a free
 *   concurrency slot (its own lane number first), runs its steps, repeats. The claim finds nothing
 *   once the deployment is paused, halted, aborted or past the ring, and the lane stops; it asks to
 *   be woken later when the next host's window has not opened yet, or when every slot is taken.
 * - finishRing: when the lanes are done, the ring passed (all hosts final, budget kept): soak, then
 *   the next ring, or the deployment completed.
 * - a host failure that takes its ring over the failure budget halts the deployment at once; with
 *   `onFailure: rollback` the ring's changed hosts are rolled back (runRollback).
 * - reconcile: for every deployment that should have jobs but has none in Redis, enqueue them again.
 *
 * What the thread should hear of (ring started, a host failed or unknown, ring passed, halted,
 * completed, rollback finished) is written to the outbox in the same transaction as the state
 * change it reports (`outboxOf`), so a crash loses none of it; the in-process progress listener is
 * told after the change is stored (`emit`).
 */
import { randomUUID } from 'node:crypto';
import {
  evaluateBudget,
  FINAL_DEPLOYMENT_STATUSES,
  type BudgetEvaluation,
} from '../../core/deployments/state.js';
import { earliestStartInWindow } from '../../core/deployments/windows.js';
import { userMessageOf } from '../../core/errors.js';
import type {
  DeploymentRecord,
  HostRunRecord,
  OutboxEntry,
  RingRecord,
} from '../../db/repositories/deployment-repository.js';
import { eventEntry } from '../../db/repositories/event-outbox.js';
import { eventDraftOf } from './events.js';
import { firstLines, runHostRun } from './host-run.js';
import {
  StoredPlan,
  SYSTEM_ACTOR,
  timingOf,
  type Actor,
  type DeploymentProgressEvent,
  type DeploymentSettings,
  type EngineDeps,
  type RingRef,
} from './types.js';

export type LaneResult = { kind: 'done' } | { kind: 'later'; delayMs: number };

export function settingsOf(dep: DeploymentRecord): StoredPlan {
  const parsed = StoredPlan.safeParse(dep.plan);
  if (!parsed.success) {
    throw new Error(
      `deployment #${dep.number} has an unreadable plan: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return parsed.data;
}

export function ringRef(ring: Pick<RingRecord, 'index' | 'name'>, dep: DeploymentRecord): RingRef {
  return { index: ring.index, name: ring.name, number: ring.index + 1, of: dep.state.ringCount };
}

type EventBody = DeploymentProgressEvent extends infer E
  ? E extends DeploymentProgressEvent
    ? Omit<E, 'deploymentId' | 'deploymentNumber' | 'changeRequestId' | 'changeNumber' | 'at'>
    : never
  : never;

/** The outbox kind of deployment progress for a change's chat thread. */
export const CHAT_DEPLOYMENT_OUTBOX = 'chat.deployment';

/** A progress event of `dep`, at the engine's time. */
export function progressEvent(
  deps: EngineDeps,
  dep: DeploymentRecord,
  body: EventBody,
): DeploymentProgressEvent {
  return {
    ...body,
    deploymentId: dep.id,
    deploymentNumber: dep.number,
    changeRequestId: dep.changeRequestId,
    changeNumber: dep.changeNumber,
    at: deps.now(),
  };
}

/** The outbox message that takes `event` to the change's thread (in order per change). */
export function outboxOf(event: DeploymentProgressEvent): OutboxEntry {
  return {
    kind: CHAT_DEPLOYMENT_OUTBOX,
    destination: event.changeRequestId,
    orderKey: `change:${event.changeRequestId}`,
    payload: event,
  };
}

/**
 * The outbox rows of `event`: the chat thread's message and, for progress other systems hear of,
 * the outbound event (events.ts). Written together, in the transaction of the state change.
 */
export function outboxesOf(event: DeploymentProgressEvent): OutboxEntry[] {
  const draft = eventDraftOf(event);
  return draft ? [outboxOf(event), eventEntry(draft)] : [outboxOf(event)];
}

/** Tells the in-process progress listener (after the change is stored); its failures are logged. */
export async function notify(deps: EngineDeps, event: DeploymentProgressEvent): Promise<void> {
  if (!deps.progress) return;
  try {
    await deps.progress.emit(event);
  } catch (err) {
    deps.logger.warn(
      { err, event: event.type, deployment: event.deploymentId },
      'deployment progress listener failed',
    );
  }
}

/** Tells the progress listener of an event that has no outbox message (host successes). */
export async function emit(deps: EngineDeps, dep: DeploymentRecord, body: EventBody): Promise<void> {
  if (!deps.progress) return;
  await notify(deps, progressEvent(deps, dep, body));
}

export async function audit(
  deps: EngineDeps,
  dep: Pick<DeploymentRecord, 'id' | 'number'>,
  action: string,
  details: Record<string, unknown>,
  actor: Actor = SYSTEM_ACTOR,
): Promise<void> {
  await deps.audit.append({
    actor: actor.id,
    actorDisplay: actor.display ?? null,
    surface: actor.surface,
    action,
    subjectType: 'deployment',
    subjectId: dep.id,
    details: { deployment: dep.number, ...details },
  });
}

/** When a host may start at or after `from`: its window's next opening (or `from`); null = never. */
export function hostStart(settings: DeploymentSettings, hostName: string, from: Date): Date | null {
  const windowName = settings.hosts[hostName]?.window;
  if (settings.skipWindows || windowName === undefined) return from;
  const window = settings.windows.find((w) => w.name === windowName);
  if (!window) return from;
  const next = earliestStartInWindow(window, from, { blackoutDates: settings.blackoutDates });
  return next ? next.at : null;
}

// ---------------------------------------------------------------------------------------------

/**
 * Starts a ring (the deployment must be waiting for it or running it): sets each pending host's
 * earliest start from its window, then enqueues the ring's jobs under a new generation. `force`
 * re-enqueues a ring that already started (resume, reconciler).
 */
export async function startRing(
  deps: EngineDeps,
  dep: DeploymentRecord,
  index: number,
  options: { force?: boolean } = {},
): Promise<void> {
  const ring = await deps.deployments.ring(dep.id, index);
  const fresh = ring.state === 'pending';
  if (!fresh && !options.force) return;
  const runs = await deps.deployments.ringHosts(ring.id);
  if (fresh) {
    const { settings } = settingsOf(dep);
    const now = deps.now();
    // One write per distinct start time (hosts of one window share it), not one per host.
    const byStart = new Map<number, string[]>();
    const never: string[] = [];
    const pending = runs.filter((r) => r.state === 'pending');
    for (const run of pending) {
      const start = hostStart(settings, run.hostName, now);
      if (start === null) never.push(run.id);
      else byStart.set(start.getTime(), [...(byStart.get(start.getTime()) ?? []), run.id]);
    }
    for (const [at, ids] of byStart) {
      // usually every host starts at once: one write for the ring, not a list of ids
      await deps.deployments.setPendingNotBefore(
        ring.id,
        ids.length === pending.length ? 'all' : ids,
        new Date(at),
      );
    }
    if (never.length > 0) {
      await deps.deployments.skipPending(
        ring.id,
        'its maintenance window does not open within 400 days',
        now,
        never,
      );
    }
    await deps.deployments.setRingState(ring.id, ['pending'], 'waiting_window', { notBefore: now });
  }
  const generation = await deps.deployments.bumpFlowGeneration(ring.id, ring.flowGeneration);
  if (generation === undefined) return; // someone else enqueued this generation
  const lanes = Math.max(1, Math.min(ring.concurrency, runs.length));
  await deps.scheduler.enqueueRing({ deploymentId: dep.id, ringIndex: index, generation, lanes });
}

const WORKING: ReadonlySet<string> = new Set(['waiting_window', 'running']);

/**
 * One lane of a ring: claims and runs hosts until none is left to claim now. `lane` (the lane's
 * number) is the concurrency slot it asks for first.
 */
export async function runLane(
  deps: EngineDeps,
  input: { deploymentId: string; ringIndex: number; lane?: number; workerId?: string },
): Promise<LaneResult> {
  const timing = timingOf(deps);
  const workerId = input.workerId ?? `lane-${randomUUID()}`;
  // The deployment and the ring are read once per lane job: what a lane uses of them (ids, plan,
  // ring name and budget) does not change, and every claim checks the deployment's live state.
  const context = await deps.deployments.laneContext(input.deploymentId, input.ringIndex);
  if (!context) return { kind: 'done' };
  const { ring } = context;
  let current = context.deployment;
  if (!WORKING.has(current.state.status) || current.state.ring !== input.ringIndex) return { kind: 'done' };
  const { settings } = settingsOf(current);
  // Once this lane saw the ring running (or tried to start it), it does not try again.
  let ringStarted = ring.state !== 'pending' && ring.state !== 'waiting_window';
  let windowOpened = current.state.status !== 'waiting_window';
  const ref = ringRef(ring, current);
  for (;;) {
    // Shutting down: no new host; the lane's job goes back to the queue for another worker.
    if (deps.shutdown?.draining() === true) return { kind: 'later', delayMs: 0 };
    const claim = await deps.deployments.claimNextHost(ring.id, workerId, {
      now: deps.now(),
      realNow: new Date(),
      leaseMs: timing.leaseMs,
      slotHint: (input.lane ?? 0) % Math.max(1, ring.concurrency),
    });
    if (claim.kind === 'done') return { kind: 'done' };
    if (claim.kind === 'busy')
      return { kind: 'later', delayMs: Math.max(250, Math.round(timing.leaseMs / 2)) };
    if (claim.kind === 'recheck')
      return { kind: 'later', delayMs: Math.min(claim.delayMs, timing.maxDelayMs) };
    if (claim.kind === 'wait') {
      const ms = claim.until.getTime() - deps.now().getTime();
      return { kind: 'later', delayMs: Math.max(50, Math.min(ms, timing.maxDelayMs)) };
    }
    if (!windowOpened) {
      windowOpened = true;
      const moved = await deps.deployments.transition(current.id, { type: 'window_open' }, deps.now());
      if (moved.ok) current = moved.record;
    }
    if (!ringStarted) {
      ringStarted = true;
      const size = context.ringSize;
      const started = progressEvent(deps, current, { type: 'ring_started', ring: ref, hosts: size });
      if (
        await deps.deployments.setRingState(
          ring.id,
          ['pending', 'waiting_window'],
          'running',
          { startedAt: deps.now() },
          outboxesOf(started),
        )
      ) {
        await notify(deps, started);
        await audit(deps, current, 'deployment.ring_started', { ring: ring.name, hosts: size });
      }
    }
    const dep = current;
    const outcome = await runHostRun(deps, settings, claim.run, workerId, 'deploy', {
      report: (run) =>
        run.status === 'failed' ? outboxesOf(progressEvent(deps, dep, hostFailedBody(ref, run))) : [],
      reportUnknown: (run, reason) => [
        outboxOf(progressEvent(deps, dep, { type: 'host_unknown', ring: ref, host: run.hostName, reason })),
      ],
    });
    if (outcome.parked !== undefined) {
      await notify(
        deps,
        progressEvent(deps, dep, {
          type: 'host_unknown',
          ring: ref,
          host: outcome.run.hostName,
          reason: outcome.parked,
        }),
      );
      await audit(deps, dep, 'deployment.host_unknown', {
        ring: ring.name,
        host: outcome.run.hostName,
        reason: outcome.parked,
      });
      continue;
    }
    if (!outcome.held) continue;
    await afterHost(deps, current, ring, outcome.run);
  }
}

function hostFailedBody(ring: RingRef, run: HostRunRecord): EventBody {
  return {
    type: 'host_failed',
    ring,
    host: run.hostName,
    step: run.step ?? '',
    error: firstLines(run.error ?? 'failed'),
  };
}

/** A ring's failures against its budget, from its hosts' stored states. */
function ringBudget(ring: RingRecord, runs: readonly { state: string }[]): BudgetEvaluation {
  return evaluateBudget(
    { size: runs.length, failureBudget: ring.failureBudget },
    runs.map((r) => ({ status: r.state })),
  );
}

async function afterHost(
  deps: EngineDeps,
  dep: DeploymentRecord,
  ring: RingRecord,
  run: HostRunRecord,
): Promise<void> {
  const ref = ringRef(ring, dep);
  if (run.status === 'succeeded') {
    await emit(deps, dep, {
      type: 'host_succeeded',
      ring: ref,
      host: run.hostName,
      installed: run.targets.map((t) => ({ name: t.name, version: t.version })),
    });
    return;
  }
  if (run.status === 'skipped') {
    await emit(deps, dep, { type: 'host_skipped', ring: ref, host: run.hostName, reason: run.error ?? '' });
    return;
  }
  if (run.status !== 'failed') return;
  const error = firstLines(run.error ?? 'failed');
  // its outbox message was written with the host's final state
  await emit(deps, dep, hostFailedBody(ref, run));
  await audit(deps, dep, 'deployment.host_failed', {
    ring: ring.name,
    host: run.hostName,
    step: run.step,
    error,
  });
  const budget = ringBudget(ring, await deps.deployments.ringHosts(ring.id));
  if (budget.exceeded) {
    const reason = `ring ${ring.name}: ${budget.failed} of ${budget.size} host(s) failed, over the failure budget of ${'count' in ring.failureBudget ? ring.failureBudget.count : `${ring.failureBudget.percent}%`}`;
    await haltRing(deps, dep.id, ring, reason);
  }
}

/** Halts the deployment over a ring's failures; with onFailure: rollback, starts the rollback. */
export async function haltRing(
  deps: EngineDeps,
  deploymentId: string,
  ring: RingRecord,
  reason: string,
): Promise<void> {
  const now = deps.now();
  const failed = (await deps.deployments.hostRuns(ring.id))
    .filter((r) => r.status === 'failed')
    .map((r) => ({ host: r.hostName, error: firstLines(r.error ?? '') }));
  let event: DeploymentProgressEvent | undefined;
  let rollingBack = false;
  const halted = await deps.deployments.transition(
    deploymentId,
    { type: 'budget_exceeded', reason },
    now,
    [
      {
        ringId: ring.id,
        from: ['pending', 'waiting_window', 'running'],
        to: 'halted',
        data: { finishedAt: now },
      },
    ],
    (record) => {
      rollingBack = settingsOf(record).settings.onFailure === 'rollback';
      event = progressEvent(deps, record, {
        type: 'ring_halted',
        ring: ringRef(ring, record),
        reason,
        failed,
        rollingBack,
      });
      return outboxesOf(event);
    },
  );
  if (!halted.ok) return; // already halted (another lane) or stopped by a person
  const dep = halted.record;
  const skipped = await deps.deployments.skipPending(ring.id, 'not started: the deployment halted', now);
  await audit(deps, dep, 'deployment.halted', { ring: ring.name, reason, skipped });
  if (event) await notify(deps, event);
  if (rollingBack) await beginRollback(deps, dep, [ring.index], SYSTEM_ACTOR);
}

/**
 * Moves the deployment to rolling_back (from halted, paused, aborted, completed, rollback_failed),
 * marks the rings in scope, and enqueues the rollback job.
 */
export async function beginRollback(
  deps: EngineDeps,
  dep: DeploymentRecord,
  ringIndexes: readonly number[] | 'all',
  actor: Actor,
  outbox: (record: DeploymentRecord) => readonly OutboxEntry[] = () => [],
): Promise<{ ok: true; record: DeploymentRecord } | { ok: false; error: string }> {
  const moved = await deps.deployments.transition(dep.id, { type: 'rollback' }, deps.now(), [], outbox);
  if (!moved.ok) return moved;
  await deps.deployments.resetFailedRollbacks(dep.id);
  const detail = await deps.deployments.detail(dep.id);
  const now = deps.now();
  for (const ring of detail.rings) {
    const inScope =
      ringIndexes === 'all'
        ? ring.hosts.some((h) => h.installSentAt !== null)
        : ringIndexes.includes(ring.index);
    if (!inScope) continue;
    await deps.deployments.skipPending(ring.id, 'not started: the deployment is rolled back', now);
    await deps.deployments.setRingState(
      ring.id,
      [
        'pending',
        'waiting_window',
        'running',
        'soaking',
        'passed',
        'failed',
        'halted',
        'rolled_back',
        'rolling_back',
      ],
      'rolling_back',
    );
  }
  await audit(deps, moved.record, 'deployment.rollback_started', { rings: ringIndexes }, actor);
  await deps.scheduler.enqueueRollback({ deploymentId: dep.id });
  return { ok: true, record: moved.record };
}

/** When every lane of a ring is done: pass the ring (soak, next ring) or re-enqueue what is left. */
export async function finishRing(
  deps: EngineDeps,
  input: { deploymentId: string; ringIndex: number },
): Promise<void> {
  const dep = await deps.deployments.get(input.deploymentId);
  if (!WORKING.has(dep.state.status) || dep.state.ring !== input.ringIndex) return;
  const ring = await deps.deployments.ring(dep.id, input.ringIndex);
  const runs = await deps.deployments.ringHosts(ring.id);
  const open = runs.filter((r) => r.state === 'pending' || r.state === 'running' || r.state === 'unknown');
  if (open.length > 0) {
    // Lanes ended with hosts left (a lane job failed for good, a worker died, or lanes of another
    // generation still hold hosts). Hosts whose lease still runs are looked at again when it could
    // have run out; otherwise new lanes take the ring's hosts over now.
    const { leaseMs } = timingOf(deps);
    const realNow = Date.now();
    const leaseEnds = open.map((r) =>
      (r.state === 'running' || r.state === 'unknown') && r.workerId !== null && r.heartbeatAt !== null
        ? r.heartbeatAt.getTime() + leaseMs
        : r.state === 'unknown' && r.notBefore !== null
          ? r.notBefore.getTime()
          : 0,
    );
    const firstEnd = Math.min(...leaseEnds);
    if (firstEnd > realNow) {
      await deps.scheduler.enqueueAdvance({
        deploymentId: dep.id,
        at: new Date(deps.now().getTime() + (firstEnd - realNow) + 50),
      });
      return;
    }
    await startRing(deps, dep, input.ringIndex, { force: true });
    return;
  }
  const budget = ringBudget(ring, runs);
  if (budget.exceeded) {
    await haltRing(
      deps,
      dep.id,
      ring,
      `ring ${ring.name}: ${budget.failed} of ${budget.size} host(s) failed, over the failure budget`,
    );
    return;
  }
  const { settings } = settingsOf(dep);
  const now = deps.now();
  const soakMs = settings.skipSoak ? 0 : ring.soakSeconds * 1000;
  const last = ring.index + 1 >= dep.state.ringCount;
  const soakUntil = last ? null : new Date(now.getTime() + soakMs);
  const counts = {
    succeeded: runs.filter((r) => r.state === 'succeeded').length,
    failed: runs.filter((r) => r.state === 'failed').length,
    skipped: runs.filter((r) => r.state === 'skipped').length,
  };
  // the deployment's totals when this is the last ring (host states no longer change)
  const totals = last
    ? await deps.deployments.hostStateCounts(dep.id).then((all) => ({
        succeeded: all.succeeded ?? 0,
        failed: all.failed ?? 0,
        skipped: all.skipped ?? 0,
      }))
    : undefined;
  const events: DeploymentProgressEvent[] = [];
  const passed = await deps.deployments.transition(
    dep.id,
    { type: 'ring_passed' },
    now,
    [
      {
        ringId: ring.id,
        from: ['pending', 'waiting_window', 'running'],
        to: last ? 'passed' : 'soaking',
        data: { finishedAt: now, soakUntil },
      },
    ],
    (record) => {
      events.push(
        progressEvent(deps, record, {
          type: 'ring_passed',
          ring: ringRef(ring, record),
          ...counts,
          soakUntil,
        }),
      );
      if (totals) events.push(progressEvent(deps, record, { type: 'completed', ...totals }));
      return events.flatMap(outboxesOf);
    },
  );
  if (!passed.ok) return;
  await audit(deps, passed.record, 'deployment.ring_passed', { ring: ring.name, ...counts });
  if (totals) await audit(deps, passed.record, 'deployment.completed', totals);
  for (const e of events) await notify(deps, e);
  if (last) return;
  await deps.scheduler.enqueueAdvance({ deploymentId: dep.id, at: soakUntil ?? now });
}

/**
 * Moves a deployment on when its clock says so: the end of a soak starts the next ring; a
 * deployment waiting for or running a ring gets that ring's jobs when they are missing.
 */
export async function advance(deps: EngineDeps, input: { deploymentId: string }): Promise<LaneResult> {
  const timing = timingOf(deps);
  const dep = await deps.deployments.get(input.deploymentId);
  if (dep.state.status === 'soaking') {
    const ring = await deps.deployments.ring(dep.id, dep.state.ring);
    const until = ring.soakUntil?.getTime() ?? 0;
    const left = until - deps.now().getTime();
    if (left > 0) return { kind: 'later', delayMs: Math.min(left, timing.maxDelayMs) };
    const moved = await deps.deployments.transition(dep.id, { type: 'soak_done' }, deps.now(), [
      { ringId: ring.id, from: ['soaking'], to: 'passed' },
    ]);
    if (!moved.ok) return { kind: 'done' };
    await startRing(deps, moved.record, moved.record.state.ring);
    return { kind: 'done' };
  }
  if (WORKING.has(dep.state.status)) {
    const ring = await deps.deployments.ring(dep.id, dep.state.ring);
    await startRing(deps, dep, dep.state.ring, { force: ring.state !== 'pending' });
  }
  return { kind: 'done' };
}

/**
 * Rolls back the host runs of the rings marked rolling_back: each host whose install was sent goes
 * back to its pre-baseline versions (or says why it cannot). Waits while hosts of those rings are
 * still being deployed. Ends the deployment rolled_back, or rollback_failed when a host could not
 * be restored.
 */
export async function runRollback(
  deps: EngineDeps,
  input: { deploymentId: string; workerId?: string },
): Promise<LaneResult> {
  const timing = timingOf(deps);
  const workerId = input.workerId ?? `rollback-${randomUUID()}`;
  const dep = await deps.deployments.get(input.deploymentId);
  if (dep.state.status !== 'rolling_back') return { kind: 'done' };
  if (deps.shutdown?.draining() === true) return { kind: 'later', delayMs: 0 };
  const { settings } = settingsOf(dep);
  const detail = await deps.deployments.detail(dep.id);
  const rings = detail.rings.filter((r) => r.state === 'rolling_back');
  const runs = rings.flatMap((r) => r.hosts);
  const expiry = Date.now() - timing.leaseMs;
  const busy = (r: HostRunRecord): boolean =>
    (r.state === 'running' || r.state === 'rolling_back' || r.state === 'unknown') &&
    r.workerId !== null &&
    (r.heartbeatAt?.getTime() ?? 0) >= expiry;
  if (runs.some((r) => r.state === 'running' && busy(r))) {
    return { kind: 'later', delayMs: 1_000 };
  }
  let waiting = false;
  let recheckAt = Infinity;
  const concurrency = Math.max(1, ...rings.map((r) => r.concurrency));
  const todo = runs.filter(
    (r) => r.installSentAt !== null && !['rolled_back', 'skipped', 'pending'].includes(r.state),
  );
  const queue = [...todo];
  const worker = async (): Promise<void> => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      if (run.state === 'rollback_failed' && run.rollbackSentAt !== null) continue;
      // an unknown host is looked at again when it is due
      if (run.state === 'unknown' && run.workerId === null && (run.notBefore?.getTime() ?? 0) > Date.now()) {
        recheckAt = Math.min(recheckAt, run.notBefore?.getTime() ?? 0);
        continue;
      }
      const claimed = await deps.deployments.claimForRollback(run.id, workerId, {
        realNow: new Date(),
        leaseMs: timing.leaseMs,
      });
      if (!claimed) {
        if (busy(run)) waiting = true;
        continue;
      }
      if (claimed.state === 'running') continue;
      const outcome = await runHostRun(deps, settings, claimed, workerId, 'rollback');
      if (outcome.parked !== undefined) {
        recheckAt = Math.min(recheckAt, Date.now() + (settings.recheckMs ?? timing.recheckMs));
        continue;
      }
      if (outcome.held) await deps.deployments.release(claimed.id, workerId);
      else waiting = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, queue.length)) }, () => worker()));
  if (waiting) return { kind: 'later', delayMs: 1_000 };
  if (recheckAt !== Infinity) return { kind: 'later', delayMs: Math.max(50, recheckAt - Date.now()) };
  const after = (await deps.deployments.detail(dep.id)).rings.filter((r) => r.state === 'rolling_back');
  const finalRuns = after.flatMap((r) => r.hosts);
  if (finalRuns.some((r) => r.state === 'rolling_back' || r.state === 'unknown')) {
    return { kind: 'later', delayMs: 1_000 };
  }
  const hosts = finalRuns.map((r) => ({
    host: r.hostName,
    result:
      r.state === 'rolled_back'
        ? ('rolled_back' as const)
        : r.state === 'rollback_failed'
          ? ('rollback_failed' as const)
          : ('unchanged' as const),
    detail:
      r.state === 'rolled_back'
        ? `restored ${(r.rollbackReport ?? []).map((e) => `${e.name} ${e.to ?? ''}`).join(', ')}`.trim()
        : r.state === 'rollback_failed'
          ? firstLines(r.rollbackError ?? r.error ?? 'could not be restored')
          : r.installSentAt === null
            ? 'nothing was installed on this host'
            : `left as ${r.state}`,
  }));
  const ok = hosts.every((h) => h.result !== 'rollback_failed');
  const now = deps.now();
  let event: DeploymentProgressEvent | undefined;
  const moved = await deps.deployments.transition(
    dep.id,
    { type: ok ? 'rollback_done' : 'rollback_failed' },
    now,
    ok
      ? after.map((r) => ({
          ringId: r.id,
          from: ['rolling_back'] as const,
          to: 'rolled_back' as const,
          data: { finishedAt: now },
        }))
      : [],
    (record) => {
      event = progressEvent(deps, record, { type: 'rollback_finished', ok, hosts });
      return outboxesOf(event);
    },
  );
  if (!moved.ok) return { kind: 'done' };
  await audit(deps, moved.record, ok ? 'deployment.rolled_back' : 'deployment.rollback_failed', { hosts });
  if (event) await notify(deps, event);
  return { kind: 'done' };
}

/**
 * Re-creates the jobs of every deployment that should have some but has none (Redis lost them, a
 * job failed for good). Returns the deployments it re-drove.
 */
export async function reconcile(deps: EngineDeps): Promise<{ deployment: number; state: string }[]> {
  const out: { deployment: number; state: string }[] = [];
  for (const dep of await deps.deployments.inFlight()) {
    if (FINAL_DEPLOYMENT_STATUSES.has(dep.state.status)) continue;
    if (await deps.scheduler.hasPendingJobs(dep.id)) continue;
    try {
      if (dep.state.status === 'soaking') {
        const ring = await deps.deployments.ring(dep.id, dep.state.ring);
        await deps.scheduler.enqueueAdvance({ deploymentId: dep.id, at: ring.soakUntil ?? deps.now() });
      } else if (dep.state.status === 'rolling_back') {
        await deps.scheduler.enqueueRollback({ deploymentId: dep.id });
      } else {
        const ring = await deps.deployments.ring(dep.id, dep.state.ring);
        await startRing(deps, dep, dep.state.ring, { force: ring.state !== 'pending' });
      }
      out.push({ deployment: dep.number, state: dep.state.status });
      await audit(deps, dep, 'deployment.reconciled', { state: dep.state.status, ring: dep.state.ring });
    } catch (err) {
      deps.logger.error({ err, deployment: dep.id }, 'reconciling a deployment failed');
      out.push({ deployment: dep.number, state: `error: ${userMessageOf(err)}` });
    }
  }
  return out;
}
