/**
 * Deployments in chat:
 *
 * - createDeploymentPort: what the approval use case calls. An approved change is planned and
 *   scheduled (normal lane unless the change asks for the emergency lane and the policy allows it
 *   for the change); the campaign message's Pause, Resume, Abort and Roll back buttons act on the
 *   change's deployment.
 * - createChatProgress: the engine's progress listener. Every event re-renders the campaign message
 *   (its state line shows scheduled / deploying ring n/m / paused / halted / done / failed) and the
 *   thread gets ring-by-ring replies: ring started, ring passed with counts, each failure with its
 *   host and the first lines of the error at once, a halt (mentioning the approvers), the rollback
 *   result saying plainly what could not be rolled back, completion. Host successes are not
 *   replied one by one: the ring's reply counts them (a 200-host ring is one reply).
 * - deploymentCampaignState: the campaign state a deployment stands for (the campaign view uses it).
 *
 * Chat work never holds up the rollout. What the thread must hear of reaches it through the outbox,
 * written with the state change it reports: `deliver` is called by the outbox relay of any worker,
 * in order per change, and retried until the reply goes out. Only the paced edits for host
 * successes are sent from memory (the next edit shows the same state anyway).
 */
import { TZDate } from '@date-fns/tz';
import { format } from 'date-fns';
import { z } from 'zod';
import type {
  CampaignState,
  ChatMention,
  DeploymentHostLine,
  DeploymentProgressView,
} from '../../bot/views/index.js';
import { NotFoundError } from '../../core/errors.js';
import type {
  DeploymentDetail,
  DeploymentRecord,
  DeploymentRepository,
} from '../../db/repositories/deployment-repository.js';
import type { Logger } from '../../logging/logger.js';
import type {
  CampaignMessenger,
  DecisionActor,
  DeploymentControl,
  DeploymentPort,
} from '../approvals/ports.js';
import { settingsOf } from './engine.js';
import { deploymentControl, emergencyProblem, scheduleDeployment, type ServiceDeps } from './service.js';
import { StoredPlan, type DeploymentProgress, type DeploymentProgressEvent } from './types.js';

// ---------------------------------------------------------------------------------------------
// times in sentences

/** "2026-12-05 02:00 Europe/Berlin" (UTC without a time zone). */
export function formatAt(at: Date, timeZone = 'UTC'): string {
  try {
    return `${format(new TZDate(at.getTime(), timeZone), 'yyyy-MM-dd HH:mm')} ${timeZone}`;
  } catch {
    return `${format(new TZDate(at.getTime(), 'UTC'), 'yyyy-MM-dd HH:mm')} UTC`;
  }
}

const StoredPlanView = z.object({
  rings: z
    .array(
      z.object({
        start: z.coerce.date().nullable(),
        hosts: z.array(z.object({ name: z.string(), window: z.string().optional() })),
      }),
    )
    .default([]),
});

/** When the first ring starts and in which window's time zone, from the stored plan. */
export function firstRingStart(
  stored: Pick<StoredPlan, 'plan' | 'settings'>,
): { at: Date; timeZone?: string; window?: string } | undefined {
  const plan = StoredPlanView.safeParse(stored.plan);
  const ring = plan.success ? plan.data.rings[0] : undefined;
  if (!ring?.start) return undefined;
  const windowName = ring.hosts.map((h) => h.window).find((w) => w !== undefined);
  const window = stored.settings.windows.find((w) => w.name === windowName);
  return {
    at: ring.start,
    ...(window ? { timeZone: window.timeZone, window: window.name } : {}),
  };
}

