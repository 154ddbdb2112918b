/**
 * The pure parts of outbound events: event type filters, signatures (header format, tolerance,
 * rotation), the CloudEvents envelope, which deployment progress becomes which event, retry delays,
 * the webhooks section of the policy file, and how a webhook sink reads a receiver's answer.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicyText } from '../../../src/config/policy.js';
import { Webhook } from '../../../src/config/policy-webhooks.js';
import { CloudEventSchema, toCloudEvent } from '../../../src/core/events/cloudevent.js';
import { PATCHBOT_EVENT_TYPES, type PatchbotEvent } from '../../../src/core/events/event.js';
import { eventPatternProblem, eventTypesOf } from '../../../src/core/events/patterns.js';
import { retryDelay } from '../../../src/core/events/registration.js';
import { signatureHeader, verifySignature } from '../../../src/core/events/signature.js';
import { PatchbotError } from '../../../src/core/errors.js';
import { buildEventSinks } from '../../../src/integrations/sinks.js';
import { retryAfterMs, WebhookSink } from '../../../src/integrations/webhook-sink.js';
import { eventDraftOf } from '../../../src/usecases/deployments/events.js';
import type { DeploymentProgressEvent } from '../../../src/usecases/deployments/types.js';

const event: PatchbotEvent = {
  id: '6f1c4f0e-0d7e-4b8e-9d55-1f0b0f1f2a3b',
  type: 'deployment.halted',
  time: '2026-12-07T10:00:00.000Z',
  changeId: '0b5d7f4e-1111-4a4a-8b8b-123456789abc',
  changeNumber: 42,
  teamId: null,
  teamName: 'web',
  deploymentId: 'd1',
  data: { reason: 'budget exceeded' },
};

describe('event type filters', () => {
  it.each([
    ['*', PATCHBOT_EVENT_TYPES.length],
    ['deployment.*', 6],
    ['change.*', 7],
    ['host.*', 1],
    ['change.approved', 1],
  ])('%s stands for %i types', (pattern, n) => {
    expect(eventPatternProblem(pattern)).toBeUndefined();
    expect(eventTypesOf(pattern)).toHaveLength(n);
  });
  it.each(['deployment', 'deploy.*', 'change.approve', '*.approved', 'change.**', ''])(
    '%j is refused',
    (p) => {
      expect(eventPatternProblem(p)).toMatch(/expected an event type/);
    },
  );
});

describe('signatures', () => {
  const secret = 'a-secret-of-32-characters-000000';
  const body = JSON.stringify(toCloudEvent(event));
  it('is HMAC-SHA256 of "<t>.<body>" in hex, as the documented header', () => {
    const header = signatureHeader([secret], 1_800_000_000, body);
    const hex = createHmac('sha256', secret).update(`1800000000.${body}`).digest('hex');
    expect(header).toBe(`t=1800000000,v1=${hex}`);
    expect(verifySignature(header, body, secret, 1_800_000_100)).toEqual({
      ok: true,
      timestamp: 1_800_000_000,
    });
  });
  it('refuses a changed body, another secret, old and future timestamps, garbage', () => {
    const header = signatureHeader([secret], 1_800_000_000, body);
    expect(verifySignature(header, `${body} `, secret, 1_800_000_000)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature(header, body, 'another-secret-0000000', 1_800_000_000)).toMatchObject({
      ok: false,
    });
    expect(verifySignature(header, body, secret, 1_800_000_301)).toEqual({ ok: false, reason: 'too old' });
    expect(verifySignature(header, body, secret, 1_799_999_699)).toEqual({ ok: false, reason: 'too new' });
    expect(verifySignature('v1=abc', body, secret, 1_800_000_000)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(verifySignature(undefined, body, secret, 1_800_000_000)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
  it('accepts any of several signatures (secret rotation)', () => {
    const header = signatureHeader(['old-secret-0000000000', secret], 1_800_000_000, body);
    expect(verifySignature(header, body, secret, 1_800_000_000).ok).toBe(true);
  });
});

describe('CloudEvents envelope', () => {
  it('is a structured CloudEvent 1.0 with the event under data', () => {
    const ce = toCloudEvent(event);
    expect(CloudEventSchema.parse(ce)).toEqual(ce);
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: event.id,
      source: '/patchbot',
      type: 'dev.patchbot.deployment.halted',
      subject: 'change/42',
      time: event.time,
      datacontenttype: 'application/json',
      data: {
        reason: 'budget exceeded',
        changeId: event.changeId,
        changeNumber: 42,
        teamName: 'web',
        deploymentId: 'd1',
      },
    });
  });
});

describe('deployment progress as events', () => {
  const base = {
    deploymentId: 'd',
    deploymentNumber: 3,
    changeRequestId: 'c',
    changeNumber: 9,
    at: new Date(0),
  };
  const ring = (index: number) => ({ index, name: `r${index}`, number: index + 1, of: 2 });
  it.each<[DeploymentProgressEvent, string | undefined]>([
    [
      { ...base, type: 'scheduled', emergency: false, rings: 2, hosts: 4, firstStart: null },
      'deployment.planned',
    ],
    [{ ...base, type: 'ring_started', ring: ring(0), hosts: 1 }, 'deployment.started'],
    [{ ...base, type: 'ring_started', ring: ring(1), hosts: 3 }, undefined],
    [
      { ...base, type: 'ring_passed', ring: ring(0), succeeded: 1, failed: 0, skipped: 0, soakUntil: null },
      'deployment.ring_completed',
    ],
    [
      { ...base, type: 'ring_halted', ring: ring(0), reason: 'x', failed: [], rollingBack: true },
      'deployment.halted',
    ],
    [
      { ...base, type: 'state_changed', action: 'abort', from: 'running', to: 'aborted', actor: 'ann' },
      'deployment.halted',
    ],
    [
      { ...base, type: 'state_changed', action: 'pause', from: 'running', to: 'paused', actor: 'ann' },
      undefined,
    ],
    [{ ...base, type: 'rollback_finished', ok: true, hosts: [] }, 'deployment.rolled_back'],
    [{ ...base, type: 'completed', succeeded: 4, failed: 0, skipped: 0 }, 'deployment.completed'],
    [
      { ...base, type: 'host_failed', ring: ring(0), host: 'web1', step: 'install', error: 'E: x' },
      'host.failed',
    ],
    [{ ...base, type: 'host_succeeded', ring: ring(0), host: 'web1', installed: [] }, undefined],
    [{ ...base, type: 'host_unknown', ring: ring(0), host: 'web1', reason: 'lost' }, undefined],
  ])('%#: %s', (progress, type) => {
    const draft = eventDraftOf(progress);
    expect(draft?.type).toBe(type);
    if (draft)
      expect(draft).toMatchObject({ changeId: 'c', deploymentId: 'd', data: { deploymentNumber: 3 } });
  });
});

describe('retry delays', () => {
  const retry = { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 8_000 };
  it('double up to the maximum, and wait at least as long as the receiver asked', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(retry, n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000, 8_000,
    ]);
    expect(retryDelay(retry, 1, 30_000)).toBe(30_000);
    expect(retryDelay(retry, 4, 500)).toBe(8_000);
    expect(retryDelay(retry, 1, 365 * 24 * 3600_000)).toBe(6 * 3600_000);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:00 GMT'))).toBe(
      60_000,
    );
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('the webhooks section of the policy file', () => {
  const base = {
    name: 'secops',
    url: 'https://hooks.example.com/patchbot',
    secretEnv: 'SECOPS_WEBHOOK_SECRET',
  };
  it('takes https, and http only to this machine when allowHttpLoopback says so', () => {
    expect(Webhook.parse(base)).toMatchObject({ events: ['*'], timeout: 10_000, allowHttpLoopback: false });
    expect(
      Webhook.safeParse({ ...base, url: 'http://hooks.example.com/' }).error?.issues[0]?.message,
    ).toMatch(/expected https \(plain http only to this machine, with allowHttpLoopback: true\)/);
    expect(
      Webhook.safeParse({ ...base, url: 'http://127.0.0.1:9000/', allowHttpLoopback: true }).success,
    ).toBe(true);
    expect(Webhook.safeParse({ ...base, url: 'http://[::1]:9000/', allowHttpLoopback: true }).success).toBe(
      true,
    );
    expect(Webhook.safeParse({ ...base, url: 'http://10.0.0.1/', allowHttpLoopback: true }).success).toBe(
      false,
    );
    expect(Webhook.safeParse({ ...base, url: 'ftp://example.com/' }).success).toBe(false);
    expect(Webhook.safeParse({ ...base, url: 'https://user:pw@example.com/' }).success).toBe(false);
  });
  it('names the variable of the secret, never the secret, and checks events and timeouts', () => {
    expect(Webhook.safeParse({ ...base, secretEnv: 'whsec_abc123' }).success).toBe(false);
    expect(Webhook.safeParse({ ...base, events: ['deployment.*', 'change.approved'] }).success).toBe(true);
    expect(Webhook.safeParse({ ...base, events: ['deployments.*'] }).success).toBe(false);
    expect(Webhook.safeParse({ ...base, timeout: '2m' }).success).toBe(false);
  });
  it('names unknown teams and duplicate names with their place in the file', () => {
    const text = [
      'teams:',
      '  - name: web',
      'webhooks:',
      '  - name: a',
      '    url: https://a.example.com/',
      '    secretEnv: A_SECRET',
      '    teams: [web, dba]',
      '  - name: a',
      '    url: https://b.example.com/',
      '    secretEnv: B_SECRET',
    ].join('\n');
    const messages = checkPolicyText(text).errors.map((e) => `${e.path}: ${e.message}`);
    expect(messages.some((m) => m.startsWith('webhooks[0].teams[1]:') && m.includes('dba'))).toBe(true);
    expect(messages.some((m) => m.startsWith('webhooks[1].name:') && m.includes('duplicate'))).toBe(true);
  });
  it('a worker does not start with a secret that is not set or too short', () => {
    const policy = { webhooks: [Webhook.parse(base), Webhook.parse({ ...base, name: 'b', secretEnv: 'B' })] };
    const secrets: Record<string, string> = { B: 'short' };
    expect(() =>
      buildEventSinks(policy as never, (n) => secrets[n], { logger: pino({ level: 'silent' }) }),
    ).toThrow(
      /SECOPS_WEBHOOK_SECRET \(its signing secret\) is not set[\s\S]*the secret in B has 5 characters/,
    );
  });
});

describe('a webhook sink reads the receiver’s answer', () => {
  let server: Server;
  let port = 0;
  let answer: { status: number; headers?: Record<string, string> } = { status: 204 };
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(answer.status, answer.headers ?? {}).end('why'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const sink = () =>
    new WebhookSink(
      Webhook.parse({
        name: 'x',
        url: `http://127.0.0.1:${port}/`,
        secretEnv: 'X',
        allowHttpLoopback: true,
        teams: ['web'],
      }),
      'a-secret-of-32-characters-000000',
      { logger: pino({ level: 'silent' }) },
    );
  const outcome = async (): Promise<unknown> =>
    sink()
      .deliver(event, new AbortController().signal)
      .then(
        () => 'delivered',
        (e: unknown) => (e instanceof PatchbotError ? { code: e.code, details: e.details } : String(e)),
      );

  it.each([
    [{ status: 204 }, 'delivered'],
    [{ status: 503 }, { code: 'TRANSIENT', details: { status: 503 } }],
    [
      { status: 429, headers: { 'retry-after': '7' } },
      { code: 'TRANSIENT', details: { status: 429, retryAfterMs: 7_000 } },
    ],
    [{ status: 400 }, { code: 'VALIDATION', details: { status: 400 } }],
    [
      { status: 301, headers: { location: 'https://elsewhere.example.com/' } },
      { code: 'VALIDATION', details: { status: 301 } },
    ],
  ])('%j', async (a, expected) => {
    answer = a;
    expect(await outcome()).toMatchObject(expected as object);
  });

  it('accepts events of its teams only', () => {
    expect(sink().accepts(event)).toBe(true);
    expect(sink().accepts({ ...event, teamName: 'db' })).toBe(false);
    expect(sink().accepts({ ...event, teamName: null })).toBe(false);
  });
});
