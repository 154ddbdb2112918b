/**
 * Scale-out: the same work done by one `patchbot worker` process, then by three, on one PostgreSQL
 * database and one Redis key prefix (real processes, `node bin/patchbot.js worker`).
 *
 * - Rollout: one approved change deployed to BENCH_ROLLOUT_HOSTS (default 60) real sshd hosts
 *   (test/support/fleet-hosts.ts: stand-in apt-get through sudo) in one ring at concurrency 12;
 *   timed from scheduling to the deployment's completed state: hosts per second.
 * - Rescan: BENCH_RESCAN_HOSTS (default 2,000) Debian 12 hosts x ~730 packages of a real status
 *   file against 10,000 Debian tracker advisories (bench/support/fleet.ts), re-matched as
 *   `findings.rescan` jobs of 50 hosts each (findings already stored by a first pass, so both runs
 *   do the same work); timed from enqueuing to the last job done: hosts per second.
 *
 * Needs root, openssh-server and sudo (the sshd hosts), PostgreSQL and Redis. Everything runs on
 * this machine: the workers, PostgreSQL, Redis and the hosts share its CPUs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { stringify } from 'yaml';
import { Policy } from '../src/config/policy-schema.js';
import { createRepositories, openDatabase } from '../src/db/index.js';
import { createDeploymentJobHandlers } from '../src/jobs/deployments/handlers.js';
import { createExecutorFactory } from '../src/usecases/deployments/executors.js';
import { scheduleDeployment } from '../src/usecases/deployments/service.js';
import { rescanHosts } from '../src/usecases/rescan.js';
import { DEFAULT_RISK_POLICY } from '../src/core/risk/policy.js';
import { registerFleet, reposOf, seedChange } from '../test/integration/deployments/support.js';
import { createTempPostgres } from '../test/support/postgres.js';
import { startFleet } from '../test/support/fleet-hosts.js';
import { spawnPatchbot, waitForLine, type Proc } from '../test/support/process.js';
import { importAdvisories, storeFleet } from './fleet-rescan.bench.js';
import { buildDebianAdvisories, buildFleet, prng } from './support/fleet.js';

const wholeNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`${name}: expected a whole number, got ${process.env[name]}`);
  return v;
};

const ROLLOUT_HOSTS = wholeNumber('BENCH_ROLLOUT_HOSTS', 60);
const RESCAN_HOSTS = wholeNumber('BENCH_RESCAN_HOSTS', 2_000);
const ADVISORIES = 10_000;
const BATCH = 50;
const RING_CONCURRENCY = 12;
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function run(): Promise<void> {
  const logger = pino({ level: 'silent' });
  const temp = await createTempPostgres('bench_scaleout');
  const db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
  const tmp = { dir: await mkdtemp(path.join(tmpdir(), 'bench-scaleout-')) };
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `pbbench-${randomBytes(4).toString('hex')}`;
  const fleet = await startFleet(
    Array.from({ length: ROLLOUT_HOSTS }, (_, i) => ({
      name: `bench-${String(i + 1).padStart(3, '0')}`,
      installed: [{ name: 'openssl', version: OLD, source: 'openssl' }],
      available: [{ name: 'openssl', version: NEW }],
    })),
    { address: (i) => `127.2.${Math.floor(i / 200)}.${(i % 200) + 1}`, parallel: 4 },
  );
  const procs: Proc[] = [];
  try {
    await db.migrate();
    const repos = createRepositories(db);
    await registerFleet(reposOf(db), fleet);
    // the rescan fleet: hosts without a pinned key (collection refuses them without connecting)
    const rand = prng(4711);
    const synthetic = buildFleet(rand, RESCAN_HOSTS);
    const advisories = buildDebianAdvisories(rand, synthetic, {
      count: ADVISORIES,
      mix: { oldFix: 0.99, recentFix: 0.008, unfixed: 0.001, noDsa: 0.0005, postponed: 0.0005 },
      urgencies: ['not yet assigned', 'low', 'medium', 'high'],
    });
    await importAdvisories(repos, advisories);
    const packageRows = await storeFleet(temp.url, synthetic);
    const rescanNames = (await repos.hosts.list()).map((h) => h.name).filter((n) => n.startsWith('host-'));
    const riskDeps = { repos, riskPolicy: DEFAULT_RISK_POLICY, logger };
    const first = await rescanHosts(riskDeps, rescanNames);

    const policyInput = {
      ssh: { user: fleet.hosts[0]?.ssh.user, identityFile: fleet.clientKeyPath, connectTimeout: '10s' },
      feeds: {
        syncInterval: '24h',
        sources: Object.fromEntries(
          ['debian-tracker', 'osv-debian', 'kev', 'epss'].map((s) => [s, { enabled: false }]),
        ),
      },
      inventory: { collectInterval: '24h' },
      rings: [{ name: 'all', concurrency: RING_CONCURRENCY, failureBudget: 0 }],
      deployments: { sudo: true, reboot: { policy: 'never' }, retry: { attempts: 1, backoff: '1s' } },
    };
    const policyFile = path.join(tmp.dir, 'patchbot.yaml');
    await writeFile(policyFile, stringify(policyInput));
    const policy = Policy.parse(policyInput);
    const registration = createDeploymentJobHandlers({
      connection: redis,
      prefix,
      deployments: repos.deployments,
      audit: repos.audit,
      executors: createExecutorFactory({ repos, config: { policy, policyPath: policyFile, env: {} } }),
      now: () => new Date(),
      logger,
    });
    const maintenance = new Queue('maintenance', { connection: redis, prefix });

    const results: { workers: number; rollout: number; rolloutOk: number; rescan: number }[] = [];
    for (const workers of [1, 3]) {
      const started = Array.from({ length: workers }, () =>
        spawnPatchbot(
          ['worker'],
          {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            DATABASE_URL: temp.url,
            REDIS_URL,
            PATCHBOT_QUEUE_PREFIX: prefix,
            PATCHBOT_CONFIG: policyFile,
            PATCHBOT_SHUTDOWN_GRACE: '5s',
            LOG_LEVEL: 'info',
          },
          tmp.dir,
        ),
      );
      procs.push(...started);
      await Promise.all(started.map((p) => waitForLine(p, /patchbot worker is up/, 180_000)));
      // the schedules' first runs (feeds sync, inventory collection) end before anything is timed
      await until(
        'the first scheduled runs done',
        async () => {
          const c = await maintenance.getJobCounts('active', 'waiting', 'prioritized');
          return (c.active ?? 0) + (c.waiting ?? 0) + (c.prioritized ?? 0) === 0;
        },
        300_000,
      );

      // rollout
      await fleet.reset();
      const change = await seedChange(db, {
        hosts: fleet.hosts,
        packageName: 'openssl',
        installedVersion: OLD,
        fixedVersion: NEW,
      });
      const t0 = performance.now();
      const scheduled = await scheduleDeployment(
        { ...registration.engine, hosts: repos.hosts, policy },
        { changeId: change.id },
      );
      await until(
        'the rollout',
        async () => {
          const d = await db.prisma.deployment.findUniqueOrThrow({ where: { id: scheduled.deployment.id } });
          if (['halted', 'aborted', 'failed', 'rolled_back', 'rollback_failed'].includes(d.state))
            throw new Error(`the rollout ended ${d.state}: ${d.haltedReason ?? ''}`);
          return d.state === 'completed';
        },
        1_800_000,
      );
      const rolloutSeconds = (performance.now() - t0) / 1000;
      let installedOnce = 0;
      for (const h of fleet.hosts) if ((await h.installLog()).length === 1) installedOnce += 1;

      // rescan
      const t1 = performance.now();
      const jobs: Job[] = [];
      for (let i = 0; i < rescanNames.length; i += BATCH)
        jobs.push(
          await maintenance.add(
            'findings.rescan',
            { hosts: rescanNames.slice(i, i + BATCH), reason: 'bench' },
            { attempts: 1, removeOnComplete: { count: 10_000 } },
          ),
        );
      await until(
        'the rescan jobs',
        async () => {
          const states = await Promise.all(jobs.map((j) => maintenance.getJobState(j.id ?? '')));
          if (states.includes('failed')) throw new Error('a rescan job failed');
          return states.every((s) => s === 'completed');
        },
        1_800_000,
      );
      const rescanSeconds = (performance.now() - t1) / 1000;
      results.push({
        workers,
        rollout: rolloutSeconds,
        rolloutOk: installedOnce,
        rescan: rescanSeconds,
      });
      for (const p of started) p.child.kill('SIGTERM');
      await Promise.all(started.map((p) => p.exited));
    }
    await maintenance.close();
    await registration.close();

    console.log(
      `scale-out: 1 vs 3 \`patchbot worker\` processes on one PostgreSQL and Redis, ${cpus().length} CPU(s) ` +
        `shared with PostgreSQL, Redis and the hosts`,
    );
    console.log(
      `  rollout: ${ROLLOUT_HOSTS} sshd hosts, 1 ring at concurrency ${RING_CONCURRENCY}, apt-get through sudo; ` +
        `rescan: ${RESCAN_HOSTS} hosts x ${Math.round(packageRows / RESCAN_HOSTS)} packages vs ${ADVISORIES} advisories ` +
        `(${first.hosts} hosts, ${first.opened} findings stored by a first pass), jobs of ${BATCH} hosts`,
    );
    for (const r of results)
      console.log(
        `  ${r.workers} worker${r.workers === 1 ? ' ' : 's'}: rollout ${(ROLLOUT_HOSTS / r.rollout).toFixed(2)} hosts/s ` +
          `(${r.rollout.toFixed(1)} s, ${r.rolloutOk} of ${ROLLOUT_HOSTS} installed once), ` +
          `rescan ${(RESCAN_HOSTS / r.rescan).toFixed(0)} hosts/s (${r.rescan.toFixed(1)} s)`,
      );
    const [one, three] = results;
    if (one && three)
      console.log(
        `  speed-up with 3 workers: rollout x${(one.rollout / three.rollout).toFixed(2)}, rescan x${(one.rescan / three.rescan).toFixed(2)}; ` +
          `load average ${loadavg()[0]?.toFixed(2) ?? '?'} at the end`,
      );
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await fleet.stop();
    await db.close();
    await temp.drop();
    await rm(tmp.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
