/**
 * The metrics of step 8, counted in PostgreSQL: every number is an aggregate (COUNT FILTER, AVG,
 * percentile_cont, GROUPING SETS) over the hosts of a scope, never a list of findings loaded into
 * the process. A grouping (fleet, team, environment, host group) computes the numbers of every
 * scope of that kind in one set of queries; a host in several groups counts in each.
 *
 * Also here: the weekly MetricSnapshot rows (kept when findings are cleaned up, so trends survive),
 * the lists a digest shows, and the DigestRun claim that makes one digest per team and week.
 */
import {
  AGE_BUCKETS,
  emptyCounts,
  ScopeMetrics,
  SEVERITIES,
  type AgeBucket,
  type RawScopeCounts,
  type ScopeKind,
} from '../../core/metrics/definitions.js';
import type { Severity } from '../../core/model.js';
import type { DbClient, TxClient } from '../client.js';
import { Prisma } from '../generated/client.js';

const DAY = 86_400_000;

/** The client inside an interactive transaction. */
export interface CountsQuery {
  /** The kinds of scope to count (each in the same pass over the findings). */
  groupings: readonly ScopeKind[];
  /** Only the hosts of this team (any grouping). */
  team?: string;
  now: Date;
  /** Start of the measuring period (SLA, time to remediate, deployments). */
  since: Date;
  /** The bands a host may not have an open finding in to count as covered. */
  bands: readonly Severity[];
  /** Accepted risks expiring before this instant are "expiring soon". */
  expiringBefore: Date;
}

/** Numbers per scope name; `null` = hosts without a team (team grouping). */
export type CountsByScope = Map<string | null, RawScopeCounts>;

export interface RiskLine {
  packageName: string;
  advisoryId: string;
  ecosystem: string;
  cves: string[];
  fixedVersion: string | null;
  riskScore: number;
  severity: Severity;
  kev: boolean;
  /** Earliest SLA due date among the hosts. */
  dueAt: Date | null;
  hosts: number;
}

export interface PatchedLine {
  packageName: string;
  findings: number;
  hosts: number;
}

export interface ExpiringAcceptance {
  id: string;
  owner: string;
  reason: string;
  expiresAt: Date;
  /** What it covers: the package and advisory of (one of) its findings. */
  packageName: string | null;
  advisoryId: string | null;
  cves: string[];
  findings: number;
}

export interface DigestLists {
  topRisks: RiskLine[];
  slaBreaches: RiskLine[];
  dueThisWeek: RiskLine[];
  patched: PatchedLine[];
  patchedTotals: { findings: number; hosts: number };
  expiringAcceptances: ExpiringAcceptance[];
}

/** One host with what decides its coverage state (src/core/metrics/coverage.ts). */
export interface HostFactsRow {
  id: string;
  name: string;
  team: string | null;
  environment: string;
  groups: string[];
  /** Its last inventory said a reboot is required. */
  rebootRequired: boolean;
  /** When its newest stored inventory was collected; null without one. */
  lastInventoryAt: Date | null;
  lastCollectAttemptAt: Date | null;
  lastCollectError: string | null;
  /** The release of its newest inventory. */
  os: {
    id: string;
    family: string;
    versionId: string;
    codename: string | null;
    prettyName: string | null;
  } | null;
  /** An open finding in one of the bands asked for. */
  exposed: boolean;
}

export type DigestClaim =
  | { claimed: true; runId: string; createdAt: Date }
  | { claimed: false; state: 'claimed' | 'posted' | 'failed'; postedAt: Date | null };

/** Hosts that count: managed ones (retired hosts are history), of one team when given. */
function managedHosts(team: string | undefined): Prisma.Sql {
  return team === undefined
    ? Prisma.sql`h."retiredAt" IS NULL`
    : Prisma.sql`h."retiredAt" IS NULL AND t.name = ${team}`;
}

/** The hosts counted: every managed host, or the managed hosts of one team. */
function baseHosts(team: string | undefined): Prisma.Sql {
  const where = managedHosts(team);
  return Prisma.sql`SELECT h.id AS host_id FROM "Host" h LEFT JOIN "Team" t ON t.id = h."teamId" WHERE ${where}`;
}

/**
 * (host, kind, key) for every grouping asked for: a host belongs to one fleet, one team (key NULL
 * when it has none), one environment and each of its groups.
 */
