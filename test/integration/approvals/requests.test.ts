/**
 * Requesting a rollout from Slack, through the real Bolt app over signed HTTP against PostgreSQL:
 * the Request rollout button and its dialog, `/patch request <change> [--emergency] [reason]`, the
 * requester stored, their own approval refused, and the emergency lane (its invokers, its
 * conditions, its own quorum).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, testPolicy } from '../notify/seed.js';
import { expectLedgerHolds, startSlackWorld, threadLines, waitUntil, type SlackWorld } from './support.js';

const ALICE = 'U0ALICE0001';
const BOB = 'U0BOBBY0002';
const DEV = 'U0DEVELOP01'; // not an approver: may request
const ONCALL = 'U0ONCALL001'; // invoker of the emergency lane (team ops)

let w: SlackWorld;

beforeAll(async () => {
  w = await startSlackWorld(
    'approvals_requests',
    testPolicy({
      teams: [
        {
          name: 'payments',
          slack: { channels: [CHANNELS.payments] },
          approvers: { production: { slackUsers: [ALICE, BOB] } },
        },
        { name: 'web', slack: { channels: [CHANNELS.web] } },
        { name: 'ops', slack: { channels: [CHANNELS.ops] }, approvers: { '*': { slackUsers: [ONCALL] } } },
      ],
      approval: {
        default: { quorum: 1 },
        rules: [
          { name: 'production-two', match: { environments: ['production'] }, quorum: 2, expiry: '24h' },
        ],
        emergency: { enabled: true, when: [{ riskAtLeast: 40 }], invokers: ['ops'], quorum: 1 },
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const change = (id: string) => w.db.prisma.changeRequest.findUniqueOrThrow({ where: { id } });
const rows = (id: string) =>
  w.db.prisma.decision.findMany({ where: { changeRequestId: id }, orderBy: { createdAt: 'asc' } });

/** The last version of the campaign message (blocks as text). */
const message = (ts: string) => JSON.stringify(w.fake.messages.find((m) => m.ts === ts)?.blocks ?? []);

