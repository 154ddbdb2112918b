/**
 * Findings: host x installed package x advisory. A re-match of a host replaces what the database
 * believes about it in one transaction: new matches open findings, vanished ones are marked fixed
 * with the time, a finding that comes back after a fix is reopened, and unchanged ones only have
 * their last-seen time moved. Accepted and deferred findings keep their status until it expires.
 */
import type { RiskAssessment, RiskFactor, Severity, SsvcDecision } from '../../core/model.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';

export type FindingStatus = 'open' | 'fixed' | 'accepted' | 'deferred';

/** One current match of a host, scored. */
export interface FindingWrite {
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

const SSVC_TO_DB = { Track: 'Track', 'Track*': 'TrackStar', Attend: 'Attend', Act: 'Act' } as const;
const SSVC_FROM_DB: Record<string, SsvcDecision> = {
  Track: 'Track',
  TrackStar: 'Track*',
  Attend: 'Attend',
  Act: 'Act',
};

const keyOf = (packageName: string, advisoryId: string): string => `${packageName}\u0000${advisoryId}`;

/** Risk numbers are stored with two decimals: comparisons must use the same rounding. */
const round2 = (n: number): number => Math.round(n * 100) / 100;

function sameDate(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}

export class FindingRepository {
  constructor(private readonly prisma: DbClient) {}

  /** Replaces the host's findings with its current matches (see the file comment). */
  async syncHost(hostId: string, writes: readonly FindingWrite[], now: Date): Promise<HostFindingsChange> {
    const change: HostFindingsChange = { opened: [], updated: [], unchanged: 0, resolved: [] };
    const current = new Map<string, FindingWrite>();
    for (const w of writes) current.set(keyOf(w.packageName, w.advisoryId), w);

    await this.prisma.$transaction(
      async (tx) => {
        const existing = await tx.finding.findMany({
          where: { hostId },
          select: {
            id: true,
            packageName: true,
            advisoryId: true,
            status: true,
            statusUntil: true,
            installedVersion: true,
            fixedVersion: true,
            riskScore: true,
            severity: true,
            ssvc: true,
            kev: true,
            epssScore: true,
            slaDueAt: true,
          },
        });
        const touched: string[] = [];
        const seen = new Set<string>();
        for (const row of existing) {
          const key = keyOf(row.packageName, row.advisoryId);
          const w = current.get(key);
          if (!w) {
            if (row.status !== 'fixed') change.resolved.push(row.id);
            continue;
          }
          seen.add(key);
          const fields = scoredFields(w);
          if (row.status === 'fixed') {
            await tx.finding.update({
              where: { id: row.id },
              data: {
                ...fields,
                status: 'open',
                resolvedAt: null,
                statusUntil: null,
                firstSeenAt: now,
                lastSeenAt: now,
                notifiedAt: null,
                notifiedScore: null,
                notifiedKev: null,
              },
            });
            change.opened.push(row.id);
            continue;
          }
          const expired =
            (row.status === 'accepted' || row.status === 'deferred') &&
            row.statusUntil !== null &&
            row.statusUntil.getTime() <= now.getTime();
          const differs =
            expired ||
            row.installedVersion !== fields.installedVersion ||
            row.fixedVersion !== fields.fixedVersion ||
            round2(row.riskScore) !== fields.riskScore ||
            row.severity !== fields.severity ||
            row.ssvc !== fields.ssvc ||
            row.kev !== fields.kev ||
            row.epssScore !== fields.epssScore ||
            !sameDate(row.slaDueAt, fields.slaDueAt);
          if (differs) {
            await tx.finding.update({
              where: { id: row.id },
              data: { ...fields, lastSeenAt: now, ...(expired ? { status: 'open', statusUntil: null } : {}) },
            });
            change.updated.push(row.id);
          } else {
            touched.push(row.id);
            change.unchanged++;
          }
        }
        const fresh = [...current.entries()].filter(([key]) => !seen.has(key)).map(([, w]) => w);
        for (let i = 0; i < fresh.length; i += 1_000) {
          const created = await tx.finding.createManyAndReturn({
            data: fresh.slice(i, i + 1_000).map((w) => ({
              hostId,
              packageName: w.packageName,
              sourcePackage: w.sourcePackage,
              advisoryId: w.advisoryId,
              ecosystem: w.ecosystem,
              firstSeenAt: now,
              lastSeenAt: now,
              ...scoredFields(w),
            })),
            select: { id: true },
          });
          change.opened.push(...created.map((c) => c.id));
        }
        if (touched.length > 0) {
          for (let i = 0; i < touched.length; i += 10_000) {
            await tx.finding.updateMany({
              where: { id: { in: touched.slice(i, i + 10_000) } },
              data: { lastSeenAt: now },
            });
          }
        }
        if (change.resolved.length > 0) {
          await tx.finding.updateMany({
            where: { id: { in: change.resolved } },
            data: { status: 'fixed', resolvedAt: now, statusUntil: null },
          });
        }
      },
      { timeout: 300_000, maxWait: 60_000 },
    );
    return change;
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

function scoredFields(w: FindingWrite) {
  return {
    installedVersion: w.installedVersion,
    fixedVersion: w.fixedVersion,
    cves: [...w.cves],
    riskScore: round2(w.risk.score),
    riskBreakdown: w.risk.factors as unknown as Prisma.InputJsonValue,
    severity: w.risk.severity,
    ssvc: SSVC_TO_DB[w.risk.ssvc],
    kev: w.kev,
    epssScore: w.epssScore,
    slaDueAt: w.risk.dueDate,
    dueReason: w.risk.dueReason,
  };
}

type FindingRow = Prisma.FindingGetPayload<{ include: { host: { select: { name: true } } } }>;

function toStored(r: FindingRow): StoredFinding {
  return {
    id: r.id,
    hostId: r.hostId,
    hostName: r.host.name,
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
