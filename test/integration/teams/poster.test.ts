/**
 * TeamsPoster over the real CloudAdapter against the fake Bot Connector: proactive cards in the
 * mapped channel, edits in place, thread replies, 1:1 messages for ephemerals, pictures as data
 * URIs, the message size limit, and retries on 412/429 with Retry-After (a virtual clock).
 */
import { PNG } from 'pngjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, TransientError, ValidationError } from '../../../src/core/errors.js';
import type { ChatHandlers } from '../../../src/bot/handlers.js';
import { cardOf } from '../../fakes/teams-connector.js';
import {
  memoryConversations,
  OUTBOUND_TOKEN,
  PATCHING,
  PEOPLE,
  sampleCampaign,
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

let w: TeamsWorld;
let store: ReturnType<typeof memoryConversations>;

beforeAll(async () => {
  w = await startTeamsWorld({
    handlers: noHandlers,
    cardFor: () => Promise.reject(new Error('not used')),
    conversations: (serviceUrl) => (store = memoryConversations(serviceUrl)),
  });
});
afterAll(async () => {
  await w?.close();
});
beforeEach(() => {
  w.clock.sleeps.length = 0;
});

const json = (x: unknown) => JSON.stringify(x);

describe('posting', () => {
  it('posts the campaign card proactively to the channel and edits it in place', async () => {
    const ref = await w.edge.poster.post({ channel: PATCHING }, sampleCampaign());
    expect(ref).toEqual({ platform: 'teams', channel: PATCHING, id: expect.any(String) as string });
    const posted = w.connector.message(PATCHING, ref.id)!;
    expect(posted.replyToId).toBeUndefined();
    const call = w.connector.calls.find((c) => c.operation === 'send' && c.conversationId === PATCHING)!;
    expect(call.authorization).toBe(`Bearer ${OUTBOUND_TOKEN}`);
    const card = cardOf(posted.activity)!;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    expect(json(card)).toContain('libc6 (source glibc) → 2.36-9+deb12u3 · payments');
    expect(json(card)).toContain('"verb":"approve"');
    expect(posted.activity.summary).toMatch(/risk 91 \(critical\), KEV/);

    const updated = await w.edge.poster.update(
      ref,
      sampleCampaign({
        state: {
          kind: 'rejected',
          by: { platform: 'teams', id: PEOPLE.alice.aadObjectId, name: PEOPLE.alice.name },
          at: new Date(),
          reason: 'vendor sign-off pending',
        },
        actions: ['details'],
      }),
    );
    expect(updated).toEqual(ref);
    const after = w.connector.message(PATCHING, ref.id)!;
    expect(after.versions).toHaveLength(2);
    const card2 = json(cardOf(after.activity));
    expect(card2).toContain('Rejected');
    expect(card2).toContain('vendor sign-off pending');
    expect(card2).not.toContain('"verb":"approve"');
    // Alice is mentioned with her Entra object id.
    expect(card2).toContain(`"mentioned":{"id":"${PEOPLE.alice.aadObjectId}","name":"${PEOPLE.alice.name}"}`);
    expect(w.connector.calls.filter((c) => c.operation === 'update')).toHaveLength(1);
  });

  it('replies in the channel thread, and as a new message in a chat', async () => {
    const root = await w.edge.poster.post({ channel: PATCHING }, sampleCampaign());
    const reply = await w.edge.poster.reply(root, {
      type: 'hosts',
      title: 'Affected hosts',
      hosts: [{ name: 'pay-1' }],
    });
    expect(reply.threadId).toBe(root.id);
    expect(w.connector.replies(PATCHING, root.id)).toHaveLength(1);
    // A reply to a reply goes to the same thread root.
    await w.edge.poster.reply(reply, { type: 'notice', tone: 'info', text: 'second' });
    expect(w.connector.replies(PATCHING, root.id)).toHaveLength(2);

    const chatRoot = await w.edge.poster.post(
      { channel: WEB_CHAT },
      { type: 'notice', tone: 'info', text: 'hello chat' },
    );
    await w.edge.poster.reply(chatRoot, { type: 'notice', tone: 'info', text: 'in the chat' });
    expect(w.connector.posts(WEB_CHAT)).toHaveLength(2);
  });

  it('sends an "ephemeral" message as a 1:1 chat with the person', async () => {
    const before = w.connector.createdConversations.length;
    await w.edge.poster.postEphemeral({ channel: PATCHING }, PEOPLE.bob.aadObjectId, {
      type: 'notice',
      tone: 'warning',
      text: 'Only approvers of payments may approve this change.',
    });
    const created = w.connector.createdConversations.slice(before);
    expect(created).toHaveLength(1);
    expect(created[0].body).toMatchObject({
      isGroup: false,
      members: [{ id: PEOPLE.bob.aadObjectId }],
      tenantId: TENANT,
    });
    const sent = w.connector.posts(created[0].id);
    expect(sent).toHaveLength(1);
    expect(json(cardOf(sent[0].activity))).toContain('Only approvers of payments');
  });

  it('embeds a PNG as a data: URI image in a card, in the thread when given', async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    );
    const root = await w.edge.poster.post(
      { channel: PATCHING },
      { type: 'notice', tone: 'info', text: 'digest' },
    );
    const { fileId } = await w.edge.poster.uploadPng(
      { channel: PATCHING },
      { filename: 'trend.png', data: png, title: 'Coverage trend', altText: 'Coverage rose from 60% to 80%' },
      root,
    );
    const m = w.connector.message(PATCHING, fileId)!;
    expect(m.replyToId).toBe(root.id);
    const image = json(cardOf(m.activity));
    expect(image).toContain(`"url":"data:image/png;base64,${png.toString('base64')}"`);
    expect(image).toContain('Coverage rose from 60% to 80%');

    const huge = Buffer.alloc(60_000, 7);
    await expect(
      w.edge.poster.uploadPng({ channel: PATCHING }, { filename: 'big.png', data: huge }),
    ).rejects.toThrow(ValidationError);
  });

  it('scales a chart too large for one message down until it fits', async () => {
    // 960 x 480, white with a noisy band: about 100 KB as PNG, far over the message limit.
    const img = new PNG({ width: 960, height: 480 });
    let seed = 7;
    for (let y = 0; y < 480; y++)
      for (let x = 0; x < 960; x++) {
        const i = (y * 960 + x) * 4;
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const noisy = y > 200 && y < 260;
        img.data[i] = noisy ? seed % 256 : 255;
        img.data[i + 1] = noisy ? (seed >> 8) % 256 : y % 40 === 0 ? 0 : 255;
        img.data[i + 2] = 255;
        img.data[i + 3] = 255;
      }
    const png = PNG.sync.write(img);
    expect(png.length).toBeGreaterThan(40_000);
    const { fileId } = await w.edge.poster.uploadPng(
      { channel: PATCHING },
      { filename: 'trend.png', data: png, title: 'Coverage trend', altText: 'Coverage and open risk' },
    );
    const m = w.connector.message(PATCHING, fileId)!;
    expect(Buffer.byteLength(json(m.activity))).toBeLessThan(40_000);
    const url = /"url":"data:image\/png;base64,([^"]+)"/.exec(json(cardOf(m.activity)))![1];
    const shown = PNG.sync.read(Buffer.from(url, 'base64'));
    expect(shown.width).toBeLessThan(960);
    expect(shown.width).toBeGreaterThanOrEqual(320);
    expect(shown.height / shown.width).toBeCloseTo(0.5, 2);
  });

  it('keeps a huge view within the size limit, its lists ending in "…and N more"', async () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => ({
      name: `web-${String(i).padStart(5, '0')}.prod.example.internal`,
      environment: 'production',
      installedVersion: '2.36-9+deb12u2',
    }));
    const ref = await w.edge.poster.post(
      { channel: PATCHING },
      { type: 'hosts', title: 'Affected hosts', hosts },
    );
    const body = w.connector.calls.find(
      (c) => c.operation === 'send' && json(c.body).includes('Affected hosts'),
    )!.body;
    expect(Buffer.byteLength(json(body))).toBeLessThan(40_000);
    expect(json(cardOf(w.connector.message(PATCHING, ref.id)!.activity))).toMatch(/…and [\d,]+ more/);

    const cves = Array.from({ length: 3_000 }, (_, i) => ({
      id: `CVE-2024-${String(10000 + i)}`,
      url: `https://nvd.nist.gov/vuln/detail/CVE-2024-${String(10000 + i)}`,
    }));
    const big = sampleCampaign({
      cves,
      advisories: Array.from({ length: 500 }, (_, i) => `DSA-${5000 + i}-1`),
      hosts: { count: 10_000, names: hosts.map((h) => h.name) },
      summary: 'x'.repeat(50_000),
    });
    const ref2 = await w.edge.poster.post({ channel: PATCHING }, big);
    const sent = w.connector.message(PATCHING, ref2.id)!.activity;
    expect(Buffer.byteLength(json(sent))).toBeLessThan(40_000);
    const text = json(cardOf(sent));
    expect(text).toMatch(/…and [\d,]+ more/);
    expect(text).toContain('"verb":"approve"');
  });
});