function hostScopes(groupings: readonly ScopeKind[], team: string | undefined): Prisma.Sql {
  const where = managedHosts(team);
  const cols = Prisma.sql`h."rebootRequired" AS reboot, h."lastInventoryAt" IS NOT NULL AS inventoried`;
  const from = Prisma.sql`FROM "Host" h LEFT JOIN "Team" t ON t.id = h."teamId"`;
  const parts = groupings.map((g) => {
    switch (g) {
      case 'fleet':
        return Prisma.sql`SELECT h.id AS host_id, 'fleet'::text AS kind, 'fleet'::text AS key, ${cols} ${from} WHERE ${where}`;
      case 'team':
        return Prisma.sql`SELECT h.id AS host_id, 'team'::text AS kind, t.name AS key, ${cols} ${from} WHERE ${where}`;
      case 'environment':
        return Prisma.sql`SELECT h.id AS host_id, 'environment'::text AS kind, h.environment AS key, ${cols} ${from} WHERE ${where}`;
      case 'group':
        return Prisma.sql`SELECT h.id AS host_id, 'group'::text AS kind, g.name AS key, ${cols}
          ${from} CROSS JOIN LATERAL unnest(h.groups) AS g(name) WHERE ${where}`;
    }
  });
  return Prisma.join(parts, ' UNION ALL ');
}

function bandList(bands: readonly Severity[]): Prisma.Sql {
  return bands.length === 0
    ? Prisma.sql`NULL::"SeverityBand"`
    : Prisma.join(bands.map((b) => Prisma.sql`${b}::"SeverityBand"`));
}

const ago = (now: Date, days: number) => new Date(now.getTime() - days * DAY);

export class MetricsQueries {
  constructor(private readonly prisma: DbClient) {}

  /**
   * The finding, host-run and acceptance numbers of ScopeMetrics, for each scope of each grouping
   * (restricted to a team's hosts when given). The findings are read once for all groupings: counted
   * per host first, then the per-host counts are added up per scope (percentiles from the few rows
   * of the period). The host numbers come from `hostFacts`.
   */
  async counts(q: CountsQuery): Promise<Map<ScopeKind, CountsByScope>> {
    if (q.groupings.length === 0) return new Map();
    // One snapshot of the data for every number; room to sort the period's rows in memory
    // (percentiles) instead of on disk; no JIT compilation (it costs more than these queries, whose
    // row estimates after the per-scope expansion are far too high and would trigger it).
    return this.prisma.$transaction((tx) => this.countsIn(tx, q), {
      isolationLevel: 'RepeatableRead',
      maxWait: 10_000,
      timeout: 120_000,
    });
  }

