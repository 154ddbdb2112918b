/**
 * Applies the committed migrations (prisma/migrations/<name>/migration.sql) in-process, on
 * PostgreSQL or on the embedded database, with the same bookkeeping as `prisma migrate deploy`:
 * table `_prisma_migrations`, checksum = sha256 hex of migration.sql, the same advisory lock, so
 * the Prisma CLI (online) and this runner agree about what is applied.
 *
 * - Concurrent runs are serialised by `pg_advisory_lock(72707369)` (the CLI's lock id): each
 *   migration is applied exactly once.
 * - Each migration is atomic: its script is sent as one query inside one transaction, together
 *   with the row that marks it finished. A failure rolls it back and records the error in `logs`.
 * - A migration that failed before blocks further runs (as `migrate deploy` does) until it is
 *   resolved; a migration edited after it was applied is reported, not re-applied.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatchbotError, truncate } from '../core/errors.js';

/** The advisory lock id Prisma Migrate uses for PostgreSQL. */
export const MIGRATION_LOCK_ID = 72707369;

/** The committed migrations, relative to this file in src/db/ and in dist/db/ alike. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** One database session (advisory locks are per session). */
export interface MigrationConnection {
  /** One statement with `$1...` parameters; returns the rows as objects. */
  query<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A script of several statements, sent as one query (simple query protocol). */
  exec(sql: string): Promise<void>;
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  /** Migrations applied by this run, in order. */
  applied: string[];
  /** Migrations that were already applied before this run. */
  alreadyApplied: string[];
  /** Applied migrations whose migration.sql changed since (checksum differs). */
  modified: string[];
  /** Migrations recorded in the database that are not in the migrations directory. */
  unknown: string[];
}

export interface MigrateLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface MigrationRow extends Record<string, unknown> {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | string | null;
  rolled_back_at: Date | string | null;
  logs: string | null;
}

/** The CLI's own definition of the bookkeeping table. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** Reads `<dir>/<name>/migration.sql` for every sub-directory, ordered as the Prisma CLI orders them. */
export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new PatchbotError(
      'DATABASE',
      `cannot read the migrations directory ${dir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b));
  const files: MigrationFile[] = [];
  for (const name of names) {
    const file = path.join(dir, name, 'migration.sql');
    let sql: string;
    try {
      sql = await readFile(file, 'utf8');
    } catch (err) {
      throw new PatchbotError('DATABASE', `cannot read migration ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    files.push({ name, sql, checksum: checksumOf(sql) });
  }
  return files;
}

/**
 * Applies the pending migrations of `migrationsDir` through one session. Safe to run from several
 * processes at once.
 */
export async function applyMigrations(
  conn: MigrationConnection,
  options: { migrationsDir?: string; logger?: MigrateLogger } = {},
): Promise<MigrateResult> {
  const migrations = await readMigrations(options.migrationsDir);
  const logger = options.logger;
  await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
  try {
    await conn.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await conn.query<MigrationRow>(
      'SELECT id, checksum, migration_name, finished_at, rolled_back_at, logs FROM "_prisma_migrations" ORDER BY started_at',
    );
    const live = rows.filter((r) => r.rolled_back_at === null);
    const failed = live.filter((r) => r.finished_at === null);
    if (failed.length > 0) {
      const f = failed[0];
      throw new PatchbotError(
        'DATABASE',
        `migration ${f.migration_name} failed earlier and blocks new migrations` +
          (f.logs ? `: ${truncate(f.logs.trim(), 500)}` : '') +
          `. Fix the database, then mark it with \`npx prisma migrate resolve --rolled-back ${f.migration_name}\` (or --applied)`,
        { details: { migration: f.migration_name } },
      );
    }
    const appliedByName = new Map(live.map((r) => [r.migration_name, r]));
    const onDisk = new Set(migrations.map((m) => m.name));
    const result: MigrateResult = {
      applied: [],
      alreadyApplied: [],
      modified: [],
      unknown: live.map((r) => r.migration_name).filter((n) => !onDisk.has(n)),
    };
    if (result.unknown.length > 0) {
      logger?.warn(
        { migrations: result.unknown },
        'database has migrations that are not in the migrations directory',
      );
    }
    for (const m of migrations) {
      const row = appliedByName.get(m.name);
      if (row) {
        result.alreadyApplied.push(m.name);
        if (row.checksum !== m.checksum) {
          result.modified.push(m.name);
          logger?.warn({ migration: m.name }, 'migration was modified after it was applied');
        }
        continue;
      }
      await applyOne(conn, m);
      result.applied.push(m.name);
      logger?.info({ migration: m.name }, 'migration applied');
    }
    return result;
  } finally {
    await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
  }
}

async function applyOne(conn: MigrationConnection, m: MigrationFile): Promise<void> {
  const id = randomUUID();
  await conn.query(
    'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
    [id, m.checksum, m.name],
  );
  try {
    await conn.exec('BEGIN');
    await conn.exec(m.sql);
    await conn.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
    await conn.exec('COMMIT');
  } catch (err) {
    await conn.exec('ROLLBACK').catch(() => undefined);
    const message = (err as Error).message ?? String(err);
    const logs = `A migration failed to apply. New migrations cannot be applied before the error is recovered from.\n\nMigration name: ${m.name}\n\nDatabase error:\n${message}\n`;
    await conn
      .query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, logs])
      .catch(() => undefined);
    throw new PatchbotError(
      'DATABASE',
      `migration ${m.name} failed and was rolled back: ${truncate(message, 500)}`,
      {
        cause: err,
        details: { migration: m.name },
      },
    );
  }
}
