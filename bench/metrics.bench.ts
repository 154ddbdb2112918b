/**
 * Coverage metrics at fleet scale: 10,000 hosts in 10 teams, 3 environments and 20 host groups,
 * 1,000,000 findings (40% open, 55% fixed over the last year, 5% accepted), 10,000 host runs,
 * 5,000 risk acceptances and 12 weeks of snapshots, seeded with generate_series in PostgreSQL.
 *
 * Figures: the time of one team view (what `/patch coverage <team>` and `patchbot report coverage
 * --team` compute: the team's numbers, its environments and groups, the week-over-week change and
 * the trend; target < 1 s), of the fleet view (every team, environment and group), and of a team's
 * digest content (numbers, lists and the PNG chart).
 *
 * Needs PostgreSQL (PATCHBOT_TEST_POSTGRES_URL, default on 127.0.0.1).
 */
import pino from 'pino';
import { Policy } from '../src/config/policy-schema.js';
import { openDatabase } from '../src/db/client.js';
import { createRepositories } from '../src/db/index.js';
import { buildDigest } from '../src/usecases/digest.js';
import { coverageReport } from '../src/usecases/metrics.js';
import { createTempPostgres } from '../test/support/postgres.js';

const HOSTS = 10_000;
const FINDINGS_PER_HOST = 100;
const TEAMS = 10;
const ADVISORIES = 1_000;

