/**
 * Faults caused for real while a ring installs, against `node bin/patchbot.js worker` processes,
 * real sshd hosts (the package managers run through sudo under docs/patchbot.sudoers), PostgreSQL
 * and Redis. Every scenario asserts that no host was harmed: nothing installed twice, no package
 * manager signalled or left unfinished, no healthy host marked failed, no rollback caused by
 * patchbot's own fault, and the deployment completes or halts with a true reason.
 *
 * - the worker's PostgreSQL backends terminated (pg_terminate_backend, this test's database only);
 * - its Redis restarted (a private redis-server on its own port, with its append-only file);
 * - the worker stopped with SIGTERM mid-install (drain, grace, hand back), and with SIGKILL;
 * - an install that outlives its timeout and the lease;
 * - a host whose dpkg the install leaves interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { runJob } from '../../../src/executors/jobs.js';
import { DRIVERS } from '../../../src/executors/package-managers/index.js';
import { SshExecutor } from '../../../src/executors/ssh/ssh-executor.js';
import { runCli } from '../../support/cli.js';
import { adminQuery, createTempPostgres, type TempPostgres } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet, type FleetHost } from '../../support/fleet-hosts.js';
import { freePort, spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';
import { sshdAvailable } from '../../support/sshd.js';
import { REDIS_URL, registerFleet, reposOf, seedChange, waitFor, type Repos } from './support.js';

const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const NAMES = ['flt-1', 'flt-2', 'flt-3', 'flt-4'];

let fleet: Fleet;
let pg_: TempPostgres;
let db: Database;
let repos: Repos;
const dir = mkdtempSync(join(tmpdir(), 'patchbot-faults-'));
const procs: Proc[] = [];
let redis: PrivateRedis | undefined;
let prefix = '';

// ---------------------------------------------------------------------------------------------
// a private Redis (never the shared one)

interface PrivateRedis {
  url: string;
  stop(signal: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const data = mkdtempSync(join(dir, 'redis-'));
  let child: ChildProcess | undefined;
  const ping = async (): Promise<boolean> => {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  };
  const r: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--dir',
          data,
        ],
        { stdio: 'ignore' },
      );
      await waitFor('private redis', ping, 10_000);
    },
    async stop(signal) {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(signal);
      });
    },
  };
  await r.start();
  return r;
}

// ---------------------------------------------------------------------------------------------
// set-up

function policyFile(deployments: Record<string, unknown>, concurrency = 2): string {
  const path = join(dir, `patchbot-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(
    path,
    stringify({
      ssh: {
        user: fleet.hosts[0]?.ssh.user,
        identityFile: fleet.clientKeyPath,
        connectTimeout: '3s',
        commandTimeout: '30s',
      },
      hosts: fleet.hosts.map((h) => ({
        name: h.name,
        address: h.ssh.address,
        port: h.ssh.port,
        hostKey: h.ssh.hostKeyFingerprint,
      })),
      rings: [{ name: 'all', concurrency, failureBudget: 0 }],
      deployments: {
        reboot: { policy: 'never' },
        retry: { attempts: 2, backoff: '1s' },
        onFailure: 'rollback',
        recheckInterval: '2s',
        ...deployments,
      },
      // nothing reaches outside: no feed source, no inventory run during the test
      feeds: {
        sources: Object.fromEntries(
          ['debian-tracker', 'osv-debian', 'kev', 'epss'].map((n) => [n, { enabled: false }]),
        ),
      },
      inventory: { collectInterval: '30d' },
    }),
  );
  return path;
}

function envOf(policy: string, redisUrl = REDIS_URL, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: pg_.url,
    REDIS_URL: redisUrl,
    PATCHBOT_CONFIG: policy,
    PATCHBOT_QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

async function startWorker(env: NodeJS.ProcessEnv): Promise<Proc> {
  const proc = spawnPatchbot(['worker'], env, dir);
  procs.push(proc);
  await waitForLine(proc, /patchbot worker is up/, 60_000);
  return proc;
}

/**
 * An approved change for `hosts`, started with `patchbot deploy start` (the real endpoint). Before any
 * worker runs: a worker's approval sweep would send a change approved without recorded approvals
 * back to pending.
 */
