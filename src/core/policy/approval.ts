/**
 * The approval policy for change requests, as pure functions: which rule applies and who may
 * decide. Where a change's decisions stand is read from its ledger (./ledger.ts).
 *
 * The policy file's `approval` section maps onto these types: a rule's approver sources ("owner",
 * team names) are resolved by the config layer into user ids and group ids, `expiry` becomes
 * `approvalTtlMs`. Group memberships of people are resolved by the chat adapter (Slack user groups,
 * Entra groups) and passed in; nothing here looks anything up.
 */
import { TZDate } from '@date-fns/tz';
import { format } from 'date-fns';
import { z } from 'zod';
import { ValidationError } from '../errors.js';

const DAY_MS = 86_400_000;

export const ApproverSet = z.object({
  /** Platform user ids (Slack user ids, Entra object ids) whose decisions count. */
  users: z.array(z.string().min(1)).default([]),
  /** Group ids (Slack user groups, Entra groups) whose members' decisions count. */
  groups: z.array(z.string().min(1)).default([]),
});
export type ApproverSet = z.infer<typeof ApproverSet>;

/** When a rule applies. Every key given must match; an empty match applies to every change. */
export const ApprovalMatch = z.object({
  teams: z.array(z.string().min(1)).optional(),
  environments: z.array(z.string().min(1)).optional(),
  groups: z.array(z.string().min(1)).optional(),
  /** true: only changes fixing a KEV-listed CVE; false: only changes that fix none. */
  kev: z.boolean().optional(),
  /** Only changes whose highest finding risk is at least this (0-100). */
  riskAtLeast: z.number().min(0).max(100).optional(),
});
export type ApprovalMatch = z.infer<typeof ApprovalMatch>;

export const ApprovalRule = z.object({
  name: z.string().min(1),
  match: ApprovalMatch.default({}),
  approvers: ApproverSet,
  /** Distinct approvers needed. */
  quorum: z.number().int().min(1).default(1),
  /** The person who requested the change cannot approve it. */
  noSelfApproval: z.boolean().default(true),
  /** An approval older than this no longer counts (milliseconds). */
  approvalTtlMs: z.number().int().positive(),
});
export type ApprovalRule = z.infer<typeof ApprovalRule>;
export type ApprovalRuleInput = z.input<typeof ApprovalRule>;

/** What is known about a change when choosing its rule. */
export interface RuleContext {
  team: string;
  /** Environments of the affected hosts. */
  environments: readonly string[];
  /** Host groups of the affected hosts. */
  groups?: readonly string[];
  /** Whether any finding of the change is in CISA KEV. */
  kev: boolean;
  /** The highest risk score (0-100) among the change's findings. */
  maxRisk: number;
}

/** How many conditions a rule names: the measure of "more specific". */
export function specificity(match: ApprovalMatch): number {
  return (
    (match.teams ? 1 : 0) +
    (match.environments ? 1 : 0) +
    (match.groups ? 1 : 0) +
    (match.kev !== undefined ? 1 : 0) +
    (match.riskAtLeast !== undefined ? 1 : 0)
  );
}

export function ruleMatches(match: ApprovalMatch, ctx: RuleContext): boolean {
  const overlaps = (wanted: readonly string[] | undefined, have: readonly string[] | undefined) =>
    wanted === undefined || (have ?? []).some((v) => wanted.includes(v));
  return (
    (match.teams === undefined || match.teams.includes(ctx.team)) &&
    overlaps(match.environments, ctx.environments) &&
    overlaps(match.groups, ctx.groups) &&
    (match.kev === undefined || match.kev === ctx.kev) &&
    (match.riskAtLeast === undefined || ctx.maxRisk >= match.riskAtLeast)
  );
}

/**
 * The rule that applies to a change: among the rules whose match fits, the most specific one (the
 * one naming the most conditions: teams, environments, groups, kev, riskAtLeast). A tie goes to the
 * stricter rule (higher quorum, then shorter approval TTL), then to the one listed first.
 *
 * A change that spans several environments is evaluated once per environment, and the strictest of
 * those rules applies (higher quorum, then shorter TTL, then more specific, then listed first), so
 * a change touching staging and production never gets a rule weaker than production's.
 * Undefined when none matches: use the policy default.
 */
export function selectApprovalRule<R extends ApprovalRule>(
  rules: readonly R[],
  ctx: RuleContext,
): R | undefined {
  if (ctx.environments.length <= 1) return mostSpecific(rules, ctx);
  let best: { rule: R; index: number } | undefined;
  for (const env of ctx.environments) {
    const rule = mostSpecific(rules, { ...ctx, environments: [env] });
    if (!rule) continue;
    const index = rules.indexOf(rule);
    if (!best || compareStrictness(rule, index, best.rule, best.index) < 0) best = { rule, index };
  }
  return best?.rule;
}

