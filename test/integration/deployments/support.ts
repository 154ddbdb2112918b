/**
 * Shared set-up for the deployment tests: a temp PostgreSQL database, real Redis with a unique key
 * prefix, a fleet of sshd hosts stored as patchbot hosts with pinned keys, approved changes made of
 * real findings, a worker over the real job handlers, and a clock the test moves.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import type { Database } from '../../../src/db/client.js';
import { AuditRepository } from '../../../src/db/repositories/audit-repository.js';
import { DeploymentRepository } from '../../../src/db/repositories/deployment-repository.js';
import { HostRepository } from '../../../src/db/repositories/host-repository.js';
import { InventoryRepository } from '../../../src/db/repositories/inventory-repository.js';
import { OutboxRepository } from '../../../src/db/repositories/outbox-repository.js';
import {
  createDeploymentJobHandlers,
  type DeploymentJobRegistration,
} from '../../../src/jobs/deployments/handlers.js';
import { JobHandlers, processJob } from '../../../src/jobs/worker.js';
import { fingerprintToHex } from '../../../src/usecases/hosts.js';
import { createExecutorFactory } from '../../../src/usecases/deployments/executors.js';
import type { ServiceDeps } from '../../../src/usecases/deployments/service.js';
import type {
  DeploymentProgressEvent,
  EngineTiming,
  ExecutorFactory,
} from '../../../src/usecases/deployments/types.js';
import type { OsInfo } from '../../../src/core/model.js';
import type { Fleet, FleetHost, Flavor } from '../../support/fleet-hosts.js';

export const REDIS_URL = process.env.PATCHBOT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const silentLogger = pino({ level: 'silent' });

export class TestClock {
  constructor(private t: Date) {}
  now = (): Date => new Date(this.t.getTime());
  set(t: Date): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}

export interface Repos {
  hosts: HostRepository;
  inventory: InventoryRepository;
  audit: AuditRepository;
  deployments: DeploymentRepository;
  outbox: OutboxRepository;
}

export function reposOf(db: Database): Repos {
  return {
    hosts: new HostRepository(db.prisma),
    inventory: new InventoryRepository(db.prisma),
    audit: new AuditRepository(db.prisma),
    deployments: new DeploymentRepository(db.prisma, db.sql),
    outbox: new OutboxRepository(db.prisma, db.sql),
  };
}

export function testPolicy(fleet: Fleet, input: Partial<PolicyInput> = {}): Policy {
  return Policy.parse({
    ssh: {
      user: fleet.hosts[0]?.ssh.user ?? 'patchbot-test',
      identityFile: fleet.clientKeyPath,
      connectTimeout: '3s',
      commandTimeout: '30s',
    },
    deployments: {
      // the test user is not root: installs go through sudo under docs/patchbot.sudoers
      sudo: true,
      reboot: { policy: 'never' },
      retry: { attempts: 1, backoff: '1s' },
      onFailure: 'rollback',
    },
    rings: [{ name: 'all', concurrency: 5 }],
    ...input,
  });
}

/** The inventory a fleet host's flavor stands for: OS, package database, ecosystem of its changes. */
export const FLAVOR_OS: Record<
  Flavor,
  {
    os: OsInfo;
    packageManager: 'dpkg' | 'rpm' | 'apk';
    ecosystem: string;
  }
> = {
  apt: {
    os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' },
    packageManager: 'dpkg',
    ecosystem: 'Debian:12',
  },
  dnf: {
    os: { id: 'rocky', family: 'rocky', versionId: '9.4' },
    packageManager: 'rpm',
    ecosystem: 'Rocky Linux:9',
  },
  yum: {
    os: { id: 'centos', family: 'rhel', versionId: '7' },
    packageManager: 'rpm',
    ecosystem: 'Red Hat:7',
  },
  zypper: {
    os: { id: 'sles', family: 'suse', versionId: '15.6' },
    packageManager: 'rpm',
    ecosystem: 'SUSE:15.6',
  },
  apk: {
    os: { id: 'alpine', family: 'alpine', versionId: '3.20.3' },
    packageManager: 'apk',
    ecosystem: 'Alpine:v3.20',
  },
};

/** Stores the fleet hosts (pinned host keys) with a Debian snapshot of their packages. */
export async function registerFleet(
  repos: Repos,
  fleet: Fleet,
  labels: Record<string, Record<string, string>> = {},
): Promise<void> {
  for (const h of fleet.hosts) {
    await repos.hosts.upsert({
      name: h.name,
      address: h.ssh.address,
      port: h.ssh.port,
      sshUser: h.ssh.user,
      hostKeys: [{ sha256: fingerprintToHex(h.ssh.hostKeyFingerprint, h.name), type: null }],
      labels: labels[h.name] ?? {},
    });
    const installed = await h.installed();
    const text = await import('node:fs/promises').then((fs) =>
      fs.readFile(`${h.stateDir}/installed`, 'utf8'),
    );
    const sources = new Map(
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const f = l.split('\t');
          return [f[0] ?? '', f[3] ?? ''] as const;
        }),
    );
    const flavor = FLAVOR_OS[h.flavor];
    await repos.inventory.save(h.name, {
      os: flavor.os,
      kernel: '6.1.0-test',
      packageManager: flavor.packageManager,
      packages: [...installed].map(([name, version]) => ({
        name,
        version,
        arch: 'amd64',
        sourceName: sources.get(name) || name,
        sourceVersion: version,
      })),
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    });
  }
}

