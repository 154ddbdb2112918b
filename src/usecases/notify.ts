/**
 * Posting newly relevant fixes to the owning team's channels.
 *
 * Newly relevant = an open finding with a fixed version, at or above notifications.minRisk, that
 * was never announced, or whose risk escalated since it was (became KEV, score rose by
 * risk.escalationDelta, EPSS crossed risk.epssEscalation: core/risk isEscalation). Findings with
 * no fix yet are not actionable: they show in status and digests, never as campaigns.
 *
 * They are grouped into fix campaigns, one per team x ecosystem x package x version to install
 * (the highest fix the hosts need, core/findings/group), and each campaign is one change request:
 * - a new campaign: ONE message in each of the team's channels, the host list in its thread;
 * - an existing campaign with new hosts: its message is edited in place and the thread says
 *   "2 more hosts affected" (no new top-level post);
 * - an escalation: a NEW top-level message that says why ("Escalated: CVE-2023-4911 was added
 *   to CISA KEV");
 * - more new top-level posts than notifications.burstThreshold for one team in one run: ONE
 *   summary message instead (the campaigns are still created).
 * Quiet hours (the team's, else notifications.quietHours) hold non-critical posts for a later
 * run; a team without a channel is logged once per run and its findings stay unannounced.
 * Findings are marked announced (notifiedAt/Score/Kev/Epss) only after their message went out.
 * Runs hold a database lock: several workers never announce the same finding twice.
 */
import { TZDate } from '@date-fns/tz';
import type { Logger } from 'pino';
import type { ChatPlatform, MessageRef } from '../bot/chat-platform.js';
import { SUMMARY_TOP, type CampaignView, type HostListView, type SummaryView } from '../bot/views/index.js';
import type { Policy, QuietHours } from '../config/policy-schema.js';
import { groupByFix, groupByHostPackage, type FixGroup, type ScoredMatch } from '../core/findings/group.js';
import type { FindingKind, Severity } from '../core/model.js';
import { isEscalation } from '../core/risk/score.js';
import type { Repositories } from '../db/index.js';
import type { NotifyCandidate } from '../db/repositories/notification-queries.js';

// ---------------------------------------------------------------------------------------------
// ports: the change requests (campaigns) and their view

/** What a campaign is made of: one fix for one team. */
export interface CampaignInput {
  team: string;
  /** Default "os". */
  kind?: FindingKind;
  /** Language packages of lockfiles: a bump announced to the team, never deployed. */
  lockfile?: boolean;
  ecosystem: string;
  packageName: string;
  sourcePackage: string;
  fixedVersion: string;
  findingIds: string[];
  riskScore: number;
  severity: Severity;
  kev: boolean;
  environment?: string;
  /** Why the campaign is announced again (its risk rose since it was announced). */
  escalation?: string;
}

export interface CampaignStore {
  /** Creates the active campaign for the fix and team, or adds the findings to the one that exists. */
  upsertCampaign(input: CampaignInput, now: Date): Promise<{ changeId: string; created: boolean }>;
  /** Remembers a top-level message of the campaign (edited in place later). */
  recordMessage(changeId: string, ref: MessageRef): Promise<void>;
  /** The campaign's top-level messages, oldest first. */
  messages(changeId: string): Promise<MessageRef[]>;
}

/** The campaign message as it should look now. */
export type CampaignViewFn = (changeId: string, now: Date) => Promise<CampaignView>;

// ---------------------------------------------------------------------------------------------

export interface NotifyDeps {
  repos: Pick<Repositories, 'notifications' | 'teams'>;
  campaigns: CampaignStore;
  campaignView: CampaignViewFn;
  policy: Pick<Policy, 'teams' | 'notifications' | 'risk'>;
  /** Where to post; undefined = no chat platform configured (nothing is announced). */
  platform?: ChatPlatform;
  now: Date;
  logger: Logger;
  /** Counts posts (metrics). */
  onPost?: (kind: 'campaign' | 'update' | 'escalation' | 'summary' | 'thread') => void;
  /** The command shown in summaries (default "/patch status"). */
  statusCommand?: string;
}

