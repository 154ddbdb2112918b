/**
 * Opens patchbot's database: PostgreSQL when a URL is given (`DATABASE_URL`), otherwise an
 * embedded PostgreSQL (PGlite) stored under a data directory. Both run the same schema, the same
 * migrations and the same generated Prisma client.
 *
 * The embedded database is one in-process connection: only one patchbot process may open a data
 * directory at a time. A lock file beside it (`<dataDir>.lock`, holding the owner's pid) makes a
 * second process fail with a clear message instead of corrupting the data.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { PrismaPGlite as PrismaPGliteAdapter } from 'pglite-prisma-adapter';
import { PatchbotError } from '../core/errors.js';
import { PrismaClient } from './generated/client.js';
import { pgliteSql, poolSql, type SqlRunner } from './sql.js';
import {
  applyMigrations,
  type MigrateLogger,
  type MigrateResult,
  type MigrationConnection,
} from './migrate.js';

export type DbClient = PrismaClient;
/** The client inside an interactive transaction. */
export type TxClient = Omit<DbClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;
export type DatabaseKind = 'postgres' | 'embedded';

export interface DbLogger extends MigrateLogger {
  debug?(obj: object, msg: string): void;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection URL; unset = embedded database under `dataDir`. */
  url?: string;
  /** Directory of the embedded database (created if missing), e.g. `./.patchbot/db`. */
  dataDir: string;
  logger?: DbLogger;
  /** Defaults to prisma/migrations of this package. */
  migrationsDir?: string;
  /**
   * How the embedded database's code (PostgreSQL compiled to WebAssembly) is compiled:
   * `optimized` (default) compiles it a second time in the background with the optimizing
   * compiler, which long-running processes (serve, worker) and big imports gain from; `baseline`
   * keeps the first, quick compilation only, so a short command starts and exits in a fraction of
   * the time (the optimizing compilation would take more CPU than the command). Process-wide: it
   * applies to every WebAssembly module compiled after it is set.
   */
  embeddedCode?: 'baseline' | 'optimized';
}

export interface Database {
  prisma: DbClient;
  /** Plain SQL on the same database and pool, for hot paths (see sql.ts). */
  sql: SqlRunner;
  kind: DatabaseKind;
  /** Where the database is, safe to print (no password): "PostgreSQL at host:5432 (database x)". */
  description: string;
  /** Applies pending migrations (serialised across processes); see migrate.ts. */
  migrate(): Promise<MigrateResult>;
  close(): Promise<void>;
}

/** The URL with any password replaced by `***` (for logs and messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** "PostgreSQL at 127.0.0.1:5432 (database test)" for a connection URL; never includes a password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || u.username || 'postgres';
    return `PostgreSQL at ${host}:${u.port || '5432'} (database ${database})`;
  } catch {
    return `PostgreSQL at ${redactUrl(url)}`;
  }
}

/** Why a PostgreSQL operation failed, in a few words. */
export function pgFailureReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    case '3D000':
      return 'database does not exist';
    case '28P01':
    case '28000':
      return 'authentication failed';
    case '53300':
      return 'too many connections';
    case '57P03':
      return 'the server is starting up or shutting down';
    default:
      return e.message ?? String(err);
  }
}

function databaseError(what: string, err: unknown, url?: string): PatchbotError {
  let reason = pgFailureReason(err);
  if (url) reason = reason.split(url).join(redactUrl(url));
  return new PatchbotError('DATABASE', `${what}: ${reason}`, { cause: err });
}

/** How long the pool waits for a new connection before failing (docs/database.md). */
export const POOL_CONNECT_TIMEOUT_MS = 10_000;
/** The server cancels a statement that runs longer than this. */
export const POOL_STATEMENT_TIMEOUT_MS = 120_000;
/** The server ends a session that sits idle inside a transaction this long. */
export const POOL_IDLE_IN_TRANSACTION_MS = 60_000;

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url, options) : openEmbedded(options);
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL
// ------------------------------------------------------------------------------------------------

