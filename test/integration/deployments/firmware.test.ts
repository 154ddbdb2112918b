/**
 * Firmware rollouts over real sshd hosts: a fwupd device (from a real `fwupdmgr get-devices --json`,
 * test/fixtures/firmware) updated through a ring with `sudo -n fwupdmgr install DEVICE VERSION
 * --assume-yes --no-reboot-check` under the documented sudoers rules, its version read back, the
 * host rebooted because the device needs it, then health-checked; a release staged for the next
 * boot is verified after the reboot; the plan and the chat message say that firmware cannot be
 * rolled back, and a rollback says so instead of trying.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIRMWARE_NO_ROLLBACK } from '../../../src/core/deployments/state.js';
import type { Database } from '../../../src/db/client.js';
import { createDeploymentPort } from '../../../src/usecases/deployments/chat.js';
import { previewDeployment } from '../../../src/usecases/deployments/service.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet, type FleetHost } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  createHarness,
  registerFleet,
  reposOf,
  startWorker,
  testPolicy,
  TestClock,
  waitFor,
  type Harness,
  type Repos,
} from './support.js';

/** HP Z4 G4 workstation, fwupd 1.7.9 (provenance: test/fixtures/firmware/README.md). */
const DEVICES = readFileSync(
  new URL('../../fixtures/firmware/fwupd/get-devices.hp-z4-g4-workstation.json', import.meta.url),
  'utf8',
);
/** Its "System Firmware" device: version 2.90 (format pair), flags updatable and needs-reboot. */
const BIOS = 'a45df35ac0e948ee180fe216a5f703f32dda163f';
const BIOS_GUID = '230c8b18-8d9b-53ec-838b-6cfc0383493a';
const OLD = '2.90';
const FIXED = '2.91';

const spec = (name: string) => ({
  name,
  installed: [{ name: BIOS, version: OLD }],
  available: [{ name: BIOS, version: FIXED }],
  fwupdDevices: DEVICES,
});

/** An approved firmware change for the BIOS of `hosts`, as scan and the campaign make it. */
async function seedFirmwareChange(
  db: Database,
  hosts: readonly FleetHost[],
): Promise<{ id: string; number: number }> {
  const advisoryId = `LVFS:com.hp.z4g4.firmware:${FIXED}:${randomUUID().slice(0, 8)}`;
  await db.prisma.advisory.create({
    data: {
      id: advisoryId,
      source: 'lvfs',
      modified: new Date(),
      contentHash: randomUUID(),
      summary: 'test',
    },
  });
  const change = await db.prisma.changeRequest.create({
    data: {
      ecosystem: 'fwupd:pair',
      kind: 'firmware',
      packageName: BIOS_GUID,
      sourcePackage: BIOS_GUID,
      fixedVersion: FIXED,
      status: 'pending',
      requestedBy: 'patchbot',
      policySnapshot: {},
    },
  });
  for (const h of hosts) {
    const host = await db.prisma.host.findUniqueOrThrow({ where: { name: h.name } });
    const finding = await db.prisma.finding.create({
      data: {
        hostId: host.id,
        kind: 'firmware',
        owner: BIOS,
        ownerKind: 'device',
        packageName: BIOS_GUID,
        sourcePackage: BIOS_GUID,
        advisoryId,
        ecosystem: 'fwupd:pair',
        installedVersion: OLD,
        fixedVersion: FIXED,
      },
    });
    await db.prisma.changeRequestFinding.create({
      data: { changeRequestId: change.id, findingId: finding.id },
    });
  }
  await db.prisma.changeRequest.update({
    where: { id: change.id },
    data: { status: 'approved', approvedAt: new Date() },
  });
  return { id: change.id, number: change.number };
}

let fleet: Fleet;
let test: TestDatabase;
let repos: Repos;
let harness: Harness | undefined;
let workers: Worker[] = [];

