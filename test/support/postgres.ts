/**
 * Temporary PostgreSQL databases, without vitest: a uniquely named database created through the
 * `postgres` maintenance database and dropped afterwards (tests through test/support/db.ts, and
 * benchmarks).
 *
 * PATCHBOT_TEST_POSTGRES_URL overrides the server (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL =
  process.env.PATCHBOT_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TempPostgres {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params: unknown[] = [],
  url = ADMIN_URL,
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Creates an empty database `pbtest_<label>_<random>` and returns its URL. */
export async function createTempPostgres(label = 'db'): Promise<TempPostgres> {
  const name = `pbtest_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
