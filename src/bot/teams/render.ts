/**
 * Platform-neutral views to Adaptive Cards. Every renderer takes a `scale` (1 = full detail) that
 * shrinks its lists; `renderCard` tries smaller scales until the message fits Teams' size limit,
 * so a view with ten thousand hosts still posts, its lists ending in "…and N more".
 */
import { feedShort, type FeedAge } from '../../core/freshness/feeds.js';
import {
  AGE_BUCKETS,
  type Headline,
  type ScopeMetrics,
  type TrendPoint,
} from '../../core/metrics/definitions.js';
import {
  changeTone,
  formatChange,
  formatCount,
  formatDays,
  formatPercent,
  formatValue,
} from '../../core/metrics/format.js';
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
  type CampaignLine,
  type CampaignState,
  type CampaignView,
  type CoverageView,
  type CveRef,
  type DigestList,
  type DigestRiskLine,
  type DeploymentHostOutcome,
  type DeploymentProgressView,
  type DigestView,
  type HelpView,
  type HostListView,
  type MessageContent,
  type NoticeView,
  type RolloutRequest,
  type RunningDeployment,
  type Severity,
  type StatusCounts,
  type StatusView,
  type SummaryView,
  campaignKindPrefix,
} from '../views/index.js';
import {
  adaptiveCard,
  byteLength,
  capList,
  clip,
  container,
  dateTime,
  day,
  execute,
  facts,
  heading,
  joinRuns,
  LIMITS,
  md,
  Mentions,
  moreLabel,
  rich,
  text,
  type AdaptiveCard,
  type CardAction,
  type CardElement,
  type Run,
} from './cards.js';

export interface TeamsMessage {
  card: AdaptiveCard;
  /** The notification preview and the text for clients that cannot show the card. */
  summary: string;
}

/** The verb of each campaign button (Action.Execute); `data.changeId` names the change. */
export const CAMPAIGN_VERBS: Readonly<Record<CampaignActionKind, string>> = {
  request: 'request',
  approve: 'approve',
  reject: 'reject',
  defer: 'defer',
  accept_risk: 'accept_risk',
  pause: 'pause',
  resume: 'resume',
  abort: 'abort',
  rollback: 'rollback',
  details: 'details',
};

/** Shows the current card again (the Cancel of a decision form). */
export const REFRESH_VERB = 'refresh';

