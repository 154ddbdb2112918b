/**
 * The findings a scan stores, on both backends: opened with a first-seen time and an SLA due date,
 * kept (with their first-seen time) across re-scans, marked fixed with the time when the package
 * reaches the fixed version, reopened when it goes back; KEV and EPSS enrichment raise the risk.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { InstalledPackage, InventorySnapshot } from '../../../src/core/model.js';
import { DEFAULT_RISK_POLICY } from '../../../src/core/risk/policy.js';
import { createRepositories } from '../../../src/db/index.js';
import { syncFeeds } from '../../../src/feeds/sync.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { scanTargets } from '../../../src/usecases/scan.js';
import { forEachBackend } from '../../support/db.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));
const basePackages = parseDpkgStatus(
  readFileSync(fixture('inventory/debian12-dpkg-status'), 'utf8'),
).packages;

function withVersions(versions: Record<string, string>): InstalledPackage[] {
  return basePackages.map((p) =>
    p.sourceName in versions
      ? { ...p, version: versions[p.sourceName], sourceVersion: versions[p.sourceName] }
      : p,
  );
}

function snapshot(packages: InstalledPackage[], at: Date): InventorySnapshot {
  return {
    os: {
      id: 'debian',
      family: 'debian',
      versionId: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    },
    kernel: '6.1.0-18-amd64',
    packageManager: 'dpkg',
    packages,
    rebootRequired: false,
    rebootPackages: [],
    collectedAt: at,
  };
}

forEachBackend('findings lifecycle', (getDb) => {
  it('opens, keeps, fixes and reopens findings', async () => {
    const repos = createRepositories(getDb());
    const summaries = await syncFeeds(
      [fixture('scan/bookworm-dsa-sample.tracker.json'), fixture('feeds/kev')],
      repos.advisories,
      {},
    );
    expect(summaries.every((s) => s.error === undefined)).toBe(true);
    const host = await repos.hosts.upsert({
      name: 'web-1',
      address: '10.0.0.1',
      internetFacing: true,
      criticality: 1,
    });
    const target = (packages: InstalledPackage[], at: Date) => ({
      name: host.name,
      hostId: host.id,
      context: host,
      snapshot: snapshot(packages, at),
    });
    const day1 = new Date('2026-11-02T10:00:00Z');
    const vulnerable = withVersions({ glibc: '2.36-9+deb12u2', openssl: '3.0.11-1~deb12u1' });

    const first = await scanTargets({ repos, riskPolicy: DEFAULT_RISK_POLICY, now: () => day1 }, [
      target(vulnerable, day1),
    ]);
    const glibc = first.fixes.find((f) => f.sourcePackage === 'glibc' && f.package === 'libc6');
    expect(glibc?.fixedVersion).toBe('2.36-9+deb12u7');
    expect(glibc?.cves).toContain('CVE-2023-4911');
    // CVE-2023-4911 is in CISA KEV: the finding says so; CISA's date (2023-12-12) had passed before
    // it was first seen, so it is due KEV SLA days (7) after first seen
    expect(glibc?.kev).toBe(true);
    expect(glibc?.dueDate.toISOString().slice(0, 10)).toBe('2026-11-09');
    expect(glibc?.dueReason).toContain(
      'KEV due 2023-12-12 (CVE-2023-4911) passed before first seen 2026-11-02',
    );
    const openssl = first.fixes.find((f) => f.package === 'libssl3');
    expect(openssl?.kev).toBe(false);
    expect(glibc!.risk.score).toBeGreaterThan(openssl!.risk.score);
    expect(first.changes['web-1']?.opened.length).toBeGreaterThan(0);
    const opened = await repos.findings.forHosts([host.id]);
    expect(opened.every((f) => f.firstSeenAt.getTime() === day1.getTime())).toBe(true);

    // same inventory a day later: nothing new, first-seen kept
    const day2 = new Date('2026-11-03T10:00:00Z');
    const second = await scanTargets({ repos, riskPolicy: DEFAULT_RISK_POLICY, now: () => day2 }, [
      target(vulnerable, day2),
    ]);
    expect(second.changes['web-1']).toMatchObject({ opened: [], resolved: [] });
    const kept = await repos.findings.forHosts([host.id]);
    expect(kept).toHaveLength(opened.length);
    expect(
      kept.every(
        (f) => f.firstSeenAt.getTime() === day1.getTime() && f.lastSeenAt.getTime() === day2.getTime(),
      ),
    ).toBe(true);

    // openssl reaches its fix: its findings are fixed with the time, glibc's stay open
    const day3 = new Date('2026-11-04T10:00:00Z');
    const patched = withVersions({ glibc: '2.36-9+deb12u2', openssl: '3.0.11-1~deb12u2' });
    const third = await scanTargets({ repos, riskPolicy: DEFAULT_RISK_POLICY, now: () => day3 }, [
      target(patched, day3),
    ]);
    const fixed = await repos.findings.byIds(third.changes['web-1'].resolved);
    expect(fixed.length).toBeGreaterThan(0);
    expect(fixed.every((f) => f.sourcePackage === 'openssl' && f.status === 'fixed')).toBe(true);
    expect(fixed.every((f) => f.resolvedAt?.getTime() === day3.getTime())).toBe(true);
    expect((await repos.findings.forHosts([host.id])).every((f) => f.sourcePackage === 'glibc')).toBe(true);

    // a downgrade brings the openssl finding back
    const day4 = new Date('2026-11-05T10:00:00Z');
    const fourth = await scanTargets({ repos, riskPolicy: DEFAULT_RISK_POLICY, now: () => day4 }, [
      target(vulnerable, day4),
    ]);
    expect(fourth.changes['web-1'].opened.sort()).toEqual(third.changes['web-1'].resolved.sort());
    const reopened = await repos.findings.byIds(fourth.changes['web-1'].opened);
    expect(reopened.every((f) => f.status === 'open' && f.resolvedAt === null)).toBe(true);
  });
});
