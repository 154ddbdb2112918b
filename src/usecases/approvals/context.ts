/**
 * What every part of the approval use case shares: its dependencies, and the policy resolved for
 * one change with the group memberships it needs (looked up before a transaction, never inside).
 */
import type { Logger } from 'pino';
import type { ChatPlatform } from '../../bot/chat-platform.js';
import type { Policy } from '../../config/policy-schema.js';
import { userMessageOf } from '../../core/errors.js';
import type { LedgerPolicy } from '../../core/policy/ledger.js';
import type { Repositories } from '../../db/index.js';
import type { ChangeDetail } from '../../db/repositories/change-repository.js';
import type { DeploymentPort } from './ports.js';
import { groupsNamed, ledgerPolicy } from './rules.js';

export type ApprovalRepos = Pick<Repositories, 'changes' | 'hosts' | 'notifications' | 'deployments'> &
  /** The change's ITSM records, shown on its message (when given). */
  Partial<Pick<Repositories, 'itsmLinks'>>;

export interface ApprovalsDeps {
  repos: ApprovalRepos;
  policy: Pick<Policy, 'approval' | 'teams' | 'environments' | 'rings' | 'riskAcceptance'>;
  /** The clock of views and of the dates people pick; decisions are timed by the database. */
  now: () => Date;
  logger: Logger;
  /** The chat platforms messages live on (edited and replied to on each). */
  platforms: () => readonly ChatPlatform[];
  /**
   * Members of a group (Slack user group `S…`, Entra group id); without it only user ids count.
   * Answers may be cached briefly; a failed lookup counts nobody in the group.
   */
  groupMembers?: (groupId: string) => Promise<readonly string[]>;
  /** The deployment scheduler; without it an approved change waits, recorded as approved. */
  deployments?: () => DeploymentPort | undefined;
  /** Time zone of times in messages (default UTC). */
  timeZone?: string;
}

export interface ApprovalsContext extends ApprovalsDeps {
  log: Logger;
  tz: string;
  /**
   * Who is in which of the groups the change's rule and emergency lane name: the groups' member
   * lists are read first, so the ledger can tell for anyone, including people whose decisions
   * arrive while it waits for the change's lock.
   */
  groupsFor(change: Parameters<typeof groupsNamed>[1]): Promise<(actorId: string) => readonly string[]>;
  /** The policy as the ledger of `change` reads it (`cabRecord`: see `cabRecordOf`). */
  ledgerPolicyFor(
    change: Pick<ChangeDetail, 'number' | 'team' | 'findings' | 'kev' | 'riskScore'>,
    groupsOf: (actorId: string) => readonly string[],
    cabRecord?: string,
  ): LedgerPolicy;
  /**
   * With `approval.itsm: only`: the number of the change's ServiceNow change request, where the
   * CAB approves it (undefined before it is created, or in other modes).
   */
  cabRecordOf(changeId: string): Promise<string | undefined>;
}

export function createContext(deps: ApprovalsDeps): ApprovalsContext {
  const log = deps.logger.child({ name: 'approvals' });
  const tz = deps.timeZone ?? 'UTC';
  return {
    ...deps,
    log,
    tz,
    async groupsFor(change) {
      const groups = groupsNamed(deps.policy, change);
      const members = new Map<string, Set<string>>();
      if (groups.length === 0 || !deps.groupMembers) return () => [];
      for (const g of groups) {
        try {
          members.set(g, new Set(await deps.groupMembers(g)));
        } catch (err) {
          log.warn({ group: g, err: userMessageOf(err) }, 'could not read the members of an approver group');
        }
      }
      return (actorId) => groups.filter((g) => members.get(g)?.has(actorId) === true);
    },
    ledgerPolicyFor: (change, groupsOf, cabRecord) =>
      ledgerPolicy(deps.policy, change, groupsOf, tz, cabRecord),
    async cabRecordOf(changeId) {
      if (deps.policy.approval.itsm !== 'only' || !deps.repos.itsmLinks) return undefined;
      return (await deps.repos.itsmLinks.find(changeId, 'servicenow'))?.number;
    },
  };
}
