/**
 * The feed_freshness migration on a database that already holds advisories and enrichment: the
 * feeds get an estimated date from what is stored (never newer than the data), marked as such,
 * with the ecosystems their advisories cover; a database without data gets no rows.
 */
import { cp, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { DEFAULT_MIGRATIONS_DIR } from '../../../src/db/migrate.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

const MIGRATION = '20261207120000_feed_freshness';

describe(`migration ${MIGRATION} on existing data`, () => {
  let pg: TempPostgres;
  let dir: TempDir;
  let db: Database;

  beforeAll(async () => {
    pg = await createTempPostgres('freshness_migration');
    dir = await createTempDir('patchbot-migrations');
    const names = (await readdir(DEFAULT_MIGRATIONS_DIR, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && e.name < MIGRATION)
      .map((e) => e.name);
    for (const n of names)
      await cp(path.join(DEFAULT_MIGRATIONS_DIR, n), path.join(dir.dir, n), { recursive: true });
    db = await openDatabase({ url: pg.url, dataDir: '/nonexistent', migrationsDir: dir.dir });
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await pg?.drop();
    await dir?.remove();
  });

  it('estimates each feed from the stored data', async () => {
    const p = db.prisma;
    const written = new Date('2026-11-30T08:00:00Z');
    await p.$executeRaw`INSERT INTO "Advisory" (id, source, modified, "contentHash", "updatedAt")
      VALUES ('DEBIAN-CVE-2023-4911', 'debian-tracker', now(), 'h1', ${written}),
             ('USN-6859-1', 'osv', now(), 'h2', ${new Date('2026-11-20T00:00:00Z')})`;
    await p.$executeRaw`INSERT INTO "AffectedPackage" ("advisoryId", ecosystem, package, "nameKind", status)
      VALUES ('DEBIAN-CVE-2023-4911', 'Debian:12', 'glibc', 'source', 'affected'),
             ('DEBIAN-CVE-2023-4911', 'Debian:11', 'glibc', 'source', 'affected'),
             ('USN-6859-1', 'Ubuntu:22.04:LTS', 'openssh', 'source', 'affected')`;
    await p.$executeRaw`INSERT INTO "CveEnrichment" (cve, "epssScore", "epssPercentile", "epssDate", "kevDateAdded", "updatedAt")
      VALUES ('CVE-2023-4911', 0.8, 0.99, '2026-12-01', '2023-11-21', now()),
             ('CVE-2024-6387', 0.6, 0.98, '2026-12-02', NULL, now())`;

    await cp(path.join(DEFAULT_MIGRATIONS_DIR, MIGRATION), path.join(dir.dir, MIGRATION), {
      recursive: true,
    });
    await db.migrate();

    const rows = new Map((await p.feedFreshness.findMany()).map((r) => [r.feed, r]));
    expect([...rows.keys()].sort()).toEqual(['debian-tracker', 'epss', 'kev', 'osv:Ubuntu']);
    for (const r of rows.values())
      expect(r).toMatchObject({ basis: 'estimated', bundled: false, checkedAt: null });
    expect(rows.get('debian-tracker')?.asOf).toEqual(written);
    expect(rows.get('debian-tracker')?.ecosystems).toEqual(['Debian:11', 'Debian:12']);
    expect(rows.get('osv:Ubuntu')?.ecosystems).toEqual(['Ubuntu:22.04:LTS']);
    expect(rows.get('epss')?.asOf.toISOString()).toBe('2026-12-02T00:00:00.000Z');
    expect(rows.get('kev')?.asOf.toISOString()).toBe('2023-11-21T00:00:00.000Z');
  });
});
