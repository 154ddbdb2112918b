/**
 * Events are written with the state change that causes them, on real PostgreSQL: a ledger
 * decision, a new or escalated campaign, a deployment transition. A transaction that rolls back
 * leaves no event; an event's time is the database's clock of its transaction. Then fan-out and
 * delivery by four dispatchers at once (as four worker processes would): each event reaches each
 * sink exactly once, in order per change, and a sink that keeps failing holds up no other.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSink, PatchbotEvent } from '../../../src/core/events/event.js';
import { TransientError } from '../../../src/core/errors.js';
import { createRepositories, type Repositories } from '../../../src/db/index.js';
import {
  ChangeRepository,
  DuplicateDecisionError,
  type LedgerWrite,
} from '../../../src/db/repositories/change-repository.js';
import { createEventDispatcher } from '../../../src/jobs/events/dispatcher.js';
import { outboxesOf } from '../../../src/usecases/deployments/engine.js';
import type { DeploymentProgressEvent } from '../../../src/usecases/deployments/types.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { waitFor } from '../deployments/support.js';

const logger = pino({ level: 'silent' });
let test: TestDatabase;
let repos: Repositories;

beforeAll(async () => {
  test = await openTestDatabase('postgres', 'events');
  repos = createRepositories(test.db);
});
afterAll(async () => {
  await test?.dispose();
});

async function newChange(
  status: 'pending' | 'approved' = 'pending',
): Promise<{ id: string; number: number }> {
  return test.db.prisma.changeRequest.create({
    data: {
      ecosystem: 'Debian:12',
      packageName: `pkg-${randomUUID().slice(0, 6)}`,
      fixedVersion: '1.0',
      policySnapshot: {},
      status,
    },
    select: { id: true, number: true },
  });
}

const eventsOf = async (changeId: string) =>
  (await test.db.prisma.outbox.findMany({ where: { kind: 'event' }, orderBy: { id: 'asc' } }))
    .map((r) => ({
      ...(r.payload as { id: string; type: string; changeId: string; data: Record<string, unknown> }),
      createdAt: r.createdAt,
    }))
    .filter((e) => e.changeId === changeId);

const write = (kind: 'request' | 'approve', actor: string, status?: 'approved'): LedgerWrite => ({
  decision: { kind, actorId: actor, surface: 'cli', round: 1 },
  ...(status ? { change: { status } } : {}),
  audit: { actor, surface: 'cli', action: `change.${kind}`, details: {} },
});

describe('events are written with their state change', () => {
  it('a ledger transaction writes its events at its own clock; one that rolls back writes none', async () => {
    const change = await newChange();
    const ledger = new ChangeRepository(test.db.prisma);
    const requested = await ledger.transact(change.id, () => ({
      write: write('request', 'alice'),
      result: null,
    }));
    const approved = await ledger.transact(change.id, () => ({
      write: write('approve', 'bob', 'approved'),
      result: null,
    }));
    const events = await eventsOf(change.id);
    expect(events.map((e) => e.type)).toEqual(['change.requested', 'change.approved']);
    expect(events[0]?.createdAt.getTime()).toBe(requested.now.getTime());
    expect(events[1]?.createdAt.getTime()).toBe(approved.now.getTime());
    expect(events[1]?.data).toMatchObject({ actor: 'bob', surface: 'cli' });

    // the same decision again: the unique index refuses it and the whole transaction rolls back
    await expect(
      ledger.transact(change.id, () => ({ write: write('approve', 'bob'), result: null })),
    ).rejects.toBeInstanceOf(DuplicateDecisionError);
    expect(await eventsOf(change.id)).toHaveLength(2);
  });

  it('a new campaign writes change.opened, a risk that rose writes change.escalated', async () => {
    const input = {
      team: 'nobody',
      ecosystem: 'Debian:12',
      packageName: `pkg-${randomUUID().slice(0, 6)}`,
      sourcePackage: 'src',
      fixedVersion: '2.0',
      findingIds: [],
      riskScore: 40,
      severity: 'medium' as const,
      kev: false,
      policyFor: () => ({ snapshot: {}, approvalsRequired: 1 }),
    };
    const ledger = new ChangeRepository(test.db.prisma);
    const created = await ledger.upsertCampaign(input, new Date());
    expect(created.created).toBe(true);
    await ledger.upsertCampaign(
      { ...input, riskScore: 90, kev: true, escalation: 'Escalated: CVE-2024-0001 is in KEV' },
      new Date(),
    );
    const events = await eventsOf(created.id);
    expect(events.map((e) => e.type)).toEqual(['change.opened', 'change.escalated']);
    expect(events[1]?.data).toMatchObject({ reason: 'Escalated: CVE-2024-0001 is in KEV', kev: true });
  });

  it('a deployment transition that rolls back writes no event; the one that commits writes it with the thread post', async () => {
    const change = await newChange('approved');
    const dep = await repos.deployments.create({
      changeRequestId: change.id,
      emergency: false,
      createdBy: 'test',
      plan: {},
      rings: [
        {
          name: 'canary',
          concurrency: 1,
          failureBudget: { count: 0 },
          soakSeconds: 0,
          notBefore: null,
          healthChecks: [],
          hosts: [],
        },
      ],
    });
    const progress = (): DeploymentProgressEvent => ({
      type: 'scheduled',
      emergency: false,
      rings: 1,
      hosts: 0,
      firstStart: null,
      deploymentId: dep.id,
      deploymentNumber: dep.number,
      changeRequestId: change.id,
      changeNumber: change.number,
      at: new Date(),
    });
    // the change's row refuses to move: the transition's transaction fails after writing the outbox rows
    await test.db.sql.query(`CREATE FUNCTION refuse_scheduled() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.status = 'scheduled' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
    await test.db.sql.query(
      `CREATE TRIGGER refuse_scheduled BEFORE UPDATE ON "ChangeRequest" FOR EACH ROW EXECUTE FUNCTION refuse_scheduled()`,
    );
    await expect(
      repos.deployments.transition(dep.id, { type: 'schedule' }, new Date(), [], () =>
        outboxesOf(progress()),
      ),
    ).rejects.toThrow(/refused by the test/);
    expect(await eventsOf(change.id)).toEqual([]);
    expect(await test.db.prisma.outbox.count({ where: { orderKey: `change:${change.id}` } })).toBe(0);
    await test.db.sql.query(`DROP TRIGGER refuse_scheduled ON "ChangeRequest"`);

    const moved = await repos.deployments.transition(dep.id, { type: 'schedule' }, new Date(), [], () =>
      outboxesOf(progress()),
    );
    expect(moved.ok).toBe(true);
    const events = await eventsOf(change.id);
    expect(events.map((e) => e.type)).toEqual(['deployment.planned']);
    expect(events[0]).toMatchObject({
      deploymentId: dep.id,
      data: { deploymentNumber: dep.number, rings: 1 },
    });
    expect(
      await test.db.prisma.outbox.count({
        where: { orderKey: `change:${change.id}`, kind: 'chat.deployment' },
      }),
    ).toBe(1);
  });
});

/** A sink that records what it got (and fails while `failing`). */
class RecordingSink implements EventSink {
  readonly got: PatchbotEvent[] = [];
  failing = false;
  constructor(
    readonly name: string,
    private readonly types: readonly string[] | 'all' = 'all',
  ) {}
  accepts(e: PatchbotEvent): boolean {
    return this.types === 'all' || this.types.includes(e.type);
  }
  async deliver(e: PatchbotEvent): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.random() * 5));
    if (this.failing)
      throw new TransientError(`${this.name} unavailable`, { details: { retryAfterMs: 1_000 } });
    this.got.push(e);
  }
}