/** The "are you sure?" card of the buttons that stop or undo work on hosts (CONFIRMED_ACTIONS). */
export const CONFIRM: Partial<Record<CampaignActionKind, { title: string; text: string; button: string }>> = {
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

const BAND_ICON: Readonly<Record<Severity, string>> = {
  critical: '🔴',
  high: '🟠',
  medium: '🟡',
  low: '🔵',
  none: '⚪',
};

const STATE_ICON: Readonly<Record<CampaignState['kind'], string>> = {
  pending: '⏳',
  approved: '✅',
  rejected: '🚫',
  deferred: '💤',
  'risk-accepted': '🛡️',
  scheduled: '📅',
  deploying: '🚀',
  done: '🎉',
  failed: '❌',
  halted: '🛑',
};

const TONE: Readonly<
  Record<NoticeView['tone'], { icon: string; style: 'emphasis' | 'good' | 'warning' | 'attention' }>
> = {
  info: { icon: 'ℹ️', style: 'emphasis' },
  success: { icon: '✅', style: 'good' },
  warning: { icon: '⚠️', style: 'warning' },
  error: { icon: '⛔', style: 'attention' },
};

/** How many items a list shows at `scale`: at least `min` (0 at scale 0). */
const cap = (full: number, scale: number, min = 1) =>
  scale <= 0 ? 0 : Math.max(min, Math.floor(full * scale));

const SCALES = [1, 0.5, 0.25, 0.1, 0] as const;

/** The card for `content`, within `maxBytes` (card and summary, as JSON). */
export function renderCard(content: MessageContent, maxBytes: number = LIMITS.messageBytes): TeamsMessage {
  return fit((scale) => renderAt(content, scale), maxBytes);
}

/** The largest rendering that fits; a short card saying the message was too large otherwise. */
export function fit(render: (scale: number) => TeamsMessage, maxBytes: number): TeamsMessage {
  let last: TeamsMessage | undefined;
  for (const scale of SCALES) {
    last = render(scale);
    if (byteLength(last) <= maxBytes) return last;
  }
  const summary = clip(last?.summary ?? 'patchbot message', LIMITS.summary);
  return {
    summary,
    card: adaptiveCard(
      [rich([summary]), text('This message is too large to show in Teams in full.', { subtle: true })],
      { fallbackText: summary },
    ),
  };
}

function renderAt(content: MessageContent, scale: number): TeamsMessage {
  switch (content.type) {
    case 'campaign':
      return renderCampaign(content, scale);
    case 'hosts':
      return renderHostList(content, scale);
    case 'summary':
      return renderSummary(content, scale);
    case 'status':
      return renderStatus(content, scale);
    case 'coverage':
      return renderCoverage(content, scale);
    case 'help':
      return renderHelp(content);
    case 'notice':
      return renderNotice(content);
    case 'digest':
      return renderDigest(content, scale);
    case 'deployment-progress':
      return renderDeploymentProgress(content, scale);
  }
}

/** One line per item (a TextBlock each, no markdown list syntax), "…and N more" at the end. */
function lines(items: readonly string[], max: number): CardElement[] {
  return capList(items, max).map((l) => text(l, { spacing: 'none' }));
}

function cveRuns(cves: readonly CveRef[], max: number): (Run | string)[] {
  const shown = cves.slice(0, max).map((c): Run[] => [{ text: c.id, url: c.url }]);
  const runs = joinRuns(shown, ', ');
  if (cves.length > shown.length)
    runs.push(`${shown.length > 0 ? ', ' : ''}${moreLabel(cves.length - shown.length)}`);
  return runs;
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}

// ---------------------------------------------------------------------------------------------
// Campaign

/** The state as a TextBlock (it may mention people) and, when there is one, the reason as typed. */
function stateElements(state: CampaignState, mentions: Mentions): CardElement[] {
  const icon = STATE_ICON[state.kind];
  const approvals = (list: { by: Parameters<Mentions['person']>[0]; at: Date }[]) =>
    list.map((a) => `${mentions.person(a.by)} ${md(dateTime(a.at))}`).join(', ');
  const requested = (r: RolloutRequest | undefined) =>
    r
      ? `\n\n🙋 ${r.emergency ? '**Emergency** rollout' : 'Rollout'} requested by ${mentions.person(r.by)} ${md(dateTime(r.at))}${r.reason ? `: ${md(clip(r.reason, 500))}` : ''}`
      : '';
  let line: string;
  let reason: string | undefined;
  switch (state.kind) {
    case 'pending':
      line =
        (state.approvals.length === 0
          ? `${icon} **Waiting for approval** (${plural(state.required, 'approval')} needed)`
          : `${icon} **Waiting for approval**: ${state.approvals.length} of ${state.required} (${approvals(state.approvals)})`) +
        requested(state.request);
      break;
    case 'approved':
      line =
        `${icon} **Approved** ${state.approvals.length} of ${state.required} (${approvals(state.approvals)}); waiting for the deployment scheduler` +
        requested(state.request);
      break;
    case 'rejected':
      line = `${icon} **Rejected** by ${mentions.person(state.by)} ${md(dateTime(state.at))}`;
      reason = state.reason;
      break;
    case 'deferred':
      line = `${icon} **Deferred** until ${md(day(state.until))} by ${mentions.person(state.by)}${requested(state.request)}`;
      reason = state.reason;
      break;
    case 'risk-accepted':
      line = `${icon} **Risk accepted** by ${mentions.person(state.by)} ${md(dateTime(state.at))} until ${md(day(state.expires))}`;
      reason = state.reason;
      break;
    case 'scheduled':
      line = `${icon} **Scheduled**${campaignDeploymentLabel(state)}${state.startsAt ? ` for ${md(dateTime(state.startsAt))}` : ''}${state.window ? ` (window ${md(clip(state.window, 100))})` : ''}`;
      break;
    case 'deploying': {
      const ring = state.ringName ? ` (${md(clip(state.ringName, 100))})` : '';
      const hosts =
        state.hostsDone !== undefined && state.hostsTotal !== undefined
          ? `, ${state.hostsDone} of ${plural(state.hostsTotal, 'host')} done`
          : '';
      const soak = state.soakUntil ? `; next ring after the soak, ${md(dateTime(state.soakUntil))}` : '';
      line = `${icon} **Deploying**${campaignDeploymentLabel(state)} ring ${state.ring}/${state.rings}${ring}${hosts}${soak}`;
      break;
    }
    case 'done':
      line = `${icon} **Done**${campaignDeploymentLabel(state)} ${md(dateTime(state.at))}${state.hostsPatched !== undefined ? `: ${plural(state.hostsPatched, 'host')} patched` : ''}`;
      break;
    case 'failed':
      line = `${icon} **Failed**${campaignDeploymentLabel(state)} ${md(dateTime(state.at))}`;
      reason = state.reason;
      break;
    case 'halted': {
      const word = state.rollingBack
        ? '⏪ **Rolling back**'
        : state.paused
          ? '⏸️ **Paused**'
          : `${icon} **Halted**`;
      line = `${word}${campaignDeploymentLabel(state)} ${md(dateTime(state.at))}${state.by ? ` by ${mentions.person(state.by)}` : ''}`;
      reason = state.reason;
      break;
    }
  }
  const out = [text(line, { separator: true, spacing: 'medium' })];
  if (reason !== undefined && reason !== '')
    out.push(rich([{ text: 'Reason: ', bold: true }, clip(reason, LIMITS.longText)], { spacing: 'small' }));
  return out;
}

export function campaignActions(view: Pick<CampaignView, 'changeId' | 'actions'>): CardAction[] {
  return view.actions.map((kind) =>
    execute(
      CAMPAIGN_ACTION_LABELS[kind],
      CAMPAIGN_VERBS[kind],
      { changeId: view.changeId },
      kind === 'approve' ? 'positive' : kind === 'reject' || CONFIRM[kind] ? 'destructive' : undefined,
    ),
  );
}

function campaignSummary(view: CampaignView): string {
  const pkg = packageLabel(view);
  const due = dueLabel(view.slaDue, view.asOf);
  return clip(
    `${view.escalationReason ? `Posted again (${view.escalationReason}): ` : ''}${campaignKindPrefix(view)}${pkg} → ${view.fixedVersion} for ${view.team}: ` +
      `risk ${Math.round(view.risk.score)} (${view.risk.band})${view.kev ? ', KEV' : ''}, ${plural(view.hosts.count, 'host')}, ` +
      `SLA ${isoDay(view.slaDue)}${due.overdue ? ' (overdue)' : ''} — ${campaignStateWord(view.state)}`,
    LIMITS.summary,
  );
}

const packageLabel = (view: CampaignView) =>
  view.sourcePackage && view.sourcePackage !== view.package
    ? `${view.package} (source ${view.sourcePackage})`
    : view.package;

/** The campaign card's body (without actions), for the card itself and for cards built around it. */
export function campaignBody(view: CampaignView, scale: number, mentions: Mentions): CardElement[] {
  const body: CardElement[] = [];
  if (view.escalationReason)
    body.push(
      container(
        [rich([{ text: '🚨 Posted again: ', bold: true }, clip(view.escalationReason, LIMITS.longText)])],
        'attention',
      ),
    );
  body.push(
    heading(`${campaignKindPrefix(view)}${packageLabel(view)} → ${view.fixedVersion} · ${view.team}`),
  );
  if (view.baseline) {
    body.push(
      rich(
        [
          { text: view.kind === 'firmware' ? 'Firmware: ' : 'Third-party: ', bold: true },
          clip(view.baseline.note, LIMITS.longText),
        ],
        { spacing: 'small' },
      ),
    );
    for (const p of view.baseline.places.slice(0, 20)) body.push(rich([clip(p, 300)], { spacing: 'none' }));
  }

  const riskLine: (Run | string)[] = [
    `${BAND_ICON[view.risk.band]} `,
    { text: `Risk ${Math.round(view.risk.score)}/100`, bold: true },
    ` (${view.risk.band})`,
  ];
  if (view.ssvc) riskLine.push(' · SSVC ', { text: view.ssvc, bold: true });
  if (view.kev) riskLine.push(' · ⚠️ ', { text: 'KEV', bold: true, color: 'attention' });
  body.push(rich(riskLine, { spacing: 'small' }));
  if (view.summary) body.push(rich([clip(view.summary, LIMITS.longText)], { spacing: 'small' }));

  const due = dueLabel(view.slaDue, view.asOf);
  const factList = [
    {
      title: 'Package',
      value: `${view.package}${view.sourcePackage && view.sourcePackage !== view.package ? ` (src:${view.sourcePackage})` : ''}`,
    },
    { title: 'Fixed version', value: clip(view.fixedVersion, LIMITS.shortText) },
    { title: 'Hosts', value: plural(view.hosts.count, 'host') },
    {
      title: 'SLA',
      value: `${day(view.slaDue)} · ${due.overdue ? `⏰ ${due.text}` : due.text}${view.slaReason ? ` (${clip(view.slaReason, LIMITS.shortText)})` : ''}`,
    },
    { title: 'Team', value: `${view.team}${view.environment ? ` (${view.environment})` : ''}` },
    { title: 'Change', value: `${changeLabel(view)} · ${view.ecosystem}` },
  ];
  if (view.advisories.length > 0)
    factList.push({ title: 'Advisories', value: capList(view.advisories, cap(20, scale)).join(', ') });
  if (view.rings.length > 0)
    factList.push({
      title: 'Rings',
      value: capList(
        view.rings.map((r) => `${r.name} (${r.hostCount})`),
        cap(10, scale),
      ).join(' → '),
    });
  body.push(facts(factList));
  if (view.itsm && view.itsm.length > 0)
    body.push(
      rich(
        view.itsm
          .slice(0, 5)
          .flatMap((r, i) => [
            ...(i > 0 ? [' · '] : [{ text: 'ITSM: ', bold: true }]),
            { text: `${r.system}${r.kind === 'incident' ? ' incident' : ''} ${r.number}`, url: r.url },
            ...(r.note ? [` (${r.note})`] : []),
          ]),
      ),
    );

  if (view.risk.topFactors.length > 0) {
    const factors = view.risk.topFactors
      .slice(0, 5)
      .map((f) => `${clip(f.label, 150)} (${f.contribution >= 0 ? '+' : ''}${Math.round(f.contribution)})`);
    body.push(rich([{ text: 'Why: ', bold: true }, factors.join(' · ')]));
  }
  if (view.cves.length > 0)
    body.push(
      rich([{ text: `CVEs (${view.cves.length}): `, bold: true }, ...cveRuns(view.cves, cap(40, scale))]),
    );

  const badges: (Run | string)[][] = [];
  if (view.kev)
    badges.push([
      '⚠️ ',
      { text: 'KEV', bold: true },
      ` (CISA) due ${day(view.kev.dueDate)}${view.kev.ransomware ? ' · 💀 known ransomware use' : ''}`,
    ]);
  if (view.epss)
    badges.push([
      { text: 'EPSS', bold: true },
      ` ${view.epss.score.toFixed(2)} (${ordinal(Math.round(view.epss.percentile * 100))} percentile)`,
    ]);
  if (view.ssvc) badges.push([{ text: 'SSVC', bold: true }, ` ${view.ssvc}`]);
  if (badges.length > 0) body.push(rich(joinRuns(badges, ' · ')));

  if (view.hosts.count > 0) {
    const max = cap(20, scale, 0);
    const names = view.hosts.names.slice(0, max);
    const hidden = view.hosts.count - names.length;
    body.push(
      rich([
        { text: 'Hosts: ', bold: true },
        names.length > 0 ? names.join(', ') : '',
        hidden > 0 ? `${names.length > 0 ? ', ' : ''}${moreLabel(hidden)}` : '',
      ]),
    );
  }
  body.push(...stateElements(view.state, mentions));
  return body;
}

export function renderCampaign(view: CampaignView, scale = 1): TeamsMessage {
  const mentions = new Mentions();
  const body = campaignBody(view, scale, mentions);
  const summary = campaignSummary(view);
  return {
    summary,
    card: adaptiveCard(body, { actions: campaignActions(view), fallbackText: summary, mentions }),
  };
}

/** The campaign card with notices above it (the answer to the person who clicked). */
export function renderCampaignWithNotices(
  view: CampaignView,
  notices: readonly NoticeView[],
  maxBytes: number = LIMITS.messageBytes,
): TeamsMessage {
  return fit((scale) => {
    const mentions = new Mentions();
    const body = [...notices.map(noticeBlock), ...campaignBody(view, scale, mentions)];
    const summary = notices.length > 0 ? clip(notices[0].text, LIMITS.summary) : campaignSummary(view);
    return {
      summary,
      card: adaptiveCard(body, { actions: campaignActions(view), fallbackText: summary, mentions }),
    };
  }, maxBytes);
}

// ---------------------------------------------------------------------------------------------
// Host list, summary

export function renderHostList(view: HostListView, scale = 1): TeamsMessage {
  const items = view.hosts.map(
    (h) =>
      `• ${md(h.name)}${h.environment ? ` _${md(h.environment)}_` : ''}${h.installedVersion ? ` · installed ${md(clip(h.installedVersion, 120))}` : ''}`,
  );
  const summary = clip(`${view.title}: ${plural(view.hosts.length, 'host')}`, LIMITS.summary);
  const body = [
    text(`**${md(clip(view.title, 500))}** (${plural(view.hosts.length, 'host')})`),
    ...lines(items, cap(200, scale, 0)),
  ];
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

export function renderSummary(view: SummaryView, scale = 1): TeamsMessage {
  const title = `${plural(view.newFixes, 'new fix', 'new fixes')} across ${plural(view.packages, 'package')}`;
  const body: CardElement[] = [heading(`${title}${view.team ? ` · ${view.team}` : ''}`)];
  if (view.findings !== undefined) body.push(text(`${plural(view.findings, 'finding')} became relevant.`));
  const top = view.top.slice(0, Math.min(SUMMARY_TOP, cap(SUMMARY_TOP, scale, 0)));
  if (top.length > 0) {
    body.push(text(`**Top ${top.length} by risk**`, { spacing: 'medium' }));
    body.push(
      ...top.map((t) =>
        text(
          `${BAND_ICON[t.band]} **${md(changeLabel(t))}** ${md(t.package)} → ${md(clip(t.fixedVersion, 100))} · risk ${Math.round(t.score)}` +
            `${t.kev ? ' · ⚠️ KEV' : ''} · ${plural(t.hostCount, 'host')}`,
          { spacing: 'none' },
        ),
      ),
    );
  }
  const rest = view.newFixes - top.length;
  body.push(
    text(
      `${rest > 0 ? `${plural(rest, 'more fix', 'more fixes')}: see` : 'See'} ${md(view.statusCommand)} for the rest.`,
      { subtle: true, spacing: 'medium' },
    ),
  );
  const summary = clip(
    `${title}${view.team ? ` for ${view.team}` : ''}. See ${view.statusCommand}.`,
    LIMITS.summary,
  );
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

// ---------------------------------------------------------------------------------------------
// Status

function countsFacts(c: StatusCounts): CardElement {
  return facts([
    ...SEVERITY_ORDER.filter((b) => b !== 'none').map((b) => ({
      title: `${BAND_ICON[b]} Open, ${b}`,
      value: c.openByBand[b].toLocaleString('en'),
    })),
    ...(c.openByKind
      ? [
          {
            title: 'Open by kind',
            value: `OS ${c.openByKind.os} · third-party ${c.openByKind.thirdParty} · firmware ${c.openByKind.firmware}`,
          },
        ]
      : []),
    { title: 'KEV overdue', value: c.kevOverdue > 0 ? `⚠️ ${c.kevOverdue}` : '0' },
    { title: 'SLA breaches this week', value: String(c.slaBreachesThisWeek) },
    { title: 'Hosts needing reboot', value: `${c.hostsNeedingReboot} of ${c.hosts}` },
    { title: 'Waiting for approval', value: String(c.pendingApprovals) },
  ]);
}

function deploymentElements(ds: RunningDeployment[], scale: number): CardElement[] {
  if (ds.length === 0) return [text('**Deployments running:** none', { spacing: 'medium' })];
  return [
    text(`**Deployments running (${ds.length}):**`, { spacing: 'medium' }),
    ...lines(
      ds.map(
        (d) =>
          `• **${md(changeLabel(d))}** ${md(d.package)} → ${md(clip(d.fixedVersion, 100))} ring ${d.ring}/${d.rings}${d.team ? ` · ${md(d.team)}` : ''}`,
      ),
      cap(30, scale, 0),
    ),
  ];
}

function campaignElements(cs: CampaignLine[], scale: number): CardElement[] {
  if (cs.length === 0) return [text('**Campaigns:** none')];
  return [
    text(`**Campaigns (${cs.length}):**`),
    ...lines(
      cs.map(
        (c) =>
          `• **${md(changeLabel(c))}** ${md(c.package)} → ${md(clip(c.fixedVersion, 100))}${c.team ? ` · ${md(c.team)}` : ''} · ${c.state}`,
      ),
      cap(30, scale, 0),
    ),
  ];
}

/** The stale-data warning every report starts with, when there is one. */
function noticeElements(notice: string | undefined): CardElement[] {
  return notice === undefined
    ? []
    : [container([rich([{ text: `⚠️ ${clip(notice, 1_000)}`, bold: true }])], 'warning')];
}

/** "Advisory data: debian-tracker 2026-12-07 (today), kev 2026-12-05 (2 days)". */
function feedsText(feeds: readonly FeedAge[]): string {
  return feeds.length === 0
    ? 'Advisory data: none loaded.'
    : `Advisory data: ${capList(feeds.map(feedShort), 12).join(', ')}.`;
}

/** The hosts that are not covered, by state, at most `max` names each. */
function notCoveredElements(
  hosts: Parameters<typeof notCoveredGroups>[0],
  max: number,
  more: string,
): CardElement[] {
  const groups = notCoveredGroups(hosts, max);
  if (groups.length === 0) return [];
  return [
    text('**Not covered**', { spacing: 'medium' }),
    ...groups.map((g) =>
      text(
        `• **${g.label}** (${g.count}): ${md(g.names.join(', '))}${g.more > 0 ? ` +${g.more} more` : ''}`,
        {
          spacing: 'none',
        },
      ),
    ),
    text(md(more), { subtle: true, size: 'small', spacing: 'none' }),
  ];
}

export function renderStatus(view: StatusView, scale = 1): TeamsMessage {
  const s = view.scope;
  const body: CardElement[] = [];
  let summary: string;
  switch (s.kind) {
    case 'fleet':
    case 'team': {
      const title =
        s.kind === 'fleet'
          ? `Fleet status · ${plural(s.hosts, 'host')}`
          : `Team ${s.team} · ${plural(s.hosts, 'host')}`;
      body.push(
        heading(title),
        ...noticeElements(view.notice),
        countsFacts(s),
        ...deploymentElements(s.deployments, scale),
      );
      const open = SEVERITY_ORDER.reduce((n, b) => n + s.openByBand[b], 0);
      summary = `${title}: ${open} open findings (${s.openByBand.critical} critical), ${s.kevOverdue} KEV overdue, ${s.slaBreachesThisWeek} SLA breaches this week`;
      break;
    }
    case 'host': {
      body.push(heading(`Host ${s.host}`), ...noticeElements(view.notice));
      if (s.coverage && s.coverage.state !== 'covered' && s.coverage.state !== 'atRisk')
        body.push(rich([{ text: 'Not assessed: ', bold: true }, clip(s.coverage.detail, 1_000)]));
      body.push(
        facts([
          { title: 'Environment', value: s.environment },
          { title: 'Team', value: s.team ?? '—' },
          { title: 'OS', value: `${s.os}${s.kernel ? ` (kernel ${clip(s.kernel, 100)})` : ''}` },
          { title: 'Last inventory', value: s.lastInventory ? dateTime(s.lastInventory) : 'never' },
          { title: 'Reboot', value: s.rebootRequired ? '🔄 required' : 'not required' },
        ]),
      );
      const sorted = [...s.open].sort((a, b) => b.score - a.score);
      body.push(text(`**Open findings (${s.open.length})**`, { spacing: 'medium' }));
      body.push(
        ...lines(
          sorted.map((f) => {
            const due = dueLabel(f.due, view.asOf);
            return (
              `${BAND_ICON[f.band]} ${md(f.package)} ${md(clip(f.installedVersion, 80))} → ${md(clip(f.fixedVersion, 80))} · risk ${Math.round(f.score)}` +
              `${f.kev ? ' · ⚠️ KEV' : ''} · ${due.overdue ? `**${due.text}**` : due.text}` +
              (f.cves.length > 0 ? ` · ${md(capList(f.cves, 5).join(', '))}` : '')
            );
          }),
          cap(40, scale, 0),
        ),
      );
      summary = `Host ${s.host}: ${plural(s.open.length, 'open finding')}${s.rebootRequired ? ', reboot required' : ''}`;
      break;
    }
    case 'cve': {
      body.push(heading(s.cve.id));
      if (s.summary) body.push(rich([clip(s.summary, LIMITS.longText)]));
      body.push(rich([{ text: 'Details', url: s.cve.url }]));
      const badges: (Run | string)[][] = [];
      if (s.cvss)
        badges.push([{ text: `CVSS ${s.cvss.version}`, bold: true }, ` ${s.cvss.score.toFixed(1)}`]);
      if (s.kev)
        badges.push([
          '⚠️ ',
          { text: 'KEV', bold: true },
          ` due ${day(s.kev.dueDate)}${s.kev.ransomware ? ' · 💀 ransomware' : ''}`,
        ]);
      if (s.epss)
        badges.push([
          { text: 'EPSS', bold: true },
          ` ${s.epss.score.toFixed(2)} (${ordinal(Math.round(s.epss.percentile * 100))} percentile)`,
        ]);
      if (s.ssvc) badges.push([{ text: 'SSVC', bold: true }, ` ${s.ssvc}`]);
      if (badges.length > 0) body.push(rich(joinRuns(badges, ' · ')));
      body.push(text(`**Affected hosts:** ${s.affectedHosts}`), ...campaignElements(s.campaigns, scale));
      summary = `${s.cve.id}: ${plural(s.affectedHosts, 'affected host')}, ${plural(s.campaigns.length, 'campaign')}`;
      break;
    }
    case 'advisory': {
      body.push(heading(s.id));
      if (s.summary) body.push(rich([clip(s.summary, LIMITS.longText)]));
      if (s.url) body.push(rich([{ text: 'Advisory', url: s.url }]));
      if (s.cves.length > 0)
        body.push(rich([{ text: 'CVEs: ', bold: true }, ...cveRuns(s.cves, cap(40, scale))]));
      body.push(text(`**Affected hosts:** ${s.affectedHosts}`), ...campaignElements(s.campaigns, scale));
      summary = `${s.id}: ${plural(s.affectedHosts, 'affected host')}, ${plural(s.campaigns.length, 'campaign')}`;
      break;
    }
  }
  if (view.feeds)
    body.push(text(md(feedsText(view.feeds)), { subtle: true, size: 'small', spacing: 'medium' }));
  body.push(text(`As of ${md(dateTime(view.asOf))}`, { subtle: true, size: 'small', spacing: 'none' }));
  if (view.notice !== undefined) summary = `${summary} (${view.notice})`;
  summary = clip(summary, LIMITS.summary);
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

// ---------------------------------------------------------------------------------------------
// Coverage and the weekly digest

const TONE_MARK: Readonly<Record<ReturnType<typeof changeTone>, string>> = {
  better: '▲',
  worse: '▼',
  same: '',
};

function headlineFacts(hs: readonly Headline[]): CardElement {
  return facts(
    hs.map((h) => {
      const change = formatChange(h);
      const tone = TONE_MARK[changeTone(h)];
      return {
        title: h.label,
        value: `${formatValue(h.value, h.unit)}${change === undefined ? '' : ` (${change}${tone ? ` ${tone}` : ''} vs last week)`}`,
      };
    }),
  );
}

function openElements(m: ScopeMetrics): CardElement[] {
  const bands = SEVERITY_ORDER.map((b) => `${b} ${formatCount(m.open.byBand[b])}`).join(' · ');
  const ages = AGE_BUCKETS.map((a) => `${a.label} ${formatCount(m.open.byAge[a.key])}`).join(' · ');
  return [
    text(
      `**Open findings** ${formatCount(m.open.total)} (${formatCount(m.open.atOrAboveThreshold)} at ${m.threshold} risk or above)`,
      { spacing: 'medium' },
    ),
    text(`By risk band: ${bands}`, { spacing: 'none' }),
    text(`By age: ${md(ages)}`, { spacing: 'none' }),
    ...(m.open.byKind
      ? [
          text(
            `By kind: OS ${formatCount(m.open.byKind.os)} · third-party ${formatCount(m.open.byKind.thirdParty)} · firmware ${formatCount(m.open.byKind.firmware)}`,
            { spacing: 'none' },
          ),
        ]
      : []),
    text(
      `**KEV** open ${formatCount(m.kev.open)} · overdue ${m.kev.overdue > 0 ? `⚠️ **${formatCount(m.kev.overdue)}**` : '0'}` +
        ` · **SLA breaches** ${formatCount(m.open.overdue)} · **due this week** ${formatCount(m.open.dueThisWeek)}`,
      { spacing: 'none' },
    ),
  ];
}

function slaElements(m: ScopeMetrics): CardElement[] {
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
  const out = [
    text(
      `**SLA compliance, last ${m.periodDays} days** ${formatPercent(m.sla.overall.compliance)} (${m.sla.overall.met}/${m.sla.overall.due} fixed by their due date)`,
      { spacing: 'medium' },
    ),
  ];
  if (sla) out.push(text(sla, { spacing: 'none' }));
  out.push(
    text(
      `**Time to remediate** mean ${formatDays(m.remediation.overall.meanDays)}, p90 ${formatDays(m.remediation.overall.p90Days)} (${m.remediation.overall.fixed} fixed)`,
      { spacing: 'none' },
    ),
  );
  if (ttr) out.push(text(ttr, { spacing: 'none' }));
  out.push(
    text(
      `**Deployments** ${formatPercent(m.deployments.successRate)} of ${plural(m.deployments.hostRuns, 'host run')} succeeded · ` +
        `**Accepted risks** ${m.acceptedRisks.active} (${m.acceptedRisks.expiringSoon} expiring within ${m.acceptedRisks.withinDays} days) · ` +
        `**Reboot needed** ${m.hosts.rebootRequired} of ${m.hosts.total} hosts`,
      { spacing: 'none' },
    ),
  );
  return out;
}

function breakdownLine(name: string, m: ScopeMetrics): string {
  return (
    `• **${md(name)}**: coverage ${formatPercent(m.hosts.coverage)} (${m.hosts.covered}/${m.hosts.total})` +
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

export function renderCoverage(view: CoverageView, scale = 1): TeamsMessage {
  const m = view.metrics;
  const title = `Coverage · ${view.team === undefined ? 'fleet' : `team ${view.team}`}`;
  const states = hostStatesLine(m);
  const body: CardElement[] = [
    heading(title),
    ...noticeElements(view.notice),
    text(
      `**Host coverage** ${formatPercent(m.hosts.coverage)} (${m.hosts.covered} of ${plural(m.hosts.total, 'host')}): ` +
        `assessed, with no open finding at ${m.threshold} risk or above.`,
    ),
    ...(states ? [text(md(states), { spacing: 'none' })] : []),
    ...notCoveredElements(
      view.notCovered,
      cap(10, scale),
      'Every host with why: patchbot report coverage --hosts',
    ),
    headlineFacts(view.headlines),
    ...openElements(m),
    ...slaElements(m),
  ];
  for (const b of view.breakdown) {
    if (b.rows.length === 0) continue;
    body.push(text(`**By ${b.kind === 'group' ? 'host group' : b.kind}**`, { spacing: 'medium' }));
    body.push(
      ...lines(
        b.rows.map((r) => breakdownLine(r.name, r.metrics)),
        cap(40, scale, 0),
      ),
    );
  }
  body.push(
    text(md(trendText(view.trend)), { subtle: true, size: 'small', spacing: 'medium' }),
    text(
      `Covered = assessed (fresh inventory, current advisories) and no open finding at ${m.threshold} risk or above. As of ${md(dateTime(view.asOf))}`,
      {
        subtle: true,
        size: 'small',
        spacing: 'none',
      },
    ),
    text(md(feedsText(view.feeds)), { subtle: true, size: 'small', spacing: 'none' }),
  );
  const summary = clip(
    `${title}: ${formatPercent(m.hosts.coverage)} (${m.hosts.covered}/${m.hosts.total} hosts), ${formatCount(m.open.overdue)} SLA breaches, ${formatCount(m.kev.overdue)} KEV overdue` +
      `${view.notice === undefined ? '' : ` (${view.notice})`}`,
    LIMITS.summary,
  );
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

function digestRiskRuns(r: DigestRiskLine, asOf: Date, maxCves: number): (Run | string)[] {
  const due = r.due ? dueLabel(r.due, asOf) : undefined;
  const runs: (Run | string)[] = [`${BAND_ICON[r.band]} `, { text: r.package, bold: true }, ' '];
  runs.push(r.advisoryUrl ? { text: r.advisoryId, url: r.advisoryUrl } : r.advisoryId);
  if (r.cves.length > 0) runs.push(' (', ...cveRuns(r.cves, maxCves), ')');
  runs.push(
    ` · risk ${Math.round(r.score)}${r.kev ? ' · ⚠️ KEV' : ''} · ${plural(r.hosts, 'host')}` +
      `${r.fixedVersion ? ` · fix ${clip(r.fixedVersion, 80)}` : ' · no fix yet'}`,
  );
  if (due) runs.push(' · ', due.overdue ? { text: due.text, bold: true } : due.text);
  return runs;
}

function digestList<T>(
  title: string,
  list: DigestList<T>,
  element: (x: T) => CardElement,
  empty: string,
  max: number,
): CardElement[] {
  if (list.total === 0 && list.lines.length === 0)
    return [text(`**${md(title)}**: ${empty}`, { spacing: 'medium' })];
  const shown = list.lines.slice(0, max);
  const out = [
    text(`**${md(title)} (${formatCount(list.total)})**`, { spacing: 'medium' }),
    ...shown.map(element),
  ];
  const hidden = list.total - shown.length;
  if (hidden > 0) out.push(text(moreLabel(hidden), { spacing: 'none' }));
  return out;
}

export function renderDigest(view: DigestView, scale = 1): TeamsMessage {
  const m = view.metrics;
  const max = cap(10, scale, 0);
  const action = view.verdict.kind === 'action-required';
  const body: CardElement[] = [heading(`Weekly digest · ${view.team} · week of ${view.weekStart}`)];
  body.push(...noticeElements(view.notice));
  body.push(
    container(
      [
        rich(
          action
            ? [{ text: `🚨 ${view.verdict.headline}: `, bold: true }, `${view.verdict.reasons.join('; ')}.`]
            : [
                { text: `✅ ${view.verdict.headline}: `, bold: true },
                'every host was assessed, nothing is past its SLA due date and no deployment failed.',
              ],
        ),
      ],
      action ? 'attention' : 'good',
    ),
  );
  const states = hostStatesLine(m);
  if (states)
    body.push(
      text(`**Host coverage** ${formatPercent(m.hosts.coverage)}: ${md(states)}`, { spacing: 'medium' }),
    );
  body.push(...notCoveredElements(view.notCovered, max, `Every host with why: ${view.coverageCommand}`));
  body.push(headlineFacts(view.headlines), ...openElements(m));
  const riskLine = (r: DigestRiskLine) =>
    rich(digestRiskRuns(r, view.asOf, cap(5, scale)), { spacing: 'none' });
  body.push(
    ...digestList(
      'Top risks',
      { total: view.topRisks.length, lines: view.topRisks },
      riskLine,
      'no open findings.',
      max,
    ),
    ...digestList('SLA breaches', view.slaBreaches, riskLine, 'none.', max),
    ...digestList('Due this week', view.dueThisWeek, riskLine, 'nothing.', max),
    ...digestList(
      `Patched in the last 7 days (${plural(view.patched.hosts, 'host')})`,
      view.patched,
      (p) =>
        rich(
          [
            { text: p.package, bold: true },
            `: ${plural(p.findings, 'finding')} on ${plural(p.hosts, 'host')}`,
          ],
          {
            spacing: 'none',
          },
        ),
      'nothing was fixed.',
      max,
    ),
    ...digestList(
      `Accepted risks expiring within ${view.expiringAcceptances.withinDays} days`,
      view.expiringAcceptances,
      (a) =>
        rich(
          [
            a.package ? { text: `${a.package} `, bold: true } : '',
            a.advisoryId ? `${a.advisoryId} ` : '',
            `expires ${day(a.expires)} · owner ${a.owner} · ${plural(a.findings, 'finding')} · ${clip(a.reason, 300)}`,
          ],
          { spacing: 'none' },
        ),
      'none.',
      max,
    ),
  );
  body.push(
    text(
      `${view.chart ? 'Chart: coverage and open risk over the last weeks, posted with this digest. ' : ''}More: ${md(view.coverageCommand)}. As of ${md(dateTime(view.asOf))}`,
      { subtle: true, size: 'small', spacing: 'medium' },
    ),
    text(md(feedsText(view.feeds)), { subtle: true, size: 'small', spacing: 'none' }),
  );
  const summary = clip(
    `Weekly digest for ${view.team} (week of ${view.weekStart}): ${view.verdict.headline}` +
      `${action ? ` (${view.verdict.reasons.join('; ')})` : ''}. Coverage ${formatPercent(m.hosts.coverage)}, ` +
      `${formatCount(m.open.atOrAboveThreshold)} open at ${m.threshold}+, ${formatCount(m.open.overdue)} SLA breaches.`,
    LIMITS.summary,
  );
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

// ---------------------------------------------------------------------------------------------
// Deployment progress (replies in the change's thread)

const PROGRESS_ICON: Readonly<Record<DeploymentProgressView['tone'], string>> = {
  info: '▶️',
  success: '✅',
  warning: '⚠️',
  error: '🛑',
};

const OUTCOME: Readonly<Record<DeploymentHostOutcome, { icon: string; word: string }>> = {
  succeeded: { icon: '✅', word: 'patched' },
  failed: { icon: '❌', word: 'failed' },
  skipped: { icon: '⏩', word: 'skipped' },
  rolled_back: { icon: '⏪', word: 'rolled back' },
  rollback_failed: { icon: '⛔', word: 'could not be rolled back' },
  unchanged: { icon: '⚪', word: 'unchanged' },
};

export function renderDeploymentProgress(view: DeploymentProgressView, scale = 1): TeamsMessage {
  const mentions = new Mentions();
  const cc = (view.mentions ?? [])
    .map((m) => mentions.mention(m))
    .filter((m): m is string => m !== undefined)
    .filter((m, i, all) => all.indexOf(m) === i);
  const body: CardElement[] = [];
  // Mentions first, so the notification names the people it is for; the sentence as written.
  if (cc.length > 0) body.push(text(`${PROGRESS_ICON[view.tone]} ${cc.join(' ')}`));
  body.push(
    rich([
      cc.length > 0 ? '' : `${PROGRESS_ICON[view.tone]} `,
      { text: clip(view.text, LIMITS.longText), bold: true },
    ]),
  );
  const hosts = view.hosts ?? [];
  const max = cap(60, scale, 0);
  for (const h of hosts.slice(0, max)) {
    const o = OUTCOME[h.outcome];
    const failure = h.outcome === 'failed' || h.outcome === 'rollback_failed';
    body.push(
      rich([`${o.icon} `, { text: clip(h.host, 253), bold: true }, ` ${o.word}`], { spacing: 'none' }),
    );
    if (h.detail !== undefined && h.detail !== '')
      body.push(
        rich([{ text: clip(h.detail, failure ? 900 : 500), monospace: failure, subtle: !failure }], {
          spacing: 'none',
        }),
      );
  }
  if (hosts.length > max) body.push(text(moreLabel(hosts.length - max), { spacing: 'none' }));
  if (view.detail) body.push(rich([clip(view.detail, LIMITS.longText)], { spacing: 'medium' }));
  const change = changeLabel({
    changeId: view.changeId,
    ...(view.changeNumber === undefined ? {} : { changeNumber: view.changeNumber }),
  });
  body.push(
    text(`Deployment #${view.deployment} · change ${md(change)} · ${md(dateTime(view.at))}`, {
      subtle: true,
      size: 'small',
      spacing: 'medium',
    }),
  );
  const names = (view.mentions ?? []).flatMap((m) => (m.name === undefined ? [] : [m.name]));
  const summary = clip(`${names.length > 0 ? `${names.join(', ')}: ` : ''}${view.text}`, LIMITS.summary);
  return { summary, card: adaptiveCard(body, { fallbackText: summary, mentions }) };
}

// ---------------------------------------------------------------------------------------------
// Help and notices

export function renderHelp(view: HelpView): TeamsMessage {
  const body: CardElement[] = [];
  if (view.problem) body.push(rich([`🤔 ${clip(view.problem, 1000)}`]));
  body.push(text(`**${md(view.command)} commands**`, { spacing: 'medium' }));
  // The descriptions are patchbot's own text (their `code` spans are meant as markdown).
  body.push({
    type: 'FactSet',
    facts: view.entries.map((e) => ({ title: md(e.usage), value: e.description })),
  });
  const summary = clip(
    `${view.problem ? `${view.problem}. ` : ''}Commands: ${view.entries.map((e) => e.usage).join(', ')}`,
    LIMITS.summary,
  );
  return { summary, card: adaptiveCard(body, { fallbackText: summary }) };
}

export function noticeBlock(view: NoticeView): CardElement {
  const t = TONE[view.tone];
  const items = [rich([`${t.icon} `, { text: clip(view.text, LIMITS.longText), bold: true }])];
  if (view.detail) items.push(rich([clip(view.detail, LIMITS.longText)], { spacing: 'small' }));
  return container(items, t.style);
}

export function renderNotice(view: NoticeView): TeamsMessage {
  const summary = clip(view.text, LIMITS.summary);
  return { summary, card: adaptiveCard([noticeBlock(view)], { fallbackText: summary }) };
}
