/**
 * From a click in Slack to patched hosts: signed block_actions requests to the real Bolt app over
 * HTTP, the approval use case deciding under the approval policy, the approved change handed to the
 * deployment port, a BullMQ worker running the rollout over SSH against real sshd hosts, and the
 * change's Slack message edited and its thread written to as the deployment moves (through the
 * fake Slack Web API). A failing ring halts, notifies the approvers and is rolled back; the
 * deployment buttons on the message pause, resume and abort it, for approvers only.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import { createSlackApp, SlackPoster, type SlackEdge } from '../../../src/bot/slack/index.js';
import { ACTION_IDS } from '../../../src/bot/slack/render.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, type Repositories } from '../../../src/db/index.js';
import { deploymentServices, type DeploymentServices } from '../../../src/jobs/deployments/wiring.js';
import { JobHandlers, processJob } from '../../../src/jobs/worker.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { approverMentions } from '../../../src/usecases/deployments/chat.js';
import { syncDestinations } from '../../../src/usecases/destinations.js';
import { FakeSlackWebApi, type StoredMessage } from '../../fakes/slack-web-api.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  blockActionsBody,
  postToSlackApp,
  signedHeaders,
  TEST_SIGNING_SECRET,
} from '../../support/slack-signing.js';
import { REDIS_URL, registerFleet, silentLogger, TestClock, waitFor } from './support.js';

const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const NEWER = '3.0.14-1~deb12u1';
const CHANNEL = 'C0PAYMENTS1';
const ALICE = 'U0ALICE0001';
const BOB = 'U0BOBBY0002';
const MALLORY = 'U0MALLORY04';
const HOSTS = ['e2e-1', 'e2e-2', 'e2e-3', 'e2e-4'];

let fleet: Fleet;
let test: TestDatabase;
let repos: Repositories;
let fake: FakeSlackWebApi;
let edge: SlackEdge;
let url: string;
let approvals: Approvals;
let services: DeploymentServices;
let connection: Redis;
let prefix: string;
let worker: Worker;
// 00:00 UTC: the night window (host e2e-4 only) opens at 02:00
const clock = new TestClock(new Date('2026-11-24T00:00:00Z'));

function policy(fleet: Fleet): Policy {
  return Policy.parse({
    ssh: {
      user: fleet.hosts[0]?.ssh.user,
      identityFile: fleet.clientKeyPath,
      connectTimeout: '3s',
      commandTimeout: '30s',
    },
    teams: [
      {
        name: 'payments',
        slack: { channels: [CHANNEL] },
        approvers: { '*': { slackUsers: [ALICE, BOB] } },
      },
    ],
    approval: { default: { quorum: 1, expiry: '72h' } },
    rings: [
      { name: 'canary', match: { labels: { ring: 'canary' } }, failureBudget: 0 },
      { name: 'broad', concurrency: 2, failureBudget: 0 },
    ],
    maintenanceWindows: [
      {
        name: 'night',
        match: { labels: { window: 'night' } },
        schedule: 'daily 02:00-03:00',
        timeZone: 'UTC',
      },
    ],
    deployments: {
      sudo: true,
      reboot: { policy: 'never' },
      retry: { attempts: 0, backoff: '1s' },
      onFailure: 'rollback',
      healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
    },
  });
}

beforeAll(async () => {
  fleet = await startFleet(
    HOSTS.map((name) => ({
      name,
      installed: [
        { name: 'openssl', version: OLD, source: 'openssl' },
        { name: 'libssl3', version: OLD, source: 'openssl' },
      ],
      available: [OLD, NEW, NEWER].flatMap((version) => [
        { name: 'openssl', version },
        { name: 'libssl3', version },
      ]),
    })),
    { first: 161 },
  );
  test = await openTestDatabase('postgres', 'deploye2e');
  repos = createRepositories(test.db);
  const pol = policy(fleet);
  await syncDestinations(pol, repos, clock.now());
  await registerFleet(repos, fleet, {
    'e2e-1': { ring: 'canary' },
    'e2e-4': { window: 'night' },
  });
  fake = await FakeSlackWebApi.start();
  connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `pbtest-${randomUUID().slice(0, 8)}`;
  const chat: { poster?: SlackPoster } = {};
  const late: { services?: DeploymentServices } = {};
  approvals = createApprovals({
    repos,
    policy: pol,
    now: clock.now,
    logger: silentLogger,
    platforms: () => (chat.poster ? [chat.poster] : []),
    deployments: () => late.services?.port,
  });
  services = deploymentServices({
    config: { policy: pol, policyPath: '/nonexistent/patchbot.yaml', env: {} },
    repos,
    connection,
    prefix,
    now: clock.now,
    logger: silentLogger,
    messenger: () => approvals.messenger,
    approvers: async (changeId) => approverMentions(await approvals.approversOf(changeId)),
    refreshIntervalMs: 200,
    timing: { leaseMs: 3_000, heartbeatMs: 500, maxDelayMs: 300, recoverWaitMs: 5_000 },
  });
  late.services = services;
  edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger: silentLogger,
    handlers: createChatHandlers({
      approvals: approvals.handlers,
      status: { repos, policy: pol, now: clock.now, logger: silentLogger },
    }),
  });
  chat.poster = new SlackPoster({ client: edge.client, logger: silentLogger, intervalMs: 0 });
  const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${port}/slack/events`;
  const handlers = services.register(new JobHandlers());
  worker = new Worker('deployments', (job) => processJob(job, handlers, silentLogger), {
    connection: connection.duplicate(),
    prefix,
    concurrency: services.concurrency + 4,
    lockDuration: 3_000,
    stalledInterval: 1_000,
  });
  worker.on('error', () => undefined);
}, 90_000);

afterEach(async () => {
  await fleet.reset();
});

afterAll(async () => {
  await worker?.close();
  await services?.close();
  await edge?.stop();
  const keys = (await connection?.keys(`${prefix}:*`)) ?? [];
  if (keys.length > 0) await connection.del(...keys);
  connection?.disconnect();
  await fake?.close();
  await fleet?.stop();
  await test?.dispose();
});

interface Campaign {
  id: string;
  number: number;
  ts: string;
}

/** A campaign for `hosts` fixing openssl at `fixed`, posted and recorded as notify does. */
async function campaign(hosts: string[], fixed: string): Promise<Campaign> {
  const advisoryId = `DSA-${randomUUID().slice(0, 8)}`;
  await test.db.prisma.advisory.create({
    data: {
      id: advisoryId,
      source: 'osv',
      modified: new Date(),
      contentHash: randomUUID(),
      summary: 'openssl',
    },
  });
  const findingIds: string[] = [];
  for (const name of hosts) {
    const host = await test.db.prisma.host.findUniqueOrThrow({ where: { name } });
    const f = await test.db.prisma.finding.create({
      data: {
        hostId: host.id,
        packageName: 'openssl',
        sourcePackage: 'openssl',
        advisoryId,
        ecosystem: 'Debian:12',
        installedVersion: OLD,
        fixedVersion: fixed,
        riskScore: 70,
      },
    });
    findingIds.push(f.id);
  }
  const { changeId } = await approvals.campaigns.upsertCampaign(
    {
      team: 'payments',
      ecosystem: 'Debian:12',
      packageName: 'openssl',
      sourcePackage: 'openssl',
      fixedVersion: fixed,
      findingIds,
      riskScore: 70,
      severity: 'high',
      kev: false,
    },
    clock.now(),
  );
  const poster = new SlackPoster({ client: edge.client, logger: silentLogger, intervalMs: 0 });
  const ref = await poster.post({ channel: CHANNEL }, await approvals.campaignView(changeId, clock.now()));
  await approvals.campaigns.recordMessage(changeId, ref);
  const row = await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } });
  return { id: changeId, number: row.number, ts: ref.id };
}

