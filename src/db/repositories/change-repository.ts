/**
 * Change requests (fix campaigns), their decisions and their chat messages.
 *
 * A decision is recorded inside one transaction that first locks the change's row: concurrent
 * clicks on one change are decided one after the other, each seeing the decisions before it, so
 * two simultaneous approvals by one person record one decision and a quorum is never counted
 * twice. The caller's `decide` function (pure: the approval policy) sees the locked state and says
 * what to write; the decision, the change's new status, the findings' status and the audit row
 * are written together or not at all.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Severity } from '../../core/model.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';
import type { Surface } from '../types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ChangeStatus =
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'deferred'
  | 'accepted_risk'
  | 'scheduled'
  | 'deploying'
  | 'completed'
  | 'failed'
  | 'halted'
  | 'rolled_back'
  | 'cancelled'
  | 'expired';

/** Statuses after which a new campaign for the same fix and team starts afresh. */
export const CLOSED_CHANGE_STATUSES: readonly ChangeStatus[] = [
  'rejected',
  'accepted_risk',
  'completed',
  'rolled_back',
  'cancelled',
  'expired',
];

/**
 * Statuses in which a change's scope is frozen: its hosts (findings) and version were fixed when it
 * was approved (triggers in the database refuse more). Hosts found later start a new change.
 */
export const SCOPE_FROZEN_CHANGE_STATUSES: readonly ChangeStatus[] = [
  'approved',
  'scheduled',
  'deploying',
  'completed',
  'failed',
  'halted',
  'rolled_back',
];

const ACTIVE_FROZEN_STATUSES = SCOPE_FROZEN_CHANGE_STATUSES.filter(
  (st) => !CLOSED_CHANGE_STATUSES.includes(st),
);

export type DecisionKindName =
  'approve' | 'reject' | 'defer' | 'accept_risk' | 'pause' | 'resume' | 'abort' | 'rollback';

