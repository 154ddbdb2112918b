/**
 * Signed webhooks end to end: events written by the decision ledger on real PostgreSQL, two real
 * `patchbot worker` processes fanning them out and delivering them to loopback receivers that check
 * the signature as docs/integrations.md shows. One receiver is down, then slow (past the timeout),
 * then broken (500), then well: nothing is lost, each change's events arrive in order, and a
 * repeat is only ever a redelivery with the same id. The other receiver keeps failing until its
 * deliveries are dead-lettered: `patchbot webhooks failed` lists them and `webhooks retry`
 * delivers them.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/client.js';
import { ChangeRepository, type LedgerWrite } from '../../../src/db/repositories/change-repository.js';
import { WebhookReceiver } from '../../fakes/webhook-receiver.js';
import { runCli } from '../../support/cli.js';
import { openDatabase } from '../../../src/db/client.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { freePort, spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';
import { REDIS_URL, waitFor } from '../deployments/support.js';

const SECRET = `whsec-${randomUUID()}`;
const CHANGES = 3;
const EVENTS_PER_CHANGE = 5;

let pg_: TempPostgres;
let db: Database;
let dir: TempDir;
let main: WebhookReceiver;
let flaky: WebhookReceiver;
let env: NodeJS.ProcessEnv;
const procs: Proc[] = [];

async function startWorker(): Promise<Proc> {
  const proc = spawnPatchbot(['worker'], env, dir.dir);
  procs.push(proc);
  await waitForLine(proc, /patchbot worker is up/, 90_000);
  return proc;
}

/** A change request as the campaigns create it (pending). */
async function newChange(): Promise<string> {
  const c = await db.prisma.changeRequest.create({
    data: {
      ecosystem: 'Debian:12',
      packageName: `pkg-${randomUUID().slice(0, 6)}`,
      fixedVersion: '1.0',
      policySnapshot: {},
    },
  });
  return c.id;
}

/** A rollout request by `actor`: one ledger transaction, one change.requested event. */
function requestBy(actor: string): LedgerWrite {
  return {
    decision: { kind: 'request', actorId: actor, surface: 'cli', round: 1 },
    change: { requestedBy: actor, requestedVia: 'cli' },
    audit: { actor, surface: 'cli', action: 'change.request', details: {} },
  };
}

const eventRows = async () =>
  (await db.prisma.outbox.findMany({ where: { kind: 'event' }, orderBy: { id: 'asc' } })).map(
    (r) => r.payload as { id: string; changeId: string; type: string; data: { actor?: string } },
  );

const deliveries = (sink: string) =>
  db.prisma.outbox.findMany({ where: { kind: `sink:${sink}` }, orderBy: { id: 'asc' } });

beforeAll(async () => {
  pg_ = await createTempPostgres('webhooks');
  db = await openDatabase({ url: pg_.url, dataDir: '/nonexistent' });
  await db.migrate();
  dir = await createTempDir('patchbot-webhooks');
  main = new WebhookReceiver(await freePort(), SECRET);
  flaky = new WebhookReceiver(await freePort(), SECRET);
  const policyPath = path.join(dir.dir, 'patchbot.yaml');
  await writeFile(
    policyPath,
    JSON.stringify({
      // nothing reaches outside: no feed source, no inventory run during the test
      feeds: {
        sources: Object.fromEntries(
          ['debian-tracker', 'osv-debian', 'kev', 'epss'].map((n) => [n, { enabled: false }]),
        ),
      },
      inventory: { collectInterval: '30d' },
      webhooks: [
        {
          name: 'main',
          url: main.url,
          allowHttpLoopback: true,
          secretEnv: 'MAIN_WEBHOOK_SECRET',
          events: ['change.*'],
          timeout: '1s',
          retry: { maxAttempts: 100, initialBackoff: '1s', maxBackoff: '2s' },
        },
        {
          name: 'flaky',
          url: flaky.url,
          allowHttpLoopback: true,
          secretEnv: 'FLAKY_WEBHOOK_SECRET',
          events: ['change.requested'],
          timeout: '1s',
          retry: { maxAttempts: 2, initialBackoff: '1s', maxBackoff: '1s' },
        },
      ],
    }),
  );
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: pg_.url,
    REDIS_URL,
    PATCHBOT_CONFIG: policyPath,
    PATCHBOT_QUEUE_PREFIX: `pbwh-${randomUUID().slice(0, 8)}`,
    MAIN_WEBHOOK_SECRET: SECRET,
    FLAKY_WEBHOOK_SECRET: SECRET,
    LOG_LEVEL: 'info',
  };
}, 180_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await main?.close();
  await flaky?.close();
  await db?.close();
  await pg_?.drop();
  await dir?.remove();
});

