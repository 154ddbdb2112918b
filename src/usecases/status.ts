/**
 * `/patch status` from live PostgreSQL data: the fleet or a team (counts by risk band, KEV overdue,
 * SLA breaches this week, reboots, deployments, approvals waiting), one host, one CVE, one
 * advisory. Everything is counted in the database. `/patch coverage` is src/usecases/metrics.ts.
 */
import type { StatusTarget } from '../bot/commands.js';
import {
  advisoryUrl,
  cveRef,
  type CampaignLine,
  type CampaignStateKind,
  type OpenFindingLine,
  type StatusView,
} from '../bot/views/index.js';
import type { Policy } from '../config/policy-schema.js';
import { NotFoundError } from '../core/errors.js';
import { DEFAULT_FEED_MAX_AGE, feedAges, staleNotice, type FeedAge } from '../core/freshness/feeds.js';
import { groupByHostPackage, type ScoredMatch } from '../core/findings/group.js';
import type { Repositories } from '../db/index.js';
import type { CampaignRow } from '../db/repositories/status-queries.js';
import { unknownHost } from './hosts.js';
import { hostCoverage } from './metrics.js';

export type StatusRepos = Pick<Repositories, 'status' | 'hosts' | 'teams' | 'advisories' | 'metrics'>;

export interface StatusDeps {
  repos: StatusRepos;
  /** `feeds.maxAge` and `coverage` default when left out. */
  policy: Pick<Policy, 'reporting' | 'teams'> & Partial<Pick<Policy, 'feeds' | 'coverage'>>;
  now: Date;
}

/** Every feed's age and the stale-data line, for an answer that shows them. */
async function freshness(deps: StatusDeps): Promise<{ feeds: FeedAge[]; notice?: string }> {
  const feeds = feedAges(
    await deps.repos.advisories.feedFreshness(),
    deps.policy.feeds?.maxAge ?? DEFAULT_FEED_MAX_AGE,
    deps.now,
  );
  const notice = staleNotice(feeds);
  return notice === undefined ? { feeds } : { feeds, notice };
}

/** The answer to `/patch status [target]`. */
export async function statusFor(deps: StatusDeps, target?: StatusTarget): Promise<StatusView> {
  if (target === undefined) return scopeStatus(deps);
  switch (target.kind) {
    case 'host':
      return hostStatus(deps, target.name);
    case 'team':
      return scopeStatus(deps, await requireTeam(deps, target.name));
    case 'cve':
      return cveStatus(deps, target.id);
    case 'advisory':
      return advisoryStatus(deps, target.id);
    case 'name': {
      if (await deps.repos.hosts.get(target.name)) return hostStatus(deps, target.name);
      if (await deps.repos.teams.exists(target.name)) return scopeStatus(deps, target.name);
      const hosts = (await deps.repos.hosts.list()).map((h) => h.name);
      const teams = await deps.repos.teams.names();
      throw new NotFoundError(
        `no host or team named ${JSON.stringify(target.name)}` +
          (hosts.length + teams.length > 0 ? '' : ' (none are defined yet)'),
        { details: { name: target.name } },
      );
    }
  }
}

async function requireTeam(deps: StatusDeps, name: string): Promise<string> {
  if (await deps.repos.teams.exists(name)) return name;
  const teams = await deps.repos.teams.names();
  throw new NotFoundError(
    `no team named ${JSON.stringify(name)}${teams.length > 0 ? ` (teams: ${teams.slice(0, 20).join(', ')})` : ''}`,
    { details: { team: name } },
  );
}

/** The fleet (team undefined) or one team. "This week" starts on Monday 00:00 UTC. */
export async function scopeStatus(deps: StatusDeps, team?: string): Promise<StatusView> {
  const counts = await deps.repos.status.counts({
    ...(team === undefined ? {} : { team }),
    now: deps.now,
    since: mondayUtc(deps.now),
  });
  const deployments = (await deps.repos.status.runningDeployments(team)).map((d) => ({
    changeId: d.changeId,
    changeNumber: d.changeNumber,
    package: d.package,
    fixedVersion: d.fixedVersion,
    ring: d.ring,
    rings: d.rings,
    ...(d.team === null ? {} : { team: d.team }),
  }));
  const common = {
    hosts: counts.hosts,
    openByBand: counts.openByBand,
    openByKind: counts.openByKind,
    kevOverdue: counts.kevOverdue,
    slaBreachesThisWeek: counts.slaBreaches,
    hostsNeedingReboot: counts.hostsNeedingReboot,
    pendingApprovals: counts.pendingApprovals,
    deployments,
  };
  return {
    type: 'status',
    scope: team === undefined ? { kind: 'fleet', ...common } : { kind: 'team', team, ...common },
    asOf: deps.now,
    ...(await freshness(deps)),
  };
}

/** Monday 00:00 UTC of the week `now` is in. */
export function mondayUtc(now: Date): Date {
  const day = now.getUTCDay(); // 0 = Sunday
  const back = (day + 6) % 7;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - back));
}

