/**
 * `patchbot serve` as a real process (node bin/patchbot.js) against a temp PostgreSQL database,
 * Redis and the fake Slack Web API: health, readiness (503 once Redis is gone), metrics, `/patch
 * status` answered through response_url by a chat.command job, a bad token refused at start,
 * SIGTERM shutting down cleanly.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositories, openDatabase, type Database } from '../../../src/db/index.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { freePort, spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import {
  postToSlackApp,
  signedHeaders,
  slashCommandBody,
  TEST_SIGNING_SECRET,
} from '../../support/slack-signing.js';
import {
  applyPolicy,
  CHANNELS,
  OLD_GLIBC,
  saveInventory,
  syncFeeds,
  testPolicy,
  TRACKER,
} from '../notify/seed.js';

let pg: TempPostgres;
let tmp: TempDir;
let db: Database;
let fake: FakeSlackWebApi;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  pg = await createTempPostgres('serve');
  tmp = await createTempDir('serve');
  db = await openDatabase({ url: pg.url, dataDir: tmp.dir });
  await db.migrate();
  const repos = createRepositories(db);
  const policy = testPolicy();
  await applyPolicy(repos, policy);
  await saveInventory(repos, 'pay-1', OLD_GLIBC, true);
  await saveInventory(repos, 'pay-2', '2.36-9+deb12u14');
  await saveInventory(repos, 'web-1', OLD_GLIBC);
  await syncFeeds(repos, policy, [TRACKER]);

  const policyFile = path.join(tmp.dir, 'patchbot.yaml');
  await writeFile(
    policyFile,
    stringify({
      teams: [
        { name: 'payments', slack: { channels: [CHANNELS.payments] } },
        { name: 'web', slack: { channels: [CHANNELS.web] } },
        { name: 'ops', slack: { channels: [CHANNELS.ops] } },
      ],
      hosts: [
        { name: 'pay-1', address: '10.0.0.11', team: 'payments', criticality: 1 },
        { name: 'pay-2', address: '10.0.0.12', team: 'payments' },
        { name: 'web-1', address: '10.0.0.21', labels: { role: 'web' } },
      ],
      routing: { rules: [{ match: { labels: { role: 'web' } }, team: 'web' }] },
    }),
  );
  fake = await FakeSlackWebApi.start();
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: policyFile,
    PATCHBOT_QUEUE_PREFIX: `pbtest-${randomBytes(4).toString('hex')}`,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    LOG_LEVEL: 'info',
  };
}, 60_000);

afterAll(async () => {
  await db?.close();
  await fake?.close();
  await pg?.drop();
  await tmp?.remove();
});

describe('patchbot serve', () => {
  let proc: Proc;
  let base: string;

  beforeAll(async () => {
    proc = spawnPatchbot(['serve', '--port', '0', '--host', '127.0.0.1'], env, tmp.dir);
    const m = await waitForLine(proc, /"port":(\d+)[^\n]*patchbot serve is up/);
    base = `http://127.0.0.1:${m[1]}`;
  }, 40_000);

  afterAll(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });

  it('answers /healthz and /readyz, with how fresh the advisory data is', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, string>;
      feeds: { source: string; asOf: string; stale: boolean }[];
      notice: string | null;
    };
    expect(body).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
    // the oracle: what the sync recorded
    const stored = await db.prisma.feedFreshness.findMany({ orderBy: { feed: 'asc' } });
    expect(stored.length).toBeGreaterThan(0);
    expect(body.feeds.map((f) => [f.source, f.asOf]).sort()).toEqual(
      stored.map((r) => [r.feed, r.asOf.toISOString()]).sort(),
    );
    expect(body.notice === null).toBe(body.feeds.every((f) => !f.stale));
  });

  it('answers /patch status through response_url with the numbers in PostgreSQL', async () => {
    const responseUrl = fake.responseUrl();
    const id = responseUrl.split('/').pop();
    const body = slashCommandBody({
      userId: 'U0ALICE001',
      text: 'status',
      channelId: CHANNELS.payments,
      responseUrl,
    });
    const ack = await postToSlackApp(`${base}/slack/events`, body, signedHeaders(TEST_SIGNING_SECRET, body));
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(3000);
    const answer = await fake.waitFor(() => fake.responses.find((r) => r.id === id), 20_000);

    // Oracle: every finding loaded and counted here.
    const findings = await db.prisma.finding.findMany({ where: { status: 'open' } });
    const critical = findings.filter((f) => f.severity === 'critical').length;
    const kevOverdue = findings.filter((f) => f.kev && f.slaDueAt && f.slaDueAt < new Date()).length;
    expect(findings.length).toBeGreaterThan(0);
    const text = String(answer.body.text);
    expect(text).toContain('Fleet status · 3 hosts');
    expect(text).toContain(`${findings.length} open findings (${critical} critical)`);
    expect(text).toContain(`${kevOverdue} KEV overdue`);
    expect(JSON.stringify(answer.body.blocks)).toContain('*Hosts needing reboot*\\n1 of 3');
    // and how fresh the advisory data it counts from is
    const tracker = await db.prisma.feedFreshness.findUniqueOrThrow({ where: { feed: 'debian-tracker' } });
    expect(JSON.stringify(answer.body.blocks)).toContain(
      `Advisory data: debian-tracker ${tracker.asOf.toISOString().slice(0, 10)}`,
    );
    expect(answer.body.response_type).toBe('ephemeral');
  });

  it('answers /patch status web-1 for the host', async () => {
    const responseUrl = fake.responseUrl();
    const id = responseUrl.split('/').pop();
    const body = slashCommandBody({
      userId: 'U0ALICE001',
      text: 'status web-1',
      channelId: CHANNELS.web,
      responseUrl,
    });
    const ack = await postToSlackApp(`${base}/slack/events`, body, signedHeaders(TEST_SIGNING_SECRET, body));
    expect(ack.status).toBe(200);
    const answer = await fake.waitFor(() => fake.responses.find((r) => r.id === id), 20_000);
    const host = await db.prisma.host.findUniqueOrThrow({ where: { name: 'web-1' } });
    const open = await db.prisma.finding.findMany({ where: { hostId: host.id, status: 'open' } });
    const lines = new Set(open.map((f) => `${f.packageName}|${f.fixedVersion === null ? 'none' : 'fix'}`));
    expect(String(answer.body.text)).toBe(`Host web-1: ${lines.size} open findings`);
    expect(JSON.stringify(answer.body.blocks)).toContain('libc6');
  });

  it('exposes Prometheus metrics', async () => {
    // A job is counted when BullMQ reports it completed, just after its answer went out.
    const deadline = Date.now() + 10_000;
    let text = '';
    for (;;) {
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      text = await res.text();
      if (
        /patchbot_jobs_total\{job="chat.command",outcome="completed"\} 2/.test(text) ||
        Date.now() > deadline
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(/patchbot_chat_requests_total\{kind="command",name="status"\} 2/);
    expect(text).toMatch(/patchbot_jobs_total\{job="chat.command",outcome="completed"\} 2/);
    const critical = await db.prisma.finding.count({ where: { status: 'open', severity: 'critical' } });
    expect(text).toContain(`patchbot_open_findings{band="critical"} ${critical}`);
    expect(text).toContain('# TYPE patchbot_decisions_total counter');
    // every feed's age in seconds since its data's date
    for (const f of await db.prisma.feedFreshness.findMany()) {
      const m = new RegExp(`patchbot_feed_age_seconds\\{source="${f.feed}"\\} ([\\d.e+]+)`).exec(text);
      expect(m, f.feed).not.toBeNull();
      const seconds = Number(m?.[1]);
      expect(Math.abs(seconds - (Date.now() - f.asOf.getTime()) / 1000)).toBeLessThan(60);
      expect(text).toMatch(new RegExp(`patchbot_feed_stale\\{source="${f.feed}"\\} [01]`));
    }
  });

  it('shuts down cleanly on SIGTERM', async () => {
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(code).toBe(0);
    expect(proc.stderr()).toMatch(/"msg":"stopped"/);
    expect(proc.stderr()).not.toMatch(/unhandled/i);
  }, 20_000);
});

describe('patchbot serve readiness', () => {
  it('answers /readyz 503 when Redis is unreachable', async () => {
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const proc = spawnPatchbot(
        ['serve', '--port', '0', '--host', '127.0.0.1', '--no-worker'],
        { ...env, REDIS_URL: `redis://127.0.0.1:${port}` },
        tmp.dir,
      );
      try {
        const m = await waitForLine(proc, /"port":(\d+)[^\n]*patchbot serve is up/);
        const base = `http://127.0.0.1:${m[1]}`;
        expect((await fetch(`${base}/readyz`)).status).toBe(200);
        redis.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 300));
        const res = await fetch(`${base}/readyz`);
        expect(res.status).toBe(503);
        const body = (await res.json()) as { checks: Record<string, string> };
        expect(body.checks.database).toBe('ok');
        expect(body.checks.redis).toMatch(/^failing/);
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
      } finally {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    } finally {
      redis.kill('SIGKILL');
    }
  }, 40_000);

  it('refuses to start with a bad Slack token, saying so', async () => {
    const proc = spawnPatchbot(
      ['serve', '--port', '0', '--host', '127.0.0.1'],
      { ...env, SLACK_BOT_TOKEN: 'xoxb-wrong-token' },
      tmp.dir,
    );
    const code = await proc.exited;
    expect(code).toBe(1);
    expect(proc.stderr()).toMatch(/patchbot: .*(token|auth)/i);
    expect(proc.stderr()).not.toMatch(/unhandled|UnhandledPromiseRejection/i);
  }, 40_000);
});
