/**
 * Installing the bot: installationUpdate / conversationUpdate activities through the real
 * CloudAdapter store each conversation's reference in PostgreSQL (ChatDestination, platform teams)
 * and bind it to a patchbot team by the policy file, by ids only (Teams team id + channel id, or
 * conversation id): a renamed or look-alike channel is never bound by its name; removal marks
 * conversations removed; the policy file is applied again at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatHandlers } from '../../../src/bot/handlers.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { syncDestinations } from '../../../src/usecases/destinations.js';
import {
  createTeamsConversationStore,
  remapTeamsDestinations,
  teamForConversation,
  TeamsConversation,
} from '../../../src/usecases/teams-installations.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import {
  botMembership,
  channelEvent,
  installedInTeam,
  PATCHING,
  PAYMENTS_TEAM,
  startTeamsWorld,
  TENANT,
  WEB_CHAT,
  type TeamsWorld,
} from './support.js';

const noHandlers: ChatHandlers = {
  onAction: () => Promise.reject(new Error('not used')),
  onViewSubmission: () => Promise.reject(new Error('not used')),
  onCommand: () => Promise.reject(new Error('not used')),
};

const OPS_TEAM_ID = '19:ops-general@thread.tacv2';
const policyInput = {
  teams: [
    { name: 'payments', msteams: { channels: [{ teamId: PAYMENTS_TEAM.id, channelId: PATCHING }] } },
    { name: 'web', msteams: { conversations: [WEB_CHAT] } },
    { name: 'ops', msteams: { channels: [{ teamId: OPS_TEAM_ID }] } },
  ],
};

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let w: TeamsWorld;
const policy = Policy.parse(policyInput);

const rows = () =>
  db.prisma.chatDestination.findMany({
    where: { platform: 'teams' },
    include: { team: true },
    orderBy: { channelId: 'asc' },
  });

beforeAll(async () => {
  pg = await createTempPostgres('teams-install');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await syncDestinations({ ...policy }, repos, new Date());
  w = await startTeamsWorld({
    handlers: noHandlers,
    cardFor: () => Promise.reject(new Error('not used')),
    conversations: createTeamsConversationStore(repos, policy),
  });
}, 60_000);

afterAll(async () => {
  await w?.close();
  await db?.close();
  await pg?.drop();
});

describe('installation in a team', () => {
  it('stores every channel of the team with its conversation reference and maps Patching to payments', async () => {
    const res = await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM));
    expect(res.status).toBe(200);
    // The bot asked Teams for the team's channels, with its token.
    const listing = w.connector.calls.filter((c) => c.operation === 'channels');
    expect(listing).toHaveLength(1);
    expect(listing[0].path).toBe(`/v3/teams/${encodeURIComponent(PAYMENTS_TEAM.id)}/conversations`);

    const stored = await rows();
    expect(stored.map((r) => [r.channelId, r.team?.name ?? null])).toEqual([
      ['19:payments-general@thread.tacv2', null],
      [PATCHING, 'payments'],
      ['19:payments-random@thread.tacv2', null],
    ]);
    const patching = stored.find((r) => r.channelId === PATCHING)!;
    expect(patching.serviceUrl).toBe(w.connector.serviceUrl);
    expect(patching.tenantId).toBe(TENANT);
    expect(patching.installedAt).toBeInstanceOf(Date);
    expect(patching.removedAt).toBeNull();
    expect(patching.name).toBe('Payments › Patching');
    const ref = TeamsConversation.parse(patching.conversationReference);
    expect(ref.reference).toMatchObject({
      channelId: 'msteams',
      serviceUrl: w.connector.serviceUrl,
      conversation: { id: PATCHING, conversationType: 'channel', tenantId: TENANT },
      bot: { id: expect.stringMatching(/^28:/) as string },
    });
    // The team's destinations are what notifications use.
    expect(await repos.teams.destinationsOf('payments', 'teams')).toEqual([
      expect.objectContaining({ channelId: PATCHING, platform: 'teams', team: 'payments' }),
    ]);
  });

  it('is idempotent: the conversationUpdate that comes with the install changes nothing', async () => {
    const res = await w.send(
      botMembership(
        {
          serviceUrl: w.connector.serviceUrl,
          conversationId: PAYMENTS_TEAM.id,
          team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
          channel: { id: PAYMENTS_TEAM.id },
        },
        'added',
        'teamMemberAdded',
      ),
    );
    expect(res.status).toBe(200);
    expect((await rows()).map((r) => [r.channelId, r.team?.name ?? null, r.removedAt])).toEqual([
      ['19:payments-general@thread.tacv2', null, null],
      [PATCHING, 'payments', null],
      ['19:payments-random@thread.tacv2', null, null],
    ]);
  });

  it('follows channels created and deleted in the team', async () => {
    const team = { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name };
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelCreated', {
        id: '19:payments-ops@thread.tacv2',
        name: 'Ops',
      }),
    );
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelDeleted', {
        id: '19:payments-random@thread.tacv2',
        name: 'Random',
      }),
    );
    const stored = await rows();
    expect(stored.find((r) => r.channelId === '19:payments-ops@thread.tacv2')?.name).toBe('Payments › Ops');
    expect(stored.find((r) => r.channelId === '19:payments-random@thread.tacv2')?.removedAt).toBeInstanceOf(
      Date,
    );
  });

  it('marks every channel of the team removed when the app is uninstalled', async () => {
    const res = await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM, 'remove'));
    expect(res.status).toBe(200);
    const stored = await rows();
    const team = stored.filter((r) => r.channelId.startsWith('19:payments-'));
    expect(team.length).toBeGreaterThanOrEqual(3);
    expect(team.every((r) => r.removedAt !== null)).toBe(true);
    expect(await repos.teams.destinationsOf('payments', 'teams')).toEqual([]);
  });

  it('re-activates the channels when the app is added again', async () => {
    await w.send(installedInTeam(w.connector.serviceUrl, PAYMENTS_TEAM));
    const patching = (await rows()).find((r) => r.channelId === PATCHING)!;
    expect(patching.removedAt).toBeNull();
    expect(patching.team?.name).toBe('payments');
  });
});

describe('names change nothing', () => {
  const team = { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name };

  it('keeps the bound channel bound when it is renamed (only the name shown changes)', async () => {
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelRenamed', { id: PATCHING, name: 'Patch Tuesday' }),
    );
    const row = (await rows()).find((r) => r.channelId === PATCHING)!;
    expect(row.team?.name).toBe('payments');
    expect(row.name).toBe('Payments › Patch Tuesday');
  });

  it("binds nothing to a channel renamed to the bound channel's old name", async () => {
    await w.send(
      channelEvent(w.connector.serviceUrl, team, 'channelCreated', {
        id: '19:payments-lookalike@thread.tacv2',
        name: 'Patching',
      }),
    );
    const row = (await rows()).find((r) => r.channelId === '19:payments-lookalike@thread.tacv2')!;
    expect(row.team).toBeNull();
    expect((await repos.teams.destinationsOf('payments', 'teams')).map((d) => d.channelId)).toEqual([
      PATCHING,
    ]);
  });

  it('binds nothing in a look-alike Teams team with the same team and channel names', async () => {
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
    const stored = (await rows()).filter((r) => r.channelId.startsWith('19:lookalike-'));
    expect(stored.map((r) => [r.channelId, r.team])).toEqual([
      ['19:lookalike-general@thread.tacv2', null],
      ['19:lookalike-patching@thread.tacv2', null],
    ]);
    expect((await repos.teams.destinationsOf('payments', 'teams')).map((d) => d.channelId)).toEqual([
      PATCHING,
    ]);
  });
});

describe('installation in a group chat', () => {
  it('maps the chat by its conversation id, and removal marks it removed', async () => {
    const chat = {
      serviceUrl: w.connector.serviceUrl,
      conversationId: WEB_CHAT,
      conversationType: 'groupChat' as const,
    };
    expect((await w.send(botMembership(chat, 'added'))).status).toBe(200);
    let row = (await rows()).find((r) => r.channelId === WEB_CHAT)!;
    expect(row.team?.name).toBe('web');
    expect(TeamsConversation.parse(row.conversationReference).kind).toBe('groupChat');

    expect((await w.send(botMembership(chat, 'removed'))).status).toBe(200);
    row = (await rows()).find((r) => r.channelId === WEB_CHAT)!;
    expect(row.removedAt).toBeInstanceOf(Date);
  });

  it('keeps a chat no team names, unmapped', async () => {
    const other = '19:random-chat@thread.v2';
    await w.send(
      botMembership(
        { serviceUrl: w.connector.serviceUrl, conversationId: other, conversationType: 'groupChat' },
        'added',
      ),
    );
    const row = (await rows()).find((r) => r.channelId === other)!;
    expect(row.team).toBeNull();
    expect(row.removedAt).toBeNull();
  });
});

describe('the policy file applied again', () => {
  it('maps stored conversations to the teams a changed policy names', async () => {
    const changed = Policy.parse({
      teams: [
        { name: 'payments', msteams: { channels: [{ teamId: PAYMENTS_TEAM.id }] } },
        { name: 'web', msteams: { conversations: ['19:random-chat@thread.v2'] } },
      ],
    });
    await syncDestinations(changed, repos, new Date());
    const changes = await remapTeamsDestinations(repos, changed);
    expect(changes.map((c) => [c.id, c.from, c.to]).sort()).toEqual(
      [
        ['19:payments-general@thread.tacv2', null, 'payments'],
        [PATCHING, 'payments', null],
        ['19:random-chat@thread.v2', null, 'web'],
      ].sort(),
    );
    expect(await remapTeamsDestinations(repos, changed)).toEqual([]);
  });
});

describe('teamForConversation', () => {
  const p = Policy.parse({
    teams: [
      { name: 'a', msteams: { conversations: ['19:x@thread.tacv2'] } },
      {
        name: 'b',
        msteams: { channels: [{ teamId: '19:platform@thread.tacv2', channelId: '19:p2@thread.tacv2' }] },
      },
      { name: 'c', msteams: { channels: [{ teamId: '19:platform@thread.tacv2' }] } },
    ],
  });
  const team = { id: '19:platform@thread.tacv2', name: 'Platform' };
  const cases: [string, Parameters<typeof teamForConversation>[1], string | null][] = [
    ['an id listed (with a thread suffix)', { id: '19:x@thread.tacv2;messageid=42', kind: 'channel' }, 'a'],
    ['team id and channel id', { id: '19:p2@thread.tacv2', kind: 'channel', teamsTeam: team }, 'b'],
    [
      'the General channel of a team named without a channel',
      { id: team.id, kind: 'channel', teamsTeam: team },
      'c',
    ],
    ['another channel of that team', { id: '19:p3@thread.tacv2', kind: 'channel', teamsTeam: team }, null],
    [
      'the bound channel id, claimed by another Teams team',
      {
        id: '19:p2@thread.tacv2',
        kind: 'channel',
        teamsTeam: { id: '19:other@thread.tacv2', name: 'Platform' },
      },
      null,
    ],
    ['a chat not listed', { id: '19:chat@thread.v2', kind: 'groupChat' }, null],
  ];
  for (const [name, conv, expected] of cases)
    it(name, () => {
      expect(teamForConversation(p, conv)).toBe(expected);
    });

  it('refuses channels named by display name in the policy file, saying how to bind them', () => {
    const r = Policy.safeParse({
      teams: [{ name: 'a', msteams: { channels: [{ team: 'Payments', channel: 'Patching' }] } }],
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('Teams channels are bound by id, not by name');
  });
});