/** Presses a button on the campaign message as `user`; resolves with the id of its response_url. */
async function click(user: string, kind: keyof typeof ACTION_IDS, c: Campaign): Promise<string> {
  const responseUrl = fake.responseUrl();
  const body = blockActionsBody({
    userId: user,
    actionId: ACTION_IDS[kind],
    value: c.id,
    channelId: CHANNEL,
    messageTs: c.ts,
    responseUrl,
  });
  const res = await postToSlackApp(url, body, signedHeaders(TEST_SIGNING_SECRET, body));
  expect(res.status).toBe(200);
  return responseUrl.split('/').pop() ?? '';
}

async function answerTo(responseId: string): Promise<string> {
  const r = await fake.waitFor(() => fake.responses.find((x) => x.id === responseId), 15_000);
  return JSON.stringify(r.body);
}

const thread = (c: Campaign): StoredMessage[] => fake.messages.filter((m) => m.threadTs === c.ts);

async function reply(c: Campaign, re: RegExp): Promise<StoredMessage> {
  const m = await fake.waitFor(() => thread(c).find((r) => re.test(r.text ?? '')), 60_000);
  await services.progress.flush();
  return m;
}

/** Every edit of the campaign message, as the text of its blocks, oldest first. */
const edits = (c: Campaign): string[] =>
  fake
    .callsTo('chat.update')
    .filter((u) => u.params.ts === c.ts && u.error === undefined)
    .map((u) => JSON.stringify(u.params.blocks ?? []));

