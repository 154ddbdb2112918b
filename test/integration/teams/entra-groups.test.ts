/**
 * Roles granted to Entra groups: the members are read from Microsoft Graph (a local stand-in that
 * speaks its wire format and pages its answers) with a token for Graph, and a card button pressed
 * through the real CloudAdapter is let through for a member and refused, naming the role, to
 * anyone else, including when Graph refuses the lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionInput, ChatHandlers } from '../../../src/bot/handlers.js';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import { bearerToken, entraGroupMembers } from '../../../src/bot/teams/index.js';
import { notice } from '../../../src/bot/views/index.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createRoleCheck } from '../../../src/usecases/roles.js';
import { FakeGraph } from '../../fakes/microsoft-graph.js';
import {
  APP_ID,
  execute,
  memoryConversations,
  PATCHING,
  PAYMENTS_TEAM,
  sampleCampaign,
  startTeamsWorld,
  TENANT,
  type Person,
  type TeamsWorld,
} from './support.js';

const GRAPH_TOKEN = 'token-for-microsoft-graph';
const ONCALL = '3d0b7f6e-1a2b-4c3d-8e4f-5a6b7c8d9e0f';
const LOCKED = '3d0b7f6e-1a2b-4c3d-8e4f-00000000dead';
const member = (n: number): Person => ({
  aadObjectId: `5e1c0a2b-0000-4000-8000-00000000000${n}`,
  id: `29:m${n}`,
  name: `Member ${n}`,
});
const MEMBERS = [member(1), member(2), member(3), member(4), member(5)];
const OUTSIDER = member(9);

let graph: FakeGraph;
let w: TeamsWorld;
const reached: ActionInput[] = [];
const approvals: ChatHandlers = {
  onAction: (i) => {
    reached.push(i);
    return Promise.resolve({ type: 'notice', content: notice('info', `reached ${i.kind}`) });
  },
  onViewSubmission: () => Promise.resolve({}),
  onCommand: () => Promise.resolve(),
};

beforeAll(async () => {
  graph = await FakeGraph.start({
    token: GRAPH_TOKEN,
    groups: { [ONCALL]: MEMBERS.map((m) => m.aadObjectId!) },
    forbidden: [LOCKED],
  });
  const policy = Policy.parse({
    roles: {
      operator: { entraGroups: [ONCALL] },
      admin: { entraGroups: [LOCKED] },
    },
  });
  const groupMembers = entraGroupMembers({
    token: () =>
      bearerToken(
        {
          appId: APP_ID,
          outboundToken: (audience) =>
            Promise.resolve(audience === new URL(graph.url).origin ? GRAPH_TOKEN : 'wrong'),
        },
        new URL(graph.url).origin,
        TENANT,
      ),
    graphUrl: graph.url,
  });
  w = await startTeamsWorld({
    handlers: createChatHandlers({
      approvals,
      status: { repos: {} as never, policy, logger: createLogger({ level: 'silent' }) },
      roles: createRoleCheck({ policy, groupMembers }),
    }),
    cardFor: () => Promise.resolve(sampleCampaign()),
    conversations: (serviceUrl) => memoryConversations(serviceUrl),
  });
});

afterAll(async () => {
  await w?.close();
  await graph?.close();
});

async function pause(who: Person): Promise<string> {
  const card = (await w.edge.poster.post({ channel: PATCHING }, sampleCampaign())).id;
  const res = await w.send(
    execute(
      {
        serviceUrl: w.connector.serviceUrl,
        conversationId: `${PATCHING};messageid=${card}`,
        team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
        channel: { id: PATCHING, name: 'Patching' },
      },
      who,
      card,
      'pause',
      { changeId: sampleCampaign().changeId },
    ),
  );
  expect(res.status).toBe(200);
  return JSON.stringify(res.body);
}

describe('roles granted to an Entra group', () => {
  it('lets a member through, the member list read page by page from Graph with its token', async () => {
    expect(await pause(MEMBERS[4])).toContain('reached pause');
    expect(reached.map((r) => r.user.id)).toEqual([MEMBERS[4].aadObjectId]);
    const pages = graph.calls.filter((c) => c.path.includes(ONCALL));
    expect(pages.length).toBe(3); // 5 members, 2 a page
    expect(pages.every((p) => p.status === 200)).toBe(true);
  });

  it('refuses someone outside the group, naming the role, from the cached member list', async () => {
    const calls = graph.calls.length;
    expect(await pause(OUTSIDER)).toContain('You need the operator role to pause a deployment');
    expect(reached).toHaveLength(1);
    expect(graph.calls.filter((c) => c.path.includes(ONCALL))).toHaveLength(3);
    expect(graph.calls.length).toBeGreaterThanOrEqual(calls);
  });

  it('counts nobody in a group Graph refuses to list (a missing permission), and says which role is needed', async () => {
    const answer = await pause(OUTSIDER);
    expect(answer).toContain('You need the operator role');
    expect(graph.calls.some((c) => c.path.includes(LOCKED) && c.status === 403)).toBe(true);
  });
});
