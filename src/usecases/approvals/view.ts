/**
 * A change request as its campaign message shows it now: built from live state (the change, its
 * findings, decisions, CVE facts and latest deployment), never from what was posted before.
 */
import {
  campaignActions,
  cveRef,
  type Approval,
  type CampaignState,
  type CampaignView,
  type ItsmRecordView,
  type PersonRef,
  type BaselineFixView,
} from '../../bot/views/index.js';
import { assignRings, type PlanHost } from '../../core/deployments/plan.js';
import type { RiskFactor, Severity, SsvcDecision } from '../../core/model.js';
import { ledgerState, type LedgerEntry } from '../../core/policy/ledger.js';
import type { Policy } from '../../config/policy-schema.js';
import type {
  ChangeDetail,
  ChangeFindingRecord,
  DecisionRecord,
} from '../../db/repositories/change-repository.js';
import type { ItsmLinkRecord } from '../../db/repositories/itsm-link-repository.js';
import type { CveFacts } from '../../db/repositories/notification-queries.js';
import type { HostRecord } from '../../db/types.js';
import { languageRuleFor, languageToolOf, ringSpecs } from '../deployments/plan.js';
import { ledgerOf, ledgerPolicy, type ApprovalPolicy } from './rules.js';

const SSVC: Record<string, SsvcDecision> = {
  Track: 'Track',
  TrackStar: 'Track*',
  Attend: 'Attend',
  Act: 'Act',
};

export function personOf(d: Pick<DecisionRecord, 'actorId' | 'actorDisplay' | 'surface'>): PersonRef {
  return {
    ...(d.surface === 'slack' || d.surface === 'teams' ? { id: d.actorId } : {}),
    platform: d.surface,
    name: d.actorDisplay ?? d.actorId,
  };
}

function latest(change: ChangeDetail, kind: DecisionRecord['kind']): DecisionRecord | undefined {
  return [...change.decisions].reverse().find((d) => d.kind === kind && d.revokedAt === null);
}

const FACTOR_SHAPE = (v: unknown): v is RiskFactor =>
  typeof v === 'object' && v !== null && 'label' in v && 'contribution' in v;

/** The person of a ledger row, with the surface of its decision record. */
function personOfEntry(change: ChangeDetail, e: LedgerEntry): PersonRef {
  const rec = change.decisions.find(
    (x) => x.actorId === e.actorId && x.kind === e.kind && x.createdAt.getTime() === e.at.getTime(),
  );
  return rec ? personOf(rec) : { name: e.actorName ?? e.actorId };
}

/** The state the message shows: decisions until a deployment exists, then the deployment's. */
export function campaignStateOf(
  policy: ApprovalPolicy,
  change: ChangeDetail,
  /** The state of the change's latest deployment (deployments/chat deploymentCampaignState). */
  deployment: CampaignState | undefined,
  now: Date,
  groupsOf: (actorId: string) => readonly string[] = () => [],
): CampaignState {
  if (deployment && !['rejected', 'accepted_risk', 'pending', 'deferred'].includes(change.status))
    return deployment;
  const state = ledgerState(ledgerOf(change), change.round, ledgerPolicy(policy, change, groupsOf), now);
  const approvals: Approval[] = state.approvals.map((e) => ({ by: personOfEntry(change, e), at: e.at }));
  const requestRecord = state.request
    ? change.decisions.find(
        (d) => d.kind === 'request' && d.createdAt.getTime() === state.request?.at.getTime(),
      )
    : undefined;
  const request = state.request
    ? {
        request: {
          by: personOfEntry(change, state.request),
          at: state.request.at,
          emergency: state.emergency,
          ...(requestRecord?.reason ? { reason: requestRecord.reason } : {}),
        },
      }
    : {};
  const required = state.quorum;
  switch (change.status) {
    case 'rejected': {
      const d = latest(change, 'reject');
      return {
        kind: 'rejected',
        by: d ? personOf(d) : { name: 'unknown' },
        at: d?.createdAt ?? now,
        reason: d?.reason ?? '',
      };
    }
    case 'accepted_risk': {
      const d = latest(change, 'accept_risk');
      return {
        kind: 'risk-accepted',
        by: d ? personOf(d) : { name: 'unknown' },
        at: d?.createdAt ?? now,
        reason: d?.reason ?? '',
        expires: d?.expiresAt ?? now,
      };
    }
    case 'deferred': {
      const d = latest(change, 'defer');
      if (change.deferUntil && change.deferUntil.getTime() > now.getTime())
        return {
          kind: 'deferred',
          by: d ? personOf(d) : { name: 'unknown' },
          at: d?.createdAt ?? now,
          until: change.deferUntil,
          ...(d?.reason ? { reason: d.reason } : {}),
          approvals,
          required,
          ...request,
        };
      return { kind: 'pending', approvals, required, ...request };
    }
    case 'approved':
      return { kind: 'approved', approvals, required, at: change.approvedAt ?? now, ...request };
    case 'scheduled':
      return { kind: 'scheduled' };
    case 'completed':
      return { kind: 'done', at: change.closedAt ?? now };
    case 'failed':
      return { kind: 'failed', at: change.closedAt ?? now, reason: 'the deployment failed' };
    case 'halted':
    case 'rolled_back':
      return {
        kind: 'halted',
        at: change.closedAt ?? now,
        reason: `deployment ${change.status.replace('_', ' ')}`,
      };
    case 'cancelled':
    case 'expired':
      return { kind: 'failed', at: change.closedAt ?? now, reason: `change ${change.status}` };
    case 'deploying':
      return { kind: 'deploying', ring: 1, rings: 1 };
    case 'pending':
    default:
      return { kind: 'pending', approvals, required, ...request };
  }
}

