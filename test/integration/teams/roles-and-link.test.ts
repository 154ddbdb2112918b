/**
 * Roles and `patch link` in Microsoft Teams, through the real CloudAdapter against PostgreSQL:
 * an admin binds a channel to a team by its ids (audited; renames, re-installs and restarts keep
 * it; a policy file binding wins); every card button, form and command is refused, on the card or
 * in the thread and naming the role it needs, to someone without that role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPlatform } from '../../../src/bot/chat-platform.js';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { createDigestCommand } from '../../../src/usecases/digest-command.js';
import { createRoleCheck } from '../../../src/usecases/roles.js';
import {
  createLinkCommand,
  createTeamsConversationStore,
  remapTeamsDestinations,
} from '../../../src/usecases/teams-installations.js';
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
  startTeamsWorld,
  WEB_CHAT,
  type Person,
  type TeamsWorld,
} from './support.js';

const logger = createLogger({ level: 'silent' });
const person = (n: number, name: string): Person => ({
  aadObjectId: `7c0e1d2f-0000-4000-8000-00000000000${n}`,
  id: `29:${name}`,
  name,
});
const VIEWER = person(1, 'Vic Viewer');
const REQUESTER = person(2, 'Rita Requester');
const APPROVER = person(3, 'Alice Approver');
const OPERATOR = person(4, 'Otto Operator');
const ADMIN = person(5, 'Ada Admin');
const NOBODY = person(6, 'Nobody');
const RANDOM = '19:payments-random@thread.tacv2';

function policy(): Policy {
  return testPolicy({
    teams: [
      {
        name: 'payments',
        approvers: { production: { entraUsers: [APPROVER.aadObjectId!, OPERATOR.aadObjectId!] } },
      },
      { name: 'web', msteams: { channels: [{ teamId: PAYMENTS_TEAM.id, channelId: RANDOM }] } },
      { name: 'ops' },
    ],
    roles: {
      viewer: { entraUsers: [VIEWER.aadObjectId!] },
      requester: { entraUsers: [REQUESTER.aadObjectId!] },
      approver: { entraUsers: [APPROVER.aadObjectId!] },
      operator: { entraUsers: [OPERATOR.aadObjectId!] },
      admin: { entraUsers: [ADMIN.aadObjectId!] },
    },
  });
}

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let approvals: Approvals;
let w: TeamsWorld;
const p = policy();
const now = () => new Date();
const platforms: ChatPlatform[] = [];
let msg = 1734100000000;

beforeAll(async () => {
  pg = await createTempPostgres('teams_roles');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await applyPolicy(repos, p);
  approvals = createApprovals({ repos, policy: p, now, logger, platforms: () => platforms });
  w = await startTeamsWorld({
    handlers: createChatHandlers({
      approvals: approvals.handlers,
      status: { repos, policy: p, now, logger },
      roles: createRoleCheck({ policy: p }),
      digest: createDigestCommand({ repos, policy: p, platforms: () => platforms, now, logger }),
      link: createLinkCommand({ repos, policy: p, now }),
    }),
    cardFor: (changeId) => approvals.campaignView(changeId, now()),
    conversations: createTeamsConversationStore(repos, p, now),
  });
  platforms.push(w.edge.poster);
  expect((await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM))).status).toBe(200);
  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await syncFeeds(repos, p, [TRACKER]);
}, 120_000);

afterAll(async () => {
  await w?.close();
  await db?.close();
  await pg?.drop();
});

const inChannel = (id = PATCHING, name = 'Patching') => ({
  serviceUrl: w.connector.serviceUrl,
  conversationId: `${id};messageid=${++msg}`,
  team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
  channel: { id, name },
});

/** Types `text` in a channel (or a chat) as `who`; resolves with the answer in the thread. */
async function say(
  who: Person,
  text: string,
  where: Parameters<typeof messageTo>[0] = inChannel(),
): Promise<string> {
  const m = messageTo(where, who, `<at>patchbot</at> patch ${text}`);
  m.id = String(msg);
  const conv = where.conversationId.split(';')[0];
  const before = w.connector.messages.length;
  expect((await w.send(m)).status).toBe(200);
  await w.edge.idle();
  const answers = w.connector.messages.slice(before).filter((x) => x.conversationId === conv);
  return JSON.stringify(answers.map((a) => cardOf(a.activity)));
}

const boundTo = async (id: string) =>
  (await db.prisma.chatDestination.findFirstOrThrow({ where: { channelId: id }, include: { team: true } }))
    .team?.name ?? null;

