/**
 * Announcing newly relevant fixes end to end: real findings (scan of real package lists against the
 * Debian tracker sample, KEV from CISA's feed) in a temp PostgreSQL database, the real Bolt app's
 * Web API client and the paced SlackPoster talking to the fake Slack Web API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackEdge } from '../../../src/bot/slack/app.js';
import { createSlackApp, SlackPoster } from '../../../src/bot/slack/index.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { DEFAULT_RISK_POLICY } from '../../../src/core/risk/policy.js';
import { assessRisk } from '../../../src/core/risk/score.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals } from '../../../src/usecases/approvals/index.js';
import { notifyNewlyRelevant, type NotifyResult } from '../../../src/usecases/notify.js';
import { FakeSlackWebApi, type RecordedCall } from '../../fakes/slack-web-api.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { TEST_SIGNING_SECRET } from '../../support/slack-signing.js';
import {
  applyPolicy,
  CHANNELS,
  KEV,
  OLD_GLIBC,
  rescan,
  saveInventory,
  syncFeeds,
  testPolicy,
  TRACKER,
} from './seed.js';

const logger = createLogger({ level: 'silent' });

interface World {
  pg: TempPostgres;
  db: Database;
  repos: Repositories;
  fake: FakeSlackWebApi;
  edge: SlackEdge;
  poster: SlackPoster;
  policy: Policy;
  notify(now?: Date): Promise<NotifyResult>;
  close(): Promise<void>;
}

async function world(label: string, policy: Policy): Promise<World> {
  const pg = await createTempPostgres(label);
  const db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  const repos = createRepositories(db);
  await applyPolicy(repos, policy);
  const fake = await FakeSlackWebApi.start();
  const noHandlers = () => Promise.reject(new Error('not used'));
  const edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger,
    handlers: { onAction: noHandlers, onViewSubmission: noHandlers, onCommand: noHandlers },
  });
  const poster = new SlackPoster({ client: edge.client, logger });
  const parts = createApprovals({ repos, policy, now: () => new Date(), logger, platforms: () => [poster] });
  return {
    pg,
    db,
    repos,
    fake,
    edge,
    poster,
    policy,
    notify: (now = new Date()) =>
      notifyNewlyRelevant({
        repos,
        campaigns: parts.campaigns,
        campaignView: parts.campaignView,
        policy,
        platform: poster,
        now,
        logger,
      }),
    close: async () => {
      await edge.stop();
      await fake.close();
      await db.close();
      await pg.drop();
    },
  };
}

const topLevel = (calls: RecordedCall[], channel: string) =>
  calls.filter(
    (c) =>
      c.method === 'chat.postMessage' &&
      c.status === 200 &&
      c.params.channel === channel &&
      c.params.thread_ts === undefined,
  );
const blocksText = (c: RecordedCall) => JSON.stringify(c.params.blocks);

describe('notify: campaigns in the owning team channel', () => {
  let w: World;
  beforeAll(async () => {
    w = await world('notify', testPolicy());
    await saveInventory(w.repos, 'pay-1', OLD_GLIBC);
    await saveInventory(w.repos, 'pay-2', '2.36-9+deb12u14');
    await syncFeeds(w.repos, w.policy, [TRACKER]);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('posts one message per campaign in the team channel, and nothing elsewhere', async () => {
    const result = await w.notify();
    expect(result.ran).toBe(true);
    const campaigns = await w.db.prisma.changeRequest.findMany({ include: { team: true } });
    expect(campaigns.length).toBeGreaterThan(0);
    expect(new Set(campaigns.map((c) => c.team?.name))).toEqual(new Set(['payments']));
    const posts = topLevel(w.fake.calls, CHANNELS.payments);
    expect(posts).toHaveLength(campaigns.length);
    expect(topLevel(w.fake.calls, CHANNELS.web)).toHaveLength(0);
    expect(topLevel(w.fake.calls, CHANNELS.ops)).toHaveLength(0);

    const libc = campaigns.find((c) => c.packageName === 'glibc');
    expect(libc).toBeDefined();
    const libcPost = posts.find((p) => blocksText(p).includes(`glibc → ${libc!.fixedVersion}`));
    expect(libcPost, 'the libc6 campaign message').toBeDefined();
    const blocks = blocksText(libcPost!);
    expect(blocks).toContain(libc!.fixedVersion);
    expect(blocks).toMatch(/Risk \d+\/100/);
    expect(blocks).toContain('https://security-tracker.debian.org/tracker/CVE-2023-4911');
    // The host list is in the thread.
    const ts = w.fake.messages.find(
      (m) => m.channel === CHANNELS.payments && JSON.stringify(m.blocks).includes('glibc → '),
    )!.ts;
    const thread = w.fake.messages.filter((m) => m.threadTs === ts);
    expect(thread).toHaveLength(1);
    expect(JSON.stringify(thread[0].blocks)).toContain('pay-1');
    // Findings are marked announced.
    const open = await w.db.prisma.finding.findMany({
      where: { status: 'open', fixedVersion: { not: null } },
    });
    expect(open.every((f) => f.notifiedAt !== null && f.notifiedScore === f.riskScore)).toBe(true);
  });

  it('posts nothing when run again', async () => {
    const before = w.fake.calls.length;
    const result = await w.notify();
    expect(result.findingsNotified).toBe(0);
    expect(w.fake.calls.length).toBe(before);
  });

  it('edits the message in place when another host needs the same fix', async () => {
    const before = w.fake.calls.length;
    const libc = await w.db.prisma.changeRequest.findFirstOrThrow({ where: { packageName: 'glibc' } });
    const message = await w.db.prisma.chatMessage.findFirstOrThrow({ where: { changeRequestId: libc.id } });
    await saveInventory(w.repos, 'pay-2', OLD_GLIBC);
    await rescan(w.repos, w.policy, ['pay-2']);
    await w.notify();
    const calls = w.fake.calls.slice(before);
    expect(topLevel(calls, CHANNELS.payments)).toHaveLength(0);
    const updates = calls.filter((c) => c.method === 'chat.update' && c.params.ts === message.messageId);
    expect(updates).toHaveLength(1);
    expect(blocksText(updates[0])).toContain('2 hosts');
    const replies = calls.filter(
      (c) => c.method === 'chat.postMessage' && c.params.thread_ts === message.messageId,
    );
    expect(replies).toHaveLength(1);
    expect(String(replies[0].params.text)).toMatch(/1 more host affected/);
    expect(blocksText(replies[0])).toContain('pay-2');
  }, 60_000);

  it('posts again at the top when a CVE is added to KEV, saying why', async () => {
    const before = w.fake.calls.length;
    await syncFeeds(w.repos, w.policy, [KEV]);
    await w.notify();
    const posts = topLevel(w.fake.calls.slice(before), CHANNELS.payments);
    const kevPost = posts.find((p) => blocksText(p).includes('glibc → '));
    expect(kevPost).toBeDefined();
    expect(blocksText(kevPost!)).toContain('Escalated: CVE-2023-4911 was added to CISA KEV');
    expect(blocksText(kevPost!)).toContain(':warning: *KEV*');
    expect(topLevel(w.fake.calls.slice(before), CHANNELS.web)).toHaveLength(0);
    // and only once
    const after = w.fake.calls.length;
    await w.notify();
    expect(w.fake.calls.length).toBe(after);
  }, 60_000);

  it('posts in the other team channel when its host is affected', async () => {
    const before = w.fake.calls.length;
    await saveInventory(w.repos, 'web-1', OLD_GLIBC);
    await rescan(w.repos, w.policy, ['web-1']);
    await w.notify();
    const calls = w.fake.calls.slice(before);
    expect(topLevel(calls, CHANNELS.web).length).toBeGreaterThan(0);
    expect(topLevel(calls, CHANNELS.payments)).toHaveLength(0);
  }, 60_000);
});

describe('notify: bursts, pacing and rate limits', () => {
  let w: World;
  const PACKAGES = 100;

  beforeAll(async () => {
    w = await world('burst', testPolicy({ notifications: { burstThreshold: 20 } }));
    // 100 packages x 5 advisories on pay-1 and pay-2 = 1,000... keep it at 500: 100 x 5 on pay-1 only.
    const host = await w.db.prisma.host.findUniqueOrThrow({ where: { name: 'pay-1' } });
    await w.db.prisma.advisory.createMany({
      data: Array.from({ length: 5 }, (_, i) => ({
        id: `TEST-ADV-${i}`,
        source: 'osv' as const,
        modified: new Date(),
        contentHash: `h${i}`,
        cves: [`CVE-2099-${1000 + i}`],
      })),
    });
    const now = new Date();
    const writes = Array.from({ length: PACKAGES }, (_, p) =>
      Array.from({ length: 5 }, (_, a) => ({
        packageName: `pkg${String(p).padStart(3, '0')}`,
        sourcePackage: `pkg${String(p).padStart(3, '0')}`,
        advisoryId: `TEST-ADV-${a}`,
        ecosystem: 'Debian:12',
        installedVersion: '1.0-1',
        fixedVersion: `1.0-${2 + a}`,
        cves: [`CVE-2099-${1000 + a}`],
        kev: false,
        epssScore: null,
        risk: assessRisk(
          {
            cves: [],
            urgency: p % 3 === 0 ? 'high' : 'medium',
            host: { criticality: 2, internetFacing: p % 2 === 0, compensatingControls: [] },
            fixAvailable: true,
          },
          DEFAULT_RISK_POLICY,
          now,
        ),
      })),
    ).flat();
    expect(writes).toHaveLength(500);
    await w.repos.findings.syncHost(host.id, writes, now);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('posts one summary for a burst of 500 findings, campaigns still created', async () => {
    const result = await w.notify();
    expect(result.findingsNotified).toBe(500);
    const campaigns = await w.db.prisma.changeRequest.count();
    expect(campaigns).toBe(PACKAGES);
    const posts = topLevel(w.fake.calls, CHANNELS.payments);
    expect(posts).toHaveLength(1);
    expect(String(posts[0].params.text)).toContain(`${PACKAGES} new fixes across ${PACKAGES} packages`);
    expect(blocksText(posts[0])).toContain('/patch status');
    expect(w.fake.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
  }, 60_000);

  const fixesFor = async (hostName: string, names: string[]) => {
    const host = await w.db.prisma.host.findUniqueOrThrow({ where: { name: hostName } });
    const now = new Date();
    const writes = names.map((name) => ({
      packageName: name,
      sourcePackage: name,
      advisoryId: 'TEST-ADV-0',
      ecosystem: 'Debian:12',
      installedVersion: '1.0-1',
      fixedVersion: '1.0-2',
      cves: ['CVE-2099-1000'],
      kev: false,
      epssScore: null,
      risk: assessRisk(
        {
          cves: [],
          urgency: 'high',
          host: { criticality: 2, internetFacing: false, compensatingControls: [] },
          fixAvailable: true,
        },
        DEFAULT_RISK_POLICY,
        now,
      ),
    }));
    await w.repos.findings.syncHost(host.id, writes, now);
  };

  it('paces posts per channel (about one per second)', async () => {
    // Three fixes for pay-2: below the burst threshold, so one message + its thread each.
    await fixesFor('pay-2', ['pace0', 'pace1', 'pace2']);
    const before = w.fake.calls.length;
    await w.notify();
    const calls = w.fake.calls.slice(before).filter((c) => c.params.channel === CHANNELS.payments);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(6);
    for (let i = 1; i < calls.length; i++) expect(calls[i].at - calls[i - 1].at).toBeGreaterThanOrEqual(900);
  }, 60_000);

  it('waits out a 429 with Retry-After and still posts', async () => {
    await fixesFor('web-1', ['limited']);
    const before = w.fake.calls.length;
    w.fake.rateLimit('chat.postMessage', 1, 1);
    await w.notify();
    const calls = w.fake.calls.slice(before).filter((c) => c.params.channel === CHANNELS.web);
    const limited = calls.findIndex((c) => c.status === 429);
    expect(limited).toBe(0);
    expect(calls[1].status).toBe(200);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1000);
    expect(topLevel(calls, CHANNELS.web)).toHaveLength(1);
    const finding = await w.db.prisma.finding.findFirstOrThrow({ where: { packageName: 'limited' } });
    expect(finding.notifiedAt).not.toBeNull();
  }, 60_000);
});
