/**
 * The CAB gate (approval.itsm: required) against the stand-in ServiceNow: an approved change's
 * hand-over to the deployment scheduler is held ("Waiting for CAB approval in ServiceNow CHG…")
 * and `patchbot deploy start` is refused, until the change_request's approval reads "approved";
 * the poller then hands the change over again and its deployment is created once, even with many
 * pollers at once. A rejection in ServiceNow rejects the patchbot change with a decision and an
 * audit row. Readings without a decision back off; failed readings honour Retry-After.
 *
 * With approval.itsm: only the CAB's approval replaces the approvals in chat: an approval in chat
 * is refused (nothing recorded), the change_request's approval is asked for when the rollout is
 * requested, and the stand-in's approval becomes the change's approval through its ledger (a
 * decision by the CAB's actor, once, with an audit row and change.approved) and deploys it once,
 * even with 12 pollers at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/env.js';
import { PatchbotError } from '../../../src/core/errors.js';
import { Jobs } from '../../../src/jobs/definitions.js';
import { createJobHandlers } from '../../../src/jobs/handlers.js';
import { createJobQueue } from '../../../src/jobs/queue.js';
import { startJobRunner } from '../../../src/jobs/worker.js';
import type { EventSink, PatchbotEvent } from '../../../src/core/events/event.js';
import {
  buildCabGate,
  buildItsmSinks,
  createCabHold,
  type CabGate,
} from '../../../src/integrations/itsm/index.js';
import { nextPollDelay } from '../../../src/integrations/itsm/servicenow/cab.js';
import { EVENT_OUTBOX_KIND, eventOrderKey } from '../../../src/db/repositories/event-outbox.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { createDeploymentPort } from '../../../src/usecases/deployments/chat.js';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { FakeServiceNow } from '../../fakes/servicenow.js';
import { createWorld, itsmPolicy, logger, signal, TEAM, type World } from './support.js';

const ENV = { SERVICENOW_USERNAME: 'patchbot.integration', SERVICENOW_PASSWORD: 'pw-cab-test' };

let w: World;
let sn: FakeServiceNow;
let sink: EventSink;
let gate: CabGate;
let approvals: Approvals;
let port: ReturnType<typeof createDeploymentPort>;

beforeAll(async () => {
  sn = new FakeServiceNow({ basic: { user: ENV.SERVICENOW_USERNAME, password: ENV.SERVICENOW_PASSWORD } });
  await sn.start();
  const policy = itsmPolicy({
    approval: { itsm: 'required' },
    itsm: {
      servicenow: {
        instanceUrl: sn.url,
        allowHttpLoopback: true,
        approvalPoll: { initial: '1s', max: '4s' },
      },
    },
  });
  w = await createWorld('itsm_cab', policy);
  const deps = w.deps();
  [sink] = buildItsmSinks(policy, ENV, deps) as [EventSink];
  // the wiring `patchbot serve` / `worker` do: the gate in the deployment services, the approval
  // use case's hooks on the poller
  const hooks = {
    release: (id: string, record: { number: string; url: string }) => approvals.cabApproved(id, record),
    rejected: (id: string, record: { number: string; url: string }) => approvals.cabRejected(id, record),
  };
  gate = buildCabGate(policy, ENV, deps, hooks) as CabGate;
  port = createDeploymentPort({ ...w.harness.deps, gate });
  approvals = createApprovals({
    repos: w.repos,
    policy,
    now: () => new Date(),
    logger,
    platforms: () => [],
    deployments: () => port,
  });
}, 120_000);

// approval.itsm: only, in its own database
let wo: World;
let sinkOnly: EventSink;
let gateOnly: CabGate;
let approvalsOnly: Approvals;
let portOnly: ReturnType<typeof createDeploymentPort>;

beforeAll(async () => {
  const policy = itsmPolicy({
    teams: [{ name: TEAM, approvers: { '*': { slackUsers: ['U0OPS00001', 'U0OPS00002'] } } }],
    approval: { itsm: 'only' },
    itsm: {
      servicenow: {
        instanceUrl: sn.url,
        allowHttpLoopback: true,
        approvalPoll: { initial: '1s', max: '4s' },
      },
    },
  });
  wo = await createWorld('itsm_cab_only', policy);
  const deps = wo.deps();
  [sinkOnly] = buildItsmSinks(policy, ENV, deps) as [EventSink];
  gateOnly = buildCabGate(policy, ENV, deps, {
    release: (id, record) => approvalsOnly.cabApproved(id, record),
    rejected: (id, record) => approvalsOnly.cabRejected(id, record),
  }) as CabGate;
  portOnly = createDeploymentPort({ ...wo.harness.deps, gate: gateOnly });
  approvalsOnly = createApprovals({
    repos: wo.repos,
    policy,
    now: () => new Date(),
    logger,
    platforms: () => [],
    deployments: () => portOnly,
  });
}, 120_000);

afterAll(async () => {
  await w?.close();
  await wo?.close();
  await sn?.stop();
});

async function deliver(...events: PatchbotEvent[]): Promise<void> {
  await deliverTo(sink, ...events);
}

async function deliverTo(to: EventSink, ...events: PatchbotEvent[]): Promise<void> {
  for (const e of events) if (to.accepts(e)) await to.deliver(e, signal());
}

const deploymentsOf = (changeId: string) =>
  w.db.prisma.deployment.count({ where: { changeRequestId: changeId } });

/** How many events of `type` the change's state changes wrote to the outbox. */
const eventsOf = (changeId: string, type: string) =>
  wo.db.prisma.outbox.count({
    where: { kind: EVENT_OUTBOX_KIND, orderKey: eventOrderKey(changeId), destination: type },
  });

