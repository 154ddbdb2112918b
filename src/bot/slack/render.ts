/**
 * Platform-neutral views to Block Kit. Every renderer returns `{ text, blocks }`: `text` is the
 * notification/fallback line, `blocks` stay within Slack's limits whatever the view holds.
 */
import {
  CAMPAIGN_ACTION_LABELS,
  campaignDeploymentLabel,
  campaignStateWord,
  changeLabel,
  dueLabel,
  hostStatesLine,
  isoDay,
  notCoveredGroups,
  plural,
  SEVERITY_ORDER,
  SUMMARY_TOP,
  type CampaignActionKind,
  type CampaignState,
  type CampaignView,
  type CoverageView,
  type DigestList,
  type DigestRiskLine,
  type DigestView,
  type HelpView,
  type HostListView,
  type MessageContent,
  type NoticeView,
  type RolloutRequest,
  type Severity,
  type StatusView,
  type SummaryView,
  type CampaignLine,
  type RunningDeployment,
  type StatusCounts,
  campaignKindPrefix,
} from '../views/index.js';
import {
  clip,
  context,
  divider,
  esc,
  fieldsOnly,
  header,
  joinWithin,
  LIMITS,
  link,
  listSections,
  moreLabel,
  person,
  section,
  slackDate,
  type Button,
  type KnownBlock,
} from './blocks.js';
import { renderDeploymentProgress, slackMention } from './render-deployment.js';
import {
  AGE_BUCKETS,
  type Headline,
  type ScopeMetrics,
  type TrendPoint,
} from '../../core/metrics/definitions.js';
import { feedShort, type FeedAge } from '../../core/freshness/feeds.js';
import {
  changeTone,
  formatChange,
  formatCount,
  formatDays,
  formatPercent,
  formatValue,
} from '../../core/metrics/format.js';

export { renderDeploymentProgress, slackMention };

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** action_id of each campaign button; the value is the change request id. */
export const ACTION_IDS: Readonly<Record<CampaignActionKind, string>> = {
  request: 'patch_request',
  approve: 'patch_approve',
  reject: 'patch_reject',
  defer: 'patch_defer',
  accept_risk: 'patch_accept_risk',
  pause: 'patch_deploy_pause',
  resume: 'patch_deploy_resume',
  abort: 'patch_deploy_abort',
  rollback: 'patch_deploy_rollback',
  details: 'patch_details',
};

const BAND_EMOJI: Readonly<Record<Severity, string>> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':large_blue_circle:',
  none: ':white_circle:',
};

const STATE_EMOJI: Readonly<Record<CampaignState['kind'], string>> = {
  pending: ':hourglass_flowing_sand:',
  approved: ':white_check_mark:',
  rejected: ':no_entry_sign:',
  deferred: ':zzz:',
  'risk-accepted': ':shield:',
  scheduled: ':calendar:',
  deploying: ':rocket:',
  done: ':tada:',
  failed: ':x:',
  halted: ':octagonal_sign:',
};

export function renderMessage(content: MessageContent): SlackMessage {
  switch (content.type) {
    case 'campaign':
      return renderCampaign(content);
    case 'hosts':
      return renderHostList(content);
    case 'summary':
      return renderSummary(content);
    case 'status':
      return renderStatus(content);
    case 'coverage':
      return renderCoverage(content);
    case 'help':
      return renderHelp(content);
    case 'notice':
      return renderNotice(content);
    case 'digest':
      return renderDigest(content);
    case 'deployment-progress':
      return renderDeploymentProgress(content);
  }
}

// ---------------------------------------------------------------------------------------------
// Campaign

