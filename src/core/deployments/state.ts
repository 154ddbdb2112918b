/**
 * Explicit state machines for deployments and host runs, the failure budget, and which package
 * managers can roll back. `transition*` functions never throw for an illegal move: they return
 * `{ ok: false, error }` naming the state and the event, so a job or a button handler can tell a
 * person why nothing happened. `mustTransition*` throw a CONFLICT PatchbotError instead.
 *
 * Deployment:
 *
 *   planned ──schedule──> waiting_window ──window_open──> running ──ring_passed──> soaking ──soak_done──> waiting_window (next ring)
 *   planned ──start─────> running                                 ──ring_passed (last ring)──> completed
 *   running|soaking ──halt / budget_exceeded──> halted ──rollback──> rolling_back ──rollback_done──> rolled_back
 *                                                                                 ──rollback_failed──> rollback_failed ──rollback──> rolling_back
 *   waiting_window|running|soaking ──pause──> paused ──resume──> (the state it was paused in)
 *   any state that is not final ──abort──> aborted;  halted|paused|aborted|completed ──rollback──> rolling_back
 *
 * Final states: completed, rolled_back, aborted (which can still be rolled back), rollback_failed
 * (which can be tried again). A halt's reason stays with the deployment through what follows (the
 * rollback, an abort): the record says why it stopped.
 */
import { z } from 'zod';
import { PatchbotError } from '../errors.js';

export type TransitionResult<S> = { ok: true; state: S } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// deployment

export const DEPLOYMENT_STATUSES = [
  'planned',
  'waiting_window',
  'running',
  'soaking',
  'paused',
  'halted',
  'rolling_back',
  'rolled_back',
  'rollback_failed',
  'completed',
  'aborted',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Statuses from which the deployment can be paused (and resumed into again). */
export type PausableStatus = 'waiting_window' | 'running' | 'soaking';

export const DeploymentState = z.object({
  status: z.enum(DEPLOYMENT_STATUSES),
  /** Index of the ring being worked on (0-based). */
  ring: z.number().int().min(0),
  ringCount: z.number().int().min(1),
  /** Set while paused: the status to resume into. */
  pausedFrom: z.enum(['waiting_window', 'running', 'soaking']).optional(),
  /** Why the deployment halted, when it did. */
  haltReason: z.string().optional(),
});
export type DeploymentState = z.infer<typeof DeploymentState>;

export type DeploymentEvent =
  | { type: 'schedule' }
  | { type: 'start' }
  | { type: 'window_open' }
  | { type: 'ring_passed' }
  | { type: 'soak_done' }
  | { type: 'budget_exceeded'; reason: string }
  | { type: 'halt'; reason: string }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'abort' }
  | { type: 'rollback' }
  | { type: 'rollback_done' }
  | { type: 'rollback_failed' };
export type DeploymentEventType = DeploymentEvent['type'];

export const DEPLOYMENT_EVENT_TYPES: readonly DeploymentEventType[] = [
  'schedule',
  'start',
  'window_open',
  'ring_passed',
  'soak_done',
  'budget_exceeded',
  'halt',
  'pause',
  'resume',
  'abort',
  'rollback',
  'rollback_done',
  'rollback_failed',
];

export const FINAL_DEPLOYMENT_STATUSES: ReadonlySet<DeploymentStatus> = new Set([
  'completed',
  'rolled_back',
  'rollback_failed',
  'aborted',
]);

export function newDeployment(ringCount: number): DeploymentState {
  return { status: 'planned', ring: 0, ringCount: Math.max(1, ringCount) };
}

const ok = <S>(state: S): TransitionResult<S> => ({ ok: true, state });

