/**
 * Findings: host x installed package x advisory. A re-match of a host replaces what the database
 * believes about it in one transaction: new matches open findings, vanished ones are marked fixed
 * with the time, a finding that comes back after a fix is reopened, and unchanged ones only have
 * their last-seen time moved. Accepted and deferred findings keep their status until it expires.
 */
import type { FindingKind, RiskAssessment, RiskFactor, Severity, SsvcDecision } from '../../core/model.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';

export type FindingStatus = 'open' | 'fixed' | 'accepted' | 'deferred';

/** One current match of a host, scored. */
export interface FindingWrite {
  /** Default "os". */
  kind?: FindingKind;
  /** Where the package is (interpreter, lockfile, fwupd device id); "" or absent for a distribution package. */
  owner?: string;
  ownerKind?: string | null;
  packageName: string;
  sourcePackage: string;
  advisoryId: string;
  ecosystem: string;
  installedVersion: string;
  fixedVersion: string | null;
  cves: readonly string[];
  kev: boolean;
  epssScore: number | null;
  risk: RiskAssessment;
}

export interface StoredFinding {
  id: string;
  hostId: string;
  hostName: string;
  kind: FindingKind;
  /** "" for a distribution package. */
  owner: string;
  ownerKind: string | null;
  packageName: string;
  sourcePackage: string;
  advisoryId: string;
  ecosystem: string;
  installedVersion: string;
  fixedVersion: string | null;
  cves: string[];
  status: FindingStatus;
  firstSeenAt: Date;
  lastSeenAt: Date;
  resolvedAt: Date | null;
  riskScore: number;
  riskFactors: RiskFactor[];
  severity: Severity;
  ssvc: SsvcDecision | null;
  kev: boolean;
  epssScore: number | null;
  slaDueAt: Date | null;
  dueReason: string | null;
  notifiedAt: Date | null;
}

export interface HostFindingsChange {
  /** Findings that did not exist, or came back after being fixed. */
  opened: string[];
  /** Findings whose versions or risk changed. */
  updated: string[];
  unchanged: number;
  /** Findings no longer matched: the package is at or above the fix, removed, or the advisory withdrawn. */
  resolved: string[];
}

const SSVC_FROM_DB: Record<string, SsvcDecision> = {
  Track: 'Track',
  TrackStar: 'Track*',
  Attend: 'Attend',
  Act: 'Act',
};

const keyOf = (packageName: string, advisoryId: string, owner = ''): string =>
  `${packageName}\u0000${advisoryId}\u0000${owner}`;

/** Risk numbers are stored with two decimals: comparisons must use the same rounding. */
const round2 = (n: number): number => Math.round(n * 100) / 100;

export class FindingRepository {
  constructor(private readonly prisma: DbClient) {}

  /** Replaces the host's findings with its current matches (see the file comment). */
  async syncHost(hostId: string, writes: readonly FindingWrite[], now: Date): Promise<HostFindingsChange> {
    const changes = await this.syncHosts([{ hostId, writes }], now);
    return changes.get(hostId) ?? { opened: [], updated: [], unchanged: 0, resolved: [] };
  }

