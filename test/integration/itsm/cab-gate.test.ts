/**
 * The CAB gate (approval.itsm: required) against the stand-in ServiceNow: an approved change's
 * hand-over to the deployment scheduler is held ("Waiting for CAB approval in ServiceNow CHG…")
 * and `patchbot deploy start` is refused, until the change_request's approval reads "approved";
 * the poller then hands the change over again and its deployment is created once, even with many
 * pollers at once. A rejection in ServiceNow rejects the patchbot change with a decision and an
 * audit row. Readings without a decision back off; failed readings honour Retry-After.
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
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { createDeploymentPort } from '../../../src/usecases/deployments/chat.js';
import { scheduleDeployment } from '../../../src/usecases/deployments/service.js';
import { FakeServiceNow } from '../../fakes/servicenow.js';
import { createWorld, itsmPolicy, logger, signal, type World } from './support.js';

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

afterAll(async () => {
  await w?.close();
  await sn?.stop();
});

async function deliver(...events: PatchbotEvent[]): Promise<void> {
  for (const e of events) if (sink.accepts(e)) await sink.deliver(e, signal());
}

const deploymentsOf = (changeId: string) =>
  w.db.prisma.deployment.count({ where: { changeRequestId: changeId } });

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

  it('backs off: doubling from the initial delay up to the maximum', () => {
    expect([0, 1, 2, 3, 10].map((n) => nextPollDelay(n, 30_000, 900_000))).toEqual([
      30_000, 60_000, 120_000, 240_000, 900_000,
    ]);
  });
});
