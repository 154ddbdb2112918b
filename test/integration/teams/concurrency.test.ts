/**
 * Concurrent Universal Actions: bursts of 8-16 Action.Execute invokes, token-signed and released
 * at once at the real CloudAdapter over HTTP, decided by the real approval use case against real
 * PostgreSQL. Every invoke is answered (200 with a card: the refreshed campaign, with a refusal
 * above it when there is one); the ledger's invariants hold afterwards (each person counted once,
 * approved exactly when the quorum is met, nothing after a reject).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPlatform } from '../../../src/bot/chat-platform.js';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { createTeamsConversationStore } from '../../../src/usecases/teams-installations.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { expectLedgerHolds } from '../approvals/support.js';
import { applyPolicy, OLD_GLIBC, saveInventory, syncFeeds, testPolicy, TRACKER } from '../notify/seed.js';
import {
  execute,
  installedInTeam,
  PATCHING,
  PAYMENTS_TEAM,
  startTeamsWorld,
  type TeamsWorld,
} from './support.js';

const logger = createLogger({ level: 'silent' });

/** Entra object ids of eight approvers and one outsider. */
const APPROVERS = Array.from({ length: 8 }, (_, i) => `0a1b2c3d-0000-4000-8000-00000000000${i + 1}`);
const OUTSIDER = '0a1b2c3d-0000-4000-8000-0000000000ff';
const person = (aadObjectId: string) => ({
  aadObjectId,
  id: `29:${aadObjectId}`,
  name: `P ${aadObjectId.slice(-2)}`,
});

function policy(): Policy {
  return testPolicy({
    teams: [
      {
        name: 'payments',
        msteams: { channels: [{ teamId: PAYMENTS_TEAM.id, channelId: PATCHING }] },
        approvers: { production: { entraUsers: APPROVERS } },
      },
      { name: 'web' },
      { name: 'ops' },
    ],
    approval: {
      default: { quorum: 1 },
      rules: [
        { name: 'production-three', match: { environments: ['production'] }, quorum: 3, expiry: '24h' },
      ],
    },
  });
}

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let approvals: Approvals;
let w: TeamsWorld;
let seq = 0;
const now = () => new Date();
const platforms: ChatPlatform[] = [];
const p = policy();

beforeAll(async () => {
  pg = await createTempPostgres('teams_race');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await applyPolicy(repos, p);
  approvals = createApprovals({ repos, policy: p, now, logger, platforms: () => platforms });
  w = await startTeamsWorld({
    handlers: createChatHandlers({
      approvals: approvals.handlers,
      status: { repos, policy: p, now, logger },
    }),
    cardFor: (changeId) => approvals.campaignView(changeId, now()),
    conversations: createTeamsConversationStore(repos, p, now),
  });
  platforms.push(w.edge.poster);
  expect((await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM))).status).toBe(200);
  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await saveInventory(repos, 'pay-2', OLD_GLIBC);
  await syncFeeds(repos, p, [TRACKER]);
}, 120_000);

afterAll(async () => {
  await w?.close();
  await db?.close();
  await pg?.drop();
});

interface Card {
  changeId: string;
  cardId: string;
}

async function campaign(): Promise<Card> {
  const findings = await db.prisma.finding.findMany({ where: { sourcePackage: 'glibc' } });
  const { changeId } = await approvals.campaigns.upsertCampaign(
    {
      team: 'payments',
      ecosystem: findings[0]?.ecosystem ?? 'Debian:12',
      packageName: 'glibc',
      sourcePackage: 'glibc',
      fixedVersion: `2.36-9+deb12u3+t${++seq}`,
      findingIds: findings.map((f) => f.id),
      riskScore: 50,
      severity: 'high',
      kev: false,
    },
    now(),
  );
  const ref = await w.edge.poster.post({ channel: PATCHING }, await approvals.campaignView(changeId, now()));
  await approvals.campaigns.recordMessage(changeId, ref);
  return { changeId, cardId: ref.id };
}

function invoke(aad: string, c: Card, verb: string, data: Record<string, unknown> = {}) {
  return execute(
    {
      serviceUrl: w.connector.serviceUrl,
      conversationId: `${PATCHING};messageid=${c.cardId}`,
      team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
      channel: { id: PATCHING, name: 'Patching' },
    },
    person(aad),
    c.cardId,
    verb,
    { changeId: c.changeId, ...data },
  );
}

/** Releases the invokes at once; every one must be answered 200 with a card. Returns the cards as text. */
async function burst(activities: Record<string, unknown>[]): Promise<string[]> {
  const answers = await Promise.all(activities.map((a) => w.send(a)));
  expect(answers.map((a) => a.status)).toEqual(activities.map(() => 200));
  return answers.map((a) => {
    const body = a.body as { statusCode?: number; type?: string; value?: unknown };
    expect(body.statusCode).toBe(200);
    expect(body.type).toBe('application/vnd.microsoft.card.adaptive');
    return JSON.stringify(body.value);
  });
}

const approvalRows = (changeId: string) =>
  db.prisma.decision.findMany({ where: { changeRequestId: changeId, kind: 'approve' } });
const REFUSED =
  /You already approved this change|already has the approvals it needs|not an approver for team payments/;

describe('a burst of Action.Execute invokes on one card', () => {
  it('10 identical Approve invokes by one approver record one approval; every invoke gets a card', async () => {
    const c = await campaign();
    const cards = await burst(Array.from({ length: 10 }, () => invoke(APPROVERS[0], c, 'approve')));
    expect(cards.filter((t) => t.includes('You already approved this change'))).toHaveLength(9);
    expect((await approvalRows(c.changeId)).map((d) => d.actorId)).toEqual([APPROVERS[0]]);
    await expectLedgerHolds({ db, repos, policy: p }, c.changeId);
  });

  it('16 invokes by eight people and an outsider record exactly the quorum, then the card says Approved', async () => {
    const c = await campaign();
    const people = [...APPROVERS.slice(0, 7), OUTSIDER];
    const cards = await burst(people.flatMap((u) => [invoke(u, c, 'approve'), invoke(u, c, 'approve')]));
    expect(cards.filter((t) => REFUSED.test(t))).toHaveLength(16 - 3);
    const recorded = await approvalRows(c.changeId);
    expect(recorded).toHaveLength(3);
    expect(recorded.map((d) => d.actorId)).not.toContain(OUTSIDER);
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.changeId } })).status).toBe(
      'approved',
    );
    await expectLedgerHolds({ db, repos, policy: p }, c.changeId);
  });

  it('approvals and rejections at once: nothing is decided after the reject', async () => {
    const c = await campaign();
    const reject = (u: string) => invoke(u, c, 'reject', { step: 'submit', reason: `no (${u.slice(-2)})` });
    const cards = await burst([
      ...APPROVERS.slice(0, 5).map((u) => invoke(u, c, 'approve')),
      reject(APPROVERS[5]),
      reject(APPROVERS[6]),
      reject(APPROVERS[5]),
      ...APPROVERS.slice(0, 3).map((u) => invoke(u, c, 'approve')),
    ]);
    expect(cards).toHaveLength(11);
    const rows = await db.prisma.decision.findMany({ where: { changeRequestId: c.changeId } });
    expect(rows.filter((d) => d.kind === 'reject').length).toBeLessThanOrEqual(1);
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.changeId } });
    if (rows.some((d) => d.kind === 'reject')) expect(change.status).toBe('rejected');
    await expectLedgerHolds({ db, repos, policy: p }, c.changeId);
  });
});
