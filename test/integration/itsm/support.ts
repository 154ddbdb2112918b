/**
 * Shared set-up for the ITSM tests: a temp PostgreSQL database with a team, three hosts with
 * package inventories, an approved change of real findings, its deployment planned and scheduled
 * by the real deployment service (BullMQ on real Redis, no worker), and PatchbotEvents made for
 * what happened, in the order the dispatcher delivers them. Host and ring results are written the
 * way the engine's transactions leave them.
 */
import { randomUUID } from 'node:crypto';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import type { PatchbotEvent, PatchbotEventType } from '../../../src/core/events/event.js';
import { createRepositories, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import type { ItsmDeps } from '../../../src/integrations/itsm/index.js';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { createHarness, TestClock, type Harness } from '../deployments/support.js';

export const logger = createLogger({ level: 'silent' });
export const TEAM = 'payments';
export const HOSTS = ['web-1', 'web-2', 'db-1'] as const;

export function itsmPolicy(input: Partial<PolicyInput> = {}): Policy {
  return Policy.parse({
    teams: [{ name: TEAM }],
    rings: [
      { name: 'canary', match: { hosts: ['web-1'] }, concurrency: 1, soak: '30m' },
      { name: 'broad', concurrency: 2, failureBudget: 0 },
    ],
    deployments: {
      onFailure: 'rollback',
      healthChecks: [{ name: 'nginx', command: ['systemctl', 'is-active', 'nginx'] }],
    },
    ...input,
  });
}

export interface World {
  t: TestDatabase;
  db: Database;
  repos: Repositories;
  clock: TestClock;
  harness: Harness;
  policy: Policy;
  deps(extra?: Partial<ItsmDeps>): ItsmDeps;
  /** An approved change of `openssl` on the three hosts (a fresh fixed version each time). */
  change(options?: {
    emergency?: boolean;
    riskScore?: number | null;
    status?: 'approved' | 'pending';
  }): Promise<{ id: string; number: number }>;
  /** Plans and schedules the change's deployment with the real deployment service. */
  deploy(changeId: string): Promise<{ id: string; number: number }>;
  /** Every host of the deployment ends as `outcome` (and its rings and the deployment accordingly). */
  finish(deploymentId: string, outcome: 'succeeded' | { failed: string }): Promise<void>;
  /** A PatchbotEvent for the change (and deployment), as the outbox writes it. */
  event(
    type: PatchbotEventType,
    change: { id: string; number: number },
    deploymentId?: string,
    data?: Record<string, unknown>,
  ): PatchbotEvent;
  close(): Promise<void>;
}

let versionCounter = 0;

export async function createWorld(label: string, policy: Policy = itsmPolicy()): Promise<World> {
  const t = await openTestDatabase('postgres', label);
  const db = t.db;
  const repos = createRepositories(db);
  const clock = new TestClock(new Date());
  for (const name of HOSTS) {
    await repos.hosts.upsert({
      name,
      address: `${name}.example.test`,
      team: TEAM,
      environment: 'production',
    });
    await repos.inventory.save(name, {
      os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' },
      kernel: '6.1.0-test',
      packageManager: 'dpkg',
      packages: [
        {
          name: 'openssl',
          version: '3.0.11-1~deb12u2',
          arch: 'amd64',
          sourceName: 'openssl',
          sourceVersion: '3.0.11-1~deb12u2',
        },
        {
          name: 'libssl3',
          version: '3.0.11-1~deb12u2',
          arch: 'amd64',
          sourceName: 'openssl',
          sourceVersion: '3.0.11-1~deb12u2',
        },
      ],
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    });
  }
  const harness = await createHarness({ db, repos, policy, clock });
  const team = await db.prisma.team.findUniqueOrThrow({ where: { name: TEAM } });

  return {
    t,
    db,
    repos,
    clock,
    harness,
    policy,
    deps: (extra = {}) => ({
      changes: repos.changes,
      deployments: repos.deployments,
      links: repos.itsmLinks,
      audit: repos.audit,
      logger,
      threadUrl: () => Promise.resolve('https://fake.slack.test/archives/C0PAYMENTS/p1765000000000100'),
      ...extra,
    }),
    async change(options = {}) {
      versionCounter += 1;
      const fixed = `3.0.15-1~deb12u${versionCounter}`;
      const advisoryId = `DSA-${randomUUID().slice(0, 8)}`;
      await db.prisma.advisory.create({
        data: {
          id: advisoryId,
          source: 'debian_tracker',
          modified: new Date(),
          contentHash: randomUUID(),
          summary: 'openssl security update',
        },
      });
      const change = await db.prisma.changeRequest.create({
        data: {
          ecosystem: 'Debian:12',
          packageName: 'openssl',
          sourcePackage: 'openssl',
          fixedVersion: fixed,
          teamId: team.id,
          status: 'pending',
          requestedBy: 'U0DEV00001',
          requestedVia: 'slack',
          policySnapshot: {},
          emergency: options.emergency ?? false,
          riskScore: options.riskScore === undefined ? 82 : options.riskScore,
          severity: 'high',
        },
      });
      for (const name of HOSTS) {
        const host = await db.prisma.host.findUniqueOrThrow({ where: { name } });
        const finding = await db.prisma.finding.create({
          data: {
            hostId: host.id,
            packageName: 'openssl',
            sourcePackage: 'openssl',
            advisoryId,
            ecosystem: 'Debian:12',
            installedVersion: '3.0.11-1~deb12u2',
            fixedVersion: fixed,
            riskScore: 82,
          },
        });
        await db.prisma.changeRequestFinding.create({
          data: { changeRequestId: change.id, findingId: finding.id },
        });
      }
      if (options.status !== 'pending') {
        await db.prisma.changeRequest.update({
          where: { id: change.id },
          data: { status: 'approved', approvedAt: new Date() },
        });
      }
      return { id: change.id, number: change.number };
    },
    async deploy(changeId) {
      const r = await scheduleDeployment(harness.deps, { changeId });
      return { id: r.deployment.id, number: r.deployment.number };
    },
    async finish(deploymentId, outcome) {
      const now = new Date();
      const runs = await db.prisma.hostRun.findMany({ where: { ring: { deploymentId } } });
      for (const run of runs) {
        const failed = outcome !== 'succeeded' && run.hostName === outcome.failed;
        await db.prisma.hostRun.update({
          where: { id: run.id },
          data: failed
            ? { state: 'failed', error: 'E: dpkg was interrupted\nmore lines', finishedAt: now }
            : { state: outcome === 'succeeded' ? 'succeeded' : 'rolled_back', finishedAt: now },
        });
      }
      await db.prisma.deploymentRing.updateMany({
        where: { deploymentId },
        data: { state: outcome === 'succeeded' ? 'passed' : 'rolled_back', finishedAt: now },
      });
      await db.prisma.deployment.update({
        where: { id: deploymentId },
        data: { state: outcome === 'succeeded' ? 'completed' : 'rolled_back', finishedAt: now },
      });
    },
    event(type, change, deploymentId, data = {}) {
      return {
        id: randomUUID(),
        type,
        time: new Date().toISOString(),
        changeId: change.id,
        changeNumber: change.number,
        teamId: team.id,
        teamName: TEAM,
        ...(deploymentId ? { deploymentId } : {}),
        data,
      };
    },
    async close() {
      await harness.close();
      await t.dispose();
    },
  };
}

export const signal = () => new AbortController().signal;
