/**
 * Ack latency of interactive requests: the real Bolt app over loopback HTTP, 200 concurrent signed
 * block_actions clicks (each handler then works 50 ms after its ack, as a database write would).
 * Reports p50/p99 from send to HTTP answer; Slack's limit is 3 s, the target p99 is < 100 ms.
 */
import { Worker } from 'node:worker_threads';
import { createSlackApp } from '../src/bot/slack/app.js';
import { createLogger } from '../src/logging/logger.js';
import { FakeSlackWebApi } from '../test/fakes/slack-web-api.js';
import { blockActionsBody, signedHeaders, TEST_SIGNING_SECRET } from '../test/support/slack-signing.js';

const CONCURRENT = 200;
const ROUNDS = 5;
const WARMUP = 200;

/** The load generator: sends each batch at once and answers with per-request latencies. */
const CLIENT = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
// Keep-alive connections, as Slack's senders reuse theirs.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const send = (url, { body, headers }) => new Promise((resolve, reject) => {
  const started = performance.now();
  const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
  });
  req.on('error', reject);
  req.end(body);
});
parentPort.on('message', async ({ url, requests }) => {
  parentPort.postMessage(await Promise.all(requests.map((r) => send(url, r))));
});
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run(): Promise<void> {
  const fake = await FakeSlackWebApi.start();
  let handled = 0;
  const edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger: createLogger({ level: 'silent' }),
    handlers: {
      onAction: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        handled++;
        return { type: 'done' };
      },
      onViewSubmission: () => Promise.resolve({}),
      onCommand: () => Promise.resolve(),
    },
  });
  const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}/slack/events`;
  // The clicks come from a worker thread (its own event loop, like Slack's servers), so the figures
  // measure the app's ack, not the load generator competing with it for the same thread.
  const client = new Worker(CLIENT, { eval: true });
  try {
    // Every request is built and signed before the clock starts: signing is the sender's work
    // (Slack's), not the app's, and must not count in the app's busy time.
    const build = (n: number, offset: number) =>
      Array.from({ length: n }, (_, j) => {
        const i = offset + j;
        const body = blockActionsBody({
          actionId: 'patch_approve',
          value: `0b5e3c1e-7f0a-4a63-9d55-${String(i).padStart(12, '0')}`,
          userId: `U0USER${String(i).padStart(5, '0')}`,
          channelId: 'C05PAYMENTS1',
          messageTs: '1724150000.000100',
          responseUrl: fake.responseUrl(),
        });
        return { body, headers: signedHeaders(TEST_SIGNING_SECRET, body) };
      });
    const batches = [
      build(WARMUP, 0),
      ...Array.from({ length: ROUNDS }, (_, r) => build(CONCURRENT, WARMUP + r * CONCURRENT)),
    ];
    const round = (requests: ReturnType<typeof build>) =>
      new Promise<{ status: number; ms: number }[]>((resolve, reject) => {
        client.once('message', resolve);
        client.once('error', reject);
        client.postMessage({ url, requests });
      });
    await round(batches[0]); // warm-up: JIT, one connection per concurrent sender
    const latencies: number[] = [];
    let failed = 0;
    const elu0 = performance.eventLoopUtilization();
    for (let r = 0; r < ROUNDS; r++) {
      for (const res of await round(batches[r + 1])) {
        if (res.status !== 200) failed++;
        latencies.push(res.ms);
      }
    }
    // Busy time of the app's event loop per click: the cost that queues up under concurrency.
    const elu = performance.eventLoopUtilization(elu0);
    const busyPerClick = elu.active / (CONCURRENT * ROUNDS);
    latencies.sort((a, b) => a - b);
    const total = WARMUP + CONCURRENT * ROUNDS;
    const deadline = Date.now() + 10_000;
    while (handled < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    console.log(
      `slack-ack: ${CONCURRENT} concurrent signed block_actions clicks x ${ROUNDS} rounds over loopback: ` +
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
        `max ${latencies[latencies.length - 1].toFixed(1)} ms (target p99 < 100 ms); ` +
        `app event loop busy ${busyPerClick.toFixed(2)} ms per click; ${failed} non-200, ${handled}/${total} handlers completed`,
    );
  } finally {
    await client.terminate();
    await edge.stop();
    await fake.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