/** The rings the change's hosts would go through, with how many hosts each. */
export function plannedRings(
  policy: Pick<Policy, 'rings'>,
  hosts: readonly HostRecord[],
): { name: string; hostCount: number }[] {
  const planHosts: PlanHost[] = hosts.map((h) => ({
    name: h.name,
    labels: h.labels,
    ...(h.ring ? { ring: h.ring } : {}),
  }));
  return assignRings(planHosts, ringSpecs(policy, hosts))
    .filter((r) => r.hosts.length > 0)
    .map((r) => ({ name: r.ring.name, hostCount: r.hosts.length }));
}

/**
 * Whether a third-party change can be rolled out by patchbot: pip packages of interpreters in
 * inventory.python and global npm packages, on hosts deployments.languagePackages opens for the
 * tool (when the policy given has those sections; deploy checks them again either way).
 */
export function languageDeployable(
  policy: Partial<Pick<Policy, 'deployments' | 'inventory'>>,
  change: Pick<ChangeDetail, 'kind' | 'ecosystem'>,
  findings: readonly Pick<ChangeFindingRecord, 'hostName' | 'owner' | 'ownerKind'>[],
  hosts: readonly HostRecord[],
): boolean {
  if (change.kind !== 'third-party' || findings.length === 0) return false;
  const tool = languageToolOf(change.ecosystem);
  if (tool === undefined) return false;
  const ownerKind = tool === 'pip' ? 'interpreter' : 'global-npm';
  if (!findings.every((f) => f.ownerKind === ownerKind)) return false;
  const python = policy.inventory?.python;
  if (tool === 'pip' && python !== undefined && !findings.every((f) => python.includes(f.owner)))
    return false;
  const deployments = policy.deployments;
  if (deployments === undefined) return true;
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return findings.every((f) => {
    const host = byName.get(f.hostName);
    return host !== undefined && languageRuleFor({ deployments }, host, tool) !== undefined;
  });
}

export interface ViewInputs {
  policy: ApprovalPolicy & Pick<Policy, 'rings'> & Partial<Pick<Policy, 'deployments' | 'inventory'>>;
  change: ChangeDetail;
  facts: Map<string, CveFacts>;
  hosts: readonly HostRecord[];
  /** The state of the change's latest deployment, when it has one. */
  deployment: CampaignState | undefined;
  now: Date;
  /** The groups a person is in (approval rules naming groups). */
  groupsOf?: (actorId: string) => readonly string[];
  /** The change's records in ITSM tools. */
  itsm?: readonly ItsmLinkRecord[];
}

const SYSTEM_NAMES = { servicenow: 'ServiceNow', jira: 'Jira' } as const;

