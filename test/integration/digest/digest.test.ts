/**
 * The weekly digest end to end against PostgreSQL and the fake Slack Web API: what it says for the
 * hand-made history of ../metrics/seed.ts, the chart uploaded into its thread (files upload v2,
 * a valid PNG of the chart's size), one post per team and week even with two workers racing, a
 * failed run resumed without posting twice, and a team with nothing to report still getting one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPlatform } from '../../../src/bot/chat-platform.js';
import { renderDigest } from '../../../src/bot/slack/render.js';
import { createSlackPoster } from '../../../src/bot/slack/web-client.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { PatchbotError } from '../../../src/core/errors.js';
import { assembleMetrics, emptyCounts } from '../../../src/core/metrics/definitions.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { buildDigest, runDigest } from '../../../src/usecases/digest.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { parsePng } from '../../support/png.js';
import { NOW, seedHistory } from '../metrics/seed.js';

const logger = createLogger({ level: 'silent' });
const CH = { payments: 'C0PAYMENTS1', web: 'C0WEBTEAM01', opsA: 'C0OPSAAAA01', opsB: 'C0OPSBBBB01' };
const policy = Policy.parse({
  teams: [
    { name: 'payments', slack: { channels: [CH.payments] }, digest: { timeZone: 'Europe/Berlin' } },
    { name: 'web', slack: { channels: [CH.web] } },
    { name: 'ops', slack: { channels: [CH.opsA, CH.opsB] } },
  ],
  reporting: { coverageThreshold: 'high', expiringSoonDays: 14 },
});

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let fake: FakeSlackWebApi;
let slack: ChatPlatform;

const deps = (
  over: { now?: Date; claimedBy?: string; platforms?: ChatPlatform[]; r?: Repositories } = {},
) => ({
  repos: over.r ?? repos,
  policy,
  platforms: over.platforms ?? [slack],
  now: over.now ?? NOW,
  logger,
  claimedBy: over.claimedBy ?? 'test-worker',
});

beforeAll(async () => {
  pg = await createTempPostgres('digest');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await seedHistory(db);
  await repos.teams.syncPolicy(
    policy.teams.map((t) => ({ name: t.name, slackChannels: t.slack.channels })),
    new Date(),
  );
  // Last week: nothing covered, four open findings at high or above.
  const raw = emptyCounts();
  raw.hosts = 3;
  raw.exposedHosts = 3;
  raw.openByBand.high = 4;
  await repos.metrics.saveSnapshot({
    scope: 'team:payments',
    team: 'payments',
    weekStart: '2026-03-23',
    metrics: assembleMetrics(raw, {
      scope: { kind: 'team', name: 'payments' },
      asOf: new Date('2026-03-23T07:00:00Z'),
      threshold: 'high',
      expiringSoonDays: 14,
    }),
  });
  fake = await FakeSlackWebApi.start();
  slack = await createSlackPoster({ token: 'xoxb-test-token', apiUrl: fake.apiUrl, logger, intervalMs: 20 });
});

afterAll(async () => {
  await db?.close();
  await fake?.close();
  await pg?.drop();
});

const messagesIn = (channel: string) => fake.messages.filter((m) => m.channel === channel && !m.threadTs);

describe('weekly digest', () => {
  it('says what the history says', async () => {
    const { view, png } = await buildDigest({ ...deps() }, 'payments');
    expect(view.weekStart).toBe('2026-03-30');
    expect(view.verdict).toEqual({
      kind: 'action-required',
      headline: 'Action required',
      reasons: [
        // pay-3 has no inventory: nothing about it can be on track
        '1 host was not assessed, of 3 (1 never scanned)',
        '1 KEV finding is past the CISA due date',
        '1 other finding is past the SLA due date',
        '1 host deployment failed in the last 30 days',
      ],
    });
    expect(view.topRisks.map((r) => [r.package, r.advisoryId, r.score, r.hosts])).toEqual([
      ['libc6', 'DSA-1001-1', 90, 1],
      ['openssl', 'DSA-1003-1', 60, 1],
      ['curl', 'DSA-1002-1', 30, 1],
      ['zlib', 'DSA-1004-1', 10, 1],
    ]);
    expect(view.topRisks[0]?.cves.map((c) => c.id)).toEqual(['CVE-2026-1001']);
    expect(view.topRisks[0]).toMatchObject({ kev: true, band: 'critical', fixedVersion: '1.0-2' });
    // F1 was due 5 days ago, F7 1 day ago.
    expect(view.slaBreaches.total).toBe(2);
    expect(view.slaBreaches.lines.map((r) => r.package)).toEqual(['libc6', 'openssl']);
    expect(view.dueThisWeek).toMatchObject({ total: 1, lines: [{ package: 'curl' }] });
    // F5 (libc6, pay-2) and F8 (curl, pay-3) were fixed in the last 7 days.
    expect(view.patched).toEqual({
      total: 2,
      hosts: 2,
      lines: [
        { package: 'curl', findings: 1, hosts: 1 },
        { package: 'libc6', findings: 1, hosts: 1 },
      ],
    });
    expect(view.expiringAcceptances.total).toBe(1);
    expect(view.expiringAcceptances.lines).toMatchObject([
      { owner: 'alice', package: 'bash', advisoryId: 'DSA-1005-1', findings: 1 },
    ]);
    expect(view.expiringAcceptances.lines[0]?.cves.map((c) => c.id)).toEqual(['CVE-2026-1005']);
    const coverage = view.headlines.find((h) => h.key === 'coverage');
    expect(coverage).toMatchObject({ value: 1 / 3, previous: 0 });
    expect(parsePng(png)).toMatchObject({ width: view.chart?.width, height: view.chart?.height });
    const msg = renderDigest(view);
    expect(msg.text).toContain('Weekly digest for payments (week of 2026-03-30): Action required');
    const blocks = JSON.stringify(msg.blocks);
    expect(blocks).toContain('33.3% (+33.3 pp :small_green_triangle: vs last week)');
    expect(blocks).toContain('*SLA breaches (2)*');
  });

  it('posts once to each channel with the chart in its thread, and not again that week', async () => {
    const r = await runDigest(deps(), 'payments');
    expect(r).toMatchObject({ outcome: 'posted', posted: [`slack:${CH.payments}`], chartAttached: true });
    const [msg] = messagesIn(CH.payments);
    expect(messagesIn(CH.payments)).toHaveLength(1);
    expect(msg?.text).toContain('Action required');
    const completes = fake.callsTo('files.completeUploadExternal');
    expect(completes).toHaveLength(1);
    expect(completes[0]?.params).toMatchObject({ channel_id: CH.payments, thread_ts: msg?.ts });
    const file = fake.files.find((f) => f.channel === CH.payments);
    expect(file).toMatchObject({ threadTs: msg?.ts, filename: 'patchbot-digest-payments-2026-03-30.png' });
    expect(parsePng(file?.bytes ?? new Uint8Array())).toMatchObject({ width: 960, height: 480 });

    const run = await db.prisma.digestRun.findFirstOrThrow({ where: { team: { name: 'payments' } } });
    expect(run).toMatchObject({ state: 'posted', claimedBy: 'test-worker' });
    expect(run.weekStart.toISOString().slice(0, 10)).toBe('2026-03-30');
    const snapshots = await db.prisma.metricSnapshot.findMany({
      where: { weekStart: new Date('2026-03-30T00:00:00Z') },
    });
    expect(snapshots.map((s) => s.scope).sort()).toEqual(['fleet', 'team:payments']);

    // Later the same week (Sunday night in Berlin): already posted.
    const again = await runDigest(deps({ now: new Date('2026-04-05T21:00:00Z') }), 'payments');
    expect(again.outcome).toBe('already-posted');
    expect(messagesIn(CH.payments)).toHaveLength(1);
    // The next week: a new digest.
    const next = await runDigest(deps({ now: new Date('2026-04-06T07:00:00Z') }), 'payments');
    expect(next.outcome).toBe('posted');
    expect(messagesIn(CH.payments)).toHaveLength(2);
  });

  it('posts one digest when two workers race for the same team and week', async () => {
    const second = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
    try {
      const other = await createSlackPoster({ token: 'xoxb-test-token', apiUrl: fake.apiUrl, logger });
      const results = await Promise.all([
        runDigest(deps({ claimedBy: 'worker-a' }), 'web'),
        runDigest(deps({ claimedBy: 'worker-b', platforms: [other], r: createRepositories(second) }), 'web'),
      ]);
      // The loser finds the claim taken: still posting, or already done (depending on timing).
      const outcomes = results.map((r) => r.outcome).sort();
      expect(outcomes[1]).toBe('posted');
      expect(['already-posted', 'in-progress']).toContain(outcomes[0]);
      expect(messagesIn(CH.web)).toHaveLength(1);
      expect(fake.files.filter((f) => f.channel === CH.web)).toHaveLength(1);
      const runs = await db.prisma.digestRun.findMany({ where: { team: { name: 'web' } } });
      expect(runs).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('resumes a failed run without posting twice, and posts "On track" for a team with nothing to report', async () => {
    // The second channel's post fails once (a Slack outage half-way through).
    let posts = 0;
    const flaky: ChatPlatform = {
      platform: 'slack',
      post: async (to, content) => {
        posts++;
        if (posts === 2) throw new PatchbotError('TRANSIENT', 'Slack is down');
        return slack.post(to, content);
      },
      update: (ref, content) => slack.update(ref, content),
      reply: (ref, content) => slack.reply(ref, content),
      postEphemeral: (to, user, content) => slack.postEphemeral(to, user, content),
      uploadPng: (to, file, thread) => slack.uploadPng(to, file, thread),
    };
    await expect(runDigest(deps({ platforms: [flaky] }), 'ops')).rejects.toThrow('Slack is down');
    const failed = await db.prisma.digestRun.findFirstOrThrow({ where: { team: { name: 'ops' } } });
    expect(failed).toMatchObject({ state: 'failed', error: 'Slack is down' });
    expect(messagesIn(CH.opsA)).toHaveLength(1);
    expect(messagesIn(CH.opsB)).toHaveLength(0);

    const retry = await runDigest(deps({ platforms: [flaky] }), 'ops');
    expect(retry).toMatchObject({ outcome: 'posted', posted: [`slack:${CH.opsB}`], verdict: 'on-track' });
    expect(messagesIn(CH.opsA)).toHaveLength(1);
    expect(messagesIn(CH.opsB)).toHaveLength(1);
    expect(messagesIn(CH.opsB)[0]?.text).toContain('On track');
  });

  it('stores the snapshots but posts nothing without a chat platform', async () => {
    const r = await runDigest(deps({ platforms: [], now: new Date('2026-04-13T08:00:00Z') }), 'web');
    expect(r.outcome).toBe('no-platform');
    const s = await repos.metrics.snapshots('team:web', '2026-04-13', '2026-04-13');
    expect(s).toHaveLength(1);
  });
});
