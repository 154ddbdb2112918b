/**
 * The batched reads and writes a fleet re-match uses, on both backends: `syncHosts` stores every
 * field of a match and follows the findings lifecycle (unchanged, updated, resolved, reopened,
 * expired acceptance) for several hosts in one call; `latestForHosts` returns what `latest`
 * returns for each host, with equal packages shared.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type {
  Advisory,
  InstalledPackage,
  InventorySnapshot,
  RiskAssessment,
} from '../../../src/core/model.js';
import { createRepositories } from '../../../src/db/index.js';
import type { FindingWrite, StoredFinding } from '../../../src/db/repositories/finding-repository.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { forEachBackend } from '../../support/db.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));
const basePackages = parseDpkgStatus(
  readFileSync(fixture('inventory/debian12-dpkg-status'), 'utf8'),
).packages;

const t = (iso: string): Date => new Date(iso);

function advisory(id: string): Advisory {
  return {
    id,
    source: 'debian-tracker',
    aliases: [],
    cves: [id.replace('DEBIAN-', '')],
    modified: t('2026-01-01T00:00:00Z'),
    summary: id,
    references: [],
    severity: [],
    affected: [
      {
        ecosystem: 'Debian:12',
        package: 'glibc',
        nameKind: 'source',
        status: 'unfixed',
        ranges: [],
        versions: [],
      },
    ],
  };
}

function risk(score: number, ssvc: RiskAssessment['ssvc'], due: string): RiskAssessment {
  return {
    score,
    severity: score >= 70 ? 'high' : 'medium',
    factors: [
      {
        name: 'cvss',
        label: `CVSS ${score / 10}`,
        value: score / 10,
        contribution: score,
        cve: 'CVE-2026-1',
      },
      { name: 'fix', label: 'fix available', value: true, contribution: 0 },
    ],
    ssvc,
    dueDate: t(due),
    dueReason: `SLA until ${due}`,
  };
}

function write(packageName: string, advisoryId: string, w: Partial<FindingWrite> = {}): FindingWrite {
  return {
    packageName,
    sourcePackage: 'glibc',
    advisoryId,
    ecosystem: 'Debian:12',
    installedVersion: '2.36-9+deb12u1',
    fixedVersion: '2.36-9+deb12u7',
    cves: [advisoryId.replace('DEBIAN-', ''), 'CVE-2026-0002'],
    kev: false,
    epssScore: 0.25,
    risk: risk(55.555, 'Track*', '2026-03-01T00:00:00Z'),
    ...w,
  };
}

/** What a stored finding should say about a write. */
function expectStored(f: StoredFinding | undefined, w: FindingWrite): void {
  expect(f).toBeDefined();
  expect({
    packageName: f!.packageName,
    sourcePackage: f!.sourcePackage,
    advisoryId: f!.advisoryId,
    ecosystem: f!.ecosystem,
    installedVersion: f!.installedVersion,
    fixedVersion: f!.fixedVersion,
    cves: f!.cves,
    kev: f!.kev,
    epssScore: f!.epssScore,
    riskScore: f!.riskScore,
    riskFactors: f!.riskFactors,
    severity: f!.severity,
    ssvc: f!.ssvc,
    slaDueAt: f!.slaDueAt,
    dueReason: f!.dueReason,
  }).toEqual({
    packageName: w.packageName,
    sourcePackage: w.sourcePackage,
    advisoryId: w.advisoryId,
    ecosystem: w.ecosystem,
    installedVersion: w.installedVersion,
    fixedVersion: w.fixedVersion,
    cves: [...w.cves],
    kev: w.kev,
    epssScore: w.epssScore,
    riskScore: Math.round(w.risk.score * 100) / 100,
    riskFactors: w.risk.factors,
    severity: w.risk.severity,
    ssvc: w.risk.ssvc,
    slaDueAt: w.risk.dueDate,
    dueReason: w.risk.dueReason,
  });
}