export async function hostStatus(deps: StatusDeps, name: string): Promise<StatusView> {
  const host = await deps.repos.hosts.get(name);
  if (!host)
    throw unknownHost(
      name,
      (await deps.repos.hosts.list()).map((h) => h.name),
    );
  const rows = await deps.repos.status.openFindingsOfHost(host.id);
  // One line per package and version to install (the highest fix carries the lower ones).
  const matches: ScoredMatch[] = rows.map((r) => ({
    host: host.name,
    package: r.packageName,
    sourcePackage: r.packageName,
    arch: '',
    ecosystem: r.ecosystem,
    installedVersion: r.installedVersion,
    fixedVersion: r.fixedVersion,
    advisoryId: r.advisoryId,
    cves: r.cves,
    kev: r.kev,
    epss: null,
    risk: {
      score: r.riskScore,
      severity: r.severity,
      factors: [],
      ssvc: 'Track',
      dueDate: r.slaDueAt ?? deps.now,
      dueReason: '',
    },
  }));
  const open: OpenFindingLine[] = groupByHostPackage(matches).map((g) => ({
    package: g.package,
    installedVersion: g.installedVersion,
    fixedVersion: g.fixedVersion ?? 'no fix yet',
    cves: g.cves,
    score: g.risk.score,
    band: g.risk.severity,
    due: g.dueDate,
    kev: g.kev,
  }));
  const os = [host.osFamily, host.osRelease].filter((x): x is string => !!x).join(' ');
  const coverage = await hostCoverage(deps, host.name);
  return {
    type: 'status',
    scope: {
      kind: 'host',
      host: host.name,
      environment: host.environment,
      ...(host.team === null ? {} : { team: host.team }),
      os: os === '' ? 'unknown (no inventory yet)' : os,
      ...(host.kernel ? { kernel: host.kernel } : {}),
      ...(host.lastInventoryAt ? { lastInventory: host.lastInventoryAt } : {}),
      rebootRequired: host.rebootRequired,
      open,
      ...(coverage ? { coverage: { state: coverage.state, detail: coverage.detail } } : {}),
    },
    asOf: deps.now,
    ...(await freshness(deps)),
  };
}

const STATE_OF: Record<string, CampaignStateKind> = {
  pending: 'pending',
  approved: 'approved',
  rejected: 'rejected',
  deferred: 'deferred',
  accepted_risk: 'risk-accepted',
  scheduled: 'scheduled',
  deploying: 'deploying',
  completed: 'done',
  failed: 'failed',
  halted: 'halted',
  rolled_back: 'failed',
  cancelled: 'done',
  expired: 'pending',
};

function campaignLines(rows: CampaignRow[]): CampaignLine[] {
  return rows.map((c) => ({
    changeId: c.changeId,
    changeNumber: c.changeNumber,
    package: c.package,
    fixedVersion: c.fixedVersion,
    ...(c.team === null ? {} : { team: c.team }),
    state: STATE_OF[c.status] ?? 'pending',
  }));
}

export async function cveStatus(deps: StatusDeps, cve: string): Promise<StatusView> {
  const id = cve.toUpperCase();
  const enrichment = (await deps.repos.advisories.enrichmentFor([id])).get(id);
  const summary = await deps.repos.status.summaryForCve(id);
  const affectedHosts = await deps.repos.status.affectedHosts({ cve: id });
  if (!enrichment && summary === undefined && affectedHosts === 0)
    throw new NotFoundError(
      `patchbot knows nothing about ${id}: no advisory, enrichment or finding names it`,
      {
        details: { cve: id },
      },
    );
  const cvss = await deps.repos.status.cvss(id);
  const campaigns = campaignLines(await deps.repos.status.campaignsFor({ cve: id }));
  return {
    type: 'status',
    scope: {
      kind: 'cve',
      cve: cveRef(id),
      ...(summary === undefined ? {} : { summary }),
      ...(cvss ? { cvss } : {}),
      ...(enrichment?.kev
        ? {
            kev: {
              dueDate: new Date(`${enrichment.kev.dueDate}T00:00:00Z`),
              ransomware: enrichment.kev.knownRansomware,
            },
          }
        : {}),
      ...(enrichment?.epss
        ? { epss: { score: enrichment.epss.score, percentile: enrichment.epss.percentile } }
        : {}),
      affectedHosts,
      campaigns,
    },
    asOf: deps.now,
  };
}

export async function advisoryStatus(deps: StatusDeps, id: string): Promise<StatusView> {
  const advisory = await deps.repos.status.advisory(id);
  if (!advisory)
    throw new NotFoundError(`no advisory ${JSON.stringify(id)} is stored`, { details: { advisory: id } });
  const url = advisoryUrl(advisory.id);
  return {
    type: 'status',
    scope: {
      kind: 'advisory',
      id: advisory.id,
      ...(url === undefined ? {} : { url }),
      ...(advisory.summary === '' ? {} : { summary: advisory.summary }),
      cves: advisory.cves.map((c) => cveRef(c)),
      affectedHosts: await deps.repos.status.affectedHosts({ advisoryId: advisory.id }),
      campaigns: campaignLines(await deps.repos.status.campaignsFor({ advisoryId: advisory.id })),
    },
    asOf: deps.now,
  };
}