async function withPgClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const description = describePostgresUrl(url);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw databaseError(`cannot connect to ${description}`, err, url);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function pgMigrationConnection(client: pg.Client): MigrationConnection {
  return {
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await client.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      // no parameters: the simple query protocol, several statements in one query
      await client.query(sql);
    },
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const description = describePostgresUrl(url);
  // fail early, with a clear message, when the server cannot be reached
  await withPgClient(url, (c) => c.query('SELECT 1'));
  const [{ default: pg }, { PrismaPg }] = await Promise.all([import('pg'), import('@prisma/adapter-pg')]);
  // One pool for the Prisma client and the plain SQL of hot paths; closing the client ends it.
  // Nothing waits for ever: a connection that cannot be made, a statement that runs away and a
  // transaction left open all end with an error (transient ones are retried by the callers).
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
    statement_timeout: POOL_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: POOL_IDLE_IN_TRANSACTION_MS,
    keepAlive: true,
  });
  pool.on('error', () => undefined); // an idle connection dropped by the server: the pool replaces it
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  options.logger?.debug?.({ database: redactUrl(url) }, 'database opened');
  return {
    prisma,
    sql: poolSql(pool),
    kind: 'postgres',
    description,
    migrate: () =>
      withPgClient(url, async (c) => {
        try {
          return await applyMigrations(pgMigrationConnection(c), {
            migrationsDir: options.migrationsDir,
            logger: options.logger,
          });
        } catch (err) {
          if (err instanceof PatchbotError) throw err;
          throw databaseError(`cannot migrate ${description}`, err, url);
        }
      }),
    close: async () => {
      await prisma.$disconnect();
      // a client that never ran a query did not take the pool over
      if (!pool.ended) await pool.end().catch(() => undefined);
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Embedded (PGlite)
// ------------------------------------------------------------------------------------------------

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dataDir>.lock` for this process; fails when a live process holds it. Returns the release function. */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockPath = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        await unlink(lockPath).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PatchbotError(
          'DATABASE',
          `cannot create the lock file ${lockPath}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    const owner = Number.parseInt((await readFile(lockPath, 'utf8').catch(() => '')).trim(), 10);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      const who = owner === process.pid ? 'this process' : `another patchbot process (pid ${owner})`;
      throw new PatchbotError('DATABASE', `embedded database at ${dataDir} is in use by ${who}`, {
        details: { dataDir, pid: owner },
      });
    }
    // stale lock of a process that is gone (killed): take it over
    await unlink(lockPath).catch(() => undefined);
  }
  throw new PatchbotError(
    'DATABASE',
    `embedded database at ${dataDir} is in use by another patchbot process`,
  );
}

function pgliteMigrationConnection(db: PGlite): MigrationConnection {
  return {
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await db.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
  };
}

async function openEmbedded(options: OpenDatabaseOptions): Promise<Database> {
  const dataDir = path.resolve(options.dataDir);
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err) {
    throw new PatchbotError(
      'DATABASE',
      `cannot create the embedded database directory ${dataDir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const release = await lockDataDir(dataDir);
  let db: PGlite;
  let PrismaPGlite: typeof PrismaPGliteAdapter;
  const started = Date.now();
  try {
    if (options.embeddedCode === 'baseline') v8.setFlagsFromString('--liftoff-only');
    const [pglite, adapter] = await Promise.all([
      import('@electric-sql/pglite'),
      import('pglite-prisma-adapter'),
    ]);
    PrismaPGlite = adapter.PrismaPGlite;
    db = await pglite.PGlite.create(dataDir);
  } catch (err) {
    await release();
    throw new PatchbotError(
      'DATABASE',
      `cannot open the embedded database at ${dataDir}: ${(err as Error).message ?? String(err)}`,
      { cause: err },
    );
  }
  options.logger?.debug?.({ dataDir, ms: Date.now() - started }, 'embedded database opened');
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  let closed = false;
  return {
    prisma,
    sql: pgliteSql(db),
    kind: 'embedded',
    description: `embedded database at ${dataDir}`,
    migrate: async () => {
      try {
        return await applyMigrations(pgliteMigrationConnection(db), {
          migrationsDir: options.migrationsDir,
          logger: options.logger,
        });
      } catch (err) {
        if (err instanceof PatchbotError) throw err;
        throw new PatchbotError(
          'DATABASE',
          `cannot migrate the embedded database at ${dataDir}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await prisma.$disconnect();
        await db.close();
      } finally {
        await release();
      }
    },
  };
}
