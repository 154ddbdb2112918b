/**
 * What the CLI and chat call: plan a change, schedule an approved change, control a running
 * deployment (pause, resume, abort, roll back). Every change a person causes is audited.
 */
import type { DeploymentPlan } from '../../core/deployments/plan.js';
import { PatchbotError, PolicyDeniedError } from '../../core/errors.js';
import type {
  ChangeForDeployment,
  DeploymentDetail,
  DeploymentRecord,
  HostSourcePackages,
} from '../../db/repositories/deployment-repository.js';
import type { HostRepository } from '../../db/repositories/host-repository.js';
import type { DeploymentGate } from '../approvals/ports.js';
import { matchesSelector } from '../hosts.js';
import { audit, beginRollback, notify, outboxesOf, progressEvent, startRing } from './engine.js';
import { planChange, type ChangePlan, type PlanPolicy, type PlannedHostTargets } from './plan.js';
import { SYSTEM_ACTOR, type Actor, type DeploymentProgressEvent, type EngineDeps } from './types.js';

export interface ServiceDeps extends EngineDeps {
  hosts: Pick<HostRepository, 'list'>;
  policy: PlanPolicy;
  /** Approval outside patchbot that must also be given (the CAB in ServiceNow); none when undefined. */
  gate?: DeploymentGate;
}

export interface ScheduleInput {
  /** Change id (uuid) or number. */
  changeId: string;
  /** Ask for the emergency lane (policy approval.emergency decides whether the change may use it). */
  emergency?: boolean;
  /** Defaults to the engine's clock. */
  now?: Date;
  actor?: Actor;
}

export interface PlanPreview {
  change: ChangeForDeployment;
  plan: DeploymentPlan;
  hosts: PlannedHostTargets[];
  warnings: string[];
  emergency: boolean;
}

export interface ScheduleResult extends PlanPreview {
  deployment: DeploymentDetail;
}

