/**
 * The outbox: messages to deliver outside patchbot (chat thread posts now; webhooks and ITSM updates
 * later, through the same table), written in the same transaction as the state change they report
 * (see DeploymentRepository) and delivered by any worker.
 *
 * - Order: messages with one `orderKey` are delivered one after another, in id order: a worker
 *   claims only the oldest undelivered message of a key, so the next waits until it is delivered
 *   (or given up on).
 * - Claims are leases decided by PostgreSQL's clock: `lockedUntil` keeps other workers off a message
 *   being delivered; a worker that dies leaves it to be claimed again when the lease ends.
 * - Retries: a failed delivery is tried again after a backoff (doubling, at most 15 minutes); after
 *   `maxAttempts` it is given up on (`failedAt`, with its last error) and the key's next message
 *   goes.
 * Delivery is at least once: a worker that dies after delivering and before marking it delivered
 * delivers it again.
 */
import type { DbClient } from '../client.js';
import type { SqlRunner } from '../sql.js';
import type { OutboxEntry } from './deployment-repository.js';

export interface OutboxMessage {
  id: string;
  kind: string;
  destination: string;
  orderKey: string;
  payload: unknown;
  /** Deliveries tried so far, this one included. */
  attempts: number;
  createdAt: Date;
}

/**
 * $1 worker, $2 lease (ms), $3 limit, $4 kinds: the oldest undelivered message of each key, when
 * due and not held by another worker, leased to $1.
 */
const CLAIM = `
  WITH heads AS (
    SELECT DISTINCT ON ("orderKey") id
    FROM "Outbox"
    WHERE "deliveredAt" IS NULL AND "failedAt" IS NULL
    ORDER BY "orderKey", id
  ),
  picked AS (
    SELECT o.id FROM "Outbox" o JOIN heads h ON h.id = o.id
    WHERE o.kind = ANY($4::text[]) AND o."availableAt" <= now()
      AND (o."lockedUntil" IS NULL OR o."lockedUntil" < now())
    ORDER BY o.id LIMIT $3::int
    FOR UPDATE OF o SKIP LOCKED
  )
  UPDATE "Outbox" o SET "lockedBy" = $1, "lockedUntil" = now() + make_interval(secs => $2::float8 / 1000),
    attempts = o.attempts + 1
  FROM picked WHERE o.id = picked.id
  RETURNING o.id::text AS id, o.kind, o.destination, o."orderKey", o.payload, o.attempts, o."createdAt"`;

export class OutboxRepository {
  constructor(
    private readonly prisma: DbClient,
    private readonly sql: SqlRunner,
  ) {}

  /** Adds messages on their own (not with a state change). */
  async add(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.prisma.outbox.createMany({
      data: entries.map((e) => ({
        kind: e.kind,
        destination: e.destination,
        orderKey: e.orderKey,
        payload: e.payload as object,
      })),
    });
  }

  /** Leases up to `limit` deliverable messages of `kinds` to `workerId`, oldest first. */
  async claim(
    workerId: string,
    options: { kinds: readonly string[]; limit?: number; leaseMs?: number },
  ): Promise<OutboxMessage[]> {
    const rows = await this.sql.query<{
      id: string;
      kind: string;
      destination: string;
      orderKey: string;
      payload: unknown;
      attempts: number;
      createdAt: Date | string;
    }>(CLAIM, [workerId, options.leaseMs ?? 60_000, options.limit ?? 20, [...options.kinds]], {
      name: 'outbox-claim',
    });
    return rows.map((r) => ({
      ...r,
      createdAt: r.createdAt instanceof Date ? r.createdAt : new Date(r.createdAt),
    }));
  }

  async delivered(id: string, workerId: string): Promise<void> {
    await this.sql.query(
      `UPDATE "Outbox" SET "deliveredAt" = now(), "lockedBy" = NULL, "lockedUntil" = NULL, "lastError" = NULL
       WHERE id = $1::bigint AND "lockedBy" = $2`,
      [id, workerId],
      { name: 'outbox-delivered' },
    );
  }

  /** A failed delivery: tried again after `retryInMs`, or given up on. */
  async failed(
    id: string,
    workerId: string,
    error: string,
    options: { retryInMs: number; giveUp: boolean },
  ): Promise<void> {
    await this.sql.query(
      `UPDATE "Outbox" SET "lastError" = $3, "lockedBy" = NULL, "lockedUntil" = NULL,
         "availableAt" = now() + make_interval(secs => $4::float8 / 1000),
         "failedAt" = CASE WHEN $5::boolean THEN now() ELSE NULL END
       WHERE id = $1::bigint AND "lockedBy" = $2`,
      [id, workerId, error.slice(0, 2000), options.retryInMs, options.giveUp],
      { name: 'outbox-failed' },
    );
  }

  /** Messages not delivered yet (and not given up on), oldest first: for status and tests. */
  async pending(options: { orderKey?: string; kind?: string } = {}): Promise<OutboxMessage[]> {
    const rows = await this.prisma.outbox.findMany({
      where: {
        deliveredAt: null,
        failedAt: null,
        ...(options.orderKey ? { orderKey: options.orderKey } : {}),
        ...(options.kind ? { kind: options.kind } : {}),
      },
      orderBy: { id: 'asc' },
    });
    return rows.map((r) => ({
      id: r.id.toString(),
      kind: r.kind,
      destination: r.destination,
      orderKey: r.orderKey,
      payload: r.payload,
      attempts: r.attempts,
      createdAt: r.createdAt,
    }));
  }
}