/** The state line: "Pending: 1 of 2 approvals (@alice, today 10:02)". */
export function stateLine(state: CampaignState): string {
  const e = STATE_EMOJI[state.kind];
  const approvals = (list: { by: Parameters<typeof person>[0]; at: Date }[]) =>
    list.map((a) => `${person(a.by)} ${slackDate(a.at)}`).join(', ');
  const requested = (r: RolloutRequest | undefined) =>
    r
      ? `\n:raising_hand: ${r.emergency ? '*Emergency* rollout' : 'Rollout'} requested by ${person(r.by)} ${slackDate(r.at)}${r.reason ? `: ${esc(clip(r.reason, 500))}` : ''}`
      : '';
  switch (state.kind) {
    case 'pending':
      return (
        (state.approvals.length === 0
          ? `${e} *Waiting for approval* (${plural(state.required, 'approval')} needed)`
          : `${e} *Waiting for approval*: ${state.approvals.length} of ${state.required} (${approvals(state.approvals)})`) +
        requested(state.request)
      );
    case 'approved':
      return (
        `${e} *Approved* ${state.approvals.length} of ${state.required} (${approvals(state.approvals)}); waiting for the deployment scheduler` +
        requested(state.request)
      );
    case 'rejected':
      return `${e} *Rejected* by ${person(state.by)} ${slackDate(state.at)}: ${esc(clip(state.reason, 1000))}`;
    case 'deferred':
      return (
        `${e} *Deferred* until ${slackDate(state.until, 'date')} by ${person(state.by)}${state.reason ? `: ${esc(clip(state.reason, 1000))}` : ''}` +
        requested(state.request)
      );
    case 'risk-accepted':
      return `${e} *Risk accepted* by ${person(state.by)} ${slackDate(state.at)} until ${slackDate(state.expires, 'date')}: ${esc(clip(state.reason, 1000))}`;
    case 'scheduled':
      return `${e} *Scheduled*${campaignDeploymentLabel(state)}${state.startsAt ? ` for ${slackDate(state.startsAt)}` : ''}${state.window ? ` (window ${esc(state.window)})` : ''}`;
    case 'deploying': {
      const ring = state.ringName ? ` (${esc(state.ringName)})` : '';
      const hosts =
        state.hostsDone !== undefined && state.hostsTotal !== undefined
          ? `, ${state.hostsDone} of ${plural(state.hostsTotal, 'host')} done`
          : '';
      const soak = state.soakUntil ? `; next ring after the soak, ${slackDate(state.soakUntil)}` : '';
      return `${e} *Deploying*${campaignDeploymentLabel(state)} ring ${state.ring}/${state.rings}${ring}${hosts}${soak}`;
    }
    case 'done':
      return `${e} *Done*${campaignDeploymentLabel(state)} ${slackDate(state.at)}${state.hostsPatched !== undefined ? `: ${plural(state.hostsPatched, 'host')} patched` : ''}`;
    case 'failed':
      return `${e} *Failed*${campaignDeploymentLabel(state)} ${slackDate(state.at)}: ${esc(clip(state.reason, 1000))}`;
    case 'halted': {
      const word = state.rollingBack
        ? ':rewind: *Rolling back*'
        : state.paused
          ? ':double_vertical_bar: *Paused*'
          : `${e} *Halted*`;
      return `${word}${campaignDeploymentLabel(state)} ${slackDate(state.at)}${state.by ? ` by ${person(state.by)}` : ''}: ${esc(clip(state.reason, 1000))}`;
    }
  }
}

/** The "are you sure?" dialogs of the buttons that stop or undo work on hosts (CONFIRMED_ACTIONS). */
const CONFIRM: Partial<Record<CampaignActionKind, { title: string; text: string; button: string }>> = {
  abort: {
    title: 'Abort the deployment?',
    text: 'No further host starts. Hosts already patched keep the new version until you roll back.',
    button: 'Abort',
  },
  rollback: {
    title: 'Roll back the deployment?',
    text: 'Every host this deployment changed gets its previous package versions again, where its package manager can.',
    button: 'Roll back',
  },
};

export function campaignButtons(view: Pick<CampaignView, 'changeId' | 'actions'>): Button[] {
  return view.actions.slice(0, LIMITS.actionsElements).map((kind) => {
    const button: Button = {
      type: 'button',
      action_id: ACTION_IDS[kind],
      text: { type: 'plain_text', text: CAMPAIGN_ACTION_LABELS[kind], emoji: true },
      value: view.changeId,
    };
    if (kind === 'approve') button.style = 'primary';
    if (kind === 'reject') button.style = 'danger';
    const confirm = CONFIRM[kind];
    if (confirm) {
      button.style = 'danger';
      button.confirm = {
        title: { type: 'plain_text', text: confirm.title },
        text: { type: 'plain_text', text: confirm.text },
        confirm: { type: 'plain_text', text: confirm.button },
        deny: { type: 'plain_text', text: 'Cancel' },
        style: 'danger',
      };
    }
    return button;
  });
}

