/**
 * SlackPoster against the fake Web API: posts, edits, thread replies, ephemeral messages, PNG
 * uploads through files.getUploadURLExternal + upload + files.completeUploadExternal, per-channel
 * pacing and 429 + Retry-After.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, PatchbotError } from '../../../src/core/errors.js';
import { createSlackApp, type SlackEdge } from '../../../src/bot/slack/app.js';
import { SlackPoster } from '../../../src/bot/slack/poster.js';
import { campaignActions, cveRef, notice, type CampaignView } from '../../../src/bot/views/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { TEST_SIGNING_SECRET } from '../../support/slack-signing.js';

const logger = createLogger({ level: 'silent' });
const noHandlers = {
  onAction: () => Promise.resolve({ type: 'done' as const }),
  onViewSubmission: () => Promise.resolve({}),
  onCommand: () => Promise.resolve(),
};

let fake: FakeSlackWebApi;
let edge: SlackEdge;

beforeAll(async () => {
  fake = await FakeSlackWebApi.start();
  edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger,
    handlers: noHandlers,
  });
});
afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});
afterEach(() => fake.clearRateLimits());

function campaign(overrides: Partial<CampaignView> = {}): CampaignView {
  const state = { kind: 'pending' as const, approvals: [], required: 2 };
  return {
    type: 'campaign',
    changeId: '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21',
    changeNumber: 42,
    team: 'payments',
    environment: 'production',
    ecosystem: 'Debian:12',
    package: 'libssl3',
    sourcePackage: 'openssl',
    fixedVersion: '3.0.15-1~deb12u1',
    advisories: ['DSA-5764-1'],
    risk: { score: 87, band: 'critical', topFactors: [{ label: 'KEV', contribution: 30 }] },
    cves: [cveRef('CVE-2024-5535', 'Debian:12')],
    hosts: { count: 2, names: ['pay-db-1', 'pay-api-1'] },
    slaDue: new Date('2025-08-27T00:00:00Z'),
    rings: [{ name: 'canary', hostCount: 1 }],
    state,
    actions: campaignActions(state),
    asOf: new Date('2025-08-20T00:00:00Z'),
    ...overrides,
  };
}

describe('SlackPoster', () => {
  it('posts, edits in place, replies in the thread and whispers', async () => {
    const poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
    const ref = await poster.post({ channel: 'C05PAYMENTS1' }, campaign());
    expect(ref).toMatchObject({ platform: 'slack', channel: 'C05PAYMENTS1' });
    const stored = fake.messages.find((m) => m.ts === ref.id);
    expect(stored?.text).toContain('libssl3');
    const actions = (
      stored?.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]
    ).find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => e.action_id)).toEqual([
      'patch_request',
      'patch_approve',
      'patch_reject',
      'patch_defer',
      'patch_accept_risk',
      'patch_details',
    ]);
    expect(actions?.elements?.every((e) => e.value === '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21')).toBe(true);

    const done = { kind: 'done' as const, at: new Date('2025-08-21T00:00:00Z'), hostsPatched: 2 };
    const updated = await poster.update(ref, campaign({ state: done, actions: campaignActions(done) }));
    expect(updated.id).toBe(ref.id);
    expect(stored?.updates).toBe(1);
    expect(stored?.text).toContain('done');

    const reply = await poster.reply(ref, {
      type: 'hosts',
      title: 'Affected hosts',
      hosts: [{ name: 'pay-db-1' }],
    });
    expect(reply.threadId).toBe(ref.id);
    expect(fake.messages.find((m) => m.ts === reply.id)?.threadTs).toBe(ref.id);
    // A reply to a reply goes to the same thread root.
    const second = await poster.reply(reply, notice('info', 'Ring canary passed'));
    expect(fake.messages.find((m) => m.ts === second.id)?.threadTs).toBe(ref.id);

    await poster.postEphemeral(
      { channel: 'C05PAYMENTS1' },
      'U09OUTSIDER',
      notice('warning', 'You are not an approver'),
    );
    expect(fake.ephemerals.at(-1)).toMatchObject({
      channel: 'C05PAYMENTS1',
      user: 'U09OUTSIDER',
      text: 'You are not an approver',
    });
  });

  it('uploads a PNG into a thread the way files.uploadV2 does', async () => {
    const poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
    const ref = await poster.post({ channel: 'C05PLATFORM1' }, notice('info', 'Weekly digest'));
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    const { fileId } = await poster.uploadPng(
      { channel: 'C05PLATFORM1' },
      { filename: 'mttr.png', data: png, title: 'Time to remediate', altText: 'chart' },
      ref,
    );
    const file = fake.files.find((f) => f.id === fileId);
    expect(file?.bytes.equals(png)).toBe(true);
    expect(file).toMatchObject({
      filename: 'mttr.png',
      channel: 'C05PLATFORM1',
      threadTs: ref.id,
      title: 'Time to remediate',
    });
    expect(fake.callsTo('files.getUploadURLExternal').at(-1)?.params).toMatchObject({
      filename: 'mttr.png',
      length: String(png.length),
    });
  });

  it('retries a 429 after the Retry-After it was given, then succeeds', async () => {
    const poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
    fake.rateLimit('chat.postMessage', 1, 1);
    const before = fake.callsTo('chat.postMessage').length;
    const ref = await poster.post({ channel: 'C05SECOPS001' }, notice('info', 'after a rate limit'));
    const calls = fake.callsTo('chat.postMessage').slice(before);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(950);
    expect(fake.messages.some((m) => m.ts === ref.id)).toBe(true);
  });

  it('gives up after the configured number of 429 retries with a transient error', async () => {
    const sleeps: number[] = [];
    const poster = new SlackPoster({
      client: edge.client,
      logger,
      intervalMs: 0,
      maxRateLimitRetries: 2,
      clock: { now: () => Date.now(), sleep: (ms) => (sleeps.push(ms), Promise.resolve()) },
    });
    fake.rateLimit('chat.update', 7);
    const ref = await poster.post({ channel: 'C05SECOPS001' }, notice('info', 'x'));
    const err = await poster.update(ref, notice('info', 'y')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PatchbotError);
    expect((err as PatchbotError).transient).toBe(true);
    expect(sleeps.filter((ms) => ms === 7000)).toHaveLength(2);
  });

  it('maps Slack errors to typed errors that say what to do', async () => {
    const poster = new SlackPoster({ client: edge.client, logger, intervalMs: 0 });
    fake.failNext('chat.postMessage', 'not_in_channel');
    const err = await poster.post({ channel: 'C05PAYMENTS1' }, notice('info', 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).userMessage).toContain('/invite @patchbot');
  });

  it('paces posts to one channel about a second apart without holding up other channels', async () => {
    const poster = new SlackPoster({ client: edge.client, logger });
    const before = fake.calls.length;
    await Promise.all([
      poster.post({ channel: 'C0PACEDAAA1' }, notice('info', 'a1')),
      poster.post({ channel: 'C0PACEDAAA1' }, notice('info', 'a2')),
      poster.post({ channel: 'C0PACEDAAA1' }, notice('info', 'a3')),
      poster.post({ channel: 'C0PACEDBBB1' }, notice('info', 'b1')),
    ]);
    const calls = fake.calls.slice(before).filter((c) => c.method === 'chat.postMessage');
    const a = calls.filter((c) => c.params.channel === 'C0PACEDAAA1');
    expect(a.map((c) => c.params.text)).toEqual(['a1', 'a2', 'a3']);
    expect(a[1].at - a[0].at).toBeGreaterThanOrEqual(900);
    expect(a[2].at - a[1].at).toBeGreaterThanOrEqual(900);
    // The other channel's post did not wait behind channel A's queue.
    const order = calls.map((c) => c.params.text);
    expect(order.indexOf('b1')).toBeLessThan(order.indexOf('a3'));
  });
});
