/**
 * Approvals end to end: real findings (real dpkg status with an old glibc, the Debian tracker
 * sample) in a temp PostgreSQL database, campaigns posted by notify through the real Bolt app's
 * Web API client to the fake Slack Web API, and people clicking the buttons: signed
 * block_actions / view_submission / slash-command requests to the real Bolt app over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import {
  createSlackApp,
  slackGroupMembers,
  SlackPoster,
  type SlackEdge,
} from '../../../src/bot/slack/index.js';
import { ACTION_IDS } from '../../../src/bot/slack/render.js';
import { CALLBACK_IDS } from '../../../src/bot/slack/modals.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { notifyNewlyRelevant } from '../../../src/usecases/notify.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import {
  blockActionsBody,
  postToSlackApp,
  signedHeaders,
  slashCommandBody,
  TEST_SIGNING_SECRET,
  viewSubmissionBody,
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

const logger = createLogger({ level: 'silent' });
const ALICE = 'U0ALICE0001';
const BOB = 'U0BOBBY0002';
const CAROL = 'U0CAROL0003'; // approver through the user group
const MALLORY = 'U0MALLORY04'; // not an approver
const LEADS = 'S0PAYLEADS1';
const HOUR = 3_600_000;

function policy(): Policy {
  return testPolicy({
    teams: [
      {
        name: 'payments',
        slack: { channels: [CHANNELS.payments] },
        approvers: { production: { slackUsers: [ALICE, BOB], slackUserGroups: [LEADS] } },
      },
      { name: 'web', slack: { channels: [CHANNELS.web] } },
      { name: 'ops', slack: { channels: [CHANNELS.ops] } },
    ],
    approval: {
      default: { quorum: 1, expiry: '72h' },
      rules: [
        { name: 'production-two-person', match: { environments: ['production'] }, quorum: 2, expiry: '1h' },
      ],
    },
    riskAcceptance: { maxExpiryDays: 30, defaultExpiryDays: 14 },
  });
}

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let fake: FakeSlackWebApi;
let edge: SlackEdge;
let url: string;
let approvals: Approvals;
const clock = Date.now();
const now = () => new Date(clock);

interface Campaign {
  id: string;
  number: number;
  packageName: string;
  fixedVersion: string;
  ecosystem: string;
  ts: string;
}
let campaigns: Campaign[] = [];

let poster: SlackPoster;
let seq = 0;

/**
 * A fresh campaign for one test: the seeded glibc fix's findings under a distinct fixed version
 * (a campaign is one fix x one team), posted and recorded as notify does.
 */
async function take(): Promise<Campaign> {
  const base = campaigns[0];
  if (!base) throw new Error('the seed posted no campaign');
  const findings = await db.prisma.changeRequestFinding.findMany({ where: { changeRequestId: base.id } });
  const fixed = `${base.fixedVersion}+t${++seq}`;
  const { changeId } = await approvals.campaigns.upsertCampaign(
    {
      team: 'payments',
      ecosystem: base.ecosystem,
      packageName: base.packageName,
      sourcePackage: base.packageName,
      fixedVersion: fixed,
      findingIds: findings.map((f) => f.findingId),
      riskScore: 50,
      severity: 'high',
      kev: false,
    },
    now(),
  );
  const ref = await poster.post(
    { channel: CHANNELS.payments },
    await approvals.campaignView(changeId, now()),
  );
  await approvals.campaigns.recordMessage(changeId, ref);
  const row = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } });
  return {
    id: changeId,
    number: row.number,
    packageName: row.packageName,
    fixedVersion: fixed,
    ecosystem: row.ecosystem,
    ts: ref.id,
  };
}

async function click(user: string, kind: keyof typeof ACTION_IDS, c: Campaign) {
  const responseUrl = fake.responseUrl();
  const body = blockActionsBody({
    userId: user,
    userName: user.toLowerCase(),
    actionId: ACTION_IDS[kind],
    value: c.id,
    channelId: CHANNELS.payments,
    messageTs: c.ts,
    responseUrl,
  });
  const res = await postToSlackApp(url, body, signedHeaders(TEST_SIGNING_SECRET, body));
  expect(res.status).toBe(200);
  return responseUrl.split('/').pop() ?? '';
}

/** What was answered to a response_url, as text. */
async function answerTo(responseId: string): Promise<string> {
  const r = await fake.waitFor(() => fake.responses.find((x) => x.id === responseId));
  return JSON.stringify(r.body);
}

async function submit(
  user: string,
  kind: keyof typeof CALLBACK_IDS,
  c: Campaign,
  values: Record<string, Record<string, Record<string, unknown>>>,
) {
  const body = viewSubmissionBody({
    userId: user,
    callbackId: CALLBACK_IDS[kind],
    privateMetadata: JSON.stringify({ changeId: c.id, channel: CHANNELS.payments, ts: c.ts }),
    values,
  });
  const res = await postToSlackApp(url, body, signedHeaders(TEST_SIGNING_SECRET, body));
  expect(res.status).toBe(200);
  return res;
}