  /**
   * `syncHost` for several hosts in one transaction, with multi-row reads and writes: one read of
   * the hosts' findings, one INSERT of the new ones, one UPDATE of the changed (or reopened) ones,
   * one of the unchanged ones' last-seen time and one of the resolved ones. Returns the change per
   * host id (every host given has an entry).
   */
  async syncHosts(
    hosts: readonly { hostId: string; writes: readonly FindingWrite[] }[],
    now: Date,
  ): Promise<Map<string, HostFindingsChange>> {
    const changes = new Map<string, HostFindingsChange>();
    const current = new Map<string, Map<string, FindingWrite>>();
    for (const { hostId, writes } of hosts) {
      let byKey = current.get(hostId);
      if (!byKey) {
        current.set(hostId, (byKey = new Map<string, FindingWrite>()));
        changes.set(hostId, { opened: [], updated: [], unchanged: 0, resolved: [] });
      }
      for (const w of writes) byKey.set(keyOf(w.packageName, w.advisoryId, w.owner), w);
    }
    if (current.size === 0) return changes;

    await this.prisma.$transaction(
      async (tx) => {
        // one JSON text per host rather than a row per finding: a fleet batch reads ~10^5 findings
        const lists = await tx.$queryRaw<{ hostId: string; rows: string }[]>`
          SELECT f."hostId"::text AS "hostId",
            json_agg(json_build_array(f.id, f."packageName", f."advisoryId", f.status,
              (extract(epoch FROM f."statusUntil") * 1000)::bigint, f."installedVersion", f."fixedVersion",
              f."riskScore", f.severity, f.ssvc, f.kev, f."epssScore",
              (extract(epoch FROM f."slaDueAt") * 1000)::bigint, f.owner) ORDER BY f.id)::text AS rows
          FROM "Finding" f
          WHERE f."hostId" = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify([...current.keys()])}::jsonb)::uuid))
          GROUP BY f."hostId"`;
        const rewrites: Rewrite[] = [];
        const touched: string[] = [];
        const resolved: string[] = [];
        const seen = new Set<string>();
        for (const { hostId, rows } of lists) {
          const change = changes.get(hostId)!;
          const byKey = current.get(hostId)!;
          for (const row of JSON.parse(rows) as ExistingRow[]) {
            const [id, packageName, advisoryId, status, statusUntil] = row;
            const key = keyOf(packageName, advisoryId, row[13]);
            const w = byKey.get(key);
            if (!w) {
              if (status !== 'fixed') {
                change.resolved.push(id);
                resolved.push(id);
              }
              continue;
            }
            seen.add(`${hostId}\u0000${key}`);
            if (status === 'fixed') {
              rewrites.push({ id, write: w, reopen: true, expired: false });
              change.opened.push(id);
              continue;
            }
            const expired =
              (status === 'accepted' || status === 'deferred') &&
              statusUntil !== null &&
              statusUntil <= now.getTime();
            if (expired || differs(row, w)) {
              rewrites.push({ id, write: w, reopen: false, expired });
              change.updated.push(id);
            } else {
              touched.push(id);
              change.unchanged++;
            }
          }
        }
        const fresh: { hostId: string; write: FindingWrite }[] = [];
        for (const [hostId, byKey] of current) {
          for (const [key, write] of byKey)
            if (!seen.has(`${hostId}\u0000${key}`)) fresh.push({ hostId, write });
        }

        for (let i = 0; i < fresh.length; i += WRITE_CHUNK) {
          const created = await tx.$queryRaw<{ id: string; hostId: string }[]>`
            INSERT INTO "Finding" ("hostId", kind, owner, "ownerKind", "packageName", "sourcePackage", "advisoryId", ecosystem,
              "installedVersion", "fixedVersion", cves, "firstSeenAt", "lastSeenAt", status, "riskScore",
              "riskBreakdown", severity, ssvc, kev, "epssScore", "slaDueAt", "dueReason", "updatedAt")
            SELECT v."hostId"::uuid, coalesce(v.kind, 'os')::"FindingKind", coalesce(v.owner, ''), v."ownerKind", v."packageName", v."sourcePackage", v."advisoryId", v.ecosystem,
              v."installedVersion", v."fixedVersion", ARRAY(SELECT jsonb_array_elements_text(v.cves)),
              ${now}::timestamptz, ${now}::timestamptz, 'open'::"FindingStatus", v."riskScore", v."riskBreakdown",
              v.severity::"SeverityBand", v.ssvc::"SsvcDecision", v.kev, v."epssScore", v."slaDueAt",
              v."dueReason", CURRENT_TIMESTAMP
            FROM jsonb_to_recordset(${rowsJson(fresh.slice(i, i + WRITE_CHUNK), (f) => ({ hostId: f.hostId, ...f.write }))}::jsonb)
              AS v(ord int, "hostId" text, kind text, owner text, "ownerKind" text, "packageName" text, "sourcePackage" text, "advisoryId" text, ecosystem text,
                "installedVersion" text, "fixedVersion" text, cves jsonb, "riskScore" double precision,
                "riskBreakdown" jsonb, severity text, ssvc text, kev boolean, "epssScore" double precision,
                "slaDueAt" timestamptz, "dueReason" text)
            ORDER BY v.ord
            RETURNING id, "hostId"`;
          for (const c of created) changes.get(c.hostId)!.opened.push(c.id);
        }
        for (let i = 0; i < rewrites.length; i += WRITE_CHUNK) {
          await tx.$executeRaw`
            UPDATE "Finding" AS f SET
              "installedVersion" = v."installedVersion",
              "fixedVersion" = v."fixedVersion",
              cves = ARRAY(SELECT jsonb_array_elements_text(v.cves)),
              "riskScore" = v."riskScore",
              "riskBreakdown" = v."riskBreakdown",
              severity = v.severity::"SeverityBand",
              ssvc = v.ssvc::"SsvcDecision",
              kev = v.kev,
              "epssScore" = v."epssScore",
              "slaDueAt" = v."slaDueAt",
              "dueReason" = v."dueReason",
              "lastSeenAt" = ${now}::timestamptz,
              status = CASE WHEN v.reopen OR v.expired THEN 'open'::"FindingStatus" ELSE f.status END,
              "statusUntil" = CASE WHEN v.reopen OR v.expired THEN NULL ELSE f."statusUntil" END,
              "resolvedAt" = CASE WHEN v.reopen THEN NULL ELSE f."resolvedAt" END,
              "firstSeenAt" = CASE WHEN v.reopen THEN ${now}::timestamptz ELSE f."firstSeenAt" END,
              "notifiedAt" = CASE WHEN v.reopen THEN NULL ELSE f."notifiedAt" END,
              "notifiedScore" = CASE WHEN v.reopen THEN NULL ELSE f."notifiedScore" END,
              "notifiedKev" = CASE WHEN v.reopen THEN NULL ELSE f."notifiedKev" END,
              "updatedAt" = CURRENT_TIMESTAMP
            FROM jsonb_to_recordset(${rowsJson(rewrites.slice(i, i + WRITE_CHUNK), (r) => ({ id: r.id, reopen: r.reopen, expired: r.expired, ...r.write }))}::jsonb)
              AS v(id text, reopen boolean, expired boolean, "installedVersion" text, "fixedVersion" text,
                cves jsonb, "riskScore" double precision, "riskBreakdown" jsonb, severity text, ssvc text,
                kev boolean, "epssScore" double precision, "slaDueAt" timestamptz, "dueReason" text)
            WHERE f.id = v.id::uuid`;
        }
        for (let i = 0; i < touched.length; i += ID_CHUNK) {
          await tx.$executeRaw`
            UPDATE "Finding" SET "lastSeenAt" = ${now}::timestamptz, "updatedAt" = CURRENT_TIMESTAMP
            WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(touched.slice(i, i + ID_CHUNK))}::jsonb)::uuid))`;
        }
        for (let i = 0; i < resolved.length; i += ID_CHUNK) {
          await tx.$executeRaw`
            UPDATE "Finding" SET status = 'fixed', "resolvedAt" = ${now}::timestamptz, "statusUntil" = NULL,
              "updatedAt" = CURRENT_TIMESTAMP
            WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(resolved.slice(i, i + ID_CHUNK))}::jsonb)::uuid))`;
        }
      },
      { timeout: 300_000, maxWait: 60_000 },
    );
    return changes;
  }