/** An approved change (or in `status`) fixing `packageName` with one open finding per host. */
export async function seedChange(
  db: Database,
  input: {
    hosts: readonly FleetHost[];
    packageName: string;
    sourcePackage?: string;
    installedVersion: string;
    fixedVersion: string;
    status?: 'approved' | 'pending' | 'rejected';
    kev?: boolean;
    ecosystem?: string;
    /** A language-package change: each host's finding has this owner (interpreter, npm prefix, lockfile). */
    thirdParty?: { owner: (host: FleetHost) => string; ownerKind: string };
  },
): Promise<{ id: string; number: number }> {
  const ecosystem = input.ecosystem ?? 'Debian:12';
  const advisoryId = `DSA-${randomUUID().slice(0, 8)}`;
  await db.prisma.advisory.create({
    data: { id: advisoryId, source: 'osv', modified: new Date(), contentHash: randomUUID(), summary: 'test' },
  });
  // findings join while the change is pending: an approved change's hosts are fixed (a trigger)
  const change = await db.prisma.changeRequest.create({
    data: {
      ecosystem,
      packageName: input.packageName,
      sourcePackage: input.sourcePackage ?? input.packageName,
      fixedVersion: input.fixedVersion,
      status: 'pending',
      requestedBy: 'patchbot',
      policySnapshot: {},
      kev: input.kev ?? false,
      ...(input.thirdParty ? { kind: 'third_party' as const } : {}),
    },
  });
  for (const h of input.hosts) {
    const host = await db.prisma.host.findUniqueOrThrow({ where: { name: h.name } });
    const owner = input.thirdParty?.owner(h) ?? '';
    const finding = await db.prisma.finding.upsert({
      where: {
        hostId_packageName_advisoryId_owner: {
          hostId: host.id,
          packageName: input.packageName,
          advisoryId,
          owner,
        },
      },
      create: {
        ...(input.thirdParty
          ? { kind: 'third_party' as const, owner, ownerKind: input.thirdParty.ownerKind }
          : {}),
        hostId: host.id,
        packageName: input.packageName,
        sourcePackage: input.sourcePackage ?? input.packageName,
        advisoryId,
        ecosystem,
        installedVersion: input.installedVersion,
        fixedVersion: input.fixedVersion,
      },
      update: {},
    });
    await db.prisma.changeRequestFinding.create({
      data: { changeRequestId: change.id, findingId: finding.id },
    });
  }
  const status = input.status ?? 'approved';
  if (status !== 'pending') {
    await db.prisma.changeRequest.update({
      where: { id: change.id },
      data: { status, ...(status === 'approved' ? { approvedAt: new Date() } : {}) },
    });
  }
  return { id: change.id, number: change.number };
}

export interface Harness {
  deps: ServiceDeps;
  registration: DeploymentJobRegistration;
  events: DeploymentProgressEvent[];
  prefix: string;
  connection: Redis;
  close(): Promise<void>;
}

/** Engine and service dependencies over real Redis (unique prefix) and the fleet's SSH. */
export async function createHarness(options: {
  db: Database;
  repos: Repos;
  policy: Policy;
  clock: TestClock;
  timing?: Partial<EngineTiming>;
  executors?: ExecutorFactory;
  prefix?: string;
}): Promise<Harness> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  await connection.ping();
  const prefix = options.prefix ?? `pbtest-${randomUUID().slice(0, 8)}`;
  const events: DeploymentProgressEvent[] = [];
  const executors =
    options.executors ??
    createExecutorFactory({
      repos: { hosts: options.repos.hosts, inventory: options.repos.inventory, audit: options.repos.audit },
      config: { policy: options.policy, policyPath: '/nonexistent/patchbot.yaml', env: {} },
    });
  const registration = createDeploymentJobHandlers({
    connection,
    prefix,
    deployments: options.repos.deployments,
    audit: options.repos.audit,
    executors,
    now: options.clock.now,
    logger: silentLogger,
    progress: { emit: (e) => void events.push(e) },
    timing: {
      leaseMs: 3_000,
      heartbeatMs: 500,
      maxDelayMs: 300,
      recoverWaitMs: 5_000,
      rebootPollMs: 500,
      recheckMs: 500,
      ...options.timing,
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 200))),
  });
  const deps: ServiceDeps = { ...registration.engine, hosts: options.repos.hosts, policy: options.policy };
  return {
    deps,
    registration,
    events,
    prefix,
    connection,
    async close() {
      await registration.close();
      // remove this test's keys
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length > 0) await connection.del(...keys);
      connection.disconnect();
    },
  };
}

/** A BullMQ worker over the real handlers, with short locks so a killed worker's jobs come back fast. */
export function startWorker(h: Harness, concurrency = 10): Worker {
  const handlers = h.registration(new JobHandlers());
  const worker = new Worker('deployments', (job) => processJob(job, handlers, silentLogger), {
    connection: h.connection.duplicate(),
    prefix: h.prefix,
    concurrency,
    lockDuration: 3_000,
    stalledInterval: 1_000,
  });
  worker.on('error', () => undefined);
  return worker;
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