/** The ITSM records as the message shows them; the CAB's answer on the ServiceNow change record. */
export function itsmRecordViews(
  links: readonly ItsmLinkRecord[],
  change: Pick<ChangeDetail, 'status'>,
): ItsmRecordView[] {
  return [...links]
    .sort((a, b) =>
      a.kind === b.kind ? a.createdAt.getTime() - b.createdAt.getTime() : a.kind === 'change' ? -1 : 1,
    )
    .map((l) => {
      const note =
        l.kind !== 'change' || l.approval === null
          ? undefined
          : l.approval === 'requested'
            ? change.status === 'approved' || change.status === 'pending' || change.status === 'deferred'
              ? 'waiting for CAB approval'
              : undefined
            : l.approval === 'approved'
              ? 'CAB approved'
              : 'CAB rejected';
      return {
        system: SYSTEM_NAMES[l.system],
        kind: l.kind,
        number: l.number,
        url: l.url,
        ...(note ? { note } : {}),
      };
    });
}

/** Where a language-package or firmware fix applies, and what to do with it (undefined for OS packages). */
export function baselineFixOf(
  change: Pick<ChangeDetail, 'kind' | 'packageName' | 'fixedVersion' | 'ecosystem'>,
  findings: readonly Pick<
    ChangeFindingRecord,
    'hostName' | 'owner' | 'ownerKind' | 'packageName' | 'installedVersion'
  >[],
): BaselineFixView | undefined {
  if (change.kind === 'os') return undefined;
  const seen = new Set<string>();
  const places: string[] = [];
  for (const f of [...findings].sort(
    (a, b) => a.hostName.localeCompare(b.hostName) || a.owner.localeCompare(b.owner),
  )) {
    const line =
      change.kind === 'firmware'
        ? `${f.hostName}: ${f.packageName} (device ${f.owner}) ${f.installedVersion}`
        : `${f.hostName}: ${ownerWords(f.ownerKind)} ${f.owner} (${f.packageName} ${f.installedVersion})`;
    if (seen.has(line)) continue;
    seen.add(line);
    places.push(line);
  }
  const version = change.fixedVersion;
  if (change.kind === 'firmware') {
    return {
      places,
      note:
        `once approved, patchbot installs firmware ${version} on each device listed through the rings ` +
        '(`fwupdmgr install <device-id> <version>`, with a reboot where the device needs one) and health-checks each host; ' +
        'firmware cannot be rolled back by patchbot: a device stays at its new version.',
    };
  }
  const lockfile = findings.some((f) => f.ownerKind === 'lockfile');
  if (lockfile) {
    return {
      places,
      note: `bump ${change.packageName} to ${version} in each lockfile listed and release the project; patchbot never deploys lockfiles.`,
    };
  }
  const how =
    change.ecosystem === 'npm'
      ? `\`npm install -g ${change.packageName}@${version}\``
      : change.ecosystem === 'PyPI'
        ? `\`python3 -m pip install --upgrade '${change.packageName}==${version}'\` with each interpreter listed`
        : `the ${change.ecosystem} tool`;
  return {
    places,
    note:
      change.ecosystem === 'npm' || change.ecosystem === 'PyPI'
        ? `upgrade ${change.packageName} to ${version} where listed: once approved, patchbot deploys it on hosts policy deployments.languagePackages allows; elsewhere run ${how}.`
        : `upgrade ${change.packageName} to ${version} where listed (${how}); patchbot does not deploy ${change.ecosystem} packages.`,
  };
}

function ownerWords(kind: string | null): string {
  switch (kind) {
    case 'interpreter':
      return 'pip of';
    case 'site-packages':
      return 'installed in';
    case 'global-npm':
      return 'global npm';
    case 'lockfile':
      return 'lockfile';
    default:
      return 'in';
  }
}

