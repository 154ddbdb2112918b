/**
 * Concurrent decisions through the real endpoint: bursts of 8-20 signed Slack clicks and dialog
 * submissions, built first and released at once at the real Bolt app over HTTP, decided by the
 * real approval use case against real PostgreSQL. After each burst the ledger is read back and its
 * invariants checked (support.ts expectLedgerHolds): each person counted once, the change approved
 * exactly when its quorum is met (never pending with its quorum met), nothing decided after a
 * reject; and every click was answered: a decision in the thread or a refusal to the person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, testPolicy } from '../notify/seed.js';
import {
  expectLedgerHolds,
  startSlackWorld,
  threadLines,
  waitUntil,
  type Campaign,
  type Prepared,
  type SlackWorld,
} from './support.js';

const APPROVERS = ['U0APPR0001', 'U0APPR0002', 'U0APPR0003', 'U0APPR0004', 'U0APPR0005', 'U0APPR0006'];
const SRE = 'S0SREGROUP1';
const SRE_MEMBERS = ['U0SRE00001', 'U0SRE00002'];
const OUTSIDER = 'U0OUTSIDE01';
const groupsOf = (id: string) => (SRE_MEMBERS.includes(id) ? [SRE] : []);

let w: SlackWorld;

beforeAll(async () => {
  w = await startSlackWorld(
    'approvals_race',
    testPolicy({
      teams: [
        {
          name: 'payments',
          slack: { channels: [CHANNELS.payments] },
          approvers: { production: { slackUsers: APPROVERS, slackUserGroups: [SRE] } },
        },
        { name: 'web', slack: { channels: [CHANNELS.web] } },
        { name: 'ops', slack: { channels: [CHANNELS.ops] } },
      ],
      approval: {
        default: { quorum: 1 },
        rules: [
          { name: 'production-three', match: { environments: ['production'] }, quorum: 3, expiry: '24h' },
        ],
      },
    }),
    { usergroups: { [SRE]: SRE_MEMBERS } },
  );
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const approvalRows = (changeId: string) =>
  w.db.prisma.decision.findMany({ where: { changeRequestId: changeId, kind: 'approve' } });

/**
 * Waits until every click of the burst was answered: a refusal to its response_url, or an
 * approval recorded (in the ledger, and said in the thread). Returns the refusals' texts.
 */
async function answered(burst: readonly Prepared[], c: Campaign, recordedBefore = 0): Promise<string[]> {
  const ids = new Set(burst.map((r) => r.responseId));
  return waitUntil('every click to be answered', async () => {
    const refusals = w.fake.responses.filter((r) => ids.has(r.id)).map((r) => JSON.stringify(r.body));
    const recorded = (await approvalRows(c.id)).length - recordedBefore;
    const said = threadLines(w.fake, c, /approved by/).length - recordedBefore;
    return refusals.length + recorded >= burst.length && said >= recorded ? refusals : undefined;
  });
}

/** Deterministic interleaving: element i goes to position (i * step) mod n. */
function interleave<T>(items: readonly T[], step = 7): T[] {
  const n = items.length;
  const out = new Array<T>(n);
  let pos = 0;
  for (const item of items) {
    while (out[pos] !== undefined) pos = (pos + 1) % n;
    out[pos] = item;
    pos = (pos + step) % n;
  }
  return out;
}