  /**
   * When the current (open, accepted or deferred) findings of the hosts were first seen, keyed by
   * `findingSeenKey(hostId, packageName, advisoryId)`: the start of their SLA clock.
   */
  async firstSeen(hostIds: readonly string[]): Promise<Map<string, Date>> {
    const out = new Map<string, Date>();
    if (hostIds.length === 0) return out;
    const rows = await this.prisma.finding.findMany({
      where: { hostId: { in: [...hostIds] }, status: { in: ['open', 'accepted', 'deferred'] } },
      select: { hostId: true, packageName: true, advisoryId: true, owner: true, firstSeenAt: true },
    });
    for (const r of rows)
      out.set(findingSeenKey(r.hostId, r.packageName, r.advisoryId, r.owner), r.firstSeenAt);
    return out;
  }

  /** Findings by id, with their host names. */
  async byIds(ids: readonly string[]): Promise<StoredFinding[]> {
    const out: StoredFinding[] = [];
    for (let i = 0; i < ids.length; i += 10_000) {
      const rows = await this.prisma.finding.findMany({
        where: { id: { in: ids.slice(i, i + 10_000) } },
        include: { host: { select: { name: true } } },
      });
      out.push(...rows.map(toStored));
    }
    return out;
  }

  /** Findings of the given hosts in the given states (default: open), highest risk first. */
  async forHosts(hostIds: readonly string[], statuses: FindingStatus[] = ['open']): Promise<StoredFinding[]> {
    const rows = await this.prisma.finding.findMany({
      where: { hostId: { in: [...hostIds] }, status: { in: statuses } },
      include: { host: { select: { name: true } } },
      orderBy: [{ riskScore: 'desc' }, { packageName: 'asc' }, { advisoryId: 'asc' }],
    });
    return rows.map(toStored);
  }
}

