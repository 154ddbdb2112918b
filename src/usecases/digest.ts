/**
 * The weekly digest of a team, posted to the team's chat destinations: the verdict, the headline
 * numbers with their week-over-week change, top risks, SLA breaches, what is due this week, what
 * was patched, accepted risks expiring, and the trend chart (PNG) in the digest's thread. It is
 * posted even when everything is fine, so people know it ran, on every chat platform configured.
 *
 * One digest per team and week (the week of the run, Monday to Sunday in the team's digest time
 * zone), however many workers run it: the run is claimed first (DigestRun, unique per team and
 * week). A run that failed half-way is claimed again by the retry, which skips the channels that
 * already got it. Each run also stores the week's MetricSnapshot of the team and of the fleet.
 */
import type { Logger } from 'pino';
import type { ChatPlatform, Destination, MessageRef } from '../bot/chat-platform.js';
import {
  advisoryUrl,
  cveRef,
  DIGEST_LIST_LIMIT,
  type DigestRiskLine,
  type DigestView,
} from '../bot/views/index.js';
import type { Policy } from '../config/policy-schema.js';
import { userMessageOf } from '../core/errors.js';
import { trendChartSvg } from '../core/metrics/chart.js';
import { verdictOf, type TrendPoint } from '../core/metrics/definitions.js';
import type { Repositories } from '../db/index.js';
import type { RiskLine } from '../db/repositories/metrics-queries.js';
import { svgToPng } from './chart-png.js';
import { coverageReport, requireKnownTeam, saveWeeklySnapshots, type CoverageReport } from './metrics.js';

const DAY = 86_400_000;
/** A claim not finished within this time belongs to a worker that died: another may take it over. */
export const DIGEST_STALE_MS = 15 * 60_000;

export interface DigestDeps {
  repos: Pick<Repositories, 'metrics' | 'teams' | 'advisories'>;
  policy: Pick<Policy, 'reporting' | 'teams'> & Partial<Pick<Policy, 'feeds' | 'coverage'>>;
  /** Where to post (Slack, Teams); none = no chat platform configured (snapshots are still stored). */
  platforms: readonly ChatPlatform[];
  now: Date;
  logger: Logger;
  /** Who claims the run (worker id, "cli:<user>"). */
  claimedBy: string;
  /** The slash command people type (default "/patch"). */
  command?: string;
  /** SVG -> PNG (default: resvg). */
  renderPng?: (chart: ReturnType<typeof trendChartSvg>) => Uint8Array;
}

export type DigestOutcome =
  /** Posted to every destination. */
  | 'posted'
  /** This week's digest was already posted (by another worker or an earlier run). */
  | 'already-posted'
  /** Another worker holds the claim right now. */
  | 'in-progress'
  /** The team has no destination on the platform: nothing to post to. */
  | 'no-destination'
  /** No chat platform is configured. */
  | 'no-platform';

export interface DigestResult {
  team: string;
  weekStart: string;
  outcome: DigestOutcome;
  /** Destinations the digest went to in this run. */
  posted: string[];
  /** Whether the chart was attached everywhere it was posted. */
  chartAttached: boolean;
  verdict?: DigestView['verdict']['kind'];
}

export interface DigestContent {
  view: DigestView;
  png: Uint8Array;
  report: CoverageReport;
}

function riskLine(r: RiskLine): DigestRiskLine {
  const url = advisoryUrl(r.advisoryId);
  return {
    package: r.packageName,
    advisoryId: r.advisoryId,
    ...(url === undefined ? {} : { advisoryUrl: url }),
    cves: r.cves.map((c) => cveRef(c, r.ecosystem)),
    ...(r.fixedVersion === null ? {} : { fixedVersion: r.fixedVersion }),
    score: r.riskScore,
    band: r.severity,
    kev: r.kev,
    ...(r.dueAt === null ? {} : { due: r.dueAt }),
    hosts: r.hosts,
  };
}

/** The chart's title and the sentence that describes it for screen readers. */
function chartText(team: string, trend: TrendPoint[], threshold: string): { title: string; alt: string } {
  const known = trend.filter((p) => p.coverage !== null);
  const first = known[0];
  const last = known[known.length - 1];
  const pct = (x: number | null) => (x === null ? 'unknown' : `${Math.round(x * 100)}%`);
  const alt =
    first && last
      ? `Host coverage of team ${team} went from ${pct(first.coverage)} in the week of ${first.weekStart} to ${pct(last.coverage)} in the week of ${last.weekStart}; open findings at ${threshold} risk or above went from ${first.openRisk ?? 'unknown'} to ${last.openRisk ?? 'unknown'}.`
      : `No coverage history for team ${team} yet.`;
  return { title: `Team ${team}: coverage and open risk, last ${trend.length} weeks`, alt };
}