export interface DecisionRecord {
  id: string;
  kind: DecisionKindName;
  actorId: string;
  actorDisplay: string | null;
  surface: Surface;
  reason: string | null;
  expiresAt: Date | null;
  deferUntil: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

export interface ChangeFindingRecord {
  id: string;
  hostId: string;
  hostName: string;
  environment: string;
  labels: Record<string, string>;
  hostGroups: string[];
  hostTeam: string | null;
  packageName: string;
  sourcePackage: string;
  installedVersion: string;
  fixedVersion: string | null;
  advisoryId: string;
  advisorySummary: string | null;
  cves: string[];
  status: 'open' | 'fixed' | 'accepted' | 'deferred';
  riskScore: number;
  riskBreakdown: unknown;
  severity: Severity;
  ssvc: string | null;
  kev: boolean;
  epssScore: number | null;
  slaDueAt: Date | null;
  dueReason: string | null;
}

export interface ChangeDetail {
  id: string;
  number: number;
  ecosystem: string;
  packageName: string;
  sourcePackage: string | null;
  fixedVersion: string;
  team: string | null;
  status: ChangeStatus;
  requestedBy: string;
  requestedVia: Surface;
  policySnapshot: unknown;
  approvalsRequired: number;
  emergency: boolean;
  riskScore: number | null;
  severity: Severity | null;
  kev: boolean;
  deferUntil: Date | null;
  approvedAt: Date | null;
  closedAt: Date | null;
  createdAt: Date;
  decisions: DecisionRecord[];
  findings: ChangeFindingRecord[];
}

export interface CampaignUpsert {
  team: string;
  ecosystem: string;
  packageName: string;
  sourcePackage: string;
  fixedVersion: string;
  findingIds: readonly string[];
  riskScore: number;
  severity: Severity;
  kev: boolean;
  /** The approval policy that applied at creation (kept for the record). */
  policySnapshot: Record<string, unknown>;
  approvalsRequired: number;
  requestedBy?: string;
}

export interface StoredMessage {
  platform: 'slack' | 'teams';
  channel: string;
  id: string;
  threadId?: string;
  kind: 'change' | 'summary' | 'digest' | 'notice';
  renderHash: string | null;
}

/** What a decision writes, decided by the caller on the locked state. */
export interface DecisionWrite {
  kind: DecisionKindName;
  actorId: string;
  actorDisplay?: string;
  surface: Surface;
  reason?: string;
  expiresAt?: Date;
  deferUntil?: Date;
  /** Same key, kind and actor as an existing decision = the same click: nothing is written twice. */
  dedupeKey: string;
  /** The change's new status, when it changes. */
  status?: ChangeStatus;
  approvedAt?: Date;
  /** Findings of the change get this status (defer, accept risk) until `findingsUntil`. */
  findingsStatus?: 'deferred' | 'accepted';
  findingsUntil?: Date;
  riskAcceptance?: { reason: string; owner: string; expiresAt: Date };
  audit: { action: string; details: Record<string, unknown> };
}

export type DecideOutcome<R> =
  | { type: 'recorded'; decision: DecisionRecord; change: ChangeDetail; result: R }
  | { type: 'refused'; change: ChangeDetail; result: R }
  | { type: 'duplicate'; change: ChangeDetail; result: R };

const Labels = z.record(z.string(), z.string());

const changeInclude = {
  team: { select: { name: true } },
  decisions: { orderBy: { createdAt: 'asc' } },
  findings: {
    include: {
      finding: {
        include: {
          host: {
            select: {
              name: true,
              environment: true,
              labels: true,
              groups: true,
              team: { select: { name: true } },
            },
          },
          advisory: { select: { summary: true } },
        },
      },
    },
  },
} satisfies Prisma.ChangeRequestInclude;

type ChangeRow = Prisma.ChangeRequestGetPayload<{ include: typeof changeInclude }>;

export function changeWhere(ref: string): Prisma.ChangeRequestWhereInput {
  const s = ref.trim().replace(/^#/, '');
  if (UUID.test(s)) return { id: s.toLowerCase() };
  if (/^\d{1,9}$/.test(s)) return { number: Number(s) };
  throw new ValidationError(
    `expected a change number (e.g. 42) or id, got ${JSON.stringify(ref.slice(0, 80))}`,
  );
}

function toDecision(d: ChangeRow['decisions'][number]): DecisionRecord {
  return {
    id: d.id,
    kind: d.kind,
    actorId: d.actorId,
    actorDisplay: d.actorDisplay,
    surface: d.surface,
    reason: d.reason,
    expiresAt: d.expiresAt,
    deferUntil: d.deferUntil,
    revokedAt: d.revokedAt,
    createdAt: d.createdAt,
  };
}

function toDetail(row: ChangeRow): ChangeDetail {
  return {
    id: row.id,
    number: row.number,
    ecosystem: row.ecosystem,
    packageName: row.packageName,
    sourcePackage: row.sourcePackage,
    fixedVersion: row.fixedVersion,
    team: row.team?.name ?? null,
    status: row.status,
    requestedBy: row.requestedBy,
    requestedVia: row.requestedVia,
    policySnapshot: row.policySnapshot,
    approvalsRequired: row.approvalsRequired,
    emergency: row.emergency,
    riskScore: row.riskScore,
    severity: row.severity,
    kev: row.kev,
    deferUntil: row.deferUntil,
    approvedAt: row.approvedAt,
    closedAt: row.closedAt,
    createdAt: row.createdAt,
    decisions: row.decisions.map(toDecision),
    findings: row.findings
      .map(({ finding: f }) => {
        const labels = Labels.safeParse(f.host.labels);
        return {
          id: f.id,
          hostId: f.hostId,
          hostName: f.host.name,
          environment: f.host.environment,
          labels: labels.success ? labels.data : {},
          hostGroups: f.host.groups,
          hostTeam: f.host.team?.name ?? null,
          packageName: f.packageName,
          sourcePackage: f.sourcePackage,
          installedVersion: f.installedVersion,
          fixedVersion: f.fixedVersion,
          advisoryId: f.advisoryId,
          advisorySummary: f.advisory.summary,
          cves: f.cves,
          status: f.status,
          riskScore: f.riskScore,
          riskBreakdown: f.riskBreakdown,
          severity: f.severity,
          ssvc: f.ssvc,
          kev: f.kev,
          epssScore: f.epssScore,
          slaDueAt: f.slaDueAt,
          dueReason: f.dueReason,
        };
      })
      .sort((a, b) => a.hostName.localeCompare(b.hostName) || a.packageName.localeCompare(b.packageName)),
  };
}

const SEVERITY_RANK: Record<Severity, number> = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

function isUniqueViolation(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && 'code' in err && (err as { code?: unknown }).code === 'P2002'
  );
}

/** The database refused a host or version change of an approved change (its triggers). */
export function isScopeFrozen(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  return /fixed when it was approved/.test(err.message) || isScopeFrozen(err.cause, depth + 1);
}

export class ChangeRepository {
  constructor(private readonly prisma: DbClient) {}