export function transitionDeployment(
  state: DeploymentState,
  event: DeploymentEvent,
): TransitionResult<DeploymentState> {
  const s = state.status;
  const base = {
    ring: state.ring,
    ringCount: state.ringCount,
    ...(state.haltReason !== undefined ? { haltReason: state.haltReason } : {}),
  };
  switch (event.type) {
    case 'schedule':
      if (s === 'planned') return ok({ ...base, status: 'waiting_window' });
      break;
    case 'start':
      if (s === 'planned') return ok({ ...base, status: 'running' });
      break;
    case 'window_open':
      if (s === 'waiting_window') return ok({ ...base, status: 'running' });
      break;
    case 'ring_passed':
      if (s === 'running') {
        return ok({ ...base, status: state.ring + 1 >= state.ringCount ? 'completed' : 'soaking' });
      }
      break;
    case 'soak_done':
      if (s === 'soaking') return ok({ ...base, ring: state.ring + 1, status: 'waiting_window' });
      break;
    case 'budget_exceeded':
    case 'halt':
      if (s === 'running' || s === 'soaking' || s === 'waiting_window' || s === 'paused') {
        return ok({ ...base, status: 'halted', haltReason: event.reason });
      }
      break;
    case 'pause':
      if (s === 'waiting_window' || s === 'running' || s === 'soaking') {
        return ok({ ...base, status: 'paused', pausedFrom: s });
      }
      break;
    case 'resume':
      if (s === 'paused' && state.pausedFrom) return ok({ ...base, status: state.pausedFrom });
      break;
    case 'abort':
      if (!FINAL_DEPLOYMENT_STATUSES.has(s) && s !== 'rolling_back')
        return ok({ ...base, status: 'aborted' });
      break;
    case 'rollback':
      if (
        s === 'halted' ||
        s === 'paused' ||
        s === 'aborted' ||
        s === 'completed' ||
        s === 'rollback_failed'
      ) {
        return ok({ ...base, status: 'rolling_back' });
      }
      break;
    case 'rollback_done':
      if (s === 'rolling_back') return ok({ ...base, status: 'rolled_back' });
      break;
    case 'rollback_failed':
      if (s === 'rolling_back') return ok({ ...base, status: 'rollback_failed' });
      break;
  }
  return { ok: false, error: illegal('deployment', s, event.type) };
}

export function mustTransitionDeployment(state: DeploymentState, event: DeploymentEvent): DeploymentState {
  const r = transitionDeployment(state, event);
  if (!r.ok)
    throw new PatchbotError('CONFLICT', r.error, { details: { from: state.status, event: event.type } });
  return r.state;
}

// ---------------------------------------------------------------------------------------------
// host run

/**
 * A host's run: pending -> pre_baseline -> installing -> post_baseline -> verifying ->
 * (rebooting when the host needs it) -> health_check -> succeeded. Any active step can fail; a
 * pending host can be skipped (not reachable in time, deployment stopped), as can one whose
 * pre-baseline shows it already has the target versions. Rollback (after the deployment halts):
 * succeeded|failed -> rollback_installing -> rollback_verifying -> rolled_back, or rollback_failed
 * from either step; rollback_failed can be tried again.
 *
 * Unknown results: an install whose result patchbot did not see (it stopped waiting, the connection
 * dropped, its worker stopped) goes installing -> install_unknown; the host's real state, read
 * later, decides: installed -> post_baseline (verify), not installed -> installing once more
 * (`resend`), broken -> failed. A rollback likewise goes rollback_installing -> rollback_unknown ->
 * rollback_verifying (the versions decide) or rollback_failed. A deployment rolled back while a host
 * is install_unknown rolls it back from there.
 */
export const HOST_RUN_STATUSES = [
  'pending',
  'pre_baseline',
  'installing',
  'post_baseline',
  'verifying',
  'rebooting',
  'health_check',
  'succeeded',
  'failed',
  'skipped',
  'rollback_installing',
  'rollback_verifying',
  'rolled_back',
  'rollback_failed',
  'install_unknown',
  'rollback_unknown',
] as const;
export type HostRunStatus = (typeof HOST_RUN_STATUSES)[number];

