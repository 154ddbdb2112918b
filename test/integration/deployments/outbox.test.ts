/**
 * The outbox on real PostgreSQL: messages are delivered by whichever worker's relay is running, in
 * id order per order key, retried after a failure, given up on after the last attempt (and the key
 * goes on), and a message claimed by a worker that died is delivered by another once its lease ends.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRepository, type OutboxMessage } from '../../../src/db/repositories/outbox-repository.js';
import { createOutboxRelay, type OutboxRelay } from '../../../src/jobs/outbox-relay.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { waitFor } from './support.js';

const logger = pino({ level: 'silent' });
let test: TestDatabase;
let outbox: OutboxRepository;

beforeAll(async () => {
  test = await openTestDatabase('postgres', 'outbox');
  outbox = new OutboxRepository(test.db.prisma, test.db.sql);
});
afterAll(async () => {
  await test?.dispose();
});

const entries = (kind: string, key: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind, destination: key, orderKey: key, payload: { key, seq: i } }));

const seqOf = (m: OutboxMessage): number => (m.payload as { seq: number }).seq;

describe('outbox delivery', () => {
  it('three relays deliver every message once, in order per key, retrying a failure', async () => {
    const kind = `test.${randomUUID()}`;
    const keys = ['change:a', 'change:b', 'change:c'].map((k) => `${k}-${kind}`);
    for (const key of keys) await outbox.add(entries(kind, key, 6));
    const delivered = new Map<string, number[]>();
    let failures = 0;
    const handler = (m: OutboxMessage): Promise<void> => {
      // the third message of the first key fails twice before it goes out
      if (m.orderKey === keys[0] && seqOf(m) === 2 && failures < 2) {
        failures += 1;
        return Promise.reject(new Error('chat API unavailable'));
      }
      delivered.set(m.orderKey, [...(delivered.get(m.orderKey) ?? []), seqOf(m)]);
      return Promise.resolve();
    };
    const relays: OutboxRelay[] = Array.from({ length: 3 }, () =>
      createOutboxRelay({ outbox, handlers: { [kind]: handler }, logger, pollMs: 50, backoffMs: () => 100 }),
    );
    for (const r of relays) r.start();
    try {
      await waitFor(
        'all delivered',
        () => Promise.resolve([...delivered.values()].flat().length === 18),
        20_000,
      );
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
    for (const key of keys) expect(delivered.get(key)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(failures).toBe(2);
    const row = (
      await test.db.prisma.outbox.findMany({ where: { kind, orderKey: keys[0] }, orderBy: { id: 'asc' } })
    )[2];
    expect(row).toMatchObject({ attempts: 3, lastError: null });
    expect(row?.deliveredAt).not.toBeNull();
    expect(await outbox.pending({ kind })).toEqual([]);
  });

  it('gives a message up after its last attempt, says why, and the key goes on', async () => {
    const kind = `test.${randomUUID()}`;
    const key = `change:${kind}`;
    await outbox.add(entries(kind, key, 3));
    const delivered: number[] = [];
    const relay = createOutboxRelay({
      outbox,
      handlers: {
        [kind]: (m) =>
          seqOf(m) === 0
            ? Promise.reject(new Error('channel_not_found'))
            : (delivered.push(seqOf(m)), Promise.resolve()),
      },
      logger,
      pollMs: 50,
      maxAttempts: 3,
      backoffMs: () => 50,
    });
    relay.start();
    try {
      await waitFor('the rest delivered', () => Promise.resolve(delivered.length === 2), 20_000);
    } finally {
      await relay.stop();
    }
    expect(delivered).toEqual([1, 2]);
    const first = (await test.db.prisma.outbox.findMany({ where: { kind }, orderBy: { id: 'asc' } }))[0];
    expect(first).toMatchObject({ attempts: 3, lastError: 'channel_not_found', deliveredAt: null });
    expect(first?.failedAt).not.toBeNull();
  });

  it('a message claimed by a worker that died is delivered by another once the claim runs out', async () => {
    const kind = `test.${randomUUID()}`;
    const key = `change:${kind}`;
    await outbox.add(entries(kind, key, 2));
    // a worker claims the first message and dies before delivering it
    const claimed = await outbox.claim('dead-worker', { kinds: [kind], leaseMs: 1_500 });
    expect(claimed.map(seqOf)).toEqual([0]);
    const delivered: number[] = [];
    const relay = createOutboxRelay({
      outbox,
      handlers: { [kind]: (m) => (delivered.push(seqOf(m)), Promise.resolve()) },
      logger,
      pollMs: 100,
    });
    relay.start();
    try {
      // nothing overtakes the claimed message while its claim runs
      await new Promise((r) => setTimeout(r, 700));
      expect(delivered).toEqual([]);
      await waitFor('delivered', () => Promise.resolve(delivered.length === 2), 10_000);
    } finally {
      await relay.stop();
    }
    expect(delivered).toEqual([0, 1]);
  });
});
