import { describe, expect, it } from 'vitest';
import { campaignActions, type CampaignState } from '../../../src/bot/views/index.js';
import type { DeploymentStatus } from '../../../src/core/deployments/state.js';
import type {
  DeploymentDetail,
  HostRunRecord,
  RingRecord,
} from '../../../src/db/repositories/deployment-repository.js';
import {
  approverMentions,
  deploymentCampaignState,
  formatAt,
} from '../../../src/usecases/deployments/chat.js';

const now = new Date('2026-12-05T03:00:00Z');
const earlier = new Date('2026-12-05T02:10:00Z');
const opens = new Date('2026-12-05T01:00:00Z');

type HostStatus = HostRunRecord['status'];

function host(
  name: string,
  status: HostStatus,
  ringIndex: number,
  sent = status !== 'pending',
): HostRunRecord {
  const started = status !== 'pending';
  return {
    id: `run-${name}`,
    ringId: `ring-${ringIndex}`,
    deploymentId: 'dep-1',
    ringIndex,
    hostId: `host-${name}`,
    hostName: name,
    status,
    state: status as HostRunRecord['state'],
    step: null,
    attempt: started ? 1 : 0,
    position: 0,
    tool: 'apt',
    targets: [{ name: 'openssl', version: '3.0.13-1~deb12u1' }],
    preBaseline: null,
    postBaseline: null,
    rebootNeeded: false,
    rebootedAt: null,
    output: null,
    error: null,
    workerId: null,
    heartbeatAt: null,
    notBefore: opens,
    installSentAt: sent ? earlier : null,
    rebootSentAt: null,
    rollbackSentAt: null,
    bootId: null,
    remoteJob: null,
    rollbackReport: null,
    rollbackError: null,
    startedAt: started ? earlier : null,
    finishedAt: null,
  };
}

function ring(index: number, name: string, hosts: HostRunRecord[], extra: Partial<RingRecord> = {}) {
  return {
    id: `ring-${index}`,
    deploymentId: 'dep-1',
    index,
    name,
    state: 'pending' as const,
    concurrency: 1,
    failureBudget: { count: 0 },
    soakSeconds: 3600,
    soakUntil: null,
    notBefore: opens,
    flowGeneration: 1,
    startedAt: null,
    finishedAt: null,
    ...extra,
    hosts,
  };
}

function detail(
  status: DeploymentStatus,
  ringIndex: number,
  hosts: HostStatus[][],
  extra: Partial<DeploymentDetail> = {},
): DeploymentDetail {
  const names = ['canary', 'pilot', 'broad'];
  return {
    id: 'dep-1',
    number: 7,
    changeRequestId: 'change-1',
    changeNumber: 42,
    state: {
      status,
      ring: ringIndex,
      ringCount: hosts.length,
      ...(status === 'paused' ? { pausedFrom: 'running' as const } : {}),
      ...(status === 'halted' || status === 'rolling_back'
        ? { haltReason: 'ring pilot: 1 of 2 host(s) failed, over the failure budget of 0' }
        : {}),
    },
    plan: {
      version: 1,
      change: {
        number: 42,
        packageName: 'openssl',
        fixedVersion: '3.0.13-1~deb12u1',
        ecosystem: 'Debian:12',
      },
      plan: {},
      settings: {
        installTimeoutMs: 1,
        commandTimeoutMs: 1,
        maxOutputBytes: 1024,
        reboot: { policy: 'never', waitLimitMs: 1 },
        onFailure: 'halt',
        retry: { attempts: 0, backoffMs: 0 },
        skipWindows: false,
        skipSoak: false,
        windows: [],
        blackoutDates: [],
        hosts: { a: { address: 'a', sudo: false, window: 'night', healthChecks: [] } },
      },
    },
    emergency: false,
    createdBy: 'U0ALICE001',
    createdAt: earlier,
    startedAt: null,
    finishedAt: null,
    pausedAt: null,
    rings: hosts.map((statuses, i) =>
      ring(
        i,
        names[i] ?? `ring-${i}`,
        statuses.map((s, j) => host(i === 0 && j === 0 ? 'a' : `h${i}${j}`, s, i)),
      ),
    ),
    ...extra,
  };
}

