import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';
import { AuditEntry, AuditQuery, type AuditRecord } from '../types.js';

const Details = z.record(z.string(), z.unknown());

type AuditRow = Prisma.AuditLogGetPayload<object>;

function toRecord(row: AuditRow): AuditRecord {
  const details = Details.safeParse(row.details);
  return {
    id: row.id.toString(),
    at: row.at,
    actor: row.actor,
    actorDisplay: row.actorDisplay,
    surface: row.surface,
    action: row.action,
    subjectType: row.subjectType,
    subjectId: row.subjectId,
    details: details.success ? details.data : {},
  };
}

/**
 * The append-only audit trail: who did what, when, from which surface. The database rejects
 * UPDATE and DELETE on it (trigger in the initial migration).
 */
export class AuditRepository {
  constructor(private readonly prisma: DbClient) {}

  async append(entry: AuditEntry): Promise<AuditRecord> {
    const parsed = AuditEntry.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(
        `audit entry ${issue.path.join('.') || ''}: ${issue.message}`.replace(' :', ':'),
      );
    }
    const e = parsed.data;
    const row = await this.prisma.auditLog.create({
      data: {
        actor: e.actor,
        actorDisplay: e.actorDisplay ?? null,
        surface: e.surface,
        action: e.action,
        subjectType: e.subjectType,
        subjectId: e.subjectId,
        details: e.details as Prisma.InputJsonObject,
        ...(e.at ? { at: e.at } : {}),
      },
    });
    return toRecord(row);
  }

  /** Entries in the order they were written (oldest first). */
  async list(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const q = AuditQuery.parse(query);
    const at: Prisma.DateTimeFilter = {
      ...(q.since ? { gte: q.since } : {}),
      ...(q.until ? { lt: q.until } : {}),
    };
    const rows = await this.prisma.auditLog.findMany({
      where: {
        ...(q.subjectType !== undefined ? { subjectType: q.subjectType } : {}),
        ...(q.subjectId !== undefined ? { subjectId: q.subjectId } : {}),
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.since || q.until ? { at } : {}),
      },
      orderBy: [{ at: 'asc' }, { id: 'asc' }],
      take: q.limit,
    });
    return rows.map(toRecord);
  }
}
