/**
 * Approvals through the real Slack edge: a temp PostgreSQL database with real findings (a real
 * dpkg status with an old glibc, the Debian tracker sample), the real approval use case, the real
 * Bolt app over signed HTTP on loopback and the fake Slack Web API; campaigns are created and
 * posted as notify does. And the invariants every change's ledger must satisfy, checked on the
 * rows after the fact.
 */
import { expect } from 'vitest';
import { createChatHandlers, type ChatHandlerDeps } from '../../../src/bot/handlers/index.js';
import {
  createSlackApp,
  slackGroupMembers,
  SlackPoster,
  type SlackEdge,
} from '../../../src/bot/slack/index.js';
import { CALLBACK_IDS } from '../../../src/bot/slack/modals.js';
import { ACTION_IDS } from '../../../src/bot/slack/render.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { ledgerState } from '../../../src/core/policy/ledger.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import {
  createApprovals,
  ledgerOf,
  ledgerPolicy,
  type Approvals,
} from '../../../src/usecases/approvals/index.js';
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
import { applyPolicy, CHANNELS, OLD_GLIBC, saveInventory, syncFeeds, TRACKER } from '../notify/seed.js';

export const logger = createLogger({ level: 'silent' });

export interface Campaign {
  id: string;
  number: number;
  ts: string;
}

/** A signed request ready to send (built before a burst is released). */
export interface Prepared {
  body: string;
  headers: Record<string, string>;
  /** The response_url id the answer goes to (buttons and commands). */
  responseId?: string;
  user: string;
}