describe('signed webhooks through an outage', () => {
  it('delivers every event once it can, in order per change, verified, to each sink on its own', async () => {
    await main.setMode('down');
    await flaky.setMode('error');
    const changes = await Promise.all(Array.from({ length: CHANGES }, () => newChange()));
    const ledger = new ChangeRepository(db.prisma);
    await startWorker();
    await startWorker();

    // 15 ledger transactions, interleaved across the changes, as people click
    for (let k = 0; k < EVENTS_PER_CHANGE; k++) {
      for (const id of changes)
        await ledger.transact(id, () => ({ write: requestBy(`u${k}`), result: null }));
    }
    const events = await eventRows();
    expect(events).toHaveLength(CHANGES * EVENTS_PER_CHANGE);

    // down: deliveries fail and wait for their retry
    await waitFor('a failed delivery while the receiver is down', async () =>
      (await deliveries('webhook:main')).some(
        (d) => d.attempts > 0 && d.lastError !== null && d.deliveredAt === null,
      ),
    );
    expect(main.received).toEqual([]);

    // slow: the receiver takes the event but answers after patchbot gave up on it
    await main.setMode('slow');
    await waitFor('a delivery that timed out', async () =>
      (await deliveries('webhook:main')).some((d) => /no answer within 1s/.test(d.lastError ?? '')),
    );
    // broken
    await main.setMode('error');
    const before = main.received.length;
    await waitFor('a delivery answered with 500', () =>
      Promise.resolve(main.received.slice(before).some((r) => r.mode === 'error')),
    );
    // well again
    await main.setMode('ok');
    await waitFor(
      'every event delivered to main',
      async () =>
        (await deliveries('webhook:main')).filter((d) => d.deliveredAt !== null).length === events.length,
      120_000,
    );

    // every delivery verifies with the documented check and is a CloudEvent
    expect(main.received.every((r) => r.verified)).toBe(true);
    expect(main.received.every((r) => r.contentType === 'application/cloudevents+json; charset=utf-8')).toBe(
      true,
    );
    const ok = main.accepted();
    for (const r of ok) {
      expect(r.body).toMatchObject({
        specversion: '1.0',
        source: '/patchbot',
        type: 'dev.patchbot.change.requested',
        id: r.id,
      });
    }
    // nothing lost: every event reached the receiver
    const ids = new Set(ok.map((r) => r.id));
    expect([...ids].sort()).toEqual(events.map((e) => e.id).sort());
    // order per change: first arrivals follow the order the events were written in
    for (const change of changes) {
      const written = events.filter((e) => e.changeId === change).map((e) => e.id);
      const firstArrivals = [
        ...new Set(
          ok.filter((r) => (r.body.data as { changeId: string }).changeId === change).map((r) => r.id),
        ),
      ];
      expect(firstArrivals).toEqual(written);
      expect(written.map((id) => events.find((e) => e.id === id)?.data.actor)).toEqual(
        Array.from({ length: EVENTS_PER_CHANGE }, (_, k) => `u${k}`),
      );
    }
    // a repeat is a redelivery of the same event after a timeout, never a second event
    const repeats = ok.length - ids.size;
    expect(repeats).toBeLessThanOrEqual(main.received.filter((r) => r.mode === 'slow').length);
    // one delivery row per event and sink, whatever two workers did
    expect(await deliveries('webhook:main')).toHaveLength(events.length);

    // the flaky sink gave its deliveries up (2 attempts each) without holding main back
    await waitFor(
      'flaky deliveries dead-lettered',
      async () =>
        (await deliveries('webhook:flaky')).filter((d) => d.failedAt !== null).length === events.length,
      120_000,
    );
    const failed = await runCli(['webhooks', 'failed', '--format', 'json'], env, dir.dir);
    expect(failed.code, failed.stderr).toBe(0);
    const listed = (
      JSON.parse(failed.stdout) as {
        failed: { id: string; sink: string; eventId: string; attempts: number; lastError: string }[];
      }
    ).failed;
    expect(listed).toHaveLength(events.length);
    expect(
      listed.every((d) => d.sink === 'webhook:flaky' && d.attempts === 2 && /HTTP 500/.test(d.lastError)),
    ).toBe(true);
    expect(listed.map((d) => d.eventId).sort()).toEqual(events.map((e) => e.id).sort());
    const text = await runCli(['webhooks', 'failed'], env, dir.dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${events.length} failed deliveries`);

    // retry one by id, then the rest
    await flaky.setMode('ok');
    const one = await runCli(['webhooks', 'retry', listed[0].id], env, dir.dir);
    expect(one.code, one.stderr).toBe(0);
    await waitFor('the retried delivery arrives', () =>
      Promise.resolve(flaky.accepted().some((r) => r.id === listed[0].eventId)),
    );
    const all = await runCli(['webhooks', 'retry', '--all', '--format', 'json'], env, dir.dir);
    expect(all.code, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as { requeued: string[] }).requeued).toHaveLength(events.length - 1);
    await waitFor(
      'every flaky delivery delivered',
      async () => (await deliveries('webhook:flaky')).every((d) => d.deliveredAt !== null),
      60_000,
    );
    expect(new Set(flaky.accepted().map((r) => r.id)).size).toBe(events.length);
    expect(flaky.received.every((r) => r.verified)).toBe(true);
    const none = await runCli(['webhooks', 'failed'], env, dir.dir);
    expect(none.stdout).toContain('no failed deliveries');
    const again = await runCli(['webhooks', 'retry', listed[0].id], env, dir.dir);
    expect(again.code).toBe(1);

    const list = await runCli(['webhooks', 'list', '--format', 'json'], env, dir.dir);
    expect(list.code, list.stderr).toBe(0);
    const figures = JSON.parse(list.stdout) as {
      webhooks: { name: string; secret: string; deliveries: { delivered: number; failed: number } }[];
    };
    expect(
      figures.webhooks.map((w) => [w.name, w.secret, w.deliveries.delivered, w.deliveries.failed]),
    ).toEqual([
      ['main', 'set', events.length, 0],
      ['flaky', 'set', events.length, 0],
    ]);
  }, 400_000);

  it('webhooks test sends a signed ping and its exit code says whether it arrived', async () => {
    await main.setMode('ok');
    const before = main.received.length;
    const sent = await runCli(['webhooks', 'test', 'main'], env, dir.dir);
    expect(sent.code, sent.stderr).toBe(0);
    const ping = main.received.slice(before);
    expect(ping).toHaveLength(1);
    expect(ping[0]).toMatchObject({
      verified: true,
      body: { type: 'dev.patchbot.ping', subject: 'webhook/main' },
    });
    await main.setMode('error');
    const refused = await runCli(['webhooks', 'test', 'main', '--format', 'json'], env, dir.dir);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ outcome: 'error', status: null });
    await main.setMode('down');
    const down = await runCli(['webhooks', 'test', 'main'], env, dir.dir);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/not delivered: webhook main: cannot reach/);
    const unknown = await runCli(['webhooks', 'test', 'nope'], env, dir.dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no webhook named "nope"');
  });
});
