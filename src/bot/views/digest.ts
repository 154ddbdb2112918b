/**
 * The weekly digest of one team: a one-line verdict, the headline numbers with their
 * week-over-week change, the top risks, SLA breaches and what is due this week, what was patched,
 * and accepted risks about to expire. The trend chart is a PNG posted with the digest through
 * ChatPlatform.uploadPng; the view only names it (`chart`), so every platform renders the same data.
 */
import type { FeedAge } from '../../core/freshness/feeds.js';
import type { HostState } from '../../core/metrics/coverage.js';
import type { Headline, ScopeMetrics, TrendPoint, Verdict } from '../../core/metrics/definitions.js';
import type { CveRef, Severity } from './common.js';

/** One advisory on one package, over the team's hosts. */
export interface DigestRiskLine {
  package: string;
  advisoryId: string;
  /** Where to read about the advisory, when a well-known page exists. */
  advisoryUrl?: string;
  cves: CveRef[];
  /** Undefined: no fix yet. */
  fixedVersion?: string;
  score: number;
  band: Severity;
  kev: boolean;
  /** Earliest SLA due date over the hosts. */
  due?: Date;
  hosts: number;
}

export interface DigestPatchedLine {
  package: string;
  findings: number;
  hosts: number;
}

export interface DigestAcceptanceLine {
  owner: string;
  reason: string;
  expires: Date;
  package?: string;
  advisoryId?: string;
  cves: CveRef[];
  /** Findings the acceptance covers. */
  findings: number;
}

/** A list that may show fewer lines than it has (`total`). */
export interface DigestList<T> {
  total: number;
  lines: T[];
}

export interface DigestView {
  type: 'digest';
  team: string;
  /** Monday the digest's week starts on ("YYYY-MM-DD", in the team's time zone). */
  weekStart: string;
  verdict: Verdict;
  /** Headline numbers with their change against the previous week. */
  headlines: Headline[];
  /** Every number of the team (docs/metrics.md). */
  metrics: ScopeMetrics;
  /** Highest-risk open findings (at most five). */
  topRisks: DigestRiskLine[];
  /** Open findings past their SLA due date. */
  slaBreaches: DigestList<DigestRiskLine>;
  /** Open findings due within the next seven days. */
  dueThisWeek: DigestList<DigestRiskLine>;
  /** Fixed in the last seven days. */
  patched: DigestList<DigestPatchedLine> & { hosts: number };
  /** Accepted risks expiring within `withinDays`. */
  expiringAcceptances: DigestList<DigestAcceptanceLine> & { withinDays: number };
  /** Coverage and open risk per week, oldest first (the chart's data). */
  trend: TrendPoint[];
  /** The chart posted with the digest (PNG, sent separately), when one was rendered. */
  chart?: { filename: string; title: string; altText: string; width: number; height: number };
  /** Where to see more, e.g. "/patch coverage payments". */
  coverageCommand: string;
  asOf: Date;
  /** Every feed's age; `notice` says "advisory data is N days old" when one is stale. */
  feeds: FeedAge[];
  notice?: string;
  /** The team's hosts that are not covered, with their state and why. */
  notCovered: { name: string; state: HostState; detail: string }[];
}

/** Lines of each digest list shown at most. */
export const DIGEST_LIST_LIMIT = 10;
