/**
 * An approved change deploys exactly what was approved: its hosts and version are fixed at
 * approval (hosts found later start a new change), and a change has at most one active deployment
 * (a unique index), whatever runs at the same time. Real PostgreSQL; concurrent requests are real
 * concurrent transactions, repeated.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Policy } from '../../../src/config/policy-schema.js';
import { ChangeRepository } from '../../../src/db/repositories/change-repository.js';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { createHarness, reposOf, TestClock, type Harness, type Repos } from './support.js';

const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';

let test: TestDatabase;
let repos: Repos;
let changes: ChangeRepository;
let harness: Harness;

const policy = Policy.parse({
  ssh: { user: 'patchbot', identityFile: '/nonexistent/key' },
  deployments: { reboot: { policy: 'never' } },
  rings: [{ name: 'all', concurrency: 2 }],
});

/** A host with a Debian inventory and an open finding for openssl under `advisoryId`. */
async function hostWithFinding(name: string, advisoryId: string): Promise<string> {
  await repos.hosts.upsert({ name, address: `${name}.example`, hostKeys: [{ sha256: '0'.repeat(64) }] });
  await repos.inventory.save(name, {
    os: { id: 'debian', family: 'debian', versionId: '12' },
    kernel: '6.1.0',
    packageManager: 'dpkg',
    packages: [{ name: 'openssl', version: OLD, arch: 'amd64', sourceName: 'openssl', sourceVersion: OLD }],
    rebootRequired: false,
    rebootPackages: [],
    collectedAt: new Date(),
  });
  const host = await test.db.prisma.host.findUniqueOrThrow({ where: { name } });
  const finding = await test.db.prisma.finding.create({
    data: {
      hostId: host.id,
      packageName: 'openssl',
      sourcePackage: 'openssl',
      advisoryId,
      ecosystem: 'Debian:12',
      installedVersion: OLD,
      fixedVersion: NEW,
    },
  });
  return finding.id;
}

async function advisory(): Promise<string> {
  const id = `DSA-${randomUUID().slice(0, 8)}`;
  await test.db.prisma.advisory.create({
    data: { id, source: 'osv', modified: new Date(), contentHash: id, summary: 'test' },
  });
  return id;
}

const campaign = (team: string, findingIds: string[]) => ({
  team,
  ecosystem: 'Debian:12',
  packageName: 'openssl',
  sourcePackage: 'openssl',
  fixedVersion: NEW,
  findingIds,
  riskScore: 50,
  severity: 'high' as const,
  kev: false,
  policyFor: () => ({ snapshot: {}, approvalsRequired: 1 }),
});

/** Approves the change the way the approval use case does (under its row lock); returns the hosts it saw. */
async function approve(changeId: string): Promise<number> {
  let seen = -1;
  await changes.transact(changeId, (change) => {
    seen = change.findings.length;
    return {
      write: {
        decision: { kind: 'approve', actorId: 'U_ALICE', surface: 'slack', round: change.round },
        change: { status: 'approved' },
        audit: { actor: 'U_ALICE', surface: 'slack', action: 'change.approve', details: {} },
      },
      result: undefined,
    };
  });
  return seen;
}

const findingsOf = async (changeId: string): Promise<string[]> =>
  (await test.db.prisma.changeRequestFinding.findMany({ where: { changeRequestId: changeId } }))
    .map((f) => f.findingId)
    .sort();

beforeAll(async () => {
  test = await openTestDatabase('postgres', 'scope');
  repos = reposOf(test.db);
  changes = new ChangeRepository(test.db.prisma);
  harness = await createHarness({ db: test.db, repos, policy, clock: new TestClock(new Date()) });
}, 60_000);

afterAll(async () => {
  await harness?.close();
  await test?.dispose();
});

