/**
 * `patchbot worker` as a real process against a temp PostgreSQL database and Redis: it applies
 * migrations with --migrate, puts its recurring schedules in place (feeds sync, inventory
 * collection, the deployment reconciler, each team's digest) and stops cleanly on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { spawnPatchbot, waitForLine } from '../../support/process.js';

let pg: TempPostgres;
let tmp: TempDir;
let redis: Redis;
const prefix = `pbtest-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  pg = await createTempPostgres('worker');
  tmp = await createTempDir('worker');
  redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
}, 60_000);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await pg?.drop();
  await tmp?.remove();
});

describe('patchbot worker', () => {
  it('migrates, schedules its recurring jobs and stops on SIGTERM', async () => {
    const policyFile = path.join(tmp.dir, 'patchbot.yaml');
    await writeFile(
      policyFile,
      stringify({
        teams: [{ name: 'ops', digest: { weekday: 'mon', time: '09:00', timeZone: 'Europe/Berlin' } }],
      }),
    );
    const proc = spawnPatchbot(
      ['worker', '--migrate'],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: pg.url,
        PATCHBOT_CONFIG: policyFile,
        PATCHBOT_QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'info',
      },
      tmp.dir,
    );
    try {
      await waitForLine(proc, /patchbot worker is up/, 60_000);
      const keys = (await redis.keys(`${prefix}:*`)).join('\n');
      expect(keys).toMatch(/feeds-sync/);
      expect(keys).toMatch(/inventory-collect/);
      expect(keys).toMatch(/digest/);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
    expect(proc.stderr()).not.toMatch(/unhandled/i);
  }, 90_000);
});
