/**
 * A worker killed with SIGKILL in the middle of a ring: another worker resumes from the steps stored
 * in PostgreSQL, and no host gets its install twice (the stand-in apt-get logs every install).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  createHarness,
  REDIS_URL,
  registerFleet,
  reposOf,
  seedChange,
  startWorker,
  testPolicy,
  TestClock,
  waitFor,
  type Harness,
} from './support.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const NAMES = ['kill-1', 'kill-2', 'kill-3', 'kill-4'];

let fleet: Fleet;
let temp: TempPostgres;
let db: Database;
let harness: Harness | undefined;
let child: ChildProcess | undefined;
let worker: Worker | undefined;

beforeAll(async () => {
  fleet = await startFleet(
    NAMES.map((name) => ({
      name,
      installed: [{ name: 'openssl', version: OLD }],
      available: [{ name: 'openssl', version: NEW }],
    })),
    { first: 121 },
  );
  temp = await createTempPostgres('deploykill');
  db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
  await db.migrate();
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await worker?.close();
  await harness?.close();
  await fleet?.stop();
  await db?.close();
  await temp?.drop();
});

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('a worker killed mid-ring', () => {
  it('is resumed by another worker without installing anything twice', async () => {
    const repos = reposOf(db);
    await registerFleet(repos, fleet);
    const policyInput = {
      ssh: { user: fleet.hosts[0]?.ssh.user, identityFile: fleet.clientKeyPath, connectTimeout: '3s' },
      deployments: { sudo: true, reboot: { policy: 'never' }, retry: { attempts: 1, backoff: '1s' } },
      rings: [{ name: 'all', concurrency: 2, failureBudget: 0 }],
    };
    const policy = testPolicy(fleet, policyInput as never);
    harness = await createHarness({ db, repos, policy, clock: new TestClock(new Date()) });
    for (const h of fleet.hosts) await h.setSlowInstall(2);

    child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'worker-process.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: temp.url,
        REDIS_URL,
        PATCHBOT_TEST_PREFIX: harness.prefix,
        PATCHBOT_TEST_POLICY: JSON.stringify(policyInput),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      child?.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
    });

    const change = await seedChange(db, {
      hosts: fleet.hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const scheduled = await scheduleDeployment(harness.deps, { changeId: change.id });
    const id = scheduled.deployment.id;

    // kill it while the first two hosts are installing: their install was sent (stored before it
    // is sent) and reached the host, where apt-get sleeps
    await waitFor('installs sent', async () => {
      const runs = (await repos.deployments.detail(id)).rings[0]?.hosts ?? [];
      const sent = runs.filter((r) => r.installSentAt !== null);
      if (sent.length < 2) return false;
      const begun = await Promise.all(
        sent.map(async (r) => (await fleet.host(r.hostName).installsBegun()).length),
      );
      return begun.every((n) => n > 0);
    });
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
    const atKill = (await repos.deployments.detail(id)).rings[0]?.hosts ?? [];
    expect(atKill.some((r) => r.state === 'running' && r.installSentAt !== null)).toBe(true);

    worker = startWorker(harness);
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(id)).state.status === 'completed',
      90_000,
    );
    const runs = (await repos.deployments.detail(id)).rings[0]?.hosts ?? [];
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    for (const h of fleet.hosts) {
      expect(await h.installLog(), h.name).toHaveLength(1);
      expect((await h.installed()).get('openssl')).toBe(NEW);
    }
    // the hosts that were mid-install were taken over (a second attempt), not installed again
    const resumed = runs.filter((r) => atKill.find((a) => a.id === r.id)?.state === 'running');
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    for (const r of resumed) expect(r.attempt).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