async function deploy(hosts: readonly FleetHost[], env: NodeJS.ProcessEnv): Promise<string> {
  const change = await seedChange(db, {
    hosts,
    packageName: 'openssl',
    installedVersion: OLD,
    fixedVersion: NEW,
  });
  const r = await runCli(['deploy', 'start', String(change.number)], env, dir);
  expect(r.code, r.stderr).toBe(0);
  return (await db.prisma.deployment.findFirstOrThrow({ where: { changeRequestId: change.id } })).id;
}

/** The deployment's state, or undefined while this test's own connections are being cut. */
const stateOf = async (id: string): Promise<string | undefined> =>
  (await repos.deployments.get(id).catch(() => undefined))?.state.status;

const begun = async (hosts: readonly FleetHost[]): Promise<number> =>
  (await Promise.all(hosts.map(async (h) => ((await h.installsBegun()).length > 0 ? 1 : 0)))).reduce<number>(
    (a, b) => a + b,
    0,
  );

/** No host harmed: each installed once, no signal, nothing unfinished, nothing rolled back. */
async function assertNoHarm(id: string, hosts: readonly FleetHost[]): Promise<void> {
  await allRunsEnded(fleet);
  for (const h of hosts) {
    expect(await h.signals(), h.name).toEqual([]);
    expect(await h.installsBegun(), h.name).toHaveLength(1);
    expect(await h.installLog(), h.name).toHaveLength(1);
  }
  const actions = (await repos.audit.list({ subjectType: 'deployment', subjectId: id })).map((a) => a.action);
  expect(actions).not.toContain('deployment.rollback_started');
}

async function assertCompleted(id: string, hosts: readonly FleetHost[]): Promise<void> {
  const detail = await repos.deployments.detail(id);
  expect(detail.state.status).toBe('completed');
  for (const run of detail.rings.flatMap((r) => r.hosts)) {
    expect(run.status, `${run.hostName}: ${run.error ?? ''}`).toBe('succeeded');
  }
  for (const h of hosts) expect((await h.installed()).get('openssl'), h.name).toBe(NEW);
  // the thread's story is complete in the outbox, in order
  const types = (
    await db.prisma.outbox.findMany({ where: { kind: 'chat.deployment' }, orderBy: { id: 'asc' } })
  )
    .map((o) => o.payload as { type: string; deploymentId: string })
    .filter((e) => e.deploymentId === id)
    .map((e) => e.type);
  expect(types[0]).toBe('scheduled');
  expect(types).toContain('ring_started');
  expect(types.slice(-2)).toEqual(['ring_passed', 'completed']);
  expect(types).not.toContain('host_failed');
  await assertNoHarm(id, hosts);
}

beforeAll(async () => {
  fleet = await startFleet(
    NAMES.map((name) => ({
      name,
      installed: [{ name: 'openssl', version: OLD }],
      available: [{ name: 'openssl', version: NEW }],
    })),
    { first: 161 },
  );
  pg_ = await createTempPostgres('faults');
  db = await openDatabase({ url: pg_.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = reposOf(db);
  await registerFleet(repos, fleet);
}, 120_000);

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  await redis?.stop('SIGTERM');
  redis = undefined;
  await allRunsEnded(fleet).catch(() => undefined);
  await fleet.reset();
  const shared = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const keys = await shared.keys(`${prefix}:*`);
  if (keys.length > 0) await shared.del(...keys);
  shared.disconnect();
});

