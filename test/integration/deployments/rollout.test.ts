/**
 * Staged rollouts end to end: real sshd hosts (own host key, own package state behind apt/dpkg
 * stand-ins), real PostgreSQL, real Redis and BullMQ workers over the real job handlers.
 */
import { createServer } from 'node:net';
import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { statusLines } from '../../../src/cli/commands/deploy.js';
import { PatchbotError } from '../../../src/core/errors.js';
import { reconcile, startRing } from '../../../src/usecases/deployments/engine.js';
import { planChange } from '../../../src/usecases/deployments/plan.js';
import { deploymentControl, scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import type { ExecutorFactory } from '../../../src/usecases/deployments/types.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  createHarness,
  registerFleet,
  reposOf,
  seedChange,
  startWorker,
  testPolicy,
  TestClock,
  waitFor,
  type Harness,
  type Repos,
} from './support.js';

const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const ACTOR = { id: 'U_ALICE', display: 'alice', surface: 'slack' as const };

const spec = (name: string) => ({
  name,
  installed: [
    { name: 'openssl', version: OLD, source: 'openssl' },
    { name: 'libssl3', version: OLD, source: 'openssl' },
    { name: 'curl', version: '7.88.1-10+deb12u5', source: 'curl' },
  ],
  available: [
    { name: 'openssl', version: NEW },
    { name: 'libssl3', version: NEW },
  ],
});

const HOSTS = ['web-1', 'web-2', 'web-3', 'db-1'];

let fleet: Fleet;
let test: TestDatabase;
let repos: Repos;
let harness: Harness | undefined;
let workers: Worker[] = [];

