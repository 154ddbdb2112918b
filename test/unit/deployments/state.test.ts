import { describe, expect, it } from 'vitest';

import { PatchbotError } from '../../../src/core/errors.js';
import {
  budgetExceeded,
  DEPLOYMENT_EVENT_TYPES,
  DEPLOYMENT_STATUSES,
  evaluateBudget,
  HOST_RUN_EVENT_TYPES,
  HOST_RUN_STATUSES,
  mustTransitionDeployment,
  mustTransitionHostRun,
  newDeployment,
  rollbackEligibility,
  transitionDeployment,
  transitionHostRun,
  type DeploymentEvent,
  type DeploymentState,
  type DeploymentStatus,
  type HostRunEvent,
  type HostRunStatus,
} from '../../../src/core/deployments/state.js';

const dep = (status: DeploymentStatus, extra: Partial<DeploymentState> = {}): DeploymentState => ({
  status,
  ring: 0,
  ringCount: 3,
  ...extra,
});

const depEvent = (type: DeploymentEvent['type']): DeploymentEvent =>
  type === 'halt' || type === 'budget_exceeded' ? { type, reason: 'r' } : { type };

/** Every legal deployment move: [from, event, to]. Everything else must be refused. */
const LEGAL_DEPLOYMENT: [DeploymentStatus, DeploymentEvent['type'], DeploymentStatus][] = [
  ['planned', 'schedule', 'waiting_window'],
  ['planned', 'start', 'running'],
  ['planned', 'abort', 'aborted'],
  ['waiting_window', 'window_open', 'running'],
  ['waiting_window', 'pause', 'paused'],
  ['waiting_window', 'halt', 'halted'],
  ['waiting_window', 'budget_exceeded', 'halted'],
  ['waiting_window', 'abort', 'aborted'],
  ['running', 'ring_passed', 'soaking'],
  ['running', 'halt', 'halted'],
  ['running', 'budget_exceeded', 'halted'],
  ['running', 'pause', 'paused'],
  ['running', 'abort', 'aborted'],
  ['soaking', 'soak_done', 'waiting_window'],
  ['soaking', 'halt', 'halted'],
  ['soaking', 'budget_exceeded', 'halted'],
  ['soaking', 'pause', 'paused'],
  ['soaking', 'abort', 'aborted'],
  ['paused', 'halt', 'halted'],
  ['paused', 'budget_exceeded', 'halted'],
  ['paused', 'abort', 'aborted'],
  ['paused', 'rollback', 'rolling_back'],
  ['halted', 'rollback', 'rolling_back'],
  ['halted', 'abort', 'aborted'],
  ['aborted', 'rollback', 'rolling_back'],
  ['completed', 'rollback', 'rolling_back'],
  ['rolling_back', 'rollback_done', 'rolled_back'],
  ['rolling_back', 'rollback_failed', 'rollback_failed'],
  ['rollback_failed', 'rollback', 'rolling_back'],
];

describe('deployment state machine', () => {
  it.each(LEGAL_DEPLOYMENT)('%s --%s--> %s', (from, event, to) => {
    const r = transitionDeployment(dep(from), depEvent(event));
    expect(r).toMatchObject({ ok: true, state: { status: to } });
  });

  it('paused resumes into the state it was paused in', () => {
    for (const from of ['waiting_window', 'running', 'soaking'] as const) {
      const paused = mustTransitionDeployment(dep(from), { type: 'pause' });
      expect(paused.pausedFrom).toBe(from);
      expect(mustTransitionDeployment(paused, { type: 'resume' }).status).toBe(from);
    }
  });

  const legal = new Set(LEGAL_DEPLOYMENT.map(([f, e]) => `${f}:${e}`));
  const illegal = DEPLOYMENT_STATUSES.flatMap((s) =>
    DEPLOYMENT_EVENT_TYPES.filter((e) => !legal.has(`${s}:${e}`) && !(s === 'paused' && e === 'resume')).map(
      (e) => [s, e] as const,
    ),
  );
  it.each(illegal)('refuses %s --%s-->', (from, event) => {
    const r = transitionDeployment(dep(from, from === 'paused' ? {} : {}), depEvent(event));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(event.replaceAll('_', ' '));
    expect(() => mustTransitionDeployment(dep(from), depEvent(event))).toThrow(PatchbotError);
  });

  it('walks three rings to completion with soak in between', () => {
    let s = newDeployment(3);
    const events: DeploymentEvent[] = [
      { type: 'schedule' },
      { type: 'window_open' },
      { type: 'ring_passed' },
      { type: 'soak_done' },
      { type: 'window_open' },
      { type: 'ring_passed' },
      { type: 'soak_done' },
      { type: 'window_open' },
    ];
    for (const e of events) s = mustTransitionDeployment(s, e);
    expect(s).toMatchObject({ status: 'running', ring: 2 });
    expect(mustTransitionDeployment(s, { type: 'ring_passed' }).status).toBe('completed');
  });

  it('keeps the halt reason through the rollback', () => {
    const halted = mustTransitionDeployment(dep('running'), {
      type: 'budget_exceeded',
      reason: '2 of 5 hosts failed',
    });
    expect(halted.haltReason).toBe('2 of 5 hosts failed');
    const rolling = mustTransitionDeployment(halted, { type: 'rollback' });
    expect(rolling.haltReason).toBe('2 of 5 hosts failed');
    // and once the rollback ends, either way (the record says why it stopped)
    expect(mustTransitionDeployment(rolling, { type: 'rollback_done' })).toMatchObject({
      status: 'rolled_back',
      haltReason: '2 of 5 hosts failed',
    });
    const failed = mustTransitionDeployment(rolling, { type: 'rollback_failed' });
    expect(failed.haltReason).toBe('2 of 5 hosts failed');
    expect(mustTransitionDeployment(failed, { type: 'rollback' }).haltReason).toBe('2 of 5 hosts failed');
    expect(mustTransitionDeployment(halted, { type: 'abort' }).haltReason).toBe('2 of 5 hosts failed');
  });
});