  private async countsIn(tx: TxClient, q: CountsQuery): Promise<Map<ScopeKind, CountsByScope>> {
    await tx.$executeRaw`SET LOCAL work_mem = '64MB'`;
    await tx.$executeRaw`SET LOCAL jit = off`;
    const sh = hostScopes(q.groupings, q.team);
    const hs = baseHosts(q.team);
    const now = q.now;
    const weekAhead = new Date(now.getTime() + 7 * DAY);
    const out = new Map<ScopeKind, CountsByScope>(q.groupings.map((g) => [g, new Map()]));
    const get = (kind: ScopeKind, key: string | null): RawScopeCounts => {
      const byKey = out.get(kind) ?? new Map<string | null, RawScopeCounts>();
      out.set(kind, byKey);
      let c = byKey.get(key);
      if (!c) {
        c = emptyCounts();
        byKey.set(key, c);
      }
      return c;
    };

    // The host-level numbers (hosts, exposed, reboots, inventoried, coverage states) come from
    // hostFacts: one row per host, classified by the caller.

    const age = (b: (typeof AGE_BUCKETS)[number]): Prisma.Sql => {
      const newer = Prisma.sql`f."firstSeenAt" > ${ago(now, b.fromDays)}`;
      const from = b.fromDays === 0 ? Prisma.sql`TRUE` : Prisma.sql`NOT (${newer})`;
      const to = b.toDays === null ? Prisma.sql`TRUE` : Prisma.sql`f."firstSeenAt" > ${ago(now, b.toDays)}`;
      return Prisma.sql`COUNT(*) FILTER (WHERE ${from} AND ${to})`;
    };
    const openCols = [
      ...SEVERITIES.map((b) => ({
        name: b,
        expr: Prisma.sql`COUNT(*) FILTER (WHERE f.severity = ${b}::"SeverityBand")`,
      })),
      ...AGE_BUCKETS.map((b) => ({ name: b.key, expr: age(b) })),
      { name: 'overdue', expr: Prisma.sql`COUNT(*) FILTER (WHERE f."slaDueAt" < ${now})` },
      {
        name: 'due_week',
        expr: Prisma.sql`COUNT(*) FILTER (WHERE f."slaDueAt" >= ${now} AND f."slaDueAt" < ${weekAhead})`,
      },
      { name: 'kind_os', expr: Prisma.sql`COUNT(*) FILTER (WHERE f.kind = 'os'::"FindingKind")` },
      { name: 'kind_tp', expr: Prisma.sql`COUNT(*) FILTER (WHERE f.kind = 'third-party'::"FindingKind")` },
      { name: 'kind_fw', expr: Prisma.sql`COUNT(*) FILTER (WHERE f.kind = 'firmware'::"FindingKind")` },
      { name: 'kev_open', expr: Prisma.sql`COUNT(*) FILTER (WHERE f.kev)` },
      { name: 'kev_overdue', expr: Prisma.sql`COUNT(*) FILTER (WHERE f.kev AND f."slaDueAt" < ${now})` },
    ];
    const col = (name: string) => Prisma.raw(`"${name}"`);
    const open = await tx.$queryRaw<
      ({
        kind: ScopeKind;
        key: string | null;
        overdue: number;
        due_week: number;
        kev_open: number;
        kev_overdue: number;
        kind_os: number;
        kind_tp: number;
        kind_fw: number;
      } & Record<Severity, number> &
        Record<AgeBucket, number>)[]
    >`
      WITH hs AS (${hs}),
      per_host AS MATERIALIZED (
        SELECT f."hostId" AS host_id,
          ${Prisma.join(openCols.map((c) => Prisma.sql`${c.expr} AS ${col(c.name)}`))}
        FROM "Finding" f JOIN hs ON hs.host_id = f."hostId"
        WHERE f.status = 'open'
        GROUP BY f."hostId"
      ),
      sh AS (${sh})
      SELECT sh.kind, sh.key,
        ${Prisma.join(openCols.map((c) => Prisma.sql`SUM(p.${col(c.name)})::int AS ${col(c.name)}`))}
      FROM per_host p JOIN sh ON sh.host_id = p.host_id
      GROUP BY sh.kind, sh.key`;
    for (const r of open) {
      const c = get(r.kind, r.key);
      for (const b of SEVERITIES) c.openByBand[b] = r[b];
      for (const a of AGE_BUCKETS) c.openByAge[a.key] = r[a.key];
      c.openByKind = { os: r.kind_os, thirdParty: r.kind_tp, firmware: r.kind_fw };
      c.openOverdue = r.overdue;
      c.openDueThisWeek = r.due_week;
      c.kevOpen = r.kev_open;
      c.kevOverdue = r.kev_overdue;
    }

    const sla = await tx.$queryRaw<
      { kind: ScopeKind; key: string | null; severity: Severity; due: number; met: number }[]
    >`
      WITH hs AS (${hs}),
      per_host AS MATERIALIZED (
        SELECT f."hostId" AS host_id, f.severity, COUNT(*) AS due,
          COUNT(*) FILTER (WHERE f.status = 'fixed' AND f."resolvedAt" <= f."slaDueAt") AS met
        FROM "Finding" f JOIN hs ON hs.host_id = f."hostId"
        WHERE f.status IN ('open', 'fixed') AND f."slaDueAt" >= ${q.since} AND f."slaDueAt" < ${now}
        GROUP BY f."hostId", f.severity
      ),
      sh AS (${sh})
      SELECT sh.kind, sh.key, p.severity::text AS severity, SUM(p.due)::int AS due, SUM(p.met)::int AS met
      FROM per_host p JOIN sh ON sh.host_id = p.host_id
      GROUP BY sh.kind, sh.key, p.severity`;
    for (const r of sla) {
      const c = get(r.kind, r.key);
      c.slaDue[r.severity] = r.due;
      c.slaMet[r.severity] = r.met;
    }

    const weekAgo = ago(now, 7);
    const ttr = await tx.$queryRaw<
      {
        kind: ScopeKind;
        key: string | null;
        severity: Severity | null;
        fixed: number;
        mean_days: number | null;
        p90_days: number | null;
        fixed_week: number;
      }[]
    >`
      WITH hs AS (${hs}),
      fixed AS MATERIALIZED (
        SELECT f."hostId" AS host_id, f.severity::text AS severity, f."resolvedAt",
          GREATEST(EXTRACT(EPOCH FROM (f."resolvedAt" - f."firstSeenAt"))::float8 / 86400.0, 0) AS days
        FROM "Finding" f JOIN hs ON hs.host_id = f."hostId"
        WHERE f.status = 'fixed' AND f."resolvedAt" >= ${q.since} AND f."resolvedAt" <= ${now}
      ),
      sh AS (${sh})
      SELECT sh.kind, sh.key, x.severity, COUNT(*)::int AS fixed,
        AVG(x.days)::float8 AS mean_days,
        (percentile_cont(0.9) WITHIN GROUP (ORDER BY x.days))::float8 AS p90_days,
        COUNT(*) FILTER (WHERE x."resolvedAt" > ${weekAgo})::int AS fixed_week
      FROM fixed x JOIN sh ON sh.host_id = x.host_id
      GROUP BY GROUPING SETS ((sh.kind, sh.key, x.severity), (sh.kind, sh.key))`;
    for (const r of ttr) {
      const c = get(r.kind, r.key);
      const cell = { fixed: r.fixed, meanDays: r.mean_days, p90Days: r.p90_days };
      if (r.severity === null) {
        c.remediation.all = cell;
        c.fixedThisWeek = r.fixed_week;
      } else {
        c.remediation[r.severity] = cell;
      }
    }

    const runs = await tx.$queryRaw<
      { kind: ScopeKind; key: string | null; finished: number; succeeded: number }[]
    >`
      WITH sh AS (${sh})
      SELECT sh.kind, sh.key, COUNT(*)::int AS finished,
        COUNT(*) FILTER (WHERE r.state = 'succeeded')::int AS succeeded
      FROM "HostRun" r JOIN sh ON sh.host_id = r."hostId"
      WHERE r.state IN ('succeeded', 'failed', 'rolled_back', 'rollback_failed')
        AND r."finishedAt" >= ${q.since} AND r."finishedAt" <= ${now}
      GROUP BY sh.kind, sh.key`;
    for (const r of runs) {
      const c = get(r.kind, r.key);
      c.hostRunsFinished = r.finished;
      c.hostRunsSucceeded = r.succeeded;
    }

    const acceptances = await tx.$queryRaw<
      { kind: ScopeKind; key: string | null; active: number; expiring: number }[]
    >`
      WITH sh AS (${sh}),
      covered AS (
        SELECT a.id, a."expiresAt", f."hostId"
        FROM "RiskAcceptance" a JOIN "Finding" f ON f.id = a."findingId"
        WHERE a."revokedAt" IS NULL AND a."expiresAt" > ${now}
        UNION
        SELECT a.id, a."expiresAt", f."hostId"
        FROM "RiskAcceptance" a
        JOIN "ChangeRequestFinding" cf ON cf."changeRequestId" = a."changeRequestId"
        JOIN "Finding" f ON f.id = cf."findingId"
        WHERE a."findingId" IS NULL AND a."revokedAt" IS NULL AND a."expiresAt" > ${now}
      )
      SELECT sh.kind, sh.key, COUNT(DISTINCT c.id)::int AS active,
        COUNT(DISTINCT c.id) FILTER (WHERE c."expiresAt" <= ${q.expiringBefore})::int AS expiring
      FROM covered c JOIN sh ON sh.host_id = c."hostId"
      GROUP BY sh.kind, sh.key`;
    for (const r of acceptances) {
      const c = get(r.kind, r.key);
      c.acceptancesActive = r.active;
      c.acceptancesExpiringSoon = r.expiring;
    }
    return out;
  }