forEachBackend('batched findings and inventory reads', (getDb) => {
  it('syncHosts stores matches of several hosts and follows the findings lifecycle', async () => {
    const db = getDb();
    const repos = createRepositories(db);
    await repos.advisories.upsertAdvisories(
      ['DEBIAN-CVE-2026-0001', 'DEBIAN-CVE-2026-0003', 'DEBIAN-CVE-2026-0004'].map(advisory),
    );
    const h1 = await repos.hosts.upsert({ name: 'sync-1', address: '10.0.0.1' });
    const h2 = await repos.hosts.upsert({ name: 'sync-2', address: '10.0.0.2' });
    const h3 = await repos.hosts.upsert({ name: 'sync-3', address: '10.0.0.3' });
    const A = 'DEBIAN-CVE-2026-0001';
    const B = 'DEBIAN-CVE-2026-0003';
    const C = 'DEBIAN-CVE-2026-0004';
    const byKey = async (hostId: string) =>
      new Map(
        (await repos.findings.forHosts([hostId], ['open', 'fixed', 'accepted', 'deferred'])).map((f) => [
          `${f.packageName} ${f.advisoryId}`,
          f,
        ]),
      );

    // day 1: everything is new; a host with no matches gets an empty change
    const day1 = t('2026-02-01T10:00:00Z');
    const w1 = [write('libc6', A), write('libc-bin', B, { fixedVersion: null, kev: true, epssScore: null })];
    const w2 = [
      write('libc6', A, {
        installedVersion: '2.36-9+deb12u2',
        risk: risk(80, 'Act', '2026-02-08T00:00:00Z'),
      }),
    ];
    const first = await repos.findings.syncHosts(
      [
        { hostId: h1.id, writes: w1 },
        { hostId: h2.id, writes: w2 },
        { hostId: h3.id, writes: [] },
      ],
      day1,
    );
    expect(first.get(h1.id)!.opened).toHaveLength(2);
    expect(first.get(h2.id)!.opened).toHaveLength(1);
    expect(first.get(h3.id)).toEqual({ opened: [], updated: [], unchanged: 0, resolved: [] });
    const s1 = await byKey(h1.id);
    expectStored(s1.get(`libc6 ${A}`), w1[0]);
    expectStored(s1.get(`libc-bin ${B}`), w1[1]);
    expectStored((await byKey(h2.id)).get(`libc6 ${A}`), w2[0]);
    expect(new Set(first.get(h1.id)!.opened)).toEqual(new Set([...s1.values()].map((f) => f.id)));
    for (const f of s1.values()) {
      expect(f.status).toBe('open');
      expect(f.firstSeenAt).toEqual(day1);
      expect(f.lastSeenAt).toEqual(day1);
    }

    // people act: host 1's A is accepted until later, its B deferred until before day 2
    const aId = s1.get(`libc6 ${A}`)!.id;
    const bId = s1.get(`libc-bin ${B}`)!.id;
    await db.prisma.finding.update({
      where: { id: aId },
      data: { status: 'accepted', statusUntil: t('2026-03-01T00:00:00Z') },
    });
    await db.prisma.finding.update({
      where: { id: bId },
      data: { status: 'deferred', statusUntil: t('2026-02-02T00:00:00Z') },
    });

    // day 2: host 1 unchanged (A stays accepted, B's deferral ran out), host 2's risk changed and C is new
    const day2 = t('2026-02-03T10:00:00Z');
    const w2b = [
      write('libc6', A, {
        installedVersion: '2.36-9+deb12u2',
        kev: true,
        risk: risk(90, 'Act', '2026-02-08T00:00:00Z'),
      }),
      write('libc6', C),
    ];
    const second = await repos.findings.syncHosts(
      [
        { hostId: h1.id, writes: w1 },
        { hostId: h2.id, writes: w2b },
      ],
      day2,
    );
    expect(second.get(h1.id)).toEqual({ opened: [], updated: [bId], unchanged: 1, resolved: [] });
    expect(second.get(h2.id)!.updated).toHaveLength(1);
    expect(second.get(h2.id)!.opened).toHaveLength(1);
    const s2 = await byKey(h1.id);
    expect(s2.get(`libc6 ${A}`)).toMatchObject({ status: 'accepted', firstSeenAt: day1, lastSeenAt: day2 });
    expect(s2.get(`libc-bin ${B}`)).toMatchObject({ status: 'open', firstSeenAt: day1, lastSeenAt: day2 });
    expect((await db.prisma.finding.findUniqueOrThrow({ where: { id: bId } })).statusUntil).toBeNull();
    const h2After = await byKey(h2.id);
    expectStored(h2After.get(`libc6 ${A}`), w2b[0]);
    expect(h2After.get(`libc6 ${A}`)).toMatchObject({ firstSeenAt: day1, lastSeenAt: day2 });
    expectStored(h2After.get(`libc6 ${C}`), w2b[1]);

    // day 3: host 1 is patched: both findings are fixed with the time
    const day3 = t('2026-02-04T10:00:00Z');
    await db.prisma.finding.update({
      where: { id: aId },
      data: { notifiedAt: day2, notifiedScore: 55.56, notifiedKev: false },
    });
    const third = await repos.findings.syncHosts([{ hostId: h1.id, writes: [] }], day3);
    expect(new Set(third.get(h1.id)!.resolved)).toEqual(new Set([aId, bId]));
    for (const f of (await byKey(h1.id)).values()) {
      expect(f).toMatchObject({ status: 'fixed', resolvedAt: day3 });
    }
    // a repeat changes nothing: fixed findings stay fixed
    expect((await repos.findings.syncHosts([{ hostId: h1.id, writes: [] }], day3)).get(h1.id)).toEqual({
      opened: [],
      updated: [],
      unchanged: 0,
      resolved: [],
    });

    // day 4: A comes back (a downgrade): the same finding is open again, seen from now, not yet announced
    const day4 = t('2026-02-05T10:00:00Z');
    const fourth = await repos.findings.syncHost(h1.id, [w1[0]], day4);
    expect(fourth).toEqual({ opened: [aId], updated: [], unchanged: 0, resolved: [] });
    const back = await db.prisma.finding.findUniqueOrThrow({ where: { id: aId } });
    expect(back).toMatchObject({
      status: 'open',
      resolvedAt: null,
      statusUntil: null,
      firstSeenAt: day4,
      lastSeenAt: day4,
      notifiedAt: null,
      notifiedScore: null,
      notifiedKev: null,
    });
    expectStored((await byKey(h1.id)).get(`libc6 ${A}`), w1[0]);

    // first-seen times of what is current, for the SLA clock
    const seen = await repos.findings.firstSeen([h1.id, h2.id]);
    expect(seen.size).toBe(3);
    expect([...seen.values()].map((d) => d.getTime()).sort()).toEqual(
      [day1, day2, day4].map((d) => d.getTime()).sort(),
    );
  });

  it('latestForHosts returns what latest returns, with equal packages shared', async () => {
    const repos = createRepositories(getDb());
    const snapshot = (packages: InstalledPackage[], at: string): InventorySnapshot => ({
      os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' },
      kernel: '6.1.0-18-amd64',
      packageManager: 'dpkg',
      packages,
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: t(at),
    });
    const libc = basePackages.find((p) => p.name === 'libc6')!;
    const multiArch = [...basePackages, { ...libc, arch: 'i386' }];
    // a field holding the separators of the batched read is still read exactly
    const odd = [...basePackages.slice(0, 5), { ...libc, name: 'odd', version: '1.0\u001f2\nx' }];
    const hosts = ['inv-a', 'inv-b', 'inv-c', 'inv-none'];
    for (const name of hosts) await repos.hosts.upsert({ name, address: '10.0.1.1' });
    await repos.inventory.save('inv-a', snapshot(basePackages.slice(0, 50), '2026-01-01T00:00:00Z'));
    await repos.inventory.save('inv-a', snapshot(multiArch, '2026-01-02T00:00:00Z'));
    await repos.inventory.save('inv-b', snapshot(basePackages, '2026-01-02T00:00:00Z'));
    await repos.inventory.save('inv-c', snapshot(odd, '2026-01-03T00:00:00Z'));

    const records = await Promise.all(hosts.map((h) => repos.hosts.require(h)));
    const cache = new Map<string, InstalledPackage>();
    const batch = await repos.inventory.latestForHosts(
      records.map((r) => r.id),
      cache,
    );
    expect(batch.size).toBe(3);
    for (const r of records) {
      expect(batch.get(r.id) ?? null, r.name).toEqual(await repos.inventory.latest(r.name));
    }
    const a = batch.get(records[0].id)!;
    const b = batch.get(records[1].id)!;
    expect(a.packages.filter((p) => p.name === 'libc6').map((p) => p.arch)).toEqual(['amd64', 'i386']);
    // the same package on two hosts, and again in a later call with the same cache, is one object
    const libcOf = (s: { packages: InstalledPackage[] }) =>
      s.packages.find((p) => p.name === 'libc6' && p.arch === 'amd64');
    expect(libcOf(a)).toBe(libcOf(b));
    const again = await repos.inventory.latestForHosts([records[1].id], cache);
    expect(libcOf(again.get(records[1].id)!)).toBe(libcOf(b));
    expect(await repos.inventory.latestForHosts([])).toEqual(new Map());
  });
});
