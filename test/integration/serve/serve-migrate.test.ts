/**
 * `patchbot serve --migrate` on a fresh PostgreSQL database: two processes started at once both
 * come up and every migration is applied exactly once; without --migrate a database with pending
 * migrations refuses the start, naming them.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../../src/db/migrate.js';
import {
  adminQuery,
  createTempDir,
  createTempPostgres,
  type TempDir,
  type TempPostgres,
} from '../../support/db.js';
import { freePort, spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';

let pg: TempPostgres;
let tmp: TempDir;
const procs: Proc[] = [];

function env(url: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: url,
    PATCHBOT_QUEUE_PREFIX: `pbtest-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: 'info',
  };
}

beforeAll(async () => {
  pg = await createTempPostgres('serve_migrate');
  tmp = await createTempDir('serve-migrate');
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await pg?.drop();
  await tmp?.remove();
});

describe('patchbot serve --migrate', () => {
  it('refuses to start on pending migrations without --migrate, naming them', async () => {
    const port = await freePort();
    const p = spawnPatchbot(['serve', '--port', String(port), '--no-worker'], env(pg.url), tmp.dir);
    procs.push(p);
    expect(await p.exited).not.toBe(0);
    expect(p.stderr()).toMatch(/pending migration\(s\) \(20261123015649_init/);
    expect(p.stderr()).toContain('--migrate');
  });

  it('applies each migration once when two processes start at the same time', async () => {
    const ports = [await freePort(), await freePort()];
    const started = ports.map((port) =>
      spawnPatchbot(['serve', '--migrate', '--port', String(port), '--no-worker'], env(pg.url), tmp.dir),
    );
    procs.push(...started);
    await Promise.all(started.map((p) => waitForLine(p, /patchbot serve is up/, 60_000)));
    for (const port of ports) {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(200);
    }
    const rows = await adminQuery<{ migration_name: string; n: string }>(
      'SELECT migration_name, count(*)::text AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL GROUP BY migration_name',
      [],
      pg.url,
    );
    const expected = (await readMigrations()).map((m) => m.name).sort();
    expect(rows.map((r) => r.migration_name).sort()).toEqual(expected);
    for (const r of rows) expect(r.n).toBe('1');
  }, 90_000);
});
