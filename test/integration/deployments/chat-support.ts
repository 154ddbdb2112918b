/**
 * Deployments with chat: the production deployment services (engine over BullMQ, SSH executors,
 * chat progress, the DeploymentPort) posting through a real SlackPoster to the fake Slack Web API,
 * and a campaign messenger that keeps one campaign message per change (the approval use case's
 * role in production): it posts the message, edits it from live state, and replies in its thread.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createSlackApp, type SlackEdge } from '../../../src/bot/slack/app.js';
import { SlackPoster } from '../../../src/bot/slack/poster.js';
import type { ChatPlatform, MessageRef } from '../../../src/bot/chat-platform.js';
import {
  campaignActions,
  type CampaignView,
  type ChatMention,
  type MessageContent,
} from '../../../src/bot/views/index.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import type { Database } from '../../../src/db/client.js';
import { deploymentServices, type DeploymentServices } from '../../../src/jobs/deployments/wiring.js';
import { JobHandlers, processJob } from '../../../src/jobs/worker.js';
import type { CampaignMessenger } from '../../../src/usecases/approvals/ports.js';
import { campaignDeploymentState } from '../../../src/usecases/deployments/chat.js';
import type { EngineTiming } from '../../../src/usecases/deployments/types.js';
import type { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { TEST_SIGNING_SECRET } from '../../support/slack-signing.js';
import { REDIS_URL, silentLogger, type Repos, type TestClock } from './support.js';

export const CHANNEL = 'C0PATCHING1';

/** One campaign message per change in CHANNEL, rendered from the change and its deployment. */
export class TestCampaignMessenger implements CampaignMessenger {
  private readonly refs = new Map<string, MessageRef>();

  constructor(
    private readonly platform: ChatPlatform,
    private readonly db: Database,
    private readonly repos: Repos,
    private readonly now: () => Date,
  ) {}

  async post(changeId: string): Promise<MessageRef> {
    const ref = await this.platform.post({ channel: CHANNEL }, await this.view(changeId));
    this.refs.set(changeId, ref);
    return ref;
  }

  async refresh(changeId: string): Promise<void> {
    const ref = this.refs.get(changeId);
    if (ref) await this.platform.update(ref, await this.view(changeId));
  }

  async reply(changeId: string, content: MessageContent): Promise<void> {
    const ref = this.refs.get(changeId);
    if (ref) await this.platform.reply(ref, content);
  }

  private async view(changeId: string): Promise<CampaignView> {
    const change = await this.db.prisma.changeRequest.findUniqueOrThrow({
      where: { id: changeId },
      include: { findings: { include: { finding: { include: { host: true } } } } },
    });
    const now = this.now();
    const state = (await campaignDeploymentState(this.repos.deployments, changeId, now)) ?? {
      kind: 'approved' as const,
      approvals: [],
      required: 1,
      at: now,
    };
    const hosts = change.findings.map((f) => f.finding.host.name).sort();
    return {
      type: 'campaign',
      changeId,
      changeNumber: change.number,
      team: 'payments',
      ecosystem: change.ecosystem,
      package: change.packageName,
      fixedVersion: change.fixedVersion,
      advisories: [],
      risk: { score: 80, band: 'high', topFactors: [] },
      cves: [],
      hosts: { count: hosts.length, names: hosts },
      slaDue: new Date(now.getTime() + 7 * 86_400_000),
      rings: [],
      state,
      actions: campaignActions(state),
      asOf: now,
    };
  }
}

export interface ChatHarness {
  services: DeploymentServices;
  messenger: TestCampaignMessenger;
  edge: SlackEdge;
  connection: Redis;
  prefix: string;
  startWorker(): Worker;
  close(): Promise<void>;
}

/** The deployment services over real Redis (unique prefix), SSH and a SlackPoster to the fake. */
export async function createChatHarness(options: {
  db: Database;
  repos: Repos;
  policy: Policy;
  clock: TestClock;
  fake: FakeSlackWebApi;
  approvers?: (changeId: string) => Promise<ChatMention[]>;
  timing?: Partial<EngineTiming>;
}): Promise<ChatHarness> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  await connection.ping();
  const prefix = `pbtest-${randomUUID().slice(0, 8)}`;
  const edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: options.fake.apiUrl,
    logger: silentLogger,
    handlers: {
      onAction: () => Promise.resolve({ type: 'done' as const }),
      onViewSubmission: () => Promise.resolve({}),
      onCommand: () => Promise.resolve(),
    },
  });
  const poster = new SlackPoster({ client: edge.client, logger: silentLogger, intervalMs: 5 });
  const messenger = new TestCampaignMessenger(poster, options.db, options.repos, options.clock.now);
  const services = deploymentServices({
    config: { policy: options.policy, policyPath: '/nonexistent/patchbot.yaml', env: {} },
    repos: options.repos,
    connection,
    prefix,
    now: options.clock.now,
    logger: silentLogger,
    messenger: () => messenger,
    ...(options.approvers ? { approvers: options.approvers } : {}),
    refreshIntervalMs: 200,
    timing: { leaseMs: 3_000, heartbeatMs: 500, maxDelayMs: 300, recoverWaitMs: 5_000, ...options.timing },
  });
  const workers: Worker[] = [];
  return {
    services,
    messenger,
    edge,
    connection,
    prefix,
    startWorker() {
      const handlers = services.register(new JobHandlers());
      const worker = new Worker('deployments', (job) => processJob(job, handlers, silentLogger), {
        connection: connection.duplicate(),
        prefix,
        concurrency: services.concurrency + 4,
        lockDuration: 3_000,
        stalledInterval: 1_000,
      });
      worker.on('error', () => undefined);
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await services.close();
      await edge.stop();
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length > 0) await connection.del(...keys);
      connection.disconnect();
    },
  };
}

/** A thread reply's text (the notification line) and its blocks' text, for assertions. */
export function messageText(m: { text?: string; blocks?: unknown[] }): string {
  return `${m.text ?? ''}\n${JSON.stringify(m.blocks ?? [])}`;
}