/** Polls until `done` says so (the reading is due after its backoff, by PostgreSQL's clock). */
async function pollUntil(done: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error('the CAB poller did not get there in time');
    await gate.poll(signal());
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('CAB gate', () => {
  it('holds an approved change until the change_request is approved, then deploys it once', async () => {
    const c = await w.change();
    // before the record exists: held, saying why
    expect((await port.approved(c.id, { id: 'U0OPS00001', surface: 'slack' })).summary).toBe(
      'Waiting for CAB approval in ServiceNow (its change request is being created).',
    );
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    const link = await w.repos.itsmLinks.find(c.id, 'servicenow');
    expect(link?.approval).toBe('requested');
    const number = link?.number ?? '';
    expect(sn.byNumber(number)?.fields.state).toBe('-4');

    // the hand-over an approval in chat makes: held, nothing deployed
    const held = await port.approved(c.id, { id: 'U0OPS00001', surface: 'slack' });
    expect(held.summary).toBe(`Waiting for CAB approval in ServiceNow ${number}.`);
    expect(await deploymentsOf(c.id)).toBe(0);
    // `patchbot deploy start` (the deployment service with the gate) is refused too
    const gated = await scheduleDeployment(
      { ...w.harness.deps, gate: createCabHold(w.repos.itsmLinks) },
      {
        changeId: c.id,
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(gated).toBeInstanceOf(PatchbotError);
    expect((gated as PatchbotError).code).toBe('POLICY_DENIED');
    expect((gated as PatchbotError).userMessage).toContain(
      `Waiting for CAB approval in ServiceNow ${number}`,
    );
    expect(await deploymentsOf(c.id)).toBe(0);

    // readings without a decision: the change still waits, the next reading backs off
    const first = await gate.poll(signal());
    expect(first.waiting).toBeGreaterThanOrEqual(1);
    const after = await w.repos.itsmLinks.find(c.id, 'servicenow');
    expect(after?.pollAttempts).toBe(1);
    expect(after?.nextPollAt?.getTime()).toBeGreaterThan(Date.now() - 1000);
    expect(await deploymentsOf(c.id)).toBe(0);

    sn.setApproval(number, 'approved');
    // 12 pollers at once once it is due: one records the approval, one deployment
    await pollUntil(async () => {
      await Promise.all(Array.from({ length: 12 }, () => gate.poll(signal())));
      return (await w.repos.itsmLinks.find(c.id, 'servicenow'))?.approval === 'approved';
    });
    await pollUntil(async () => (await deploymentsOf(c.id)) === 1);
    expect(await deploymentsOf(c.id)).toBe(1);
    const audit = await w.repos.audit.list({
      subjectType: 'change',
      subjectId: c.id,
      action: 'itsm.cab_approved',
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.details).toMatchObject({ record: number });
    expect(await gate.holds(c.id)).toBeUndefined();
  });

  it('a rejection in ServiceNow rejects the change, with a decision and an audit row', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    const number = (await w.repos.itsmLinks.find(c.id, 'servicenow'))?.number ?? '';
    sn.setApproval(number, 'rejected');
    await pollUntil(async () => (await w.repos.changes.get(c.id)).status === 'rejected');
    const change = await w.repos.changes.get(c.id);
    expect(change.closedAt).not.toBeNull();
    expect(change.decisions.at(-1)).toMatchObject({
      kind: 'reject',
      actorId: 'servicenow:cab',
      surface: 'system',
      reason: `rejected by the CAB in ServiceNow ${number}`,
    });
    const audit = await w.repos.audit.list({
      subjectType: 'change',
      subjectId: c.id,
      action: 'decision.reject',
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.details).toMatchObject({ record: number });
    expect(await deploymentsOf(c.id)).toBe(0);
    expect((await port.approved(c.id, { id: 'x', surface: 'cli' })).summary).toContain(
      `The CAB rejected ${number}`,
    );
  });

  it('a reading that fails is retried after the Retry-After', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    sn.fail(429, {
      retryAfter: '3',
      match: (call) => call.method === 'GET' && call.path.includes('/change_request/'),
    });
    const r = await gate.poll(signal());
    expect(r.failed).toBe(1);
    const link = await w.repos.itsmLinks.find(c.id, 'servicenow');
    expect(link?.approval).toBe('requested');
    const [{ wait }] = await w.db.prisma.$queryRaw<{ wait: number }[]>`
      SELECT EXTRACT(EPOCH FROM ("nextPollAt" - "approvalCheckedAt"))::float AS wait FROM "ItsmLink" WHERE id = ${link?.id}::uuid`;
    expect(wait).toBeCloseTo(3, 0);
  });

  it('the worker job reads the approval: a change the CAB approves is deployed without anyone polling by hand', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    const number = (await w.repos.itsmLinks.find(c.id, 'servicenow'))?.number ?? '';
    // the handlers `serve` and `worker` register, and the recurring job they schedule
    const handlers = createJobHandlers({
      config: { policy: w.policy, policyPath: '/nonexistent/patchbot.yaml', env: loadEnv({}) },
      repos: w.repos,
      logger,
      notify: () => Promise.reject(new Error('not part of this test')),
      answerCommand: () => Promise.reject(new Error('not part of this test')),
      respondVia: () => () => Promise.reject(new Error('not part of this test')),
      cab: () => gate.poll(),
    });
    expect(handlers.get(Jobs.itsmCab.name)).toBeDefined();
    const queue = createJobQueue(w.harness.connection, { prefix: w.harness.prefix });
    const runner = startJobRunner({
      connection: w.harness.connection,
      handlers,
      logger,
      prefix: w.harness.prefix,
    });
    try {
      await queue.repeat('itsm-cab', Jobs.itsmCab, {}, 300);
      sn.setApproval(number, 'approved');
      const until = Date.now() + 30_000;
      while ((await deploymentsOf(c.id)) === 0) {
        if (Date.now() > until) throw new Error('the itsm.cab job did not deploy the approved change');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect((await w.repos.itsmLinks.find(c.id, 'servicenow'))?.approval).toBe('approved');
    } finally {
      await queue.queue('maintenance').removeJobScheduler('itsm-cab');
      await runner.close();
      await queue.close();
    }
  });

  it('approval.itsm: only: chat approvals are refused; the CAB approval approves and deploys the change once', async () => {
    const c = await wo.change({ status: 'pending' });
    const deployments = () => wo.db.prisma.deployment.count({ where: { changeRequestId: c.id } });
    const approvalsOf = () =>
      wo.db.prisma.decision.count({ where: { changeRequestId: c.id, kind: 'approve' } });
    // before the rollout is requested there is no change request: a chat approval is refused
    const early = await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'approve',
      actor: { id: 'U0OPS00001', surface: 'slack' },
    });
    expect(early.outcome).toBe('refused');
    expect(early.message).toBe(
      'Approvals of this change come from the CAB in ServiceNow (its change request is created when the rollout is requested) (approval.itsm: only)',
    );

    // the rollout is requested: the change_request is created and its approval asked for
    const requested = await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'request',
      actor: { id: 'U0DEV00001', surface: 'slack' },
    });
    expect(requested.outcome).toBe('recorded');
    expect(await eventsOf(c.id, 'change.requested')).toBe(1);
    await deliverTo(sinkOnly, wo.event('change.requested', c));
    const link = await wo.repos.itsmLinks.find(c.id, 'servicenow');
    expect(link?.approval).toBe('requested');
    const number = link?.number ?? '';
    expect(sn.byNumber(number)?.fields.state).toBe('-4');

    // an approver's approval in chat (button, /patch approve, patchbot changes approve all decide
    // here) is refused naming the record; nothing is recorded
    for (const surface of ['slack', 'cli'] as const) {
      const r = await approvalsOnly.decide({
        changeRef: c.id,
        kind: 'approve',
        actor: { id: 'U0OPS00001', surface },
      });
      expect(r.outcome).toBe('refused');
      expect(r.message).toBe(
        `Approvals of this change come from the CAB in ServiceNow ${number} (approval.itsm: only)`,
      );
    }
    // a deferral in chat is refused too (the CAB decides when); nothing recorded
    const deferred = await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'defer',
      actor: { id: 'U0OPS00002', surface: 'slack' },
      deferUntil: new Date(Date.now() + 86_400_000),
    });
    expect(deferred.outcome).toBe('refused');
    expect(deferred.message).toContain(`The CAB in ServiceNow ${number} decides when`);
    expect(await approvalsOf()).toBe(0);
    expect(
      await wo.repos.audit.list({ subjectType: 'change', subjectId: c.id, action: 'decision.approve' }),
    ).toHaveLength(0);
    expect((await wo.repos.changes.get(c.id)).status).toBe('pending');

    // a reading without a decision: still pending, nothing deployed
    expect((await gateOnly.poll(signal())).waiting).toBeGreaterThanOrEqual(1);
    expect(await deployments()).toBe(0);

    sn.setApproval(number, 'approved');
    const until = Date.now() + 20_000;
    while ((await wo.repos.itsmLinks.find(c.id, 'servicenow'))?.approval !== 'approved') {
      if (Date.now() > until) throw new Error('the CAB poller did not read the approval in time');
      // 12 pollers at once once the reading is due
      await Promise.all(Array.from({ length: 12 }, () => gateOnly.poll(signal())));
      await new Promise((r) => setTimeout(r, 100));
    }
    // once more at once: nothing left to read, nothing recorded twice
    await Promise.all(Array.from({ length: 12 }, () => gateOnly.poll(signal())));

    const change = await wo.repos.changes.get(c.id);
    expect(change.status).toBe('scheduled');
    expect(await deployments()).toBe(1);
    expect(await approvalsOf()).toBe(1);
    expect(change.decisions.filter((d) => d.kind === 'approve')).toMatchObject([
      { actorId: 'servicenow:cab', actorDisplay: `ServiceNow CAB (${number})`, surface: 'system' },
    ]);
    const audit = await wo.repos.audit.list({
      subjectType: 'change',
      subjectId: c.id,
      action: 'decision.approve',
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'servicenow:cab', surface: 'system' });
    expect(
      await wo.repos.audit.list({ subjectType: 'change', subjectId: c.id, action: 'itsm.cab_approved' }),
    ).toHaveLength(1);
    expect(await eventsOf(c.id, 'change.approved')).toBe(1);
    // the record says who approved
    await deliverTo(sinkOnly, wo.event('change.approved', c));
    expect(sn.byNumber(number)?.journal.map((j) => j.value)).toEqual(
      expect.arrayContaining([
        `Rollout requested in chat; awaiting CAB approval (patchbot #${c.number}).`,
        `Approved by the CAB (patchbot #${c.number}).`,
      ]),
    );
  });

  it('approval.itsm: only: the same CAB approval arriving 12 times at once is recorded once', async () => {
    const c = await wo.change({ status: 'pending' });
    await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'request',
      actor: { id: 'U0DEV00001', surface: 'slack' },
    });
    await deliverTo(sinkOnly, wo.event('change.requested', c));
    const link = await wo.repos.itsmLinks.find(c.id, 'servicenow');
    const record = { number: link?.number ?? '', url: link?.url ?? '' };
    // the reading recorded (the gate then lets the change through), and the hand-over arriving
    // 12 times at once, as from a reading taken back and made again by several workers: the
    // ledger decides
    expect(await wo.repos.itsmLinks.recordApproval(link?.id ?? '', { approval: 'approved' })).toBe(true);
    await Promise.all(Array.from({ length: 12 }, () => approvalsOnly.cabApproved(c.id, record)));
    expect(await wo.db.prisma.decision.count({ where: { changeRequestId: c.id, kind: 'approve' } })).toBe(1);
    expect(await wo.db.prisma.deployment.count({ where: { changeRequestId: c.id } })).toBe(1);
    expect(await eventsOf(c.id, 'change.approved')).toBe(1);
    expect((await wo.repos.changes.get(c.id)).status).toBe('scheduled');
  });

  it('approval.itsm: only: a rejection in chat still rejects the change, and stops the readings', async () => {
    const c = await wo.change({ status: 'pending' });
    await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'request',
      actor: { id: 'U0DEV00001', surface: 'slack' },
    });
    await deliverTo(sinkOnly, wo.event('change.requested', c));
    const number = (await wo.repos.itsmLinks.find(c.id, 'servicenow'))?.number ?? '';
    const r = await approvalsOnly.decide({
      changeRef: c.id,
      kind: 'reject',
      actor: { id: 'U0OPS00002', surface: 'slack' },
      reason: 'the maintenance window moved',
    });
    expect(r.outcome).toBe('recorded');
    expect((await wo.repos.changes.get(c.id)).status).toBe('rejected');
    // an approval in ServiceNow afterwards deploys nothing: the change is closed
    sn.setApproval(number, 'approved');
    await gateOnly.poll(signal());
    expect((await wo.repos.changes.get(c.id)).status).toBe('rejected');
    expect(await wo.db.prisma.deployment.count({ where: { changeRequestId: c.id } })).toBe(0);
  });

  it('backs off: doubling from the initial delay up to the maximum', () => {
    expect([0, 1, 2, 3, 10].map((n) => nextPollDelay(n, 30_000, 900_000))).toEqual([
      30_000, 60_000, 120_000, 240_000, 900_000,
    ]);
  });
});
