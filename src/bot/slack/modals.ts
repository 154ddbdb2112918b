/**
 * The decision dialogs as Slack modals, and their submissions read back into validated
 * `ModalSubmission`s. The change id, the originating message and the limits travel in
 * `private_metadata` (signed by Slack on the way back, still validated here).
 */
import { z } from 'zod';
import type { types } from '@slack/bolt';
import type { MessageRef } from '../chat-platform.js';
import type { ModalRequest, ModalSubmission } from '../views/index.js';
import { clip, esc, LIMITS, section } from './blocks.js';

export const CALLBACK_IDS = {
  request: 'patch_request_modal',
  reject: 'patch_reject_modal',
  defer: 'patch_defer_modal',
  accept_risk: 'patch_accept_risk_modal',
} as const satisfies Record<ModalRequest['kind'], string>;

export const MAX_REASON_LENGTH = 2000;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** What a modal carries between opening and submission. */
export const ModalMetadata = z.object({
  changeId: z.string().min(1).max(100),
  channel: z.string().max(40).optional(),
  ts: z.string().max(40).optional(),
  threadTs: z.string().max(40).optional(),
  maxDate: z.string().regex(DAY).optional(),
  /** request: the emergency lane was offered. */
  emergency: z.boolean().optional(),
});
export type ModalMetadata = z.infer<typeof ModalMetadata>;

function metadata(req: ModalRequest, message?: MessageRef): string {
  const m: ModalMetadata = { changeId: req.changeId };
  if (message) {
    m.channel = message.channel;
    m.ts = message.id;
    if (message.threadId !== undefined) m.threadTs = message.threadId;
  }
  if (req.kind === 'accept_risk') m.maxDate = req.maxExpiry;
  if (req.kind === 'defer' && req.maxDate !== undefined) m.maxDate = req.maxDate;
  if (req.kind === 'request' && req.emergency) m.emergency = true;
  const s = JSON.stringify(m);
  if (s.length > LIMITS.privateMetadata) throw new RangeError('modal metadata exceeds 3,000 characters');
  return s;
}

const plain = (text: string, max: number = LIMITS.modalTitle) => ({
  type: 'plain_text' as const,
  text: clip(text, max),
  emoji: true,
});

function reasonInput(label: string, optional: boolean, placeholder: string): types.InputBlock {
  return {
    type: 'input',
    block_id: 'reason',
    optional,
    label: plain(label, 2000),
    element: {
      type: 'plain_text_input',
      action_id: 'value',
      multiline: true,
      max_length: MAX_REASON_LENGTH,
      placeholder: plain(placeholder, 150),
    },
  };
}

/** The Slack modal for a dialog request, opened from the campaign message `message`. */
export function buildModal(req: ModalRequest, message?: MessageRef): types.ModalView {
  const base = {
    type: 'modal' as const,
    callback_id: CALLBACK_IDS[req.kind],
    private_metadata: metadata(req, message),
    close: plain('Cancel'),
  };
  const intro = section(`*${esc(clip(req.title, 2000))}*`);
  switch (req.kind) {
    case 'request':
      return {
        ...base,
        title: plain('Request rollout'),
        submit: plain('Request'),
        blocks: [
          intro,
          section(
            'Asks the approvers to approve this rollout. As its requester you cannot approve it yourself.',
          ),
          reasonInput('Why now? (optional)', true, 'e.g. KEV-listed and exposed on the payment gateway'),
          ...(req.emergency
            ? [
                {
                  type: 'input',
                  block_id: 'emergency',
                  optional: true,
                  label: plain('Lane', 2000),
                  hint: plain(
                    "The emergency lane skips the maintenance windows the policy says it may, and needs the lane's own approvals. Only its invokers may ask for it.",
                    2000,
                  ),
                  element: {
                    type: 'checkboxes',
                    action_id: 'value',
                    options: [{ text: plain('Emergency lane', 75), value: 'emergency' }],
                  },
                } satisfies types.InputBlock,
              ]
            : []),
        ],
      };
    case 'reject':
      return {
        ...base,
        title: plain('Reject change'),
        submit: plain('Reject'),
        blocks: [
          intro,
          reasonInput(
            'Why reject it?',
            false,
            'e.g. breaks the payment API; we pin 3.0.13 until vendor sign-off',
          ),
        ],
      };
    case 'defer': {
      const date: types.Datepicker = {
        type: 'datepicker',
        action_id: 'value',
        placeholder: plain('Pick a date', 150),
      };
      return {
        ...base,
        title: plain('Defer change'),
        submit: plain('Defer'),
        blocks: [
          intro,
          {
            type: 'input',
            block_id: 'defer',
            label: plain('Defer for', 2000),
            element: {
              type: 'radio_buttons',
              action_id: 'value',
              initial_option: { text: plain('1 day', 75), value: '1d' },
              options: [
                { text: plain('1 day', 75), value: '1d' },
                { text: plain('1 week', 75), value: '1w' },
                { text: plain('Until a date…', 75), value: 'date' },
              ],
            },
          },
          {
            type: 'input',
            block_id: 'date',
            optional: true,
            label: plain('Date (with "Until a date…")', 2000),
            element: date,
            ...(req.maxDate ? { hint: plain(`At the latest ${req.maxDate}`, 2000) } : {}),
          },
          reasonInput('Reason (optional)', true, 'e.g. waiting for the vendor hotfix'),
        ],
      };
    }
    case 'accept_risk':
      return {
        ...base,
        title: plain('Accept risk'),
        submit: plain('Accept risk'),
        blocks: [
          intro,
          reasonInput(
            'Why is the risk acceptable?',
            false,
            'e.g. the service is not reachable from outside; WAF rule 942100 blocks the exploit',
          ),
          {
            type: 'input',
            block_id: 'expires',
            label: plain('Accepted until', 2000),
            hint: plain(
              `At the latest ${req.maxExpiry} (policy limit). Findings come back after this date.`,
              2000,
            ),
            element: {
              type: 'datepicker',
              action_id: 'value',
              initial_date: req.defaultExpiry <= req.maxExpiry ? req.defaultExpiry : req.maxExpiry,
              placeholder: plain('Pick a date', 150),
            },
          },
        ],
      };
  }
}

