/**
 * Outbound events after they were written (event-outbox.ts): fan-out into one delivery row per
 * sink, and what `patchbot webhooks` shows and does (delivery figures, the dead-letter list,
 * redelivery). Deliveries are outbox rows of kind `sink:<name>`, delivered by the outbox relay.
 */
import { PatchbotEventSchema } from '../../core/events/cloudevent.js';
import type { PatchbotEvent } from '../../core/events/event.js';
import { NotFoundError, PatchbotError } from '../../core/errors.js';
import type { DbClient } from '../client.js';
import type { SqlRunner } from '../sql.js';
import { deliveryKey, SINK_KIND_PREFIX, sinkKind, sinkOrderKey, StoredEvent } from './event-outbox.js';
import type { OutboxMessage } from './outbox-repository.js';

export interface SinkStats {
  sink: string;
  delivered: number;
  /** Waiting for their turn or a retry. */
  pending: number;
  /** Given up on: the dead-letter list. */
  failed: number;
  lastDeliveredAt: Date | null;
  /** The newest error of a delivery not delivered yet. */
  lastError: string | null;
}

export interface DeadLetter {
  /** The delivery's id (what `webhooks retry` takes). */
  id: string;
  sink: string;
  event: PatchbotEvent;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  failedAt: Date;
}

const INSERT_DELIVERIES = `
  INSERT INTO "Outbox" (kind, destination, "orderKey", payload, "dedupeKey")
  SELECT x.kind, x.destination, x."orderKey", x.payload, x."dedupeKey"
  FROM jsonb_to_recordset($1::jsonb) AS x(kind text, destination text, "orderKey" text, payload jsonb, "dedupeKey" text)
  ON CONFLICT ("dedupeKey") DO NOTHING`;

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

export class EventRepository {
  constructor(
    private readonly prisma: DbClient,
    private readonly sql: SqlRunner,
  ) {}

  /**
   * The full event of an `event` outbox row: its change's number and team read now, its time the
   * row's (the database's clock of the transaction that wrote it).
   */
  async complete(message: Pick<OutboxMessage, 'id' | 'payload' | 'createdAt'>): Promise<PatchbotEvent> {
    const stored = StoredEvent.safeParse(message.payload);
    if (!stored.success) {
      throw new PatchbotError(
        'VALIDATION',
        `event ${message.id} is unreadable: ${stored.error.issues[0]?.message ?? ''}`,
      );
    }
    const e = stored.data;
    const change = await this.prisma.changeRequest.findUnique({
      where: { id: e.changeId },
      select: { number: true, teamId: true, team: { select: { name: true } } },
    });
    if (!change) throw new NotFoundError(`event ${e.id}: change ${e.changeId} does not exist`);
    return {
      id: e.id,
      type: e.type,
      time: message.createdAt.toISOString(),
      changeId: e.changeId,
      changeNumber: change.number,
      teamId: change.teamId,
      teamName: change.team?.name ?? null,
      ...(e.deploymentId === undefined ? {} : { deploymentId: e.deploymentId }),
      data: e.data,
    };
  }

  /**
   * One delivery row per sink (written once: a second fan-out of the same event adds nothing).
   * Returns how many were new.
   */
  async addDeliveries(event: PatchbotEvent, sinks: readonly string[]): Promise<number> {
    if (sinks.length === 0) return 0;
    const rows = sinks.map((sink) => ({
      kind: sinkKind(sink),
      destination: sink,
      orderKey: sinkOrderKey(sink, event.changeId),
      payload: event,
      dedupeKey: deliveryKey(event.id, sink),
    }));
    const r = await this.sql.query<{ id: string }>(`${INSERT_DELIVERIES} RETURNING id::text AS id`, [
      JSON.stringify(rows),
    ]);
    return r.length;
  }

  /** Delivery figures per sink (every sink that has deliveries, configured or not any more). */
  async stats(): Promise<SinkStats[]> {
    const rows = await this.sql.query<{
      sink: string;
      delivered: string;
      pending: string;
      failed: string;
      lastDeliveredAt: Date | string | null;
      lastError: string | null;
    }>(
      `SELECT destination AS sink,
         count(*) FILTER (WHERE "deliveredAt" IS NOT NULL)::text AS delivered,
         count(*) FILTER (WHERE "deliveredAt" IS NULL AND "failedAt" IS NULL)::text AS pending,
         count(*) FILTER (WHERE "failedAt" IS NOT NULL AND "deliveredAt" IS NULL)::text AS failed,
         max("deliveredAt") AS "lastDeliveredAt",
         (array_agg("lastError" ORDER BY id DESC) FILTER (WHERE "deliveredAt" IS NULL AND "lastError" IS NOT NULL))[1] AS "lastError"
       FROM "Outbox" WHERE kind LIKE $1
       GROUP BY destination ORDER BY destination`,
      [`${SINK_KIND_PREFIX}%`],
    );
    return rows.map((r) => ({
      sink: r.sink,
      delivered: Number(r.delivered),
      pending: Number(r.pending),
      failed: Number(r.failed),
      lastDeliveredAt: r.lastDeliveredAt === null ? null : toDate(r.lastDeliveredAt),
      lastError: r.lastError,
    }));
  }

  /** The dead-letter list: deliveries given up on, oldest first. */
  async deadLetters(options: { sink?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    const rows = await this.prisma.outbox.findMany({
      where: {
        kind: options.sink === undefined ? { startsWith: SINK_KIND_PREFIX } : sinkKind(options.sink),
        failedAt: { not: null },
        deliveredAt: null,
      },
      orderBy: { id: 'asc' },
      take: options.limit ?? 1000,
    });
    return rows.map((r) => {
      const event = PatchbotEventSchema.safeParse(r.payload);
      if (!event.success) throw new PatchbotError('DATABASE', `delivery ${r.id} holds an unreadable event`);
      return {
        id: r.id.toString(),
        sink: r.destination,
        event: event.data,
        attempts: r.attempts,
        lastError: r.lastError,
        createdAt: r.createdAt,
        failedAt: r.failedAt ?? r.createdAt,
      };
    });
  }

  /**
   * Puts dead letters back in line (attempts start again, due now): those of `ids`, or all of them
   * (of one sink). Returns the ids that were requeued; ids that are not dead letters are left out.
   */
  async retry(target: { ids: readonly string[] } | { all: true; sink?: string }): Promise<string[]> {
    const byIds = 'ids' in target;
    if (byIds && target.ids.some((id) => !/^\d{1,18}$/.test(id))) {
      throw new PatchbotError(
        'USAGE',
        'expected delivery ids (numbers, as `patchbot webhooks failed` lists them)',
      );
    }
    const rows = await this.sql.query<{ id: string }>(
      `UPDATE "Outbox" SET "failedAt" = NULL, attempts = 0, "availableAt" = now(),
         "lockedBy" = NULL, "lockedUntil" = NULL
       WHERE kind LIKE $1 AND "failedAt" IS NOT NULL AND "deliveredAt" IS NULL
         AND ($2::boolean OR id = ANY($3::bigint[]))
         AND ($4::text IS NULL OR destination = $4)
       RETURNING id::text AS id`,
      [
        `${SINK_KIND_PREFIX}%`,
        !byIds,
        byIds ? [...target.ids] : [],
        !byIds && target.sink !== undefined ? target.sink : null,
      ],
    );
    return rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
  }
}