describe('the approved scope is frozen', () => {
  it('a host found after approval starts a new change; the approved one deploys only its own hosts', async () => {
    const adv = await advisory();
    const team = `team-${randomUUID().slice(0, 6)}`;
    const first = await hostWithFinding(`s1-${team}`, adv);
    const created = await changes.upsertCampaign(campaign(team, [first]), new Date());
    expect(await approve(created.id)).toBe(1);

    const later = await hostWithFinding(`s2-${team}`, adv);
    // a rescan announces both findings again
    const next = await changes.upsertCampaign(campaign(team, [first, later]), new Date());
    expect(next.created).toBe(true);
    expect(next.id).not.toBe(created.id);
    expect(await findingsOf(created.id)).toEqual([first]);
    expect(await findingsOf(next.id)).toEqual([later]);
    // and again: nothing new for either
    const again = await changes.upsertCampaign(campaign(team, [first, later]), new Date());
    expect(again.id).toBe(next.id);
    expect(await findingsOf(next.id)).toEqual([later]);

    const scheduled = await scheduleDeployment(harness.deps, { changeId: created.id });
    expect(scheduled.deployment.rings.flatMap((r) => r.hosts.map((h) => h.hostName))).toEqual([`s1-${team}`]);
  });

  it('the database refuses a host or another version for an approved change, saying why', async () => {
    const adv = await advisory();
    const team = `team-${randomUUID().slice(0, 6)}`;
    const created = await changes.upsertCampaign(
      campaign(team, [await hostWithFinding(`f1-${team}`, adv)]),
      new Date(),
    );
    await approve(created.id);
    const extra = await hostWithFinding(`f2-${team}`, adv);
    await expect(
      test.db.prisma.changeRequestFinding.create({ data: { changeRequestId: created.id, findingId: extra } }),
    ).rejects.toThrow(/its hosts and versions were fixed when it was approved/);
    await expect(
      test.db.prisma.changeRequest.update({ where: { id: created.id }, data: { fixedVersion: '9.9.9-1' } }),
    ).rejects.toThrow(/its package and version were fixed when it was approved/);
    // the rest of the row can still change (its status follows the deployment)
    await test.db.prisma.changeRequest.update({ where: { id: created.id }, data: { riskScore: 80 } });
  });

  it('rescans racing an approval: the approved change has exactly the hosts its approver saw (10 rounds)', async () => {
    for (let round = 0; round < 10; round += 1) {
      const adv = await advisory();
      const team = `race-${round}-${randomUUID().slice(0, 6)}`;
      const created = await changes.upsertCampaign(
        campaign(team, [await hostWithFinding(`r0-${team}`, adv)]),
        new Date(),
      );
      const later = await Promise.all(
        Array.from({ length: 12 }, (_, i) => hostWithFinding(`r${i + 1}-${team}`, adv)),
      );
      const [seen, ...results] = await Promise.all([
        approve(created.id),
        ...later.map((id) => changes.upsertCampaign(campaign(team, [id]), new Date())),
      ]);
      expect(await findingsOf(created.id)).toHaveLength(seen);
      // every finding is in exactly one change
      const all = await test.db.prisma.changeRequestFinding.findMany({ where: { findingId: { in: later } } });
      expect(all).toHaveLength(later.length);
      // those that came after the approval are in one new change, pending approval
      const others = new Set(results.map((r) => r.id).filter((id) => id !== created.id));
      expect(others.size).toBeLessThanOrEqual(1);
      for (const id of others) {
        expect((await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id } })).status).toBe(
          'pending',
        );
      }
    }
  }, 120_000);
});

describe('one active deployment per change', () => {
  it('15 concurrent starts of one approved change create one deployment; the others are told which (5 rounds)', async () => {
    for (let round = 0; round < 5; round += 1) {
      const adv = await advisory();
      const team = `dep-${round}-${randomUUID().slice(0, 6)}`;
      const created = await changes.upsertCampaign(
        campaign(team, [await hostWithFinding(`d1-${team}`, adv), await hostWithFinding(`d2-${team}`, adv)]),
        new Date(),
      );
      await approve(created.id);
      const results = await Promise.allSettled(
        Array.from({ length: 15 }, () => scheduleDeployment(harness.deps, { changeId: created.id })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok).toHaveLength(1);
      const number = ok[0]?.status === 'fulfilled' ? ok[0].value.deployment.number : -1;
      for (const r of results) {
        if (r.status === 'rejected')
          expect(String(r.reason)).toMatch(new RegExp(`already has deployment #${number}`));
      }
      expect(await test.db.prisma.deployment.count({ where: { changeRequestId: created.id } })).toBe(1);
    }
  }, 120_000);
});
