/**
 * The default reboot path, end to end over real sshd hosts of every package manager: the driver's
 * reboot-required check (/var/run/reboot-required, `needs-restarting -r`, `zypper needs-rebooting`,
 * a changed Alpine kernel package), one `reboot` through sudo inside the host's maintenance window,
 * waiting for the host to come back with a new boot id behind the same pinned host key, then the
 * health check. A host that does not come back counts against the failure budget.
 */
import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet, type Flavor } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  createHarness,
  FLAVOR_OS,
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

/** Per package manager: the package, the installed and the fixed version in its scheme. */
const PACKAGES: Record<Flavor, { name: string; old: string; fixed: string }> = {
  apt: { name: 'openssl', old: '3.0.11-1~deb12u1', fixed: '3.0.13-1~deb12u1' },
  dnf: { name: 'openssl', old: '1:3.0.7-25.el9', fixed: '1:3.0.7-27.el9' },
  yum: { name: 'openssl', old: '1:1.0.2k-25.el7_9', fixed: '1:1.0.2k-26.el7_9' },
  zypper: { name: 'libopenssl3', old: '3.1.4-150600.5.7.1', fixed: '3.1.4-150600.5.15.1' },
  // a kernel package: Alpine has no marker, a changed kernel is what needs the reboot
  apk: { name: 'linux-lts', old: '6.6.54-r0', fixed: '6.6.58-r0' },
};
const FLAVORS = Object.keys(PACKAGES) as Flavor[];

const spec = (name: string, flavor: Flavor) => {
  const p = PACKAGES[flavor];
  return {
    name,
    flavor,
    installed: [{ name: p.name, version: p.old }],
    available: [{ name: p.name, version: p.fixed }],
  };
};

let fleet: Fleet;
let test: TestDatabase;
let repos: Repos;
let harness: Harness | undefined;
let workers: Worker[] = [];

beforeAll(async () => {
  fleet = await startFleet(
    [...FLAVORS.map((f) => spec(`rb-${f}`, f)), spec('rb-apt-norestart', 'apt'), spec('rb-gone', 'apt')],
    { first: 151, bootMs: 800 },
  );
  test = await openTestDatabase('postgres', 'reboot');
  repos = reposOf(test.db);
  await registerFleet(repos, fleet);
}, 90_000);

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await harness?.close();
  harness = undefined;
  // no package manager was ever interrupted
  await allRunsEnded(fleet);
  for (const h of fleet.hosts) expect(await h.signals(), h.name).toEqual([]);
  await fleet.reset();
});

afterAll(async () => {
  await fleet?.stop();
  await test?.dispose();
});