describe('throttling', () => {
  it('waits the Retry-After of a 412 and tries again', async () => {
    w.connector.throttle('send', 412, 2, 7);
    const ref = await w.edge.poster.post(
      { channel: PATCHING },
      { type: 'notice', tone: 'info', text: 'after 412' },
    );
    expect(w.connector.message(PATCHING, ref.id)).toBeDefined();
    expect(w.clock.sleeps).toEqual([7000, 7000]);
    const statuses = w.connector.calls
      .filter((c) => c.operation === 'send')
      .slice(-3)
      .map((c) => c.status);
    expect(statuses).toEqual([412, 412, 201]);
  });

  it('backs off 1, 2, 4 s on a 429 without Retry-After', async () => {
    w.connector.throttle('update', 429, 3);
    const ref = await w.edge.poster.post({ channel: PATCHING }, { type: 'notice', tone: 'info', text: 'v1' });
    await w.edge.poster.update(ref, { type: 'notice', tone: 'info', text: 'v2' });
    expect(w.clock.sleeps).toEqual([1000, 2000, 4000]);
    expect(json(cardOf(w.connector.message(PATCHING, ref.id)!.activity))).toContain('v2');
  });

  it('gives up after a bounded number of attempts with a transient error', async () => {
    w.connector.throttle('send', 412, 50, 1);
    const before = w.connector.calls.length;
    await expect(
      w.edge.poster.post({ channel: PATCHING }, { type: 'notice', tone: 'info', text: 'never' }),
    ).rejects.toThrow(TransientError);
    expect(w.connector.calls.length - before).toBe(5);
    w.connector.clearThrottles();
  });

  it('does not wait longer than the limit a Retry-After asks for', async () => {
    w.connector.throttle('send', 412, 1, 3600);
    await expect(
      w.edge.poster.post({ channel: PATCHING }, { type: 'notice', tone: 'info', text: 'later' }),
    ).rejects.toThrow(/wait 3600 s/);
    expect(w.clock.sleeps).toEqual([]);
  });
});

describe('where the bot is not', () => {
  it('refuses to post where it was never installed, or was removed', async () => {
    await expect(
      w.edge.poster.post({ channel: '19:nowhere@thread.tacv2' }, { type: 'notice', tone: 'info', text: 'x' }),
    ).rejects.toThrow(NotFoundError);
    store.conversations.get(WEB_CHAT)!.removed = true;
    await expect(
      w.edge.poster.post({ channel: WEB_CHAT }, { type: 'notice', tone: 'info', text: 'x' }),
    ).rejects.toThrow(/removed from the Teams conversation/);
    store.conversations.get(WEB_CHAT)!.removed = false;
  });
});
