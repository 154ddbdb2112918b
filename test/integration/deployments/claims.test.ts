/**
 * Host claims and progress writes of the deployment repository, on both databases, without SSH:
 * a ring's concurrency holds under concurrent claims (slots under a unique index), a dead worker's
 * host is taken over in its slot, a claim says why it found nothing, progress since the last write
 * is stored in one write only by the worker holding the host, and a ring's start skips only the
 * hosts whose window never opens.
 */
import { expect, it } from 'vitest';
import { MaintenanceWindowSpec } from '../../../src/core/deployments/windows.js';
import type { Database } from '../../../src/db/client.js';
import {
  DeploymentRepository,
  type ClaimResult,
  type HostRunRecord,
} from '../../../src/db/repositories/deployment-repository.js';
import { AuditRepository } from '../../../src/db/repositories/audit-repository.js';
import { startRing } from '../../../src/usecases/deployments/engine.js';
import type { DeploymentScheduler, StoredPlan } from '../../../src/usecases/deployments/types.js';
import { forEachBackend } from '../../support/db.js';
import { silentLogger } from './support.js';

const NOW = new Date('2026-12-01T10:00:00Z');
const LEASE_MS = 60_000;

function storedPlan(hosts: Record<string, { window?: string }>, blackout: boolean): StoredPlan {
  return {
    version: 1,
    change: { number: 1, packageName: 'openssl', fixedVersion: '3.0.13-1~deb12u1', ecosystem: 'Debian:12' },
    plan: {},
    settings: {
      installTimeoutMs: 60_000,
      commandTimeoutMs: 30_000,
      maxOutputBytes: 65_536,
      reboot: { policy: 'never', waitLimitMs: 600_000 },
      onFailure: 'halt',
      retry: { attempts: 0, backoffMs: 0 },
      skipWindows: false,
      skipSoak: false,
      windows: [
        MaintenanceWindowSpec.parse({
          name: 'frozen',
          timeZone: 'Europe/Berlin',
          schedule: ['Tue 02:00-04:00'],
          blackoutDates: blackout ? ['2026-01-01..2028-12-31'] : [],
        }),
      ],
      blackoutDates: [],
      hosts: Object.fromEntries(
        Object.entries(hosts).map(([name, h]) => [
          name,
          { address: `${name}.example`, sudo: false, healthChecks: [], ...h },
        ]),
      ),
    },
  };
}

let seeded = 0;

/**
 * A scheduled deployment of one ring over `count` new hosts (names[0] ...), with `concurrency`;
 * `windows` maps a host's index to its window.
 */
async function seed(
  db: Database,
  options: { count: number; concurrency: number; windows?: Record<number, string>; notBefore?: Date },
): Promise<{ repo: DeploymentRepository; deploymentId: string; ringId: string; names: string[] }> {
  const repo = new DeploymentRepository(db.prisma, db.sql);
  seeded += 1;
  const names = Array.from({ length: options.count }, (_, i) => `s${seeded}-h${i + 1}`);
  await db.prisma.host.createMany({
    data: names.map((name) => ({
      name,
      address: `${name}.example`,
      hostKeys: [{ sha256: '0'.repeat(64), type: null }],
    })),
  });
  const hosts = await db.prisma.host.findMany({ where: { name: { in: names } } });
  const change = await db.prisma.changeRequest.create({
    data: {
      ecosystem: 'Debian:12',
      packageName: 'openssl',
      sourcePackage: 'openssl',
      fixedVersion: '3.0.13-1~deb12u1',
      status: 'approved',
      requestedBy: 'test',
      policySnapshot: {},
    },
  });
  const plan = storedPlan(
    Object.fromEntries(
      names.map((n, i) => [n, options.windows?.[i] !== undefined ? { window: options.windows[i] } : {}]),
    ),
    true,
  );
  const created = await repo.create({
    changeRequestId: change.id,
    emergency: false,
    createdBy: 'test',
    plan,
    rings: [
      {
        name: 'all',
        concurrency: options.concurrency,
        failureBudget: { count: 0 },
        soakSeconds: 0,
        notBefore: null,
        healthChecks: [],
        hosts: names.map((name) => ({
          hostId: hosts.find((h) => h.name === name)?.id ?? '',
          hostName: name,
          tool: 'apt',
          targets: [{ name: 'openssl', version: '3.0.13-1~deb12u1' }],
          notBefore: options.notBefore ?? null,
        })),
      },
    ],
  });
  const scheduled = await repo.transition(created.id, { type: 'schedule' }, NOW);
  expect(scheduled.ok).toBe(true);
  const ring = await repo.ring(created.id, 0);
  return { repo, deploymentId: created.id, ringId: ring.id, names };
}