export function renderCampaign(view: CampaignView): SlackMessage {
  const blocks: KnownBlock[] = [];
  const label = changeLabel(view);
  const pkg =
    view.sourcePackage && view.sourcePackage !== view.package
      ? `${view.package} (source ${view.sourcePackage})`
      : view.package;

  if (view.escalationReason)
    blocks.push(section(`:rotating_light: *Posted again:* ${esc(clip(view.escalationReason, 2000))}`));
  blocks.push(header(`${campaignKindPrefix(view)}${pkg} → ${view.fixedVersion} · ${view.team}`));

  const due = dueLabel(view.slaDue, view.asOf);
  const intro = [
    `${BAND_EMOJI[view.risk.band]} *Risk ${Math.round(view.risk.score)}/100* (${view.risk.band})` +
      (view.ssvc ? ` · SSVC *${view.ssvc}*` : '') +
      (view.kev ? ' · :warning: *KEV*' : ''),
  ];
  if (view.summary) intro.push(esc(clip(view.summary, 1500)));
  const advisories = joinWithin(
    view.advisories.map((a) => esc(a)),
    ', ',
    600,
  ).text;
  const fields = [
    `*Package*\n${esc(view.package)}${view.sourcePackage && view.sourcePackage !== view.package ? ` (src:${esc(view.sourcePackage)})` : ''}`,
    `*Fixed version*\n\`${esc(clip(view.fixedVersion, 200))}\``,
    `*Hosts*\n${plural(view.hosts.count, 'host')} (list in thread)`,
    `*SLA*\n${slackDate(view.slaDue, 'date')} · ${due.overdue ? `:alarm_clock: *${due.text}*` : due.text}${view.slaReason ? `\n_${esc(clip(view.slaReason, 200))}_` : ''}`,
    `*Team*\n${esc(view.team)}${view.environment ? ` (${esc(view.environment)})` : ''}`,
    `*Change*\n${esc(label)} · ${esc(view.ecosystem)}`,
  ];
  if (view.advisories.length > 0) fields.push(`*Advisories*\n${advisories}`);
  if (view.rings.length > 0)
    fields.push(
      `*Rings*\n${
        joinWithin(
          view.rings.map((r) => `${esc(r.name)} (${r.hostCount})`),
          ' → ',
          800,
        ).text
      }`,
    );
  if (view.itsm && view.itsm.length > 0)
    fields.push(
      `*ITSM*\n${view.itsm
        .slice(0, 5)
        .map(
          (r) =>
            `${link(r.url, `${r.system}${r.kind === 'incident' ? ' incident' : ''} ${r.number}`)}${r.note ? ` (${esc(r.note)})` : ''}`,
        )
        .join('\n')}`,
    );
  blocks.push(section(intro.join('\n'), fields));
  if (view.baseline) {
    const places = joinWithin(
      view.baseline.places.map((p) => esc(p)),
      '\n',
      LIMITS.sectionText - 600,
    ).text;
    blocks.push(
      section(
        `*${view.kind === 'firmware' ? 'Firmware' : 'Third-party'}:* ${esc(clip(view.baseline.note, 500))}\n${places}`,
      ),
    );
  }

  if (view.risk.topFactors.length > 0) {
    const factors = view.risk.topFactors
      .slice(0, 5)
      .map((f) => `${esc(f.label)} (${f.contribution >= 0 ? '+' : ''}${Math.round(f.contribution)})`);
    blocks.push(section(`*Why:* ${joinWithin(factors, ' · ', LIMITS.sectionText - 10).text}`));
  }

  if (view.cves.length > 0) {
    const cves = view.cves.map((c) => link(c.url, c.id));
    blocks.push(
      section(`*CVEs (${view.cves.length}):* ${joinWithin(cves, ', ', LIMITS.sectionText - 20).text}`),
    );
  }

  const badges: string[] = [];
  if (view.kev)
    badges.push(
      `:warning: *KEV* (CISA) due ${slackDate(view.kev.dueDate, 'date')}${view.kev.ransomware ? ' · :skull: known ransomware use' : ''}`,
    );
  if (view.epss)
    badges.push(
      `*EPSS* ${view.epss.score.toFixed(2)} (${ordinal(Math.round(view.epss.percentile * 100))} percentile)`,
    );
  if (view.ssvc) badges.push(`*SSVC* ${view.ssvc}`);
  if (badges.length > 0) blocks.push(context(badges));

  blocks.push(divider());
  blocks.push(section(stateLine(view.state)));
  const buttons = campaignButtons(view);
  if (buttons.length > 0)
    blocks.push({ type: 'actions', block_id: clip(`campaign:${view.changeId}`, 255), elements: buttons });

  const text = clip(
    `${view.escalationReason ? `Posted again (${view.escalationReason}): ` : ''}${pkg} → ${view.fixedVersion} for ${view.team}: ` +
      `risk ${Math.round(view.risk.score)} (${view.risk.band})${view.kev ? ', KEV' : ''}, ${plural(view.hosts.count, 'host')}, ` +
      `SLA ${isoDay(view.slaDue)}${due.overdue ? ' (overdue)' : ''} — ${campaignStateWord(view.state)}`,
    LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}

export function renderHostList(view: HostListView): SlackMessage {
  const lines = view.hosts.map(
    (h) =>
      `• ${esc(h.name)}${h.environment ? ` _${esc(h.environment)}_` : ''}${h.installedVersion ? ` · installed \`${esc(clip(h.installedVersion, 120))}\`` : ''}`,
  );
  const blocks: KnownBlock[] = [
    section(`*${esc(clip(view.title, 500))}* (${plural(view.hosts.length, 'host')})`),
  ];
  blocks.push(...listSections(lines, LIMITS.blocksPerMessage - 1));
  return { text: clip(`${view.title}: ${plural(view.hosts.length, 'host')}`, LIMITS.fallbackText), blocks };
}

// ---------------------------------------------------------------------------------------------
// Summary

export function renderSummary(view: SummaryView): SlackMessage {
  const title = `${plural(view.newFixes, 'new fix', 'new fixes')} across ${plural(view.packages, 'package')}`;
  const blocks: KnownBlock[] = [header(`${title}${view.team ? ` · ${view.team}` : ''}`)];
  if (view.findings !== undefined)
    blocks.push(section(`${plural(view.findings, 'finding')} became relevant.`));
  const top = view.top.slice(0, SUMMARY_TOP);
  if (top.length > 0) {
    const lines = top.map(
      (t) =>
        `${BAND_EMOJI[t.band]} *${esc(changeLabel(t))}* ${esc(t.package)} → \`${esc(clip(t.fixedVersion, 100))}\` · risk ${Math.round(t.score)}` +
        `${t.kev ? ' · :warning: KEV' : ''} · ${plural(t.hostCount, 'host')}`,
    );
    blocks.push(
      section(`*Top ${top.length} by risk*\n${joinWithin(lines, '\n', LIMITS.sectionText - 30).text}`),
    );
  }
  const rest = view.newFixes - top.length;
  blocks.push(
    context([
      `${rest > 0 ? `${plural(rest, 'more fix', 'more fixes')}: see` : 'See'} \`${esc(view.statusCommand)}\` for the rest.`,
    ]),
  );
  return {
    text: clip(
      `${title}${view.team ? ` for ${view.team}` : ''}. See ${view.statusCommand}.`,
      LIMITS.fallbackText,
    ),
    blocks,
  };
}

