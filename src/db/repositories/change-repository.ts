/**
 * Change requests (fix campaigns), their decisions and their chat messages.
 *
 * Decisions are a ledger: `transact` locks the change's row, reads the database's clock after the
 * lock (so every decision is timed after the ones it saw) and the ledger rows, lets the caller's
 * pure function decide what to append, and writes the decision, the change's new status, the
 * findings' status, a risk acceptance and the audit row together or not at all. Concurrent clicks
 * on one change are decided one after the other, each seeing the decisions before it; a unique
 * index (change, person, kind, round) makes a second copy of a decision impossible even so.
 */
import { z } from 'zod';
import { NotFoundError, PatchbotError, ValidationError } from '../../core/errors.js';
import type { FindingKind, Severity } from '../../core/model.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';
import type { Surface } from '../types.js';
import { eventEntry, type EventDraft } from './event-outbox.js';

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
  'request' | 'approve' | 'reject' | 'defer' | 'accept_risk' | 'pause' | 'resume' | 'abort' | 'rollback';

export interface DecisionRecord {
  id: string;
  kind: DecisionKindName;
  actorId: string;
  actorDisplay: string | null;
  surface: Surface;
  reason: string | null;
  expiresAt: Date | null;
  deferUntil: Date | null;
  emergency: boolean;
  round: number;
  revokedAt: Date | null;
  /** The database's clock when it was recorded. */
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
  kind: FindingKind;
  /** Where the package is (interpreter, lockfile, fwupd device id); "" for a distribution package. */
  owner: string;
  ownerKind: string | null;
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
  /** What the change installs: distribution packages, language packages or firmware. */
  kind: FindingKind;
  ecosystem: string;
  packageName: string;
  sourcePackage: string | null;
  fixedVersion: string;
  team: string | null;
  status: ChangeStatus;
  /** Who requested a rollout; null while nobody has. */
  requestedBy: string | null;
  requestedVia: Surface;
  policySnapshot: unknown;
  approvalsRequired: number;
  round: number;
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

/** A change in a list (no findings, no decisions). */
export interface ChangeSummary {
  id: string;
  number: number;
  ecosystem: string;
  packageName: string;
  fixedVersion: string;
  team: string | null;
  status: ChangeStatus;
  requestedBy: string | null;
  emergency: boolean;
  approvalsRequired: number;
  riskScore: number | null;
  severity: Severity | null;
  kev: boolean;
  findings: number;
  createdAt: Date;
}

/** Statuses in which a change still needs or awaits people (not closed, no deployment yet). */
export const OPEN_CHANGE_STATUSES: readonly ChangeStatus[] = ['pending', 'deferred', 'approved'];

export interface CampaignUpsert {
  team: string;
  /** Default "os". */
  kind?: FindingKind;
  /** Language packages found in lockfiles: announced as a bump, a campaign of their own. */
  lockfile?: boolean;
  ecosystem: string;
  packageName: string;
  sourcePackage: string;
  fixedVersion: string;
  findingIds: readonly string[];
  riskScore: number;
  severity: Severity;
  kev: boolean;
  /**
   * The approval policy that applies to the new change (kept for the record) and the approvals
   * it needs, from the change as created (its findings); stored and audited with it.
   */
  policyFor: (change: ChangeDetail) => { snapshot: Record<string, unknown>; approvalsRequired: number };
  /** Why the campaign is announced again (its risk rose): a change.escalated event goes with the write. */
  escalation?: string;
}

export interface StoredMessage {
  platform: 'slack' | 'teams';
  channel: string;
  id: string;
  threadId?: string;
  kind: 'change' | 'summary' | 'digest' | 'notice';
  renderHash: string | null;
}

/** What one ledger transaction writes, decided by the caller on the locked change. */
export interface LedgerWrite {
  /** The decision appended to the ledger. */
  decision?: {
    kind: DecisionKindName;
    actorId: string;
    actorDisplay?: string;
    surface: Surface;
    reason?: string;
    expiresAt?: Date;
    deferUntil?: Date;
    emergency?: boolean;
    round: number;
  };
  /** The change's new state, where it changes. */
  change?: {
    status?: ChangeStatus;
    round?: number;
    approvalsRequired?: number;
    requestedBy?: string;
    requestedVia?: Surface;
    emergency?: boolean;
  };
  /** Findings of the change get this status (defer, accept risk) until `until`. */
  findings?: { status: 'deferred' | 'accepted'; until: Date };
  riskAcceptance?: { reason: string; owner: string; expiresAt: Date };
  audit: {
    actor: string;
    actorDisplay?: string;
    surface: Surface;
    action: string;
    details: Record<string, unknown>;
  };
}

export interface LedgerOutcome<R> {
  /** Whether anything was written. */
  written: boolean;
  /** The change after the transaction (as locked when nothing was written). */
  change: ChangeDetail;
  /** The database's clock the transaction decided with. */
  now: Date;
  result: R;
}

/** The same decision (change, person, kind, round) is already in the ledger. */
export class DuplicateDecisionError extends PatchbotError {
  constructor() {
    super('CONFLICT', 'Your decision was already recorded');
  }
}

const Labels = z.record(z.string(), z.string());

const changeInclude = {
  team: { select: { name: true } },
  decisions: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
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
    emergency: d.emergency,
    round: d.round,
    revokedAt: d.revokedAt,
    createdAt: d.createdAt,
  };
}