describe('fan-out and delivery by several processes at once', () => {
  it('each event reaches each sink exactly once, in order per change; a failing sink holds nobody up', async () => {
    const ledger = new ChangeRepository(test.db.prisma);
    const changes = await Promise.all(Array.from({ length: 4 }, () => newChange()));
    const run = randomUUID().slice(0, 6);
    const a = new RecordingSink(`a-${run}`);
    const b = new RecordingSink(`b-${run}`, ['change.requested']);
    const down = new RecordingSink(`down-${run}`);
    down.failing = true;
    const dispatchers = Array.from({ length: 4 }, () =>
      createEventDispatcher({
        outbox: repos.outbox,
        events: repos.events,
        sinks: [a, b, down].map((sink) => ({
          sink,
          retry: { maxAttempts: 50, initialBackoffMs: 100, maxBackoffMs: 200 },
        })),
        logger,
        pollMs: 50,
      }),
    );
    for (const d of dispatchers) d.start();
    try {
      // 20 ledger transactions, 5 per change, fired concurrently across the changes
      await Promise.all(
        changes.map(async (c) => {
          for (let k = 0; k < 5; k++)
            await ledger.transact(c.id, () => ({ write: write('request', `p${k}`), result: null }));
        }),
      );
      const written = (await Promise.all(changes.map((c) => eventsOf(c.id)))).flat();
      expect(written).toHaveLength(20);
      const ours = new Set(changes.map((c) => c.id));
      const mine = (sink: RecordingSink) => sink.got.filter((e) => ours.has(e.changeId));
      await waitFor(
        'a and b have every event',
        () => Promise.resolve(mine(a).length >= 20 && mine(b).length >= 20),
        30_000,
      );
      // the failing sink was tried and is waiting for its retry, not dead-lettered, not delivered
      const stuck = (await test.db.prisma.outbox.findMany({ where: { kind: `sink:${down.name}` } })).filter(
        (d) => ours.has((d.payload as { changeId: string }).changeId),
      );
      expect(stuck).toHaveLength(20);
      expect(stuck.every((d) => d.deliveredAt === null && d.failedAt === null)).toBe(true);
      expect(stuck.some((d) => d.attempts > 0)).toBe(true);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
    }
    for (const sink of [a, b]) {
      expect(
        sink.got
          .filter((e) => changes.some((c) => c.id === e.changeId))
          .map((e) => e.id)
          .sort(),
      ).toEqual(
        (await Promise.all(changes.map((c) => eventsOf(c.id))))
          .flat()
          .map((e) => e.id)
          .sort(),
      );
      for (const c of changes) {
        expect(sink.got.filter((e) => e.changeId === c.id).map((e) => e.data.actor)).toEqual([
          'p0',
          'p1',
          'p2',
          'p3',
          'p4',
        ]);
        expect(sink.got.filter((e) => e.changeId === c.id).every((e) => e.changeNumber === c.number)).toBe(
          true,
        );
      }
    }
  });
});