/** The campaign message of a change (pure: everything it shows is passed in). */
export function buildCampaignView(input: ViewInputs): CampaignView {
  const { change, now } = input;
  const live = change.findings.filter((f) => f.status !== 'fixed');
  const findings = live.length > 0 ? live : change.findings;
  const top = [...findings].sort((a, b) => b.riskScore - a.riskScore)[0];
  const hostNames = [...new Set(findings.map((f) => f.hostName))].sort();
  const cves = [...new Set(findings.flatMap((f) => f.cves.map((c) => c.toUpperCase())))].sort();
  const facts = cves.map((c) => input.facts.get(c)).filter((f): f is CveFacts => f !== undefined);
  const kevFacts = facts.filter((f) => f.kevDateAdded !== null);
  const kevDue = kevFacts
    .map((f) => f.kevDueDate)
    .filter((d): d is Date => d !== null)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  const epss = facts
    .filter((f) => f.epssScore !== null)
    .sort((a, b) => (b.epssScore ?? 0) - (a.epssScore ?? 0))[0];
  const factors = Array.isArray(top?.riskBreakdown) ? top.riskBreakdown.filter(FACTOR_SHAPE) : [];
  const due = findings
    .map((f) => ({ at: f.slaDueAt, reason: f.dueReason }))
    .filter((d): d is { at: Date; reason: string | null } => d.at !== null)
    .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
  const environments = [...new Set(findings.map((f) => f.environment))];
  const state = campaignStateOf(input.policy, change, input.deployment, now, input.groupsOf);
  const score = Math.round(top?.riskScore ?? change.riskScore ?? 0);
  const band: Severity = top?.severity ?? change.severity ?? 'none';
  const hosts = input.hosts.filter((h) => hostNames.includes(h.name));
  const ssvc = top?.ssvc ? SSVC[top.ssvc] : undefined;
  const baseline = baselineFixOf(change, findings);
  const actions = campaignActions(state);
  const deployable =
    change.kind === 'os' ||
    change.kind === 'firmware' ||
    languageDeployable(input.policy, change, findings, input.hosts);
  return {
    type: 'campaign',
    changeId: change.id,
    changeNumber: change.number,
    team: change.team ?? 'unowned',
    ...(environments.length === 1 && environments[0] ? { environment: environments[0] } : {}),
    ecosystem: change.ecosystem,
    ...(change.kind === 'os'
      ? {
          package: change.packageName,
          ...(change.sourcePackage && change.sourcePackage !== change.packageName
            ? { sourcePackage: change.sourcePackage }
            : {}),
        }
      : {
          kind: change.kind,
          // a firmware change is named by its devices (its package is the component GUID)
          package:
            change.kind === 'firmware'
              ? [...new Set(findings.map((f) => f.packageName))].sort().join(', ') || change.packageName
              : change.packageName,
        }),
    ...(baseline === undefined ? {} : { baseline }),
    fixedVersion: change.fixedVersion,
    advisories: [...new Set(findings.map((f) => f.advisoryId))].sort(),
    ...(top?.advisorySummary ? { summary: top.advisorySummary } : {}),
    risk: {
      score,
      band,
      topFactors: [...factors]
        .filter((f) => f.contribution !== 0)
        .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
        .map((f) => ({ label: f.label, contribution: f.contribution })),
    },
    cves: cves.map((c) => cveRef(c, change.ecosystem)),
    ...(kevFacts.length > 0
      ? {
          kev: {
            dueDate: kevDue ?? due?.at ?? now,
            ransomware: kevFacts.some((f) => f.kevRansomware),
            ...(kevFacts[0]?.kevDateAdded ? { dateAdded: kevFacts[0].kevDateAdded } : {}),
          },
        }
      : {}),
    ...(epss?.epssScore != null
      ? { epss: { score: epss.epssScore, percentile: epss.epssPercentile ?? 0 } }
      : {}),
    ...(ssvc ? { ssvc } : {}),
    hosts: { count: hostNames.length, names: hostNames },
    slaDue: due?.at ?? kevDue ?? now,
    ...(due?.reason ? { slaReason: due.reason } : {}),
    rings: plannedRings(input.policy, hosts),
    ...(input.itsm && input.itsm.length > 0 ? { itsm: itsmRecordViews(input.itsm, change) } : {}),
    state,
    // patchbot deploys distribution packages, firmware, and pip / global npm packages where the
    // policy allows; the rest is announced, tracked, deferred or accepted, never requested or approved
    // for a rollout
    actions: deployable ? actions : actions.filter((a) => a !== 'request' && a !== 'approve'),
    asOf: now,
  };
}
