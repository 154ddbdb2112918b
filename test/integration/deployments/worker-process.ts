/**
 * A deployment worker in its own process, for the test that kills one with SIGKILL mid-ring. It runs
 * the real job handlers over the database and Redis the parent names (env), with short BullMQ
 * locks so its jobs come back quickly once it is dead.
 *
 * env: DATABASE_URL, REDIS_URL, PATCHBOT_TEST_PREFIX, PATCHBOT_TEST_POLICY (policy as JSON).
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Policy } from '../../../src/config/policy-schema.js';
import { openDatabase } from '../../../src/db/client.js';
import { AuditRepository } from '../../../src/db/repositories/audit-repository.js';
import { DeploymentRepository } from '../../../src/db/repositories/deployment-repository.js';
import { HostRepository } from '../../../src/db/repositories/host-repository.js';
import { InventoryRepository } from '../../../src/db/repositories/inventory-repository.js';
import { createDeploymentJobHandlers } from '../../../src/jobs/deployments/handlers.js';
import { JobHandlers, processJob } from '../../../src/jobs/worker.js';
import { createExecutorFactory } from '../../../src/usecases/deployments/executors.js';

const env = process.env;
const logger = pino({ level: 'silent' });
const db = await openDatabase({ url: env.DATABASE_URL, dataDir: '/nonexistent' });
const policy = Policy.parse(JSON.parse(env.PATCHBOT_TEST_POLICY ?? '{}'));
const hosts = new HostRepository(db.prisma);
const inventory = new InventoryRepository(db.prisma);
const audit = new AuditRepository(db.prisma);
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const registration = createDeploymentJobHandlers({
  connection,
  prefix: env.PATCHBOT_TEST_PREFIX ?? 'pbtest',
  deployments: new DeploymentRepository(db.prisma, db.sql),
  audit,
  executors: createExecutorFactory({
    repos: { hosts, inventory, audit },
    config: { policy, policyPath: '/nonexistent/patchbot.yaml', env: {} },
  }),
  now: () => new Date(),
  logger,
  timing: { leaseMs: 3_000, heartbeatMs: 500, maxDelayMs: 300, recoverWaitMs: 10_000 },
});
const handlers = registration(new JobHandlers());
const worker = new Worker('deployments', (job) => processJob(job, handlers, logger), {
  connection: connection.duplicate(),
  prefix: env.PATCHBOT_TEST_PREFIX ?? 'pbtest',
  concurrency: 10,
  lockDuration: 3_000,
  stalledInterval: 1_000,
});
worker.on('error', () => undefined);
await worker.waitUntilReady();
process.stdout.write('ready\n');