export interface TeamNotifyResult {
  team: string;
  campaignsCreated: number;
  campaignsUpdated: number;
  escalations: number;
  posts: number;
  summary: boolean;
  /** Held for quiet hours (posted by a later run). */
  held: number;
  /** Why nothing was posted, when so (no channel). */
  skipped?: string;
}

export interface NotifyResult {
  /** False when another process was announcing (this run did nothing). */
  ran: boolean;
  findingsNotified: number;
  teams: TeamNotifyResult[];
  /** Findings of hosts without an owning team (left unannounced). */
  withoutTeam: number;
}

type Kind = { kind: 'new' } | { kind: 'escalated'; reason: string };

interface Campaign {
  team: string;
  findingKind: FindingKind;
  lockfile: boolean;
  ecosystem: string;
  fix: FixGroup;
  findings: (NotifyCandidate & Kind)[];
}

/** Whether `now` is inside the quiet hours (a range passing midnight ends the next day). */
export function inQuietHours(q: QuietHours, now: Date): boolean {
  const local = new TZDate(now.getTime(), q.timeZone);
  const minutes = local.getHours() * 60 + local.getMinutes();
  const from = q.from.hour * 60 + q.from.minute;
  const to = q.to.hour * 60 + q.to.minute;
  if (from === to) return false;
  return from < to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

const upper = (s: string) => s.toUpperCase();

/** Why an announced finding is announced again, in words, or undefined when it is not. */
function escalationOf(
  f: NotifyCandidate,
  policy: Pick<Policy, 'risk'>,
  kevCves: ReadonlySet<string>,
): string | undefined {
  const previous = { score: f.notifiedScore ?? 0, kev: f.notifiedKev ?? false, epss: f.notifiedEpss };
  const current = { score: f.riskScore, kev: f.kev, epss: f.epssScore };
  const verdict = isEscalation(previous, current, policy.risk);
  if (!verdict.escalated) return undefined;
  const parts: string[] = [];
  if (!previous.kev && current.kev) {
    const cves = f.cves.map(upper).filter((c) => kevCves.has(c));
    parts.push(
      cves.length > 0
        ? `${cves.join(', ')} ${cves.length === 1 ? 'was' : 'were'} added to CISA KEV`
        : 'it was added to CISA KEV',
    );
  }
  for (const r of verdict.reason.split('; ')) if (r !== 'became KEV') parts.push(r);
  return parts.join('; ');
}

/**
 * A campaign is one source package update: the advisories of Debian, Ubuntu and Alpine name
 * source packages, and one fixed glibc is one change whichever of its binaries (libc6, libc-bin...)
 * a host has installed. Ecosystems without a source/binary split have sourcePackage = package.
 */
function toMatch(f: NotifyCandidate): ScoredMatch {
  return {
    host: f.hostName,
    ...(f.findingKind === 'os' ? {} : { kind: f.findingKind }),
    package: f.sourcePackage,
    sourcePackage: f.sourcePackage,
    arch: '',
    ecosystem: f.ecosystem,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion,
    advisoryId: f.advisoryId,
    cves: f.cves,
    kev: f.kev,
    epss: f.epssScore,
    risk: {
      score: f.riskScore,
      severity: f.severity,
      factors: f.riskFactors,
      ssvc: f.ssvc ?? 'Track',
      dueDate: f.slaDueAt ?? new Date(8.64e15),
      dueReason: f.dueReason ?? '',
    },
  };
}

/** Campaigns of one team: per ecosystem, the version to install per package across hosts. */
function campaignsOf(team: string, findings: (NotifyCandidate & Kind)[]): Campaign[] {
  // a lockfile bump is a campaign of its own: it is announced, never deployed
  const byEcosystem = new Map<string, (NotifyCandidate & Kind)[]>();
  const groupOf = (f: NotifyCandidate): string =>
    `${f.ecosystem}\u0000${f.findingKind}\u0000${f.ownerKind === 'lockfile' ? 'lockfile' : ''}`;
  for (const f of findings) {
    const list = byEcosystem.get(groupOf(f)) ?? [];
    list.push(f);
    byEcosystem.set(groupOf(f), list);
  }
  const out: Campaign[] = [];
  for (const list of byEcosystem.values()) {
    const first = list[0];
    const ecosystem = first.ecosystem;
    const findingKind = first.findingKind;
    const lockfile = first.ownerKind === 'lockfile';
    const byHostPackage = new Map<string, (NotifyCandidate & Kind)[]>();
    for (const f of list) {
      const key = `${f.hostName}\u0000${f.sourcePackage}`;
      const l = byHostPackage.get(key) ?? [];
      l.push(f);
      byHostPackage.set(key, l);
    }
    for (const fix of groupByFix(groupByHostPackage(list.map(toMatch)))) {
      const members = fix.hosts.flatMap((h) => byHostPackage.get(`${h}\u0000${fix.package}`) ?? []);
      out.push({ team, findingKind, lockfile, ecosystem, fix, findings: members });
    }
  }
  return out.sort(
    (a, b) => b.fix.risk.score - a.fix.risk.score || a.fix.package.localeCompare(b.fix.package),
  );
}

export async function notifyNewlyRelevant(deps: NotifyDeps): Promise<NotifyResult> {
  const log = deps.logger.child({ name: 'notify' });
  if (!deps.platform) {
    log.info('no chat platform configured: newly relevant findings stay unannounced');
    return { ran: false, findingsNotified: 0, teams: [], withoutTeam: 0 };
  }
  const platform = deps.platform;
  const locked = await deps.repos.notifications.withLock(() => run(deps, platform, log));
  if (!locked.ran) {
    log.info('another process is announcing findings; this run does nothing');
    return { ran: false, findingsNotified: 0, teams: [], withoutTeam: 0 };
  }
  return locked.value;
}

async function run(deps: NotifyDeps, platform: ChatPlatform, log: Logger): Promise<NotifyResult> {
  const { policy, now } = deps;
  const candidates = await deps.repos.notifications.candidates({
    minRisk: policy.notifications.minRisk,
    escalationDelta: policy.risk.escalationDelta,
    epssEscalation: policy.risk.epssEscalation,
  });
  const facts = await deps.repos.notifications.cveFacts(candidates.flatMap((c) => c.cves.map(upper)));
  const kevCves = new Set([...facts.values()].filter((f) => f.kevDateAdded !== null).map((f) => f.cve));

  const byTeam = new Map<string, (NotifyCandidate & Kind)[]>();
  let withoutTeam = 0;
  for (const c of candidates) {
    let kind: Kind;
    if (c.notifiedAt === null) kind = { kind: 'new' };
    else {
      const reason = escalationOf(c, policy, kevCves);
      if (reason === undefined) continue;
      kind = { kind: 'escalated', reason };
    }
    if (c.team === null) {
      withoutTeam++;
      continue;
    }
    const list = byTeam.get(c.team) ?? [];
    list.push({ ...c, ...kind });
    byTeam.set(c.team, list);
  }
  if (withoutTeam > 0)
    log.warn(
      { findings: withoutTeam },
      'findings on hosts without an owning team are not announced: give the hosts a team or set routing.defaultTeam',
    );

  const result: NotifyResult = { ran: true, findingsNotified: 0, teams: [], withoutTeam };
  for (const [team, findings] of [...byTeam].sort(([a], [b]) => a.localeCompare(b))) {
    const teamResult = await notifyTeam(deps, platform, log, team, findings);
    result.teams.push(teamResult.result);
    if (teamResult.notified.length > 0) {
      result.findingsNotified += await deps.repos.notifications.markNotified(teamResult.notified, now);
    }
  }
  log.info(
    {
      findings: result.findingsNotified,
      teams: result.teams.map((t) => ({
        team: t.team,
        posts: t.posts,
        summary: t.summary,
        skipped: t.skipped,
      })),
    },
    'newly relevant findings announced',
  );
  return result;
}

async function notifyTeam(
  deps: NotifyDeps,
  platform: ChatPlatform,
  log: Logger,
  team: string,
  findings: (NotifyCandidate & Kind)[],
): Promise<{ result: TeamNotifyResult; notified: string[] }> {
  const { now } = deps;
  const result: TeamNotifyResult = {
    team,
    campaignsCreated: 0,
    campaignsUpdated: 0,
    escalations: 0,
    posts: 0,
    summary: false,
    held: 0,
  };
  const channels = (await deps.repos.teams.destinationsOf(team, platform.platform)).map((d) => d.channelId);
  if (channels.length === 0) {
    log.warn(
      { team, findings: findings.length },
      `team has no ${platform.platform} channel: its findings stay unannounced until the policy file gives it one`,
    );
    return { result: { ...result, skipped: 'no channel' }, notified: [] };
  }

  let campaigns = campaignsOf(team, findings);
  const quiet =
    deps.policy.teams.find((t) => t.name === team)?.quietHours ?? deps.policy.notifications.quietHours;
  if (quiet && inQuietHours(quiet, now)) {
    const urgent = (c: Campaign) => quiet.exceptCritical && (c.fix.kev || c.fix.risk.severity === 'critical');
    result.held = campaigns.filter((c) => !urgent(c)).length;
    campaigns = campaigns.filter(urgent);
    if (result.held > 0) log.info({ team, held: result.held }, 'quiet hours: campaigns held for a later run');
  }
  if (campaigns.length === 0) return { result, notified: [] };

  // Create or extend every campaign first; then decide what to post.
  const planned: {
    campaign: Campaign;
    changeId: string;
    created: boolean;
    existing: MessageRef[];
    escalation?: string;
    newHosts: string[];
  }[] = [];
  for (const c of campaigns) {
    const environments = [...new Set(c.findings.map((f) => f.environment))];
    const escalations = [...new Set(c.findings.flatMap((f) => (f.kind === 'escalated' ? [f.reason] : [])))];
    const escalation = escalations.length > 0 ? `Escalated: ${escalations.join('; ')}` : undefined;
    const { changeId, created } = await deps.campaigns.upsertCampaign(
      {
        team,
        ...(c.findingKind === 'os' ? {} : { kind: c.findingKind, lockfile: c.lockfile }),
        ecosystem: c.ecosystem,
        packageName: c.fix.package,
        sourcePackage: c.fix.sourcePackage,
        fixedVersion: c.fix.fixedVersion ?? '',
        findingIds: c.findings.map((f) => f.id),
        riskScore: c.fix.risk.score,
        severity: c.fix.risk.severity,
        kev: c.fix.kev,
        ...(environments.length === 1 ? { environment: environments[0] } : {}),
        ...(escalation === undefined ? {} : { escalation }),
      },
      now,
    );
    const existing = created ? [] : await deps.campaigns.messages(changeId);
    const newHosts = [...new Set(c.findings.filter((f) => f.kind === 'new').map((f) => f.hostName))].sort();
    planned.push({
      campaign: c,
      changeId,
      created,
      existing: existing.filter((m) => m.platform === platform.platform),
      ...(escalation === undefined ? {} : { escalation }),
      newHosts,
    });
    if (created) result.campaignsCreated++;
  }

  const topLevel = planned.filter((p) => p.created || p.existing.length === 0 || p.escalation !== undefined);
  const notified: string[] = [];

  if (topLevel.length > deps.policy.notifications.burstThreshold) {
    // A burst: one summary per channel instead of one message per campaign.
    const top = [...topLevel].sort((a, b) => b.campaign.fix.risk.score - a.campaign.fix.risk.score);
    const views = new Map<string, CampaignView>();
    for (const p of top.slice(0, SUMMARY_TOP))
      views.set(p.changeId, await deps.campaignView(p.changeId, now));
    const summary: SummaryView = {
      type: 'summary',
      team,
      newFixes: topLevel.length,
      packages: new Set(topLevel.map((p) => p.campaign.fix.package)).size,
      findings: topLevel.reduce((n, p) => n + p.campaign.findings.length, 0),
      top: top.slice(0, SUMMARY_TOP).map((p) => {
        const v = views.get(p.changeId);
        return {
          changeId: p.changeId,
          ...(v?.changeNumber === undefined ? {} : { changeNumber: v.changeNumber }),
          package: p.campaign.fix.package,
          fixedVersion: p.campaign.fix.fixedVersion ?? '',
          score: v?.risk.score ?? p.campaign.fix.risk.score,
          band: v?.risk.band ?? p.campaign.fix.risk.severity,
          kev: v?.kev !== undefined || p.campaign.fix.kev,
          hostCount: v?.hosts.count ?? p.campaign.fix.hosts.length,
        };
      }),
      statusCommand: deps.statusCommand ?? (platform.platform === 'teams' ? 'patch status' : '/patch status'),
      asOf: now,
    };
    for (const channel of channels) {
      await platform.post({ channel }, summary);
      deps.onPost?.('summary');
      result.posts++;
    }
    result.summary = true;
    for (const p of topLevel) notified.push(...p.campaign.findings.map((f) => f.id));
  } else {
    for (const p of topLevel) {
      const view = await deps.campaignView(p.changeId, now);
      const content: CampaignView =
        p.escalation === undefined ? view : { ...view, escalationReason: p.escalation };
      const hostList: HostListView = {
        type: 'hosts',
        title: `Affected hosts: ${view.package} → ${view.fixedVersion}`,
        hosts: await hostsOf(p, view),
      };
      const targets =
        p.escalation === undefined
          ? channels.filter((ch) => !p.existing.some((m) => m.channel === ch))
          : channels;
      for (const channel of targets) {
        const ref = await platform.post({ channel }, content);
        deps.onPost?.(p.escalation === undefined ? 'campaign' : 'escalation');
        await deps.campaigns.recordMessage(p.changeId, ref);
        await platform.reply(ref, hostList);
        deps.onPost?.('thread');
        result.posts += 2;
      }
      if (p.escalation !== undefined) result.escalations++;
      notified.push(...p.campaign.findings.map((f) => f.id));
    }
  }

  // Existing campaigns with new hosts: the message is edited in place and the thread says so.
  for (const p of planned) {
    if (topLevel.includes(p)) continue;
    const view = await deps.campaignView(p.changeId, now);
    const hosts = p.newHosts;
    for (const ref of p.existing) {
      await platform.update(ref, view);
      deps.onPost?.('update');
      if (hosts.length > 0) {
        await platform.reply(ref, {
          type: 'hosts',
          title: `${hosts.length} more ${hosts.length === 1 ? 'host' : 'hosts'} affected`,
          hosts: hosts.map((name) => hostLine(p.campaign, name)),
        });
        deps.onPost?.('thread');
      }
      result.posts += hosts.length > 0 ? 2 : 1;
    }
    result.campaignsUpdated++;
    notified.push(...p.campaign.findings.map((f) => f.id));
  }
  return { result, notified };
}

function hostLine(c: Campaign, name: string): HostListView['hosts'][number] {
  const f = c.findings.find((x) => x.hostName === name);
  return {
    name,
    ...(f ? { environment: f.environment, installedVersion: f.installedVersion } : {}),
  };
}

/** The hosts of the campaign message's thread: the view's names, with what this run knows of them. */
async function hostsOf(p: { campaign: Campaign }, view: CampaignView): Promise<HostListView['hosts']> {
  const names = view.hosts.names.length > 0 ? view.hosts.names : p.campaign.fix.hosts;
  return Promise.resolve(names.map((n) => hostLine(p.campaign, n)));
}
