/**
 * The policy file's approval section, resolved for one change into the core's ApprovalRule: which
 * rule applies (core selectApprovalRule: most specific, strictest across environments) and who
 * its approvers are.
 *
 * Approver sources are "owner" (the change's team) and other team names; each team lists its
 * approvers per environment (key "*" for every environment without its own entry). A change whose
 * hosts span several environments is decided by the approvers of the most sensitive of them: the
 * first in the policy's `environments` list.
 */
import type { ApproverSet as PolicyApproverSet, Policy } from '../../config/policy-schema.js';
import {
  selectApprovalRule,
  type ApprovalRule,
  type ApproverSet,
  type RuleContext,
} from '../../core/policy/approval.js';
import type { LedgerEntry, LedgerPolicy } from '../../core/policy/ledger.js';
import type { ChangeDetail, DecisionRecord } from '../../db/repositories/change-repository.js';
import { emergencyProblem } from '../deployments/service.js';

export type ApprovalPolicy = Pick<Policy, 'approval' | 'teams' | 'environments'>;

/** The rule that applies to a change, with what it was chosen from. */
export interface ResolvedRule {
  rule: ApprovalRule;
  context: RuleContext;
  /** The environment whose approvers decide. */
  environment: string | undefined;
}

/** The environments of a change's hosts, most sensitive first (policy order). */
export function environmentsOf(policy: Pick<Policy, 'environments'>, envs: Iterable<string>): string[] {
  const set = [...new Set(envs)];
  const rank = (e: string) => {
    const i = policy.environments.indexOf(e);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return set.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function approversOfTeam(
  policy: ApprovalPolicy,
  team: string | null,
  environment: string | undefined,
): PolicyApproverSet | undefined {
  if (team === null) return undefined;
  const t = policy.teams.find((x) => x.name === team);
  if (!t) return undefined;
  return (environment === undefined ? undefined : t.approvers[environment]) ?? t.approvers['*'];
}

/** Everyone a list of approver sources names, for the change's team and environment. */
export function resolveApprovers(
  policy: ApprovalPolicy,
  sources: readonly string[],
  team: string | null,
  environment: string | undefined,
): ApproverSet {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const source of sources) {
    const set = approversOfTeam(policy, source === 'owner' ? team : source, environment);
    if (!set) continue;
    for (const u of [...set.slackUsers, ...set.entraUsers]) users.add(u);
    for (const g of [...set.slackUserGroups, ...set.entraGroups]) groups.add(g);
  }
  return { users: [...users].sort(), groups: [...groups].sort() };
}

export function ruleContext(
  policy: ApprovalPolicy,
  change: Pick<ChangeDetail, 'team' | 'findings' | 'kev' | 'riskScore'>,
): RuleContext {
  const live = change.findings.filter((f) => f.status !== 'fixed');
  const findings = live.length > 0 ? live : change.findings;
  return {
    team: change.team ?? '',
    environments: environmentsOf(
      policy,
      findings.map((f) => f.environment),
    ),
    groups: [...new Set(findings.flatMap((f) => f.hostGroups))].sort(),
    kev: change.kev || findings.some((f) => f.kev),
    maxRisk: Math.max(change.riskScore ?? 0, ...findings.map((f) => f.riskScore)),
  };
}

/** The approval rule of a change under the current policy. */
export function ruleFor(
  policy: ApprovalPolicy,
  change: Pick<ChangeDetail, 'team' | 'findings' | 'kev' | 'riskScore'>,
): ResolvedRule {
  const context = ruleContext(policy, change);
  const environment = context.environments[0];
  const toCore = (
    name: string,
    match: ApprovalRule['match'],
    r: { quorum: number; approvers: string[]; noSelfApproval: boolean; expiry: number },
  ): ApprovalRule => ({
    name,
    match,
    approvers: resolveApprovers(policy, r.approvers, change.team, environment),
    quorum: r.quorum,
    noSelfApproval: r.noSelfApproval,
    approvalTtlMs: Math.max(1, r.expiry),
  });
  const rules = policy.approval.rules.map((r) => toCore(r.name, r.match, r));
  const rule = selectApprovalRule(rules, context) ?? toCore('default', {}, policy.approval.default);
  return { rule, context, environment };
}

/** What a change records of the rule that applied when it was created. */
export function policySnapshot(resolved: ResolvedRule): Record<string, unknown> {
  return {
    rule: resolved.rule.name,
    quorum: resolved.rule.quorum,
    approvers: resolved.rule.approvers,
    noSelfApproval: resolved.rule.noSelfApproval,
    approvalTtlMs: resolved.rule.approvalTtlMs,
    environment: resolved.environment ?? null,
    context: resolved.context,
  };
}

/** A change's decision rows as the ledger reads them. */
export function ledgerOf(change: Pick<ChangeDetail, 'decisions'>): LedgerEntry[] {
  return change.decisions.map(ledgerEntry);
}

export function ledgerEntry(d: DecisionRecord): LedgerEntry {
  return {
    kind: d.kind,
    actorId: d.actorId,
    ...(d.actorDisplay === null ? {} : { actorName: d.actorDisplay }),
    round: d.round,
    at: d.createdAt,
    ...(d.expiresAt === null ? {} : { expiresAt: d.expiresAt }),
    ...(d.deferUntil === null ? {} : { deferUntil: d.deferUntil }),
    ...(d.emergency ? { emergency: true } : {}),
    ...(d.revokedAt === null ? {} : { revokedAt: d.revokedAt }),
  };
}

/** The groups an approval rule and the emergency lane of a change name (whose members to look up). */
export function groupsNamed(policy: ApprovalPolicy, change: Parameters<typeof ruleFor>[1]): string[] {
  const resolved = ruleFor(policy, change);
  const lane = resolveApprovers(
    policy,
    policy.approval.emergency.invokers,
    change.team,
    resolved.environment,
  );
  return [...new Set([...resolved.rule.approvers.groups, ...lane.groups])].sort();
}

/** The actor of the change advisory board's decisions (ServiceNow), in decisions and the audit log. */
export const CAB_ACTOR_ID = 'servicenow:cab';

/**
 * The policy as the ledger of one change reads it: its approval rule, the emergency lane (its
 * invokers, its quorum, whether the change meets its conditions) and who is in which group.
 */
export function ledgerPolicy(
  policy: ApprovalPolicy,
  change: Pick<ChangeDetail, 'number' | 'team' | 'findings' | 'kev' | 'riskScore'>,
  groupsOf: (actorId: string) => readonly string[],
  timeZone = 'UTC',
  cabRecord?: string,
): LedgerPolicy {
  const resolved = ruleFor(policy, change);
  const lane = policy.approval.emergency;
  const live = change.findings.filter((f) => f.status !== 'fixed');
  const hosts = (live.length > 0 ? live : change.findings).map((f) => ({
    name: f.hostName,
    environment: f.environment,
    team: f.hostTeam,
    groups: f.hostGroups,
    labels: f.labels,
  }));
  const ineligible = lane.enabled ? emergencyProblem(policy, change, hosts) : undefined;
  return {
    rule: resolved.rule,
    emergency: {
      enabled: lane.enabled,
      invokers: resolveApprovers(policy, lane.invokers, change.team, resolved.environment),
      quorum: lane.quorum,
      ...(ineligible === undefined ? {} : { ineligible }),
    },
    scope: {
      team: change.team ?? 'unowned',
      environments: resolved.environment ? [resolved.environment] : [],
    },
    groupsOf,
    timeZone,
    ...(policy.approval.itsm === 'only'
      ? {
          cab: {
            actorId: CAB_ACTOR_ID,
            where: cabRecord
              ? `ServiceNow ${cabRecord}`
              : 'ServiceNow (its change request is created when the rollout is requested)',
          },
        }
      : {}),
  };
}
