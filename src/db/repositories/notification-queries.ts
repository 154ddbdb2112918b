/**
 * What "newly relevant" reads and writes: open findings with a fix that were never announced or
 * got worse since (a coarse SQL filter; the use case decides with core/risk's isEscalation), the
 * "announced" marks, and the lock that keeps several workers from announcing the same thing twice.
 */
import type { FindingKind, RiskFactor, Severity, SsvcDecision } from '../../core/model.js';
import type { DatabaseKind, DbClient } from '../client.js';

export interface NotifyCandidate {
  id: string;
  hostId: string;
  hostName: string;
  environment: string;
  /** The host's owning team (null: none resolved). */
  team: string | null;
  /** os, third-party or firmware. */
  findingKind: FindingKind;
  /** Where the package is (interpreter, lockfile, fwupd device id); "" for a distribution package. */
  owner: string;
  ownerKind: string | null;
  packageName: string;
  sourcePackage: string;
  ecosystem: string;
  advisoryId: string;
  installedVersion: string;
  fixedVersion: string;
  cves: string[];
  riskScore: number;
  riskFactors: RiskFactor[];
  severity: Severity;
  ssvc: SsvcDecision | null;
  kev: boolean;
  epssScore: number | null;
  slaDueAt: Date | null;
  dueReason: string | null;
  notifiedAt: Date | null;
  notifiedScore: number | null;
  notifiedKev: boolean | null;
  notifiedEpss: number | null;
}

export interface CandidateFilter {
  /** Findings below this score are not announced. */
  minRisk: number;
  /** Pre-filter of escalations (the use case checks them exactly). */
  escalationDelta: number;
  epssEscalation: number;
}

export interface CveFacts {
  cve: string;
  kevDueDate: Date | null;
  kevDateAdded: Date | null;
  kevRansomware: boolean;
  epssScore: number | null;
  epssPercentile: number | null;
}

const SSVC_FROM_DB: Record<string, SsvcDecision> = {
  Track: 'Track',
  TrackStar: 'Track*',
  Attend: 'Attend',
  Act: 'Act',
};

/** The advisory lock key of notification runs ("pbnotify"). */
export const NOTIFY_LOCK_KEY = 0x70626e6f;

export class NotificationQueries {
  private running = false;

  constructor(
    private readonly prisma: DbClient,
    private readonly kind: DatabaseKind,
  ) {}

  /** Open findings with a fixed version at or above `minRisk` that were never announced or may have escalated. */
  async candidates(filter: CandidateFilter): Promise<NotifyCandidate[]> {
    const rows = await this.prisma.$queryRaw<
      (Omit<NotifyCandidate, 'riskFactors' | 'ssvc'> & { riskBreakdown: unknown; ssvc: string | null })[]
    >`
      SELECT f.id, f."hostId", h.name AS "hostName", h.environment, t.name AS team,
        f.kind::text AS "findingKind", f.owner, f."ownerKind",
        f."packageName", f."sourcePackage", f.ecosystem, f."advisoryId", f."installedVersion",
        f."fixedVersion", f.cves, f."riskScore", f."riskBreakdown", f.severity::text AS severity,
        f.ssvc::text AS ssvc, f.kev, f."epssScore", f."slaDueAt", f."dueReason", f."notifiedAt",
        f."notifiedScore", f."notifiedKev", f."notifiedEpss"
      FROM "Finding" f
      JOIN "Host" h ON h.id = f."hostId"
      LEFT JOIN "Team" t ON t.id = h."teamId"
      WHERE f.status = 'open'
        AND h."retiredAt" IS NULL
        AND f."fixedVersion" IS NOT NULL
        AND f."riskScore" >= ${filter.minRisk}
        AND (
          f."notifiedAt" IS NULL
          OR (f.kev AND NOT COALESCE(f."notifiedKev", false))
          OR f."riskScore" - COALESCE(f."notifiedScore", 0) >= ${filter.escalationDelta - 0.05}
          OR (COALESCE(f."epssScore", 0) >= ${filter.epssEscalation}
              AND COALESCE(f."notifiedEpss", 0) < ${filter.epssEscalation})
        )
      ORDER BY f."riskScore" DESC, f."packageName", h.name, f."advisoryId"`;
    return rows.map((r) => ({
      ...r,
      riskFactors: (Array.isArray(r.riskBreakdown) ? r.riskBreakdown : []) as RiskFactor[],
      ssvc: r.ssvc ? (SSVC_FROM_DB[r.ssvc] ?? null) : null,
    }));
  }

  /** Remembers what was announced: the findings' current score, KEV and EPSS. */
  async markNotified(ids: readonly string[], now: Date): Promise<number> {
    let n = 0;
    for (let i = 0; i < ids.length; i += 10_000) {
      n += await this.prisma.$executeRaw`
        UPDATE "Finding" SET "notifiedAt" = ${now}::timestamptz, "notifiedScore" = "riskScore",
          "notifiedKev" = kev, "notifiedEpss" = "epssScore", "updatedAt" = CURRENT_TIMESTAMP
        WHERE id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids.slice(i, i + 10_000))}::jsonb)::uuid)`;
    }
    return n;
  }

  /** KEV and EPSS facts of the CVEs (those known). */
  async cveFacts(cves: readonly string[]): Promise<Map<string, CveFacts>> {
    const out = new Map<string, CveFacts>();
    if (cves.length === 0) return out;
    const rows = await this.prisma.cveEnrichment.findMany({
      where: { cve: { in: [...new Set(cves)] } },
      select: {
        cve: true,
        kevDueDate: true,
        kevDateAdded: true,
        kevRansomware: true,
        epssScore: true,
        epssPercentile: true,
      },
    });
    for (const r of rows) out.set(r.cve, r);
    return out;
  }

  /**
   * Runs `fn` while holding the notification lock; returns `{ ran: false }` at once when another
   * process holds it. PostgreSQL: a transaction-level advisory lock on a connection kept for the run.
   * The embedded database belongs to one process: a flag in this process is the lock.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.kind === 'embedded') {
      if (this.running) return { ran: false };
      this.running = true;
      try {
        return { ran: true, value: await fn() };
      } finally {
        this.running = false;
      }
    }
    return this.prisma.$transaction(
      async (tx) => {
        const [row] = await tx.$queryRaw<{ locked: boolean }[]>`
          SELECT pg_try_advisory_xact_lock(${NOTIFY_LOCK_KEY}::bigint) AS locked`;
        if (!row?.locked) return { ran: false as const };
        return { ran: true as const, value: await fn() };
      },
      { timeout: 60 * 60_000, maxWait: 30_000 },
    );
  }
}