/** `view.state.values` as Slack sends it: block_id -> action_id -> element state. */
const ElementState = z.object({
  type: z.string(),
  value: z.string().nullish(),
  selected_date: z.string().nullish(),
  selected_option: z.object({ value: z.string() }).nullish(),
  selected_options: z.array(z.object({ value: z.string() })).nullish(),
});
export const ViewStateValues = z.record(z.string(), z.record(z.string(), ElementState));
export type ViewStateValues = z.infer<typeof ViewStateValues>;

export type ParsedSubmission =
  | { ok: true; submission: ModalSubmission; message?: MessageRef }
  | { ok: false; errors: Record<string, string> };

/**
 * Reads and validates a submitted modal. `today` (YYYY-MM-DD) bounds the dates: a deferral or an
 * acceptance must end in the future, and not after the limit carried in the metadata.
 */
export function parseSubmission(
  callbackId: string,
  rawValues: unknown,
  privateMetadata: string,
  today: string,
): ParsedSubmission | undefined {
  const kind = (Object.keys(CALLBACK_IDS) as (keyof typeof CALLBACK_IDS)[]).find(
    (k) => CALLBACK_IDS[k] === callbackId,
  );
  if (kind === undefined) return undefined;
  let meta: ModalMetadata;
  let values: ViewStateValues;
  try {
    meta = ModalMetadata.parse(JSON.parse(privateMetadata));
    values = ViewStateValues.parse(rawValues);
  } catch {
    return {
      ok: false,
      errors: { reason: 'This dialog is out of date; close it and click the button again.' },
    };
  }
  const message: MessageRef | undefined =
    meta.channel !== undefined && meta.ts !== undefined
      ? {
          platform: 'slack',
          channel: meta.channel,
          id: meta.ts,
          ...(meta.threadTs ? { threadId: meta.threadTs } : {}),
        }
      : undefined;
  const get = (block: string) => values[block]?.value;
  const reason = (get('reason')?.value ?? '').trim();
  const errors: Record<string, string> = {};
  const checkDate = (block: string, date: string | null | undefined, what: string): string | undefined => {
    if (!date || !DAY.test(date)) {
      errors[block] = `Pick the date ${what}.`;
      return undefined;
    }
    if (date <= today) errors[block] = `Pick a date after today (${today}).`;
    else if (meta.maxDate !== undefined && date > meta.maxDate)
      errors[block] = `The policy allows at most ${meta.maxDate}.`;
    return date;
  };
  const done = (submission: ModalSubmission): ParsedSubmission =>
    Object.keys(errors).length > 0
      ? { ok: false, errors }
      : message
        ? { ok: true, submission, message }
        : { ok: true, submission };

  if (reason.length > MAX_REASON_LENGTH) errors.reason = `At most ${MAX_REASON_LENGTH} characters.`;
  switch (kind) {
    case 'request': {
      const emergency =
        meta.emergency === true &&
        (get('emergency')?.selected_options ?? []).some((o) => o.value === 'emergency');
      return done({
        kind: 'request',
        changeId: meta.changeId,
        emergency,
        ...(reason === '' ? {} : { reason }),
      });
    }
    case 'reject':
      if (reason === '') errors.reason = 'Say why the change is rejected.';
      return done({ kind: 'reject', changeId: meta.changeId, reason });
    case 'accept_risk': {
      if (reason === '') errors.reason = 'Say why the risk is acceptable.';
      const expires =
        checkDate('expires', get('expires')?.selected_date, 'until which the risk is accepted') ?? '';
      return done({ kind: 'accept_risk', changeId: meta.changeId, reason, expires });
    }
    case 'defer': {
      const choice = get('defer')?.selected_option?.value;
      const base = { kind: 'defer' as const, changeId: meta.changeId, ...(reason === '' ? {} : { reason }) };
      if (choice === '1d' || choice === '1w')
        return done({ ...base, defer: { kind: 'days', days: choice === '1d' ? 1 : 7 } });
      if (choice === 'date') {
        const date = checkDate('date', get('date')?.selected_date, 'until which to defer') ?? '';
        return done({ ...base, defer: { kind: 'date', date } });
      }
      errors.defer = 'Choose how long to defer.';
      return { ok: false, errors };
    }
  }
}