const ms = (t0: number) => performance.now() - t0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const temp = await createTempPostgres('bench-metrics');
  const db = await openDatabase({ url: temp.url, dataDir: '/nonexistent' });
  try {
    await db.migrate();
    const p = db.prisma;
    const now = new Date();
    const t0 = performance.now();
    await p.$executeRawUnsafe(`
      INSERT INTO "Team" (name, "updatedAt")
      SELECT 'team-' || t, now() FROM generate_series(0, ${TEAMS - 1}) t`);
    await p.$executeRawUnsafe(`
      INSERT INTO "Host" (name, address, "teamId", environment, groups, "rebootRequired", "lastInventoryAt", "updatedAt")
      SELECT 'host-' || i, '10.0.' || (i / 250) || '.' || (i % 250),
        (SELECT id FROM "Team" WHERE name = 'team-' || (i % ${TEAMS})),
        (ARRAY['production', 'staging', 'development'])[1 + i % 3],
        ARRAY['group-' || (i % 20), 'group-' || ((i / 20) % 20)],
        i % 17 = 0, now() - interval '1 day', now()
      FROM generate_series(0, ${HOSTS - 1}) i`);
    // every host inventoried (Debian 12) a day ago but one in 50 (never scanned) and one in 40
    // (inventory 10 days old); Debian 12 advisories synced an hour ago: hosts are classified for real
    await p.$executeRawUnsafe(`
      INSERT INTO "InventorySnapshot" ("hostId", "collectedAt", "osId", "osFamily", "osVersionId", kernel, "packageManager")
      SELECT id, now() - CASE WHEN n % 40 = 0 THEN interval '10 days' ELSE interval '1 day' END,
        'debian', 'debian', '12', '6.1.0-13-amd64', 'dpkg'
      FROM (SELECT id, row_number() OVER (ORDER BY name) AS n FROM "Host") h WHERE n % 50 <> 0`);
    await p.$executeRawUnsafe(`
      INSERT INTO "FeedFreshness" (feed, "asOf", basis, location, "importedAt", ecosystems)
      VALUES ('debian-tracker', now() - interval '1 hour', 'fetched', 'bench', now(), ARRAY['Debian:12'])`);
    await p.$executeRawUnsafe(`
      INSERT INTO "Advisory" (id, source, modified, "contentHash", cves, "updatedAt")
      SELECT 'ADV-' || a, 'osv', now(), md5(a::text), ARRAY['CVE-2025-' || (10000 + a)], now()
      FROM generate_series(0, ${ADVISORIES - 1}) a`);
    // Deterministic pseudo-random numbers from the row number (hashtext) keep runs comparable.
    await p.$executeRawUnsafe(`
      WITH hosts AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM "Host"),
      rows AS (
        SELECT h.id AS host_id, h.n, k,
          abs(hashtext(h.n || ':' || k)) AS r1, abs(hashtext(k || ';' || h.n)) AS r2
        FROM hosts h CROSS JOIN generate_series(0, ${FINDINGS_PER_HOST - 1}) k
      ),
      shaped AS (
        SELECT *, now() - ((r1 % 365) || ' days')::interval - ((r2 % 1440) || ' minutes')::interval AS first_seen,
          CASE WHEN r2 % 100 < 40 THEN 'open' WHEN r2 % 100 < 95 THEN 'fixed' ELSE 'accepted' END AS status,
          (ARRAY['critical', 'high', 'medium', 'low', 'none'])[1 + r1 % 5] AS severity
        FROM rows
      )
      INSERT INTO "Finding" ("hostId", "packageName", "sourcePackage", "advisoryId", ecosystem,
        "installedVersion", "fixedVersion", cves, "firstSeenAt", "lastSeenAt", "resolvedAt", status,
        "riskScore", severity, kev, "slaDueAt", "statusUntil", "updatedAt")
      SELECT host_id, 'pkg-' || k, 'src-' || k, 'ADV-' || ((n * 7 + k) % ${ADVISORIES}), 'Debian:12',
        '1.0-1', '1.0-2', ARRAY['CVE-2025-' || (10000 + (n * 7 + k) % ${ADVISORIES})],
        first_seen, now(),
        CASE WHEN status = 'fixed' THEN LEAST(now(), first_seen + ((r2 % 60) || ' days')::interval) END,
        status::"FindingStatus", (r1 % 101)::float8, severity::"SeverityBand", r1 % 50 = 0,
        first_seen + ((ARRAY[14, 30, 60, 180, 365])[1 + r1 % 5] || ' days')::interval,
        CASE WHEN status = 'accepted' THEN now() + ((r2 % 90) || ' days')::interval END,
        now()
      FROM shaped`);
    await p.$executeRawUnsafe(`
      INSERT INTO "ChangeRequest" (ecosystem, "packageName", "fixedVersion", "teamId", "requestedBy", "policySnapshot", status, "updatedAt")
      SELECT 'Debian:12', 'pkg-1', '1.0-2', id, 'bench', '{}', 'completed', now() FROM "Team"`);
    await p.$executeRawUnsafe(`
      INSERT INTO "Deployment" ("changeRequestId", plan, "createdBy", state, "updatedAt")
      SELECT id, '{}', 'bench', 'completed', now() FROM "ChangeRequest"`);
    await p.$executeRawUnsafe(`
      INSERT INTO "DeploymentRing" ("deploymentId", index, name, state, "updatedAt")
      SELECT id, 0, 'broad', 'passed', now() FROM "Deployment"`);
    await p.$executeRawUnsafe(`
      INSERT INTO "HostRun" ("ringId", "hostId", "hostName", state, "finishedAt", "updatedAt")
      SELECT r.id, h.id, h.name,
        CASE WHEN abs(hashtext(h.name)) % 20 = 0 THEN 'failed' ELSE 'succeeded' END::"HostRunState",
        now() - ((abs(hashtext(h.name)) % 60) || ' days')::interval, now()
      FROM "Host" h JOIN "ChangeRequest" c ON c."teamId" = h."teamId"
      JOIN "Deployment" d ON d."changeRequestId" = c.id JOIN "DeploymentRing" r ON r."deploymentId" = d.id`);
    await p.$executeRawUnsafe(`
      INSERT INTO "RiskAcceptance" ("findingId", reason, owner, "createdBy", surface, "expiresAt")
      SELECT id, 'compensating control', 'owner', 'bench', 'slack', "statusUntil"
      FROM "Finding" WHERE status = 'accepted' LIMIT 5000`);
    // What autovacuum does on a live database: statistics, and the visibility map index-only scans need.
    await p.$executeRawUnsafe('VACUUM ANALYZE');
    const seedMs = ms(t0);

    const policy = Policy.parse({
      teams: Array.from({ length: TEAMS }, (_, t) => ({ name: `team-${t}` })),
    });
    const repos = createRepositories(db);
    const deps = { repos, policy, now };
    // 12 weeks of history from the live numbers (as the weekly digests would have stored them).
    const first = await coverageReport(deps, 'team-0', { breakdown: false });
    for (let w = 1; w <= 12; w++) {
      const weekStart = new Date(Date.parse(`${first.weekStart}T00:00:00Z`) - w * 7 * 86_400_000)
        .toISOString()
        .slice(0, 10);
      for (let t = 0; t < TEAMS; t++)
        await repos.metrics.saveSnapshot({
          scope: `team:team-${t}`,
          team: `team-${t}`,
          weekStart,
          metrics: { ...first.metrics, scope: `team:team-${t}` },
        });
    }
    const [sizes] = await p.$queryRaw<{ hosts: number; findings: number; open: number; runs: number }[]>`
      SELECT (SELECT COUNT(*)::int FROM "Host") AS hosts, (SELECT COUNT(*)::int FROM "Finding") AS findings,
        (SELECT COUNT(*)::int FROM "Finding" WHERE status = 'open') AS open,
        (SELECT COUNT(*)::int FROM "HostRun") AS runs`;
    console.log(
      `input: ${sizes?.hosts.toLocaleString('en')} hosts in ${TEAMS} teams, 3 environments, 20 groups; ` +
        `${sizes?.findings.toLocaleString('en')} findings (${sizes?.open.toLocaleString('en')} open); ` +
        `${sizes?.runs.toLocaleString('en')} host runs; 5,000 risk acceptances; 12 weeks of snapshots ` +
        `(seeded in ${(seedMs / 1000).toFixed(1)} s)`,
    );

    // Warm-up (plans, caches), then every team once.
    await coverageReport(deps, 'team-0');
    const teamTimes: number[] = [];
    for (let t = 0; t < TEAMS; t++) {
      const s = performance.now();
      const r = await coverageReport(deps, `team-${t}`);
      teamTimes.push(ms(s));
      if (r.metrics.hosts.total !== HOSTS / TEAMS)
        throw new Error(`team-${t} has ${r.metrics.hosts.total} hosts`);
    }
    console.log(
      `team view (${(HOSTS / TEAMS).toLocaleString('en')} hosts, ${((HOSTS * FINDINGS_PER_HOST) / TEAMS).toLocaleString('en')} findings each; ` +
        `numbers + environments + groups + change + trend): median ${median(teamTimes).toFixed(0)} ms, ` +
        `max ${Math.max(...teamTimes).toFixed(0)} ms over ${TEAMS} teams (target < 1000 ms)`,
    );
    const s = performance.now();
    const fleet = await coverageReport(deps);
    console.log(
      `fleet view (every team, environment and group): ${ms(s).toFixed(0)} ms; coverage ${(
        (fleet.metrics.hosts.coverage ?? 0) * 100
      ).toFixed(1)}%`,
    );
    const logger = pino({ level: 'silent' });
    const d0 = performance.now();
    const digest = await buildDigest({ ...deps, platforms: [], logger }, 'team-3');
    console.log(
      `digest content of one team (numbers, lists, ${digest.view.chart?.width}x${digest.view.chart?.height} PNG chart): ${ms(d0).toFixed(0)} ms`,
    );
  } finally {
    await db.close();
    await temp.drop();
  }
}
