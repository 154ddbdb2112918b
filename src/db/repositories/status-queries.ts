/**
 * Aggregates for `/patch status` and the metrics endpoint: counted in PostgreSQL (GROUP BY, COUNT
 * FILTER), never by loading every finding. Coverage metrics are in metrics-queries.ts.
 */
import type { Severity } from '../../core/model.js';
import type { DbClient } from '../client.js';
import { Prisma } from '../generated/client.js';

export const BANDS: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'none'];

export interface ScopeCounts {
  hosts: number;
  openByBand: Record<Severity, number>;
  /** Open findings of distribution packages, language packages and firmware. */
  openByKind: { os: number; thirdParty: number; firmware: number };
  kevOverdue: number;
  slaBreaches: number;
  hostsNeedingReboot: number;
  pendingApprovals: number;
}

export interface RunningDeploymentRow {
  changeId: string;
  changeNumber: number;
  package: string;
  fixedVersion: string;
  team: string | null;
  ring: number;
  rings: number;
}

export interface CampaignRow {
  changeId: string;
  changeNumber: number;
  package: string;
  fixedVersion: string;
  team: string | null;
  status: string;
}

export interface HostFindingRow {
  packageName: string;
  ecosystem: string;
  installedVersion: string;
  fixedVersion: string | null;
  advisoryId: string;
  cves: string[];
  riskScore: number;
  severity: Severity;
  kev: boolean;
  slaDueAt: Date | null;
}

export class StatusQueries {
  constructor(private readonly prisma: DbClient) {}

