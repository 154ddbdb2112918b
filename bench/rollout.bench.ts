/**
 * Rollout orchestration cost: one change deployed to 200 simulated hosts in one ring at
 * concurrency 20, through the real engine (PostgreSQL claims and step records, BullMQ flows on
 * Redis, the production job runner). The executor is simulated: every command takes a fixed time
 * and answers like apt/dpkg would, so what is left over is patchbot's own overhead.
 *
 * One deployment runs first to warm the worker up (as a long-running `patchbot worker` is); then
 * three deployments of a new change each to the 200 hosts are measured, and the median reported.
 *
 * Figures: total time from scheduling to completed; per host, the lane time not spent in commands
 * ((total x concurrency - command time) / hosts, target < 50 ms), the mean time of a host run
 * and the worker's CPU time.
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
const ROUNDS = 3;
const CONCURRENCY = 20;
const COMMAND_MS = 20;
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';

/**
 * A host that answers dpkg-query, apt-get install (run as a job), the job record's removal and the
 * reboot check after a fixed delay.
 */
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
    // an install runs as a job (src/executors/jobs.ts): `sh -c <script> patchbot-job <job> <max> [env ...] [sudo -n --] apt-get ...`
    const job = request.command === 'sh' ? request.args[2] : undefined;
    const args = job === 'patchbot-job' ? request.args.slice(request.args.indexOf('apt-get')) : request.args;
    if (request.command === 'dpkg-query') {
      const names = request.args.slice(request.args.indexOf('--') + 1);
      stdout = names
        .filter((n) => this.state.has(n))
        .map((n) => `${n}\t${this.state.get(n) ?? ''}\tamd64\topenssl\tinstall ok installed\n`)
        .join('');
    } else if (job === 'patchbot-job' && args.includes('install')) {
      for (const spec of args.slice(args.indexOf('--') + 1)) {
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

/** `count` hosts named `<prefix>-NNN`. */
async function createHosts(db: Database, hosts: HostRepository, prefix: string, count: number) {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
  await db.prisma.host.createMany({
    data: names.map((name) => ({
      name,
      address: `${name}.example`,
      hostKeys: [{ sha256: '0'.repeat(64), type: null }],
    })),
  });
  return (await hosts.list()).filter((h) => names.includes(h.name));
}

/** An approved change fixing openssl on `hosts` (one open finding each, under a new advisory). */
async function approvedChange(db: Database, hosts: readonly { id: string }[]): Promise<string> {
  const advisoryId = `DSA-BENCH-${randomUUID().slice(0, 8)}`;
  await db.prisma.advisory.create({
    data: { id: advisoryId, source: 'osv', modified: new Date(), contentHash: advisoryId },
  });
  const change = await db.prisma.changeRequest.create({
    data: {
      ecosystem: 'Debian:12',
      packageName: 'openssl',
      sourcePackage: 'openssl',
      fixedVersion: NEW,
      // hosts join before approval (an approved change's scope is frozen)
      status: 'pending',
      requestedBy: 'bench',
      policySnapshot: {},
    },
  });
  await db.prisma.finding.createMany({
    data: hosts.map((h) => ({
      hostId: h.id,
      packageName: 'openssl',
      sourcePackage: 'openssl',
      advisoryId,
      ecosystem: 'Debian:12',
      installedVersion: OLD,
      fixedVersion: NEW,
    })),
  });
  const findings = await db.prisma.finding.findMany({ where: { advisoryId }, select: { id: true } });
  await db.prisma.changeRequestFinding.createMany({
    data: findings.map((f) => ({ changeRequestId: change.id, findingId: f.id })),
  });
  await db.prisma.changeRequest.update({ where: { id: change.id }, data: { status: 'approved' } });
  return change.id;
}

interface Round {
  total: number;
  scheduling: number;
  commandMs: number;
  commands: number;
  hostRun: number;
  cpuMs: number;
  succeeded: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

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
    const deployments = new DeploymentRepository(db.prisma, db.sql);
    const audit = new AuditRepository(db.prisma);
    const simHosts = await createHosts(db, hosts, 'sim', HOSTS);

    const spent = { ms: 0, commands: 0 };
    const states = new Map<string, Map<string, string>>();
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

    /** Deploys a new change to `fleet` (every host back at the old version) and measures it. */
    const rollout = async (fleet: readonly { id: string; name: string }[]): Promise<Round> => {
      for (const h of fleet) states.set(h.name, new Map([['openssl', OLD]]));
      const changeId = await approvedChange(db, fleet);
      spent.ms = 0;
      spent.commands = 0;
      let end: (outcome: string) => void = () => undefined;
      const ended = new Promise<string>((resolve) => (end = resolve));
      const cpu0 = process.cpuUsage();
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
      const scheduling = performance.now() - t0;
      const outcome = await ended;
      const total = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (outcome !== 'completed') throw new Error(`rollout ended ${outcome}`);
      const runs = (await deployments.detail(scheduled.deployment.id)).rings.flatMap((r) => r.hosts);
      return {
        total,
        scheduling,
        commandMs: spent.ms,
        commands: spent.commands,
        hostRun:
          runs.reduce((n, r) => n + ((r.finishedAt?.getTime() ?? 0) - (r.startedAt?.getTime() ?? 0)), 0) /
          runs.length,
        cpuMs: (cpu.user + cpu.system) / 1000,
        succeeded: runs.filter((r) => r.status === 'succeeded').length,
      };
    };

    await rollout(simHosts); // warm-up, not counted
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i += 1) rounds.push(await rollout(simHosts));
    await runner.close();
    await registration.close();

    const overheadOf = (r: Round): number => (r.total * CONCURRENCY - r.commandMs) / HOSTS;
    const byOverhead = [...rounds].sort((a, b) => overheadOf(a) - overheadOf(b));
    const mid = byOverhead[Math.floor(byOverhead.length / 2)];
    const commandPerHost = mid.commandMs / HOSTS;
    console.log(
      `rollout: ${HOSTS} simulated hosts, 1 ring, concurrency ${CONCURRENCY}, ${COMMAND_MS} ms per command ` +
        `(${(mid.commands / HOSTS).toFixed(1)} commands per host), ${ROUNDS} rounds after a ` +
        `warm-up round; ` +
        `${rounds.map((r) => r.succeeded).join('/')} of ${HOSTS} succeeded`,
    );
    console.log(
      `  total ${(median(rounds.map((r) => r.total)) / 1000).toFixed(2)} s median from scheduling to completed ` +
        `(scheduling ${median(rounds.map((r) => r.scheduling)).toFixed(0)} ms; commands alone at full ` +
        `concurrency: ${(((HOSTS / CONCURRENCY) * commandPerHost) / 1000).toFixed(2)} s)`,
    );
    console.log(
      `  per host: commands ${commandPerHost.toFixed(1)} ms, host run ${mid.hostRun.toFixed(1)} ms ` +
        `(${(mid.hostRun - commandPerHost).toFixed(1)} ms beyond its commands), worker CPU ` +
        `${(median(rounds.map((r) => r.cpuMs)) / HOSTS).toFixed(1)} ms`,
    );
    console.log(
      `  orchestration overhead per host: ${overheadOf(mid).toFixed(1)} ms median ` +
        `(rounds: ${rounds.map((r) => overheadOf(r).toFixed(1)).join(', ')} ms; target < 50 ms)`,
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