async function waitForDecisions(changeId: string, count: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const n = await db.prisma.decision.count({ where: { changeRequestId: changeId } });
    if (n >= count) return n;
    if (Date.now() > deadline) throw new Error(`expected ${count} decision(s), have ${n}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Moves a change's ledger `ms` into the past (its decisions, their expiries and deferral dates):
 * to the database's clock, that much time has passed since they were recorded.
 */
async function backdate(changeId: string, ms: number) {
  const by = `${ms} milliseconds`;
  await db.prisma.$executeRaw`
    UPDATE "Decision" SET "createdAt" = "createdAt" - ${by}::interval,
      "expiresAt" = "expiresAt" - ${by}::interval, "deferUntil" = "deferUntil" - ${by}::interval
    WHERE "changeRequestId" = ${changeId}::uuid`;
  await db.prisma.$executeRaw`
    UPDATE "ChangeRequest" SET "deferUntil" = "deferUntil" - ${by}::interval,
      "approvedAt" = "approvedAt" - ${by}::interval WHERE id = ${changeId}::uuid`;
}

/** The last text the campaign message was edited to (edits Slack refused do not count). */
function lastUpdate(c: Campaign): string {
  const updates = fake.callsTo('chat.update').filter((u) => u.params.ts === c.ts && u.error === undefined);
  return JSON.stringify(updates[updates.length - 1]?.params.blocks ?? '');
}

beforeAll(async () => {
  const p = policy();
  pg = await createTempPostgres('approvals');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await applyPolicy(repos, p);
  fake = await FakeSlackWebApi.start({ usergroups: { [LEADS]: [CAROL] } });
  const chat: { poster?: SlackPoster; members?: (g: string) => Promise<readonly string[]> } = {};
  approvals = createApprovals({
    repos,
    policy: p,
    now,
    logger,
    platforms: () => (chat.poster ? [chat.poster] : []),
    groupMembers: (g) => (chat.members ? chat.members(g) : Promise.resolve([])),
  });
  edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger,
    handlers: createChatHandlers({
      approvals: approvals.handlers,
      status: { repos, policy: p, now, logger },
    }),
  });
  chat.poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
  poster = chat.poster;
  chat.members = slackGroupMembers(edge.client);
  const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${port}/slack/events`;

  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await saveInventory(repos, 'pay-2', OLD_GLIBC);
  await syncFeeds(repos, p, [TRACKER]);
  const notified = await notifyNewlyRelevant({
    repos,
    campaigns: approvals.campaigns,
    campaignView: approvals.campaignView,
    policy: p,
    platform: chat.poster,
    now: now(),
    logger,
  });
  expect(notified.findingsNotified).toBeGreaterThan(0);
  const rows = await db.prisma.changeRequest.findMany({
    include: { messages: true },
    orderBy: { number: 'asc' },
  });
  campaigns = rows.map((r) => ({
    id: r.id,
    number: r.number,
    packageName: r.packageName,
    fixedVersion: r.fixedVersion,
    ecosystem: r.ecosystem,
    ts: r.messages.find((m) => m.kind === 'change')?.messageId ?? '',
  }));
}, 120_000);

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
  await db?.close();
  await pg?.drop();
});