const hostEvent = (type: HostRunEvent['type']): HostRunEvent => {
  switch (type) {
    case 'fail':
      return { type, error: 'boom' };
    case 'skip':
      return { type, reason: 'r' };
    case 'verified':
      return { type, rebootNeeded: false };
    default:
      return { type };
  }
};

const LEGAL_HOST: [HostRunStatus, HostRunEvent, HostRunStatus][] = [
  ['pending', { type: 'begin' }, 'pre_baseline'],
  ['pending', { type: 'skip', reason: 'deployment stopped' }, 'skipped'],
  ['pre_baseline', { type: 'pre_baseline_done' }, 'installing'],
  ['pre_baseline', { type: 'pre_baseline_done', alreadyCurrent: true }, 'skipped'],
  ['installing', { type: 'install_done' }, 'post_baseline'],
  ['post_baseline', { type: 'post_baseline_done' }, 'verifying'],
  ['verifying', { type: 'verified', rebootNeeded: true }, 'rebooting'],
  ['verifying', { type: 'verified', rebootNeeded: false }, 'health_check'],
  ['rebooting', { type: 'rebooted' }, 'health_check'],
  ['health_check', { type: 'healthy' }, 'succeeded'],
  ['pre_baseline', { type: 'fail', error: 'x' }, 'failed'],
  ['installing', { type: 'fail', error: 'x' }, 'failed'],
  ['post_baseline', { type: 'fail', error: 'x' }, 'failed'],
  ['verifying', { type: 'fail', error: 'x' }, 'failed'],
  ['rebooting', { type: 'fail', error: 'x' }, 'failed'],
  ['health_check', { type: 'fail', error: 'x' }, 'failed'],
  ['succeeded', { type: 'rollback_begin' }, 'rollback_installing'],
  ['failed', { type: 'rollback_begin' }, 'rollback_installing'],
  ['rollback_failed', { type: 'rollback_begin' }, 'rollback_installing'],
  ['rollback_installing', { type: 'rollback_installed' }, 'rollback_verifying'],
  ['rollback_verifying', { type: 'rollback_verified' }, 'rolled_back'],
  ['rollback_installing', { type: 'fail', error: 'x' }, 'rollback_failed'],
  ['rollback_verifying', { type: 'fail', error: 'x' }, 'rollback_failed'],
  // unreachable before anything was sent: skipped, not failed
  ['pre_baseline', { type: 'skip', reason: 'unreachable' }, 'skipped'],
  // a result not seen: the host's state decides later
  ['installing', { type: 'result_unknown' }, 'install_unknown'],
  ['install_unknown', { type: 'install_done' }, 'post_baseline'],
  ['install_unknown', { type: 'resend' }, 'installing'],
  ['install_unknown', { type: 'fail', error: 'x' }, 'failed'],
  ['install_unknown', { type: 'rollback_begin' }, 'rollback_installing'],
  ['rollback_installing', { type: 'result_unknown' }, 'rollback_unknown'],
  ['rollback_unknown', { type: 'rollback_installed' }, 'rollback_verifying'],
  ['rollback_unknown', { type: 'fail', error: 'x' }, 'rollback_failed'],
];