function toDetail(row: ChangeRow): ChangeDetail {
  return {
    id: row.id,
    number: row.number,
    kind: row.kind === 'third_party' ? 'third-party' : row.kind,
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
    round: row.round,
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
          kind: f.kind === 'third_party' ? ('third-party' as const) : f.kind,
          owner: f.owner,
          ownerKind: f.ownerKind,
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

type Tx = Parameters<Parameters<DbClient['$transaction']>[0]>[0];

/** Writes one ledger transaction's rows (the change is locked by the caller). */
async function applyWrite(tx: Tx, change: ChangeDetail, write: LedgerWrite, now: Date): Promise<void> {
  const d = write.decision;
  if (d) {
    await tx.decision.create({
      data: {
        changeRequestId: change.id,
        kind: d.kind,
        actorId: d.actorId,
        actorDisplay: d.actorDisplay ?? null,
        surface: d.surface,
        reason: d.reason ?? null,
        expiresAt: d.expiresAt ?? null,
        deferUntil: d.deferUntil ?? null,
        emergency: d.emergency ?? false,
        round: d.round,
        createdAt: now,
      },
    });
  }
  const c = write.change;
  if (c && Object.keys(c).length > 0) {
    const status = c.status ?? change.status;
    const becomes = c.status !== undefined && c.status !== change.status;
    const closes = becomes && CLOSED_CHANGE_STATUSES.includes(status);
    await tx.changeRequest.update({
      where: { id: change.id },
      data: {
        ...(c.status !== undefined ? { status: c.status } : {}),
        ...(c.round !== undefined ? { round: c.round } : {}),
        ...(c.approvalsRequired !== undefined ? { approvalsRequired: c.approvalsRequired } : {}),
        ...(c.requestedBy !== undefined ? { requestedBy: c.requestedBy } : {}),
        ...(c.requestedVia !== undefined ? { requestedVia: c.requestedVia } : {}),
        ...(c.emergency !== undefined ? { emergency: c.emergency } : {}),
        ...(becomes && status === 'approved' ? { approvedAt: now } : {}),
        ...(becomes && status === 'deferred' ? { deferUntil: d?.deferUntil ?? null } : {}),
        ...(becomes && status === 'pending' ? { deferUntil: null } : {}),
        ...(closes ? { closedAt: now, activeKey: null } : {}),
        updatedAt: now,
      },
    });
  }
  if (write.findings) {
    await tx.finding.updateMany({
      where: {
        changeRequests: { some: { changeRequestId: change.id } },
        status: { in: ['open', 'deferred'] },
      },
      data: { status: write.findings.status, statusUntil: write.findings.until },
    });
  }
  if (write.riskAcceptance) {
    await tx.riskAcceptance.create({
      data: {
        changeRequestId: change.id,
        reason: write.riskAcceptance.reason,
        owner: write.riskAcceptance.owner,
        createdBy: d?.actorId ?? write.audit.actor,
        surface: d?.surface ?? write.audit.surface,
        expiresAt: write.riskAcceptance.expiresAt,
        createdAt: now,
      },
    });
  }
  await tx.auditLog.create({
    data: {
      actor: write.audit.actor,
      actorDisplay: write.audit.actorDisplay ?? null,
      surface: write.audit.surface,
      action: write.audit.action,
      subjectType: 'change',
      subjectId: change.id,
      at: now,
      details: { number: change.number, ...write.audit.details },
    },
  });
  await insertEvents(tx, ledgerEvents(change, write), now);
}

/** The outbound events of a ledger write (in the order they happened). */
export function ledgerEvents(change: Pick<ChangeDetail, 'id' | 'status'>, write: LedgerWrite): EventDraft[] {
  const d = write.decision;
  const actor = d
    ? { actor: d.actorId, actorDisplay: d.actorDisplay ?? null, surface: d.surface }
    : {
        actor: write.audit.actor,
        actorDisplay: write.audit.actorDisplay ?? null,
        surface: write.audit.surface,
      };
  const events: EventDraft[] = [];
  const add = (type: EventDraft['type'], data: Record<string, unknown>) =>
    events.push({ type, changeId: change.id, data: { ...actor, ...data } });
  if (d?.kind === 'request')
    add('change.requested', { emergency: d.emergency ?? false, reason: d.reason ?? null, round: d.round });
  const status = write.change?.status;
  if (status !== undefined && status !== change.status) {
    const reason = d?.reason ?? null;
    if (status === 'approved')
      add('change.approved', { emergency: write.change?.emergency ?? d?.emergency ?? false });
    if (status === 'rejected') add('change.rejected', { reason });
    if (status === 'deferred')
      add('change.deferred', { reason, until: d?.deferUntil?.toISOString() ?? null });
    if (status === 'accepted_risk')
      add('change.risk_accepted', {
        reason: write.riskAcceptance?.reason ?? reason,
        owner: write.riskAcceptance?.owner ?? null,
        expiresAt: write.riskAcceptance?.expiresAt.toISOString() ?? null,
      });
  }
  return events;
}

function escalatedEvents(changeId: string, input: CampaignUpsert): EventDraft[] {
  if (input.escalation === undefined) return [];
  return [
    {
      type: 'change.escalated',
      changeId,
      data: {
        reason: input.escalation,
        riskScore: input.riskScore,
        severity: input.severity,
        kev: input.kev,
      },
    },
  ];
}

/** Writes events; their time is `at` (the ledger's database clock) or the transaction's `now()`. */
async function insertEvents(tx: Tx, drafts: readonly EventDraft[], at?: Date): Promise<void> {
  for (const draft of drafts) {
    const e = eventEntry(draft);
    await tx.outbox.create({
      data: {
        kind: e.kind,
        destination: e.destination,
        orderKey: e.orderKey,
        payload: e.payload as Prisma.InputJsonObject,
        ...(at === undefined ? {} : { createdAt: at }),
      },
    });
  }
}

/** The database refused a host or version change of an approved change (its triggers). */
export function isScopeFrozen(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  return /fixed when it was approved/.test(err.message) || isScopeFrozen(err.cause, depth + 1);
}

export class ChangeRepository {
  constructor(private readonly prisma: DbClient) {}

  /** The active campaign's key: at most one active change per fix and team. */
  static activeKey(
    i: Pick<CampaignUpsert, 'team' | 'ecosystem' | 'packageName' | 'fixedVersion' | 'kind' | 'lockfile'>,
  ): string {
    const key = [i.team, i.ecosystem, i.packageName, i.fixedVersion];
    // a distribution package's key is unchanged; a lockfile bump and an installed upgrade differ
    if (i.kind !== undefined && i.kind !== 'os')
      key.push(i.lockfile === true ? `${i.kind}:lockfile` : i.kind);
    return key.join('|');
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
            if (holder) {
              await insertEvents(tx, escalatedEvents(holder.id, input));
              return { id: holder.id, number: holder.number, created: false };
            }
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
            await insertEvents(tx, escalatedEvents(existing.id, input));
            return { id: existing.id, number: existing.number, created: false };
          }
          const team = await tx.team.findUnique({ where: { name: input.team }, select: { id: true } });
          const created = await tx.changeRequest.create({
            data: {
              kind: input.kind === 'third-party' ? 'third_party' : (input.kind ?? 'os'),
              ecosystem: input.ecosystem,
              packageName: input.packageName,
              sourcePackage: input.sourcePackage,
              fixedVersion: input.fixedVersion,
              teamId: team?.id ?? null,
              activeKey,
              requestedVia: 'system',
              policySnapshot: {},
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
            include: changeInclude,
          });
          // The rule is chosen from the change as created (its findings' environments, groups, KEV,
          // risk), and the audit row says what it needs.
          const policy = input.policyFor(toDetail(created));
          await tx.changeRequest.update({
            where: { id: created.id },
            data: {
              policySnapshot: policy.snapshot as Prisma.InputJsonObject,
              approvalsRequired: policy.approvalsRequired,
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
                approvalsRequired: policy.approvalsRequired,
                rule: policy.snapshot.rule ?? null,
              },
            },
          });
          await insertEvents(tx, [
            {
              type: 'change.opened',
              changeId: created.id,
              data: {
                ecosystem: input.ecosystem,
                package: input.packageName,
                sourcePackage: input.sourcePackage,
                fixedVersion: input.fixedVersion,
                findings: findingIds.length,
                hosts: [...new Set(toDetail(created).findings.map((f) => f.hostName))].sort(),
                riskScore: input.riskScore,
                severity: input.severity,
                kev: input.kev,
                approvalsRequired: policy.approvalsRequired,
                ...(input.escalation === undefined ? {} : { escalation: input.escalation }),
              },
            },
          ]);
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
   * One ledger transaction on a change: its row locked, the database's clock read after the lock,
   * `decide` (pure) sees the locked change and that clock and says what to write, or nothing; its
   * `result` is handed back either way. Throws DuplicateDecisionError when the unique index finds
   * the decision already there (which the lock makes unreachable for callers that check).
   */
  async transact<R>(
    changeId: string,
    decide: (change: ChangeDetail, now: Date) => { write?: LedgerWrite; result: R },
  ): Promise<LedgerOutcome<R>> {
    try {
      return await this.prisma.$transaction(
        async (tx) => {
          const locked = await tx.$queryRaw<{ id: string }[]>`
            SELECT id::text AS id FROM "ChangeRequest" WHERE id = ${changeId}::uuid FOR UPDATE`;
          if (locked.length === 0) throw new NotFoundError(`change ${changeId} does not exist`);
          // After the lock: every decision this one saw was committed before this instant.
          const [clock] = await tx.$queryRaw<{ now: Date }[]>`SELECT clock_timestamp() AS now`;
          const now = new Date(clock.now.getTime());
          const row = await tx.changeRequest.findUniqueOrThrow({
            where: { id: changeId },
            include: changeInclude,
          });
          const change = toDetail(row);
          const { write, result } = decide(change, now);
          if (!write) return { written: false, change, now, result };
          await applyWrite(tx, change, write, now);
          const after = await tx.changeRequest.findUniqueOrThrow({
            where: { id: changeId },
            include: changeInclude,
          });
          return { written: true, change: toDetail(after), now, result };
        },
        // Concurrent clicks queue for the row lock while holding a connection: wait for both.
        { maxWait: 20_000, timeout: 30_000 },
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateDecisionError();
      throw err;
    }
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

  /**
   * Changes that may wait for approval again, by the database's clock: deferred ones whose date
   * passed, and approved ones that have no deployment yet (their approvals may have expired). Each
   * is decided under its lock (`transact`).
   */
  async reopenCandidates(): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT c.id::text AS id FROM "ChangeRequest" c
      WHERE (c.status = 'deferred' AND c."deferUntil" <= now())
         OR (c.status = 'approved' AND NOT EXISTS (SELECT 1 FROM "Deployment" d WHERE d."changeRequestId" = c.id))
      ORDER BY c.number`;
    return rows.map((r) => r.id);
  }

  /** Changes by status (open ones by default), newest first, without their findings and decisions. */
  async list(
    query: { statuses?: readonly ChangeStatus[]; team?: string; limit?: number } = {},
  ): Promise<ChangeSummary[]> {
    const rows = await this.prisma.changeRequest.findMany({
      where: {
        ...(query.statuses ? { status: { in: [...query.statuses] } } : {}),
        ...(query.team !== undefined ? { team: { name: query.team } } : {}),
      },
      include: { team: { select: { name: true } }, _count: { select: { findings: true } } },
      orderBy: { number: 'desc' },
      take: query.limit ?? 100,
    });
    return rows.map((r) => ({
      id: r.id,
      number: r.number,
      ecosystem: r.ecosystem,
      packageName: r.packageName,
      fixedVersion: r.fixedVersion,
      team: r.team?.name ?? null,
      status: r.status,
      requestedBy: r.requestedBy,
      emergency: r.emergency,
      approvalsRequired: r.approvalsRequired,
      riskScore: r.riskScore,
      severity: r.severity,
      kev: r.kev,
      findings: r._count.findings,
      createdAt: r.createdAt,
    }));
  }
}
