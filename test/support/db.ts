/**
 * Test databases: a uniquely named PostgreSQL database per test file (see postgres.ts: created through the
 * `postgres` maintenance database, dropped afterwards) and embedded databases in temp dirs.
 *
 * PATCHBOT_TEST_POSTGRES_URL overrides the server (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { openDatabase, type Database, type DatabaseKind } from '../../src/db/client.js';
import { createTempPostgres } from './postgres.js';

export { ADMIN_URL, adminQuery, createTempPostgres, type TempPostgres } from './postgres.js';

export interface TempDir {
  dir: string;
  remove(): Promise<void>;
}

export async function createTempDir(label = 'patchbot'): Promise<TempDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestDatabase {
  db: Database;
  kind: DatabaseKind;
  /** closes the database and removes it (drops the PostgreSQL database / deletes the data dir) */
  dispose(): Promise<void>;
}

/** A fresh, migrated database of the given kind. */
export async function openTestDatabase(kind: DatabaseKind, label = 'db'): Promise<TestDatabase> {
  if (kind === 'postgres') {
    const temp = await createTempPostgres(label);
    const db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
    await db.migrate();
    return {
      db,
      kind,
      dispose: async () => {
        await db.close();
        await temp.drop();
      },
    };
  }
  const temp = await createTempDir(`patchbot-${label}`);
  const db = await openDatabase({ dataDir: path.join(temp.dir, 'db') });
  await db.migrate();
  return {
    db,
    kind,
    dispose: async () => {
      await db.close();
      await temp.remove();
    },
  };
}

export const BACKENDS: readonly DatabaseKind[] = ['postgres', 'embedded'];

/**
 * Runs one `describe` body against every backend: `get()` returns that backend's migrated database
 * (opened once per backend, disposed after its tests).
 */
export function forEachBackend(name: string, body: (get: () => Database, kind: DatabaseKind) => void): void {
  for (const kind of BACKENDS) {
    describe(`${name} [${kind}]`, () => {
      let test: TestDatabase | undefined;
      beforeAll(async () => {
        test = await openTestDatabase(kind, name);
      });
      afterAll(async () => {
        await test?.dispose();
      });
      body(() => {
        if (!test) throw new Error(`the ${kind} test database is not open`);
        return test.db;
      }, kind);
    });
  }
}