export interface SlackWorld {
  db: Database;
  repos: Repositories;
  fake: FakeSlackWebApi;
  edge: SlackEdge;
  url: string;
  approvals: Approvals;
  policy: Policy;
  /** A fresh campaign of the seeded glibc fix (its own fixed version), posted to the payments channel. */
  campaign(options?: { riskScore?: number }): Promise<Campaign>;
  /** A button click, signed. */
  click(user: string, kind: keyof typeof ACTION_IDS, c: Campaign): Prepared;
  /** A submitted dialog, signed (answered by an ephemeral message in the channel). */
  submit(
    user: string,
    kind: keyof typeof CALLBACK_IDS,
    c: Campaign,
    values: Record<string, Record<string, Record<string, unknown>>>,
    extra?: Record<string, unknown>,
  ): Prepared;
  /** `/patch <text>` typed by `user`, signed. */
  command(user: string, text: string): Prepared;
  /** Sends prepared requests all at once; every one must be acknowledged with 200. */
  send(requests: readonly Prepared[]): Promise<void>;
  /** What was answered to a response_url, as text (waits for it). */
  answer(responseId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startSlackWorld(
  label: string,
  policy: Policy,
  options: {
    usergroups?: Record<string, string[]>;
    /** Extra chat handler dependencies (roles, digest). */
    handlers?: (world: {
      approvals: Approvals;
      repos: Repositories;
      platforms: () => readonly SlackPoster[];
      groupMembers: (groupId: string) => Promise<readonly string[]>;
    }) => Partial<ChatHandlerDeps>;
  } = {},
): Promise<SlackWorld> {
  const pg: TempPostgres = await createTempPostgres(label);
  const db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  const repos = createRepositories(db);
  await applyPolicy(repos, policy);
  const fake = await FakeSlackWebApi.start({ usergroups: options.usergroups ?? {} });
  const chat: { poster?: SlackPoster; members?: (g: string) => Promise<readonly string[]> } = {};
  const now = () => new Date();
  const approvals = createApprovals({
    repos,
    policy,
    now,
    logger,
    platforms: () => (chat.poster ? [chat.poster] : []),
    groupMembers: (g) => (chat.members ? chat.members(g) : Promise.resolve([])),
  });
  const edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger,
    handlers: createChatHandlers({
      approvals: approvals.handlers,
      status: { repos, policy, now, logger },
      ...options.handlers?.({
        approvals,
        repos,
        platforms: () => (chat.poster ? [chat.poster] : []),
        groupMembers: (g) => (chat.members ? chat.members(g) : Promise.resolve([])),
      }),
    }),
  });
  const poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
  chat.poster = poster;
  chat.members = slackGroupMembers(edge.client);
  const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}/slack/events`;

  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await saveInventory(repos, 'pay-2', OLD_GLIBC);
  await syncFeeds(repos, policy, [TRACKER]);
  const finding = await db.prisma.finding.findMany({
    where: { host: { name: { in: ['pay-1', 'pay-2'] } }, sourcePackage: 'glibc' },
  });
  if (finding.length === 0) throw new Error('the seed matched no glibc finding');
  const base = finding[0];
  let seq = 0;

  const signed = (body: string, user: string, responseId?: string): Prepared => ({
    body,
    headers: signedHeaders(TEST_SIGNING_SECRET, body),
    user,
    ...(responseId ? { responseId } : {}),
  });
  const responseUrl = () => {
    const u = fake.responseUrl();
    return { url: u, id: u.split('/').pop() ?? '' };
  };

  return {
    db,
    repos,
    fake,
    edge,
    url,
    approvals,
    policy,
    async campaign(options = {}) {
      const { changeId } = await approvals.campaigns.upsertCampaign(
        {
          team: 'payments',
          ecosystem: base.ecosystem,
          packageName: 'glibc',
          sourcePackage: 'glibc',
          fixedVersion: `${base.fixedVersion ?? '2.36-9+deb12u3'}+c${++seq}`,
          findingIds: finding.map((f) => f.id),
          riskScore: options.riskScore ?? 50,
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
      return { id: changeId, number: row.number, ts: ref.id };
    },
    click(user, kind, c) {
      const r = responseUrl();
      return signed(
        blockActionsBody({
          userId: user,
          userName: user.toLowerCase(),
          actionId: ACTION_IDS[kind],
          value: c.id,
          channelId: CHANNELS.payments,
          messageTs: c.ts,
          responseUrl: r.url,
        }),
        user,
        r.id,
      );
    },
    submit(user, kind, c, values, extra = {}) {
      return signed(
        viewSubmissionBody({
          userId: user,
          userName: user.toLowerCase(),
          callbackId: CALLBACK_IDS[kind],
          privateMetadata: JSON.stringify({ changeId: c.id, channel: CHANNELS.payments, ts: c.ts, ...extra }),
          values,
        }),
        user,
      );
    },
    command(user, text) {
      const r = responseUrl();
      return signed(
        slashCommandBody({ userId: user, text, channelId: CHANNELS.payments, responseUrl: r.url }),
        user,
        r.id,
      );
    },
    async send(requests) {
      const results = await Promise.all(requests.map((r) => postToSlackApp(url, r.body, r.headers)));
      expect(results.map((r) => r.status)).toEqual(requests.map(() => 200));
    },
    async answer(responseId) {
      const r = await fake.waitFor(() => fake.responses.find((x) => x.id === responseId), 15_000);
      return JSON.stringify(r.body);
    },
    async close() {
      await edge.stop();
      await fake.close();
      await db.close();
      await pg.drop();
    },
  };
}

/** Polls `check` until it returns a value (evidence), or fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Thread replies of a campaign message whose text matches. */
export function threadLines(fake: FakeSlackWebApi, c: Campaign, re: RegExp): string[] {
  return fake.messages.filter((m) => m.threadTs === c.ts && re.test(m.text ?? '')).map((m) => m.text ?? '');
}

/**
 * The invariants of a change's ledger, read back from PostgreSQL:
 * - one decision per person, kind and round;
 * - the stored status is the one the ledger's rows derive (so a change is approved exactly when
 *   its quorum is met, and never pending with its quorum met);
 * - nothing was decided after a reject or an accepted risk;
 * - every decision has its audit row, and the approving one says so with its final count.
 */
export async function expectLedgerHolds(
  w: Pick<SlackWorld, 'db' | 'repos' | 'policy'>,
  changeId: string,
  groupsOf: (actorId: string) => readonly string[] = () => [],
): Promise<void> {
  const change = await w.repos.changes.get(changeId);
  const rows = change.decisions;
  const keys = rows.map((d) => `${d.actorId}|${d.kind}|${d.round}`);
  expect(new Set(keys).size, `duplicate decisions: ${keys.join(', ')}`).toBe(keys.length);
  const [clock] = await w.db.prisma.$queryRaw<{ now: Date }[]>`SELECT clock_timestamp() AS now`;
  const state = ledgerState(
    ledgerOf(change),
    change.round,
    ledgerPolicy(w.policy, change, groupsOf),
    clock.now,
  );
  if (['pending', 'approved', 'deferred', 'rejected', 'accepted_risk'].includes(change.status))
    expect(change.status, `stored status vs the ledger (${state.approvals.length} of ${state.quorum})`).toBe(
      state.status,
    );
  expect(state.approvals.length).toBeLessThanOrEqual(state.quorum);
  if (change.status === 'pending') expect(state.approvals.length).toBeLessThan(state.quorum);
  const closing = rows.findIndex((d) => d.kind === 'reject' || d.kind === 'accept_risk');
  if (closing >= 0) expect(closing, 'a decision after the change was closed').toBe(rows.length - 1);
  const audit = await w.db.prisma.auditLog.findMany({
    where: { subjectId: changeId, action: { startsWith: 'decision.' } },
    orderBy: { id: 'asc' },
  });
  expect(audit.map((a) => `${a.actor}|${a.action}`)).toEqual(
    rows.map((d) => `${d.actorId}|decision.${d.kind}`),
  );
  if (change.status === 'approved') {
    const approving = audit.filter((a) => (a.details as { status?: string }).status === 'approved');
    expect(approving).toHaveLength(1);
    expect((approving[0]?.details as { approvals: string[] }).approvals).toHaveLength(state.quorum);
  }
}