  /** The active campaign's key: at most one active change per fix and team. */
  static activeKey(i: Pick<CampaignUpsert, 'team' | 'ecosystem' | 'packageName' | 'fixedVersion'>): string {
    return [i.team, i.ecosystem, i.packageName, i.fixedVersion].join('|');
  }

  /**
   * Creates the active campaign for the fix and team, or adds the findings to the one there is.
   * An approved campaign's scope is frozen: findings it does not have yet start a new campaign (it
   * gives its key up), and the approved one deploys exactly the hosts it was approved for.
   */
  async upsertCampaign(
    input: CampaignUpsert,
    now: Date,
  ): Promise<{ id: string; number: number; created: boolean }> {
    const activeKey = ChangeRepository.activeKey(input);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.prisma.$transaction(async (tx) => {
          // under the change's row lock: a decision recorded at the same moment waits, or is seen
          await tx.$queryRaw`SELECT id FROM "ChangeRequest" WHERE "activeKey" = ${activeKey} FOR UPDATE`;
          const existing = await tx.changeRequest.findUnique({ where: { activeKey } });
          const sameFix = {
            ecosystem: input.ecosystem,
            packageName: input.packageName,
            fixedVersion: input.fixedVersion,
          };
          // A finding that an approved change (not closed yet) already has stays with it: it is
          // never in two changes that could both be deployed.
          const taken = await tx.changeRequestFinding.findMany({
            where: {
              findingId: { in: [...input.findingIds] },
              changeRequest: { status: { in: ACTIVE_FROZEN_STATUSES }, ...sameFix },
            },
            select: { findingId: true },
          });
          const had = new Set(taken.map((a) => a.findingId));
          const findingIds = input.findingIds.filter((id) => !had.has(id));
          const frozen = existing !== null && SCOPE_FROZEN_CHANGE_STATUSES.includes(existing.status);
          if (findingIds.length === 0) {
            // nothing new: the change that has these hosts answers
            const holder =
              existing ??
              (await tx.changeRequest.findFirst({
                where: {
                  findings: { some: { findingId: { in: [...input.findingIds] } } },
                  status: { in: ACTIVE_FROZEN_STATUSES },
                  ...sameFix,
                },
                select: { id: true, number: true },
              }));
            if (holder) return { id: holder.id, number: holder.number, created: false };
          }
          if (existing && (CLOSED_CHANGE_STATUSES.includes(existing.status) || frozen)) {
            // A closed campaign, or an approved one that new hosts may not join, gives its key up:
            // the fix starts a new campaign.
            await tx.changeRequest.update({ where: { id: existing.id }, data: { activeKey: null } });
          } else if (existing) {
            await tx.changeRequestFinding.createMany({
              data: findingIds.map((findingId) => ({ changeRequestId: existing.id, findingId })),
              skipDuplicates: true,
            });
            const severity =
              existing.severity !== null && SEVERITY_RANK[existing.severity] >= SEVERITY_RANK[input.severity]
                ? existing.severity
                : input.severity;
            await tx.changeRequest.update({
              where: { id: existing.id },
              data: {
                riskScore: Math.max(existing.riskScore ?? 0, input.riskScore),
                severity,
                kev: existing.kev || input.kev,
                updatedAt: now,
              },
            });
            return { id: existing.id, number: existing.number, created: false };
          }
          const team = await tx.team.findUnique({ where: { name: input.team }, select: { id: true } });
          const created = await tx.changeRequest.create({
            data: {
              ecosystem: input.ecosystem,
              packageName: input.packageName,
              sourcePackage: input.sourcePackage,
              fixedVersion: input.fixedVersion,
              teamId: team?.id ?? null,
              activeKey,
              requestedBy: input.requestedBy ?? 'patchbot',
              requestedVia: 'system',
              policySnapshot: input.policySnapshot as Prisma.InputJsonObject,
              approvalsRequired: input.approvalsRequired,
              riskScore: input.riskScore,
              severity: input.severity,
              kev: input.kev,
              createdAt: now,
              findings: {
                createMany: {
                  data: findingIds.map((findingId) => ({ findingId })),
                  skipDuplicates: true,
                },
              },
            },
          });
          await tx.auditLog.create({
            data: {
              actor: 'patchbot',
              surface: 'system',
              action: 'change.create',
              subjectType: 'change',
              subjectId: created.id,
              at: now,
              details: {
                number: created.number,
                team: input.team,
                package: input.packageName,
                fixedVersion: input.fixedVersion,
                findings: findingIds.length,
                approvalsRequired: input.approvalsRequired,
              },
            },
          });
          return { id: created.id, number: created.number, created: true };
        });
      } catch (err) {
        // Two processes created the same campaign at once: the second adds to the first's.
        if (attempt === 0 && isUniqueViolation(err)) continue;
        // The campaign was approved as findings were added: they go to a new campaign.
        if (attempt < 3 && isScopeFrozen(err)) continue;
        throw err;
      }
    }
  }

  /** A change by id (uuid) or number ("42", "#42"), with its findings and decisions. */
  async get(ref: string): Promise<ChangeDetail> {
    const row = await this.prisma.changeRequest.findFirst({
      where: changeWhere(ref),
      include: changeInclude,
    });
    if (!row) throw new NotFoundError(`change ${ref.trim()} does not exist`, { details: { change: ref } });
    return toDetail(row);
  }

  /**
   * Records a decision under the change's row lock. `decide` sees the locked state and returns
   * what to write, or a refusal; its `result` is handed back either way.
   */
  async decide<R>(
    changeId: string,
    decide: (change: ChangeDetail) => { write?: DecisionWrite; result: R },
    now: Date,
  ): Promise<DecideOutcome<R>> {
    return this.prisma.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM "ChangeRequest" WHERE id = ${changeId}::uuid FOR UPDATE`;
        if (locked.length === 0) throw new NotFoundError(`change ${changeId} does not exist`);
        const row = await tx.changeRequest.findUniqueOrThrow({
          where: { id: changeId },
          include: changeInclude,
        });
        const change = toDetail(row);
        const { write, result } = decide(change);
        if (!write) return { type: 'refused', change, result };
        const dupe = await tx.decision.findUnique({
          where: {
            changeRequestId_actorId_kind_dedupeKey: {
              changeRequestId: changeId,
              actorId: write.actorId,
              kind: write.kind,
              dedupeKey: write.dedupeKey,
            },
          },
        });
        if (dupe) return { type: 'duplicate', change, result };
        const decision = await tx.decision.create({
          data: {
            changeRequestId: changeId,
            kind: write.kind,
            actorId: write.actorId,
            actorDisplay: write.actorDisplay ?? null,
            surface: write.surface,
            reason: write.reason ?? null,
            expiresAt: write.expiresAt ?? null,
            deferUntil: write.deferUntil ?? null,
            dedupeKey: write.dedupeKey,
            createdAt: now,
          },
        });
        const closes = write.status !== undefined && CLOSED_CHANGE_STATUSES.includes(write.status);
        if (write.status !== undefined) {
          await tx.changeRequest.update({
            where: { id: changeId },
            data: {
              status: write.status,
              ...(write.approvedAt ? { approvedAt: write.approvedAt } : {}),
              ...(write.status === 'deferred' ? { deferUntil: write.deferUntil ?? null } : {}),
              ...(write.status === 'pending' ? { deferUntil: null } : {}),
              ...(closes ? { closedAt: now, activeKey: null } : {}),
            },
          });
        }
        if (write.findingsStatus) {
          await tx.finding.updateMany({
            where: {
              changeRequests: { some: { changeRequestId: changeId } },
              status: { in: ['open', 'deferred'] },
            },
            data: { status: write.findingsStatus, statusUntil: write.findingsUntil ?? null },
          });
        }
        if (write.riskAcceptance) {
          await tx.riskAcceptance.create({
            data: {
              changeRequestId: changeId,
              reason: write.riskAcceptance.reason,
              owner: write.riskAcceptance.owner,
              createdBy: write.actorId,
              surface: write.surface,
              expiresAt: write.riskAcceptance.expiresAt,
              createdAt: now,
            },
          });
        }
        await tx.auditLog.create({
          data: {
            actor: write.actorId,
            actorDisplay: write.actorDisplay ?? null,
            surface: write.surface,
            action: write.audit.action,
            subjectType: 'change',
            subjectId: changeId,
            at: now,
            details: { number: change.number, ...write.audit.details },
          },
        });
        const after = await tx.changeRequest.findUniqueOrThrow({
          where: { id: changeId },
          include: changeInclude,
        });
        return { type: 'recorded', decision: toDecision(decision), change: toDetail(after), result };
      },
      { timeout: 15_000 },
    );
  }

  /** Sets the status of a change (deferral over, approvals expired...), audited as patchbot. */
  async setStatus(
    changeId: string,
    from: readonly ChangeStatus[],
    to: ChangeStatus,
    reason: string,
    now: Date,
  ): Promise<boolean> {
    const closes = CLOSED_CHANGE_STATUSES.includes(to);
    const updated = await this.prisma.changeRequest.updateMany({
      where: { id: changeId, status: { in: [...from] } },
      data: {
        status: to,
        ...(to === 'pending' ? { deferUntil: null } : {}),
        ...(closes ? { closedAt: now, activeKey: null } : {}),
      },
    });
    if (updated.count === 0) return false;
    await this.prisma.auditLog.create({
      data: {
        actor: 'patchbot',
        surface: 'system',
        action: `change.${to}`,
        subjectType: 'change',
        subjectId: changeId,
        at: now,
        details: { from: [...from], reason },
      },
    });
    return true;
  }

  // ---- chat messages ---------------------------------------------------------------------------

  async recordMessage(
    changeId: string | null,
    ref: { platform: 'slack' | 'teams'; channel: string; id: string; threadId?: string },
    kind: StoredMessage['kind'] = 'change',
  ): Promise<void> {
    await this.prisma.chatMessage.upsert({
      where: {
        platform_channelId_messageId: { platform: ref.platform, channelId: ref.channel, messageId: ref.id },
      },
      create: {
        platform: ref.platform,
        channelId: ref.channel,
        messageId: ref.id,
        threadId: ref.threadId ?? null,
        kind,
        changeRequestId: changeId,
      },
      update: {},
    });
  }

  /** The change's top-level messages of `kind`, oldest first. */
  async messages(changeId: string, kind: StoredMessage['kind'] = 'change'): Promise<StoredMessage[]> {
    const rows = await this.prisma.chatMessage.findMany({
      where: { changeRequestId: changeId, kind },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((r) => ({
      platform: r.platform,
      channel: r.channelId,
      id: r.messageId,
      ...(r.threadId === null ? {} : { threadId: r.threadId }),
      kind: r.kind,
      renderHash: r.renderHash,
    }));
  }

  /** Remembers what a message shows now (after it was edited to show it). */
  async setRenderHash(
    ref: { platform: 'slack' | 'teams'; channel: string; id: string },
    hash: string,
  ): Promise<void> {
    await this.prisma.chatMessage.updateMany({
      where: { platform: ref.platform, channelId: ref.channel, messageId: ref.id },
      data: { renderHash: hash },
    });
  }

  /** Stores the approval rule that applied at creation and the approvals it needs. */
  async setPolicy(
    changeId: string,
    snapshot: Record<string, unknown>,
    approvalsRequired: number,
  ): Promise<void> {
    await this.prisma.changeRequest.update({
      where: { id: changeId },
      data: { policySnapshot: snapshot as Prisma.InputJsonObject, approvalsRequired },
    });
  }

  /** Approved changes that have no deployment yet (their approvals may expire). */
  async approvedWithoutDeployment(): Promise<string[]> {
    const rows = await this.prisma.changeRequest.findMany({
      where: { status: 'approved', deployments: { none: {} } },
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  /** Changes whose deferral ended before `now` (back to pending). */
  async deferralsOver(now: Date): Promise<string[]> {
    const rows = await this.prisma.changeRequest.findMany({
      where: { status: 'deferred', deferUntil: { lte: now } },
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }
}
