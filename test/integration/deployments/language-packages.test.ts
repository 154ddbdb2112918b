/**
 * Language packages through the deployment engine, over real sshd hosts: system-wide pip of an
 * interpreter in inventory.python and global npm, upgraded as root under docs/patchbot.sudoers
 * where policy deployments.languagePackages allows it, read back with `pip list --format=json` /
 * `npm ls -g --json`; refused elsewhere, and always refused for lockfiles.
 *
 * Jinja2 2.10.1 -> 2.11.3 is GHSA-g3rq-g295-4j3m (CVE-2020-28493, PyPI); semver 7.5.1 -> 7.5.2 is
 * GHSA-c2qf-rxjj-qqgw (CVE-2022-25883, npm).
 */
import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../../src/config/policy-schema.js';
import { PolicyDeniedError } from '../../../src/core/errors.js';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet, type FleetHostSpec } from '../../support/fleet-hosts.js';
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

const OLD = '2.10.1';
const NEW = '2.11.3';
const ACTOR = { id: 'U_ALICE', display: 'alice', surface: 'slack' as const };

const spec = (name: string): FleetHostSpec => ({
  name,
  installed: [{ name: 'curl', version: '7.88.1-10+deb12u5', source: 'curl' }],
  available: [],
  pip: {
    installed: [
      { name: 'Jinja2', version: OLD },
      { name: 'MarkupSafe', version: '2.1.3' },
    ],
    available: [{ name: 'Jinja2', version: NEW }],
  },
  npm: {
    installed: [{ name: 'semver', version: '7.5.1' }],
    available: [{ name: 'semver', version: '7.5.2' }],
  },
});

const HOSTS = ['app-1', 'app-2', 'ops-1'];

let fleet: Fleet;
let test: TestDatabase;
let repos: Repos;
let harness: Harness | undefined;
let workers: Worker[] = [];