afterAll(async () => {
  await fleet?.stop();
  await db?.close();
  await pg_?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('faults during a rollout', () => {
  it('the stand-in package manager records a signal when one arrives (so the assertions below can fail)', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const h = fleet.host('flt-1');
    await h.setSlowInstall(5);
    const ex = new SshExecutor({
      host: h.name,
      address: h.ssh.address,
      port: h.ssh.port,
      username: h.ssh.user,
      privateKeyPath: fleet.clientKeyPath,
      hostKeyFingerprint: h.ssh.hostKeyFingerprint,
    });
    try {
      const spec = DRIVERS.apt.install([{ name: 'openssl', version: NEW }]);
      await runJob(ex, { ...spec, sudo: true }, `selfcheck-${prefix}`, { timeoutMs: 500 });
      await waitFor('apt-get running', async () => (await h.unfinishedRuns()).length > 0);
      const line = readFileSync(join(h.stateDir, 'runs.log'), 'utf8')
        .split('\n')
        .find((l) => l.includes('apt-get'));
      // what patchbot never does: signal the package manager (the test started it)
      process.kill(Number(line?.split(' ')[1]), 'SIGTERM');
      await waitFor('signal recorded', async () => (await h.signals()).length > 0);
      expect((await h.signals())[0]).toMatch(/^TERM \d+ apt-get$/);
    } finally {
      await ex.close();
    }
  });

  it("PostgreSQL terminates the worker's connections mid-ring: retried, the rollout completes", async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const env = envOf(policyFile({}));
    for (const h of fleet.hosts) await h.setSlowInstall(3);
    // the deployment exists before a worker runs (its jobs wait in Redis)
    const id = await deploy(fleet.hosts, env);
    await startWorker(env);
    await waitFor('two installs running', async () => (await begun(fleet.hosts)) >= 2, 30_000);
    // Hold every host run's row lock for a moment, so the worker's writes (progress, heartbeats,
    // claims) wait in flight, then terminate the backends waiting: only this test's database.
    const holder = new pg.Client({ connectionString: pg_.url });
    await holder.connect();
    let killed = 0;
    const statements: string[] = [];
    try {
      for (let round = 0; round < 2; round += 1) {
        await holder.query('BEGIN');
        await holder.query('SELECT id FROM "HostRun" FOR UPDATE');
        const deadline = Date.now() + 8_000;
        let waiting: { pid: number; query: string }[] = [];
        while (waiting.length === 0 && Date.now() < deadline) {
          waiting = await adminQuery<{ pid: number; query: string }>(
            `SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND pid <> $2 AND state = 'active' AND wait_event_type = 'Lock'`,
            [pg_.name, (holder as unknown as { processID: number }).processID],
          );
          if (waiting.length === 0) await new Promise((r) => setTimeout(r, 100));
        }
        for (const w of waiting) {
          const [r] = await adminQuery<{ t: boolean }>('SELECT pg_terminate_backend($1) AS t', [w.pid]);
          if (r?.t) {
            killed += 1;
            statements.push(w.query);
          }
        }
        await holder.query('ROLLBACK');
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      await holder.end();
    }
    expect(killed).toBeGreaterThan(0);
    // what was cut: the worker's writes to the host runs (progress, heartbeats, claims)
    expect(statements.join('\n')).toMatch(/UPDATE "HostRun"/);
    await waitFor('completed', async () => (await stateOf(id)) === 'completed', 90_000);
    await assertCompleted(id, fleet.hosts);
  }, 150_000);

  it('Redis restarts mid-ring: commands fail fast meanwhile, the workers resume, the rollout completes', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    redis = await privateRedis();
    const env = envOf(policyFile({}), redis.url);
    for (const h of fleet.hosts) await h.setSlowInstall(3);
    const id = await deploy(fleet.hosts, env);
    const worker = await startWorker(env);
    await waitFor('two installs running', async () => (await begun(fleet.hosts)) >= 2, 30_000);
    await redis.stop('SIGTERM');
    // while it is down, a deploy command fails at once, naming Redis
    const down = await runCli(['deploy', 'pause', id], env, dir);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot connect to Redis at 127\.0\.0\.1:\d+/);
    await new Promise((r) => setTimeout(r, 3_000));
    await redis.start();
    await waitFor('completed', async () => (await stateOf(id)) === 'completed', 120_000);
    await assertCompleted(id, fleet.hosts);
    expect(worker.stderr()).toMatch(/Redis is back/);
  }, 180_000);

  it('SIGTERM mid-install: no new host, the grace runs out, the hosts are handed back, exit 0, another worker finishes', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const env = envOf(policyFile({}));
    const hosts = fleet.hosts.slice(0, 3);
    for (const h of hosts) await h.setSlowInstall(6);
    const id = await deploy(hosts, env);
    const first = await startWorker({ ...env, PATCHBOT_SHUTDOWN_GRACE: '2s' });
    await waitFor('two installs running', async () => (await begun(hosts)) >= 2, 30_000);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toMatch(/draining: no new hosts/);
    expect(first.stderr()).toMatch(/grace period over: handing the hosts still running back/);
    // the third host was not started by the draining worker
    expect(await begun(hosts)).toBe(2);
    await startWorker(env);
    await waitFor('completed', async () => (await stateOf(id)) === 'completed', 120_000);
    await assertCompleted(id, hosts);
  }, 180_000);

  it('SIGKILL mid-install: another worker takes the hosts over and reads what the installs did', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const env = envOf(policyFile({}));
    for (const h of fleet.hosts) await h.setSlowInstall(4);
    const id = await deploy(fleet.hosts, env);
    const first = await startWorker(env);
    await waitFor('two installs running', async () => (await begun(fleet.hosts)) >= 2, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker(env);
    await waitFor('completed', async () => (await stateOf(id)) === 'completed', 120_000);
    await assertCompleted(id, fleet.hosts);
    const runs = (await repos.deployments.detail(id)).rings[0]?.hosts ?? [];
    expect(runs.some((r) => r.attempt >= 2)).toBe(true);
  }, 180_000);

  it('an install that outlives its timeout and the lease: the host is unknown, then verified, never failed', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const env = envOf(policyFile({ installTimeout: '2s' }));
    const host = fleet.host('flt-2');
    // longer than the timeout and than the 15 s lease
    await host.setSlowInstall(18);
    const id = await deploy([host], env);
    await startWorker(env);
    await waitFor(
      'unknown',
      async () =>
        (await repos.deployments.detail(id).catch(() => undefined))?.rings[0]?.hosts[0]?.state === 'unknown',
      30_000,
    );
    expect(await host.unfinishedRuns()).toHaveLength(1);
    await waitFor('completed', async () => (await stateOf(id)) === 'completed', 90_000);
    await assertCompleted(id, [host]);
    const types = (await db.prisma.outbox.findMany())
      .map((o) => o.payload as { type: string; deploymentId: string; reason?: string })
      .filter((e) => e.deploymentId === id);
    expect(types.find((e) => e.type === 'host_unknown')?.reason).toMatch(
      /did not finish within 2 s; it was not interrupted/,
    );
  }, 150_000);

  it('an install that leaves dpkg interrupted: the host fails with the evidence, the deployment halts saying why', async () => {
    prefix = `pbtest-${randomBytes(4).toString('hex')}`;
    const env = envOf(policyFile({ installTimeout: '2s', onFailure: 'halt' }, 1));
    const host = fleet.host('flt-3');
    await host.setSlowInstall(4);
    await host.setLeaveInterrupted(true);
    const id = await deploy([host], env);
    await startWorker(env);
    await waitFor('halted', async () => (await stateOf(id)) === 'halted', 90_000);
    const detail = await repos.deployments.detail(id);
    const run = detail.rings[0]?.hosts[0];
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/install failed: apt-get exited with 100/);
    expect(run?.error).toMatch(
      /the package database is broken:\nThe following packages are only half configured/,
    );
    expect(detail.state.haltReason).toMatch(
      /ring all: 1 of 1 host\(s\) failed, over the failure budget of 0/,
    );
    await assertNoHarm(id, [host]);
  }, 150_000);
});