/** The digest of `team` as of `deps.now`, with its chart. Nothing is stored or posted. */
export async function buildDigest(deps: Omit<DigestDeps, 'claimedBy'>, team: string): Promise<DigestContent> {
  const report = await coverageReport(deps, team, { breakdown: false });
  const m = report.metrics;
  const now = deps.now;
  const reporting = deps.policy.reporting;
  const lists = await deps.repos.metrics.digestLists({
    team,
    now,
    weekAgo: new Date(now.getTime() - 7 * DAY),
    weekAhead: new Date(now.getTime() + 7 * DAY),
    expiringBefore: new Date(now.getTime() + reporting.expiringSoonDays * DAY),
    limit: DIGEST_LIST_LIMIT,
  });
  const text = chartText(team, report.trend, m.threshold);
  const svg = trendChartSvg(report.trend, {
    title: text.title,
    riskLabel: `Open findings at ${m.threshold} risk or above`,
  });
  const png = (deps.renderPng ?? svgToPng)(svg);
  const filename = `patchbot-digest-${team}-${report.weekStart}.png`;
  const view: DigestView = {
    type: 'digest',
    team,
    weekStart: report.weekStart,
    verdict: verdictOf(m, report.notice),
    headlines: report.headlines,
    metrics: m,
    topRisks: lists.topRisks.map(riskLine),
    slaBreaches: { total: m.open.overdue, lines: lists.slaBreaches.map(riskLine) },
    dueThisWeek: { total: m.open.dueThisWeek, lines: lists.dueThisWeek.map(riskLine) },
    patched: {
      total: lists.patchedTotals.findings,
      hosts: lists.patchedTotals.hosts,
      lines: lists.patched.map((p) => ({ package: p.packageName, findings: p.findings, hosts: p.hosts })),
    },
    expiringAcceptances: {
      total: m.acceptedRisks.expiringSoon,
      withinDays: m.acceptedRisks.withinDays,
      lines: lists.expiringAcceptances.map((a) => ({
        owner: a.owner,
        reason: a.reason,
        expires: a.expiresAt,
        ...(a.packageName === null ? {} : { package: a.packageName }),
        ...(a.advisoryId === null ? {} : { advisoryId: a.advisoryId }),
        cves: a.cves.map((c) => cveRef(c)),
        findings: a.findings,
      })),
    },
    trend: report.trend,
    chart: { filename, title: text.title, altText: text.alt, width: svg.width, height: svg.height },
    coverageCommand: `${deps.command ?? '/patch'} coverage ${team}`,
    asOf: now,
    feeds: report.feeds,
    ...(report.notice === undefined ? {} : { notice: report.notice }),
    notCovered: report.hosts
      .filter((h) => h.state !== 'covered')
      .map((h) => ({ name: h.name, state: h.state, detail: h.detail })),
  };
  return { view, png, report };
}

/**
 * Runs the weekly digest of `team` now: stores the week's snapshots, claims the team's week and,
 * when the claim is this run's, posts the digest and its chart to every destination of the team
 * on `deps.platform`. A failure marks the run failed (a retry claims it again) and is rethrown.
 */
export async function runDigest(deps: DigestDeps, team: string): Promise<DigestResult> {
  await requireKnownTeam(deps.repos, team);
  const log = deps.logger.child({ name: 'digest', team });
  const content = await buildDigest(deps, team);
  const { view, png } = content;
  await saveWeeklySnapshots(deps, team, content.report.metrics);
  const result: DigestResult = {
    team,
    weekStart: view.weekStart,
    outcome: 'posted',
    posted: [],
    chartAttached: false,
    verdict: view.verdict.kind,
  };
  if (deps.platforms.length === 0) {
    log.warn('no chat platform configured: the digest is not posted (snapshots were stored)');
    return { ...result, outcome: 'no-platform' };
  }
  const targets: { platform: ChatPlatform; channel: string }[] = [];
  for (const platform of deps.platforms)
    for (const d of await deps.repos.teams.destinationsOf(team, platform.platform))
      targets.push({ platform, channel: d.channelId });
  if (targets.length === 0) {
    log.warn(
      { platforms: deps.platforms.map((p) => p.platform) },
      'the team has no chat destination: the digest is not posted',
    );
    return { ...result, outcome: 'no-destination' };
  }
  const claim = await deps.repos.metrics.claimDigest({
    team,
    weekStart: view.weekStart,
    claimedBy: deps.claimedBy,
    now: deps.now,
    staleBefore: new Date(deps.now.getTime() - DIGEST_STALE_MS),
  });
  if (!claim.claimed) {
    log.info({ week: view.weekStart, state: claim.state }, 'digest already handled for this week');
    return { ...result, outcome: claim.state === 'posted' ? 'already-posted' : 'in-progress' };
  }
  try {
    let chartEverywhere = true;
    for (const platform of deps.platforms) {
      const mine = targets.filter((t) => t.platform === platform).map((t) => t.channel);
      const done = await deps.repos.metrics.digestChannelsSince(platform.platform, mine, claim.createdAt);
      for (const channel of mine) {
        if (done.has(channel)) continue;
        const to: Destination = { channel };
        const ref: MessageRef = await platform.post(to, view);
        await deps.repos.metrics.recordDigestMessage(ref);
        result.posted.push(`${platform.platform}:${channel}`);
        try {
          await platform.uploadPng(
            to,
            {
              filename: view.chart?.filename ?? `patchbot-digest-${team}.png`,
              data: png,
              title: view.chart?.title ?? `Team ${team}: coverage and open risk`,
              altText: view.chart?.altText ?? '',
            },
            ref,
          );
        } catch (err) {
          // The digest itself went out: a missing chart does not make it go out twice.
          chartEverywhere = false;
          log.warn(
            { err: userMessageOf(err), platform: platform.platform, channel },
            'the digest chart could not be uploaded',
          );
        }
      }
    }
    result.chartAttached = chartEverywhere;
    await deps.repos.metrics.finishDigest(claim.runId, { posted: true, at: deps.now });
    log.info({ week: view.weekStart, channels: result.posted, verdict: view.verdict.kind }, 'digest posted');
    return result;
  } catch (err) {
    await deps.repos.metrics.finishDigest(claim.runId, { posted: false, error: userMessageOf(err) });
    throw err;
  }
}