beforeAll(async () => {
  fleet = await startFleet([spec('fw-1'), spec('fw-2'), spec('fw-3')], { first: 191, bootMs: 800 });
  test = await openTestDatabase('postgres', 'firmware');
  repos = reposOf(test.db);
  await registerFleet(repos, fleet);
}, 90_000);

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await harness?.close();
  harness = undefined;
  // no fwupdmgr run was ever interrupted
  await allRunsEnded(fleet);
  for (const h of fleet.hosts) expect(await h.signals(), h.name).toEqual([]);
  await fleet.reset();
});

afterAll(async () => {
  await fleet?.stop();
  await test?.dispose();
});

const policyFor = (onFailure: 'halt' | 'rollback') =>
  testPolicy(fleet, {
    rings: [{ name: 'all', concurrency: 1, failureBudget: 0 }],
    maintenanceWindows: [{ name: 'always', schedule: 'daily 00:00-24:00', timeZone: 'UTC' }],
    deployments: {
      sudo: true,
      reboot: { policy: 'if-required', waitLimit: '30s' },
      retry: { attempts: 1, backoff: '1s' },
      onFailure,
      healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
    },
  });

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('firmware rollouts (fwupd)', () => {
  it('updates the device once through the ring, verifies its version, reboots, health-checks; no rollback promised', async () => {
    harness = await createHarness({
      db: test.db,
      repos,
      policy: policyFor('halt'),
      clock: new TestClock(new Date()),
    });
    workers.push(startWorker(harness));
    const hosts = [fleet.host('fw-1'), fleet.host('fw-2')];
    const bootBefore = new Map<string, string>();
    for (const h of hosts) bootBefore.set(h.name, await h.bootId());
    const change = await seedFirmwareChange(test.db, hosts);

    // the plan (what `deploy plan` prints as text and JSON): the device at the release, no rollback
    const preview = await previewDeployment(harness.deps, { changeId: change.id });
    expect(preview.plan.warnings[0]).toBe(FIRMWARE_NO_ROLLBACK);
    expect(preview.plan.warnings[0]).toContain('firmware cannot be rolled back by patchbot');
    expect(preview.hosts.map((h) => ({ host: h.hostName, tool: h.tool, targets: h.targets }))).toEqual(
      hosts.map((h) => ({ host: h.name, tool: 'fwupd', targets: [{ name: BIOS, version: FIXED }] })),
    );

    // approval schedules it; the sentence for the change's thread says there is no rollback
    const port = createDeploymentPort(harness.deps);
    const { summary } = await port.approved(change.id, { id: 'U_ALICE', surface: 'slack' });
    expect(summary).toMatch(/^Deployment #\d+ scheduled/);
    expect(summary).toContain('firmware cannot be rolled back by patchbot');
    const dep = await repos.deployments.latestForChange(change.id);
    if (!dep) throw new Error('no deployment was scheduled');
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(dep.id)).state.status === 'completed',
      90_000,
    ).catch(async (err: unknown) => {
      const d = await repos.deployments.detail(dep.id);
      throw new Error(`${String(err)}: ${JSON.stringify({ state: d.state, hosts: d.rings[0]?.hosts })}`);
    });
    const runs = (await repos.deployments.detail(dep.id)).rings[0]?.hosts ?? [];
    expect(runs.map((r) => r.hostName).sort()).toEqual(['fw-1', 'fw-2']);
    for (const h of hosts) {
      const run = runs.find((r) => r.hostName === h.name);
      expect(run?.tool, h.name).toBe('fwupd');
      expect(run?.status, `${h.name}: ${run?.error ?? ''}`).toBe('succeeded');
      // the version before and after, read from fwupdmgr get-devices --json
      expect(run?.preBaseline, h.name).toEqual({ [BIOS]: [OLD] });
      expect(run?.postBaseline, h.name).toEqual({ [BIOS]: [FIXED] });
      expect((await h.installed()).get(BIOS), h.name).toBe(FIXED);
      // installed exactly once, as root through the documented sudoers rule
      expect(await h.installLog(), h.name).toEqual([`install ${BIOS} ${FIXED} `]);
      // the device needs a reboot: exactly one, and the host came back as itself with a new boot id
      expect(run?.rebootNeeded, h.name).toBe(true);
      expect(run?.rebootedAt, h.name).not.toBeNull();
      expect(await h.reboots(), h.name).toBe(1);
      const now = await h.bootId();
      expect(now, h.name).not.toBe(bootBefore.get(h.name));
      expect(run?.bootId, h.name).toBe(now);
      // the health check ran, after the reboot
      expect(await h.healthChecks(), h.name).toEqual([now]);
    }
    // the third host was not in the change
    expect(await fleet.host('fw-3').installLog()).toEqual([]);
  }, 150_000);

  it('a rollback of a firmware host says it cannot be rolled back instead of trying', async () => {
    harness = await createHarness({
      db: test.db,
      repos,
      policy: policyFor('rollback'),
      clock: new TestClock(new Date()),
    });
    workers.push(startWorker(harness));
    const host = fleet.host('fw-3');
    await host.setUnhealthy(true);
    const change = await seedFirmwareChange(test.db, [host]);
    const port = createDeploymentPort(harness.deps);
    await port.approved(change.id, { id: 'U_ALICE', surface: 'slack' });
    const dep = await repos.deployments.latestForChange(change.id);
    if (!dep) throw new Error('no deployment was scheduled');
    await waitFor(
      'rollback ended',
      async () =>
        ['rollback_failed', 'rolled_back', 'completed'].includes(
          (await repos.deployments.get(dep.id)).state.status,
        ),
      60_000,
    ).catch(async (err: unknown) => {
      const d = await repos.deployments.detail(dep.id);
      throw new Error(`${String(err)}: ${JSON.stringify({ state: d.state, host: d.rings[0]?.hosts[0] })}`);
    });
    const ended = await repos.deployments.detail(dep.id);
    expect(ended.state.status, JSON.stringify(ended.rings[0]?.hosts[0])).toBe('rollback_failed');
    const run = (await repos.deployments.detail(dep.id)).rings[0]?.hosts[0];
    expect(run?.status).toBe('rollback_failed');
    expect(run?.error).toMatch(/health check failed/);
    expect(run?.rollbackError).toContain(
      `cannot restore ${BIOS}: device ${BIOS}: firmware cannot be rolled back by patchbot`,
    );
    expect(run?.rollbackReport).toEqual([
      expect.objectContaining({ name: BIOS, from: [FIXED], to: OLD, possible: false }),
    ]);
    // nothing was sent for the rollback: the device stays at the new release, installed once
    expect(await host.installLog()).toEqual([`install ${BIOS} ${FIXED} `]);
    expect((await host.installed()).get(BIOS)).toBe(FIXED);
  }, 120_000);

  it('a release staged for the next boot (a UEFI capsule) is verified after the reboot', async () => {
    harness = await createHarness({
      db: test.db,
      repos,
      policy: policyFor('halt'),
      clock: new TestClock(new Date()),
    });
    workers.push(startWorker(harness));
    const host = fleet.host('fw-3');
    await host.setStageFirmware(true);
    const change = await seedFirmwareChange(test.db, [host]);
    await createDeploymentPort(harness.deps).approved(change.id, { id: 'U_ALICE', surface: 'slack' });
    const dep = await repos.deployments.latestForChange(change.id);
    if (!dep) throw new Error('no deployment was scheduled');
    await waitFor(
      'ended',
      async () => ['completed', 'halted'].includes((await repos.deployments.get(dep.id)).state.status),
      90_000,
    );
    const run = (await repos.deployments.detail(dep.id)).rings[0]?.hosts[0];
    expect(run?.status, run?.error ?? '').toBe('succeeded');
    expect(run?.output).toMatch(/staged for the next boot: its version is verified after the reboot/);
    expect(run?.preBaseline).toEqual({ [BIOS]: [OLD] });
    expect(run?.postBaseline).toEqual({ [BIOS]: [FIXED] });
    expect(await host.installLog()).toEqual([`stage ${BIOS} ${FIXED} `]);
    expect(await host.reboots()).toBe(1);
    expect(await host.healthChecks()).toEqual([await host.bootId()]);
  }, 120_000);
});