export type HostRunEvent =
  | { type: 'begin' }
  | { type: 'pre_baseline_done'; alreadyCurrent?: boolean }
  | { type: 'install_done' }
  | { type: 'post_baseline_done' }
  | { type: 'verified'; rebootNeeded: boolean }
  | { type: 'rebooted' }
  | { type: 'healthy' }
  | { type: 'fail'; error: string }
  | { type: 'skip'; reason: string }
  | { type: 'rollback_begin' }
  | { type: 'rollback_installed' }
  | { type: 'rollback_verified' }
  /** An install or rollback was sent and its result not seen. */
  | { type: 'result_unknown' }
  /** An install whose result was unknown did not take effect and is sent again (once). */
  | { type: 'resend' };
export type HostRunEventType = HostRunEvent['type'];

export const HOST_RUN_EVENT_TYPES: readonly HostRunEventType[] = [
  'begin',
  'pre_baseline_done',
  'install_done',
  'post_baseline_done',
  'verified',
  'rebooted',
  'healthy',
  'fail',
  'skip',
  'rollback_begin',
  'rollback_installed',
  'rollback_verified',
  'result_unknown',
  'resend',
];

const ACTIVE_STEPS: ReadonlySet<HostRunStatus> = new Set([
  'pre_baseline',
  'installing',
  'post_baseline',
  'verifying',
  'rebooting',
  'health_check',
  'install_unknown',
]);

export function transitionHostRun(
  status: HostRunStatus,
  event: HostRunEvent,
): TransitionResult<HostRunStatus> {
  switch (event.type) {
    case 'begin':
      if (status === 'pending') return ok('pre_baseline');
      break;
    case 'pre_baseline_done':
      if (status === 'pre_baseline') return ok(event.alreadyCurrent ? 'skipped' : 'installing');
      break;
    case 'install_done':
      if (status === 'installing' || status === 'install_unknown') return ok('post_baseline');
      break;
    case 'result_unknown':
      if (status === 'installing') return ok('install_unknown');
      if (status === 'rollback_installing') return ok('rollback_unknown');
      break;
    case 'resend':
      if (status === 'install_unknown') return ok('installing');
      break;
    case 'post_baseline_done':
      if (status === 'post_baseline') return ok('verifying');
      break;
    case 'verified':
      if (status === 'verifying') return ok(event.rebootNeeded ? 'rebooting' : 'health_check');
      break;
    case 'rebooted':
      if (status === 'rebooting') return ok('health_check');
      break;
    case 'healthy':
      if (status === 'health_check') return ok('succeeded');
      break;
    case 'fail':
      if (ACTIVE_STEPS.has(status)) return ok('failed');
      if (
        status === 'rollback_installing' ||
        status === 'rollback_verifying' ||
        status === 'rollback_unknown'
      ) {
        return ok('rollback_failed');
      }
      break;
    case 'skip':
      // pre_baseline: the host could not be reached before anything was sent to it
      if (status === 'pending' || status === 'pre_baseline') return ok('skipped');
      break;
    case 'rollback_begin':
      if (
        status === 'succeeded' ||
        status === 'failed' ||
        status === 'rollback_failed' ||
        status === 'install_unknown'
      ) {
        return ok('rollback_installing');
      }
      break;
    case 'rollback_installed':
      if (status === 'rollback_installing' || status === 'rollback_unknown') return ok('rollback_verifying');
      break;
    case 'rollback_verified':
      if (status === 'rollback_verifying') return ok('rolled_back');
      break;
  }
  return { ok: false, error: illegal('host run', status, event.type) };
}

export function mustTransitionHostRun(status: HostRunStatus, event: HostRunEvent): HostRunStatus {
  const r = transitionHostRun(status, event);
  if (!r.ok) throw new PatchbotError('CONFLICT', r.error, { details: { from: status, event: event.type } });
  return r.state;
}

function illegal(what: string, from: string, event: string): string {
  return `A ${what} in state ${from.replaceAll('_', ' ')} cannot take "${event.replaceAll('_', ' ')}"`;
}

