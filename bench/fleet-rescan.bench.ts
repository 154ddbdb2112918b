/**
 * Full fleet re-scan with findings written to PostgreSQL: 10,000 Debian 12 hosts x the ~730
 * packages of a real status file (realistic spread of versions, see support/fleet.ts) against
 * 50,000 Debian tracker advisories, most of them fixed long before any host's version, with EPSS
 * scores, NVD CVSS for part of the CVEs and a few KEV entries.
 *
 * Setup (printed, not the target): a temporary database, migrations, advisories and enrichment
 * through the repository the feed sync uses, hosts and snapshots with bulk SQL.
 * Timed: (a) `rescanHosts` over every host (all findings new); (b) a feed sync that changes 1% of
 * the advisories and adds KEV entries, then `rescanAfterSync` (the incremental re-match).
 *
 * Peak RSS is sampled during each timed phase: most of it is garbage V8 has not collected yet under
 * its default heap limit (the same pipeline under --max-old-space-size=512 ran about as fast at
 * ~580 MiB).
 *
 * BENCH_HOSTS=N scales the fleet down for a quick run.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Advisory, CvssScore } from '../src/core/model.js';
import { DEFAULT_RISK_POLICY } from '../src/core/risk/policy.js';
import { createRepositories, openDatabase, type Repositories } from '../src/db/index.js';
import { rescanAfterSync, rescanHosts, type RescanSummary } from '../src/usecases/rescan.js';
import { createTempPostgres } from '../test/support/postgres.js';
import { buildDebianAdvisories, buildFleet, prng, type Fleet } from './support/fleet.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 10_000);
if (!Number.isInteger(HOSTS) || HOSTS < 1) {
  throw new Error(`BENCH_HOSTS: expected a whole number of hosts, got ${process.env.BENCH_HOSTS}`);
}
const ADVISORIES = 50_000;
const TARGET_SECONDS = 60;
const SYNC_CHANGED = 0.01;
const OS_PRETTY = 'Debian GNU/Linux 12 (bookworm)';

const fmt = new Intl.NumberFormat('en-US');
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Samples the resident set size while `fn` runs; returns its result and the peak seen. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number; seconds: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 25);
  const start = process.hrtime.bigint();
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, peak, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  } finally {
    clearInterval(timer);
  }
}

const CVSS_VECTORS: CvssScore[] = [
  {
    version: '3.1',
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    baseScore: 9.8,
    severity: 'CRITICAL',
    source: 'nvd@nist.gov',
    primary: true,
  },
  {
    version: '3.1',
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    baseScore: 7.5,
    severity: 'HIGH',
    source: 'nvd@nist.gov',
    primary: true,
  },
  {
    version: '3.1',
    vector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
    baseScore: 7.8,
    severity: 'HIGH',
    source: 'nvd@nist.gov',
    primary: true,
  },
  {
    version: '3.1',
    vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N',
    baseScore: 4.2,
    severity: 'MEDIUM',
    source: 'nvd@nist.gov',
    primary: true,
  },
  {
    version: '3.1',
    vector: 'CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N',
    baseScore: 2.5,
    severity: 'LOW',
    source: 'nvd@nist.gov',
    primary: true,
  },
];

const kevEntry = (cve: string, day: number) => ({
  cve,
  kev: {
    dateAdded: `2024-0${1 + (day % 9)}-1${day % 10}`,
    dueDate: `2024-1${day % 3}-0${1 + (day % 9)}`,
    knownRansomware: day % 4 === 0,
    vendor: 'Debian',
    product: cve,
    name: `${cve} vulnerability`,
    requiredAction: 'Apply updates per vendor instructions.',
  },
});

export async function importAdvisories(repos: Repositories, advisories: Advisory[]): Promise<void> {
  for (let i = 0; i < advisories.length; i += 1_000) {
    await repos.advisories.upsertAdvisories(advisories.slice(i, i + 1_000));
  }
}

async function importEnrichment(repos: Repositories, advisories: Advisory[], rand: () => number) {
  const cves = advisories.map((a) => a.cves[0]);
  const epss = cves.map((cve) => {
    const score = rand() ** 4;
    return { cve, epss: { score, percentile: Math.min(1, score * 1.3), date: '2024-07-01' } };
  });
  const nvd = cves
    .filter((_, i) => i % 2 === 0)
    .map((cve, i) => ({ cve, cvss: [CVSS_VECTORS[i % CVSS_VECTORS.length]], rejected: false }));
  const kev = cves.filter((_, i) => i % 400 === 7).map((cve, i) => kevEntry(cve, i));
  for (let i = 0; i < epss.length; i += 5_000)
    await repos.advisories.upsertEnrichment('epss', epss.slice(i, i + 5_000));
  for (let i = 0; i < nvd.length; i += 5_000)
    await repos.advisories.upsertEnrichment('nvd', nvd.slice(i, i + 5_000));
  await repos.advisories.upsertEnrichment('kev', kev);
  return { epss: epss.length, nvd: nvd.length, kev: kev.length };
}

/** Hosts, one snapshot each and their packages, with multi-row INSERTs over unnest(). */
export async function storeFleet(url: string, fleet: Fleet): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let rows = 0;
  try {
    const collectedAt = new Date('2024-07-01T06:00:00Z');
    const HOST_CHUNK = 50;
    for (let h0 = 0; h0 < fleet.hosts.length; h0 += HOST_CHUNK) {
      const idx = Array.from({ length: Math.min(HOST_CHUNK, fleet.hosts.length - h0) }, (_, k) => h0 + k);
      const hostIds = idx.map(() => randomUUID());
      const snapshotIds = idx.map(() => randomUUID());
      await client.query(
        `INSERT INTO "Host" (id, name, address, criticality, "internetFacing", environment, "osFamily",
           "osRelease", kernel, "lastInventoryAt", "updatedAt")
         SELECT id, name, address, crit, exposed, env, 'debian', '12', '6.1.0-21-amd64', $6, now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::bool[], $7::text[])
           AS t(id, name, address, crit, exposed, env)`,
        [
          hostIds,
          idx.map((h) => `host-${String(h).padStart(5, '0')}`),
          idx.map((h) => `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`),
          idx.map((h) => 1 + (h % 4)),
          idx.map((h) => h % 10 === 0),
          collectedAt,
          idx.map((h) => (h % 5 === 0 ? 'staging' : 'production')),
        ],
      );
      await client.query(
        `INSERT INTO "InventorySnapshot" (id, "hostId", "collectedAt", "osId", "osFamily", "osVersionId",
           "osCodename", "osPrettyName", kernel, "packageManager", "packageCount")
         SELECT id, host, $3, 'debian', 'debian', '12', 'bookworm', $4, '6.1.0-21-amd64', 'dpkg', n
         FROM unnest($1::uuid[], $2::uuid[], $5::int[]) AS t(id, host, n)`,
        [snapshotIds, hostIds, collectedAt, OS_PRETTY, idx.map((h) => fleet.hosts[h].length)],
      );
      const snap: string[] = [];
      const name: string[] = [];
      const source: string[] = [];
      const version: string[] = [];
      const sourceVersion: string[] = [];
      const arch: string[] = [];
      idx.forEach((h, k) => {
        for (const p of fleet.hosts[h]) {
          snap.push(snapshotIds[k]);
          name.push(p.name);
          source.push(p.sourceName);
          version.push(p.version);
          sourceVersion.push(p.sourceVersion);
          arch.push(p.arch);
        }
      });
      await client.query(
        `INSERT INTO "InstalledPackage" ("snapshotId", name, "sourceName", version, "sourceVersion", arch)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        [snap, name, source, version, sourceVersion, arch],
      );
      rows += snap.length;
    }
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
  return rows;
}

/** A feed sync's worth of changes: 1% of the advisories, spread over the open, recent and old ones. */
function changedAdvisories(advisories: Advisory[], fleet: Fleet): Advisory[] {
  const chains = new Map(fleet.sources.map((s) => [s.name, s]));
  const out: Advisory[] = [];
  const step = Math.round(1 / SYNC_CHANGED);
  const modified = new Date('2024-07-08T00:00:00Z');
  for (let i = 3; i < advisories.length; i += step) {
    const a = advisories[i];
    const entry = a.affected[0];
    const chain = chains.get(entry.package)!;
    if (entry.status === 'unfixed' || entry.status === 'no-dsa' || entry.status === 'postponed') {
      // the open issue gets its fix in the current stable update
      out.push({
        ...a,
        modified,
        affected: [
          {
            ...entry,
            status: 'affected',
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: chain.versions[0] }] }],
          },
        ],
      });
    } else {
      // the tracker text or urgency changed; what matches stays the same
      out.push({ ...a, modified, summary: `${a.summary} (updated)` });
    }
  }
  // and whatever is open sees a few more changes: some open issues get fixed
  for (let i = 0, n = 0; i < advisories.length && n < 2; i++) {
    const entry = advisories[i].affected[0];
    if (i % step !== 3 && entry.status === 'unfixed') {
      const chain = chains.get(entry.package)!;
      out.push({
        ...advisories[i],
        modified,
        affected: [
          {
            ...entry,
            status: 'affected',
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: chain.versions[1] }] }],
          },
        ],
      });
      n++;
    }
  }
  return out;
}

/** Whether the advisory is open, or fixed at a version inside the fleet's spread. */
function matchesSomeHost(a: Advisory, fleet: Fleet): boolean {
  const entry = a.affected[0];
  if (entry.status !== 'affected') return entry.status !== 'not-affected';
  const chain = fleet.sources.find((s) => s.name === entry.package);
  const fixed = entry.ranges[0]?.events.find((e) => 'fixed' in e);
  return (
    chain !== undefined && fixed !== undefined && 'fixed' in fixed && chain.versions.includes(fixed.fixed)
  );
}

function summaryLine(label: string, hosts: number, r: RescanSummary, seconds: number, peak: number): string {
  return (
    `${label}: ${fmt.format(r.hosts)} hosts re-matched of ${fmt.format(hosts)} in ${seconds.toFixed(1)} s ` +
    `(${fmt.format(Math.round(r.hosts / seconds))} hosts/s): ${fmt.format(r.opened)} findings opened, ` +
    `${fmt.format(r.updated)} updated, ${fmt.format(r.resolved)} resolved; peak RSS ${mib(peak)}`
  );
}

/** The fleet and the advisories of the benchmark (deterministic). */
function benchData(hosts: number) {
  const rand = prng(4711);
  const fleet = buildFleet(rand, hosts);
  // realistic tracker data: almost every issue was fixed long before the versions the fleet runs;
  // about a hundred fixes inside the fleet's spread, a dozen open issues
  const advisories = buildDebianAdvisories(rand, fleet, {
    count: ADVISORIES,
    mix: { oldFix: 0.9977, recentFix: 0.002, unfixed: 0.0001, noDsa: 0.0001, postponed: 0.00004 },
    withdrawnEvery: 1_000,
    urgencies: ['not yet assigned', 'low', 'medium', 'unimportant', 'high'],
  });
  return { rand, fleet, advisories };
}

export async function run(): Promise<void> {
  const setupStart = process.hrtime.bigint();
  const { rand, fleet, advisories } = benchData(HOSTS);
  const packagesPerHost = fleet.base.length;

  const temp = await createTempPostgres('bench_rescan');
  const db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
  try {
    await db.migrate();
    const repos = createRepositories(db);
    const t0 = process.hrtime.bigint();
    await importAdvisories(repos, advisories);
    const enrichment = await importEnrichment(repos, advisories, rand);
    const t1 = process.hrtime.bigint();
    const packageRows = await storeFleet(temp.url, fleet);
    const t2 = process.hrtime.bigint();
    console.log(
      `setup: ${fmt.format(advisories.length)} advisories + enrichment (EPSS ${fmt.format(enrichment.epss)}, ` +
        `NVD ${fmt.format(enrichment.nvd)}, KEV ${fmt.format(enrichment.kev)}) in ${(Number(t1 - t0) / 1e9).toFixed(1)} s; ` +
        `${fmt.format(HOSTS)} hosts, ${fmt.format(packageRows)} installed packages in ${(Number(t2 - t1) / 1e9).toFixed(1)} s ` +
        `(total setup ${(Number(t2 - setupStart) / 1e9).toFixed(1)} s)`,
    );
    fleet.hosts.length = 0; // the scan reads the fleet from the database

    const deps = { repos, riskPolicy: DEFAULT_RISK_POLICY, now: () => new Date('2024-07-02T00:00:00Z') };
    const full = await withPeakRss(() => rescanHosts(deps));
    const findings = await db.prisma.finding.count();
    console.log(
      `fleet re-scan: ${fmt.format(HOSTS)} hosts x ${packagesPerHost} packages, ${fmt.format(advisories.length)} advisories ` +
        `-> ${fmt.format(findings)} findings (${(findings / Math.max(1, HOSTS)).toFixed(0)} per host) in ${full.seconds.toFixed(1)} s ` +
        `(${fmt.format(Math.round(full.value.hosts / full.seconds))} hosts/s), peak RSS ${mib(full.peak)} ` +
        `(aim < ${TARGET_SECONDS} s for 10,000 hosts)`,
    );
    console.log(summaryLine('  full', HOSTS, full.value, full.seconds, full.peak));

    // a feed sync: 1% of the advisories change, a few CVEs enter KEV
    const since = new Date();
    const changed = changedAdvisories(advisories, fleet);
    await importAdvisories(repos, changed);
    const newKev = advisories
      .filter((a) => !a.withdrawn && matchesSomeHost(a, fleet))
      .filter((_, i) => i % 10 === 1)
      .slice(0, 25)
      .map((a, i) => kevEntry(a.cves[0], i + 3));
    await repos.advisories.upsertEnrichment('kev', newKev);
    const syncDeps = { ...deps, now: () => new Date('2024-07-08T00:00:00Z') };
    const incremental = await withPeakRss(() => rescanAfterSync(syncDeps, since));
    const after = await db.prisma.finding.groupBy({ by: ['status'], _count: true });
    console.log(
      summaryLine(
        `re-scan after a sync changing ${fmt.format(changed.length)} advisories (${(SYNC_CHANGED * 100).toFixed(0)}%) and ${newKev.length} KEV entries`,
        HOSTS,
        incremental.value,
        incremental.seconds,
        incremental.peak,
      ) + ` (findings now: ${after.map((g) => `${g.status} ${fmt.format(g._count)}`).join(', ')})`,
    );
    console.log(`process peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
  } finally {
    await db.close();
    await temp.drop();
  }
}
