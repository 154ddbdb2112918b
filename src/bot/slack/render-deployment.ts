/**
 * Deployment progress replies to Block Kit: the sentence (with the mentions first, so the
 * notification names the people it is for), the hosts it concerns with their error lines in a code
 * block, what to do next, and where it belongs (deployment and change numbers, time).
 */
import {
  changeLabel,
  type ChatMention,
  type DeploymentHostOutcome,
  type DeploymentProgressView,
} from '../views/index.js';
import { clip, context, esc, LIMITS, listSections, section, slackDate, type KnownBlock } from './blocks.js';

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP = /^S[A-Z0-9]{2,}$/;

/** A mention on Slack (`<@U…>`, `<!subteam^S…>`); another platform's person shows by name, if any. */
export function slackMention(m: ChatMention): string | undefined {
  if (m.platform === 'slack') {
    if (m.kind === 'user' && SLACK_USER.test(m.id)) return `<@${m.id}>`;
    if (m.kind === 'group' && SLACK_GROUP.test(m.id)) return `<!subteam^${m.id}>`;
  }
  return m.name === undefined ? undefined : esc(m.name);
}

const TONE_EMOJI: Readonly<Record<DeploymentProgressView['tone'], string>> = {
  info: ':arrow_forward:',
  success: ':white_check_mark:',
  warning: ':warning:',
  error: ':octagonal_sign:',
};

const OUTCOME: Readonly<Record<DeploymentHostOutcome, { emoji: string; word: string }>> = {
  succeeded: { emoji: ':white_check_mark:', word: 'patched' },
  failed: { emoji: ':x:', word: 'failed' },
  skipped: { emoji: ':fast_forward:', word: 'skipped' },
  rolled_back: { emoji: ':rewind:', word: 'rolled back' },
  rollback_failed: { emoji: ':no_entry:', word: 'could not be rolled back' },
  unchanged: { emoji: ':white_circle:', word: 'unchanged' },
};

/** Error text inside a code block: a ``` in it would end the block early. */
const codeBlock = (text: string): string => `\`\`\`${esc(clip(text, 900)).replaceAll('```', "'''")}\`\`\``;

export function renderDeploymentProgress(view: DeploymentProgressView): {
  text: string;
  blocks: KnownBlock[];
} {
  const mentions = (view.mentions ?? [])
    .map(slackMention)
    .filter((m): m is string => m !== undefined)
    .filter((m, i, all) => all.indexOf(m) === i);
  const cc = mentions.length > 0 ? `${mentions.join(' ')} ` : '';
  const blocks: KnownBlock[] = [section(`${TONE_EMOJI[view.tone]} ${cc}${esc(view.text)}`)];
  const lines = (view.hosts ?? []).map((h) => {
    const o = OUTCOME[h.outcome];
    const failure = h.outcome === 'failed' || h.outcome === 'rollback_failed';
    const detail =
      h.detail === undefined || h.detail === ''
        ? ''
        : failure
          ? `\n${codeBlock(h.detail)}`
          : `: ${esc(clip(h.detail, 500))}`;
    return `${o.emoji} *${esc(clip(h.host, 253))}* ${o.word}${detail}`;
  });
  // Room for the sentence, the detail and the context line.
  if (lines.length > 0) blocks.push(...listSections(lines, LIMITS.blocksPerMessage - 3));
  if (view.detail) blocks.push(section(esc(view.detail)));
  blocks.push(
    context([
      `${view.deployment === undefined ? '' : `Deployment #${view.deployment} · `}change ${esc(changeLabel({ changeId: view.changeId, ...(view.changeNumber === undefined ? {} : { changeNumber: view.changeNumber }) }))} · ${slackDate(view.at)}`,
    ]),
  );
  // The notification line: mentions first so they notify, then the sentence.
  const text = clip(`${cc}${esc(view.text)}`, LIMITS.fallbackText);
  return { text, blocks };
}
