/**
 * One fix campaign (one fix x one team) as a chat message: what to install, why (risk, CVEs, KEV,
 * EPSS, SSVC), where (hosts, rings), by when (SLA) and where it stands (state + the buttons that
 * make sense in that state). The message is edited in place as the state changes.
 */
import type { CveRef, PersonRef, Severity, SsvcDecision } from './common.js';

/**
 * The buttons a campaign message can carry; each maps to one handler `kind`. Pause, resume, abort
 * and rollback control the change's deployment (the same approval policy decides who may press).
 */
export const CAMPAIGN_ACTIONS = [
  'request',
  'approve',
  'reject',
  'defer',
  'accept_risk',
  'pause',
  'resume',
  'abort',
  'rollback',
  'details',
] as const;
export type CampaignActionKind = (typeof CAMPAIGN_ACTIONS)[number];

/** The campaign buttons that control a deployment. */
export const DEPLOYMENT_ACTIONS = ['pause', 'resume', 'abort', 'rollback'] as const;
export type DeploymentActionKind = (typeof DEPLOYMENT_ACTIONS)[number];

/** Buttons that undo work on hosts: the platform asks "are you sure?" before sending them. */
export const CONFIRMED_ACTIONS: ReadonlySet<CampaignActionKind> = new Set(['abort', 'rollback']);

export interface Approval {
  by: PersonRef;
  at: Date;
}

/** Who asked for the rollout (the requester cannot approve it). */
export interface RolloutRequest {
  by: PersonRef;
  at: Date;
  /** Asked for the emergency lane (its own quorum). */
  emergency: boolean;
  reason?: string;
}

export type CampaignState =
  | { kind: 'pending'; approvals: Approval[]; required: number; request?: RolloutRequest }
  | { kind: 'approved'; approvals: Approval[]; required: number; at: Date; request?: RolloutRequest }
  | { kind: 'rejected'; by: PersonRef; at: Date; reason: string }
  | {
      kind: 'deferred';
      by: PersonRef;
      at: Date;
      until: Date;
      reason?: string;
      approvals?: Approval[];
      required?: number;
      request?: RolloutRequest;
    }
  | { kind: 'risk-accepted'; by: PersonRef; at: Date; reason: string; expires: Date }
  | { kind: 'scheduled'; startsAt?: Date; window?: string; deployment?: number }
  | {
      kind: 'deploying';
      ring: number;
      rings: number;
      ringName?: string;
      hostsDone?: number;
      hostsTotal?: number;
      deployment?: number;
      /** Between rings: the next ring starts after this. */
      soakUntil?: Date;
    }
  | { kind: 'done'; at: Date; hostsPatched?: number; deployment?: number }
  | {
      kind: 'failed';
      at: Date;
      reason: string;
      deployment?: number;
      /** Hosts were changed and can still be rolled back (an aborted deployment, a failed rollback). */
      canRollBack?: boolean;
    }
  | {
      kind: 'halted';
      at: Date;
      reason: string;
      by?: PersonRef;
      deployment?: number;
      /** Paused by a person: it can be resumed. */
      paused?: boolean;
      /** The changed hosts are being rolled back. */
      rollingBack?: boolean;
    };

export type CampaignStateKind = CampaignState['kind'];

export interface RiskSummary {
  /** 0-100. */
  score: number;
  band: Severity;
  /** The largest contributions first; renderers show at most a few. */
  topFactors: { label: string; contribution: number }[];
}

/** A record in an ITSM tool: "ServiceNow CHG0031234", with its page and what it waits for. */
export interface ItsmRecordView {
  system: 'ServiceNow' | 'Jira';
  kind: 'change' | 'incident';
  number: string;
  url: string;
  /** "waiting for CAB approval", "CAB approved", "CAB rejected". */
  note?: string;
}

/** "ServiceNow CHG0031234 (waiting for CAB approval)" */
export function itsmRecordText(r: ItsmRecordView): string {
  return `${r.system}${r.kind === 'incident' ? ' incident' : ''} ${r.number}${r.note ? ` (${r.note})` : ''}`;
}