async function deploymentOf(c: Campaign) {
  return waitFor('a deployment', async () => repos.deployments.latestForChange(c.id), 15_000);
}

describe.runIf(sshdAvailable() && process.getuid?.() === 0)(
  'from a Slack approval to a staged rollout',
  () => {
    it('approves in Slack, deploys ring by ring over SSH, and reports into the thread until done', async () => {
      const c = await campaign(['e2e-1', 'e2e-2', 'e2e-3'], NEW);
      await click(ALICE, 'approve', c);
      const dep = await deploymentOf(c);
      await waitFor(
        'completed',
        async () => (await repos.deployments.get(dep.id)).state.status === 'completed',
        60_000,
      );
      await reply(c, /^Deployment #\d+ done/);

      const texts = thread(c).map((m) => m.text ?? '');
      const n = dep.number;
      const at = (re: RegExp) => texts.findIndex((t) => re.test(t));
      const order = [
        at(/approved by u0alice0001/i),
        at(new RegExp(`^Deployment #${n} scheduled: 2 rings, 3 hosts, first ring starts now\\.$`)),
        at(/^Ring 1\/2 \(canary\) started: 1 host\.$/),
        at(/^Ring 1\/2 \(canary\) passed: 1 succeeded, 0 failed, 0 skipped\. Ring 2\/2 starts now\.$/),
        at(/^Ring 2\/2 \(broad\) started: 2 hosts\.$/),
        at(/^Ring 2\/2 \(broad\) passed: 2 succeeded, 0 failed, 0 skipped\.$/),
        at(
          new RegExp(
            `^Deployment #${n} done: 3 hosts patched, 0 failed within the failure budget, 0 skipped\\.$`,
          ),
        ),
      ];
      expect(
        order.every((i) => i >= 0),
        JSON.stringify(texts),
      ).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      // no reply per patched host
      expect(texts.filter((t) => /e2e-\d/.test(t))).toEqual([]);

      const states = edits(c);
      expect(states.some((s) => /\*Deploying\* \(deployment #\d+\) ring 1\/2/.test(s))).toBe(true);
      expect(states.some((s) => /\*Deploying\* \(deployment #\d+\) ring 2\/2/.test(s))).toBe(true);
      expect(states.at(-1)).toMatch(/\*Done\*[^"]*3 hosts patched/);
      for (const name of ['e2e-1', 'e2e-2', 'e2e-3']) {
        expect((await fleet.host(name).installed()).get('openssl')).toBe(NEW);
        expect(await fleet.host(name).installLog()).toHaveLength(1);
      }
      const change = await test.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
      expect(change.status).toBe('completed');
    }, 120_000);

    it('halts a failing ring, mentions the approvers and reports the rollback in the thread', async () => {
      await fleet.host('e2e-1').setUnhealthy(true);
      const c = await campaign(['e2e-1', 'e2e-2'], NEWER);
      await click(BOB, 'approve', c);
      const dep = await deploymentOf(c);
      await waitFor(
        'rolled back',
        async () => (await repos.deployments.get(dep.id)).state.status === 'rolled_back',
        60_000,
      );
      await reply(c, /^Rollback of deployment/);

      const failure = await reply(c, /^Ring 1\/2 \(canary\): e2e-1 failed/);
      expect(failure.text).toBe('Ring 1/2 (canary): e2e-1 failed in step health check.');
      expect(JSON.stringify(failure.blocks)).toContain('health check failed: svc');
      const halt = await reply(c, /halted/);
      // the approvers of the change (policy) and who approved it, each once
      expect(halt.text).toMatch(
        new RegExp(
          `^<@${BOB}> <@${ALICE}> Deployment #${dep.number} halted in ring 1/2 \\(canary\\): ring canary: 1 of 1 host\\(s\\) failed`,
        ),
      );
      expect(JSON.stringify(halt.blocks)).toMatch(/e2e-1\* failed\\n```[^`]*health check failed: svc/);
      const rollback = await reply(c, /^Rollback of deployment/);
      expect(rollback.text).toBe(
        `Rollback of deployment #${dep.number} finished: 1 host restored to the versions they had before.`,
      );
      expect(JSON.stringify(rollback.blocks)).toContain(
        `*e2e-1* rolled back: restored libssl3 ${OLD}, openssl ${OLD}`,
      );

      expect((await fleet.host('e2e-1').installed()).get('openssl')).toBe(OLD);
      expect(await fleet.host('e2e-2').installLog()).toEqual([]);
      expect(edits(c).at(-1)).toMatch(/rolled back/);
    }, 120_000);

    it('pauses, resumes and aborts from the buttons on the message, for approvers only', async () => {
      const c = await campaign(['e2e-4'], NEW);
      await click(ALICE, 'approve', c);
      const dep = await deploymentOf(c);
      await reply(
        c,
        new RegExp(
          `^Deployment #${dep.number} scheduled: 1 ring, 1 host, first ring at 2026-11-24 02:00 UTC\\.$`,
        ),
      );
      await waitFor('buttons', async () => Promise.resolve(edits(c).at(-1)?.includes(ACTION_IDS.pause)));
      expect(edits(c).at(-1)).toContain(ACTION_IDS.abort);

      expect(await answerTo(await click(MALLORY, 'pause', c))).toContain(
        'You are not an approver for team payments',
      );
      expect((await repos.deployments.get(dep.id)).state.status).toBe('waiting_window');

      expect(await answerTo(await click(BOB, 'pause', c))).toContain(`Deployment #${dep.number} paused`);
      expect((await repos.deployments.get(dep.id)).state.status).toBe('paused');
      await waitFor('paused message', async () => Promise.resolve(/paused/i.test(edits(c).at(-1) ?? '')));
      // a paused deployment offers Resume, and no longer Pause
      expect(edits(c).at(-1)).toContain(ACTION_IDS.resume);
      expect(edits(c).at(-1)).not.toContain(ACTION_IDS.pause);

      expect(await answerTo(await click(BOB, 'resume', c))).toContain(`Deployment #${dep.number} resumed`);
      expect((await repos.deployments.get(dep.id)).state.status).toBe('waiting_window');

      expect(await answerTo(await click(ALICE, 'abort', c))).toContain(`Deployment #${dep.number} aborted`);
      expect((await repos.deployments.get(dep.id)).state.status).toBe('aborted');
      // nothing was installed before the abort: nothing to roll back or abort any more
      await waitFor('aborted message', async () =>
        Promise.resolve(!(edits(c).at(-1) ?? '').includes(ACTION_IDS.abort)),
      );
      expect(edits(c).at(-1)).not.toContain(ACTION_IDS.pause);
      expect(await answerTo(await click(ALICE, 'pause', c))).toContain(
        'has no deployment under way to pause',
      );
      expect(await fleet.host('e2e-4').installLog()).toEqual([]);
    }, 60_000);
  },
);