function scheduledSentence(
  dep: Pick<DeploymentRecord, 'number' | 'plan' | 'emergency'>,
  counts: { rings: number; hosts: number },
  now: Date,
): string {
  const parsed = StoredPlan.safeParse(dep.plan);
  const first = parsed.success ? firstRingStart(parsed.data) : undefined;
  const when =
    !first || first.at.getTime() <= now.getTime() + 60_000
      ? 'first ring starts now'
      : `first ring at ${formatAt(first.at, first.timeZone)}`;
  const lane = dep.emergency
    ? parsed.success && parsed.data.settings.skipWindows
      ? ' (emergency lane: hosts do not wait for their maintenance windows)'
      : ' (emergency lane)'
    : '';
  return `Deployment #${dep.number} scheduled${lane}: ${plural(counts.rings, 'ring')}, ${plural(counts.hosts, 'host')}, ${when}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const words = (s: string): string => s.replaceAll('_', ' ');

// ---------------------------------------------------------------------------------------------
// the port the approval use case calls

export type DeploymentPortDeps = ServiceDeps;

/**
 * The deployment side of the approval use case. `approved` plans and schedules the change and
 * answers one sentence for its thread ("Deployment #3 scheduled: 3 rings, 7 hosts, first ring at
 * 2026-12-05 02:00 Europe/Berlin."); a change that cannot be scheduled throws a PatchbotError whose
 * message is safe to show, and stays approved. `control` acts on the change's deployment: pause,
 * resume and abort need one that is under way; roll back also takes the latest one that finished
 * (completed, aborted, or a rollback that failed and can be tried again). The approval use case
 * writes both answers into the thread, so the progress listener does not repeat them.
 */
export function createDeploymentPort(deps: DeploymentPortDeps): DeploymentPort {
  return {
    async approved(changeId: string, actor: DecisionActor): Promise<{ summary: string }> {
      const change = await deps.deployments.changeForDeployment(changeId);
      // approval outside patchbot (the CAB): the change stays approved and waits; the gate's
      // poller hands it over again once it is given
      const held = await deps.gate?.holds(change.id);
      if (held) return { summary: `${held.summary}.` };
      let emergency = false;
      let laneNote = '';
      if (change.emergency) {
        const ids = new Set(change.findings.map((f) => f.hostId));
        const hosts = (await deps.hosts.list()).filter((h) => ids.has(h.id));
        const problem = emergencyProblem(deps.policy, change, hosts);
        if (problem === undefined) emergency = true;
        else laneNote = ` Normal lane: ${problem}.`;
      }
      const result = await scheduleDeployment(deps, { changeId: change.id, emergency, actor });
      const hosts = result.deployment.rings.reduce((n, r) => n + r.hosts.length, 0);
      const sentence = scheduledSentence(
        result.deployment,
        { rings: result.deployment.rings.length, hosts },
        deps.now(),
      );
      const warnings = result.warnings.length > 0 ? ` Note: ${result.warnings.join('; ')}.` : '';
      return { summary: `${sentence}.${laneNote}${warnings}` };
    },

    async control(
      changeId: string,
      action: DeploymentControl,
      actor: DecisionActor,
    ): Promise<{ message: string }> {
      const change = await deps.deployments.changeRef(changeId);
      const active = await deps.deployments.activeForChange(change.id);
      let target: DeploymentRecord | undefined = active[0];
      if (!target && action === 'rollback') target = await deps.deployments.latestForChange(change.id);
      if (!target) {
        const what: Record<DeploymentControl, string> = {
          pause: 'pause',
          resume: 'resume',
          abort: 'abort',
          rollback: 'roll back',
        };
        throw new NotFoundError(
          action === 'rollback'
            ? `change #${change.number} has no deployment to roll back`
            : `change #${change.number} has no deployment under way to ${what[action]}`,
          { details: { change: change.number, action } },
        );
      }
      const result = await deploymentControl(deps, { deploymentId: target.id, action, actor });
      return { message: result.message };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the campaign state of a deployment

const FINAL_HOST = new Set(['succeeded', 'failed', 'skipped', 'rolled_back', 'rollback_failed']);

