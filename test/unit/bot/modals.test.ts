import { describe, expect, it } from 'vitest';
import type { MessageRef } from '../../../src/bot/chat-platform.js';
import { buildModal, CALLBACK_IDS, parseSubmission } from '../../../src/bot/slack/modals.js';
import type { ModalRequest } from '../../../src/bot/views/index.js';

const CHANGE = '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21';
const message: MessageRef = {
  platform: 'slack',
  channel: 'C05PAYMENTS1',
  id: '1724150000.000100',
  threadId: '1724140000.000001',
};
const today = '2025-08-20';

type Values = Record<string, Record<string, Record<string, unknown>>>;

/** Fills the built modal's own input blocks (block_id/action_id as the modal defines them). */
function fill(
  req: ModalRequest,
  answers: Record<string, Record<string, unknown>>,
): { callbackId: string; values: Values; meta: string } {
  const modal = buildModal(req, message);
  const values: Values = {};
  for (const b of modal.blocks) {
    if (b.type !== 'input') continue;
    const input = b as { block_id: string; element: { action_id: string; type: string } };
    const answer = answers[input.block_id];
    if (answer)
      values[input.block_id] = { [input.element.action_id]: { type: input.element.type, ...answer } };
  }
  return { callbackId: modal.callback_id as string, values, meta: modal.private_metadata as string };
}

const reject: ModalRequest = { kind: 'reject', changeId: CHANGE, title: 'libssl3 → 3.0.15' };
const defer: ModalRequest = {
  kind: 'defer',
  changeId: CHANGE,
  title: 'libssl3 → 3.0.15',
  maxDate: '2025-09-30',
};
const accept: ModalRequest = {
  kind: 'accept_risk',
  changeId: CHANGE,
  title: 'libssl3',
  defaultExpiry: '2025-09-19',
  maxExpiry: '2025-11-18',
};

const request: ModalRequest = {
  kind: 'request',
  changeId: CHANGE,
  title: 'libssl3 → 3.0.15',
  emergency: true,
};

describe('the request dialog', () => {
  it('offers the emergency lane only when told, and reads the choice back', () => {
    expect(JSON.stringify(buildModal({ ...request, emergency: false }, message))).not.toContain(
      'Emergency lane',
    );
    const f = fill(request, {
      reason: { value: 'exposed' },
      emergency: { selected_options: [{ value: 'emergency' }] },
    });
    expect(parseSubmission(f.callbackId, f.values, f.meta, today)).toEqual({
      ok: true,
      submission: { kind: 'request', changeId: CHANGE, emergency: true, reason: 'exposed' },
      message,
    });
    const none = fill(request, {});
    expect(parseSubmission(none.callbackId, none.values, none.meta, today)).toMatchObject({
      ok: true,
      submission: { kind: 'request', changeId: CHANGE, emergency: false },
    });
  });

  it('ignores an emergency choice the dialog did not offer', () => {
    const f = fill({ ...request, emergency: false }, { reason: { value: 'x' } });
    const values = {
      ...f.values,
      emergency: { value: { type: 'checkboxes', selected_options: [{ value: 'emergency' }] } },
    };
    expect(parseSubmission(f.callbackId, values, f.meta, today)).toMatchObject({
      ok: true,
      submission: { emergency: false },
    });
  });
});

