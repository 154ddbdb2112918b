/**
 * Plain parameterised SQL for the few statements on a hot path (a rollout's host claims, step
 * writes and heartbeats run hundreds of times a second): sent straight to the driver, past the
 * Prisma client's query pipeline, which costs several times the statement itself in CPU. Same
 * database and connection pool as the Prisma client; each call is one statement (autocommit).
 *
 * Values only ever travel as parameters ($1, $2...); the statement texts are constants of the
 * repositories that use them.
 */
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

export interface SqlRunner {
  /**
   * Runs one statement; rows come back with timestamps as Date and JSON parsed. A `name` makes it
   * a prepared statement each connection plans once (one name, one text).
   */
  query<T>(text: string, params?: readonly unknown[], options?: { name?: string }): Promise<T[]>;
}

/** Over a node-postgres pool (the one the Prisma client's adapter uses). */
export function poolSql(pool: pg.Pool): SqlRunner {
  return {
    async query<T>(
      text: string,
      params: readonly unknown[] = [],
      options: { name?: string } = {},
    ): Promise<T[]> {
      const r = await pool.query({
        text,
        values: [...params],
        ...(options.name ? { name: options.name } : {}),
      });
      return r.rows as T[];
    },
  };
}

/** Over the embedded database (PGlite serialises its callers itself). */
export function pgliteSql(db: PGlite): SqlRunner {
  return {
    async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      const r = await db.query<T>(text, [...params]);
      return r.rows;
    },
  };
}
