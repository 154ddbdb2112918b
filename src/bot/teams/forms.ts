/**
 * The decision dialogs (request, reject, defer, accept risk) as Adaptive Card forms that replace the
 * campaign card for the person who clicked, and their submissions read back into validated
 * `ModalSubmission`s. The submit button carries the change id, `step: "submit"` and the limits
 * (Action.Execute merges the inputs' values into its data); everything is validated again here,
 * and the approval use case checks the policy limits itself.
 */
import { z } from 'zod';
import type { ModalRequest, ModalSubmission } from '../views/index.js';
import { adaptiveCard, clip, execute, heading, LIMITS, md, rich, text, type CardElement } from './cards.js';
import { REFRESH_VERB, type TeamsMessage } from './render.js';

export const MAX_REASON_LENGTH = 2000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The value of `data.step` on a form's submit button. */
export const SUBMIT_STEP = 'submit';
/** The value of `data.step` on a confirmation's button (abort, roll back). */
export const CONFIRM_STEP = 'confirmed';

/** A change id as buttons carry it. */
export const ChangeId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, { error: 'expected a change id' });

const Day = z.string().regex(DAY);
const optionalText = z
  .string()
  .max(10_000)
  .optional()
  .transform((s) => (s ?? '').trim());

/** What a submitted form sends back (inputs merged into the button's data). */
const FormData = z.object({
  changeId: ChangeId,
  step: z.literal(SUBMIT_STEP),
  title: z.string().max(300).optional(),
  maxDate: Day.optional(),
  defaultExpiry: Day.optional(),
  reason: optionalText,
  defer: z.string().max(20).optional(),
  date: z.string().max(20).optional(),
  expires: z.string().max(20).optional(),
  /** request: the emergency lane was offered, and the toggle's value ("true"/"false"). */
  offer: z.boolean().optional(),
  emergency: z.string().max(10).optional(),
});

export type FieldName = 'reason' | 'defer' | 'date' | 'expires' | 'emergency';
export type FormErrors = Partial<Record<FieldName, string>>;

export type ParsedForm =
  | { ok: true; submission: ModalSubmission }
  | { ok: false; request: ModalRequest; errors: FormErrors; values: Partial<Record<FieldName, string>> };

