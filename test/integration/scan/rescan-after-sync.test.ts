/**
 * Incremental re-matching: `feeds sync` re-matches exactly the stored hosts the sync touched, and
 * new enrichment (KEV) re-scores existing findings; a sync that changes nothing re-matches nothing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, createRepositories, type Database } from '../../../src/db/index.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import type { InstalledPackage } from '../../../src/core/model.js';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));
const packages = parseDpkgStatus(readFileSync(fixture('inventory/debian12-dpkg-status'), 'utf8')).packages;

function withGlibc(version: string): InstalledPackage[] {
  return packages.map((p) => (p.sourceName === 'glibc' ? { ...p, version, sourceVersion: version } : p));
}

describe('feeds sync re-matches the hosts it touched', () => {
  let pgdb: TempPostgres;
  let tmp: TempDir;
  let db: Database;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    pgdb = await createTempPostgres('rescan');
    tmp = await createTempDir('rescan');
    env = { DATABASE_URL: pgdb.url };
    db = await openDatabase({ url: pgdb.url, dataDir: tmp.dir });
    await db.migrate();
    const repos = createRepositories(db);
    const os = { id: 'debian', family: 'debian' as const, versionId: '12' };
    const snapshot = (pk: InstalledPackage[]) => ({
      os,
      kernel: '6.1.0',
      packageManager: 'dpkg' as const,
      packages: pk,
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    });
    await repos.hosts.upsert({ name: 'old-glibc', address: '10.0.0.1' });
    await repos.inventory.save('old-glibc', snapshot(withGlibc('2.36-9+deb12u2')));
    await repos.hosts.upsert({ name: 'patched', address: '10.0.0.2' });
    await repos.inventory.save('patched', snapshot(withGlibc('2.36-9+deb12u14')));
    await repos.hosts.upsert({ name: 'alpine', address: '10.0.0.3' });
    await repos.inventory.save('alpine', {
      ...snapshot([]),
      os: { id: 'alpine', family: 'alpine', versionId: '3.19.1' },
      packageManager: 'apk',
    });
  });

  afterAll(async () => {
    await db?.close();
    await pgdb?.drop();
    await tmp?.remove();
  });

  it('opens findings on the affected host only', async () => {
    const run = await runCli(
      ['feeds', 'sync', '--from', fixture('scan/bookworm-dsa-sample.tracker.json'), '--format', 'json'],
      env,
      tmp.dir,
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { rescan: { hosts: number; opened: number } };
    // both Debian hosts carry glibc/openssl/openssh packages the advisories name; the Alpine host none
    expect(out.rescan.hosts).toBe(2);
    expect(out.rescan.opened).toBeGreaterThan(0);
    const findings = await db.prisma.finding.findMany({ include: { host: true } });
    expect(new Set(findings.map((f) => f.host.name))).toEqual(new Set(['old-glibc']));
  });

  it('re-scores existing findings when KEV arrives, and a repeat sync re-matches nothing', async () => {
    const before = await db.prisma.finding.findFirstOrThrow({
      where: { cves: { has: 'CVE-2023-4911' }, packageName: 'libc6' },
    });
    expect(before.kev).toBe(false);
    const run = await runCli(
      ['feeds', 'sync', '--from', fixture('feeds/kev'), '--format', 'json'],
      env,
      tmp.dir,
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { rescan: { hosts: number; updated: number } };
    expect(out.rescan.hosts).toBe(1);
    expect(out.rescan.updated).toBeGreaterThan(0);
    const after = await db.prisma.finding.findUniqueOrThrow({ where: { id: before.id } });
    expect(after.kev).toBe(true);
    expect(after.riskScore).toBeGreaterThan(before.riskScore);

    const again = await runCli(
      ['feeds', 'sync', '--from', fixture('feeds/kev'), '--format', 'json'],
      env,
      tmp.dir,
    );
    expect((JSON.parse(again.stdout) as { rescan: unknown }).rescan).toBeNull();
  });
});