const claimed = (r: ClaimResult): HostRunRecord => {
  if (r.kind !== 'claimed') throw new Error(`expected a claim, got ${r.kind}`);
  return r.run;
};

forEachBackend('deployment claims', (db) => {
  it('concurrent claims never run more hosts than the ring concurrency, nor one host twice', async () => {
    const { repo, ringId, names } = await seed(db(), { count: 8, concurrency: 3 });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        repo.claimNextHost(ringId, `worker-${i}`, {
          now: NOW,
          realNow: new Date(),
          leaseMs: LEASE_MS,
          slotHint: i % 3,
        }),
      ),
    );
    const runs = results.filter((r) => r.kind === 'claimed').map(claimed);
    expect(runs).toHaveLength(3);
    expect(new Set(runs.map((r) => r.id)).size).toBe(3);
    expect(results.filter((r) => r.kind !== 'claimed').map((r) => r.kind)).toEqual(Array(7).fill('busy'));
    const rows = await db().prisma.hostRun.findMany({ where: { ringId, state: 'running' } });
    expect(rows.map((r) => r.slot).sort()).toEqual([0, 1, 2]);
    expect(runs.every((r) => r.status === 'pre_baseline' && r.attempt === 1)).toBe(true);
    // claims racing for one host move on to the next ones in plan order (which exactly depends on
    // the race); the claimed hosts are the rows now running, the others still pending
    const pending = await db().prisma.hostRun.findMany({ where: { ringId, state: 'pending' } });
    expect([...runs.map((r) => r.hostName), ...pending.map((r) => r.hostName)].sort()).toEqual(
      [...names].sort(),
    );
  });

  it("reads a lane's deployment, ring and the ring's size in one statement, as the record readers do", async () => {
    const { repo, deploymentId } = await seed(db(), { count: 2, concurrency: 1 });
    expect(await repo.laneContext(deploymentId, 0)).toEqual({
      deployment: await repo.get(deploymentId),
      ring: await repo.ring(deploymentId, 0),
      ringSize: 2,
    });
    expect(await repo.laneContext(deploymentId, 1)).toBeUndefined();
  });

  it('a finished host frees its slot; a host whose worker died is taken over in its slot', async () => {
    const { repo, ringId, names } = await seed(db(), { count: 5, concurrency: 2 });
    const opts = { now: NOW, realNow: new Date(), leaseMs: LEASE_MS };
    const a = claimed(await repo.claimNextHost(ringId, 'wa', { ...opts, slotHint: 0 }));
    const b = claimed(await repo.claimNextHost(ringId, 'wb', { ...opts, slotHint: 1 }));
    expect((await repo.claimNextHost(ringId, 'wc', opts)).kind).toBe('busy');

    const failed = await repo.saveProgress(a, 'wa', [{ type: 'fail', error: 'boom' }], {
      error: 'boom',
      finishedAt: NOW,
    });
    expect(failed?.status).toBe('failed');
    const c = claimed(await repo.claimNextHost(ringId, 'wc', opts));
    expect(c.hostName).toBe(names[2]);
    const slots = async (): Promise<Record<string, number | null>> =>
      Object.fromEntries(
        (await db().prisma.hostRun.findMany({ where: { ringId, state: 'running' } })).map((r) => [
          r.hostName,
          r.slot,
        ]),
      );
    expect(await slots()).toEqual({ [names[1] ?? '']: 1, [names[2] ?? '']: 0 });

    // b's worker stops heartbeating: after the lease, another worker resumes b, in b's slot
    await db().prisma.hostRun.update({
      where: { id: b.id },
      data: { heartbeatAt: new Date(Date.now() - LEASE_MS - 1_000) },
    });
    const taken = await repo.claimNextHost(ringId, 'wd', { ...opts, realNow: new Date() });
    expect(taken).toMatchObject({ kind: 'claimed', resumed: true });
    expect(claimed(taken).id).toBe(b.id);
    expect(claimed(taken).attempt).toBe(2);
    expect(await slots()).toEqual({ [names[1] ?? '']: 1, [names[2] ?? '']: 0 });
    // the old worker's writes are refused from now on
    expect(await repo.saveProgress(b, 'wb', [{ type: 'pre_baseline_done' }])).toBeNull();
  });

  it('says why nothing was claimed: a window ahead (wait), a paused deployment or nothing left (done)', async () => {
    const later = new Date(NOW.getTime() + 3_600_000);
    const ahead = await seed(db(), { count: 2, concurrency: 2, notBefore: later });
    const opts = { now: NOW, realNow: new Date(), leaseMs: LEASE_MS };
    expect(await ahead.repo.claimNextHost(ahead.ringId, 'w1', opts)).toEqual({ kind: 'wait', until: later });
    const first = claimed(await ahead.repo.claimNextHost(ahead.ringId, 'w1', { ...opts, now: later }));
    expect(first.hostName).toBe(ahead.names[0]);
    const paused = await ahead.repo.transition(ahead.deploymentId, { type: 'pause' }, later);
    expect(paused.ok).toBe(true);
    expect((await ahead.repo.claimNextHost(ahead.ringId, 'w2', { ...opts, now: later })).kind).toBe('done');
    const resumed = await ahead.repo.transition(ahead.deploymentId, { type: 'resume' }, later);
    expect(resumed.ok).toBe(true);
    claimed(await ahead.repo.claimNextHost(ahead.ringId, 'w2', { ...opts, now: later }));
    // both hosts are held by live workers: a third lane has nothing to do
    expect((await ahead.repo.claimNextHost(ahead.ringId, 'w3', { ...opts, now: later })).kind).toBe('done');
  });

  it('moves rings with the deployment in one transition, and leaves them when the event is refused', async () => {
    const { repo, deploymentId, ringId } = await seed(db(), { count: 1, concurrency: 1 });
    const ringState = async () => (await repo.ring(deploymentId, 0)).state;
    // an illegal event (a scheduled deployment cannot pass a ring) changes neither row
    const refused = await repo.transition(deploymentId, { type: 'ring_passed' }, NOW, [
      { ringId, from: ['pending', 'running'], to: 'passed', data: { finishedAt: NOW } },
    ]);
    expect(refused.ok).toBe(false);
    expect(await ringState()).toBe('pending');
    // an abort stops the ring with the deployment and closes the change in the same write
    const aborted = await repo.transition(deploymentId, { type: 'abort' }, NOW, [
      { ringId, from: ['pending', 'running'], to: 'halted', data: { finishedAt: NOW } },
    ]);
    expect(aborted).toMatchObject({ ok: true, to: { status: 'aborted' } });
    expect(await ringState()).toBe('halted');
    expect((await repo.ring(deploymentId, 0)).finishedAt).toEqual(NOW);
    const dep = await repo.get(deploymentId);
    expect(
      (await db().prisma.changeRequest.findUniqueOrThrow({ where: { id: dep.changeRequestId } })).status,
    ).toBe('cancelled');
  });

  it('stores the steps taken since the last write in one write, only for the worker holding the host', async () => {
    const { repo, ringId } = await seed(db(), { count: 1, concurrency: 1 });
    const run = claimed(
      await repo.claimNextHost(ringId, 'w', { now: NOW, realNow: new Date(), leaseMs: LEASE_MS }),
    );
    const baseline = { openssl: ['3.0.11-1~deb12u1'] };
    const installing = await repo.saveProgress(run, 'w', [{ type: 'pre_baseline_done' }], {
      preBaseline: baseline,
      installSentAt: NOW,
    });
    expect(installing).toMatchObject({ status: 'installing', preBaseline: baseline, installSentAt: NOW });
    if (!installing) throw new Error('not saved');
    // a stale view of the row (still pre_baseline) writes nothing
    expect(await repo.saveProgress(run, 'w', [{ type: 'pre_baseline_done' }])).toBeNull();
    const done = await repo.saveProgress(
      installing,
      'w',
      [
        { type: 'install_done' },
        { type: 'post_baseline_done' },
        { type: 'verified', rebootNeeded: false },
        { type: 'healthy' },
      ],
      { postBaseline: { openssl: ['3.0.13-1~deb12u1'] }, output: 'ok', finishedAt: NOW },
    );
    expect(done).toMatchObject({ status: 'succeeded', workerId: null });
    const stored = await repo.hostRun(run.id);
    expect(stored).toMatchObject({
      status: 'succeeded',
      preBaseline: baseline,
      postBaseline: { openssl: ['3.0.13-1~deb12u1'] },
      output: 'ok',
      workerId: null,
    });
    // an event the state machine refuses is an error, not a write
    await expect(repo.saveProgress(stored, 'w', [{ type: 'install_done' }])).rejects.toThrow(/cannot take/);
  });

  it('stores output and baselines a hostile host padded with NUL characters, instead of failing the write', async () => {
    const { repo, ringId } = await seed(db(), { count: 1, concurrency: 1 });
    const run = claimed(
      await repo.claimNextHost(ringId, 'w', { now: NOW, realNow: new Date(), leaseMs: LEASE_MS }),
    );
    const failed = await repo.saveProgress(run, 'w', [{ type: 'fail', error: 'x' }], {
      preBaseline: { openssl: ['3.0.11\u0000evil'] },
      output: 'E: broken\u0000\u0000 pipe',
      error: 'dpkg-query exited with 2: \u0000',
      finishedAt: NOW,
    });
    expect(failed?.status).toBe('failed');
    expect(await repo.hostRun(run.id)).toMatchObject({
      status: 'failed',
      preBaseline: { openssl: ['3.0.11\ufffdevil'] },
      output: 'E: broken\ufffd\ufffd pipe',
      error: 'dpkg-query exited with 2: \ufffd',
    });
  });

  it("starts a ring skipping only the hosts whose window never opens, the others' start set", async () => {
    const { repo, deploymentId, ringId, names } = await seed(db(), {
      count: 3,
      concurrency: 3,
      windows: { 1: 'frozen' },
    });
    const enqueued: unknown[] = [];
    const scheduler: DeploymentScheduler = {
      enqueueRing: (job) => Promise.resolve(void enqueued.push(job)),
      enqueueAdvance: () => Promise.resolve(),
      enqueueRollback: () => Promise.resolve(),
      hasPendingJobs: () => Promise.resolve(false),
    };
    await startRing(
      {
        deployments: repo,
        audit: new AuditRepository(db().prisma),
        scheduler,
        executors: () => Promise.reject(new Error('no host is contacted')),
        now: () => NOW,
        logger: silentLogger,
      },
      await repo.get(deploymentId),
      0,
    );
    const runs = await repo.hostRuns(ringId);
    expect(runs.map((r) => [r.hostName, r.status, r.notBefore?.toISOString() ?? null])).toEqual([
      [names[0], 'pending', NOW.toISOString()],
      [names[1], 'skipped', null],
      [names[2], 'pending', NOW.toISOString()],
    ]);
    expect(runs[1]?.error).toMatch(/window does not open/);
    expect(enqueued).toEqual([{ deploymentId, ringIndex: 0, generation: 1, lanes: 3 }]);
  });
});