describe('modals', () => {
  it.each([reject, defer, accept])('%s modal respects Slack limits', (req) => {
    const m = buildModal(req, message);
    expect(m.callback_id).toBe(CALLBACK_IDS[req.kind]);
    expect(m.title.text.length).toBeLessThanOrEqual(24);
    expect(m.submit?.text.length ?? 0).toBeLessThanOrEqual(24);
    expect((m.private_metadata ?? '').length).toBeLessThanOrEqual(3000);
    expect(JSON.parse(m.private_metadata ?? '{}')).toMatchObject({
      changeId: CHANGE,
      channel: 'C05PAYMENTS1',
      ts: message.id,
    });
  });

  it('accept risk pre-selects the default expiry, capped by the policy', () => {
    const m = buildModal({ ...accept, defaultExpiry: '2026-12-01' });
    expect(JSON.stringify(m.blocks)).toContain('"initial_date":"2025-11-18"');
  });

  const cases: [string, ModalRequest, Record<string, Record<string, unknown>>, unknown][] = [
    [
      'reject with reason',
      reject,
      { reason: { value: '  breaks TLS  ' } },
      { ok: true, submission: { kind: 'reject', changeId: CHANGE, reason: 'breaks TLS' } },
    ],
    ['reject without reason', reject, {}, { ok: false, errors: { reason: expect.any(String) as string } }],
    [
      'reject with a too long reason',
      reject,
      { reason: { value: 'r'.repeat(2001) } },
      { ok: false, errors: { reason: expect.stringContaining('2000') as string } },
    ],
    [
      'defer 1 day',
      defer,
      { defer: { selected_option: { value: '1d' } } },
      { ok: true, submission: { kind: 'defer', changeId: CHANGE, defer: { kind: 'days', days: 1 } } },
    ],
    [
      'defer to a date with a reason',
      defer,
      {
        defer: { selected_option: { value: 'date' } },
        date: { selected_date: '2025-09-01' },
        reason: { value: 'vendor hotfix' },
      },
      {
        ok: true,
        submission: {
          kind: 'defer',
          changeId: CHANGE,
          defer: { kind: 'date', date: '2025-09-01' },
          reason: 'vendor hotfix',
        },
      },
    ],
    [
      'defer to today',
      defer,
      { defer: { selected_option: { value: 'date' } }, date: { selected_date: today } },
      { ok: false, errors: { date: expect.stringContaining('after today') as string } },
    ],
    [
      'defer past the limit',
      defer,
      { defer: { selected_option: { value: 'date' } }, date: { selected_date: '2025-10-01' } },
      { ok: false, errors: { date: expect.stringContaining('2025-09-30') as string } },
    ],
    ['defer without a choice', defer, {}, { ok: false, errors: { defer: expect.any(String) as string } }],
    [
      'accept risk',
      accept,
      { reason: { value: 'no ingress' }, expires: { selected_date: '2025-11-18' } },
      {
        ok: true,
        submission: { kind: 'accept_risk', changeId: CHANGE, reason: 'no ingress', expires: '2025-11-18' },
      },
    ],
    [
      'accept risk past the cap',
      accept,
      { reason: { value: 'no ingress' }, expires: { selected_date: '2025-11-19' } },
      { ok: false, errors: { expires: expect.stringContaining('2025-11-18') as string } },
    ],
    [
      'accept risk in the past',
      accept,
      { reason: { value: 'x' }, expires: { selected_date: '2025-08-01' } },
      { ok: false, errors: { expires: expect.any(String) as string } },
    ],
    [
      'accept risk without anything',
      accept,
      {},
      { ok: false, errors: { reason: expect.any(String) as string, expires: expect.any(String) as string } },
    ],
  ];

  it.each(cases)('%s', (_name, req, answers, expected) => {
    const { callbackId, values, meta } = fill(req, answers);
    const got = parseSubmission(callbackId, values, meta, today);
    expect(got).toMatchObject(expected as object);
    if (got?.ok) expect(got.message).toEqual(message);
  });

  it('treats tampered or foreign metadata as an out-of-date dialog, and ignores other callbacks', () => {
    expect(parseSubmission(CALLBACK_IDS.reject, {}, 'not json', today)).toMatchObject({ ok: false });
    expect(parseSubmission(CALLBACK_IDS.reject, {}, JSON.stringify({ changeId: '' }), today)).toMatchObject({
      ok: false,
    });
    expect(parseSubmission('someone_elses_modal', {}, '{}', today)).toBeUndefined();
  });
});
