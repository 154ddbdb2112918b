/**
 * Two installations (two databases) on one Redis, both with the default queue prefix: each
 * `patchbot worker` process takes its prefix from its own database's installation id, so a job
 * enqueued for installation B is run by B's worker and never by A's. Evidence: B's job completes
 * with B's database holding what it imported, while A's database holds none of it and A's log never
 * names the job.
 */
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installationId, openDatabase, type Database } from '../../../src/db/index.js';
import { Jobs } from '../../../src/jobs/definitions.js';
import { derivedQueuePrefix, resolveQueuePrefix } from '../../../src/jobs/prefix.js';
import { createJobQueue } from '../../../src/jobs/queue.js';
import {
  adminQuery,
  createTempDir,
  createTempPostgres,
  type TempDir,
  type TempPostgres,
} from '../../support/db.js';
import { spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** An advisory only the job's source holds (the workers' own schedules sync other feeds). */
const FEED = path.join(import.meta.dirname, '../../fixtures/feeds/osv/pypi/PYSEC-2021-66.yaml');
const ADVISORY = 'PYSEC-2021-66';

let pgA: TempPostgres;
let pgB: TempPostgres;
let tmp: TempDir;
let redis: Redis;
const procs: Proc[] = [];
const prefixes: string[] = [];

function startWorker(url: string): Proc {
  const proc = spawnPatchbot(
    ['worker', '--migrate'],
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url,
      REDIS_URL,
      LOG_LEVEL: 'debug',
      // no PATCHBOT_QUEUE_PREFIX: the default is what is tested
    },
    tmp.dir,
  );
  procs.push(proc);
  return proc;
}

async function advisoryCount(url: string): Promise<number> {
  const rows = await adminQuery<{ n: string }>(
    'SELECT count(*) AS n FROM "Advisory" WHERE "id" = $1',
    [ADVISORY],
    url,
  );
  return Number(rows[0]?.n);
}

beforeAll(async () => {
  pgA = await createTempPostgres('isolation-a');
  pgB = await createTempPostgres('isolation-b');
  tmp = await createTempDir('isolation');
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
  await redis.connect();
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis?.disconnect();
  await pgA?.drop();
  await pgB?.drop();
  await tmp?.remove();
});

describe('installations sharing one Redis', () => {
  it("never run each other's jobs with the default queue prefix", async () => {
    const workerA = startWorker(pgA.url);
    const workerB = startWorker(pgB.url);
    const [, prefixA] = await waitForLine(workerA, /queues: (patchbot-[0-9a-f]{16})/, 90_000);
    const [, prefixB] = await waitForLine(workerB, /queues: (patchbot-[0-9a-f]{16})/, 90_000);
    prefixes.push(prefixA, prefixB);
    await waitForLine(workerA, /patchbot worker is up/, 60_000);
    await waitForLine(workerB, /patchbot worker is up/, 60_000);
    expect(prefixA).not.toBe(prefixB);

    // B's side enqueues as serve and the CLI do: the prefix from B's database
    const dbB: Database = await openDatabase({ url: pgB.url, dataDir: tmp.dir });
    let jobId: string;
    try {
      const idB = await installationId(dbB);
      expect(await installationId(dbB)).toBe(idB); // stored: asked again, the same
      const prefix = await resolveQueuePrefix(undefined, () => installationId(dbB));
      expect(prefix).toBe(derivedQueuePrefix(idB));
      expect(prefix).toBe(prefixB);
      const producer = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const queue = createJobQueue(producer, { prefix });
      try {
        jobId = await queue.enqueue(Jobs.feedsSync, { sources: [FEED] }, { jobId: `isolation-${idB}` });
      } finally {
        await queue.close();
        producer.disconnect();
      }
    } finally {
      await dbB.close();
    }

    // wait for the evidence: B's job finished, as B's worker records it
    const maintenance = new Queue('maintenance', { connection: redis, prefix: prefixB });
    try {
      let state = '';
      const deadline = Date.now() + 60_000;
      while (state !== 'completed' && state !== 'failed') {
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state}: ${workerB.stderr()}`);
        state = await maintenance.getJobState(jobId);
        if (state !== 'completed') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('completed');
      const job = await maintenance.getJob(jobId);
      expect((job?.returnvalue as { totals: { new: number } }).totals.new).toBeGreaterThan(0);
    } finally {
      await maintenance.close();
    }

    expect(await advisoryCount(pgB.url)).toBe(1);
    expect(await advisoryCount(pgA.url)).toBe(0);
    // A's queues never held it and A's log never names it
    const maintenanceA = new Queue('maintenance', { connection: redis, prefix: prefixA });
    try {
      expect(await maintenanceA.getJobState(jobId)).toBe('unknown');
    } finally {
      await maintenanceA.close();
    }
    expect(workerA.stderr()).not.toContain(`"jobId":"${jobId}"`);
    expect(workerA.stderr()).not.toContain(FEED);
  }, 180_000);
});