describe('patch link', () => {
  it('is refused to someone without the admin role, binding nothing', async () => {
    expect(await say(OPERATOR, 'link payments')).toContain(
      'You need the admin role to link a channel to a team',
    );
    expect(await boundTo(PATCHING)).toBeNull();
  });

  it('binds the channel by its ids for an admin, audited', async () => {
    expect(await say(ADMIN, 'link payments')).toContain(
      'This channel now gets the campaigns of team payments',
    );
    expect(await boundTo(PATCHING)).toBe('payments');
    const row = await db.prisma.chatDestination.findFirstOrThrow({ where: { channelId: PATCHING } });
    expect(row.linkedBy).toBe(ADMIN.aadObjectId);
    const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'channel.link' } });
    expect(audit).toMatchObject({ actor: ADMIN.aadObjectId, surface: 'teams', subjectId: PATCHING });
    expect(audit.details).toMatchObject({ team: 'payments', teamsTeamId: PAYMENTS_TEAM.id });
  });

  it('keeps the binding through a rename, a re-install and a restart', async () => {
    const team = { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name };
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelRenamed', { id: PATCHING, name: 'Fixes' }),
    );
    await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM));
    expect(await remapTeamsDestinations(repos, p)).toEqual([]);
    expect(await boundTo(PATCHING)).toBe('payments');
  });

  it('leaves a channel the policy file binds as it is, and says so', async () => {
    expect(await say(ADMIN, 'link payments', inChannel(RANDOM, 'Random'))).toContain(
      'patchbot.yaml binds this channel to team web',
    );
    expect(await boundTo(RANDOM)).toBe('web');
  });

  it('answers in a chat that chats are bound by id in the policy file', async () => {
    const chat = {
      serviceUrl: w.connector.serviceUrl,
      conversationId: WEB_CHAT,
      conversationType: 'groupChat' as const,
    };
    expect(await say(ADMIN, 'link payments', chat)).toContain('works in a channel of a Teams team');
  });

  it('a policy file binding of another team wins over a link at the next start', async () => {
    const changed: Policy = {
      ...p,
      teams: p.teams.map((t) =>
        t.name === 'ops' ? { ...t, msteams: { conversations: [PATCHING], channels: [] } } : t,
      ),
    };
    expect((await remapTeamsDestinations(repos, changed)).map((c) => [c.id, c.from, c.to])).toEqual([
      [PATCHING, 'payments', 'ops'],
    ]);
    expect(await remapTeamsDestinations(repos, p)).toEqual([
      expect.objectContaining({ id: PATCHING, from: 'ops', to: null }),
    ]);
    // the link is gone with it: an admin links it again
    expect(await say(ADMIN, 'link payments')).toContain('now gets the campaigns of team payments');
  });
});

describe('roles on cards and commands', () => {
  let card: { changeId: string; cardId: string; number: number };

  beforeAll(async () => {
    const findings = await db.prisma.finding.findMany({ where: { sourcePackage: 'glibc' } });
    const { changeId } = await approvals.campaigns.upsertCampaign(
      {
        team: 'payments',
        ecosystem: findings[0]?.ecosystem ?? 'Debian:12',
        packageName: 'glibc',
        sourcePackage: 'glibc',
        fixedVersion: '2.36-9+deb12u50',
        findingIds: findings.map((f) => f.id),
        riskScore: 50,
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
    const row = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } });
    card = { changeId, cardId: ref.id, number: row.number };
  });

  async function press(who: Person, verb: string, data: Record<string, unknown> = {}): Promise<string> {
    const res = await w.send(
      execute(inChannel(), who, card.cardId, verb, { changeId: card.changeId, ...data }),
    );
    expect(res.status).toBe(200);
    return JSON.stringify((res.body as { value: unknown }).value);
  }

  it.each<[string, Person, string, Record<string, unknown>]>([
    ['details', NOBODY, 'viewer', {}],
    ['request', VIEWER, 'requester', {}],
    ['approve', REQUESTER, 'approver', {}],
    ['reject', REQUESTER, 'approver', {}],
    ['defer', REQUESTER, 'approver', {}],
    ['accept_risk', REQUESTER, 'approver', {}],
    ['pause', APPROVER, 'operator', {}],
    ['resume', APPROVER, 'operator', {}],
    ['abort', APPROVER, 'operator', { step: 'confirmed' }],
    ['rollback', APPROVER, 'operator', { step: 'confirmed' }],
  ])('the %s button is refused to someone without the role, on the card', async (verb, who, role, data) => {
    const answer = await press(who, verb, data);
    expect(answer).toContain(`You need the ${role} role`);
    expect(await db.prisma.decision.count({ where: { changeRequestId: card.changeId } })).toBe(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ['request', { offer: false }],
    ['reject', { reason: 'no' }],
    ['defer', { defer: '1w' }],
    [
      'accept_risk',
      { reason: 'isolated', expires: new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 10) },
    ],
  ])('a submitted %s form is refused to someone without the role', async (verb, data) => {
    const answer = await press(VIEWER, verb, { step: 'submit', ...data });
    expect(answer).toMatch(/You need the (requester|approver) role/);
    expect(await db.prisma.decision.count({ where: { changeRequestId: card.changeId } })).toBe(0);
  });

  it.each<[string, Person, string]>([
    ['status', NOBODY, 'viewer'],
    ['coverage payments', NOBODY, 'viewer'],
    ['request N', VIEWER, 'requester'],
    ['approve N', REQUESTER, 'approver'],
    ['reject N no', REQUESTER, 'approver'],
    ['digest', APPROVER, 'operator'],
    ['link payments', OPERATOR, 'admin'],
  ])('`patch %s` is refused to someone without the role, in the thread', async (text, who, role) => {
    expect(await say(who, text.replace(' N', ` ${card.number}`))).toContain(`You need the ${role} role`);
  });

  it('lets the holders through (higher roles include lower ones)', async () => {
    expect(await press(APPROVER, 'approve')).not.toContain('role');
    expect(
      await db.prisma.decision.count({ where: { changeRequestId: card.changeId, kind: 'approve' } }),
    ).toBe(1);
    expect(await say(ADMIN, 'status')).not.toContain('You need');
    expect(await say(OPERATOR, 'digest')).toContain('The weekly digest of payments');
  });
});