// ---------------------------------------------------------------------------------------------
// failure budget

/** Failed hosts a ring tolerates: a count, or a percentage of the ring's hosts. */
export const FailureBudget = z.union([
  z.object({ count: z.number().int().min(0) }),
  z.object({ percent: z.number().min(0).max(100) }),
]);
export type FailureBudget = z.infer<typeof FailureBudget>;

export interface BudgetEvaluation {
  exceeded: boolean;
  failed: number;
  /** Failed hosts tolerated (a fraction for percentages of small rings: 10% of 5 hosts = 0.5). */
  allowed: number;
  size: number;
}

/** Host results that count as failures against the budget. */
const FAILED: ReadonlySet<string> = new Set(['failed']);

/**
 * Whether a ring's failures exceed its budget. `{ count: 1 }` tolerates one failed host, a second
 * exceeds it; `{ percent: 10 }` tolerates failures up to 10% of the ring's hosts (of the ring's
 * size, not of the hosts finished so far), so 1 failure of 5 hosts (20%) exceeds 10% and 1 of 10
 * does not. Evaluated as results arrive: the ring halts as soon as it is over budget.
 */
export function evaluateBudget(
  ring: { size: number; failureBudget: FailureBudget },
  results: readonly { status: string }[],
): BudgetEvaluation {
  const failed = results.filter((r) => FAILED.has(r.status)).length;
  const size = Math.max(ring.size, results.length);
  const allowed =
    'count' in ring.failureBudget ? ring.failureBudget.count : (size * ring.failureBudget.percent) / 100;
  const exceeded =
    'count' in ring.failureBudget
      ? failed > ring.failureBudget.count
      : failed * 100 > size * ring.failureBudget.percent;
  return { exceeded, failed, allowed, size };
}

export function budgetExceeded(
  ring: { size: number; failureBudget: FailureBudget },
  results: readonly { status: string }[],
): boolean {
  return evaluateBudget(ring, results).exceeded;
}

// ---------------------------------------------------------------------------------------------
// rollback eligibility

export const OS_PACKAGE_TOOLS = ['apt', 'dnf', 'yum', 'zypper', 'apk'] as const;
export type OsPackageTool = (typeof OS_PACKAGE_TOOLS)[number];
/** fwupd for firmware: a device id at a release version. */
export const FIRMWARE_TOOLS = ['fwupd'] as const;
/** Language package managers: system-wide pip of one interpreter, global npm. */
export const LANGUAGE_PACKAGE_TOOLS = ['pip', 'npm'] as const;
export type LanguagePackageTool = (typeof LANGUAGE_PACKAGE_TOOLS)[number];
export const PACKAGE_TOOLS = [...OS_PACKAGE_TOOLS, ...FIRMWARE_TOOLS, ...LANGUAGE_PACKAGE_TOOLS] as const;
export type PackageTool = (typeof PACKAGE_TOOLS)[number];

export interface RollbackEligibility {
  possible: boolean;
  /** A sentence for the deployment thread: how, or plainly why not. */
  reason: string;
}

/** Said by the plan, the chat message and a rollback of a firmware deployment. */
export const FIRMWARE_NO_ROLLBACK =
  "firmware cannot be rolled back by patchbot: devices often refuse older releases (anti-rollback), and a failed downgrade can leave a device unusable; the device stays at its new version (downgrade it by hand with the vendor's tools if you must)";