export interface CampaignView {
  type: 'campaign';
  /** Change request id: the value every button carries. */
  changeId: string;
  /** The short number people type ("/patch approve 42"). */
  changeNumber?: number;
  team: string;
  environment?: string;
  /** "Debian:12", "Ubuntu:22.04:LTS", "npm"... */
  ecosystem: string;
  /** What the fix installs; absent: distribution packages. */
  kind?: 'third-party' | 'firmware';
  /**
   * Language packages and firmware: where the fix applies on each host (interpreter, lockfile,
   * device) and what patchbot does and does not do with it.
   */
  baseline?: BaselineFixView;
  package: string;
  sourcePackage?: string;
  fixedVersion: string;
  /** Advisory ids behind the fix (DSA-5514-1, USN-...). */
  advisories: string[];
  summary?: string;
  risk: RiskSummary;
  cves: CveRef[];
  kev?: { dueDate: Date; ransomware: boolean; dateAdded?: Date };
  epss?: { score: number; percentile: number };
  ssvc?: SsvcDecision;
  hosts: { count: number; names: string[] };
  slaDue: Date;
  slaReason?: string;
  /** Planned rings in order: "canary (2 hosts)". */
  rings: { name: string; hostCount: number }[];
  state: CampaignState;
  /** The buttons to show (see `campaignActions`). */
  actions: CampaignActionKind[];
  /** Set on a re-post: why the campaign is posted again at the top ("became KEV", "risk rose to 91"). */
  escalationReason?: string;
  /** The change's records in the team's ITSM tool (change record first, then incidents). */
  itsm?: ItsmRecordView[];
  /** When the view was built: "overdue" and "due in" are relative to it. */
  asOf: Date;
}

/**
 * Buttons per state: decisions while pending; deployment controls while a deployment is scheduled,
 * running, paused or halted (only the moves its state allows); Details always.
 */
export function campaignActions(state: CampaignState): CampaignActionKind[] {
  switch (state.kind) {
    case 'pending':
      // Anyone may ask for the rollout until someone has; approvers may approve directly.
      return state.request
        ? ['approve', 'reject', 'defer', 'accept_risk', 'details']
        : ['request', 'approve', 'reject', 'defer', 'accept_risk', 'details'];
    case 'deferred':
      // A deferral can be overridden by deciding now.
      return ['approve', 'reject', 'details'];
    case 'scheduled':
    case 'deploying':
      return ['pause', 'abort', 'details'];
    case 'halted':
      if (state.rollingBack) return ['details'];
      if (state.paused) return ['resume', 'abort', 'rollback', 'details'];
      return ['rollback', 'abort', 'details'];
    case 'failed':
      return state.canRollBack ? ['rollback', 'details'] : ['details'];
    case 'approved':
    case 'rejected':
    case 'risk-accepted':
    case 'done':
      return ['details'];
  }
}

export interface BaselineFixView {
  /** One line per place: "app-1: lockfile /srv/app/requirements.txt (Jinja2 2.10.1)". */
  places: string[];
  /** What to do, and that patchbot does not deploy it ("bump the pin in each project..."). */
  note: string;
}

/** "[firmware] " / "[third-party PyPI] " before a campaign's package, "" for distribution packages. */
export function campaignKindPrefix(view: Pick<CampaignView, 'kind' | 'ecosystem'>): string {
  if (view.kind === 'firmware') return '[firmware] ';
  if (view.kind === 'third-party') return `[third-party ${view.ecosystem}] `;
  return '';
}

/** Host list for the campaign's thread. */
export interface HostListView {
  type: 'hosts';
  title: string;
  hosts: { name: string; environment?: string; installedVersion?: string }[];
}

/** " (deployment #3)" when the state names its deployment. */
export function campaignDeploymentLabel(state: { deployment?: number }): string {
  return state.deployment === undefined ? '' : ` (deployment #${state.deployment})`;
}

/** The state in a few words, for one-line mentions ("waiting for approval (1/2)"). */
export function campaignStateWord(state: CampaignState): string {
  switch (state.kind) {
    case 'pending':
      return `waiting for approval (${state.approvals.length}/${state.required})`;
    case 'deploying':
      return `deploying ring ${state.ring}/${state.rings}`;
    case 'risk-accepted':
      return 'risk accepted';
    default:
      return state.kind;
  }
}

/** What each button says, on every platform. */
export const CAMPAIGN_ACTION_LABELS: Readonly<Record<CampaignActionKind, string>> = {
  request: 'Request rollout',
  approve: 'Approve',
  reject: 'Reject',
  defer: 'Defer',
  accept_risk: 'Accept risk',
  pause: 'Pause',
  resume: 'Resume',
  abort: 'Abort',
  rollback: 'Roll back',
  details: 'Details',
};