  /**
   * Every host (of `team` when given) with its newest inventory's release and collection time, the
   * last collection failure, and whether it has an open finding in `bands`: one row per host.
   */
  async hostFacts(q: { team?: string; host?: string; bands: readonly Severity[] }): Promise<HostFactsRow[]> {
    const byTeam = q.team === undefined ? Prisma.sql`TRUE` : Prisma.sql`t.name = ${q.team}`;
    const where = q.host === undefined ? byTeam : Prisma.sql`${byTeam} AND h.name = ${q.host}`;
    const rows = await this.prisma.$queryRaw<
      {
        id: string;
        name: string;
        team: string | null;
        environment: string;
        groups: string[];
        reboot: boolean;
        collected_at: Date | null;
        attempt_at: Date | null;
        error: string | null;
        os_id: string | null;
        os_family: string | null;
        os_version: string | null;
        os_codename: string | null;
        os_pretty: string | null;
        exposed: boolean;
      }[]
    >`
      SELECT h.id, h.name, t.name AS team, h.environment, h.groups, h."rebootRequired" AS reboot,
        COALESCE(s."collectedAt", h."lastInventoryAt") AS collected_at, h."lastCollectAttemptAt" AS attempt_at, h."lastCollectError" AS error,
        s."osId" AS os_id, s."osFamily" AS os_family, s."osVersionId" AS os_version,
        s."osCodename" AS os_codename, s."osPrettyName" AS os_pretty,
        EXISTS (
          SELECT 1 FROM "Finding" f
          WHERE f."hostId" = h.id AND f.status = 'open' AND f.severity IN (${bandList(q.bands)})
        ) AS exposed
      FROM "Host" h
      LEFT JOIN "Team" t ON t.id = h."teamId"
      LEFT JOIN LATERAL (
        SELECT x."collectedAt", x."osId", x."osFamily", x."osVersionId", x."osCodename", x."osPrettyName"
        FROM "InventorySnapshot" x WHERE x."hostId" = h.id
        ORDER BY x."collectedAt" DESC, x."createdAt" DESC LIMIT 1
      ) s ON TRUE
      WHERE ${where}
      ORDER BY h.name`;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      team: r.team,
      environment: r.environment,
      groups: r.groups,
      rebootRequired: r.reboot,
      lastInventoryAt: r.collected_at,
      lastCollectAttemptAt: r.attempt_at,
      lastCollectError: r.error,
      os:
        r.os_id === null
          ? null
          : {
              id: r.os_id,
              family: r.os_family ?? 'unknown',
              versionId: r.os_version ?? '',
              codename: r.os_codename,
              prettyName: r.os_pretty,
            },
      exposed: r.exposed,
    }));
  }

  /** The lists of a team's digest: top risks, SLA breaches, due this week, patched, expiring acceptances. */
  async digestLists(opts: {
    team: string;
    now: Date;
    weekAgo: Date;
    weekAhead: Date;
    expiringBefore: Date;
    limit: number;
  }): Promise<DigestLists> {
    const { team, now, limit } = opts;
    const risks = (where: Prisma.Sql, order: Prisma.Sql, n: number) => this.prisma.$queryRaw<RiskLine[]>`
      SELECT f."packageName", f."advisoryId", MIN(f.ecosystem) AS ecosystem,
        adv.cves,
        MAX(f."fixedVersion") AS "fixedVersion",
        MAX(f."riskScore")::float8 AS "riskScore",
        (array_agg(f.severity::text ORDER BY f."riskScore" DESC))[1] AS severity,
        bool_or(f.kev) AS kev, MIN(f."slaDueAt") AS "dueAt", COUNT(DISTINCT f."hostId")::int AS hosts
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" JOIN "Team" t ON t.id = h."teamId"
        JOIN "Advisory" adv ON adv.id = f."advisoryId"
      WHERE t.name = ${team} AND h."retiredAt" IS NULL AND f.status = 'open' AND ${where}
      GROUP BY f."packageName", f."advisoryId", adv.cves
      ORDER BY ${order}
      LIMIT ${n}`;
    const topRisks = await risks(
      Prisma.sql`TRUE`,
      Prisma.sql`MAX(f."riskScore") DESC, COUNT(DISTINCT f."hostId") DESC, f."packageName", f."advisoryId"`,
      5,
    );
    const slaBreaches = await risks(
      Prisma.sql`f."slaDueAt" < ${now}`,
      Prisma.sql`MIN(f."slaDueAt"), MAX(f."riskScore") DESC, f."packageName", f."advisoryId"`,
      limit,
    );
    const dueThisWeek = await risks(
      Prisma.sql`f."slaDueAt" >= ${now} AND f."slaDueAt" < ${opts.weekAhead}`,
      Prisma.sql`MIN(f."slaDueAt"), MAX(f."riskScore") DESC, f."packageName", f."advisoryId"`,
      limit,
    );
    const patchedWhere = Prisma.sql`t.name = ${team} AND h."retiredAt" IS NULL AND f.status = 'fixed'
      AND f."resolvedAt" > ${opts.weekAgo} AND f."resolvedAt" <= ${now}`;
    const patched = await this.prisma.$queryRaw<PatchedLine[]>`
      SELECT f."packageName", COUNT(*)::int AS findings, COUNT(DISTINCT f."hostId")::int AS hosts
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" JOIN "Team" t ON t.id = h."teamId"
      WHERE ${patchedWhere}
      GROUP BY f."packageName"
      ORDER BY COUNT(DISTINCT f."hostId") DESC, f."packageName"
      LIMIT ${limit}`;
    const [totals] = await this.prisma.$queryRaw<{ findings: number; hosts: number }[]>`
      SELECT COUNT(*)::int AS findings, COUNT(DISTINCT f."hostId")::int AS hosts
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" JOIN "Team" t ON t.id = h."teamId"
      WHERE ${patchedWhere}`;
    const expiringAcceptances = await this.prisma.$queryRaw<ExpiringAcceptance[]>`
      WITH covered AS (
        SELECT a.id, f.id AS finding_id, f."packageName", f."advisoryId", f."hostId"
        FROM "RiskAcceptance" a JOIN "Finding" f ON f.id = a."findingId"
        WHERE a."revokedAt" IS NULL AND a."expiresAt" > ${now} AND a."expiresAt" <= ${opts.expiringBefore}
        UNION ALL
        SELECT a.id, f.id, f."packageName", f."advisoryId", f."hostId"
        FROM "RiskAcceptance" a
        JOIN "ChangeRequestFinding" cf ON cf."changeRequestId" = a."changeRequestId"
        JOIN "Finding" f ON f.id = cf."findingId"
        WHERE a."findingId" IS NULL AND a."revokedAt" IS NULL
          AND a."expiresAt" > ${now} AND a."expiresAt" <= ${opts.expiringBefore}
      )
      SELECT a.id, a.owner, a.reason, a."expiresAt",
        MIN(c."packageName") AS "packageName", MIN(c."advisoryId") AS "advisoryId",
        COALESCE((SELECT adv.cves FROM "Advisory" adv WHERE adv.id = MIN(c."advisoryId")), '{}'::text[]) AS cves,
        COUNT(DISTINCT c.finding_id)::int AS findings
      FROM covered c
      JOIN "RiskAcceptance" a ON a.id = c.id
      JOIN "Host" h ON h.id = c."hostId" JOIN "Team" t ON t.id = h."teamId"
      WHERE t.name = ${team} AND h."retiredAt" IS NULL
      GROUP BY a.id, a.owner, a.reason, a."expiresAt"
      ORDER BY a."expiresAt", a.id
      LIMIT ${limit}`;
    return {
      topRisks: topRisks.map(normaliseRisk),
      slaBreaches: slaBreaches.map(normaliseRisk),
      dueThisWeek: dueThisWeek.map(normaliseRisk),
      patched,
      patchedTotals: totals ?? { findings: 0, hosts: 0 },
      expiringAcceptances,
    };
  }

  // -------------------------------------------------------------------------------------------
  // weekly snapshots

  /** Stores (or replaces) the snapshot of `scope` for the week starting on `weekStart` ("YYYY-MM-DD"). */
  async saveSnapshot(input: {
    scope: string;
    team?: string;
    weekStart: string;
    metrics: ScopeMetrics;
  }): Promise<void> {
    const weekStart = new Date(`${input.weekStart}T00:00:00Z`);
    const teamId =
      input.team === undefined
        ? null
        : ((await this.prisma.team.findUnique({ where: { name: input.team }, select: { id: true } }))?.id ??
          null);
    const metrics = input.metrics as unknown as Prisma.InputJsonValue;
    await this.prisma.metricSnapshot.upsert({
      where: { scope_weekStart: { scope: input.scope, weekStart } },
      create: { scope: input.scope, teamId, weekStart, metrics },
      update: { metrics, teamId },
    });
  }

  /**
   * Snapshots of `scope` for weeks in [fromWeek, toWeek] ("YYYY-MM-DD"), oldest first. A stored
   * snapshot that does not parse (written by another version) is left out.
   */
  async snapshots(
    scope: string,
    fromWeek: string,
    toWeek: string,
  ): Promise<{ weekStart: string; metrics: ScopeMetrics }[]> {
    const rows = await this.prisma.metricSnapshot.findMany({
      where: {
        scope,
        weekStart: { gte: new Date(`${fromWeek}T00:00:00Z`), lte: new Date(`${toWeek}T00:00:00Z`) },
      },
      orderBy: { weekStart: 'asc' },
    });
    const out: { weekStart: string; metrics: ScopeMetrics }[] = [];
    for (const r of rows) {
      const parsed = ScopeMetrics.safeParse(r.metrics);
      if (parsed.success)
        out.push({ weekStart: r.weekStart.toISOString().slice(0, 10), metrics: parsed.data });
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // one digest per team and week

  /**
   * Claims the digest of `team` for the week: a new DigestRun, or one that failed, or one whose
   * claimer went quiet before `staleBefore` (it died). Anything else is someone else's: the claim
   * is refused with the run's state. One statement inside a transaction, so two workers racing for
   * the same team and week get one claim between them.
   */
  async claimDigest(opts: {
    team: string;
    weekStart: string;
    claimedBy: string;
    now: Date;
    staleBefore: Date;
  }): Promise<DigestClaim> {
    const weekStart = new Date(`${opts.weekStart}T00:00:00Z`);
    return this.prisma.$transaction(async (tx) => {
      const team = await tx.team.findUnique({ where: { name: opts.team }, select: { id: true } });
      if (!team) return { claimed: false, state: 'failed', postedAt: null };
      const [row] = await tx.$queryRaw<{ id: string; createdAt: Date }[]>`
        INSERT INTO "DigestRun" ("teamId", "weekStart", state, "claimedBy", "updatedAt")
        VALUES (${team.id}::uuid, ${weekStart}::date, 'claimed', ${opts.claimedBy}, ${opts.now})
        ON CONFLICT ("teamId", "weekStart") DO UPDATE
          SET state = 'claimed', "claimedBy" = EXCLUDED."claimedBy", "updatedAt" = EXCLUDED."updatedAt",
            error = NULL
          WHERE "DigestRun".state = 'failed'
            OR ("DigestRun".state = 'claimed' AND "DigestRun"."updatedAt" < ${opts.staleBefore})
        RETURNING id, "createdAt"`;
      if (row) return { claimed: true, runId: row.id, createdAt: row.createdAt };
      const existing = await tx.digestRun.findUnique({
        where: { teamId_weekStart: { teamId: team.id, weekStart } },
        select: { state: true, postedAt: true },
      });
      return { claimed: false, state: existing?.state ?? 'claimed', postedAt: existing?.postedAt ?? null };
    });
  }

  async finishDigest(runId: string, outcome: { posted: true; at: Date } | { posted: false; error: string }) {
    await this.prisma.digestRun.update({
      where: { id: runId },
      data: outcome.posted
        ? { state: 'posted', postedAt: outcome.at, error: null }
        : { state: 'failed', error: outcome.error.slice(0, 2_000) },
    });
  }

  /** The digest run of a team and week, when one exists. */
  async digestRun(
    team: string,
    weekStart: string,
  ): Promise<{ state: 'claimed' | 'posted' | 'failed'; postedAt: Date | null } | null> {
    return this.prisma.digestRun.findFirst({
      where: { team: { name: team }, weekStart: new Date(`${weekStart}T00:00:00Z`) },
      select: { state: true, postedAt: true },
    });
  }

  /** Channels a digest message was posted to since `since` (a retried run skips them). */
  async digestChannelsSince(
    platform: 'slack' | 'teams',
    channels: string[],
    since: Date,
  ): Promise<Set<string>> {
    if (channels.length === 0) return new Set();
    const rows = await this.prisma.chatMessage.findMany({
      where: { platform, kind: 'digest', channelId: { in: channels }, createdAt: { gte: since } },
      select: { channelId: true },
    });
    return new Set(rows.map((r) => r.channelId));
  }

  async recordDigestMessage(ref: {
    platform: 'slack' | 'teams';
    channel: string;
    id: string;
  }): Promise<void> {
    await this.prisma.chatMessage.upsert({
      where: {
        platform_channelId_messageId: { platform: ref.platform, channelId: ref.channel, messageId: ref.id },
      },
      create: { platform: ref.platform, channelId: ref.channel, messageId: ref.id, kind: 'digest' },
      update: {},
    });
  }
}

function normaliseRisk(r: RiskLine): RiskLine {
  return { ...r, cves: r.cves ?? [], riskScore: Number(r.riskScore) };
}
