/**
 * ServiceNow change records end to end against the stand-in Table API: an approved change gets a
 * change_request that follows its deployment to Closed (successful; unsuccessful with an incident
 * caused by it), redelivered events change nothing twice, a retried delivery after a lost link row
 * adopts the record instead of creating another, 429/500 are TRANSIENT with the Retry-After, OAuth
 * client credentials work, and secrets never reach the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchbotError } from '../../../src/core/errors.js';
import type { EventSink, PatchbotEvent } from '../../../src/core/events/event.js';
import { buildItsmSinks } from '../../../src/integrations/itsm/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeServiceNow } from '../../fakes/servicenow.js';
import { createWorld, HOSTS, itsmPolicy, signal, type World } from './support.js';

const ENV = { SERVICENOW_USERNAME: 'patchbot.integration', SERVICENOW_PASSWORD: 'pw-s3cr3t-value' };

let w: World;
let sn: FakeServiceNow;
let sink: EventSink;

beforeAll(async () => {
  sn = new FakeServiceNow({
    basic: { user: ENV.SERVICENOW_USERNAME, password: ENV.SERVICENOW_PASSWORD },
    cis: ['web-1', 'web-2'],
  });
  await sn.start();
  const policy = itsmPolicy({
    itsm: {
      servicenow: {
        instanceUrl: sn.url,
        allowHttpLoopback: true,
        assignmentGroup: 'Linux Ops',
        timeout: '5s',
      },
    },
  });
  w = await createWorld('itsm_sn', policy);
  const sinks = buildItsmSinks(policy, ENV, w.deps());
  expect(sinks.map((s) => s.name)).toEqual(['servicenow']);
  sink = sinks[0];
}, 120_000);

afterAll(async () => {
  await w?.close();
  await sn?.stop();
});

async function deliver(...events: PatchbotEvent[]): Promise<void> {
  for (const e of events) if (sink.accepts(e)) await sink.deliver(e, signal());
}

describe('ServiceNow change_request', () => {
  it('follows an approved change from request to Closed successful', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c, undefined, { actor: 'U0DEV00001' }));
    const link = await w.repos.itsmLinks.find(c.id, 'servicenow');
    expect(link?.number).toMatch(/^CHG\d{7}$/);
    const rec = sn.byNumber(link?.number ?? '');
    expect(rec?.fields).toMatchObject({
      type: 'normal',
      state: '-5',
      risk: '2',
      category: 'Software',
      assignment_group: 'Linux Ops',
      correlation_id: `patchbot:change:${c.id}`,
    });
    // the CI of the first host that has one, every host named in the description, the thread linked
    const ciWeb1 = sn.table('cmdb_ci').find((r) => r.fields.name === 'web-1')?.fields.sys_id;
    expect(rec?.fields.cmdb_ci).toBe(ciWeb1);
    for (const h of HOSTS) expect(rec?.fields.description).toContain(h);
    expect(rec?.fields.description).toContain(
      'https://fake.slack.test/archives/C0PAYMENTS/p1765000000000100',
    );
    expect(rec?.fields.short_description).toContain(`patchbot #${c.number}: openssl`);
    expect(rec?.fields.backout_plan).toContain('cannot undo');
    expect(rec?.fields.test_plan).toContain('canary');
    expect(rec?.fields.test_plan).toContain('nginx');
    expect(link?.url).toBe(
      `${sn.url}/nav_to.do?uri=${encodeURIComponent(`change_request.do?sys_id=${rec?.fields.sys_id}`)}`,
    );

    await deliver(w.event('change.approved', c, undefined, { actor: 'U0OPS00001' }));
    expect(rec?.fields.state).toBe('-4');

    const d = await w.deploy(c.id);
    await deliver(w.event('deployment.planned', c, d.id));
    expect(rec?.fields.state).toBe('-2');
    expect(rec?.fields.start_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(rec?.fields.end_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(rec?.fields.implementation_plan).toContain(`Deployment #${d.number}`);
    expect(rec?.fields.implementation_plan).toMatch(/1\. canary: web-1/);

    await deliver(w.event('deployment.started', c, d.id));
    expect(rec?.fields.state).toBe('-1');
    await w.finish(d.id, 'succeeded');
    await deliver(
      w.event('deployment.ring_completed', c, d.id, { ring: 'canary' }),
      w.event('deployment.ring_completed', c, d.id, { ring: 'broad' }),
      w.event('deployment.completed', c, d.id),
    );
    expect(rec?.fields).toMatchObject({ state: '3', close_code: 'successful' });
    expect(rec?.fields.close_notes).toContain('3 succeeded, 0 failed');
    expect(rec?.journal.map((j) => j.value)).toEqual(
      expect.arrayContaining([expect.stringContaining('Ring canary passed: 1 succeeded')]),
    );
    // Review came before Closed
    const states = sn.calls
      .filter((call) => call.method === 'PATCH' && call.path.endsWith(rec?.fields.sys_id ?? '-'))
      .map((call) => (call.body as { state?: string }).state)
      .filter((s) => s !== undefined);
    expect(states.slice(-2)).toEqual(['0', '3']);
    expect(sn.table('incident')).toHaveLength(0);
  });

  it('a failed ring opens an incident caused by the change and closes it unsuccessful', async () => {
    const c = await w.change({ emergency: true, riskScore: null });
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    const link = await w.repos.itsmLinks.find(c.id, 'servicenow');
    const rec = sn.byNumber(link?.number ?? '');
    // emergency lane; an unknown risk is high, never low
    expect(rec?.fields).toMatchObject({ type: 'emergency', risk: '2' });
    const d = await w.deploy(c.id);
    await deliver(w.event('deployment.planned', c, d.id), w.event('deployment.started', c, d.id));
    await w.finish(d.id, { failed: 'web-2' });
    const halted = w.event('deployment.halted', c, d.id, { reason: 'ring broad over its failure budget' });
    await deliver(
      w.event('host.failed', c, d.id, { host: 'web-2', ring: 'broad', error: 'E: dpkg was interrupted' }),
      halted,
    );
    const incidents = sn.table('incident');
    expect(incidents).toHaveLength(1);
    const inc = incidents[0];
    expect(inc?.fields).toMatchObject({
      caused_by: rec?.fields.sys_id,
      rfc: rec?.fields.sys_id,
      urgency: '1',
      cmdb_ci: sn.table('cmdb_ci').find((r) => r.fields.name === 'web-2')?.fields.sys_id,
      correlation_id: `patchbot:deployment:${d.id}`,
    });
    expect(inc?.fields.description).toContain('web-2: E: dpkg was interrupted');
    const incidentLink = await w.repos.itsmLinks.find(c.id, 'servicenow', 'incident', d.id);
    expect(incidentLink?.number).toBe(inc?.fields.number);
    // the same event again: no second incident
    await sink.deliver(halted, signal());
    expect(sn.table('incident')).toHaveLength(1);

    await deliver(w.event('deployment.rolled_back', c, d.id));
    expect(rec?.fields).toMatchObject({ state: '3', close_code: 'unsuccessful' });
    expect(rec?.fields.close_notes).toContain(`Incidents: ${inc?.fields.number}`);
  });

  it('redelivery of the same event is idempotent; a lost link row is found again by correlation_id', async () => {
    const c = await w.change();
    const requested = w.event('change.requested', c);
    await sink.deliver(requested, signal());
    await sink.deliver(requested, signal());
    const mine = () =>
      sn.table('change_request').filter((r) => r.fields.correlation_id === `patchbot:change:${c.id}`);
    expect(mine()).toHaveLength(1);
    const creates = sn.calls.filter(
      (call) => call.method === 'POST' && call.path.endsWith('/change_request'),
    ).length;
    // a worker died after creating the record, before storing the link: the next attempt adopts it
    await w.db.prisma.itsmLink.deleteMany({ where: { changeRequestId: c.id } });
    await w.db.prisma.itsmDelivery.deleteMany({ where: { eventId: requested.id } });
    await sink.deliver(requested, signal());
    expect(mine()).toHaveLength(1);
    expect(
      sn.calls.filter((call) => call.method === 'POST' && call.path.endsWith('/change_request')).length,
    ).toBe(creates);
    expect((await w.repos.itsmLinks.find(c.id, 'servicenow'))?.number).toBe(mine()[0]?.fields.number);
  });

  it('429 and 500 are TRANSIENT with the Retry-After; the retry then succeeds', async () => {
    const c = await w.change();
    const e = w.event('change.requested', c);
    sn.fail(429, { retryAfter: '7' });
    const limited = await sink.deliver(e, signal()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(limited).toBeInstanceOf(PatchbotError);
    expect((limited as PatchbotError).code).toBe('TRANSIENT');
    expect((limited as PatchbotError).details.retryAfterMs).toBe(7000);
    expect((limited as PatchbotError).userMessage).toContain('HTTP 429');

    sn.fail(500, { match: (call) => call.method === 'POST' });
    const failed = await sink.deliver(e, signal()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((failed as PatchbotError).code).toBe('TRANSIENT');
    expect((failed as PatchbotError).details.status).toBe(500);
    expect(await w.repos.itsmLinks.find(c.id, 'servicenow')).toBeUndefined();

    await sink.deliver(e, signal());
    expect(await w.repos.itsmLinks.find(c.id, 'servicenow')).toBeDefined();
  });

  it('a refused login is a permanent error naming the far side; no secret reaches the log', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
    const policy = itsmPolicy({ itsm: { servicenow: { instanceUrl: sn.url, allowHttpLoopback: true } } });
    const [bad] = buildItsmSinks(
      policy,
      { SERVICENOW_USERNAME: 'someone', SERVICENOW_PASSWORD: 'wrong-pass-9f8e7d' },
      w.deps({ logger: log }),
    );
    const c = await w.change();
    const err = await bad?.deliver(w.event('change.requested', c), signal()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as PatchbotError).code).toBe('POLICY_DENIED');
    expect((err as PatchbotError).userMessage).toContain(
      'ServiceNow GET /api/now/table/change_request: HTTP 401 (User Not Authenticated',
    );
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    expect(all).not.toContain('wrong-pass-9f8e7d');
    expect(all).not.toContain(Buffer.from('someone:wrong-pass-9f8e7d').toString('base64'));
  });

  it('OAuth client credentials: a token from /oauth_token.do, sent as a bearer token', async () => {
    const oauth = new FakeServiceNow({ oauth: { clientId: 'cid-1', clientSecret: 'csecret-1' } });
    await oauth.start();
    try {
      const policy = itsmPolicy({
        itsm: { servicenow: { instanceUrl: oauth.url, allowHttpLoopback: true, auth: { kind: 'oauth' } } },
      });
      const [s] = buildItsmSinks(
        policy,
        { SERVICENOW_CLIENT_ID: 'cid-1', SERVICENOW_CLIENT_SECRET: 'csecret-1' },
        w.deps(),
      );
      const c = await w.change();
      await s?.deliver(w.event('change.requested', c), signal());
      await s?.deliver(w.event('change.approved', c), signal());
      expect(oauth.table('change_request')).toHaveLength(1);
      expect(oauth.calls.filter((call) => call.path === '/oauth_token.do')).toHaveLength(1);
      expect(
        oauth.calls
          .filter((call) => call.path.startsWith('/api/'))
          .every((call) => call.authorization?.startsWith('Bearer ')),
      ).toBe(true);
    } finally {
      await oauth.stop();
    }
  });

  it('refuses plain http to anything but loopback, and a missing credential names its variable', () => {
    const remote = itsmPolicy({
      itsm: { servicenow: { instanceUrl: 'http://sn.example.com', allowHttpLoopback: true } },
    });
    expect(() => buildItsmSinks(remote, ENV, w.deps())).toThrow(/not https/);
    const local = itsmPolicy({ itsm: { servicenow: { instanceUrl: sn.url } } });
    expect(() => buildItsmSinks(local, ENV, w.deps())).toThrow(/not https/);
    const ok = itsmPolicy({ itsm: { servicenow: { instanceUrl: 'https://example.service-now.com' } } });
    expect(() => buildItsmSinks(ok, {}, w.deps())).toThrow(/SERVICENOW_USERNAME is not set/);
  });
});
