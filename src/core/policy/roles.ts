/**
 * Roles: who may run which chat command and press which button. Five roles, each including the
 * ones before it: viewer < requester < approver < operator < admin. Every action needs one role;
 * holding it (or a higher one) is checked before the action runs. A role is granted to everyone,
 * or to listed users and the members of listed groups (Slack user groups, Entra groups).
 *
 * Roles come on top of the approval policy: an approver (the role) still approves only the changes
 * whose rule names them, and the deployment controls stay with the change's approvers.
 */

export const ROLES = ['viewer', 'requester', 'approver', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Everything a person can do in chat that a role decides. */
export const CHAT_ACTIONS = [
  'status',
  'coverage',
  'details',
  'request',
  'approve',
  'reject',
  'defer',
  'accept_risk',
  'pause',
  'resume',
  'abort',
  'rollback',
  'digest',
  'link',
] as const;
export type ChatAction = (typeof CHAT_ACTIONS)[number];

/** The role each action needs. */
export const ACTION_ROLE: Readonly<Record<ChatAction, Role>> = {
  status: 'viewer',
  coverage: 'viewer',
  details: 'viewer',
  request: 'requester',
  approve: 'approver',
  reject: 'approver',
  defer: 'approver',
  accept_risk: 'approver',
  pause: 'operator',
  resume: 'operator',
  abort: 'operator',
  rollback: 'operator',
  digest: 'operator',
  link: 'admin',
};

/** What each action is, in a refusal: "You need the operator role to pause a deployment". */
const ACTION_WORDS: Readonly<Record<ChatAction, string>> = {
  status: 'ask for patch status',
  coverage: 'see coverage',
  details: 'see the details of a change',
  request: 'request a rollout',
  approve: 'approve a change',
  reject: 'reject a change',
  defer: 'defer a change',
  accept_risk: 'accept a risk',
  pause: 'pause a deployment',
  resume: 'resume a deployment',
  abort: 'abort a deployment',
  rollback: 'roll back a deployment',
  digest: 'post the weekly digest',
  link: 'link a channel to a team',
};

/** Who holds one role. */
export interface RoleGrant {
  everyone: boolean;
  /** Platform user ids (Slack user ids, Entra object ids). */
  users: readonly string[];
  /** Group ids (Slack user groups, Entra groups). */
  groups: readonly string[];
}

export type RoleTable = Readonly<Record<Role, RoleGrant>>;

const granted = (g: RoleGrant, actorId: string, groups: readonly string[]) =>
  g.everyone || g.users.includes(actorId) || groups.some((x) => g.groups.includes(x));

/** Whether the person holds `role`: it, or any role above it, is granted to them. */
export function holdsRole(table: RoleTable, role: Role, actorId: string, groups: readonly string[]): boolean {
  return ROLES.slice(ROLES.indexOf(role)).some((r) => granted(table[r], actorId, groups));
}

/** Why the person may not do `action`, naming the role it needs; undefined when they may. */
export function roleRefusal(
  table: RoleTable,
  action: ChatAction,
  actorId: string,
  groups: readonly string[],
): string | undefined {
  const role = ACTION_ROLE[action];
  if (holdsRole(table, role, actorId, groups)) return undefined;
  return `You need the ${role} role to ${ACTION_WORDS[action]} (roles.${role} in the policy file)`;
}

/** Every group the table names (whose members to look up). */
export function roleGroups(table: RoleTable): string[] {
  return [...new Set(ROLES.flatMap((r) => table[r].groups))].sort();
}

/**
 * Roles a person is denied that a role above would grant anyway: a lower role that lists people
 * while a higher one is open to everyone (everyone then holds the lower one too).
 */
export function shadowedRoles(table: RoleTable): { role: Role; by: Role }[] {
  const out: { role: Role; by: Role }[] = [];
  ROLES.forEach((role, i) => {
    if (table[role].everyone) return;
    const by = ROLES.slice(i + 1).find((r) => table[r].everyone);
    if (by) out.push({ role, by });
  });
  return out;
}
