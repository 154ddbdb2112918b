/**
 * Teams end to end with the real approval use case: the bot installed in a Teams team (the
 * Patching channel mapped to patchbot's team "payments" by name), real findings (real dpkg status
 * with an old glibc, the Debian tracker sample) in a temp PostgreSQL database, the campaign posted
 * by notify through TeamsPoster to the fake Bot Connector, and two Entra approvers approving with
 * Action.Execute through the real CloudAdapter; a person outside the approvers is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import type { ChatPlatform } from '../../../src/bot/chat-platform.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { notifyNewlyRelevant } from '../../../src/usecases/notify.js';
import { createTeamsConversationStore } from '../../../src/usecases/teams-installations.js';
import { cardOf } from '../../fakes/teams-connector.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { applyPolicy, OLD_GLIBC, saveInventory, syncFeeds, testPolicy, TRACKER } from '../notify/seed.js';
import {
  channelEvent,
  execute,
  installedInTeam,
  messageTo,
  PATCHING,
  PAYMENTS_TEAM,
  PEOPLE,
  startTeamsWorld,
  type Person,
  type TeamsWorld,
} from './support.js';

const logger = createLogger({ level: 'silent' });

function policy(): Policy {
  return testPolicy({
    teams: [
      {
        name: 'payments',
        msteams: { channels: [{ teamId: PAYMENTS_TEAM.id, channelId: PATCHING }] },
        approvers: { production: { entraUsers: [PEOPLE.alice.aadObjectId, PEOPLE.bob.aadObjectId] } },
      },
      { name: 'web' },
      { name: 'ops', approvers: { '*': { entraUsers: [PEOPLE.bob.aadObjectId] } } },
    ],
    approval: {
      default: { quorum: 1, expiry: '72h' },
      rules: [
        { name: 'production-two-person', match: { environments: ['production'] }, quorum: 2, expiry: '24h' },
      ],
      emergency: { enabled: true, when: [{ riskAtLeast: 0 }], invokers: ['ops'], quorum: 1 },
    },
  });
}

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let approvals: Approvals;
let w: TeamsWorld;
const now = () => new Date();
const platforms: ChatPlatform[] = [];

beforeAll(async () => {
  const p = policy();
  pg = await createTempPostgres('teams-e2e');
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
  // The app is added to the Payments team in Teams.
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

interface Posted {
  changeId: string;
  cardId: string;
}
let glibc: Posted;

async function click(person: Person, c: Posted, verb: string) {
  const res = await w.send(
    execute(
      {
        serviceUrl: w.connector.serviceUrl,
        conversationId: `${PATCHING};messageid=${c.cardId}`,
        team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
        channel: { id: PATCHING, name: 'Patching' },
      },
      person,
      c.cardId,
      verb,
      { changeId: c.changeId },
    ),
  );
  expect(res.status).toBe(200);
  return JSON.stringify((res.body as { value: unknown }).value);
}

describe('a relevant finding, notified to Teams and approved there', () => {
  it('posts the campaign card in the bound channel only: not in a renamed or a look-alike one', async () => {
    // Someone renames Random to "Patching", and creates a look-alike "Payments" team with a
    // "Patching" channel where patchbot is added too: neither is bound (by ids), so neither gets posts.
    const team = { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name };
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelRenamed', {
        id: '19:payments-random@thread.tacv2',
        name: 'Patching',
      }),
    );
    const lookalike = {
      id: '19:lookalike-general@thread.tacv2',
      name: 'Payments',
      channels: [
        { id: '19:lookalike-general@thread.tacv2' },
        { id: '19:lookalike-patching@thread.tacv2', name: 'Patching' },
      ],
    };
    w.connector.setChannels(lookalike.id, lookalike.channels);
    expect((await w.send(installedInTeam(w.connector.serviceUrl, lookalike))).status).toBe(200);

    const result = await notifyNewlyRelevant({
      repos,
      campaigns: approvals.campaigns,
      campaignView: approvals.campaignView,
      policy: policy(),
      platform: w.edge.poster,
      now: now(),
      logger,
    });
    expect(result.findingsNotified).toBeGreaterThan(0);
    const change = await db.prisma.changeRequest.findFirstOrThrow({
      where: { packageName: 'glibc' },
      include: { messages: true },
    });
    const message = change.messages.find((m) => m.platform === 'teams');
    expect(message?.channelId).toBe(PATCHING);
    glibc = { changeId: change.id, cardId: message!.messageId };

    const posted = w.connector.message(PATCHING, glibc.cardId)!;
    const card = JSON.stringify(cardOf(posted.activity));
    expect(card).toContain('glibc');
    expect(card).toContain('CVE-2023-4911');
    expect(card).toContain('"verb":"approve"');
    expect(card).toContain('Waiting for approval');
    // Nothing went to the other channels of the team, to the renamed one, or to the look-alike team.
    expect(w.connector.posts('19:payments-general@thread.tacv2')).toHaveLength(0);
    expect(w.connector.posts('19:payments-random@thread.tacv2')).toHaveLength(0);
    expect(w.connector.posts('19:lookalike-patching@thread.tacv2')).toHaveLength(0);
    expect(w.connector.posts('19:lookalike-general@thread.tacv2')).toHaveLength(0);
    const thread = w.connector.replies(PATCHING, glibc.cardId);
    expect(JSON.stringify(thread.map((t) => cardOf(t.activity)))).toContain('pay-1');
  });

  it('refuses a person who is not an approver, with a clear message on the card, recording nothing', async () => {
    const answer = await click(PEOPLE.mallory, glibc, 'approve');
    expect(answer).toContain('not an approver for team payments in production');
    expect(await db.prisma.decision.count({ where: { changeRequestId: glibc.changeId } })).toBe(0);
  });

  it('records the first Entra approver, the change staying pending (1 of 2)', async () => {
    const answer = await click(PEOPLE.alice, glibc, 'approve');
    expect(answer).toContain('1 of 2');
    expect(answer).toContain(`<at>${PEOPLE.alice.name}</at>`);
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: glibc.changeId } });
    expect(change.status).toBe('pending');
  });

  it('approves with the second approver: state and audit in PostgreSQL, the card refreshed for everyone', async () => {
    const answer = await click(PEOPLE.bob, glibc, 'approve');
    expect(answer).toContain('Approved');
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: glibc.changeId } });
    expect(change.status).toBe('approved');
    expect(change.approvedAt).not.toBeNull();
    const decisions = await db.prisma.decision.findMany({ where: { changeRequestId: glibc.changeId } });
    expect(decisions.map((d) => [d.kind, d.actorId, d.surface]).sort()).toEqual(
      [
        ['approve', PEOPLE.alice.aadObjectId, 'teams'],
        ['approve', PEOPLE.bob.aadObjectId, 'teams'],
      ].sort(),
    );
    const audit = await db.prisma.auditLog.findMany({
      where: { subjectId: glibc.changeId, action: 'decision.approve' },
    });
    expect(audit.map((a) => a.actor).sort()).toEqual(
      [PEOPLE.alice.aadObjectId, PEOPLE.bob.aadObjectId].sort(),
    );
    // The posted message itself now says Approved (edited in place), and the thread says who.
    const posted = w.connector.message(PATCHING, glibc.cardId)!;
    expect(posted.versions.length).toBeGreaterThan(1);
    expect(JSON.stringify(cardOf(posted.activity))).toContain('Approved');
    expect(JSON.stringify(cardOf(posted.activity))).not.toContain('"verb":"approve"');
    const thread = w.connector.replies(PATCHING, glibc.cardId).map((t) => JSON.stringify(cardOf(t.activity)));
    expect(thread.join('\n')).toContain('approved by');
  });
});

describe('requesting a rollout from Teams', () => {
  let c: Posted;

  async function postCampaign(fixedVersion: string): Promise<Posted> {
    const findings = await db.prisma.finding.findMany({ where: { sourcePackage: 'glibc' } });
    const { changeId } = await approvals.campaigns.upsertCampaign(
      {
        team: 'payments',
        ecosystem: findings[0]?.ecosystem ?? 'Debian:12',
        packageName: 'glibc',
        sourcePackage: 'glibc',
        fixedVersion,
        findingIds: findings.map((f) => f.id),
        riskScore: 60,
        severity: 'high',
        kev: false,
      },
      now(),
    );
    const ref = await w.edge.poster.post(
      { channel: PATCHING },
      await approvals.campaignView(changeId, now()),
    );
    await approvals.campaigns.recordMessage(changeId, ref);
    return { changeId, cardId: ref.id };
  }

  it('Request rollout opens a form; its submission stores the requester', async () => {
    c = await postCampaign('2.36-9+deb12u98');
    expect(JSON.stringify(cardOf(w.connector.message(PATCHING, c.cardId)!.activity))).toContain(
      '"verb":"request"',
    );
    const form = await click(PEOPLE.alice, c, 'request');
    expect(form).toContain('Request rollout');
    expect(form).toContain('"id":"reason"');
    expect(form).toContain('"id":"emergency"'); // the lane is on and the change meets its conditions
    const res = await w.send(
      execute(
        {
          serviceUrl: w.connector.serviceUrl,
          conversationId: `${PATCHING};messageid=${c.cardId}`,
          team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
          channel: { id: PATCHING, name: 'Patching' },
        },
        PEOPLE.alice,
        c.cardId,
        'request',
        { changeId: c.changeId, step: 'submit', offer: true, emergency: 'false', reason: 'before the audit' },
      ),
    );
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('Rollout requested by');
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.changeId } });
    expect(change).toMatchObject({
      requestedBy: PEOPLE.alice.aadObjectId,
      requestedVia: 'teams',
      emergency: false,
    });
  });

  it("refuses the requester's own approval on the card, recording nothing", async () => {
    const answer = await click(PEOPLE.alice, c, 'approve');
    expect(answer).toContain('You requested this change, so you cannot approve it');
    expect(await db.prisma.decision.count({ where: { changeRequestId: c.changeId, kind: 'approve' } })).toBe(
      0,
    );
  });

  it('refuses `patch request <change> --emergency` from someone who may not invoke the lane', async () => {
    const posted = await postCampaign('2.36-9+deb12u99');
    const change = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: posted.changeId } });
    const msg = messageTo(
      { serviceUrl: w.connector.serviceUrl, conversationId: `${PATCHING};messageid=1734000000000` },
      PEOPLE.mallory,
      `<at>patchbot</at> patch request ${change.number} --emergency now`,
    );
    msg.id = '1734000000000';
    expect((await w.send(msg)).status).toBe(200);
    await w.edge.idle();
    const replies = w.connector.replies(PATCHING, '1734000000000');
    expect(JSON.stringify(replies.map((r) => cardOf(r.activity)))).toContain(
      'You may not invoke the emergency lane for team payments',
    );
    expect(await db.prisma.decision.count({ where: { changeRequestId: change.id } })).toBe(0);
  });
});
