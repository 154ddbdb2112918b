/**
 * Bot Framework authentication on POST /api/messages: the real CloudAdapter and botbuilder's JWT
 * validation against a local OpenID metadata + JWKS stand-in. A valid token reaches the bot; a
 * missing, expired, wrongly addressed, wrongly issued, unknown-key, badly signed or
 * serviceUrl-mismatched one is answered 401 and the bot never runs (no handler call, nothing sent).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatHandlers, CommandInput } from '../../../src/bot/handlers.js';
import type { TeamsConversationStore } from '../../../src/bot/teams/index.js';
import { cardOf } from '../../fakes/teams-connector.js';
import {
  APP_ID,
  memoryLogger,
  messageTo,
  PATCHING,
  PEOPLE,
  startTeamsWorld,
  TENANT,
  type TeamsWorld,
} from './support.js';

class Recording implements ChatHandlers {
  commands: CommandInput[] = [];
  actions = 0;
  onAction() {
    this.actions++;
    return Promise.resolve({ type: 'done' as const });
  }
  onViewSubmission() {
    this.actions++;
    return Promise.resolve({});
  }
  async onCommand(input: CommandInput) {
    this.commands.push(input);
    await input.respond({ type: 'notice', tone: 'info', text: `status for ${input.text}` });
  }
}

const noStore: TeamsConversationStore = {
  installed: (c) => Promise.resolve(c.map((x) => ({ id: x.id, team: null }))),
  removed: () => Promise.resolve(0),
  find: () => Promise.resolve(undefined),
  ofTeam: () => Promise.resolve([]),
};

const where = (w: TeamsWorld) => ({
  serviceUrl: w.connector.serviceUrl,
  conversationId: `${PATCHING};messageid=1724150000111`,
  team: { id: '19:payments-general@thread.tacv2', name: 'Payments' },
  channel: { id: PATCHING, name: 'Patching' },
});

describe('Bot Framework tokens', () => {
  const handlers = new Recording();
  const log = memoryLogger('info');
  let w: TeamsWorld;

  beforeAll(async () => {
    w = await startTeamsWorld({
      handlers,
      cardFor: () => Promise.reject(new Error('not used')),
      conversations: noStore,
      logger: log.logger,
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('accepts a valid token: the command reaches the handler and the answer goes to the serviceUrl', async () => {
    const activity = messageTo(where(w), PEOPLE.alice, '<at>patchbot</at> patch status web-1');
    const res = await w.send(activity);
    expect(res.status).toBe(200);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(1);
    const c = handlers.commands[0];
    expect(c.command).toEqual({ kind: 'status', target: { kind: 'name', name: 'web-1' } });
    expect(c.user).toEqual({
      platform: 'teams',
      id: PEOPLE.alice.aadObjectId,
      teamId: TENANT,
      name: PEOPLE.alice.name,
    });
    expect(c.channel).toBe(PATCHING);
    // The answer is a reply in the thread, with the bot's bearer token.
    const replies = w.connector.replies(PATCHING, '1724150000111');
    expect(replies).toHaveLength(1);
    expect(JSON.stringify(cardOf(replies[0].activity))).toContain('status for status web-1');
    expect(
      w.connector.calls.every(
        (call) => call.authorization === 'Bearer outbound-token-for-the-fake-connector',
      ),
    ).toBe(true);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const cases: { name: string; auth: (w: TeamsWorld) => string | null; why: RegExp }[] = [
    { name: 'missing Authorization header', auth: () => null, why: /Unauthorized/i },
    { name: 'not a Bearer token', auth: () => 'Basic dXNlcjpwYXNz', why: /identity|Unauthorized/i },
    {
      name: 'expired token (10 minutes ago, past the 5-minute tolerance)',
      auth: (w) =>
        w.keys.bearer({
          aud: APP_ID,
          serviceUrl: w.connector.serviceUrl,
          exp: now() - 600,
          nbf: now() - 3600,
        }),
      why: /expired/i,
    },
    {
      name: 'wrong audience (another bot)',
      auth: (w) =>
        w.keys.bearer({ aud: 'a0a0a0a0-0000-4000-8000-000000000000', serviceUrl: w.connector.serviceUrl }),
      why: /AppId|audience/i,
    },
    {
      name: 'wrong issuer',
      auth: (w) =>
        w.keys.bearer({ aud: APP_ID, serviceUrl: w.connector.serviceUrl, iss: 'https://evil.example' }),
      why: /identity|Unauthorized/i,
    },
    {
      name: 'unknown signing key',
      auth: (w) =>
        w.keys.bearer({
          aud: APP_ID,
          serviceUrl: w.connector.serviceUrl,
          kid: 'somebody-elses-key',
          signWith: 'unpublished',
        }),
      why: /Signing Key/i,
    },
    {
      name: 'bad signature (published key id, another key signed it)',
      auth: (w) =>
        w.keys.bearer({ aud: APP_ID, serviceUrl: w.connector.serviceUrl, signWith: 'unpublished' }),
      why: /signature/i,
    },
    {
      name: 'serviceUrl claim for another service',
      auth: (w) => w.keys.bearer({ aud: APP_ID, serviceUrl: 'https://smba.trafficmanager.net/emea/' }),
      why: /ServiceUrl/i,
    },
    {
      name: 'unsigned token (alg none)',
      auth: (w) => {
        const payload = w.keys.token({ aud: APP_ID, serviceUrl: w.connector.serviceUrl }).split('.')[1];
        const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: w.keys.kid })).toString(
          'base64url',
        );
        return `Bearer ${header}.${payload}.`;
      },
      why: /./,
    },
  ];

  for (const c of cases) {
    it(`refuses with 401, the bot never running: ${c.name}`, async () => {
      const before = {
        commands: handlers.commands.length,
        actions: handlers.actions,
        calls: w.connector.calls.length,
      };
      const logged = log.lines.length;
      const activity = messageTo(where(w), PEOPLE.mallory, '<at>patchbot</at> patch status');
      const res = await w.send(activity, c.auth(w));
      expect(res.status).toBe(401);
      await w.edge.idle();
      expect(handlers.commands.length).toBe(before.commands);
      expect(handlers.actions).toBe(before.actions);
      expect(w.connector.calls.length).toBe(before.calls);
      const refusal = log.lines.slice(logged).find((l) => l.msg === 'Teams request refused');
      expect(refusal, 'a log line with the reason').toBeDefined();
      expect(String(refusal?.why)).toMatch(c.why);
    });
  }

  it('refuses a card action without a token before any handler runs', async () => {
    const before = handlers.actions;
    const res = await w.send(
      {
        ...messageTo(where(w), PEOPLE.mallory, ''),
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb: 'approve', data: { changeId: 'c1' } } },
      },
      null,
    );
    expect(res.status).toBe(401);
    expect(handlers.actions).toBe(before);
  });

  it('answers 413 to a body over the limit sent without Content-Length, instead of resetting the connection', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const seen = handlers.actions + handlers.commands.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        w.url,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"type":"message","text":"');
      for (let i = 0; i < 8; i++) req.write(chunk); // 512 KiB, chunked: no Content-Length
      req.end('"}');
    });
    expect(status).toBe(413);
    expect(handlers.actions + handlers.commands.length).toBe(seen);
  });

  it('refuses an activity from a channel other than Microsoft Teams with 403, even with a valid token', async () => {
    const seen = handlers.commands.length;
    const activity = { ...messageTo(where(w), PEOPLE.alice, 'patch status'), channelId: 'emulator' };
    const res = await w.send(activity);
    expect(res.status).toBe(403);
    expect(String(res.body)).toContain('Microsoft Teams only');
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(seen);
  });

  it('answers 400 to a body that is not an activity and 405 to GET', async () => {
    const res = await fetch(w.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":1}',
    });
    expect(res.status).toBe(400);
    const bad = await fetch(w.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'not json',
    });
    expect(bad.status).toBe(400);
    const get = await fetch(w.url);
    expect(get.status).toBe(405);
  });
});

describe('single-tenant bot', () => {
  const handlers = new Recording();
  let w: TeamsWorld;
  beforeAll(async () => {
    w = await startTeamsWorld({
      handlers,
      cardFor: () => Promise.reject(new Error('not used')),
      conversations: noStore,
      tenantId: TENANT,
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('refuses an activity from another tenant with 403, even with a valid token', async () => {
    const activity = messageTo(where(w), PEOPLE.mallory, 'patch status');
    const other = '0c0c0c0c-1111-4222-8333-444444444444';
    (activity.conversation as Record<string, unknown>).tenantId = other;
    (activity.channelData as Record<string, unknown>).tenant = { id: other };
    const res = await w.send(activity);
    expect(res.status).toBe(403);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(0);
  });

  it('refuses an activity that names no tenant with 403', async () => {
    const activity = messageTo(where(w), PEOPLE.mallory, 'patch status');
    delete (activity.conversation as Record<string, unknown>).tenantId;
    delete (activity.channelData as Record<string, unknown>).tenant;
    const res = await w.send(activity);
    expect(res.status).toBe(403);
    expect(String(res.body)).toContain('names none');
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(0);
  });

  it('refuses an activity whose two tenant fields disagree', async () => {
    const activity = messageTo(where(w), PEOPLE.mallory, 'patch status');
    (activity.channelData as Record<string, unknown>).tenant = { id: '0c0c0c0c-1111-4222-8333-444444444444' };
    expect((await w.send(activity)).status).toBe(403);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(0);
  });

  it('accepts its own tenant', async () => {
    const res = await w.send(messageTo(where(w), PEOPLE.alice, 'patch status'));
    expect(res.status).toBe(200);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(1);
  });
});

describe('TEAMS_DEV_NO_AUTH (local development switch)', () => {
  const handlers = new Recording();
  const log = memoryLogger('info');
  let w: TeamsWorld;
  beforeAll(async () => {
    w = await startTeamsWorld({
      handlers,
      cardFor: () => Promise.reject(new Error('not used')),
      conversations: noStore,
      allowUnauthenticated: true,
      logger: log.logger,
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('warns loudly at start-up', () => {
    const warning = log.lines.find(
      (l) => l.level === 40 && String(l.msg).includes('TEAMS_DEV_NO_AUTH IS ON'),
    );
    expect(warning).toBeDefined();
    expect(String(warning?.msg)).toMatch(/WITHOUT A BOT FRAMEWORK TOKEN/);
  });

  it('accepts a request without a token', async () => {
    const res = await w.send(messageTo(where(w), PEOPLE.alice, 'patch status'), null);
    expect(res.status).toBe(200);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(1);
  });
});