// ---------------------------------------------------------------------------------------------
// Status

function countsFields(c: StatusCounts): string[] {
  const bands = SEVERITY_ORDER.filter((b) => b !== 'none')
    .map((b) => `${BAND_EMOJI[b]} ${b} ${c.openByBand[b].toLocaleString('en')}`)
    .join('\n');
  return [
    `*Open findings by risk*\n${bands}`,
    ...(c.openByKind
      ? [
          `*Open findings by kind*\nOS ${c.openByKind.os.toLocaleString('en')}\nthird-party ${c.openByKind.thirdParty.toLocaleString('en')}\nfirmware ${c.openByKind.firmware.toLocaleString('en')}`,
        ]
      : []),
    `*KEV overdue*\n${c.kevOverdue > 0 ? `:warning: *${c.kevOverdue}*` : '0'}`,
    `*SLA breaches this week*\n${c.slaBreachesThisWeek}`,
    `*Hosts needing reboot*\n${c.hostsNeedingReboot} of ${c.hosts}`,
    `*Waiting for approval*\n${c.pendingApprovals}`,
  ];
}

function deploymentLines(ds: RunningDeployment[]): string {
  if (ds.length === 0) return '*Deployments running:* none';
  const lines = ds.map(
    (d) =>
      `• *${esc(changeLabel(d))}* ${esc(d.package)} → \`${esc(clip(d.fixedVersion, 100))}\` ring ${d.ring}/${d.rings}${d.team ? ` · ${esc(d.team)}` : ''}`,
  );
  return `*Deployments running (${ds.length}):*\n${joinWithin(lines, '\n', LIMITS.sectionText - 40).text}`;
}

function campaignLines(cs: CampaignLine[]): string {
  if (cs.length === 0) return '*Campaigns:* none';
  const lines = cs.map(
    (c) =>
      `• *${esc(changeLabel(c))}* ${esc(c.package)} → \`${esc(clip(c.fixedVersion, 100))}\`${c.team ? ` · ${esc(c.team)}` : ''} · ${c.state}`,
  );
  return `*Campaigns (${cs.length}):*\n${joinWithin(lines, '\n', LIMITS.sectionText - 30).text}`;
}

/** The stale-data warning every report starts with, when there is one. */
function noticeBlock(notice: string | undefined): KnownBlock[] {
  return notice === undefined ? [] : [section(`:warning: *${esc(clip(notice, 2_900))}*`)];
}

/** "Advisory data: debian-tracker 2026-12-07 (today), kev 2026-12-05 (2 days)" (context line). */
function feedsText(feeds: readonly FeedAge[]): string {
  return feeds.length === 0
    ? 'Advisory data: none loaded.'
    : `Advisory data: ${
        joinWithin(
          feeds.map((f) => esc(feedShort(f))),
          ', ',
          1_500,
        ).text
      }.`;
}