describe('Request rollout', () => {
  it('the button opens a dialog; its submission stores the requester, edits the message and says so in the thread', async () => {
    const c = await w.campaign();
    expect(message(c.ts)).toContain('patch_request');
    const before = w.fake.views.length;
    const click = w.click(DEV, 'request', c);
    await w.send([click]);
    const opened = await w.fake.waitFor(() => w.fake.views[before]);
    expect(opened.view.callback_id).toBe('patch_request_modal');
    // the lane is on and the change meets its conditions: the dialog offers it
    expect(JSON.stringify(opened.view)).toContain('Emergency lane');
    await w.send([
      w.submit(
        DEV,
        'request',
        c,
        { reason: { value: { type: 'plain_text_input', value: 'Exposed on the payment gateway' } } },
        { emergency: true },
      ),
    ]);
    await waitUntil('the request', async () => (await change(c.id)).requestedBy === DEV);
    const stored = await change(c.id);
    expect(stored).toMatchObject({
      requestedBy: DEV,
      requestedVia: 'slack',
      emergency: false,
      approvalsRequired: 2,
    });
    const [request] = await rows(c.id);
    expect(request).toMatchObject({
      kind: 'request',
      actorId: DEV,
      reason: 'Exposed on the payment gateway',
      round: 1,
    });
    await w.fake.waitFor(() => message(c.ts).includes('Rollout requested by'));
    expect(message(c.ts)).not.toContain('patch_request"');
    await w.fake.waitFor(() => threadLines(w.fake, c, /Rollout of #\d+ requested by/).length === 1);
    const audit = await w.db.prisma.auditLog.findFirstOrThrow({
      where: { subjectId: c.id, action: 'decision.request' },
    });
    expect(audit).toMatchObject({ actor: DEV, surface: 'slack' });
    expect(audit.details).toMatchObject({ requestedBy: DEV, quorum: 2, emergency: false, status: 'pending' });
    // a second request is refused
    const again = w.command(BOB, `request ${c.number}`);
    await w.send([again]);
    expect(await w.answer(again.responseId ?? '')).toContain('already requested by');
  });

  it("refuses the requester's own approval, by button and by command", async () => {
    const c = await w.campaign();
    const req = w.command(ALICE, `request ${c.number} we need this before Friday`);
    await w.send([req]);
    expect(await w.answer(req.responseId ?? '')).toContain('requested by');
    const click = w.click(ALICE, 'approve', c);
    await w.send([click]);
    expect(await w.answer(click.responseId ?? '')).toContain(
      'You requested this change, so you cannot approve it',
    );
    const cmd = w.command(ALICE, `approve ${c.number}`);
    await w.send([cmd]);
    expect(await w.answer(cmd.responseId ?? '')).toContain(
      'You requested this change, so you cannot approve it',
    );
    expect((await rows(c.id)).map((d) => d.kind)).toEqual(['request']);
    // the other approvers still approve it
    for (const u of [BOB]) {
      const ok = w.click(u, 'approve', c);
      await w.send([ok]);
    }
    await waitUntil('one approval', async () => (await rows(c.id)).length === 2);
    expect((await change(c.id)).status).toBe('pending'); // 1 of 2: Alice cannot be the second
    await expectLedgerHolds(w, c.id);
  });

  it('refuses an emergency request from someone who is not an invoker, recording nothing', async () => {
    const c = await w.campaign();
    const cmd = w.command(DEV, `request ${c.number} --emergency KEV on the gateway`);
    await w.send([cmd]);
    expect(await w.answer(cmd.responseId ?? '')).toContain(
      'You may not invoke the emergency lane for team payments (approval.emergency.invokers)',
    );
    expect(await rows(c.id)).toHaveLength(0);
    expect((await change(c.id)).requestedBy).toBeNull();
  });

  it("takes an invoker's emergency request: the lane's quorum applies and the change is marked for the lane", async () => {
    const c = await w.campaign();
    const cmd = w.command(ONCALL, `request #${c.number} --emergency actively exploited`);
    await w.send([cmd]);
    expect(await w.answer(cmd.responseId ?? '')).toContain('for the emergency lane');
    expect(await change(c.id)).toMatchObject({ requestedBy: ONCALL, emergency: true, approvalsRequired: 1 });
    const click = w.click(BOB, 'approve', c);
    await w.send([click]);
    await waitUntil('approved with one approval', async () => (await change(c.id)).status === 'approved');
    await w.fake.waitFor(() => message(c.ts).includes('Emergency'));
    await expectLedgerHolds(w, c.id);
  });

  it('refuses the emergency lane for a change that does not meet its conditions', async () => {
    const c = await w.campaign({ riskScore: 10 });
    const cmd = w.command(ONCALL, `request ${c.number} --emergency`);
    await w.send([cmd]);
    expect(await w.answer(cmd.responseId ?? '')).toMatch(
      /cannot use the emergency lane: change #\d+ does not meet the emergency lane's conditions/,
    );
    expect(await rows(c.id)).toHaveLength(0);
  });

  it('answers a malformed request with the help text', async () => {
    const cmd = w.command(DEV, 'request 12 --urgent');
    const res = await fetch(w.url, { method: 'POST', headers: cmd.headers, body: cmd.body });
    expect(await res.text()).toMatch(/Request takes only --emergency/);
  });
});

describe('request and approve by one person at once', () => {
  it('never records both: either the request or the approval is refused', async () => {
    const c = await w.campaign();
    const burst = Array.from({ length: 6 }, (_, i) =>
      i % 2 === 0 ? w.click(ALICE, 'approve', c) : w.command(ALICE, `request ${c.number}`),
    );
    await w.send(burst);
    for (const r of burst.filter((b) => b.body.includes('command=')))
      expect(await w.answer(r.responseId ?? '')).toMatch(
        /requested by|already requested|You approved this change/,
      );
    const kinds = (await rows(c.id)).map((d) => d.kind);
    expect(kinds).toHaveLength(1);
    await expectLedgerHolds(w, c.id);
  });
});