describe('approvals from Slack buttons', () => {
  it('posted one campaign message per fix in the owning team channel, with the buttons', () => {
    expect(campaigns.length).toBeGreaterThanOrEqual(1);
    // one campaign per source package update: glibc's binaries (libc6, libc-bin...) are one fix
    expect(new Set(campaigns.map((c) => `${c.packageName} ${c.fixedVersion}`)).size).toBe(campaigns.length);
    expect(campaigns.map((c) => c.packageName)).toContain('glibc');
    for (const c of campaigns) expect(c.ts).not.toBe('');
    const posts = fake
      .callsTo('chat.postMessage')
      .filter((m) => m.params.channel === CHANNELS.payments && !m.params.thread_ts);
    expect(posts).toHaveLength(campaigns.length);
    expect(JSON.stringify(posts[0]?.params.blocks)).toContain(ACTION_IDS.approve);
  });

  it('refuses a person outside the approvers, saying why, and records nothing', async () => {
    const c = await take();
    const answer = await answerTo(await click(MALLORY, 'approve', c));
    expect(answer).toContain('not an approver for team payments in production');
    expect(await db.prisma.decision.count({ where: { changeRequestId: c.id } })).toBe(0);
  });

  it('needs two approvers: the first leaves it pending, a group member completes it; audited; message edited', async () => {
    const c = await take();
    await click(ALICE, 'approve', c);
    await waitForDecisions(c.id, 1);
    let change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('pending');
    await fake.waitFor(() => lastUpdate(c).includes('1 of 2'));

    await click(CAROL, 'approve', c);
    await waitForDecisions(c.id, 2);
    change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('approved');
    expect(change.approvedAt).not.toBeNull();
    // the audit rows carry the final values: what the change needs, and who was counted
    const created = await db.prisma.auditLog.findFirstOrThrow({
      where: { subjectId: c.id, action: 'change.create' },
    });
    expect(created.details).toMatchObject({ approvalsRequired: 2, rule: 'production-two-person' });
    const approving = await db.prisma.auditLog.findFirstOrThrow({
      where: { subjectId: c.id, action: 'decision.approve', actor: CAROL },
    });
    expect(approving.details).toMatchObject({
      status: 'approved',
      quorum: 2,
      approvals: [ALICE, CAROL],
      rule: 'production-two-person',
    });
    const audit = await db.prisma.auditLog.findMany({
      where: { subjectId: c.id, action: 'decision.approve' },
    });
    expect(audit.map((a) => a.actor).sort()).toEqual([ALICE, CAROL].sort());
    await fake.waitFor(() => lastUpdate(c).includes('Approved'));
    // who and when is on the message; the thread says it too
    expect(lastUpdate(c)).toContain(`<@${CAROL}>`);
    const thread = fake.callsTo('chat.postMessage').filter((m) => m.params.thread_ts === c.ts);
    expect(JSON.stringify(thread.map((t) => t.params))).toContain('approved by');
  });

  it('records one decision for two simultaneous clicks by one person', async () => {
    const c = await take();
    const [a, b] = await Promise.all([click(BOB, 'approve', c), click(BOB, 'approve', c)]);
    await waitForDecisions(c.id, 1);
    const refusal = await fake.waitFor(() => fake.responses.find((r) => r.id === a || r.id === b));
    expect(JSON.stringify(refusal.body)).toContain('You already approved this change');
    await new Promise((r) => setTimeout(r, 300));
    expect(await db.prisma.decision.count({ where: { changeRequestId: c.id, actorId: BOB } })).toBe(1);
    expect(fake.responses.filter((r) => r.id === a || r.id === b)).toHaveLength(1);
  });

  it("refuses the requester's own approval", async () => {
    const c = await take();
    await db.prisma.decision.create({
      data: { changeRequestId: c.id, kind: 'request', actorId: ALICE, surface: 'slack' },
    });
    const answer = await answerTo(await click(ALICE, 'approve', c));
    expect(answer).toContain('You requested this change, so you cannot approve it');
    expect(await db.prisma.decision.count({ where: { changeRequestId: c.id, kind: 'approve' } })).toBe(0);
  });

  it('no longer counts an approval once it expired: the next decision opens a new round', async () => {
    const c = await take();
    await click(ALICE, 'approve', c);
    await waitForDecisions(c.id, 1);
    // Decisions are timed by the database's clock: two hours pass for this change's ledger (the
    // rule's approvals last 1h).
    await backdate(c.id, 2 * HOUR);
    await click(BOB, 'approve', c);
    await waitForDecisions(c.id, 2);
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('pending');
    expect(change.round).toBe(2);
    await fake.waitFor(() => lastUpdate(c).includes('1 of 2'));
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { subjectId: c.id, action: 'decision.approve', actor: BOB },
    });
    expect(audit.details).toMatchObject({
      round: 2,
      newRound: 'approvals expired',
      quorum: 2,
      approvals: [BOB],
    });
    // Alice approves again, in the new round: two valid approvals now
    await click(ALICE, 'approve', c);
    await waitForDecisions(c.id, 3);
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } })).status).toBe(
      'approved',
    );
  });

  it('opens the reject dialog and stores the reason', async () => {
    const c = await take();
    const before = fake.views.length;
    await click(BOB, 'reject', c);
    const opened = await fake.waitFor(() => fake.views[before]);
    expect(opened.view.callback_id).toBe(CALLBACK_IDS.reject);
    await submit(BOB, 'reject', c, {
      reason: { value: { type: 'plain_text_input', value: 'Breaks the payment HSM driver' } },
    });
    await waitForDecisions(c.id, 1);
    const d = await db.prisma.decision.findFirstOrThrow({ where: { changeRequestId: c.id } });
    expect(d.kind).toBe('reject');
    expect(d.reason).toBe('Breaks the payment HSM driver');
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('rejected');
    expect(change.activeKey).toBeNull();
    await fake.waitFor(() => lastUpdate(c).includes('Rejected'));
  });

  it('accepts the risk with a reason and an expiry; findings are accepted until then', async () => {
    const c = await take();
    await click(ALICE, 'accept_risk', c);
    const expires = new Date(clock + 20 * 86_400_000).toISOString().slice(0, 10);
    await submit(ALICE, 'accept_risk', c, {
      reason: { value: { type: 'plain_text_input', value: 'Host is isolated; vendor patch in January' } },
      expires: { value: { type: 'datepicker', selected_date: expires } },
    });
    await waitForDecisions(c.id, 1);
    const acceptance = await db.prisma.riskAcceptance.findFirstOrThrow({ where: { changeRequestId: c.id } });
    expect(acceptance.reason).toBe('Host is isolated; vendor patch in January');
    expect(acceptance.expiresAt.toISOString().slice(0, 10)).toBe(expires);
    const findings = await db.prisma.finding.findMany({
      where: { changeRequests: { some: { changeRequestId: c.id } } },
    });
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) {
      expect(f.status).toBe('accepted');
      expect(f.statusUntil?.toISOString().slice(0, 10)).toBe(expires);
    }
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } })).status).toBe(
      'accepted_risk',
    );
  });

  it('defers for a week from the dialog', async () => {
    const c = await take();
    await click(BOB, 'defer', c);
    await submit(BOB, 'defer', c, {
      defer: { value: { type: 'radio_buttons', selected_option: { value: '1w' } } },
    });
    await waitForDecisions(c.id, 1);
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('deferred');
    expect(Math.round(((change.deferUntil?.getTime() ?? 0) - clock) / 86_400_000)).toBe(7);
    await fake.waitFor(() => lastUpdate(c).includes('Deferred'));
  });

  it('approves with /patch approve <number> and answers through response_url', async () => {
    const c = await take();
    const responseUrl = fake.responseUrl();
    const body = slashCommandBody({
      userId: BOB,
      text: `approve ${c.number}`,
      channelId: CHANNELS.payments,
      responseUrl,
    });
    const res = await postToSlackApp(url, body, signedHeaders(TEST_SIGNING_SECRET, body));
    expect(res.status).toBe(200);
    await waitForDecisions(c.id, 1);
    const answered = await fake.waitFor(() =>
      fake.responses.find(
        (r) => r.id === responseUrl.split('/').pop() && JSON.stringify(r.body).includes('approved by'),
      ),
    );
    expect(JSON.stringify(answered.body)).toContain(`#${c.number}`);
    const d = await db.prisma.decision.findFirstOrThrow({ where: { changeRequestId: c.id } });
    expect(d.surface).toBe('slack');
    expect(d.actorId).toBe(BOB);
  });

  it('brings a change back to pending when its deferral ends, and when approvals expire before a deployment', async () => {
    const deferred = await take();
    await click(BOB, 'defer', deferred);
    await submit(BOB, 'defer', deferred, {
      defer: { value: { type: 'radio_buttons', selected_option: { value: '1d' } } },
    });
    await waitForDecisions(deferred.id, 1);
    await approvals.sweep();
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: deferred.id } })).status).toBe(
      'deferred',
    );

    const approved = await take();
    await click(ALICE, 'approve', approved);
    await waitForDecisions(approved.id, 1);
    await click(BOB, 'approve', approved);
    await waitForDecisions(approved.id, 2);
    await fake.waitFor(() => lastUpdate(approved).includes('Approved'));

    // A day and an hour pass for both changes' ledgers (the database decides what is over).
    await backdate(deferred.id, 25 * HOUR);
    await backdate(approved.id, 25 * HOUR);
    expect((await approvals.sweep()).reopened).toBeGreaterThanOrEqual(2);
    for (const c of [deferred, approved]) {
      const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
      expect(change.status).toBe('pending');
      expect(change.round).toBe(2);
      await fake.waitFor(() => lastUpdate(c).includes('Waiting for approval'));
    }
    const audit = await db.prisma.auditLog.findMany({
      where: { subjectId: approved.id, action: 'change.pending' },
    });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]?.details)).toContain('approvals expired');
    // Nothing more to reopen.
    expect((await approvals.sweep()).reopened).toBe(0);
  });

  it('edits the message again on the next refresh when an edit failed', async () => {
    const c = await take();
    fake.failNext('chat.update', 'internal_error');
    await click(ALICE, 'approve', c);
    await waitForDecisions(c.id, 1);
    await fake.waitFor(() =>
      fake.callsTo('chat.update').some((u) => u.params.ts === c.ts && u.error !== undefined),
    );
    expect(lastUpdate(c)).not.toContain('1 of 2');
    await approvals.messenger.refresh(c.id);
    expect(lastUpdate(c)).toContain('1 of 2');
    // and nothing more once the message shows the current state
    const edits = fake.callsTo('chat.update').filter((u) => u.params.ts === c.ts).length;
    await approvals.messenger.refresh(c.id);
    expect(fake.callsTo('chat.update').filter((u) => u.params.ts === c.ts)).toHaveLength(edits);
  });
});