/**
 * Whether a package can be put back to its pre-deployment version.
 *
 * - apt: `apt-get install --allow-downgrades pkg=old` works while the old version is still offered
 *   by a configured repository (or is in the local archive cache). Debian's security and point
 *   release repositories drop superseded versions, so `availableVersions` (from `apt-cache madison`)
 *   decides.
 * - dnf/yum: `dnf downgrade pkg-old` needs the old version in a repository; RHEL, Rocky and Alma
 *   keep older builds in their BaseOS/AppStream repositories, Fedora's updates repository does not.
 * - zypper: `zypper install --oldpackage pkg=old`, same condition.
 * - apk: Alpine's repositories carry only the newest build of each package per branch (APKINDEX
 *   lists one version), and apk has no way to fetch an older one; it can only go back when the old
 *   .apk is still offered by a configured repository (a local mirror or cache that kept it), which
 *   `availableVersions` (from `apk policy`) shows. Otherwise the host stays on the new version and
 *   has to be restored from a snapshot or backup.
 * - fwupd: never. Many devices refuse an older release (a raised VersionLowest, anti-rollback
 *   fuses, signed capsules that reject downgrades), and a failed flash of an older image can leave
 *   a device unbootable; patchbot does not attempt it. The firmware stays at its new version.
 *
 * With `availableVersions` undefined (not queried) the answer is what the tool can do in principle.
 */
export function rollbackEligibility(
  tool: PackageTool,
  pkg: { name: string; baselineVersion: string | undefined; availableVersions?: readonly string[] },
): RollbackEligibility {
  if (tool === 'fwupd') {
    return { possible: false, reason: `device ${pkg.name}: ${FIRMWARE_NO_ROLLBACK}` };
  }
  if (pkg.baselineVersion === undefined) {
    return {
      possible: false,
      reason: `${pkg.name} was not installed before the deployment; rolling back would mean removing it, which patchbot does not do`,
    };
  }
  if (tool === 'pip' || tool === 'npm') {
    // the index keeps every published version unless it was yanked or unpublished
    const how =
      tool === 'pip'
        ? `pip install --no-deps ${pkg.name}==${pkg.baselineVersion}`
        : `npm install -g ${pkg.name}@${pkg.baselineVersion}`;
    const listed = pkg.availableVersions?.includes(pkg.baselineVersion);
    if (listed === false) {
      return {
        possible: false,
        reason: `${pkg.name} ${pkg.baselineVersion} is no longer offered by the package index (yanked or unpublished), so ${tool} cannot reinstall it; restore the host from a snapshot or backup`,
      };
    }
    return {
      possible: true,
      reason: listed
        ? `${how}: the version is still offered by the package index`
        : `${how}, provided the package index still offers that version`,
    };
  }
  const baseline = withoutZeroEpoch(pkg.baselineVersion);
  const offered = pkg.availableVersions?.some((v) => withoutZeroEpoch(v) === baseline);
  if (tool === 'apk') {
    if (offered) {
      return {
        possible: true,
        reason: `apk add ${pkg.name}=${pkg.baselineVersion}: the version is still in a configured repository`,
      };
    }
    return {
      possible: false,
      reason: `apk cannot go back to ${pkg.name} ${pkg.baselineVersion}: Alpine repositories keep only the newest build of each package and apk cannot fetch older ones; restore the host from a snapshot or backup`,
    };
  }
  const how =
    tool === 'apt'
      ? `apt-get install --allow-downgrades ${pkg.name}=${pkg.baselineVersion}`
      : tool === 'zypper'
        ? `zypper install --oldpackage ${pkg.name}=${pkg.baselineVersion}`
        : `${tool} downgrade ${pkg.name}-${pkg.baselineVersion}`;
  if (offered === false) {
    return {
      possible: false,
      reason: `${pkg.name} ${pkg.baselineVersion} is no longer offered by any configured repository, so ${tool} cannot reinstall it; restore the host from a snapshot or add a repository (e.g. snapshot.debian.org or a vault mirror) that still has it`,
    };
  }
  return {
    possible: true,
    reason: offered
      ? `${how}: the version is still in a configured repository`
      : `${how}, provided a configured repository still offers that version`,
  };
}

/** "0:1.2-3" and "1.2-3" are the same version for dpkg and rpm (tools print the epoch 0 or not). */
function withoutZeroEpoch(version: string): string {
  return version.replace(/^0+:/, '');
}
