/**
 * Adaptive Card (schema 1.5) building blocks for Microsoft Teams, and the limits they respect.
 * Text people or feeds wrote (summaries, reasons) goes into TextRuns, which Teams shows as typed;
 * shorter values go into TextBlocks and FactSets with the markdown characters escaped. Mentions of
 * Teams users (`<at>Name</at>`) carry their entity, keyed by the Entra object id.
 * https://adaptivecards.io/explorer/ · https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format
 */
import type { ChatMention, PersonRef } from '../views/index.js';

export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
export const CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

export const LIMITS = {
  /** Teams refuses bot messages above about 40 KB; the whole activity is kept under this. */
  messageBytes: 38_000,
  /** Characters of one free-text value (summary, reason). */
  longText: 1500,
  shortText: 200,
  /** Notification preview (`summary`) and fallback text. */
  summary: 1000,
} as const;

export type TextColor = 'default' | 'good' | 'warning' | 'attention' | 'accent';

export interface CardElement {
  type: string;
  [key: string]: unknown;
}

export interface CardAction {
  type: 'Action.Execute' | 'Action.OpenUrl';
  title: string;
  verb?: string;
  data?: Record<string, unknown>;
  url?: string;
  style?: 'positive' | 'destructive' | 'default';
  /** Action.Execute: the inputs whose values travel with it ("none" for cancel buttons). */
  associatedInputs?: 'auto' | 'none';
}

export interface Mention {
  type: 'mention';
  text: string;
  mentioned: { id: string; name: string };
}

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardAction[];
  fallbackText?: string;
  msteams: { width: 'Full'; entities?: Mention[] };
}

/** Collects the mentions a card's text uses, so the card carries their entities. */
export class Mentions {
  private readonly byId = new Map<string, Mention>();

  /** `<at>Name</at>` for a Teams user with an Entra object id; the escaped name otherwise. */
  person(p: PersonRef): string {
    if (p.platform === 'teams' && p.id !== undefined && GUID_RE.test(p.id)) {
      const name = clip(p.name.replace(/[<>]/g, ''), 100) || 'someone';
      const text = `<at>${name}</at>`;
      if (!this.byId.has(p.id)) this.byId.set(p.id, { type: 'mention', text, mentioned: { id: p.id, name } });
      return this.byId.get(p.id)?.text ?? text;
    }
    return md(p.name);
  }

  /** A mention for a Teams user; another platform's person or a group shows by name, if any. */
  mention(m: ChatMention): string | undefined {
    if (m.platform === 'teams' && m.kind === 'user' && GUID_RE.test(m.id))
      return this.person({ platform: 'teams', id: m.id, name: m.name ?? 'someone' });
    return m.name === undefined ? undefined : md(m.name);
  }