beforeAll(async () => {
  fleet = await startFleet(HOSTS.map(spec), { first: 181 });
  test = await openTestDatabase('postgres', 'langdeploy');
  repos = reposOf(test.db);
  await registerFleet(repos, fleet, {
    'app-1': { ring: 'canary', python: 'managed' },
    'app-2': { ring: 'broad', python: 'managed' },
    'ops-1': { ring: 'broad' },
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await harness?.close();
  harness = undefined;
  await allRunsEnded(fleet);
  for (const h of fleet.hosts) expect(await h.signals(), h.name).toEqual([]);
  await fleet.reset();
});

afterAll(async () => {
  await fleet?.stop();
  await test?.dispose();
});

/** The policy: pip and npm upgrades allowed on hosts labelled python=managed, nowhere else. */
const policyWith = (
  extra: {
    healthChecks?: NonNullable<PolicyInput['deployments']>['healthChecks'];
    failureBudget?: number;
  } = {},
) =>
  testPolicy(fleet, {
    rings: [
      { name: 'canary', match: { labels: { ring: 'canary' } }, soak: '1h' },
      {
        name: 'broad',
        concurrency: 2,
        ...(extra.failureBudget === undefined ? {} : { failureBudget: extra.failureBudget }),
      },
    ],
    inventory: { python: fleet.hosts.map((h) => h.python) },
    deployments: {
      sudo: true,
      reboot: { policy: 'never' },
      retry: { attempts: 1, backoff: '1s' },
      onFailure: 'rollback',
      languagePackages: [{ match: { labels: { python: 'managed' } }, pip: true, npm: true }],
      ...(extra.healthChecks ? { healthChecks: extra.healthChecks } : {}),
    },
  });

const pipChange = (hosts: string[], ownerKind = 'interpreter') =>
  seedChange(test.db, {
    hosts: hosts.map((h) => fleet.host(h)),
    packageName: 'Jinja2',
    installedVersion: OLD,
    fixedVersion: NEW,
    ecosystem: 'PyPI',
    thirdParty: {
      owner: (h) => (ownerKind === 'lockfile' ? '/srv/app/requirements.txt' : h.python),
      ownerKind,
    },
  });

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('language packages over SSH', () => {
  it('upgrades a vulnerable pip package ring by ring on the allowed hosts, once each, and verifies it', async () => {
    const clock = new TestClock(new Date());
    harness = await createHarness({ db: test.db, repos, policy: policyWith(), clock });
    workers.push(startWorker(harness));
    const change = await pipChange(['app-1', 'app-2']);
    const scheduled = await scheduleDeployment(harness.deps, {
      changeId: String(change.number),
      actor: ACTOR,
    });
    expect(scheduled.deployment.rings.map((r) => [r.name, r.hosts.map((h) => h.hostName)])).toEqual([
      ['canary', ['app-1']],
      ['broad', ['app-2']],
    ]);
    for (const h of scheduled.deployment.rings.flatMap((r) => r.hosts)) {
      expect(h.tool).toBe('pip');
      expect(h.targets).toEqual([{ name: 'Jinja2', version: NEW }]);
    }
    const id = scheduled.deployment.id;
    await waitFor('canary passed', async () => (await repos.deployments.get(id)).state.status === 'soaking');
    // the broad ring waits for the soak: app-2 is untouched
    expect(await fleet.host('app-2').installLog()).toEqual([]);
    expect((await fleet.host('app-1').languageInstalled('pip')).get('Jinja2')).toBe(NEW);
    clock.advance(60 * 60_000);
    await waitFor('completed', async () => (await repos.deployments.get(id)).state.status === 'completed');

    const detail = await repos.deployments.detail(id);
    expect(detail.rings.map((r) => r.state)).toEqual(['passed', 'passed']);
    for (const run of detail.rings.flatMap((r) => r.hosts)) {
      expect(run.status).toBe('succeeded');
      expect(run.preBaseline).toEqual({ Jinja2: [OLD] });
      expect(run.postBaseline).toEqual({ Jinja2: [NEW] });
      const host = fleet.host(run.hostName);
      // exactly one install, as root (sudo under the documented rules), of exactly the fixed version
      expect(await host.installLog()).toEqual([`pip install Jinja2==${NEW} uid=0`]);
      const pip = await host.languageInstalled('pip');
      expect(pip.get('Jinja2')).toBe(NEW);
      expect(pip.get('MarkupSafe')).toBe('2.1.3'); // --no-deps: nothing else moved
      // the OS packages were not touched
      expect((await host.installed()).get('curl')).toBe('7.88.1-10+deb12u5');
    }
    expect(await fleet.host('ops-1').installLog()).toEqual([]);
    const stored = await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: change.id } });
    expect(stored.status).toBe('completed');
  }, 90_000);

  it('refuses a host outside deployments.languagePackages, before anything reaches a host', async () => {
    const clock = new TestClock(new Date());
    harness = await createHarness({ db: test.db, repos, policy: policyWith(), clock });
    const change = await pipChange(['app-1', 'ops-1']);
    const refused = scheduleDeployment(harness.deps, { changeId: String(change.number), actor: ACTOR });
    await expect(refused).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(refused).rejects.toThrow(
      /pip upgrades are not allowed on ops-1 by policy deployments\.languagePackages/,
    );
    expect(await test.db.prisma.deployment.count({ where: { changeRequestId: change.id } })).toBe(0);
    for (const h of fleet.hosts) expect(await h.installsBegun(), h.name).toEqual([]);
  });

  it('refuses an interpreter that policy inventory.python does not list', async () => {
    const clock = new TestClock(new Date());
    const policy = policyWith();
    policy.inventory.python = ['/usr/bin/python3'];
    harness = await createHarness({ db: test.db, repos, policy, clock });
    const change = await pipChange(['app-1']);
    await expect(
      scheduleDeployment(harness.deps, { changeId: String(change.number), actor: ACTOR }),
    ).rejects.toThrow(/is not in policy inventory\.python/);
    expect(await fleet.host('app-1').installsBegun()).toEqual([]);
  });

  it('still refuses a lockfile change, announcing the exact bump', async () => {
    const clock = new TestClock(new Date());
    harness = await createHarness({ db: test.db, repos, policy: policyWith(), clock });
    const change = await pipChange(['app-1'], 'lockfile');
    const refused = scheduleDeployment(harness.deps, { changeId: String(change.number), actor: ACTOR });
    await expect(refused).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(refused).rejects.toThrow(
      `change #${change.number} bumps Jinja2 to ${NEW} in lockfiles (/srv/app/requirements.txt)`,
    );
    await expect(refused).rejects.toThrow('patchbot never deploys lockfiles');
    expect(await fleet.host('app-1').installsBegun()).toEqual([]);
  });

  it('upgrades a global npm package and rolls it back to the recorded version when a health check fails', async () => {
    const clock = new TestClock(new Date());
    const policy = policyWith({
      failureBudget: 0,
      healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
    });
    policy.rings = policy.rings.slice(1);
    harness = await createHarness({ db: test.db, repos, policy, clock });
    workers.push(startWorker(harness));
    await fleet.host('app-2').setUnhealthy(true);
    const change = await seedChange(test.db, {
      hosts: [fleet.host('app-2')],
      packageName: 'semver',
      installedVersion: '7.5.1',
      fixedVersion: '7.5.2',
      ecosystem: 'npm',
      thirdParty: { owner: () => '/usr/local', ownerKind: 'global-npm' },
    });
    const scheduled = await scheduleDeployment(harness.deps, {
      changeId: String(change.number),
      actor: ACTOR,
    });
    const id = scheduled.deployment.id;
    await waitFor('rolled back', async () => {
      const d = await repos.deployments.detail(id);
      return d.rings.flatMap((r) => r.hosts).every((h) => h.status === 'rolled_back');
    });
    const [run] = (await repos.deployments.detail(id)).rings.flatMap((r) => r.hosts);
    expect(run?.tool).toBe('npm');
    expect(run?.preBaseline).toEqual({ semver: ['7.5.1'] });
    expect(run?.error).toMatch(/health check failed/);
    const host = fleet.host('app-2');
    // the upgrade, then the rollback to the recorded version: once each, as root
    expect(await host.installLog()).toEqual([
      'npm install semver==7.5.2 uid=0',
      'npm install semver==7.5.1 uid=0',
    ]);
    expect((await host.languageInstalled('npm')).get('semver')).toBe('7.5.1');
  }, 90_000);
});