/** The campaign message's state for a deployment (the live one, or the last one of the change). */
export function deploymentCampaignState(d: DeploymentDetail, now: Date): CampaignState {
  const s = d.state;
  const ring = d.rings[s.ring] ?? d.rings[0];
  const hosts = d.rings.flatMap((r) => r.hosts);
  const deployment = d.number;
  const haltAt = (): Date => ring?.finishedAt ?? d.finishedAt ?? now;
  switch (s.status) {
    case 'planned':
    case 'waiting_window':
    case 'running':
    case 'soaking': {
      const started = hosts.some((h) => h.startedAt !== null);
      if (!started && s.ring === 0) {
        const pending = (ring?.hosts ?? []).filter((h) => h.status === 'pending');
        const starts = pending
          .map((h) => h.notBefore)
          .filter((t): t is Date => t !== null)
          .sort((a, b) => a.getTime() - b.getTime());
        const startsAt = starts[0] ?? ring?.notBefore ?? undefined;
        let window: string | undefined;
        try {
          const settings = settingsOf(d).settings;
          window = pending.map((h) => settings.hosts[h.hostName]?.window).find((w) => w !== undefined);
        } catch {
          window = undefined;
        }
        return {
          kind: 'scheduled',
          deployment,
          ...(startsAt ? { startsAt } : {}),
          ...(window ? { window } : {}),
        };
      }
      return {
        kind: 'deploying',
        deployment,
        ring: s.ring + 1,
        rings: s.ringCount,
        ...(ring ? { ringName: ring.name } : {}),
        hostsDone: hosts.filter((h) => FINAL_HOST.has(h.status)).length,
        hostsTotal: hosts.length,
        ...(s.status === 'soaking' && ring?.soakUntil ? { soakUntil: ring.soakUntil } : {}),
      };
    }
    case 'paused':
      return {
        kind: 'halted',
        deployment,
        paused: true,
        at: d.pausedAt ?? now,
        reason: `paused in ring ${s.ring + 1}/${s.ringCount}${ring ? ` (${ring.name})` : ''}; press Resume to go on`,
      };
    case 'halted':
      return { kind: 'halted', deployment, at: haltAt(), reason: s.haltReason ?? 'halted' };
    case 'rolling_back':
      return {
        kind: 'halted',
        deployment,
        rollingBack: true,
        at: haltAt(),
        reason: s.haltReason
          ? `rolling back the changed hosts after: ${s.haltReason}`
          : 'rolling back the changed hosts',
      };
    case 'rolled_back':
      return {
        kind: 'failed',
        deployment,
        at: d.finishedAt ?? now,
        reason: `rolled back: ${hosts.filter((h) => h.status === 'rolled_back').length} host(s) have their previous versions again${s.haltReason ? ` (halted: ${s.haltReason})` : ''}`,
      };
    case 'rollback_failed':
      return {
        kind: 'failed',
        deployment,
        canRollBack: true,
        at: d.finishedAt ?? now,
        reason: `the rollback could not restore ${plural(hosts.filter((h) => h.status === 'rollback_failed').length, 'host')} (see the thread); press Roll back to try again`,
      };
    case 'aborted': {
      const changed = hosts.some((h) => h.installSentAt !== null && h.status !== 'rolled_back');
      return {
        kind: 'failed',
        deployment,
        at: d.finishedAt ?? now,
        ...(changed ? { canRollBack: true } : {}),
        reason: changed
          ? 'aborted; hosts already patched keep the new version until rolled back'
          : 'aborted before any host was changed',
      };
    }
    case 'completed':
      return {
        kind: 'done',
        deployment,
        at: d.finishedAt ?? now,
        hostsPatched: hosts.filter((h) => h.status === 'succeeded').length,
      };
  }
}

/** The state of the change's latest deployment, or undefined when it has none. */
export async function campaignDeploymentState(
  deployments: Pick<DeploymentRepository, 'latestForChange' | 'detail'>,
  changeId: string,
  now: Date,
): Promise<CampaignState | undefined> {
  const latest = await deployments.latestForChange(changeId);
  if (!latest) return undefined;
  return deploymentCampaignState(await deployments.detail(latest.id), now);
}

// ---------------------------------------------------------------------------------------------
// progress into the thread

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;
const ENTRA_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An approval rule's approvers (user and group ids as the policy resolves them) as mentions: Slack
 * user ids (U…/W…) and user groups (S…), Entra object ids for Teams. Other ids are left out.
 */