const addDays = (isoDay: string, days: number) =>
  new Date(Date.parse(`${isoDay}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

function reasonInput(label: string, required: boolean, placeholder: string, value?: string): CardElement {
  const el: CardElement = {
    type: 'Input.Text',
    id: 'reason',
    label,
    isMultiline: true,
    maxLength: MAX_REASON_LENGTH,
    placeholder,
  };
  if (required) {
    el.isRequired = true;
    el.errorMessage = 'Give a reason.';
  }
  if (value) el.value = value;
  return el;
}

function dateInput(
  id: 'date' | 'expires',
  label: string,
  today: string,
  opts: { max?: string; value?: string; required?: boolean },
): CardElement {
  const el: CardElement = { type: 'Input.Date', id, label, min: addDays(today, 1) };
  if (opts.max) el.max = opts.max;
  if (opts.value) el.value = opts.value;
  if (opts.required) {
    el.isRequired = true;
    el.errorMessage = 'Pick a date.';
  }
  return el;
}

/**
 * The form for a dialog request. `errors` and `values` re-show a form the person submitted with a
 * problem; `today` (YYYY-MM-DD) bounds the date pickers.
 */
export function renderForm(
  req: ModalRequest,
  today: string,
  errors: FormErrors = {},
  values: Partial<Record<FieldName, string>> = {},
): TeamsMessage {
  const headings: Record<ModalRequest['kind'], string> = {
    request: 'Request rollout',
    reject: 'Reject change',
    defer: 'Defer change',
    accept_risk: 'Accept risk',
  };
  const body: CardElement[] = [heading(headings[req.kind])];
  body.push(rich([{ text: clip(req.title, 300), bold: true }]));
  const problems = Object.values(errors);
  if (problems.length > 0) body.push(text(md(problems.join(' ')), { color: 'attention', weight: 'bolder' }));
  const data: Record<string, unknown> = {
    changeId: req.changeId,
    step: SUBMIT_STEP,
    title: clip(req.title, 300),
  };
  let submit: string;
  switch (req.kind) {
    case 'request':
      submit = 'Request';
      body.push(
        text('Asks the approvers to approve this rollout. As its requester you cannot approve it yourself.', {
          subtle: true,
        }),
      );
      body.push(
        reasonInput(
          'Why now? (optional)',
          false,
          'e.g. KEV-listed and exposed on the payment gateway',
          values.reason,
        ),
      );
      if (req.emergency) {
        data.offer = true;
        body.push({
          type: 'Input.Toggle',
          id: 'emergency',
          title: "Emergency lane (skips maintenance windows as the policy allows; the lane's own approvals)",
          valueOn: 'true',
          valueOff: 'false',
          value: values.emergency === 'true' ? 'true' : 'false',
        });
      }
      break;
    case 'reject':
      submit = 'Reject';
      body.push(
        reasonInput(
          'Why reject it?',
          true,
          'e.g. breaks the payment API; we pin 3.0.13 until vendor sign-off',
          values.reason,
        ),
      );
      break;
    case 'defer':
      submit = 'Defer';
      if (req.maxDate) data.maxDate = req.maxDate;
      body.push({
        type: 'Input.ChoiceSet',
        id: 'defer',
        label: 'Defer for',
        style: 'expanded',
        isRequired: true,
        errorMessage: 'Choose how long to defer.',
        value: values.defer ?? '1d',
        choices: [
          { title: '1 day', value: '1d' },
          { title: '1 week', value: '1w' },
          { title: 'Until a date…', value: 'date' },
        ],
      });
      body.push(
        dateInput(
          'date',
          `Date (with "Until a date…")${req.maxDate ? `, at the latest ${req.maxDate}` : ''}`,
          today,
          {
            ...(req.maxDate ? { max: req.maxDate } : {}),
            ...(values.date ? { value: values.date } : {}),
          },
        ),
      );
      body.push(reasonInput('Reason (optional)', false, 'e.g. waiting for the vendor hotfix', values.reason));
      break;
    case 'accept_risk': {
      submit = 'Accept risk';
      data.maxDate = req.maxExpiry;
      data.defaultExpiry = req.defaultExpiry;
      body.push(
        reasonInput(
          'Why is the risk acceptable?',
          true,
          'e.g. the service is not reachable from outside; WAF rule 942100 blocks the exploit',
          values.reason,
        ),
      );
      const initial =
        values.expires ?? (req.defaultExpiry <= req.maxExpiry ? req.defaultExpiry : req.maxExpiry);
      body.push(
        dateInput('expires', `Accepted until (at the latest ${req.maxExpiry}, the policy limit)`, today, {
          max: req.maxExpiry,
          value: initial,
          required: true,
        }),
      );
      body.push(
        text('Findings come back after this date.', { subtle: true, size: 'small', spacing: 'none' }),
      );
      break;
    }
  }
  const summary = clip(`${submit}: ${req.title}`, LIMITS.summary);
  return {
    summary,
    card: adaptiveCard(body, {
      actions: [
        execute(
          submit,
          req.kind,
          data,
          req.kind === 'defer' || req.kind === 'request' ? 'positive' : 'destructive',
          'auto',
        ),
        execute('Cancel', REFRESH_VERB, { changeId: req.changeId }, undefined, 'none'),
      ],
      fallbackText: summary,
    }),
  };
}

/** The request a submitted form came from (to show it again with its problems). */
function requestOf(kind: ModalRequest['kind'], d: z.infer<typeof FormData>, today: string): ModalRequest {
  const title = d.title ?? 'this change';
  switch (kind) {
    case 'request':
      return { kind, changeId: d.changeId, title, emergency: d.offer === true };
    case 'reject':
      return { kind, changeId: d.changeId, title };
    case 'defer':
      return d.maxDate
        ? { kind, changeId: d.changeId, title, maxDate: d.maxDate }
        : { kind, changeId: d.changeId, title };
    case 'accept_risk': {
      const maxExpiry = d.maxDate ?? addDays(today, 90);
      return { kind, changeId: d.changeId, title, maxExpiry, defaultExpiry: d.defaultExpiry ?? maxExpiry };
    }
  }
}

/** Whether `data` is a form submission (rather than the first click of a button). */
export function isSubmission(data: Record<string, unknown>): boolean {
  return data.step === SUBMIT_STEP;
}

/**
 * Reads and validates a submitted form. `today` (YYYY-MM-DD) bounds the dates: a deferral or an
 * acceptance must end in the future, and not after the limit the form was opened with.
 */
export function parseForm(
  kind: ModalRequest['kind'],
  raw: Record<string, unknown>,
  today: string,
): ParsedForm | undefined {
  const parsed = FormData.safeParse(raw);
  if (!parsed.success) return undefined;
  const d = parsed.data;
  const reason = d.reason;
  const errors: FormErrors = {};
  const values: Partial<Record<FieldName, string>> = {};
  if (reason !== '') values.reason = clip(reason, MAX_REASON_LENGTH);
  const checkDate = (field: 'date' | 'expires', date: string | undefined, what: string): string => {
    if (date === undefined || !DAY.test(date)) {
      errors[field] = `Pick the date ${what}.`;
      return '';
    }
    values[field] = date;
    if (date <= today) errors[field] = `Pick a date after today (${today}).`;
    else if (d.maxDate !== undefined && date > d.maxDate)
      errors[field] = `The policy allows at most ${d.maxDate}.`;
    return date;
  };
  if (reason.length > MAX_REASON_LENGTH)
    errors.reason = `Keep the reason to ${MAX_REASON_LENGTH} characters.`;
  let submission: ModalSubmission;
  switch (kind) {
    case 'request': {
      const emergency = d.offer === true && d.emergency === 'true';
      if (d.emergency !== undefined) values.emergency = d.emergency;
      submission = { kind, changeId: d.changeId, emergency, ...(reason === '' ? {} : { reason }) };
      break;
    }
    case 'reject':
      if (reason === '') errors.reason = 'Say why the change is rejected.';
      submission = { kind, changeId: d.changeId, reason };
      break;
    case 'accept_risk': {
      if (reason === '') errors.reason = 'Say why the risk is acceptable.';
      const expires = checkDate('expires', d.expires, 'until which the risk is accepted');
      submission = { kind, changeId: d.changeId, reason, expires };
      break;
    }
    case 'defer': {
      const choice = d.defer;
      if (choice !== undefined) values.defer = choice;
      const base = { kind, changeId: d.changeId, ...(reason === '' ? {} : { reason }) };
      if (choice === '1d' || choice === '1w')
        submission = { ...base, defer: { kind: 'days', days: choice === '1d' ? 1 : 7 } };
      else if (choice === 'date') {
        const date = checkDate('date', d.date, 'until which to defer');
        submission = { ...base, defer: { kind: 'date', date } };
      } else {
        errors.defer = 'Choose how long to defer.';
        submission = { ...base, defer: { kind: 'days', days: 1 } };
      }
      break;
    }
  }
  if (Object.keys(errors).length > 0)
    return { ok: false, request: requestOf(kind, d, today), errors, values };
  return { ok: true, submission };
}

/** "Abort the deployment?" before a button that stops or undoes work on hosts. */
export function renderConfirm(
  verb: string,
  changeId: string,
  confirm: { title: string; text: string; button: string },
): TeamsMessage {
  const summary = confirm.title;
  return {
    summary,
    card: adaptiveCard([heading(confirm.title), rich([confirm.text])], {
      actions: [
        execute(confirm.button, verb, { changeId, step: CONFIRM_STEP }, 'destructive'),
        execute('Cancel', REFRESH_VERB, { changeId }, undefined, 'none'),
      ],
      fallbackText: summary,
    }),
  };
}
