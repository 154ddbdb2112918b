/**
 * The Teams edge as `patchbot serve` runs it (CloudAdapter over HTTP on loopback, Bot Framework
 * tokens checked against the local key server), the fake Bot Connector as every activity's
 * serviceUrl, and activities shaped like the ones Teams sends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import {
  createTeamsEdge,
  type CreateTeamsEdgeOptions,
  type TeamsConversationStore,
  type TeamsEdge,
} from '../../../src/bot/teams/index.js';
import type {
  StoredTeamsConversation,
  TeamsConversation,
} from '../../../src/usecases/teams-installations.js';
import type { Clock } from '../../../src/bot/rate-limiter.js';
import type { CampaignView } from '../../../src/bot/views/index.js';
import { BotFrameworkKeys } from '../../support/bot-framework-keys.js';
import { FakeTeamsConnector, type FakeConnectorOptions } from '../../fakes/teams-connector.js';

export const APP_ID = '5b1c7a4e-2f0d-4c61-9a8e-3d2f6b7c8a91';
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const OUTBOUND_TOKEN = 'outbound-token-for-the-fake-connector';

/** Entra object ids of the people in the tests. */
export const PEOPLE = {
  alice: { aadObjectId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', name: 'Alice Approver', id: '29:1alice' },
  bob: { aadObjectId: '6fa459ea-ee8a-3ca4-894e-db77e160355e', name: 'Bob Approver', id: '29:1bob' },
  mallory: {
    aadObjectId: '9f3c2a1b-0d4e-4f5a-8b6c-7d8e9f0a1b2c',
    name: 'Mallory Outsider',
    id: '29:1mallory',
  },
} as const;
/** Someone in Teams: their Bot Framework id, name and (normally) Entra object id. */
export interface Person {
  readonly id: string;
  readonly name: string;
  readonly aadObjectId?: string;
}

/** A Teams team with three channels; Patching is mapped to patchbot's team "payments" by name. */
export const PAYMENTS_TEAM = {
  id: '19:payments-general@thread.tacv2',
  name: 'Payments',
  channels: [
    { id: '19:payments-general@thread.tacv2' },
    { id: '19:payments-patching@thread.tacv2', name: 'Patching' },
    { id: '19:payments-random@thread.tacv2', name: 'Random' },
  ],
} as const;
export const PATCHING = '19:payments-patching@thread.tacv2';
/** A group chat mapped to patchbot's team "web" by its conversation id. */
export const WEB_CHAT = '19:web-oncall-chat@thread.v2';

export const BOT = { id: `28:${APP_ID}`, name: 'patchbot' };

/** A virtual clock: sleeping advances it at once and is recorded. */
export class TestClock implements Clock {
  t = Date.parse('2026-03-02T09:00:00Z');
  readonly sleeps: number[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

/** Log lines written by a logger, parsed. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

export interface TeamsWorld {
  keys: BotFrameworkKeys;
  connector: FakeTeamsConnector;
  edge: TeamsEdge;
  url: string;
  clock: TestClock;
  /** POSTs an activity to /api/messages with a valid token (or `authorization` as given). */
  send(
    activity: Record<string, unknown>,
    authorization?: string | null,
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function startTeamsWorld(
  options: Omit<CreateTeamsEdgeOptions, 'appId' | 'logger' | 'conversations'> & {
    logger?: Logger;
    appId?: string;
    /** The store, or a function of the fake connector's serviceUrl that makes one. */
    conversations: TeamsConversationStore | ((serviceUrl: string) => TeamsConversationStore);
  },
  connectorOptions: FakeConnectorOptions = {},
): Promise<TeamsWorld> {
  const keys = await BotFrameworkKeys.start();
  const connector = await FakeTeamsConnector.start({
    token: OUTBOUND_TOKEN,
    channels: { [PAYMENTS_TEAM.id]: PAYMENTS_TEAM.channels.map((c) => ({ ...c })) },
    ...connectorOptions,
  });
  const clock = new TestClock();
  const edge = createTeamsEdge({
    appId: APP_ID,
    appPassword: 'not-used-with-an-outbound-token',
    openIdMetadataUrl: keys.metadataUrl,
    outboundToken: () => Promise.resolve(OUTBOUND_TOKEN),
    logger: options.logger ?? pino({ level: 'silent' }),
    poster: { intervalMs: 0, clock },
    ...options,
    conversations:
      typeof options.conversations === 'function'
        ? options.conversations(connector.serviceUrl)
        : options.conversations,
  });
  const server: Server = createServer(edge.requestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/messages`;
  return {
    keys,
    connector,
    edge,
    url,
    clock,
    async send(activity, authorization) {
      const auth =
        authorization === undefined
          ? keys.bearer({ aud: APP_ID, serviceUrl: String(activity.serviceUrl) })
          : authorization;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth === null ? {} : { authorization: auth }) },
        body: JSON.stringify(activity),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // plain text
      }
      return { status: res.status, body };
    },
    async close() {
      await edge.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await connector.close();
      await keys.close();
    },
  };
}

let activityCounter = 0;
const nextActivityId = () => `f:${Date.now()}${++activityCounter}`;

interface Where {
  serviceUrl: string;
  /** The conversation id as Teams sends it (a channel post: "19:…;messageid=…"). */
  conversationId: string;
  conversationType?: 'channel' | 'groupChat' | 'personal';
  team?: { id: string; name?: string };
  channel?: { id: string; name?: string };
}

function base(
  where: Where,
  from: { id: string; name?: string; aadObjectId?: string },
): Record<string, unknown> {
  const type = where.conversationType ?? 'channel';
  return {
    id: nextActivityId(),
    channelId: 'msteams',
    serviceUrl: where.serviceUrl,
    timestamp: new Date().toISOString(),
    from,
    recipient: BOT,
    conversation: {
      id: where.conversationId,
      conversationType: type,
      tenantId: TENANT,
      isGroup: type !== 'personal',
    },
    channelData: {
      tenant: { id: TENANT },
      ...(where.team ? { team: where.team } : {}),
      ...(where.channel ? { channel: where.channel } : {}),
    },
    locale: 'en-US',
  };
}

/** A message to the bot ("<at>patchbot</at> patch status web-1"). */
export function messageTo(where: Where, from: Person, text: string): Record<string, unknown> {
  return {
    ...base(where, from),
    type: 'message',
    text,
    entities: [{ type: 'mention', text: '<at>patchbot</at>', mentioned: BOT }],
  };
}

/** A click on an Action.Execute button of the card `replyToId` (Universal Actions invoke). */
export function execute(
  where: Where,
  from: Person,
  replyToId: string,
  verb: string,
  data: Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...base(where, from),
    type: 'invoke',
    name: 'adaptiveCard/action',
    replyToId,
    value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
  };
}

/** The bot added to a team (installationUpdate "add", sent in the General channel). */
export function installedInTeam(
  serviceUrl: string,
  team: { id: string; name: string },
  action = 'add',
): Record<string, unknown> {
  return {
    ...base(
      { serviceUrl, conversationId: team.id, team, channel: { id: team.id } },
      { id: PEOPLE.alice.id, aadObjectId: PEOPLE.alice.aadObjectId },
    ),
    type: 'installationUpdate',
    action,
  };
}

/** A conversationUpdate with the bot among the members added (or removed). */
export function botMembership(
  where: Where,
  change: 'added' | 'removed',
  eventType?: string,
): Record<string, unknown> {
  const a = base(where, { id: PEOPLE.alice.id, aadObjectId: PEOPLE.alice.aadObjectId });
  return {
    ...a,
    type: 'conversationUpdate',
    ...(change === 'added' ? { membersAdded: [BOT] } : { membersRemoved: [BOT] }),
    ...(eventType ? { channelData: { ...(a.channelData as object), eventType } } : {}),
  };
}

/** A channel event in a team (channelCreated, channelRenamed, channelDeleted). */
export function channelEvent(
  serviceUrl: string,
  team: { id: string; name: string },
  eventType: string,
  channel: { id: string; name?: string },
): Record<string, unknown> {
  const a = base({ serviceUrl, conversationId: team.id, team, channel }, { id: PEOPLE.alice.id });
  return { ...a, type: 'conversationUpdate', channelData: { ...(a.channelData as object), eventType } };
}

/** A conversation store in memory with the Patching channel and the web chat installed. */
export function memoryConversations(serviceUrl: string): TeamsConversationStore & {
  conversations: Map<string, StoredTeamsConversation>;
} {
  const conversations = new Map<string, StoredTeamsConversation>();
  const add = (c: TeamsConversation, team: string | null) =>
    conversations.set(c.id, { ...c, team, removed: false });
  const ref = (id: string, kind: 'channel' | 'groupChat') => ({
    channelId: 'msteams',
    serviceUrl,
    conversation: { id, conversationType: kind, tenantId: TENANT, isGroup: true },
    bot: BOT,
  });
  add(
    {
      id: PATCHING,
      kind: 'channel',
      tenantId: TENANT,
      serviceUrl,
      teamsTeam: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
      channel: { id: PATCHING, name: 'Patching' },
      reference: ref(PATCHING, 'channel'),
    },
    'payments',
  );
  add(
    { id: WEB_CHAT, kind: 'groupChat', tenantId: TENANT, serviceUrl, reference: ref(WEB_CHAT, 'groupChat') },
    'web',
  );
  return {
    conversations,
    installed: (cs) => {
      for (const c of cs) add(c, null);
      return Promise.resolve(cs.map((c) => ({ id: c.id, team: null })));
    },
    removed: (target) => {
      const ids = 'conversationIds' in target ? target.conversationIds : [];
      for (const id of ids) {
        const c = conversations.get(id);
        if (c) c.removed = true;
      }
      return Promise.resolve(ids.length);
    },
    find: (id) => Promise.resolve(conversations.get(id.split(';')[0])),
    ofTeam: () => Promise.resolve([]),
  };
}

/** A campaign view as the approval use case builds it. */
export function sampleCampaign(overrides: Partial<CampaignView> = {}): CampaignView {
  const asOf = new Date('2026-03-02T09:00:00Z');
  return {
    type: 'campaign',
    changeId: '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21',
    changeNumber: 42,
    team: 'payments',
    environment: 'production',
    ecosystem: 'Debian:12',
    package: 'libc6',
    sourcePackage: 'glibc',
    fixedVersion: '2.36-9+deb12u3',
    advisories: ['DSA-5514-1'],
    summary: 'glibc: buffer overflow in ld.so (Looney Tunables) *not markdown*',
    risk: {
      score: 91,
      band: 'critical',
      topFactors: [
        { label: 'CVSS 7.8', contribution: 31 },
        { label: 'Known exploited (KEV)', contribution: 25 },
      ],
    },
    cves: [{ id: 'CVE-2023-4911', url: 'https://security-tracker.debian.org/tracker/CVE-2023-4911' }],
    kev: { dueDate: new Date('2023-12-12T00:00:00Z'), ransomware: false },
    epss: { score: 0.94, percentile: 0.99 },
    ssvc: 'Act',
    hosts: { count: 2, names: ['pay-1', 'pay-2'] },
    slaDue: new Date('2026-03-04T00:00:00Z'),
    slaReason: 'critical: 2 days',
    rings: [
      { name: 'canary', hostCount: 1 },
      { name: 'broad', hostCount: 1 },
    ],
    state: { kind: 'pending', approvals: [], required: 2 },
    actions: ['approve', 'reject', 'defer', 'accept_risk', 'details'],
    asOf,
    ...overrides,
  };
}
