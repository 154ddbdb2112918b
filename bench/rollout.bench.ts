/**
 * Rollout orchestration cost: one change deployed to 200 simulated hosts in one ring at
 * concurrency 20, through the real engine (PostgreSQL claims and step records, BullMQ flows on
 * Redis, the production job runner). The executor is simulated: every command takes a fixed time
 * and answers like apt/dpkg would, so what is left over is patchbot's own overhead.
 *
 * A 40-host deployment runs first (a warm worker); the second one, on 200 hosts, is measured.
 *
 * Figures: total time; per host, the lane time not spent in commands
 * ((total x concurrency - command time) / hosts, target < 50 ms), and the mean time per host run.
 *
 * Needs PostgreSQL (PATCHBOT_TEST_POSTGRES_URL) and Redis (REDIS_URL), both default on 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Policy } from '../src/config/policy-schema.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { AuditRepository } from '../src/db/repositories/audit-repository.js';
import { DeploymentRepository } from '../src/db/repositories/deployment-repository.js';
import { HostRepository } from '../src/db/repositories/host-repository.js';
import type { ExecRequest, ExecResult, Executor } from '../src/executors/executor.js';
import { createDeploymentJobHandlers } from '../src/jobs/deployments/handlers.js';
import { JobHandlers, startJobRunner } from '../src/jobs/worker.js';
import { scheduleDeployment } from '../src/usecases/deployments/service.js';
import { createTempPostgres } from '../test/support/postgres.js';

const HOSTS = 200;
const WARM_HOSTS = 40;
const CONCURRENCY = 20;
const COMMAND_MS = 20;
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';

/** A host that answers dpkg-query, apt-get install and the reboot check after a fixed delay. */
class SimulatedHost implements Executor {
  constructor(
    readonly host: string,
    private readonly state: Map<string, string>,
    private readonly spent: { ms: number; commands: number },
  ) {}

  async exec(request: ExecRequest): Promise<ExecResult> {
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, COMMAND_MS));
    let stdout = '';
    let exitCode = 0;
    if (request.command === 'dpkg-query') {
      const names = request.args.slice(request.args.indexOf('--') + 1);
      stdout = names
        .filter((n) => this.state.has(n))
        .map((n) => `${n}\t${this.state.get(n) ?? ''}\tamd64\topenssl\tinstall ok installed\n`)
        .join('');
    } else if (request.command === 'env' && request.args.includes('install')) {
      for (const spec of request.args.slice(request.args.indexOf('--') + 1)) {
        const [name = '', version = ''] = spec.split('=');
        this.state.set(name, version);
      }
    } else if (request.command === 'test') {
      exitCode = 1;
    }
    const ms = performance.now() - t0;
    this.spent.ms += ms;
    this.spent.commands += 1;
    return {
      exitCode,
      signal: null,
      stdout,
      stderr: '',
      truncated: false,
      timedOut: false,
      durationMs: Math.round(ms),
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Fleet {
  names: string[];
  changeId: string;
}

/** `count` hosts named `<prefix>-NNN` with openssl OLD, and an approved change fixing it on them. */
async function fleet(db: Database, hosts: HostRepository, prefix: string, count: number): Promise<Fleet> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
  await db.prisma.host.createMany({
    data: names.map((name) => ({ name, address: `${name}.example`, hostKeySha256: '0'.repeat(64) })),
  });
  const stored = (await hosts.list()).filter((h) => names.includes(h.name));
  const change = await db.prisma.changeRequest.create({
    data: {
      ecosystem: 'Debian:12',
      packageName: 'openssl',
      sourcePackage: 'openssl',
      fixedVersion: NEW,
      status: 'approved',
      requestedBy: 'bench',
      policySnapshot: {},
    },
  });
  await db.prisma.finding.createMany({
    data: stored.map((h) => ({
      hostId: h.id,
      packageName: 'openssl',
      sourcePackage: 'openssl',
      advisoryId: 'DSA-BENCH-1',
      ecosystem: 'Debian:12',
      installedVersion: OLD,
      fixedVersion: NEW,
    })),
  });
  const findings = await db.prisma.finding.findMany({
    where: { hostId: { in: stored.map((h) => h.id) } },
    select: { id: true },
  });
  await db.prisma.changeRequestFinding.createMany({
    data: findings.map((f) => ({ changeRequestId: change.id, findingId: f.id })),
  });
  return { names, changeId: change.id };
}

