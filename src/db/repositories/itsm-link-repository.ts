/**
 * The records patchbot keeps in ITSM tools (ServiceNow change_request and incident, Jira issues),
 * one row per change, system, kind and subject, and the events each ITSM sink has delivered.
 * A unique index keeps one change record per change and system, however many workers deliver.
 */
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';

export type ItsmSystem = 'servicenow' | 'jira';
export type ItsmRecordKind = 'change' | 'incident';
export type ItsmApproval = 'requested' | 'approved' | 'rejected';

export interface ItsmLinkRecord {
  id: string;
  changeRequestId: string;
  system: ItsmSystem;
  kind: ItsmRecordKind;
  /** "" for the change record; the deployment id for an incident. */
  subject: string;
  externalId: string;
  number: string;
  url: string;
  state: string | null;
  approval: ItsmApproval | null;
  nextPollAt: Date | null;
  pollAttempts: number;
  approvalCheckedAt: Date | null;
  createdAt: Date;
}

export interface NewItsmLink {
  changeRequestId: string;
  system: ItsmSystem;
  kind: ItsmRecordKind;
  subject?: string;
  externalId: string;
  number: string;
  url: string;
  state?: string;
  approval?: ItsmApproval;
  nextPollAt?: Date;
}

type Row = Prisma.ItsmLinkGetPayload<object>;

function toRecord(r: Row): ItsmLinkRecord {
  return {
    id: r.id,
    changeRequestId: r.changeRequestId,
    system: r.system as ItsmSystem,
    kind: r.kind as ItsmRecordKind,
    subject: r.subject,
    externalId: r.externalId,
    number: r.number,
    url: r.url,
    state: r.state,
    approval: r.approval as ItsmApproval | null,
    nextPollAt: r.nextPollAt,
    pollAttempts: r.pollAttempts,
    approvalCheckedAt: r.approvalCheckedAt,
    createdAt: r.createdAt,
  };
}

export class ItsmLinkRepository {
  constructor(private readonly prisma: DbClient) {}

  async find(
    changeRequestId: string,
    system: ItsmSystem,
    kind: ItsmRecordKind = 'change',
    subject = '',
  ): Promise<ItsmLinkRecord | undefined> {
    const row = await this.prisma.itsmLink.findUnique({
      where: {
        changeRequestId_system_kind_subject: { changeRequestId, system, kind, subject },
      },
    });
    return row ? toRecord(row) : undefined;
  }

  /** Every record of a change (change records first, then incidents, oldest first). */
  async forChange(changeRequestId: string): Promise<ItsmLinkRecord[]> {
    const rows = await this.prisma.itsmLink.findMany({
      where: { changeRequestId },
      orderBy: [{ kind: 'asc' }, { createdAt: 'asc' }],
    });
    return rows.map(toRecord);
  }

  /**
   * Stores a new record; when one is already stored for the same change, system, kind and subject
   * (another worker created it first), that one is kept and returned.
   */
  async create(link: NewItsmLink): Promise<ItsmLinkRecord> {
    const subject = link.subject ?? '';
    const row = await this.prisma.itsmLink.upsert({
      where: {
        changeRequestId_system_kind_subject: {
          changeRequestId: link.changeRequestId,
          system: link.system,
          kind: link.kind,
          subject,
        },
      },
      create: {
        changeRequestId: link.changeRequestId,
        system: link.system,
        kind: link.kind,
        subject,
        externalId: link.externalId,
        number: link.number,
        url: link.url,
        state: link.state ?? null,
        approval: link.approval ?? null,
        nextPollAt: link.nextPollAt ?? null,
      },
      update: {},
    });
    return toRecord(row);
  }

  async setState(id: string, state: string): Promise<void> {
    await this.prisma.itsmLink.update({ where: { id }, data: { state } });
  }

  /** Starts the CAB gate on a change record: approval requested, first read at once. */
  async requestApproval(id: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "ItsmLink" SET approval = 'requested', "nextPollAt" = now(), "pollAttempts" = 0, "updatedAt" = now()
      WHERE id = ${id}::uuid AND approval IS NULL`;
  }

  /**
   * Takes back a CAB approval that could not be acted on: the record is read again `delayMs` from
   * now (by the database's clock), and its reading acted on then.
   */
  async reopenApproval(id: string, delayMs: number): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "ItsmLink" SET approval = 'requested',
        "nextPollAt" = now() + make_interval(secs => ${Math.max(0, Math.round(delayMs)) / 1000}),
        "updatedAt" = now()
      WHERE id = ${id}::uuid AND approval = 'approved'`;
  }

  /** Change records whose CAB approval is still awaited and due to be read (by the database's clock). */
  async approvalsDue(limit = 50): Promise<ItsmLinkRecord[]> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT l.id::text AS id FROM "ItsmLink" l
      JOIN "ChangeRequest" c ON c.id = l."changeRequestId"
      WHERE l.kind = 'change' AND l.approval = 'requested'
        AND (l."nextPollAt" IS NULL OR l."nextPollAt" <= now())
        AND c.status IN ('pending', 'deferred', 'approved')
      ORDER BY l."nextPollAt" NULLS FIRST, l."createdAt"
      LIMIT ${limit}`;
    if (rows.length === 0) return [];
    const found = await this.prisma.itsmLink.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
    return found.map(toRecord);
  }

  /**
   * Records one reading of the CAB approval: still requested (read again `delayMs` from now, by the
   * database's clock), or decided. Only a link still waiting changes, so of two workers reading at
   * once one records the decision; returns whether this call did.
   */
  async recordApproval(
    id: string,
    reading: { approval: 'requested'; delayMs: number } | { approval: 'approved' | 'rejected' },
  ): Promise<boolean> {
    const delay = reading.approval === 'requested' ? Math.max(0, Math.round(reading.delayMs)) : 0;
    const next = reading.approval === 'requested';
    const count = await this.prisma.$executeRaw`
      UPDATE "ItsmLink" SET
        approval = ${reading.approval},
        "nextPollAt" = CASE WHEN ${next} THEN now() + make_interval(secs => ${delay / 1000}) ELSE NULL END,
        "pollAttempts" = "pollAttempts" + 1,
        "approvalCheckedAt" = now(),
        "updatedAt" = now()
      WHERE id = ${id}::uuid AND approval = 'requested'`;
    return count === 1;
  }

  /** Whether `system` has delivered the event already. */
  async delivered(system: ItsmSystem, eventId: string): Promise<boolean> {
    const row = await this.prisma.itsmDelivery.findUnique({
      where: { system_eventId: { system, eventId } },
    });
    return row !== null;
  }

  async markDelivered(system: ItsmSystem, eventId: string): Promise<void> {
    await this.prisma.itsmDelivery.upsert({
      where: { system_eventId: { system, eventId } },
      create: { system, eventId },
      update: {},
    });
  }
}