  /** Counts for the fleet (team undefined) or one team. SLA breaches: due dates in [since, now). */
  async counts(opts: { team?: string; now: Date; since: Date }): Promise<ScopeCounts> {
    // retired hosts are history: not counted
    const teamHost =
      opts.team === undefined
        ? Prisma.sql`h."retiredAt" IS NULL`
        : Prisma.sql`h."retiredAt" IS NULL AND t.name = ${opts.team}`;
    const [hosts] = await this.prisma.$queryRaw<{ hosts: number; reboot: number }[]>`
      SELECT COUNT(*)::int AS hosts, COUNT(*) FILTER (WHERE h."rebootRequired")::int AS reboot
      FROM "Host" h LEFT JOIN "Team" t ON t.id = h."teamId"
      WHERE ${teamHost}`;
    const bands = await this.prisma.$queryRaw<{ band: Severity; n: number }[]>`
      SELECT f.severity::text AS band, COUNT(*)::int AS n
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" LEFT JOIN "Team" t ON t.id = h."teamId"
      WHERE f.status = 'open' AND ${teamHost}
      GROUP BY f.severity`;
    const kinds = await this.prisma.$queryRaw<{ kind: string; n: number }[]>`
      SELECT f.kind::text AS kind, COUNT(*)::int AS n
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" LEFT JOIN "Team" t ON t.id = h."teamId"
      WHERE f.status = 'open' AND ${teamHost}
      GROUP BY f.kind`;
    const kindCount = (k: string): number => kinds.find((r) => r.kind === k)?.n ?? 0;
    const [sla] = await this.prisma.$queryRaw<{ kev_overdue: number; breaches: number }[]>`
      SELECT
        COUNT(*) FILTER (WHERE f.status = 'open' AND f.kev AND f."slaDueAt" < ${opts.now})::int AS kev_overdue,
        COUNT(*) FILTER (WHERE f."slaDueAt" >= ${opts.since} AND f."slaDueAt" < ${opts.now}
          AND (f.status = 'open' OR (f.status = 'fixed' AND f."resolvedAt" > f."slaDueAt")))::int AS breaches
      FROM "Finding" f JOIN "Host" h ON h.id = f."hostId" LEFT JOIN "Team" t ON t.id = h."teamId"
      WHERE f."slaDueAt" IS NOT NULL AND ${teamHost}`;
    const teamChange = opts.team === undefined ? Prisma.sql`TRUE` : Prisma.sql`t.name = ${opts.team}`;
    const [pending] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT COUNT(*)::int AS n FROM "ChangeRequest" c LEFT JOIN "Team" t ON t.id = c."teamId"
      WHERE c.status = 'pending' AND ${teamChange}`;
    const openByBand = Object.fromEntries(BANDS.map((b) => [b, 0])) as Record<Severity, number>;
    for (const r of bands) openByBand[r.band] = r.n;
    return {
      hosts: hosts?.hosts ?? 0,
      hostsNeedingReboot: hosts?.reboot ?? 0,
      openByBand,
      openByKind: {
        os: kindCount('os'),
        thirdParty: kindCount('third-party'),
        firmware: kindCount('firmware'),
      },
      kevOverdue: sla?.kev_overdue ?? 0,
      slaBreaches: sla?.breaches ?? 0,
      pendingApprovals: pending?.n ?? 0,
    };
  }

  /** Deployments in progress, with the ring they are at. */
  async runningDeployments(team?: string): Promise<RunningDeploymentRow[]> {
    const teamWhere = team === undefined ? Prisma.sql`TRUE` : Prisma.sql`t.name = ${team}`;
    return this.prisma.$queryRaw<RunningDeploymentRow[]>`
      SELECT c.id AS "changeId", c.number AS "changeNumber", c."packageName" AS package,
        c."fixedVersion", t.name AS team,
        COALESCE((SELECT MIN(r.index) + 1 FROM "DeploymentRing" r
          WHERE r."deploymentId" = d.id AND r.state NOT IN ('passed', 'skipped')), 1)::int AS ring,
        GREATEST((SELECT COUNT(*) FROM "DeploymentRing" r WHERE r."deploymentId" = d.id), 1)::int AS rings
      FROM "Deployment" d
      JOIN "ChangeRequest" c ON c.id = d."changeRequestId"
      LEFT JOIN "Team" t ON t.id = c."teamId"
      WHERE d.state IN ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'rolling_back')
        AND ${teamWhere}
      ORDER BY d."createdAt"
      LIMIT 50`;
  }

  /** Campaigns (change requests) that cover findings matching `where` (a CVE or an advisory). */
  async campaignsFor(where: { cve: string } | { advisoryId: string }): Promise<CampaignRow[]> {
    const cond =
      'cve' in where
        ? Prisma.sql`${where.cve} = ANY (f.cves)`
        : Prisma.sql`f."advisoryId" = ${where.advisoryId}`;
    return this.prisma.$queryRaw<CampaignRow[]>`
      SELECT DISTINCT c.id AS "changeId", c.number AS "changeNumber", c."packageName" AS package,
        c."fixedVersion", t.name AS team, c.status::text AS status
      FROM "ChangeRequest" c
      JOIN "ChangeRequestFinding" cf ON cf."changeRequestId" = c.id
      JOIN "Finding" f ON f.id = cf."findingId"
      LEFT JOIN "Team" t ON t.id = c."teamId"
      WHERE ${cond}
      ORDER BY c.number DESC
      LIMIT 50`;
  }

  /** Hosts with an open (or deferred/accepted) finding matching `where`. */
  async affectedHosts(where: { cve: string } | { advisoryId: string }): Promise<number> {
    const cond =
      'cve' in where
        ? Prisma.sql`${where.cve} = ANY (f.cves)`
        : Prisma.sql`f."advisoryId" = ${where.advisoryId}`;
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT COUNT(DISTINCT f."hostId")::int AS n FROM "Finding" f
      WHERE f.status IN ('open', 'deferred', 'accepted') AND ${cond}`;
    return row?.n ?? 0;
  }

  /** The open findings of one host, highest risk first (one host holds at most thousands). */
  async openFindingsOfHost(hostId: string): Promise<HostFindingRow[]> {
    return this.prisma.$queryRaw<HostFindingRow[]>`
      SELECT f."packageName", f.ecosystem, f."installedVersion", f."fixedVersion", f."advisoryId", f.cves,
        f."riskScore", f.severity::text AS severity, f.kev, f."slaDueAt"
      FROM "Finding" f
      WHERE f."hostId" = ${hostId}::uuid AND f.status = 'open'
      ORDER BY f."riskScore" DESC, f."packageName", f."advisoryId"`;
  }

  /** Open findings per band over the fleet (metrics gauges). */
  async openByBand(): Promise<Record<Severity, number>> {
    const rows = await this.prisma.$queryRaw<{ band: Severity; n: number }[]>`
      SELECT severity::text AS band, COUNT(*)::int AS n FROM "Finding" WHERE status = 'open' GROUP BY severity`;
    const out = Object.fromEntries(BANDS.map((b) => [b, 0])) as Record<Severity, number>;
    for (const r of rows) out[r.band] = r.n;
    return out;
  }

  /** Deployments by state (every deployment, finished ones too). */
  async deploymentStates(): Promise<Record<string, number>> {
    const rows = await this.prisma.$queryRaw<{ state: string; n: number }[]>`
      SELECT state::text AS state, COUNT(*)::int AS n FROM "Deployment" GROUP BY state`;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /**
   * Host runs by state, of the deployments that have not finished (planned, waiting for a window,
   * running, soaking, paused, halted, rolling back): the hosts a rollout is working on now.
   */
  async activeHostRunStates(): Promise<Record<string, number>> {
    const rows = await this.prisma.$queryRaw<{ state: string; n: number }[]>`
      SELECT hr.state::text AS state, COUNT(*)::int AS n
      FROM "HostRun" hr
      JOIN "DeploymentRing" r ON r.id = hr."ringId"
      JOIN "Deployment" d ON d.id = r."deploymentId"
      WHERE d.state IN ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'halted', 'rolling_back')
      GROUP BY hr.state`;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** An advisory's summary and CVEs. */
  async advisory(id: string): Promise<{ id: string; summary: string; cves: string[] } | null> {
    return this.prisma.advisory.findUnique({
      where: { id },
      select: { id: true, summary: true, cves: true },
    });
  }

  /** The summary of an advisory naming the CVE (the most recently modified), when one exists. */
  async summaryForCve(cve: string): Promise<string | undefined> {
    const row = await this.prisma.advisory.findFirst({
      where: { cves: { has: cve }, summary: { not: '' } },
      select: { summary: true },
      orderBy: { modified: 'desc' },
    });
    return row?.summary;
  }

  /** The CVSS score risk uses for the CVE, when known. */
  async cvss(cve: string): Promise<{ score: number; version: string } | undefined> {
    const row = await this.prisma.cveEnrichment.findUnique({
      where: { cve },
      select: { cvssScore: true, cvssVersion: true },
    });
    return row?.cvssScore != null ? { score: row.cvssScore, version: row.cvssVersion ?? '' } : undefined;
  }

  /** A cheap round trip (readiness). */
  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }
}
