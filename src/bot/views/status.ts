/**
 * `/patch status` answers: the fleet, one team, one host, one CVE, one advisory. Counts are
 * computed by the use case; views only carry them.
 */
import type { CveRef, Severity, SsvcDecision } from './common.js';
import type { CampaignStateKind } from './campaign.js';
import type { FeedAge } from '../../core/freshness/feeds.js';
import type { HostState } from '../../core/metrics/coverage.js';
import type { Headline, ScopeMetrics, TrendPoint } from '../../core/metrics/definitions.js';

export interface StatusCounts {
  hosts: number;
  openByBand: Record<Severity, number>;
  /** Open findings of distribution packages, language packages and firmware (fleet view). */
  openByKind?: { os: number; thirdParty: number; firmware: number };
  kevOverdue: number;
  slaBreachesThisWeek: number;
  hostsNeedingReboot: number;
  pendingApprovals: number;
}

export interface RunningDeployment {
  changeId: string;
  changeNumber?: number;
  package: string;
  fixedVersion: string;
  ring: number;
  rings: number;
  team?: string;
}

export interface CampaignLine {
  changeId: string;
  changeNumber?: number;
  package: string;
  fixedVersion: string;
  team?: string;
  state: CampaignStateKind;
}

export interface OpenFindingLine {
  package: string;
  installedVersion: string;
  fixedVersion: string;
  cves: string[];
  score: number;
  band: Severity;
  due: Date;
  kev: boolean;
}

export type StatusScope =
  | ({ kind: 'fleet'; deployments: RunningDeployment[] } & StatusCounts)
  | ({ kind: 'team'; team: string; deployments: RunningDeployment[] } & StatusCounts)
  | {
      kind: 'host';
      host: string;
      environment: string;
      team?: string;
      os: string;
      kernel?: string;
      lastInventory?: Date;
      rebootRequired: boolean;
      open: OpenFindingLine[];
      /** Its coverage state: whether it was assessed, and why not. */
      coverage?: { state: HostState; detail: string };
    }
  | {
      kind: 'cve';
      cve: CveRef;
      summary?: string;
      cvss?: { score: number; version: string };
      kev?: { dueDate: Date; ransomware: boolean };
      epss?: { score: number; percentile: number };
      ssvc?: SsvcDecision;
      affectedHosts: number;
      campaigns: CampaignLine[];
    }
  | {
      kind: 'advisory';
      id: string;
      url?: string;
      summary?: string;
      cves: CveRef[];
      affectedHosts: number;
      campaigns: CampaignLine[];
    };

export interface StatusView {
  type: 'status';
  scope: StatusScope;
  asOf: Date;
  /** Every feed's age (fleet, team and host answers); `notice` when one is stale. */
  feeds?: FeedAge[];
  notice?: string;
}

/**
 * `/patch coverage [team]`: the metrics of docs/metrics.md for the fleet or one team, the headline
 * numbers with their week-over-week change, the trend, and the same numbers per team, environment
 * and host group. `patchbot report coverage` prints the same report.
 */
export interface CoverageView {
  type: 'coverage';
  /** Undefined: the fleet. */
  team?: string;
  metrics: ScopeMetrics;
  headlines: Headline[];
  trend: TrendPoint[];
  breakdown: { kind: 'team' | 'environment' | 'group'; rows: { name: string; metrics: ScopeMetrics }[] }[];
  /** Monday of the current week ("YYYY-MM-DD"). */
  weekStart: string;
  asOf: Date;
  /** Every feed's age; `notice` says "advisory data is N days old" when one is stale. */
  feeds: FeedAge[];
  notice?: string;
  /** The hosts that are not covered, with their state and why. */
  notCovered: { name: string; state: HostState; detail: string }[];
}
