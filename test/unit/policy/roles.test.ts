import { describe, expect, it } from 'vitest';
import { Policy } from '../../../src/config/policy-schema.js';
import { checkReferences, roleTable } from '../../../src/config/policy-references.js';
import {
  ACTION_ROLE,
  CHAT_ACTIONS,
  holdsRole,
  roleRefusal,
  shadowedRoles,
  type RoleTable,
} from '../../../src/core/policy/roles.js';

const nobody = { everyone: false, users: [], groups: [] };
const table: RoleTable = {
  viewer: { everyone: false, users: ['U_VIEW'], groups: ['S_VIEWERS'] },
  requester: { everyone: false, users: ['U_REQ'], groups: [] },
  approver: { everyone: false, users: ['U_APPR'], groups: [] },
  operator: { everyone: false, users: ['U_OPS'], groups: [] },
  admin: { everyone: false, users: ['U_ADMIN'], groups: [] },
};

describe('holdsRole', () => {
  it.each<[string, string[], string, boolean]>([
    ['U_VIEW', [], 'viewer', true],
    ['U_VIEW', [], 'requester', false],
    ['U_X', ['S_VIEWERS'], 'viewer', true],
    ['U_REQ', [], 'viewer', true],
    ['U_APPR', [], 'requester', true],
    ['U_APPR', [], 'operator', false],
    ['U_ADMIN', [], 'viewer', true],
    ['U_ADMIN', [], 'operator', true],
    ['U_X', [], 'viewer', false],
  ])('%s (groups %j) holds %s: %s', (id, groups, role, expected) => {
    expect(holdsRole(table, role as keyof RoleTable, id, groups)).toBe(expected);
  });
});

describe('roleRefusal', () => {
  it('names the role and where it is set', () => {
    expect(roleRefusal(table, 'pause', 'U_APPR', [])).toBe(
      'You need the operator role to pause a deployment (roles.operator in the policy file)',
    );
    expect(roleRefusal(table, 'approve', 'U_APPR', [])).toBeUndefined();
  });

  it('every action needs a role, and every role is needed by some action', () => {
    for (const a of CHAT_ACTIONS) expect(ACTION_ROLE[a]).toBeDefined();
    expect(new Set(Object.values(ACTION_ROLE))).toEqual(
      new Set(['viewer', 'requester', 'approver', 'operator', 'admin']),
    );
  });
});

describe('the policy file', () => {
  it('defaults keep today: everyone holds every role but admin, which is nobody', () => {
    const t = roleTable(Policy.parse({}).roles);
    for (const a of CHAT_ACTIONS.filter((x) => x !== 'link'))
      expect(roleRefusal(t, a, 'U_ANY', [])).toBeUndefined();
    expect(roleRefusal(t, 'link', 'U_ANY', [])).toMatch(/admin role/);
    expect(t.admin).toEqual(nobody);
  });

  it('warns when a restricted role is opened up by a higher one open to everyone', () => {
    const p = Policy.parse({ roles: { approver: { slackUsers: ['U0ALICE0001'] } } });
    expect(shadowedRoles(roleTable(p.roles))).toEqual([{ role: 'approver', by: 'operator' }]);
    const warning = checkReferences(p).find((i) => i.path.join('.') === 'roles.approver');
    expect(warning?.severity).toBe('warning');
    expect(warning?.message).toContain('whoever holds operator holds approver too');
    const fixed = Policy.parse({
      roles: { approver: { slackUsers: ['U0ALICE0001'] }, operator: { slackUsers: ['U0OPS000001'] } },
    });
    expect(shadowedRoles(roleTable(fixed.roles))).toEqual([]);
  });

  it('refuses unknown roles and malformed ids', () => {
    expect(Policy.safeParse({ roles: { superuser: { everyone: true } } }).success).toBe(false);
    expect(Policy.safeParse({ roles: { admin: { slackUsers: ['alice'] } } }).success).toBe(false);
    expect(Policy.safeParse({ roles: { admin: { entraGroups: ['not-a-guid'] } } }).success).toBe(false);
  });
});