export const CONTROL_ACTIONS = ['pause', 'resume', 'abort', 'rollback'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export interface ControlInput {
  /** Deployment id (uuid) or number. */
  deploymentId: string;
  action: ControlAction;
  actor: Actor;
}

export interface ControlResult {
  deployment: DeploymentRecord;
  from: string;
  to: string;
  /** One sentence for the person who pressed the button. */
  message: string;
}

/** Whether a change may use the emergency lane; a sentence saying why not otherwise. */
export function emergencyProblem(
  policy: Pick<PlanPolicy, 'approval'>,
  change: Pick<ChangeForDeployment, 'number' | 'kev' | 'riskScore' | 'team'>,
  hosts: readonly {
    environment: string;
    team: string | null;
    groups: string[];
    name: string;
    labels: Record<string, string>;
  }[],
): string | undefined {
  const lane = policy.approval.emergency;
  if (!lane.enabled) return 'the emergency lane is off in the policy (approval.emergency.enabled)';
  const eligible = lane.when.some((m) => {
    if (m.kev !== undefined && m.kev !== change.kev) return false;
    if (m.riskAtLeast !== undefined && (change.riskScore ?? 0) < m.riskAtLeast) return false;
    if (m.teams !== undefined && (change.team === null || !m.teams.includes(change.team))) return false;
    if (m.environments !== undefined && !hosts.every((h) => m.environments?.includes(h.environment)))
      return false;
    if (m.groups !== undefined && !hosts.every((h) => matchesSelector(h, { groups: m.groups }))) return false;
    return true;
  });
  if (!eligible) {
    return `change #${change.number} does not meet the emergency lane's conditions (approval.emergency.when: KEV, risk score...)`;
  }
  return undefined;
}

async function prepare(
  deps: ServiceDeps,
  change: ChangeForDeployment,
  emergency: boolean,
  now: Date,
): Promise<{ change: ChangeForDeployment; planned: ChangePlan }> {
  const refusal = notDeployable(change);
  if (refusal !== undefined) {
    throw new PolicyDeniedError(refusal, { details: { change: change.number, kind: change.kind } });
  }
  const hostIds = [...new Set(change.findings.map((f) => f.hostId))];
  const ids = new Set(hostIds);
  // only the change's hosts are read, not the fleet
  const names = [...new Set(change.findings.map((f) => f.hostName))];
  const hosts = (await deps.hosts.list({ names })).filter((h) => ids.has(h.id));
  if (emergency) {
    const problem = emergencyProblem(deps.policy, change, hosts);
    if (problem) throw new PolicyDeniedError(`no emergency lane for change #${change.number}: ${problem}`);
  }
  const sources = [
    ...new Set(
      [change.sourcePackage, ...change.findings.map((f) => f.sourcePackage)].filter((s): s is string => !!s),
    ),
  ];
  const snapshots =
    change.kind === 'os'
      ? await deps.deployments.hostSourcePackages(hostIds, sources)
      : new Map<string, HostSourcePackages>();
  const planned = planChange({ change, hosts, snapshots, policy: deps.policy, emergency, now });
  return { change, planned };
}

/**
 * Why a change is not rolled out by patchbot, or undefined when it is: distribution packages,
 * firmware (fwupd, one device per host, no rollback), and system-wide pip and global npm packages
 * (where policy deployments.languagePackages allows them, checked when the change is planned). A
 * lockfile is changed in its project, never on a host (docs/deployments.md, "What patchbot deploys").
 */
export function notDeployable(
  change: Pick<
    ChangeForDeployment,
    'number' | 'kind' | 'packageName' | 'fixedVersion' | 'findings' | 'ecosystem'
  >,
): string | undefined {
  if (change.kind === 'os' || change.kind === 'firmware') return undefined;
  const lockfiles = [
    ...new Set(change.findings.filter((f) => f.ownerKind === 'lockfile').map((f) => f.owner)),
  ];
  if (lockfiles.length > 0) {
    return (
      `change #${change.number} bumps ${change.packageName} to ${change.fixedVersion} in lockfiles (${lockfiles.slice(0, 5).join(', ')}${lockfiles.length > 5 ? ', ...' : ''}): ` +
      `the owning project changes the pin to ${change.packageName} ${change.fixedVersion} and releases it; patchbot never deploys lockfiles`
    );
  }
  if (change.ecosystem !== 'PyPI' && change.ecosystem !== 'npm') {
    return `change #${change.number} upgrades ${change.packageName} (${change.ecosystem}) to ${change.fixedVersion}: patchbot deploys only pip and global npm packages among language packages`;
  }
  const metadataOnly = [
    ...new Set(
      change.findings.filter((f) => f.ownerKind === 'site-packages').map((f) => `${f.hostName}:${f.owner}`),
    ),
  ];
  if (metadataOnly.length > 0) {
    return (
      `change #${change.number} upgrades ${change.packageName} to ${change.fixedVersion}, found by its metadata in ${metadataOnly.slice(0, 5).join(', ')}: ` +
      'no interpreter of policy inventory.python lists it with pip there, so patchbot cannot upgrade it; upgrade it with the tool that installed it'
    );
  }
  return undefined;
}

/** The plan a change would get now (nothing is stored). */
export async function previewDeployment(
  deps: ServiceDeps,
  input: { changeId: string; emergency?: boolean; now?: Date },
): Promise<PlanPreview> {
  const emergency = input.emergency ?? false;
  const { change, planned } = await prepare(
    deps,
    await deps.deployments.changeForDeployment(input.changeId),
    emergency,
    input.now ?? deps.now(),
  );
  return { change, plan: planned.plan, hosts: planned.hosts, warnings: planned.warnings, emergency };
}

/**
 * Turns an approved change into a deployment and starts its first ring (its hosts wait for their
 * windows). Refuses a change that is not approved, one that already has a deployment under way, and
 * the emergency lane when the policy does not allow it for the change.
 */
export async function scheduleDeployment(deps: ServiceDeps, input: ScheduleInput): Promise<ScheduleResult> {
  const actor = input.actor ?? SYSTEM_ACTOR;
  const now = input.now ?? deps.now();
  const emergency = input.emergency ?? false;
  const change = await deps.deployments.changeForDeployment(input.changeId);
  const active = await deps.deployments.activeForChange(change.id);
  if (active.length > 0) {
    throw new PatchbotError(
      'CONFLICT',
      `change #${change.number} already has deployment #${active[0]?.number} (${active[0]?.state.status.replaceAll('_', ' ')})`,
    );
  }
  if (change.status !== 'approved') {
    throw new PolicyDeniedError(
      `change #${change.number} is ${change.status.replaceAll('_', ' ')}, not approved: only an approved change can be deployed`,
      { details: { change: change.number, status: change.status } },
    );
  }
  const held = await deps.gate?.holds(change.id);
  if (held) {
    throw new PolicyDeniedError(`change #${change.number} cannot be deployed yet: ${held.summary}`, {
      details: { change: change.number, ...(held.record ? { record: held.record.number } : {}) },
    });
  }
  const { planned } = await prepare(deps, change, emergency, now);
  if (planned.rings.length === 0) {
    throw new PatchbotError(
      'VALIDATION',
      `change #${change.number}: no host can be scheduled (${planned.warnings.join('; ') || 'no maintenance window opens'})`,
    );
  }
  const created = await deps.deployments.create({
    changeRequestId: change.id,
    emergency,
    createdBy: actor.id,
    plan: planned.stored,
    rings: planned.rings,
  });
  const hostCount = planned.rings.reduce((n, r) => n + r.hosts.length, 0);
  let event: DeploymentProgressEvent | undefined;
  const scheduled = await deps.deployments.transition(created.id, { type: 'schedule' }, now, [], (record) => {
    event = progressEvent(deps, record, {
      type: 'scheduled',
      emergency,
      rings: planned.rings.length,
      hosts: hostCount,
      firstStart: planned.plan.rings[0]?.start ?? null,
    });
    return outboxesOf(event);
  });
  if (!scheduled.ok) throw new PatchbotError('CONFLICT', scheduled.error);
  await audit(
    deps,
    created,
    'deployment.scheduled',
    {
      change: change.number,
      emergency,
      rings: planned.rings.map((r) => ({ name: r.name, hosts: r.hosts.map((h) => h.hostName) })),
      warnings: planned.warnings,
    },
    actor,
  );
  if (event) await notify(deps, event);
  await startRing(deps, scheduled.record, 0);
  return {
    change,
    plan: planned.plan,
    hosts: planned.hosts,
    warnings: planned.warnings,
    emergency,
    deployment: await deps.deployments.detail(created.id),
  };
}

/** Pause, resume, abort or roll back a deployment (chat buttons, CLI). */
export async function deploymentControl(deps: EngineDeps, input: ControlInput): Promise<ControlResult> {
  if (!(CONTROL_ACTIONS as readonly string[]).includes(input.action)) {
    throw new PatchbotError(
      'VALIDATION',
      `unknown deployment action ${JSON.stringify(String(input.action))}`,
    );
  }
  const dep = await deps.deployments.get(input.deploymentId);
  const from = dep.state.status;
  const actorName = input.actor.display ?? input.actor.id;
  let event: DeploymentProgressEvent | undefined;
  // the thread hears of it with the change itself (the outbox row is in the same transaction)
  const report = (record: DeploymentRecord) => {
    event = progressEvent(deps, record, {
      type: 'state_changed',
      action: input.action,
      from,
      to: record.state.status,
      actor: actorName,
    });
    return outboxesOf(event);
  };
  let record: DeploymentRecord;
  if (input.action === 'rollback') {
    const r = await beginRollback(deps, dep, 'all', input.actor, report);
    if (!r.ok) throw new PatchbotError('CONFLICT', `deployment #${dep.number}: ${r.error}`);
    record = r.record;
  } else {
    // An abort stops the current ring with the deployment, in one write.
    const now = deps.now();
    const ring = input.action === 'abort' ? await deps.deployments.ring(dep.id, dep.state.ring) : undefined;
    const moved = await deps.deployments.transition(
      dep.id,
      { type: input.action },
      now,
      ring
        ? [
            {
              ringId: ring.id,
              from: ['pending', 'waiting_window', 'running', 'soaking'],
              to: 'halted',
              data: { finishedAt: now },
            },
          ]
        : [],
      report,
    );
    if (!moved.ok) throw new PatchbotError('CONFLICT', `deployment #${dep.number}: ${moved.error}`);
    record = moved.record;
    await audit(deps, record, `deployment.${input.action}`, { from, to: record.state.status }, input.actor);
    if (ring) await deps.deployments.skipPending(ring.id, 'not started: the deployment was aborted', now);
    if (input.action === 'resume') {
      if (record.state.status === 'soaking') {
        const ring = await deps.deployments.ring(dep.id, record.state.ring);
        await deps.scheduler.enqueueAdvance({ deploymentId: dep.id, at: ring.soakUntil ?? deps.now() });
      } else {
        await startRing(deps, record, record.state.ring, { force: true });
      }
    }
  }
  const to = record.state.status;
  if (event) await notify(deps, event);
  const messages: Record<ControlAction, string> = {
    pause: `Deployment #${record.number} paused: hosts already running finish their step, no new host starts.`,
    resume: `Deployment #${record.number} resumed (${to.replaceAll('_', ' ')}).`,
    abort: `Deployment #${record.number} aborted: no further host starts. Roll back to restore the hosts already changed.`,
    rollback: `Deployment #${record.number} is rolling back the hosts it changed.`,
  };
  return { deployment: record, from, to, message: messages[input.action] };
}

/** The functions chat needs, bound to their dependencies. */
export function createDeploymentService(deps: ServiceDeps): {
  scheduleDeployment(input: ScheduleInput): Promise<ScheduleResult>;
  previewDeployment(input: { changeId: string; emergency?: boolean; now?: Date }): Promise<PlanPreview>;
  deploymentControl(input: ControlInput): Promise<ControlResult>;
  status(deploymentId: string): Promise<DeploymentDetail>;
} {
  return {
    scheduleDeployment: (input) => scheduleDeployment(deps, input),
    previewDeployment: (input) => previewDeployment(deps, input),
    deploymentControl: (input) => deploymentControl(deps, input),
    status: (id) => deps.deployments.detail(id),
  };
}
