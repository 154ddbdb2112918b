import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR } from '../../../src/db/migrate.js';
import { adminQuery, createTempPostgres, type TempPostgres } from '../../support/db.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/patchbot.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('patchbot db migrate, two processes at once on one fresh PostgreSQL database', () => {
  let temp: TempPostgres;
  beforeAll(async () => {
    temp = await createTempPostgres('concurrent');
  });
  afterAll(async () => {
    await temp.drop();
  });

  it('applies each migration exactly once', async () => {
    const expected = (await readdir(DEFAULT_MIGRATIONS_DIR, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const env = { DATABASE_URL: temp.url };
    const runs = await Promise.all([
      runCli(['db', 'migrate', '--format', 'json'], env),
      runCli(['db', 'migrate', '--format', 'json'], env),
    ]);
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0 });
    const results = runs.map((r) => JSON.parse(r.stdout) as { applied: string[]; alreadyApplied: string[] });
    // together they applied every migration once; whichever came second found them applied
    expect([...results[0].applied, ...results[1].applied].sort()).toEqual(expected);
    for (const r of results) expect([...r.applied, ...r.alreadyApplied].sort()).toEqual(expected);

    const rows = await adminQuery<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name',
      [],
      temp.url,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(expected);

    const again = await runCli(['db', 'migrate'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('database is up to date');
  });

  it('fails with a clear message and exit code 1 when the server is unreachable', async () => {
    const run = await runCli(['db', 'migrate'], { DATABASE_URL: 'postgresql://u:hunter2@127.0.0.1:1/x' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'cannot connect to PostgreSQL at 127.0.0.1:1 (database x): connection refused',
    );
    expect(run.stderr).not.toContain('hunter2');
  });
});