describe('host run state machine', () => {
  it.each(LEGAL_HOST)('%s --%o--> %s', (from, event, to) => {
    expect(transitionHostRun(from, event)).toEqual({ ok: true, state: to });
  });

  const legal = new Set(LEGAL_HOST.map(([f, e]) => `${f}:${e.type}`));
  const illegal = HOST_RUN_STATUSES.flatMap((s) =>
    HOST_RUN_EVENT_TYPES.filter((e) => !legal.has(`${s}:${e}`)).map((e) => [s, e] as const),
  );
  it.each(illegal)('refuses %s --%s-->', (from, event) => {
    expect(transitionHostRun(from, hostEvent(event)).ok).toBe(false);
    expect(() => mustTransitionHostRun(from, hostEvent(event))).toThrow(/cannot take/);
  });

  it('a full run with a reboot', () => {
    const events: HostRunEvent[] = [
      { type: 'begin' },
      { type: 'pre_baseline_done' },
      { type: 'install_done' },
      { type: 'post_baseline_done' },
      { type: 'verified', rebootNeeded: true },
      { type: 'rebooted' },
      { type: 'healthy' },
    ];
    expect(events.reduce<HostRunStatus>((s, e) => mustTransitionHostRun(s, e), 'pending')).toBe('succeeded');
  });
});

describe('failure budget', () => {
  const results = (failed: number, ok: number) => [
    ...Array.from({ length: failed }, () => ({ status: 'failed' })),
    ...Array.from({ length: ok }, () => ({ status: 'succeeded' })),
  ];
  it.each([
    [{ count: 0 }, 5, 0, 5, false],
    [{ count: 0 }, 5, 1, 0, true],
    [{ count: 1 }, 5, 1, 4, false],
    [{ count: 1 }, 5, 2, 0, true],
    [{ percent: 10 }, 10, 1, 9, false],
    [{ percent: 10 }, 10, 2, 0, true],
    [{ percent: 10 }, 5, 1, 0, true],
    [{ percent: 20 }, 5, 1, 4, false],
    [{ percent: 50 }, 4, 2, 2, false],
    [{ percent: 50 }, 4, 3, 0, true],
    [{ percent: 100 }, 3, 3, 0, false],
    [{ percent: 12.5 }, 8, 1, 0, false],
  ])('%o of %i hosts: %i failed, %i ok -> exceeded %s', (failureBudget, size, failed, ok, exceeded) => {
    expect(budgetExceeded({ size, failureBudget }, results(failed, ok))).toBe(exceeded);
  });

  it('skipped and running hosts are not failures', () => {
    const e = evaluateBudget({ size: 4, failureBudget: { count: 0 } }, [
      { status: 'skipped' },
      { status: 'running' },
    ]);
    expect(e).toEqual({ exceeded: false, failed: 0, allowed: 0, size: 4 });
  });
});

describe('rollback eligibility', () => {
  it.each([
    ['apt', '1.0-1', ['1.0-1', '1.1-1'], true, /apt-get install --allow-downgrades openssl=1.0-1/],
    ['apt', '1.0-1', ['1.1-1'], false, /no longer offered/],
    ['apt', '1.0-1', undefined, true, /provided a configured repository/],
    [
      'dnf',
      '1:3.0.7-24.el9',
      ['1:3.0.7-24.el9', '1:3.0.7-27.el9'],
      true,
      /dnf downgrade openssl-1:3.0.7-24.el9/,
    ],
    ['dnf', '0:3.0.7-24.el9', ['3.0.7-24.el9'], true, /still in a configured repository/],
    ['zypper', '3.0.7-1.1', ['3.0.7-2.1'], false, /no longer offered/],
    ['zypper', '3.0.7-1.1', ['3.0.7-1.1'], true, /--oldpackage/],
    ['apk', '3.1.4-r5', undefined, false, /Alpine repositories keep only the newest build/],
    ['apk', '3.1.4-r5', ['3.1.4-r6'], false, /apk cannot fetch older ones/],
    ['apk', '3.1.4-r5', ['3.1.4-r5', '3.1.4-r6'], true, /still in a configured repository/],
  ] as const)('%s %s offered %o -> %s', (tool, baseline, available, possible, reason) => {
    const r = rollbackEligibility(tool, {
      name: 'openssl',
      baselineVersion: baseline,
      ...(available ? { availableVersions: available } : {}),
    });
    expect(r.possible).toBe(possible);
    expect(r.reason).toMatch(reason);
  });

  it('a package that was not installed before cannot be rolled back', () => {
    expect(rollbackEligibility('apt', { name: 'x', baselineVersion: undefined }).possible).toBe(false);
  });
});