describe.runIf(sshdAvailable() && process.getuid?.() === 0)(
  'reboots (reboot: if-required, the default)',
  () => {
    it('apt, dnf, yum, zypper, apk: checks, reboots once inside the window, waits for the same key, then health-checks', async () => {
      const clock = new TestClock(new Date());
      const policy = testPolicy(fleet, {
        rings: [{ name: 'all', concurrency: 5 }],
        maintenanceWindows: [{ name: 'always', schedule: 'daily 00:00-24:00', timeZone: 'UTC' }],
        deployments: {
          sudo: true,
          reboot: { policy: 'if-required', waitLimit: '30s' },
          retry: { attempts: 1, backoff: '1s' },
          onFailure: 'halt',
          healthChecks: [
            { name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' },
          ],
        },
      });
      harness = await createHarness({ db: test.db, repos, policy, clock });
      workers.push(startWorker(harness));
      const bootBefore = new Map<string, string>();
      for (const f of FLAVORS) {
        const host = fleet.host(`rb-${f}`);
        if (f !== 'apk') await host.setRebootAfterInstall(true);
        bootBefore.set(host.name, await host.bootId());
      }
      const quiet = fleet.host('rb-apt-norestart');
      bootBefore.set(quiet.name, await quiet.bootId());

      const ids: string[] = [];
      for (const f of FLAVORS) {
        const p = PACKAGES[f];
        const hosts = f === 'apt' ? [fleet.host('rb-apt'), quiet] : [fleet.host(`rb-${f}`)];
        const change = await seedChange(test.db, {
          hosts,
          packageName: p.name,
          installedVersion: p.old,
          fixedVersion: p.fixed,
          ecosystem: FLAVOR_OS[f].ecosystem,
        });
        ids.push((await scheduleDeployment(harness.deps, { changeId: change.id })).deployment.id);
      }
      for (const id of ids) {
        await waitFor(
          'completed',
          async () => (await repos.deployments.get(id)).state.status === 'completed',
          90_000,
        );
      }

      for (const f of FLAVORS) {
        const host = fleet.host(`rb-${f}`);
        const run = (await repos.deployments.detail(ids[FLAVORS.indexOf(f)] ?? '')).rings[0]?.hosts.find(
          (h) => h.hostName === host.name,
        );
        expect(run?.tool, host.name).toBe(f);
        expect(run?.status, `${host.name}: ${run?.error ?? ''}`).toBe('succeeded');
        expect(run?.rebootNeeded, host.name).toBe(true);
        expect(run?.rebootedAt, host.name).not.toBeNull();
        // exactly one reboot, and the host came back as itself with a new boot id
        expect(await host.reboots(), host.name).toBe(1);
        const now = await host.bootId();
        expect(now, host.name).not.toBe(bootBefore.get(host.name));
        expect(run?.bootId, host.name).toBe(now);
        expect((await host.installed()).get(PACKAGES[f].name), host.name).toBe(PACKAGES[f].fixed);
        expect(await host.installLog(), host.name).toHaveLength(1);
      }
      // an apt host that needs no reboot is not rebooted
      const run = (await repos.deployments.detail(ids[0] ?? '')).rings[0]?.hosts.find(
        (h) => h.hostName === quiet.name,
      );
      expect(run).toMatchObject({ status: 'succeeded', rebootNeeded: false, rebootedAt: null });
      expect(await quiet.reboots()).toBe(0);
      expect(await quiet.bootId()).toBe(bootBefore.get(quiet.name));
    }, 150_000);

    it('a host that does not come back from its reboot fails and counts against the budget', async () => {
      const clock = new TestClock(new Date());
      const policy = testPolicy(fleet, {
        rings: [{ name: 'all', concurrency: 1, failureBudget: 0 }],
        deployments: {
          sudo: true,
          reboot: { policy: 'if-required', waitLimit: '4s' },
          retry: { attempts: 0, backoff: '1s' },
          onFailure: 'halt',
        },
      });
      harness = await createHarness({ db: test.db, repos, policy, clock, timing: { rebootPollMs: 300 } });
      workers.push(startWorker(harness));
      const gone = fleet.host('rb-gone');
      await gone.setRebootAfterInstall(true);
      gone.setNoReturn(true);
      const p = PACKAGES.apt;
      const change = await seedChange(test.db, {
        hosts: [gone],
        packageName: p.name,
        installedVersion: p.old,
        fixedVersion: p.fixed,
      });
      const id = (await scheduleDeployment(harness.deps, { changeId: change.id })).deployment.id;
      await waitFor(
        'halted',
        async () => (await repos.deployments.get(id)).state.status === 'halted',
        60_000,
      );
      const dep = await repos.deployments.detail(id);
      const run = dep.rings[0]?.hosts[0];
      expect(run?.status).toBe('failed');
      expect(run?.step).toBe('reboot');
      expect(run?.error).toMatch(/did not come back with a new boot id within 4 s of the reboot/);
      expect(dep.state.haltReason).toMatch(/ring all: 1 of 1 host\(s\) failed, over the failure budget of 0/);
      expect(await gone.reboots()).toBe(1);
    }, 90_000);

    it('a host whose window closed before its reboot is not rebooted outside it, and says so', async () => {
      // a window from an hour ago to two hours from now (UTC); the engine's clock leaves it while the
      // install runs
      const start = new Date();
      const h = start.getUTCHours();
      const hh = (n: number): string => `${String((n + 24) % 24).padStart(2, '0')}:00`;
      const clock = new TestClock(start);
      const policy = testPolicy(fleet, {
        rings: [{ name: 'all', concurrency: 1 }],
        maintenanceWindows: [{ name: 'now', schedule: `daily ${hh(h - 1)}-${hh(h + 2)}`, timeZone: 'UTC' }],
        deployments: {
          sudo: true,
          reboot: { policy: 'if-required', waitLimit: '20s' },
          retry: { attempts: 0, backoff: '1s' },
        },
      });
      harness = await createHarness({ db: test.db, repos, policy, clock });
      const host = fleet.host('rb-apt');
      await host.setRebootAfterInstall(true);
      await host.setSlowInstall(2);
      workers.push(startWorker(harness));
      const p = PACKAGES.apt;
      const change = await seedChange(test.db, {
        hosts: [host],
        packageName: p.name,
        installedVersion: p.old,
        fixedVersion: p.fixed,
      });
      const id = (await scheduleDeployment(harness.deps, { changeId: change.id })).deployment.id;
      await waitFor('install begun', async () => (await host.installsBegun()).length > 0);
      clock.advance(4 * 3_600_000);
      await waitFor(
        'completed',
        async () => (await repos.deployments.get(id)).state.status === 'completed',
        60_000,
      );
      const run = (await repos.deployments.detail(id)).rings[0]?.hosts[0];
      expect(run).toMatchObject({ status: 'succeeded', rebootNeeded: true, rebootedAt: null });
      expect(run?.output).toMatch(/needs a reboot; not rebooted because its maintenance window had closed/);
      expect(await host.reboots()).toBe(0);
    }, 90_000);
  },
);