export function approverMentions(set: {
  users: readonly string[];
  groups: readonly string[];
}): ChatMention[] {
  const out: ChatMention[] = [];
  for (const id of set.users) {
    if (SLACK_USER_ID.test(id)) out.push({ platform: 'slack', kind: 'user', id });
    else if (ENTRA_ID.test(id)) out.push({ platform: 'teams', kind: 'user', id });
  }
  for (const id of set.groups) {
    if (SLACK_GROUP_ID.test(id)) out.push({ platform: 'slack', kind: 'group', id });
    else if (ENTRA_ID.test(id)) out.push({ platform: 'teams', kind: 'group', id });
  }
  return out;
}

export interface ChatProgressOptions {
  deployments: Pick<DeploymentRepository, 'get' | 'approversOf'>;
  logger: Logger;
  /** Called when an event with an outbox message was stored (the outbox relay looks at once). */
  onStored?: () => void;
  /**
   * People and groups a halt notifies besides those who approved the change (e.g. the approval
   * rule's approver groups). Those who approved are always mentioned.
   */
  approvers?: (changeId: string) => Promise<ChatMention[]>;
  /** Least time between two edits of a campaign message caused by host successes (default 5 s). */
  refreshIntervalMs?: number;
  /** Real time, for the edit pacing (default Date.now). */
  clock?: () => number;
}

export interface ChatProgress extends DeploymentProgress {
  /**
   * Sends an event's edit and reply (an outbox message): resolves once the reply went out, throws
   * when it could not (the relay tries again). A failed edit is only logged: the next one shows
   * the state.
   */
  deliver(event: DeploymentProgressEvent): Promise<void>;
  /** Resolves when every paced edit queued so far went out (or failed and was logged). */
  flush(): Promise<void>;
  /** Sends what is queued, then stops pacing edits. */
  close(): Promise<void>;
}

const RING_LABEL = (ring: { number: number; of: number; name: string }): string =>
  `ring ${ring.number}/${ring.of} (${ring.name})`;

const capital = (s: string): string => (s === '' ? s : `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`);

/**
 * The engine's progress listener over a CampaignMessenger: edits the campaign message on every
 * event (host successes at most once per `refreshIntervalMs`) and replies in its thread.
 */