describe('a burst of clicks on one change', () => {
  it('12 identical Approve clicks by one approver record one approval', async () => {
    const c = await w.campaign();
    const burst = Array.from({ length: 12 }, () => w.click(APPROVERS[0], 'approve', c));
    await w.send(burst);
    const refusals = await answered(burst, c);
    expect(refusals).toHaveLength(11);
    for (const r of refusals) expect(r).toContain('You already approved this change');
    expect((await approvalRows(c.id)).map((d) => d.actorId)).toEqual([APPROVERS[0]]);
    expect(threadLines(w.fake, c, /approved by/)).toHaveLength(1);
    const change = await w.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('pending');
    await expectLedgerHolds(w, c.id, groupsOf);
  });

  it('20 clicks by ten people (two each; group members, an outsider) record exactly the quorum and approve once', async () => {
    const c = await w.campaign();
    const people = [...APPROVERS, ...SRE_MEMBERS, OUTSIDER, APPROVERS[0]].slice(0, 9);
    const burst = [...people, 'U0LATECOME1'].flatMap((u) => [
      w.click(u, 'approve', c),
      w.click(u, 'approve', c),
    ]);
    expect(burst).toHaveLength(20);
    await w.send(burst);
    const refusals = await answered(burst, c);
    expect(refusals).toHaveLength(burst.length - 3);
    for (const r of refusals)
      expect(r).toMatch(
        /You already approved this change|already has the approvals it needs \(3 of 3\)|not an approver for team payments/,
      );
    const recorded = await approvalRows(c.id);
    expect(recorded).toHaveLength(3);
    expect(new Set(recorded.map((d) => d.actorId)).size).toBe(3);
    expect(recorded.map((d) => d.actorId)).not.toContain(OUTSIDER);
    const change = await w.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    expect(change.status).toBe('approved');
    expect(change.approvedAt).not.toBeNull();
    // handed over once
    await w.fake.waitFor(() => threadLines(w.fake, c, /approved and waits for a deployment/).length > 0);
    expect(threadLines(w.fake, c, /approved and waits for a deployment/)).toHaveLength(1);
    await expectLedgerHolds(w, c.id, groupsOf);
  });

  it('the click that meets the quorum is one of eight at once: one more approval, then approved', async () => {
    const c = await w.campaign();
    for (const [i, u] of APPROVERS.slice(0, 2).entries()) {
      const one = [w.click(u, 'approve', c)];
      await w.send(one);
      await answered(one, c, i);
    }
    expect(await approvalRows(c.id)).toHaveLength(2);
    const burst = [...APPROVERS.slice(2), ...SRE_MEMBERS, ...APPROVERS.slice(0, 2)].map((u) =>
      w.click(u, 'approve', c),
    );
    expect(burst).toHaveLength(8);
    await w.send(burst);
    const refusals = await answered(burst, c, 2);
    expect(refusals).toHaveLength(7);
    expect(await approvalRows(c.id)).toHaveLength(3);
    expect((await w.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } })).status).toBe(
      'approved',
    );
    await expectLedgerHolds(w, c.id, groupsOf);
  });

  it('approvals, rejections and deferrals at once: one outcome, nothing decided after a reject', async () => {
    const c = await w.campaign();
    const clicks = APPROVERS.flatMap((u) => [w.click(u, 'approve', c), w.click(u, 'approve', c)]);
    const reject = (u: string) =>
      w.submit(u, 'reject', c, {
        reason: { value: { type: 'plain_text_input', value: `rejected by ${u} in a race` } },
      });
    const defer = (u: string) =>
      w.submit(u, 'defer', c, {
        defer: { value: { type: 'radio_buttons', selected_option: { value: '1w' } } },
      });
    const dialogs = [
      reject(SRE_MEMBERS[0]),
      reject(SRE_MEMBERS[0]),
      reject(SRE_MEMBERS[1]),
      defer(APPROVERS[5]),
      defer(SRE_MEMBERS[1]),
    ];
    const ephemeralsBefore = w.fake.ephemerals.length;
    const burst = interleave([...clicks, ...dialogs]);
    expect(burst).toHaveLength(17);
    await w.send(burst);
    // every dialog is answered to its person (ephemeral); every click with a decision or a refusal
    await w.fake.waitFor(() => w.fake.ephemerals.length - ephemeralsBefore >= dialogs.length, 30_000);
    await answered(clicks, c);
    const change = await w.db.prisma.changeRequest.findUniqueOrThrow({ where: { id: c.id } });
    const rows = await w.db.prisma.decision.findMany({ where: { changeRequestId: c.id } });
    expect(rows.filter((d) => d.kind === 'reject').length).toBeLessThanOrEqual(1);
    if (rows.some((d) => d.kind === 'reject')) expect(change.status).toBe('rejected');
    expect(w.fake.ephemerals.length - ephemeralsBefore).toBe(dialogs.length);
    await expectLedgerHolds(w, c.id, groupsOf);
  });
});
