import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchbotError } from '../../../src/core/errors.js';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { DEFAULT_MIGRATIONS_DIR } from '../../../src/db/migrate.js';
import {
  BACKENDS,
  createTempDir,
  createTempPostgres,
  type TempDir,
  type TempPostgres,
} from '../../support/db.js';

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

async function committedMigrations(): Promise<string[]> {
  const entries = await readdir(DEFAULT_MIGRATIONS_DIR, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

async function migrationRows(db: Database): Promise<MigrationRow[]> {
  return db.prisma.$queryRawUnsafe<MigrationRow[]>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY started_at, migration_name',
  );
}

/** A fresh, empty database of each kind, opened with the given migrations directory. */
async function freshDatabase(
  kind: (typeof BACKENDS)[number],
  migrationsDir?: string,
): Promise<{ db: Database; reopen(): Promise<Database>; dispose(): Promise<void> }> {
  if (kind === 'postgres') {
    const temp: TempPostgres = await createTempPostgres('migrate');
    const open = (): Promise<Database> =>
      openDatabase({ url: temp.url, dataDir: '/nonexistent', migrationsDir });
    const db = await open();
    return { db, reopen: open, dispose: () => temp.drop() };
  }
  const temp: TempDir = await createTempDir('patchbot-migrate');
  const open = (): Promise<Database> => openDatabase({ dataDir: path.join(temp.dir, 'db'), migrationsDir });
  const db = await open();
  return { db, reopen: open, dispose: () => temp.remove() };
}

for (const kind of BACKENDS) {
  describe(`committed migrations [${kind}]`, () => {
    let db: Database;
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    beforeAll(async () => {
      fresh = await freshDatabase(kind);
      db = fresh.db;
    });
    afterAll(async () => {
      await db.close();
      await fresh.dispose();
    });

    it('applies every committed migration to an empty database, then nothing on a second run', async () => {
      const expected = await committedMigrations();
      expect(expected.length).toBeGreaterThan(0);
      const first = await db.migrate();
      expect(first.applied).toEqual(expected);
      expect(first.alreadyApplied).toEqual([]);
      const second = await db.migrate();
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toEqual(expected);
      expect(second.modified).toEqual([]);
      expect(second.unknown).toEqual([]);
    });

    it('keeps the Prisma CLI bookkeeping: checksum = sha256 of migration.sql, finished, one step', async () => {
      const rows = await migrationRows(db);
      expect(rows.map((r) => r.migration_name)).toEqual(await committedMigrations());
      for (const row of rows) {
        const file = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
        expect(row.checksum).toBe(sha256(file));
        expect(row.finished_at).not.toBeNull();
        expect(row.rolled_back_at).toBeNull();
        expect(row.applied_steps_count).toBe(1);
      }
    });

    it('a second process (or reopen) sees the database as up to date', async () => {
      if (kind === 'embedded') {
        // one process at a time: the open database holds the lock
        await db.close();
        db = await fresh.reopen();
      }
      const other = kind === 'postgres' ? await fresh.reopen() : db;
      try {
        expect((await other.migrate()).applied).toEqual([]);
      } finally {
        if (other !== db) await other.close();
      }
    });
  });

  describe(`migration runner failures [${kind}]`, () => {
    let dir: TempDir;
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    beforeAll(async () => {
      dir = await createTempDir('patchbot-migrations');
      const write = async (name: string, sql: string): Promise<void> => {
        await mkdir(path.join(dir.dir, name), { recursive: true });
        await writeFile(path.join(dir.dir, name, 'migration.sql'), sql);
      };
      await write(
        '20200101000000_good',
        // a function body with ';' inside: the script must not be split on ';'
        `CREATE TABLE "t_good" ("id" INTEGER PRIMARY KEY);
CREATE FUNCTION t_good_fn() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1;
  RETURN 42;
END;
$$;
INSERT INTO "t_good" VALUES (1);
`,
      );
      await write(
        '20200102000000_bad',
        `CREATE TABLE "t_partial" ("id" INTEGER);
INSERT INTO "t_partial" VALUES (1);
SELECT 1 / 0;
`,
      );
      fresh = await freshDatabase(kind, dir.dir);
    });
    afterAll(async () => {
      await fresh.db.close();
      await fresh.dispose();
      await dir.remove();
    });

    it('applies migrations atomically, records a failed one with its logs and rolls it back', async () => {
      const db = fresh.db;
      const err = await db.migrate().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PatchbotError);
      expect((err as PatchbotError).code).toBe('DATABASE');
      expect((err as PatchbotError).userMessage).toMatch(
        /migration 20200102000000_bad failed.*division by zero/,
      );

      const [fn] = await db.prisma.$queryRawUnsafe<{ v: number }[]>('SELECT t_good_fn() AS v');
      expect(fn?.v).toBe(42);
      const partial = await db.prisma.$queryRawUnsafe<{ t: string | null }[]>(
        `SELECT to_regclass('public.t_partial')::text AS t`,
      );
      expect(partial[0]?.t).toBeNull();

      const rows = await migrationRows(db);
      expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
        ['20200101000000_good', true],
        ['20200102000000_bad', false],
      ]);
      expect(rows[1]?.logs).toContain('division by zero');
      expect(rows[1]?.applied_steps_count).toBe(0);
    });

    it('refuses to run while a failed migration is unresolved', async () => {
      await expect(fresh.db.migrate()).rejects.toThrow(/20200102000000_bad failed earlier.*migrate resolve/s);
    });

    it('reports a migration modified after it was applied', async () => {
      const db = fresh.db;
      // resolve the failure the way `prisma migrate resolve --rolled-back` does, and fix the migration
      await db.prisma.$executeRawUnsafe(
        `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '20200102000000_bad'`,
      );
      await writeFile(
        path.join(dir.dir, '20200102000000_bad', 'migration.sql'),
        'CREATE TABLE "t_fixed" ("id" INTEGER);\n',
      );
      const fixed = await db.migrate();
      expect(fixed.applied).toEqual(['20200102000000_bad']);

      await writeFile(path.join(dir.dir, '20200101000000_good', 'migration.sql'), '-- edited\n');
      const result = await db.migrate();
      expect(result.applied).toEqual([]);
      expect(result.modified).toEqual(['20200101000000_good']);
    });
  });
}

describe('embedded database lock', () => {
  it('a second open of the same data directory fails with a clear message, and works after close', async () => {
    const temp = await createTempDir('patchbot-lock');
    const dataDir = path.join(temp.dir, 'db');
    const first = await openDatabase({ dataDir });
    try {
      await expect(openDatabase({ dataDir })).rejects.toThrow(`embedded database at ${dataDir} is in use by`);
    } finally {
      await first.close();
    }
    const again = await openDatabase({ dataDir });
    await again.close();
    // a lock left by a process that no longer exists is taken over
    await writeFile(`${dataDir}.lock`, '2147483646\n');
    const afterCrash = await openDatabase({ dataDir });
    await afterCrash.close();
    await temp.remove();
  });
});

describe('PostgreSQL connection errors', () => {
  it('names the server and database and never prints the password', async () => {
    const err = await openDatabase({
      url: 'postgresql://bob:s3cret@127.0.0.1:1/nowhere',
      dataDir: '/nonexistent',
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PatchbotError);
    expect((err as PatchbotError).userMessage).toBe(
      'cannot connect to PostgreSQL at 127.0.0.1:1 (database nowhere): connection refused',
    );
    expect(JSON.stringify((err as PatchbotError).userMessage)).not.toContain('s3cret');
  });
});