export function createChatProgress(
  messenger: CampaignMessenger | (() => CampaignMessenger | undefined),
  options: ChatProgressOptions,
): ChatProgress {
  const log = options.logger.child({ name: 'deployment-chat' });
  const interval = options.refreshIntervalMs ?? 5_000;
  const clock = options.clock ?? Date.now;
  const current = (): CampaignMessenger | undefined =>
    typeof messenger === 'function' ? messenger() : messenger;
  const chains = new Map<string, Promise<void>>();
  const lastRefresh = new Map<string, number>();
  const trailing = new Map<string, ReturnType<typeof setTimeout>>();
  let closed = false;

  /** Runs `work` after the change's earlier paced edits (in order); failures are logged. */
  const enqueue = (changeId: string, what: string, work: (m: CampaignMessenger) => Promise<void>): void => {
    const previous = chains.get(changeId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const m = current();
      if (!m) return;
      try {
        await work(m);
      } catch (err) {
        log.warn({ err, change: changeId, what }, 'deployment progress could not be sent to chat');
      }
    });
    chains.set(changeId, next);
    void next.then(() => {
      if (chains.get(changeId) === next) chains.delete(changeId);
    });
  };

  const refreshNow = (changeId: string): void => {
    const t = trailing.get(changeId);
    if (t) {
      clearTimeout(t);
      trailing.delete(changeId);
    }
    lastRefresh.set(changeId, clock());
    enqueue(changeId, 'refresh', (m) => m.refresh(changeId));
  };

  const refreshPaced = (changeId: string): void => {
    if (trailing.has(changeId)) return;
    const wait = (lastRefresh.get(changeId) ?? -Infinity) + interval - clock();
    if (wait <= 0 || closed) {
      refreshNow(changeId);
      return;
    }
    const t = setTimeout(() => {
      trailing.delete(changeId);
      refreshNow(changeId);
    }, wait);
    t.unref();
    trailing.set(changeId, t);
  };

  const mentionsFor = async (changeId: string): Promise<ChatMention[]> => {
    const out: ChatMention[] = [];
    try {
      for (const a of await options.deployments.approversOf(changeId)) {
        if (a.surface !== 'slack' && a.surface !== 'teams') continue;
        out.push({
          platform: a.surface,
          kind: 'user',
          id: a.actorId,
          ...(a.actorDisplay ? { name: a.actorDisplay } : {}),
        });
      }
      if (options.approvers) out.push(...(await options.approvers(changeId)));
    } catch (err) {
      log.warn({ err, change: changeId }, 'could not look up the approvers to notify');
    }
    const seen = new Set<string>();
    return out.filter((m) => {
      const key = `${m.platform}:${m.kind}:${m.id}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
  };

  const viewOf = (
    e: DeploymentProgressEvent,
    tone: DeploymentProgressView['tone'],
    text: string,
    extra: Pick<DeploymentProgressView, 'hosts' | 'detail'> = {},
  ): DeploymentProgressView => ({
    type: 'deployment-progress',
    changeId: e.changeRequestId,
    changeNumber: e.changeNumber,
    deployment: e.deploymentNumber,
    tone,
    text,
    ...extra,
    at: e.at,
  });

  /** What an event does in chat: an edit of the campaign message and a reply in its thread. */
  const planOf = (e: DeploymentProgressEvent): ChatPlan => {
    switch (e.type) {
      case 'scheduled':
      case 'state_changed':
        // The approval use case writes the port's answer into the thread; the message shows the state.
        return { refresh: true };
      case 'ring_started':
        return {
          refresh: true,
          reply: viewOf(e, 'info', `${capital(RING_LABEL(e.ring))} started: ${plural(e.hosts, 'host')}.`),
        };
      case 'host_succeeded':
      case 'host_skipped':
        // Counted in the ring's reply; the message shows the running count.
        return { refresh: false };
      case 'host_failed':
        return {
          refresh: true,
          reply: viewOf(
            e,
            'warning',
            `${capital(RING_LABEL(e.ring))}: ${e.host} failed in step ${words(e.step)}.`,
            {
              hosts: [{ host: e.host, outcome: 'failed', detail: e.error }],
            },
          ),
        };
      case 'host_unknown':
        return {
          refresh: true,
          reply: viewOf(
            e,
            'warning',
            `${capital(RING_LABEL(e.ring))}: ${e.host}: ${e.reason}. Its result is unknown for now: patchbot looks at the host again and never interrupts its package manager.`,
          ),
        };
      case 'ring_passed': {
        const next =
          e.soakUntil === null
            ? ''
            : e.soakUntil.getTime() <= e.at.getTime()
              ? ` Ring ${e.ring.number + 1}/${e.ring.of} starts now.`
              : ` Ring ${e.ring.number + 1}/${e.ring.of} starts after the soak, at ${formatAt(e.soakUntil)}.`;
        return {
          refresh: true,
          reply: viewOf(
            e,
            e.failed > 0 ? 'warning' : 'success',
            `${capital(RING_LABEL(e.ring))} passed: ${e.succeeded} succeeded, ${e.failed} failed, ${e.skipped} skipped.${next}`,
          ),
        };
      }
      case 'ring_halted': {
        const hosts: DeploymentHostLine[] = e.failed.map((f) => ({
          host: f.host,
          outcome: 'failed',
          detail: f.error,
        }));
        return {
          refresh: true,
          mention: true,
          reply: viewOf(
            e,
            'error',
            `Deployment #${e.deploymentNumber} halted in ${RING_LABEL(e.ring)}: ${e.reason}.`,
            {
              hosts,
              detail: e.rollingBack
                ? "No further host starts. The ring's changed hosts are being rolled back to their previous versions; the result follows here."
                : 'No further host starts. Press Roll back to restore the hosts it changed, or Abort to stop here.',
            },
          ),
        };
      }
      case 'rollback_finished': {
        const order = { rollback_failed: 0, rolled_back: 1, unchanged: 2 } as const;
        const hosts: DeploymentHostLine[] = [...e.hosts]
          .sort((a, b) => order[a.result] - order[b.result] || a.host.localeCompare(b.host))
          .map((h) => ({ host: h.host, outcome: h.result, detail: h.detail }));
        const restored = e.hosts.filter((h) => h.result === 'rolled_back').length;
        const failed = e.hosts.filter((h) => h.result === 'rollback_failed');
        if (e.ok) {
          return {
            refresh: true,
            endPacing: true,
            reply: viewOf(
              e,
              'success',
              `Rollback of deployment #${e.deploymentNumber} finished: ${plural(restored, 'host')} restored to the versions they had before.`,
              { hosts },
            ),
          };
        }
        return {
          refresh: true,
          endPacing: true,
          mention: true,
          reply: viewOf(
            e,
            'error',
            `Rollback of deployment #${e.deploymentNumber} could not restore every host: ${failed.map((h) => h.host).join(', ')} could not be rolled back (${restored} restored).`,
            {
              hosts,
              detail:
                'Those hosts keep the new version (or part of it): restore them by hand, or press Roll back to try again.',
            },
          ),
        };
      }
      case 'completed':
        return {
          refresh: true,
          endPacing: true,
          reply: viewOf(
            e,
            e.failed > 0 ? 'warning' : 'success',
            `Deployment #${e.deploymentNumber} done: ${plural(e.succeeded, 'host')} patched, ${e.failed} failed within the failure budget, ${e.skipped} skipped.`,
          ),
        };
    }
  };

  return {
    emit(event: DeploymentProgressEvent): void {
      // host successes edit the message (paced); everything else went to the outbox with its state
      if (PACED.has(event.type)) refreshPaced(event.changeRequestId);
      else options.onStored?.();
    },
    async deliver(event: DeploymentProgressEvent): Promise<void> {
      const plan = planOf(event);
      const m = current();
      if (!m) return; // no chat platform in this process: nothing to send
      const id = event.changeRequestId;
      if (plan.refresh) {
        const t = trailing.get(id);
        if (t) {
          clearTimeout(t);
          trailing.delete(id);
        }
        lastRefresh.set(id, clock());
        await (chains.get(id) ?? Promise.resolve());
        await m.refresh(id).catch((err: unknown) => {
          log.warn(
            { err, change: id },
            'the campaign message could not be edited; the next edit shows the state',
          );
        });
      }
      if (plan.endPacing) lastRefresh.delete(id);
      if (plan.reply) {
        const mentions = plan.mention ? await mentionsFor(id) : [];
        await m.reply(id, mentions.length > 0 ? { ...plan.reply, mentions } : plan.reply);
      }
    },
    async flush(): Promise<void> {
      for (const [changeId, t] of [...trailing]) {
        clearTimeout(t);
        trailing.delete(changeId);
        refreshNow(changeId);
      }
      while (chains.size > 0) await Promise.all([...chains.values()]);
    },
    async close(): Promise<void> {
      closed = true;
      await this.flush();
    },
  };
}

interface ChatPlan {
  refresh: boolean;
  reply?: DeploymentProgressView;
  /** The reply mentions the change's approvers. */
  mention?: boolean;
  /** The deployment ended: the next edit is not paced. */
  endPacing?: boolean;
}

/** Events that only edit the message (paced, from memory); the others reach chat through the outbox. */
const PACED: ReadonlySet<DeploymentProgressEvent['type']> = new Set(['host_succeeded', 'host_skipped']);

/** An outbox payload (JSON) as the event it was, its dates revived. */
export function eventFromPayload(payload: unknown): DeploymentProgressEvent {
  const e = { ...(payload as Record<string, unknown>) };
  for (const key of ['at', 'soakUntil', 'firstStart']) {
    const v = e[key];
    if (typeof v === 'string') e[key] = new Date(v);
  }
  if (typeof e.type !== 'string' || typeof e.changeRequestId !== 'string') {
    throw new Error('the outbox message is not a deployment progress event');
  }
  return e as unknown as DeploymentProgressEvent;
}