beforeAll(async () => {
  fleet = await startFleet(HOSTS.map(spec), { first: 101 });
  test = await openTestDatabase('postgres', 'deployments');
  repos = reposOf(test.db);
  await registerFleet(repos, fleet, {
    'web-1': { ring: 'canary' },
    'web-2': { ring: 'pilot' },
    'web-3': { ring: 'broad' },
    'db-1': { ring: 'broad' },
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await harness?.close();
  harness = undefined;
  // no package manager was ever interrupted or signalled
  await allRunsEnded(fleet);
  for (const h of fleet.hosts) expect(await h.signals(), h.name).toEqual([]);
  await fleet.reset();
});

afterAll(async () => {
  await fleet?.stop();
  await test?.dispose();
});

const installedOf = async (name: string) => fleet.host(name).installed();

/** Waits until the harness has seen an event of `type` (events follow the state change they report). */
const eventSeen = (type: string) =>
  waitFor(`${type} reported`, () => Promise.resolve(harness?.events.some((e) => e.type === type) ?? false));

/** The types of the outbound events of a change (outbox rows of kind event), in the order written. */
async function outboundEvents(changeId: string): Promise<string[]> {
  const rows = await test.db.prisma.outbox.findMany({
    where: { kind: 'event', orderKey: `events:change:${changeId}` },
    orderBy: { id: 'asc' },
  });
  return rows.map((r) => (r.payload as { type: string }).type);
}

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('staged deployments over SSH', () => {
  it('rolls out across three rings with soak time, ring by ring, installing each host once', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [
        { name: 'canary', match: { labels: { ring: 'canary' } }, soak: '1h' },
        { name: 'pilot', match: { labels: { ring: 'pilot' } }, soak: '30m' },
        { name: 'broad', concurrency: 2 },
      ],
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    const change = await seedChange(test.db, {
      hosts: fleet.hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, {
      changeId: String(change.number),
      actor: ACTOR,
    });
    expect(scheduled.deployment.rings.map((r) => [r.name, r.hosts.map((h) => h.hostName)])).toEqual([
      ['canary', ['web-1']],
      ['pilot', ['web-2']],
      ['broad', expect.arrayContaining(['web-3', 'db-1'])],
    ]);
    // every host gets openssl and libssl3 (same source package, older), never curl
    for (const h of scheduled.deployment.rings.flatMap((r) => r.hosts)) {
      expect(h.targets).toEqual([
        { name: 'libssl3', version: NEW },
        { name: 'openssl', version: NEW },
      ]);
    }
    const id = scheduled.deployment.id;

    // ring 1 runs, then the deployment soaks: ring 2 does not start while the clock stands still
    await waitFor('canary passed', async () => (await repos.deployments.get(id)).state.status === 'soaking');
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await fleet.host('web-2').installLog()).length).toBe(0);
    expect((await repos.deployments.get(id)).state).toMatchObject({ status: 'soaking', ring: 0 });

    clock.advance(60 * 60_000);
    await waitFor('pilot passed', async () => {
      const d = await repos.deployments.get(id);
      return d.state.status === 'soaking' && d.state.ring === 1;
    });
    clock.advance(30 * 60_000);
    await waitFor('completed', async () => (await repos.deployments.get(id)).state.status === 'completed');
    await eventSeen('completed');

    const detail = await repos.deployments.detail(id);
    expect(detail.rings.map((r) => r.state)).toEqual(['passed', 'passed', 'passed']);
    for (const run of detail.rings.flatMap((r) => r.hosts)) {
      expect(run.status).toBe('succeeded');
      expect(run.preBaseline).toEqual({ libssl3: [OLD], openssl: [OLD] });
      expect(run.postBaseline).toEqual({ libssl3: [NEW], openssl: [NEW] });
      const installed = await installedOf(run.hostName);
      expect(installed.get('openssl')).toBe(NEW);
      expect(installed.get('libssl3')).toBe(NEW);
      expect(installed.get('curl')).toBe('7.88.1-10+deb12u5');
      expect(await fleet.host(run.hostName).installLog()).toHaveLength(1);
    }
    const types = harness.events.map((e) => e.type);
    expect(types.filter((t) => t === 'ring_started')).toHaveLength(3);
    expect(types.filter((t) => t === 'ring_passed')).toHaveLength(3);
    expect(types.filter((t) => t === 'host_succeeded')).toHaveLength(4);
    expect(types.at(-1)).toBe('completed');
    const started = harness.events.filter((e) => e.type === 'ring_started');
    expect(started.map((e) => (e.type === 'ring_started' ? `${e.ring.number}/${e.ring.of}` : ''))).toEqual([
      '1/3',
      '2/3',
      '3/3',
    ]);
    const change2 = await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: change.id } });
    expect(change2.status).toBe('completed');
    // what other systems hear of, written with each state change, in order
    expect(await outboundEvents(change.id)).toEqual([
      'deployment.planned',
      'deployment.started',
      'deployment.ring_completed',
      'deployment.ring_completed',
      'deployment.ring_completed',
      'deployment.completed',
    ]);
    const audit = await repos.audit.list({ subjectType: 'deployment', subjectId: id });
    expect(audit.map((a) => a.action)).toContain('deployment.scheduled');
    expect(audit.find((a) => a.action === 'deployment.scheduled')?.actor).toBe('U_ALICE');
  }, 90_000);

  it('halts a ring over its failure budget and rolls its hosts back to the pre-deployment versions', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 1, failureBudget: 0 }],
      deployments: {
        sudo: true,
        reboot: { policy: 'never' },
        retry: { attempts: 0, backoff: '1s' },
        onFailure: 'rollback',
        healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
      },
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    const hosts = ['web-1', 'web-2', 'web-3'].map((n) => fleet.host(n));
    const change = await seedChange(test.db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const order = scheduled.deployment.rings[0]?.hosts.map((h) => h.hostName) ?? [];
    // the second host in the ring's order installs, then fails its health check
    const failing = order[1] ?? '';
    await fleet.host(failing).setUnhealthy(true);
    const id = scheduled.deployment.id;
    await waitFor(
      'rolled back',
      async () => (await repos.deployments.get(id)).state.status === 'rolled_back',
      60_000,
    );

    const detail = await repos.deployments.detail(id);
    const runs = new Map(detail.rings[0]?.hosts.map((h) => [h.hostName, h]));
    expect(runs.get(order[0] ?? '')?.status).toBe('rolled_back');
    expect(runs.get(failing)?.status).toBe('rolled_back');
    expect(runs.get(order[2] ?? '')?.status).toBe('skipped');
    for (const name of [order[0] ?? '', failing]) {
      const installed = await installedOf(name);
      expect(installed.get('openssl')).toBe(OLD);
      expect(installed.get('libssl3')).toBe(OLD);
      const log = await fleet.host(name).installLog();
      expect(log).toHaveLength(2);
      expect(log[1]).toMatch(/^downgrade /);
    }
    expect(await fleet.host(order[2] ?? '').installLog()).toEqual([]);
    const halted = harness.events.find((e) => e.type === 'ring_halted');
    expect(halted).toMatchObject({ rollingBack: true, failed: [{ host: failing }] });
    if (halted?.type === 'ring_halted') expect(halted.failed[0]?.error).toMatch(/health check failed: svc/);
    await eventSeen('rollback_finished');
    const finished = harness.events.find((e) => e.type === 'rollback_finished');
    expect(finished).toMatchObject({ ok: true });
    const change2 = await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: change.id } });
    expect(change2.status).toBe('rolled_back');
    expect(await outboundEvents(change.id)).toEqual([
      'deployment.planned',
      'deployment.started',
      'host.failed',
      'deployment.halted',
      'deployment.rolled_back',
    ]);
    // the story survives the rollback: why it halted, and why the host failed
    expect(detail.state.haltReason).toMatch(
      /ring all: 1 of 3 host\(s\) failed, over the failure budget of 0/,
    );
    expect(runs.get(failing)?.error).toMatch(/health check failed: svc/);
    const status = statusLines(detail).join('\n');
    expect(status).toMatch(/: rolled back, ring 1\/1/);
    expect(status).toMatch(/halted: ring all: 1 of 3 host\(s\) failed/);
    expect(status).toMatch(new RegExp(`${failing} +rolled back[^\\n]*\\n +health check failed: svc`));
  }, 90_000);

  it('reports plainly a package it cannot roll back because the old version is gone', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 1, failureBudget: 0 }],
      deployments: {
        sudo: true,
        reboot: { policy: 'never' },
        retry: { attempts: 0, backoff: '1s' },
        onFailure: 'rollback',
        healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
      },
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    const host = fleet.host('db-1');
    await host.setUnhealthy(true);
    const change = await seedChange(test.db, {
      hosts: [host],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    // the repository drops the old version while the deployment runs (as Debian's security archive does)
    await waitFor('install', async () => (await host.installLog()).length === 1);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${host.stateDir}/available`, `openssl\t${NEW}\nlibssl3\t${NEW}\n`);
    const id = scheduled.deployment.id;
    await waitFor(
      'rollback failed',
      async () => (await repos.deployments.get(id)).state.status === 'rollback_failed',
      60_000,
    );
    const run = (await repos.deployments.detail(id)).rings[0]?.hosts[0];
    expect(run?.status).toBe('rollback_failed');
    // why the host failed stays on record; why it could not be rolled back is beside it
    expect(run?.error).toMatch(/health check failed: svc/);
    expect(run?.rollbackError).toMatch(/cannot restore openssl: .*no longer offered/);
    expect((await host.installed()).get('openssl')).toBe(NEW);
    await eventSeen('rollback_finished');
    const finished = harness.events.find((e) => e.type === 'rollback_finished');
    expect(finished).toMatchObject({ ok: false, hosts: [{ host: 'db-1', result: 'rollback_failed' }] });
  }, 90_000);

  it('skips a host unreachable before anything was sent (after retrying): not changed, not counted against the budget', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 2, failureBudget: 0 }],
      deployments: {
        sudo: true,
        reboot: { policy: 'never' },
        retry: { attempts: 2, backoff: '1s' },
        onFailure: 'rollback',
      },
    });
    // a port nothing listens on
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const ghost = fleet.host('web-3');
    await repos.hosts.upsert({
      name: 'ghost-1',
      address: '127.0.0.1',
      port,
      sshUser: ghost.ssh.user,
      hostKeys: [{ sha256: '0'.repeat(64), type: null }],
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    const change = await seedChange(test.db, {
      hosts: [fleet.host('web-1'), { ...ghost, name: 'ghost-1' }],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const id = scheduled.deployment.id;
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(id)).state.status === 'completed',
      60_000,
    );
    const runs = new Map((await repos.deployments.detail(id)).rings[0]?.hosts.map((h) => [h.hostName, h]));
    expect(runs.get('web-1')?.status).toBe('succeeded');
    const g = runs.get('ghost-1');
    expect(g?.status).toBe('skipped');
    expect(g?.error).toMatch(
      /not changed: the host could not be reached .*connection refused.* after 3 attempt/,
    );
    expect(g?.installSentAt).toBeNull();
    expect(harness.events.find((e) => e.type === 'host_failed')).toBeUndefined();
    expect(harness.events.find((e) => e.type === 'host_skipped')).toMatchObject({ host: 'ghost-1' });
  }, 90_000);

  it('skips a host retired after the deployment was planned: not connected to, not counted against the budget', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 2, failureBudget: 0 }],
      deployments: { sudo: true, reboot: { policy: 'never' }, onFailure: 'rollback' },
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    const change = await seedChange(test.db, {
      hosts: [fleet.host('web-1'), fleet.host('web-2')],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const id = scheduled.deployment.id;
    const retired = await repos.hosts.retire('web-2');
    expect(retired?.retiredAt).toBeInstanceOf(Date);
    // the other tests deploy to web-2: managed again once this one is done
    onTestFinished(async () => {
      await test.db.prisma.$executeRaw`UPDATE "Host" SET "retiredAt" = NULL WHERE name = 'web-2'`;
    });
    const before = await fleet.host('web-2').installed();
    workers.push(startWorker(harness));
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(id)).state.status === 'completed',
      60_000,
    );
    const runs = new Map((await repos.deployments.detail(id)).rings[0]?.hosts.map((h) => [h.hostName, h]));
    expect(runs.get('web-1')?.status).toBe('succeeded');
    const r = runs.get('web-2');
    expect(r?.status).toBe('skipped');
    expect(r?.error).toMatch(
      /not changed: the host was retired on \d{4}-\d\d-\d\dT.* and is no longer managed/,
    );
    expect(r?.installSentAt).toBeNull();
    expect(await fleet.host('web-2').installed()).toEqual(before);
    expect(harness.events.find((e) => e.type === 'host_failed')).toBeUndefined();
  }, 90_000);

  it('refuses a host whose key changed before any command, and records no install', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, { rings: [{ name: 'all', concurrency: 2, failureBudget: 1 }] });
    const victim = fleet.host('db-1');
    const oldPin = victim.ssh.hostKeyFingerprint;
    await victim.ssh.replaceHostKey();
    try {
      harness = await createHarness({ db: test.db, repos, policy, clock });
      workers.push(startWorker(harness));
      const change = await seedChange(test.db, {
        hosts: [victim, fleet.host('web-2')],
        packageName: 'openssl',
        installedVersion: OLD,
        fixedVersion: NEW,
      });
      const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
      const id = scheduled.deployment.id;
      await waitFor(
        'completed',
        async () => (await repos.deployments.get(id)).state.status === 'completed',
        60_000,
      );
      const runs = new Map((await repos.deployments.detail(id)).rings[0]?.hosts.map((h) => [h.hostName, h]));
      const run = runs.get('db-1');
      expect(run?.status).toBe('failed');
      expect(run?.error).toMatch(/host key CHANGED/);
      expect(run?.error).toContain(oldPin);
      expect(run?.preBaseline).toBeNull();
      expect(run?.installSentAt).toBeNull();
      expect(await victim.installLog()).toEqual([]);
      expect((await victim.installed()).get('openssl')).toBe(OLD);
      expect(runs.get('web-2')?.status).toBe('succeeded');
    } finally {
      // pin the new key so later tests reach the host again
      const { fingerprintToHex } = await import('../../../src/usecases/hosts.js');
      await repos.hosts.upsert({
        name: 'db-1',
        address: victim.ssh.address,
        port: victim.ssh.port,
        sshUser: victim.ssh.user,
        hostKeys: [{ sha256: fingerprintToHex(victim.ssh.hostKeyFingerprint, 'db-1'), type: null }],
        labels: { ring: 'broad' },
      });
    }
  }, 90_000);

  it('waits for a maintenance window in the future: nothing runs before it opens', async () => {
    // 00:00 UTC; the window opens at 02:00 UTC
    const clock = new TestClock(new Date('2026-11-24T00:00:00Z'));
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 2 }],
      maintenanceWindows: [{ name: 'night', schedule: 'daily 02:00-03:00', timeZone: 'UTC' }],
    });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    const hosts = [fleet.host('web-1'), fleet.host('web-2')];
    const change = await seedChange(test.db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    expect(scheduled.plan.rings[0]?.start?.toISOString()).toBe('2026-11-24T02:00:00.000Z');
    const id = scheduled.deployment.id;
    await new Promise((r) => setTimeout(r, 2_500));
    let detail = await repos.deployments.detail(id);
    expect(detail.state.status).toBe('waiting_window');
    expect(detail.rings[0]?.hosts.map((h) => h.status)).toEqual(['pending', 'pending']);
    expect(detail.rings[0]?.hosts.map((h) => h.notBefore?.toISOString())).toEqual([
      '2026-11-24T02:00:00.000Z',
      '2026-11-24T02:00:00.000Z',
    ]);
    for (const h of hosts) expect(await h.installLog()).toEqual([]);

    clock.set(new Date('2026-11-24T01:59:00Z'));
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await repos.deployments.get(id)).state.status).toBe('waiting_window');

    clock.set(new Date('2026-11-24T02:00:30Z'));
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(id)).state.status === 'completed',
      30_000,
    );
    detail = await repos.deployments.detail(id);
    expect(
      detail.rings[0]?.hosts.every((h) => h.startedAt && h.startedAt >= new Date('2026-11-24T02:00:00Z')),
    ).toBe(true);
    for (const h of hosts) expect(await h.installLog()).toHaveLength(1);
  }, 60_000);

  it('rejects hostile package names and versions before any command is built', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet);
    let execs = 0;
    const counting: ExecutorFactory = async () => {
      await Promise.resolve();
      return {
        host: 'counted',
        exec: () => {
          execs += 1;
          throw new Error('no command may run');
        },
        close: () => Promise.resolve(),
      };
    };
    harness = await createHarness({ db: test.db, repos, policy, clock, executors: counting });
    workers.push(startWorker(harness));
    const host = fleet.host('web-1');
    for (const [packageName, fixedVersion] of [
      ['openssl;reboot', NEW],
      ['$(touch /tmp/pwned)', NEW],
      ['-oAPT::Update::Pre-Invoke::=touch', NEW],
      ['openssl', '1.0; rm -rf /'],
      ['openssl', '3.0.13-'],
      ['openssl', '1.0\nreboot'],
    ]) {
      const change = await seedChange(test.db, {
        hosts: [host],
        packageName,
        installedVersion: OLD,
        fixedVersion,
      });
      const err = await scheduleDeployment(harness.deps, { changeId: change.id }).catch((e: unknown) => e);
      expect(err, `${packageName}=${fixedVersion}`).toBeInstanceOf(PatchbotError);
      expect((err as PatchbotError).code).toBe('VALIDATION');
      expect((err as PatchbotError).userMessage).toMatch(/host web-1: invalid/);
      expect(await repos.deployments.activeForChange(change.id)).toEqual([]);
    }
    // a hostile target that reached the database some other way fails the host before any command
    const valid = await seedChange(test.db, {
      hosts: [host],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const c = await repos.deployments.changeForDeployment(valid.id);
    const planned = planChange({
      change: c,
      hosts: await repos.hosts.list(),
      snapshots: await repos.deployments.hostSourcePackages(
        [...new Set(c.findings.map((f) => f.hostId))],
        ['openssl'],
      ),
      policy,
      emergency: false,
      now: clock.now(),
    });
    const created = await repos.deployments.create({
      changeRequestId: c.id,
      emergency: false,
      createdBy: 'test',
      plan: planned.stored,
      rings: planned.rings.map((r) => ({
        ...r,
        hosts: r.hosts.map((h) => ({ ...h, targets: [{ name: 'openssl', version: "1'; reboot; '" }] })),
      })),
    });
    await repos.deployments.transition(created.id, { type: 'schedule' }, clock.now());
    await startRing(harness.deps, await repos.deployments.get(created.id), 0);
    await waitFor(
      'halted and closed',
      async () => (await repos.deployments.get(created.id)).state.status === 'rolled_back',
    );
    const run = (await repos.deployments.detail(created.id)).rings[0]?.hosts[0];
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/invalid .*version/);
    expect(run?.installSentAt).toBeNull();
    expect(execs).toBe(0);
    expect(await host.installLog()).toEqual([]);
  }, 60_000);

  it('pauses, resumes and aborts through deploymentControl, audited with the actor', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, { rings: [{ name: 'all', concurrency: 1 }] });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    for (const h of fleet.hosts) await h.setSlowInstall(1);
    const change = await seedChange(test.db, {
      hosts: fleet.hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const id = scheduled.deployment.id;
    const order = scheduled.deployment.rings[0]?.hosts.map((h) => h.hostName) ?? [];
    // a lane claims its first host, then moves the deployment out of waiting_window: wait for both
    await waitFor('first host running', async () => {
      const d = await repos.deployments.detail(id);
      return d.state.status === 'running' && d.rings[0]?.hosts[0]?.state === 'running';
    });

    const paused = await deploymentControl(harness.deps, {
      deploymentId: String(scheduled.deployment.number),
      action: 'pause',
      actor: ACTOR,
    });
    expect(paused).toMatchObject({ from: 'running', to: 'paused' });
    expect(paused.message).toMatch(/paused/);
    // the host already running finishes; no other host starts while paused
    await waitFor(
      'first host done',
      async () => (await repos.deployments.detail(id)).rings[0]?.hosts[0]?.status === 'succeeded',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    let detail = await repos.deployments.detail(id);
    expect(detail.state.status).toBe('paused');
    expect(detail.rings[0]?.hosts.slice(1).map((h) => h.status)).toEqual(['pending', 'pending', 'pending']);
    expect(await fleet.host(order[1] ?? '').installLog()).toEqual([]);

    const resumed = await deploymentControl(harness.deps, {
      deploymentId: id,
      action: 'resume',
      actor: ACTOR,
    });
    expect(resumed.to).toBe('running');
    await waitFor(
      'second host done',
      async () => (await repos.deployments.detail(id)).rings[0]?.hosts[1]?.status === 'succeeded',
    );
    const aborted = await deploymentControl(harness.deps, {
      deploymentId: id,
      action: 'abort',
      actor: ACTOR,
    });
    expect(aborted.to).toBe('aborted');
    await new Promise((r) => setTimeout(r, 2_500));
    detail = await repos.deployments.detail(id);
    expect(detail.state.status).toBe('aborted');
    const statuses = detail.rings[0]?.hosts.map((h) => h.status) ?? [];
    expect(statuses.slice(0, 2)).toEqual(['succeeded', 'succeeded']);
    // the third may have started before the abort; it finishes, the fourth never starts
    expect(statuses[3]).toBe('skipped');
    expect(await fleet.host(order[3] ?? '').installLog()).toEqual([]);

    const err = await deploymentControl(harness.deps, {
      deploymentId: id,
      action: 'resume',
      actor: ACTOR,
    }).catch((e: unknown) => e);
    expect((err as PatchbotError).code).toBe('CONFLICT');
    expect((err as PatchbotError).userMessage).toMatch(/aborted cannot take "resume"/);

    const audit = await repos.audit.list({ subjectType: 'deployment', subjectId: id });
    const byAlice = audit.filter((a) => a.actor === 'U_ALICE').map((a) => [a.action, a.surface]);
    expect(byAlice).toEqual([
      ['deployment.pause', 'slack'],
      ['deployment.resume', 'slack'],
      ['deployment.abort', 'slack'],
    ]);
    const changes = harness.events.filter((e) => e.type === 'state_changed');
    expect(changes.map((e) => (e.type === 'state_changed' ? e.action : ''))).toEqual([
      'pause',
      'resume',
      'abort',
    ]);
  }, 90_000);

  it('re-creates the jobs Redis lost from the database (reconciler)', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, { rings: [{ name: 'all', concurrency: 2 }] });
    harness = await createHarness({ db: test.db, repos, policy, clock });
    const hosts = [fleet.host('web-1'), fleet.host('web-2')];
    const change = await seedChange(test.db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const id = scheduled.deployment.id;
    expect(await harness.registration.scheduler.hasPendingJobs(id)).toBe(true);
    // Redis loses everything before a worker ran
    const keys = await harness.connection.keys(`${harness.prefix}:*`);
    await harness.connection.del(...keys);
    expect(await harness.registration.scheduler.hasPendingJobs(id)).toBe(false);
    workers.push(startWorker(harness));
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await repos.deployments.get(id)).state.status).toBe('waiting_window');

    const redriven = await reconcile(harness.registration.engine);
    expect(redriven).toEqual([{ deployment: scheduled.deployment.number, state: 'waiting_window' }]);
    expect(await reconcile(harness.registration.engine)).toEqual([]); // jobs exist now: nothing to do
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(id)).state.status === 'completed',
      30_000,
    );
    for (const h of hosts) expect(await h.installLog()).toHaveLength(1);
  }, 60_000);

  it('refuses a change that is not approved', async () => {
    const clock = new TestClock(new Date());
    harness = await createHarness({ db: test.db, repos, policy: testPolicy(fleet), clock });
    const change = await seedChange(test.db, {
      hosts: [fleet.host('web-1')],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
      status: 'pending',
    });
    const err = await scheduleDeployment(harness.deps, { changeId: change.id }).catch((e: unknown) => e);
    expect((err as PatchbotError).code).toBe('POLICY_DENIED');
    expect((err as PatchbotError).userMessage).toMatch(/is pending, not approved/);
    const emergency = await seedChange(test.db, {
      hosts: [fleet.host('web-1')],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const denied = await scheduleDeployment(harness.deps, { changeId: emergency.id, emergency: true }).catch(
      (e: unknown) => e,
    );
    expect((denied as PatchbotError).code).toBe('POLICY_DENIED');
    expect((denied as PatchbotError).userMessage).toMatch(/emergency lane is off/);
  });
});