/**
 * A stored finding as `syncHosts` reads it: id, packageName, advisoryId, status, statusUntil (epoch
 * ms), installedVersion, fixedVersion, riskScore, severity, ssvc (the database label, "Track*"),
 * kev, epssScore, slaDueAt (epoch ms).
 */
type ExistingRow = [
  string,
  string,
  string,
  FindingStatus,
  number | null,
  string,
  string | null,
  number,
  string,
  string | null,
  boolean,
  number | null,
  number | null,
  string,
];

/** Whether what the database holds differs from the current match (risk numbers as stored). */
function differs(row: ExistingRow, w: FindingWrite): boolean {
  const [, , , , , installedVersion, fixedVersion, riskScore, severity, ssvc, kev, epssScore, slaDueAt] = row;
  return (
    installedVersion !== w.installedVersion ||
    fixedVersion !== w.fixedVersion ||
    round2(riskScore) !== round2(w.risk.score) ||
    severity !== w.risk.severity ||
    ssvc !== w.risk.ssvc ||
    kev !== w.kev ||
    epssScore !== w.epssScore ||
    slaDueAt !== w.risk.dueDate.getTime()
  );
}

/** Rows per multi-row statement of `syncHosts` (one JSON parameter each). */
const WRITE_CHUNK = 1_000;
const ID_CHUNK = 20_000;

interface Rewrite {
  id: string;
  write: FindingWrite;
  /** A fixed finding that is back: opened again with a new first-seen time. */
  reopen: boolean;
  /** An acceptance or deferral that ran out: open again. */
  expired: boolean;
}

/** The key of `FindingRepository.firstSeen`. */
export const findingSeenKey = (hostId: string, packageName: string, advisoryId: string, owner = ''): string =>
  `${hostId}\u0000${packageName}\u0000${advisoryId}\u0000${owner}`;

/**
 * Rows for `jsonb_to_recordset`: the scored fields of each write (as the database stores them,
 * see scoredFields) plus what `extra` adds, and `ord`, the position (RETURNING keeps that order).
 */
function rowsJson<T>(
  items: readonly T[],
  pick: (item: T) => { [k: string]: unknown } & FindingWrite,
): string {
  return JSON.stringify(
    items.map((item, ord) => {
      const { risk, cves, kev, epssScore, installedVersion, fixedVersion, ...rest } = pick(item);
      return {
        ...rest,
        ord,
        installedVersion,
        fixedVersion,
        cves,
        riskScore: round2(risk.score),
        riskBreakdown: risk.factors,
        severity: risk.severity,
        ssvc: risk.ssvc,
        kev,
        epssScore,
        slaDueAt: risk.dueDate.toISOString(),
        dueReason: risk.dueReason,
      };
    }),
  );
}

type FindingRow = Prisma.FindingGetPayload<{ include: { host: { select: { name: true } } } }>;

function toStored(r: FindingRow): StoredFinding {
  return {
    id: r.id,
    hostId: r.hostId,
    hostName: r.host.name,
    kind: r.kind === 'third_party' ? 'third-party' : r.kind,
    owner: r.owner,
    ownerKind: r.ownerKind,
    packageName: r.packageName,
    sourcePackage: r.sourcePackage,
    advisoryId: r.advisoryId,
    ecosystem: r.ecosystem,
    installedVersion: r.installedVersion,
    fixedVersion: r.fixedVersion,
    cves: r.cves,
    status: r.status,
    firstSeenAt: r.firstSeenAt,
    lastSeenAt: r.lastSeenAt,
    resolvedAt: r.resolvedAt,
    riskScore: r.riskScore,
    riskFactors: r.riskBreakdown as unknown as RiskFactor[],
    severity: r.severity,
    ssvc: r.ssvc ? (SSVC_FROM_DB[r.ssvc] ?? null) : null,
    kev: r.kev,
    epssScore: r.epssScore,
    slaDueAt: r.slaDueAt,
    dueReason: r.dueReason,
    notifiedAt: r.notifiedAt,
  };
}