/** The hosts that are not covered, by state, at most `max` names each. */
function notCoveredSection(
  hosts: readonly { name: string; state: Parameters<typeof notCoveredGroups>[0][number]['state'] }[],
  max: number,
  more: string,
): KnownBlock[] {
  const groups = notCoveredGroups(hosts, max);
  if (groups.length === 0) return [];
  const lines = groups.map(
    (g) =>
      `• *${g.label}* (${g.count}): ${joinWithin(g.names.map(esc), ', ', 600).text}${g.more > 0 ? ` +${g.more} more` : ''}`,
  );
  return [
    section(`*Not covered*\n${joinWithin(lines, '\n', LIMITS.sectionText - 200).text}\n_${esc(more)}_`),
  ];
}

export function renderStatus(view: StatusView): SlackMessage {
  const s = view.scope;
  const blocks: KnownBlock[] = [];
  let text: string;
  switch (s.kind) {
    case 'fleet':
    case 'team': {
      const title =
        s.kind === 'fleet'
          ? `Fleet status · ${plural(s.hosts, 'host')}`
          : `Team ${s.team} · ${plural(s.hosts, 'host')}`;
      blocks.push(header(title));
      blocks.push(...noticeBlock(view.notice));
      blocks.push(fieldsOnly(countsFields(s)));
      blocks.push(section(deploymentLines(s.deployments)));
      const open = SEVERITY_ORDER.reduce((n, b) => n + s.openByBand[b], 0);
      text = `${title}: ${open} open findings (${s.openByBand.critical} critical), ${s.kevOverdue} KEV overdue, ${s.slaBreachesThisWeek} SLA breaches this week`;
      break;
    }
    case 'host': {
      blocks.push(header(`Host ${s.host}`));
      blocks.push(...noticeBlock(view.notice));
      if (s.coverage && s.coverage.state !== 'covered' && s.coverage.state !== 'atRisk')
        blocks.push(section(`:grey_question: *Not assessed*: ${esc(clip(s.coverage.detail, 2_800))}`));
      blocks.push(
        fieldsOnly([
          `*Environment*\n${esc(s.environment)}`,
          `*Team*\n${s.team ? esc(s.team) : '—'}`,
          `*OS*\n${esc(s.os)}${s.kernel ? `\n\`${esc(clip(s.kernel, 100))}\`` : ''}`,
          `*Last inventory*\n${s.lastInventory ? slackDate(s.lastInventory) : 'never'}`,
          `*Reboot*\n${s.rebootRequired ? ':arrows_counterclockwise: required' : 'not required'}`,
        ]),
      );
      const sorted = [...s.open].sort((a, b) => b.score - a.score);
      const lines = sorted.map((f) => {
        const due = dueLabel(f.due, view.asOf);
        return (
          `${BAND_EMOJI[f.band]} ${esc(f.package)} \`${esc(clip(f.installedVersion, 80))}\` → \`${esc(clip(f.fixedVersion, 80))}\` · risk ${Math.round(f.score)}` +
          `${f.kev ? ' · :warning: KEV' : ''} · ${due.overdue ? `*${due.text}*` : due.text}` +
          (f.cves.length > 0 ? ` · ${joinWithin(f.cves.map(esc), ', ', 300).text}` : '')
        );
      });
      blocks.push(section(`*Open findings (${s.open.length})*`));
      if (lines.length > 0) blocks.push(...listSections(lines, 10));
      text = `Host ${s.host}: ${plural(s.open.length, 'open finding')}${s.rebootRequired ? ', reboot required' : ''}`;
      break;
    }
    case 'cve': {
      blocks.push(header(s.cve.id));
      const facts: string[] = [];
      if (s.summary) facts.push(esc(clip(s.summary, 1500)));
      facts.push(link(s.cve.url, 'Details'));
      blocks.push(section(facts.join('\n')));
      const badges: string[] = [];
      if (s.cvss) badges.push(`*CVSS ${esc(s.cvss.version)}* ${s.cvss.score.toFixed(1)}`);
      if (s.kev)
        badges.push(
          `:warning: *KEV* due ${slackDate(s.kev.dueDate, 'date')}${s.kev.ransomware ? ' · :skull: ransomware' : ''}`,
        );
      if (s.epss)
        badges.push(
          `*EPSS* ${s.epss.score.toFixed(2)} (${ordinal(Math.round(s.epss.percentile * 100))} percentile)`,
        );
      if (s.ssvc) badges.push(`*SSVC* ${s.ssvc}`);
      if (badges.length > 0) blocks.push(context(badges));
      blocks.push(section(`*Affected hosts:* ${s.affectedHosts}\n${campaignLines(s.campaigns)}`));
      text = `${s.cve.id}: ${plural(s.affectedHosts, 'affected host')}, ${plural(s.campaigns.length, 'campaign')}`;
      break;
    }
    case 'advisory': {
      blocks.push(header(s.id));
      const lines: string[] = [];
      if (s.summary) lines.push(esc(clip(s.summary, 1500)));
      if (s.url) lines.push(link(s.url, 'Advisory'));
      if (s.cves.length > 0)
        lines.push(
          `*CVEs:* ${
            joinWithin(
              s.cves.map((c) => link(c.url, c.id)),
              ', ',
              1200,
            ).text
          }`,
        );
      if (lines.length > 0) blocks.push(section(lines.join('\n')));
      blocks.push(section(`*Affected hosts:* ${s.affectedHosts}\n${campaignLines(s.campaigns)}`));
      text = `${s.id}: ${plural(s.affectedHosts, 'affected host')}, ${plural(s.campaigns.length, 'campaign')}`;
      break;
    }
  }
  blocks.push(context([`${view.feeds ? `${feedsText(view.feeds)} ` : ''}As of ${slackDate(view.asOf)}`]));
  if (view.notice !== undefined) text = `${text} (${view.notice})`;
  return { text: clip(text, LIMITS.fallbackText), blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

const TONE_MARK: Readonly<Record<ReturnType<typeof changeTone>, string>> = {
  better: ':small_green_triangle:',
  worse: ':small_red_triangle:',
  same: '',
};

/** "*Host coverage*\n66.7% (+5.0 pp :small_green_triangle:)". */
function headlineField(h: Headline): string {
  const change = formatChange(h);
  const tone = TONE_MARK[changeTone(h)];
  return `*${esc(h.label)}*\n${formatValue(h.value, h.unit)}${change === undefined ? '' : ` (${change}${tone ? ` ${tone}` : ''} vs last week)`}`;
}

function openLines(m: ScopeMetrics): string {
  const bands = SEVERITY_ORDER.map((b) => `${b} ${formatCount(m.open.byBand[b])}`).join(' · ');
  const ages = AGE_BUCKETS.map((a) => `${a.label} ${formatCount(m.open.byAge[a.key])}`).join(' · ');
  return (
    `*Open findings* ${formatCount(m.open.total)} (${formatCount(m.open.atOrAboveThreshold)} at ${m.threshold} risk or above)\n` +
    `By risk band: ${bands}\nBy age: ${ages}\n` +
    (m.open.byKind
      ? `By kind: OS ${formatCount(m.open.byKind.os)} · third-party ${formatCount(m.open.byKind.thirdParty)} · firmware ${formatCount(m.open.byKind.firmware)}\n`
      : '') +
    `*KEV* open ${formatCount(m.kev.open)} · overdue ${m.kev.overdue > 0 ? `:warning: *${formatCount(m.kev.overdue)}*` : '0'}` +
    ` · *SLA breaches* ${formatCount(m.open.overdue)} · *due this week* ${formatCount(m.open.dueThisWeek)}`
  );
}

function slaLines(m: ScopeMetrics): string {
  const sla = SEVERITY_ORDER.filter((b) => m.sla.bySeverity[b].due > 0)
    .map((b) => {
      const c = m.sla.bySeverity[b];
      return `${b} ${formatPercent(c.compliance)} (${c.met}/${c.due})`;
    })
    .join(' · ');
  const ttr = SEVERITY_ORDER.filter((b) => m.remediation.bySeverity[b].fixed > 0)
    .map((b) => {
      const c = m.remediation.bySeverity[b];
      return `${b} mean ${formatDays(c.meanDays)}, p90 ${formatDays(c.p90Days)} (${c.fixed} fixed)`;
    })
    .join(' · ');
  return (
    `*SLA compliance, last ${m.periodDays} days* ${formatPercent(m.sla.overall.compliance)} (${m.sla.overall.met}/${m.sla.overall.due} fixed by their due date)${sla ? `\n${sla}` : ''}\n` +
    `*Time to remediate* mean ${formatDays(m.remediation.overall.meanDays)}, p90 ${formatDays(m.remediation.overall.p90Days)} (${m.remediation.overall.fixed} fixed)${ttr ? `\n${ttr}` : ''}\n` +
    `*Deployments* ${formatPercent(m.deployments.successRate)} of ${plural(m.deployments.hostRuns, 'host run')} succeeded · ` +
    `*Accepted risks* ${m.acceptedRisks.active} (${m.acceptedRisks.expiringSoon} expiring within ${m.acceptedRisks.withinDays} days) · ` +
    `*Reboot needed* ${m.hosts.rebootRequired} of ${m.hosts.total} hosts`
  );
}

function breakdownLine(name: string, m: ScopeMetrics): string {
  return (
    `• *${esc(name)}*: coverage ${formatPercent(m.hosts.coverage)} (${m.hosts.covered}/${m.hosts.total})` +
    ` · ${formatCount(m.open.atOrAboveThreshold)} at ${m.threshold}+ · ${formatCount(m.open.overdue)} overdue` +
    ` · KEV overdue ${formatCount(m.kev.overdue)} · SLA ${formatPercent(m.sla.overall.compliance)}` +
    ` · MTTR ${formatDays(m.remediation.overall.meanDays)}`
  );
}

function trendText(points: readonly TrendPoint[]): string {
  const known = points.filter((p) => p.coverage !== null);
  if (known.length < 2) return 'Trend: not enough weekly snapshots yet.';
  const cov = points.map((p) => (p.coverage === null ? '–' : `${Math.round(p.coverage * 100)}%`)).join(' ');
  const risk = points.map((p) => (p.openRisk === null ? '–' : formatCount(p.openRisk))).join(' ');
  return `Trend (${points.length} weeks, oldest first): coverage ${cov}; open risk ${risk}`;
}

export function renderCoverage(view: CoverageView): SlackMessage {
  const m = view.metrics;
  const title = `Coverage · ${view.team === undefined ? 'fleet' : `team ${view.team}`}`;
  const blocks: KnownBlock[] = [header(title)];
  blocks.push(...noticeBlock(view.notice));
  const states = hostStatesLine(m);
  blocks.push(
    section(
      `*Host coverage* ${formatPercent(m.hosts.coverage)} (${m.hosts.covered} of ${plural(m.hosts.total, 'host')}): ` +
        `assessed, with no open finding at ${m.threshold} risk or above.${states ? `\n${esc(states)}` : ''}`,
    ),
  );
  blocks.push(
    ...notCoveredSection(view.notCovered, 10, 'Every host with why: patchbot report coverage --hosts'),
  );
  blocks.push(fieldsOnly(view.headlines.map(headlineField)));
  blocks.push(section(openLines(m)));
  blocks.push(section(slaLines(m)));
  for (const b of view.breakdown) {
    if (b.rows.length === 0) continue;
    blocks.push(section(`*By ${b.kind === 'group' ? 'host group' : b.kind}*`));
    blocks.push(
      ...listSections(
        b.rows.map((r) => breakdownLine(r.name, r.metrics)),
        4,
      ),
    );
  }
  blocks.push(
    context([
      trendText(view.trend),
      `Covered = assessed (fresh inventory, current advisories) and no open finding at ${m.threshold} risk or above. Definitions: docs/metrics.md. As of ${slackDate(view.asOf)}`,
      feedsText(view.feeds),
    ]),
  );
  const text =
    `${title}: ${formatPercent(m.hosts.coverage)} (${m.hosts.covered}/${m.hosts.total} hosts), ${formatCount(m.open.overdue)} SLA breaches, ${formatCount(m.kev.overdue)} KEV overdue` +
    `${view.notice === undefined ? '' : ` (${view.notice})`}`;
  return { text: clip(text, LIMITS.fallbackText), blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

// ---------------------------------------------------------------------------------------------
// Weekly digest

function digestRiskLine(r: DigestRiskLine, asOf: Date): string {
  const cves =
    r.cves.length > 0
      ? ` (${
          joinWithin(
            r.cves.map((c) => link(c.url, c.id)),
            ', ',
            400,
          ).text
        })`
      : '';
  const advisory = r.advisoryUrl ? link(r.advisoryUrl, r.advisoryId) : esc(r.advisoryId);
  const due = r.due ? dueLabel(r.due, asOf) : undefined;
  return (
    `${BAND_EMOJI[r.band]} *${esc(r.package)}* ${advisory}${cves} · risk ${Math.round(r.score)}` +
    `${r.kev ? ' · :warning: KEV' : ''} · ${plural(r.hosts, 'host')}` +
    `${r.fixedVersion ? ` · fix \`${esc(clip(r.fixedVersion, 80))}\`` : ' · no fix yet'}` +
    `${due ? ` · ${due.overdue ? `*${due.text}*` : due.text}` : ''}`
  );
}

function digestList<T>(
  title: string,
  list: DigestList<T>,
  line: (x: T) => string,
  empty: string,
  count = formatCount(list.total),
): KnownBlock[] {
  if (list.total === 0 && list.lines.length === 0) return [section(`*${title}*: ${empty}`)];
  const lines = list.lines.map(line);
  const hidden = list.total - list.lines.length;
  if (hidden > 0) lines.push(moreLabel(hidden));
  return [section(`*${title} (${count})*`), ...listSections(lines, 3)];
}

export function renderDigest(view: DigestView): SlackMessage {
  const m = view.metrics;
  const blocks: KnownBlock[] = [header(`Weekly digest · ${view.team} · week of ${view.weekStart}`)];
  const action = view.verdict.kind === 'action-required';
  blocks.push(...noticeBlock(view.notice));
  blocks.push(
    section(
      action
        ? `:rotating_light: *${view.verdict.headline}*: ${esc(view.verdict.reasons.join('; '))}.`
        : `:white_check_mark: *${view.verdict.headline}*: every host was assessed, nothing is past its SLA due date and no deployment failed.`,
    ),
  );
  const states = hostStatesLine(m);
  if (states) blocks.push(section(`*Host coverage* ${formatPercent(m.hosts.coverage)}: ${esc(states)}`));
  blocks.push(...notCoveredSection(view.notCovered, 10, `Every host with why: ${view.coverageCommand}`));
  blocks.push(fieldsOnly(view.headlines.map(headlineField)));
  blocks.push(section(openLines(m)));
  blocks.push(
    ...digestList(
      'Top risks',
      { total: view.topRisks.length, lines: view.topRisks },
      (r) => digestRiskLine(r, view.asOf),
      'no open findings.',
    ),
  );
  blocks.push(...digestList('SLA breaches', view.slaBreaches, (r) => digestRiskLine(r, view.asOf), 'none.'));
  blocks.push(
    ...digestList('Due this week', view.dueThisWeek, (r) => digestRiskLine(r, view.asOf), 'nothing.'),
  );
  blocks.push(
    ...digestList(
      'Patched in the last 7 days',
      view.patched,
      (p) => `• *${esc(p.package)}*: ${plural(p.findings, 'finding')} on ${plural(p.hosts, 'host')}`,
      'nothing was fixed.',
      `${plural(view.patched.total, 'finding')} on ${plural(view.patched.hosts, 'host')}`,
    ),
  );
  blocks.push(
    ...digestList(
      `Accepted risks expiring within ${view.expiringAcceptances.withinDays} days`,
      view.expiringAcceptances,
      (a) =>
        `• ${a.package ? `*${esc(a.package)}* ` : ''}${a.advisoryId ? `${esc(a.advisoryId)} ` : ''}expires ${slackDate(a.expires, 'date')}` +
        ` · owner ${esc(a.owner)} · ${plural(a.findings, 'finding')} · ${esc(clip(a.reason, 300))}`,
      'none.',
    ),
  );
  blocks.push(
    context([
      `${view.chart ? 'Chart: coverage and open risk over the last weeks, in the thread. ' : ''}More: \`${esc(view.coverageCommand)}\`. As of ${slackDate(view.asOf)}`,
      feedsText(view.feeds),
    ]),
  );
  const text =
    `Weekly digest for ${view.team} (week of ${view.weekStart}): ${view.verdict.headline}` +
    `${action ? ` (${view.verdict.reasons.join('; ')})` : ''}. Coverage ${formatPercent(m.hosts.coverage)}, ` +
    `${formatCount(m.open.atOrAboveThreshold)} open at ${m.threshold}+, ${formatCount(m.open.overdue)} SLA breaches.`;
  return { text: clip(text, LIMITS.fallbackText), blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

// ---------------------------------------------------------------------------------------------
// Help and notices

export function renderHelp(view: HelpView): SlackMessage {
  const blocks: KnownBlock[] = [];
  if (view.problem) blocks.push(section(`:thinking_face: ${esc(clip(view.problem, 1000))}`));
  const lines = view.entries.map((e) => `\`${esc(e.usage)}\` — ${e.description}`);
  blocks.push(
    section(`*${esc(view.command)} commands*\n${joinWithin(lines, '\n', LIMITS.sectionText - 40).text}`),
  );
  const text = `${view.problem ? `${view.problem}. ` : ''}Commands: ${view.entries.map((e) => e.usage).join(', ')}`;
  return { text: clip(text, LIMITS.fallbackText), blocks };
}

const TONE_EMOJI: Readonly<Record<NoticeView['tone'], string>> = {
  info: ':information_source:',
  success: ':white_check_mark:',
  warning: ':warning:',
  error: ':no_entry:',
};

export function renderNotice(view: NoticeView): SlackMessage {
  const body = `${TONE_EMOJI[view.tone]} ${esc(view.text)}${view.detail ? `\n${esc(view.detail)}` : ''}`;
  return { text: clip(view.text, LIMITS.fallbackText), blocks: [section(body)] };
}
