/**
 * Outbound event delivery cost: 1,000 events of 50 changes (20 each), fanned out and delivered
 * to two signed webhooks on a loopback receiver by two dispatchers at once (as two workers would),
 * through the real outbox on PostgreSQL. The receiver answers at once, so what is measured is
 * patchbot's own overhead: claims, leases, fan-out rows, signing and HTTP.
 *
 * Figures: time from the first event written to the last delivery acknowledged, deliveries per
 * second, and the mean per delivery.
 *
 * Needs PostgreSQL (PATCHBOT_TEST_POSTGRES_URL, default on 127.0.0.1).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import pino from 'pino';
import { Webhook } from '../src/config/policy-webhooks.js';
import { openDatabase } from '../src/db/client.js';
import { createRepositories } from '../src/db/index.js';
import { eventEntry } from '../src/db/repositories/event-outbox.js';
import { buildWebhookSinks } from '../src/integrations/sinks.js';
import { createEventDispatcher } from '../src/jobs/events/dispatcher.js';
import { createTempPostgres } from '../test/support/postgres.js';

const CHANGES = 50;
const PER_CHANGE = 20;
const SINKS = 2;

export async function run(): Promise<void> {
  const pg = await createTempPostgres('bench-events');
  const db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    await db.migrate();
    const repos = createRepositories(db);
    const logger = pino({ level: 'silent' });
    const webhooks = Array.from({ length: SINKS }, (_, i) =>
      Webhook.parse({
        name: `bench-${i}`,
        url: `http://127.0.0.1:${port}/hook`,
        secretEnv: 'BENCH_SECRET',
        allowHttpLoopback: true,
      }),
    );
    const sinks = buildWebhookSinks({ webhooks }, () => 'a-bench-secret-of-32-characters0', { logger });
    const changes = [];
    for (let c = 0; c < CHANGES; c++) {
      changes.push(
        await db.prisma.changeRequest.create({
          data: { ecosystem: 'Debian:12', packageName: `pkg-${c}`, fixedVersion: '1', policySnapshot: {} },
          select: { id: true },
        }),
      );
    }
    const dispatchers = Array.from({ length: 2 }, () =>
      createEventDispatcher({ outbox: repos.outbox, events: repos.events, sinks, logger, pollMs: 20 }),
    );
    const total = CHANGES * PER_CHANGE * SINKS;
    const t0 = performance.now();
    for (const d of dispatchers) d.start();
    for (let k = 0; k < PER_CHANGE; k++) {
      await repos.outbox.add(
        changes.map((c) =>
          eventEntry({ type: 'change.requested', changeId: c.id, data: { actor: `u${k}`, n: randomUUID() } }),
        ),
      );
    }
    while (
      (await db.prisma.outbox.count({
        where: { kind: { startsWith: 'sink:' }, deliveredAt: { not: null } },
      })) < total
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = performance.now() - t0;
    await Promise.all(dispatchers.map((d) => d.stop()));
    console.log(
      `${CHANGES * PER_CHANGE} events x ${SINKS} webhooks = ${total} deliveries (${received} received, 2 dispatchers): ` +
        `${(ms / 1000).toFixed(2)} s, ${Math.round(total / (ms / 1000))} deliveries/s, ${(ms / total).toFixed(2)} ms each`,
    );
  } finally {
    server.close();
    await db.close();
    await pg.drop();
  }
}