function mostSpecific<R extends ApprovalRule>(rules: readonly R[], ctx: RuleContext): R | undefined {
  let best: { rule: R; index: number } | undefined;
  rules.forEach((rule, index) => {
    if (!ruleMatches(rule.match, ctx)) return;
    if (!best || compareRules(rule, index, best.rule, best.index) < 0) best = { rule, index };
  });
  return best?.rule;
}

function compareStrictness(a: ApprovalRule, ai: number, b: ApprovalRule, bi: number): number {
  return (
    b.quorum - a.quorum ||
    a.approvalTtlMs - b.approvalTtlMs ||
    specificity(b.match) - specificity(a.match) ||
    ai - bi
  );
}

function compareRules(a: ApprovalRule, ai: number, b: ApprovalRule, bi: number): number {
  return (
    specificity(b.match) - specificity(a.match) ||
    b.quorum - a.quorum ||
    a.approvalTtlMs - b.approvalTtlMs ||
    ai - bi
  );
}

// ---------------------------------------------------------------------------------------------
// who may decide (the decisions themselves are a ledger: ./ledger.ts)

export function isApprover(rule: ApprovalRule, actorId: string, groups: readonly string[] = []): boolean {
  return rule.approvers.users.includes(actorId) || groups.some((g) => rule.approvers.groups.includes(g));
}

/** "at 14:02" today (in the zone), "on 2026-03-02 at 14:02" another day; " UTC" added for UTC. */
export function describeTime(at: Date, now: Date, timeZone: string): string {
  const local = new TZDate(at.getTime(), timeZone);
  const today = new TZDate(now.getTime(), timeZone);
  const zone = timeZone === 'UTC' || timeZone === 'Etc/UTC' ? ' UTC' : '';
  const time = `${format(local, 'HH:mm')}${zone}`;
  return format(local, 'yyyy-MM-dd') === format(today, 'yyyy-MM-dd')
    ? `at ${time}`
    : `on ${format(local, 'yyyy-MM-dd')} at ${time}`;
}

// ---------------------------------------------------------------------------------------------
// risk acceptance and deferral

export interface CappedExpiry {
  expiresAt: Date;
  /** True when the requested expiry was beyond the policy's maximum and was shortened. */
  capped: boolean;
  /** What to tell the person when capped. */
  note?: string;
}

/**
 * The expiry a risk acceptance gets: the requested one, or now + maxDays when that is earlier.
 * A requested expiry that is not in the future is refused.
 */
export function capAcceptanceExpiry(requested: Date, maxDays: number, now: Date): CappedExpiry {
  if (!Number.isFinite(requested.getTime())) throw new ValidationError('The expiry is not a valid date');
  if (!Number.isInteger(maxDays) || maxDays < 1) {
    throw new ValidationError(`The maximum risk acceptance must be at least 1 day, got ${maxDays}`);
  }
  if (requested.getTime() <= now.getTime()) {
    throw new ValidationError('The expiry of a risk acceptance must be in the future');
  }
  const max = new Date(now.getTime() + maxDays * DAY_MS);
  if (requested.getTime() <= max.getTime()) return { expiresAt: requested, capped: false };
  return {
    expiresAt: max,
    capped: true,
    note: `Risk can be accepted for at most ${maxDays} days, so this acceptance expires on ${max.toISOString().slice(0, 10)}`,
  };
}

export type DeferChoice = { kind: '1d' } | { kind: '1w' } | { kind: 'date'; date: string };

export interface DeferOption {
  id: '1d' | '1w';
  label: string;
  until: Date;
}

/** The fixed choices offered by the Defer button; a date picker offers the third. */
export function deferOptions(now: Date): DeferOption[] {
  return [
    { id: '1d', label: '1 day', until: new Date(now.getTime() + DAY_MS) },
    { id: '1w', label: '1 week', until: new Date(now.getTime() + 7 * DAY_MS) },
  ];
}

/**
 * Until when a deferral holds. A date ("2026-04-01") means the start of that day in `timeZone`
 * and must be after today there; nothing may be deferred into the past, nor more than `maxDays`
 * (default 365) ahead.
 */
export function resolveDefer(choice: DeferChoice, now: Date, timeZone = 'UTC', maxDays = 365): Date {
  let until: Date;
  if (choice.kind === '1d') until = new Date(now.getTime() + DAY_MS);
  else if (choice.kind === '1w') until = new Date(now.getTime() + 7 * DAY_MS);
  else {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(choice.date);
    const day = m ? new TZDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]), timeZone) : undefined;
    if (!m || !day || format(day, 'yyyy-MM-dd') !== choice.date) {
      throw new ValidationError(
        `${JSON.stringify(choice.date.slice(0, 40))} is not a date (expected YYYY-MM-DD)`,
      );
    }
    until = new Date(day.getTime());
    if (until.getTime() <= now.getTime()) {
      throw new ValidationError(`${choice.date} is not in the future; pick a date after today`);
    }
  }
  if (until.getTime() - now.getTime() > maxDays * DAY_MS) {
    throw new ValidationError(`A change can be deferred for at most ${maxDays} days`);
  }
  return until;
}