export async function run(): Promise<void> {
  const temp = await createTempPostgres('bench_rollout');
  const db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
  const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    maxRetriesPerRequest: null,
  });
  const prefix = `pbbench-${randomUUID().slice(0, 8)}`;
  const logger = pino({ level: 'silent' });
  try {
    await db.migrate();
    const hosts = new HostRepository(db.prisma);
    const deployments = new DeploymentRepository(db.prisma);
    const audit = new AuditRepository(db.prisma);
    await db.prisma.advisory.create({
      data: { id: 'DSA-BENCH-1', source: 'osv', modified: new Date(), contentHash: 'x' },
    });
    // A small deployment first, so the measured one runs in a warm worker (compiled queries,
    // optimised code) as a long-running `patchbot worker` does.
    const warm = await fleet(db, hosts, 'warm', WARM_HOSTS);
    const measured = await fleet(db, hosts, 'sim', HOSTS);

    const spent = { ms: 0, commands: 0 };
    const states = new Map([...warm.names, ...measured.names].map((n) => [n, new Map([['openssl', OLD]])]));
    const policy = Policy.parse({
      rings: [{ name: 'all', concurrency: CONCURRENCY, failureBudget: 0 }],
      deployments: { sudo: false, reboot: { policy: 'if-required' } },
    });
    // A deployment ends when the engine says so (its progress events), not by polling the database.
    const ends = new Map<string, (outcome: string) => void>();
    const registration = createDeploymentJobHandlers({
      connection,
      prefix,
      deployments,
      audit,
      executors: (t) =>
        Promise.resolve(
          new SimulatedHost(t.hostName, states.get(t.hostName) ?? new Map<string, string>(), spent),
        ),
      now: () => new Date(),
      logger,
      progress: {
        emit: (event) => {
          const end = ends.get(event.deploymentId);
          if (event.type === 'completed') end?.('completed');
          else if (event.type === 'ring_halted') end?.(`halted: ${event.reason}`);
        },
      },
    });
    const runner = startJobRunner({
      connection: connection.duplicate(),
      handlers: registration(new JobHandlers()),
      logger,
      prefix,
      concurrency: { deployments: CONCURRENCY + 4 },
    });

    const rollout = async (changeId: string) => {
      let end: (outcome: string) => void = () => undefined;
      const ended = new Promise<string>((resolve) => (end = resolve));
      const t0 = performance.now();
      const scheduled = await scheduleDeployment(
        {
          ...registration.engine,
          hosts,
          policy,
          progress: {
            emit: (event) => {
              if (event.type === 'scheduled') ends.set(event.deploymentId, end);
            },
          },
        },
        { changeId },
      );
      const scheduledMs = performance.now() - t0;
      const outcome = await ended;
      if (outcome !== 'completed') throw new Error(`rollout ended ${outcome}`);
      return { id: scheduled.deployment.id, total: performance.now() - t0, scheduledMs };
    };

    await rollout(warm.changeId);
    spent.ms = 0;
    spent.commands = 0;
    const { id, total, scheduledMs } = await rollout(measured.changeId);
    await runner.close();
    await registration.close();

    const detail = await deployments.detail(id);
    const runs = detail.rings.flatMap((r) => r.hosts);
    const ok = runs.filter((r) => r.status === 'succeeded').length;
    const perHostRun =
      runs.reduce((n, r) => n + ((r.finishedAt?.getTime() ?? 0) - (r.startedAt?.getTime() ?? 0)), 0) /
      runs.length;
    const commandPerHost = spent.ms / HOSTS;
    const overhead = (total * CONCURRENCY - spent.ms) / HOSTS;
    const ideal = (HOSTS / CONCURRENCY) * commandPerHost;
    console.log(
      `rollout: ${HOSTS} simulated hosts, 1 ring, concurrency ${CONCURRENCY}, ${COMMAND_MS} ms per command ` +
        `(${(spent.commands / HOSTS).toFixed(1)} commands per host): ${ok}/${HOSTS} succeeded ` +
        `(after a ${WARM_HOSTS}-host warm-up deployment)`,
    );
    console.log(
      `  total ${(total / 1000).toFixed(2)} s from scheduling to completed, of which scheduling ` +
        `${scheduledMs.toFixed(0)} ms (commands alone at full concurrency: ${(ideal / 1000).toFixed(2)} s)`,
    );
    console.log(
      `  per host: commands ${commandPerHost.toFixed(1)} ms, host run ${perHostRun.toFixed(1)} ms ` +
        `(${(perHostRun - commandPerHost).toFixed(1)} ms beyond its commands), ` +
        `orchestration overhead ${overhead.toFixed(1)} ms (target < 50 ms)`,
    );
    console.log(
      `  one worker process on ${cpus().length} CPU(s), load average ${loadavg()[0]?.toFixed(2) ?? '?'} at the end`,
    );
  } finally {
    const keys = await connection.keys(`${prefix}:*`);
    if (keys.length > 0) await connection.del(...keys);
    connection.disconnect();
    await db.close();
    await temp.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