const cases: [string, DeploymentDetail, CampaignState, string[]][] = [
  [
    'waiting for the first window',
    detail('waiting_window', 0, [['pending'], ['pending']]),
    { kind: 'scheduled', deployment: 7, startsAt: opens, window: 'night' },
    ['pause', 'abort', 'details'],
  ],
  [
    'running ring 2',
    detail('running', 1, [['succeeded'], ['succeeded', 'pre_baseline']]),
    {
      kind: 'deploying',
      deployment: 7,
      ring: 2,
      rings: 2,
      ringName: 'pilot',
      hostsDone: 2,
      hostsTotal: 3,
    },
    ['pause', 'abort', 'details'],
  ],
  [
    'soaking after ring 1',
    {
      ...detail('soaking', 0, [['succeeded'], ['pending']]),
      rings: detail('soaking', 0, [['succeeded'], ['pending']]).rings.map((r, i) =>
        i === 0 ? { ...r, soakUntil: now } : r,
      ),
    },
    {
      kind: 'deploying',
      deployment: 7,
      ring: 1,
      rings: 2,
      ringName: 'canary',
      hostsDone: 1,
      hostsTotal: 2,
      soakUntil: now,
    },
    ['pause', 'abort', 'details'],
  ],
  [
    'paused',
    detail('paused', 0, [['succeeded', 'pending']], { pausedAt: earlier }),
    {
      kind: 'halted',
      deployment: 7,
      paused: true,
      at: earlier,
      reason: 'paused in ring 1/1 (canary); press Resume to go on',
    },
    ['resume', 'abort', 'rollback', 'details'],
  ],
  [
    'halted over the budget',
    detail('halted', 1, [['succeeded'], ['failed', 'skipped']]),
    {
      kind: 'halted',
      deployment: 7,
      at: now,
      reason: 'ring pilot: 1 of 2 host(s) failed, over the failure budget of 0',
    },
    ['rollback', 'abort', 'details'],
  ],
  [
    'rolling back',
    detail('rolling_back', 1, [['succeeded'], ['failed', 'skipped']]),
    {
      kind: 'halted',
      deployment: 7,
      rollingBack: true,
      at: now,
      reason:
        'rolling back the changed hosts after: ring pilot: 1 of 2 host(s) failed, over the failure budget of 0',
    },
    ['details'],
  ],
  [
    'rolled back',
    detail('rolled_back', 0, [['rolled_back', 'rolled_back']], { finishedAt: earlier }),
    {
      kind: 'failed',
      deployment: 7,
      at: earlier,
      reason: 'rolled back: 2 host(s) have their previous versions again',
    },
    ['details'],
  ],
  [
    'a rollback that failed',
    detail('rollback_failed', 0, [['rollback_failed', 'rolled_back']], { finishedAt: earlier }),
    {
      kind: 'failed',
      deployment: 7,
      canRollBack: true,
      at: earlier,
      reason: 'the rollback could not restore 1 host (see the thread); press Roll back to try again',
    },
    ['rollback', 'details'],
  ],
  [
    'aborted after a host was patched',
    detail('aborted', 0, [['succeeded', 'skipped']], { finishedAt: earlier }),
    {
      kind: 'failed',
      deployment: 7,
      canRollBack: true,
      at: earlier,
      reason: 'aborted; hosts already patched keep the new version until rolled back',
    },
    ['rollback', 'details'],
  ],
  [
    'aborted before any host',
    {
      ...detail('aborted', 0, [['skipped']], { finishedAt: earlier }),
      rings: [ring(0, 'canary', [host('a', 'skipped', 0, false)])],
    },
    { kind: 'failed', deployment: 7, at: earlier, reason: 'aborted before any host was changed' },
    ['details'],
  ],
  [
    'completed',
    detail('completed', 1, [['succeeded'], ['succeeded', 'failed']], { finishedAt: earlier }),
    { kind: 'done', deployment: 7, at: earlier, hostsPatched: 2 },
    ['details'],
  ],
];

describe('the campaign state of a deployment', () => {
  it.each(cases)('%s', (_, d, expected, actions) => {
    const state = deploymentCampaignState(d, now);
    expect(state).toEqual(expected);
    expect(campaignActions(state)).toEqual(actions);
  });
});

describe('formatAt', () => {
  it.each([
    [new Date('2026-12-05T01:00:00Z'), 'Europe/Berlin', '2026-12-05 02:00 Europe/Berlin'],
    [new Date('2026-07-05T01:00:00Z'), 'Europe/Berlin', '2026-07-05 03:00 Europe/Berlin'],
    [new Date('2026-12-05T01:00:00Z'), undefined, '2026-12-05 01:00 UTC'],
    [new Date('2026-12-05T01:00:00Z'), 'Not/AZone', '2026-12-05 01:00 UTC'],
  ])('%s in %s is %s', (at, tz, expected) => {
    expect(formatAt(at, tz)).toBe(expected);
  });
});

describe('approverMentions', () => {
  it('mentions Slack users and user groups and Teams users by the shape of their ids', () => {
    expect(
      approverMentions({
        users: ['U0ALICE001', 'W0BOB00001', '5f1c0c8e-1111-2222-3333-1234567890ab', 'alice', '<!channel>'],
        groups: ['S0APPROVERS', 'payments-approvers'],
      }),
    ).toEqual([
      { platform: 'slack', kind: 'user', id: 'U0ALICE001' },
      { platform: 'slack', kind: 'user', id: 'W0BOB00001' },
      { platform: 'teams', kind: 'user', id: '5f1c0c8e-1111-2222-3333-1234567890ab' },
      { platform: 'slack', kind: 'group', id: 'S0APPROVERS' },
    ]);
  });
});
