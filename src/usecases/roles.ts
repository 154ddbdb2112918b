/**
 * Who may do what in chat: the policy file's `roles` (core/policy/roles.ts) checked for a person,
 * with the members of the groups the roles name looked up on the person's own platform (Slack user
 * groups for Slack users, Entra groups for Teams users). A lookup that fails counts the person in
 * no group (the refusal names the role; the log says why).
 */
import type { Logger } from 'pino';
import type { Policy } from '../config/policy-schema.js';
import { roleTable } from '../config/policy.js';
import { userMessageOf } from '../core/errors.js';
import { ACTION_ROLE, holdsRole, roleGroups, roleRefusal, type ChatAction } from '../core/policy/roles.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `user` may not do `action`, naming the role it needs; undefined when they may. */
export type RoleCheck = (
  user: { id: string; platform: 'slack' | 'teams' | 'cli' },
  action: ChatAction,
) => Promise<string | undefined>;

export interface RoleCheckDeps {
  policy: Pick<Policy, 'roles'>;
  /** Members of a group (Slack user group `S…`, Entra group id). */
  groupMembers?: (groupId: string) => Promise<readonly string[]>;
  logger?: Logger;
}

/** Whether a group id belongs to the platform a person is on. */
function samePlatform(groupId: string, platform: 'slack' | 'teams' | 'cli'): boolean {
  const entra = GUID.test(groupId);
  return platform === 'teams' ? entra : platform === 'slack' ? !entra : true;
}

export function createRoleCheck(deps: RoleCheckDeps): RoleCheck {
  const table = roleTable(deps.policy.roles);
  const groups = roleGroups(table);
  const log = deps.logger?.child({ name: 'roles' });
  return async (user, action) => {
    if (holdsRole(table, ACTION_ROLE[action], user.id, [])) return undefined;
    const mine: string[] = [];
    if (deps.groupMembers) {
      for (const g of groups.filter((x) => samePlatform(x, user.platform))) {
        try {
          if ((await deps.groupMembers(g)).includes(user.id)) mine.push(g);
        } catch (err) {
          log?.warn({ group: g, err: userMessageOf(err) }, 'could not read the members of a role group');
        }
      }
    }
    return roleRefusal(table, action, user.id, mine);
  };
}
