/**
 * Block Kit building blocks that respect Slack's limits: text that would be too long is cut with
 * "…and N more" (lists) or "…" (single values) instead of making Slack reject the message.
 * https://docs.slack.dev/reference/block-kit/blocks
 */
import type { types } from '@slack/bolt';
import type { PersonRef } from '../views/index.js';

export type KnownBlock = types.KnownBlock;
export type SectionBlock = types.SectionBlock;
export type Button = types.Button;

export const LIMITS = {
  blocksPerMessage: 50,
  blocksPerModal: 100,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 2000,
  buttonText: 75,
  buttonValue: 2000,
  actionsElements: 25,
  /** chat.postMessage accepts 40,000; Slack advises staying under 4,000 for notifications. */
  fallbackText: 3000,
  modalTitle: 24,
  privateMetadata: 3000,
} as const;

/** Escapes the three characters mrkdwn treats as control characters (so `<!channel>` stays text). */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts `s` to at most `max` characters, ending with "…" when cut. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  // Do not split a surrogate pair.
  let end = max - 1;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${s.slice(0, end)}…`;
}

export const moreLabel = (n: number) => `…and ${n.toLocaleString('en')} more`;

/**
 * Joins as many whole items as fit in `max` characters; when some do not fit, ends with
 * "…and N more". Items longer than the limit on their own are clipped.
 */
export function joinWithin(
  items: readonly string[],
  sep: string,
  max: number,
): { text: string; shown: number } {
  let text = '';
  let shown = 0;
  for (let i = 0; i < items.length; i++) {
    const item = clip(items[i], max);
    const candidate = shown === 0 ? item : `${text}${sep}${item}`;
    const remainingAfter = items.length - i - 1;
    const tail = remainingAfter > 0 ? `${sep}${moreLabel(remainingAfter)}` : '';
    // Keep room for the "…and N more" that would follow if the next item does not fit.
    if (
      candidate.length + (remainingAfter > 0 ? tail.length : 0) <= max ||
      (shown === 0 && remainingAfter === 0)
    ) {
      text = candidate;
      shown++;
    } else {
      break;
    }
  }
  const hidden = items.length - shown;
  if (hidden > 0) text = shown === 0 ? moreLabel(hidden) : `${text}${sep}${moreLabel(hidden)}`;
  return { text, shown };
}

export function header(text: string): KnownBlock {
  return { type: 'header', text: { type: 'plain_text', text: clip(text, LIMITS.headerText), emoji: true } };
}

export function section(mrkdwn: string, fields?: string[]): SectionBlock {
  const block: SectionBlock = {
    type: 'section',
    text: { type: 'mrkdwn', text: clip(mrkdwn, LIMITS.sectionText) },
  };
  if (fields && fields.length > 0) {
    block.fields = fields
      .slice(0, LIMITS.fields)
      .map((f) => ({ type: 'mrkdwn' as const, text: clip(f, LIMITS.fieldText) }));
  }
  return block;
}

export function fieldsOnly(fields: string[]): SectionBlock {
  return {
    type: 'section',
    fields: fields
      .slice(0, LIMITS.fields)
      .map((f) => ({ type: 'mrkdwn' as const, text: clip(f, LIMITS.fieldText) })),
  };
}

export function context(items: string[]): KnownBlock {
  return {
    type: 'context',
    elements: items
      .slice(0, LIMITS.contextElements)
      .map((t) => ({ type: 'mrkdwn' as const, text: clip(t, LIMITS.contextText) })),
  };
}

export const divider = (): KnownBlock => ({ type: 'divider' });

/**
 * A list as as many section blocks as needed (each within 3,000 characters), at most `maxBlocks`
 * of them; what does not fit ends the last one as "…and N more".
 */
export function listSections(lines: readonly string[], maxBlocks: number): SectionBlock[] {
  const blocks: SectionBlock[] = [];
  let i = 0;
  while (i < lines.length && blocks.length < maxBlocks) {
    const last = blocks.length === maxBlocks - 1;
    const rest = lines.slice(i);
    if (last) {
      blocks.push(section(joinWithin(rest, '\n', LIMITS.sectionText).text));
      return blocks;
    }
    // Fill this block with whole lines (no "more" label needed: the next block continues).
    let text = '';
    let n = 0;
    for (const line of rest) {
      const l = clip(line, LIMITS.sectionText);
      const candidate = n === 0 ? l : `${text}\n${l}`;
      if (candidate.length > LIMITS.sectionText) break;
      text = candidate;
      n++;
    }
    blocks.push(section(text));
    i += n;
  }
  return blocks;
}

/** A Slack date token that each reader sees in their own time zone, with an ISO fallback. */
export function slackDate(d: Date, format: 'date' | 'datetime' = 'datetime'): string {
  const unix = Math.floor(d.getTime() / 1000);
  const tokens = format === 'date' ? '{date_short_pretty}' : '{date_short_pretty} {time}';
  const fallback =
    format === 'date'
      ? d.toISOString().slice(0, 10)
      : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${unix}^${tokens}|${fallback}>`;
}

/** A Slack mention for Slack users, the escaped name otherwise. */
export function person(p: PersonRef): string {
  if (p.platform === 'slack' && p.id !== undefined && /^[UW][A-Z0-9]{2,}$/.test(p.id)) return `<@${p.id}>`;
  return esc(p.name);
}

export function link(url: string, label: string): string {
  // A URL with | or > would break the link syntax; such URLs are shown as plain text.
  if (/[|<>\s]/.test(url)) return esc(label);
  return `<${url}|${esc(label)}>`;
}