  get entities(): Mention[] {
    return [...this.byId.values()];
  }
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Escapes the characters Teams' card markdown formats with (`*`, `_`, `[`, `]`, `` ` ``, `\`). */
export function md(s: string): string {
  return s
    .replace(/[\\*_[\]`]/g, (c) => `\\${c}`)
    .replace(/^(\s*)([-+])(\s)/gm, '$1\\$2$3')
    .replace(/^(\s*)(\d+)\.(\s)/gm, '$1$2\\.$3');
}

/** Cuts `s` to at most `max` characters, ending with "…" when cut. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${s.slice(0, end)}…`;
}

export const moreLabel = (n: number) => `…and ${n.toLocaleString('en')} more`;

/** The first `max` items, then "…and N more" when some are left out. */
export function capList(items: readonly string[], max: number): string[] {
  if (items.length <= max) return [...items];
  const shown = Math.max(0, max);
  return [...items.slice(0, shown), moreLabel(items.length - shown)];
}

export interface TextOptions {
  size?: 'small' | 'default' | 'medium' | 'large' | 'extraLarge';
  weight?: 'default' | 'bolder';
  color?: TextColor;
  subtle?: boolean;
  spacing?: 'none' | 'small' | 'default' | 'medium' | 'large';
  separator?: boolean;
  style?: 'heading';
}

/** A TextBlock (markdown is interpreted: pass text already escaped with `md`). */
export function text(markdown: string, opts: TextOptions = {}): CardElement {
  const el: CardElement = { type: 'TextBlock', text: markdown, wrap: true };
  if (opts.size) el.size = opts.size;
  if (opts.weight) el.weight = opts.weight;
  if (opts.color) el.color = opts.color;
  if (opts.subtle) el.isSubtle = true;
  if (opts.spacing) el.spacing = opts.spacing;
  if (opts.separator) el.separator = true;
  if (opts.style) el.style = opts.style;
  return el;
}

export function heading(title: string): CardElement {
  return text(md(clip(title, 300)), { size: 'large', weight: 'bolder', style: 'heading' });
}

export interface Run {
  text: string;
  bold?: boolean;
  italic?: boolean;
  subtle?: boolean;
  color?: TextColor;
  url?: string;
  monospace?: boolean;
}

/** Text shown exactly as given (TextRuns are never read as markdown); links open in the browser. */
export function rich(
  runs: readonly (Run | string)[],
  opts: Pick<TextOptions, 'spacing' | 'separator'> = {},
): CardElement {
  const inlines = runs
    .map((r) => (typeof r === 'string' ? { text: r } : r))
    .filter((r) => r.text !== '')
    .map((r) => {
      const run: Record<string, unknown> = { type: 'TextRun', text: r.text };
      if (r.bold) run.weight = 'bolder';
      if (r.italic) run.italic = true;
      if (r.subtle) run.isSubtle = true;
      if (r.color) run.color = r.color;
      if (r.monospace) run.fontType = 'monospace';
      if (r.url !== undefined && isWebUrl(r.url)) {
        run.selectAction = { type: 'Action.OpenUrl', url: r.url };
        run.color ??= 'accent';
      }
      return run;
    });
  const el: CardElement = { type: 'RichTextBlock', inlines };
  if (opts.spacing) el.spacing = opts.spacing;
  if (opts.separator) el.separator = true;
  return el;
}

/** Runs joined by `sep`. */
export function joinRuns(parts: readonly (Run | string)[][], sep: string): (Run | string)[] {
  const out: (Run | string)[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(sep);
    out.push(...p);
  });
  return out;
}

/** Label/value pairs; values are escaped here. */
export function facts(items: readonly { title: string; value: string }[]): CardElement {
  return {
    type: 'FactSet',
    facts: items.map((f) => ({ title: md(clip(f.title, 100)), value: md(clip(f.value, LIMITS.longText)) })),
  };
}

export function container(
  items: CardElement[],
  style?: 'default' | 'emphasis' | 'good' | 'attention' | 'warning' | 'accent',
  opts: Pick<TextOptions, 'spacing' | 'separator'> = {},
): CardElement {
  const el: CardElement = { type: 'Container', items };
  if (style) el.style = style;
  if (opts.spacing) el.spacing = opts.spacing;
  if (opts.separator) el.separator = true;
  return el;
}

export function execute(
  title: string,
  verb: string,
  data: Record<string, unknown>,
  style?: CardAction['style'],
  associatedInputs?: CardAction['associatedInputs'],
): CardAction {
  const a: CardAction = { type: 'Action.Execute', title, verb, data };
  if (style) a.style = style;
  if (associatedInputs) a.associatedInputs = associatedInputs;
  return a;
}

export function isWebUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export function adaptiveCard(
  body: CardElement[],
  options: { actions?: CardAction[]; fallbackText?: string; mentions?: Mentions } = {},
): AdaptiveCard {
  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: CARD_SCHEMA,
    version: '1.5',
    body,
    msteams: { width: 'Full' },
  };
  if (options.actions && options.actions.length > 0) card.actions = options.actions;
  if (options.fallbackText !== undefined) card.fallbackText = clip(options.fallbackText, LIMITS.summary);
  const entities = options.mentions?.entities ?? [];
  if (entities.length > 0) card.msteams.entities = entities;
  return card;
}

/** "2025-08-20" (UTC). */
export function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** "2025-08-20 10:02 UTC". */
export function dateTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
