import { ROLES, shadowedRoles, type RoleTable } from '../core/policy/roles.js';
import type { HostSelector, Policy, Roles } from './policy-schema.js';
import { closest } from './values.js';

/** A problem found by looking across sections; `path` points into the file. */
export interface ReferenceIssue {
  path: (string | number)[];
  message: string;
  severity: 'error' | 'warning';
  /** The value the message is about, when there is one. */
  value?: unknown;
}

/** The approver source that means "the owning team's approvers". */
export const OWNER = 'owner';

/**
 * Checks what a schema cannot see on its own: names are unique, every name a section refers to
 * exists (teams, environments, groups, rings, hosts), rings are ordered sensibly. Errors make the
 * policy invalid; warnings point at things that are allowed but probably not meant.
 */
export function checkReferences(policy: Policy): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const error = (path: (string | number)[], message: string, value?: unknown) =>
    issues.push({ path, message, severity: 'error', value });
  const warn = (path: (string | number)[], message: string, value?: unknown) =>
    issues.push({ path, message, severity: 'warning', value });

  const unique = (section: string, items: { name: string }[], path: (string | number)[] = [section]) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined) {
        error(
          [...path, i, 'name'],
          `duplicate name "${item.name}"; ${render(path)}[${first}] already has it`,
        );
      } else {
        seen.set(item.name, i);
      }
    });
    return new Set(items.map((i) => i.name));
  };

  const envs = new Set<string>();
  policy.environments.forEach((e, i) => {
    if (envs.has(e)) error(['environments', i], `duplicate environment "${e}"`);
    envs.add(e);
  });
  const teams = unique('teams', policy.teams);
  const hosts = unique('hosts', policy.hosts);
  const groups = unique('groups', policy.groups);
  const rings = unique('rings', policy.rings);
  unique('maintenanceWindows', policy.maintenanceWindows);
  unique('rules', policy.approval.rules, ['approval', 'rules']);
  unique('healthChecks', policy.deployments.healthChecks, ['deployments', 'healthChecks']);
  unique('webhooks', policy.webhooks);

  const ref = (kind: string, known: Set<string>, path: (string | number)[], name: string, extra = '') => {
    if (known.has(name)) return;
    const hint = closest(name, known);
    const list = known.size > 0 ? `known ${kind}s: ${[...known].join(', ')}` : `no ${kind}s are defined`;
    error(
      path,
      `unknown ${kind} ${JSON.stringify(name)}${hint ? `; did you mean "${hint}"?` : ''} (${list}${extra})`,
    );
  };
  const refs = (kind: string, known: Set<string>, path: (string | number)[], list: string[] | undefined) =>
    list?.forEach((name, i) => ref(kind, known, [...path, i], name));

  // Labels that inline hosts carry, to catch selectors that can never match one of them.
  const labelValues = new Map<string, Set<string>>();
  for (const h of policy.hosts) {
    for (const [k, v] of Object.entries(h.labels)) {
      const values = labelValues.get(k) ?? new Set<string>();
      values.add(v);
      labelValues.set(k, values);
    }
  }
  const selector = (path: (string | number)[], s: Partial<HostSelector> | undefined) => {
    if (!s) return;
    refs('environment', envs, [...path, 'environments'], s.environments);
    refs('team', teams, [...path, 'teams'], s.teams);
    refs('group', groups, [...path, 'groups'], s.groups);
    if (policy.hosts.length > 0) {
      s.hosts?.forEach((name, i) => {
        if (!hosts.has(name)) {
          const hint = closest(name, hosts);
          warn(
            [...path, 'hosts', i],
            `no host "${name}" in hosts${hint ? `; did you mean "${hint}"?` : ''} (it must then be added with \`patchbot hosts add\`)`,
          );
        }
      });
      for (const [key, wanted] of Object.entries(s.labels ?? {})) {
        const present = labelValues.get(key);
        if (!present) {
          const hint = closest(key, labelValues.keys());
          warn(
            [...path, 'labels', key],
            `no host in hosts has the label "${key}"${hint ? `; did you mean "${hint}"?` : ''}`,
          );
        } else if (!wanted.some((v) => present.has(v))) {
          warn(
            [...path, 'labels', key],
            `no host in hosts has ${key}=${wanted.join('|')} (values in use: ${[...present].join(', ')})`,
          );
        }
      }
    }
  };

  if (teams.has(OWNER)) {
    error(
      ['teams', policy.teams.findIndex((t) => t.name === OWNER), 'name'],
      `"${OWNER}" is reserved for the owning team in approval rules`,
      OWNER,
    );
  }
  const approverRefs = (path: (string | number)[], list: string[]) =>
    list.forEach((name, i) => {
      if (name !== OWNER) ref('team', teams, [...path, i], name, `, or "${OWNER}"`);
    });

  policy.teams.forEach((t, i) => {
    for (const env of Object.keys(t.approvers)) {
      if (env !== '*') ref('environment', envs, ['teams', i, 'approvers', env], env, ', or "*" for all');
    }
    const approvers = Object.values(t.approvers);
    if (
      !approvers.some(
        (a) =>
          a.slackUsers.length + a.slackUserGroups.length + a.entraUsers.length + a.entraGroups.length > 0,
      )
    ) {
      warn(['teams', i], `team "${t.name}" has no approvers: changes for its hosts cannot be approved`);
    }
    if (t.slack.channels.length + t.msteams.conversations.length + t.msteams.channels.length === 0) {
      warn(['teams', i], `team "${t.name}" has no Slack channel or Microsoft Teams destination`);
    }
  });

  policy.hosts.forEach((h, i) => {
    ref('environment', envs, ['hosts', i, 'environment'], h.environment);
    if (h.team !== undefined) ref('team', teams, ['hosts', i, 'team'], h.team);
    if (h.ring !== undefined) ref('ring', rings, ['hosts', i, 'ring'], h.ring);
    refs('group', groups, ['hosts', i, 'groups'], h.groups);
    if (h.hostKey === undefined) {
      warn(
        ['hosts', i],
        `host "${h.name}" has no hostKey: SSH connections to it are refused until one is pinned`,
      );
    }
  });

  policy.groups.forEach((g, i) => selector(['groups', i, 'match'], g.match));

  policy.webhooks.forEach((w, i) =>
    (w.teams ?? []).forEach((t, k) => ref('team', teams, ['webhooks', i, 'teams', k], t)),
  );
  if (policy.routing.defaultTeam !== undefined) {
    ref('team', teams, ['routing', 'defaultTeam'], policy.routing.defaultTeam);
  } else if (policy.teams.length > 0) {
    warn(
      ['routing'],
      'no routing.defaultTeam: hosts that no rule matches and that name no team are not announced',
    );
  }
  policy.routing.rules.forEach((r, i) => {
    ref('team', teams, ['routing', 'rules', i, 'team'], r.team);
    selector(['routing', 'rules', i, 'match'], r.match);
  });

  policy.rings.forEach((r, i) => {
    selector(['rings', i, 'match'], r.match);
    if (r.match === undefined && r.percent === undefined && i < policy.rings.length - 1) {
      error(
        ['rings', i],
        `ring "${r.name}" has neither match nor percent, so it takes every remaining host; only the last ring may`,
      );
    }
  });

  policy.maintenanceWindows.forEach((w, i) => selector(['maintenanceWindows', i, 'match'], w.match));

  const approvalMatch = (
    path: (string | number)[],
    m: { environments?: string[]; teams?: string[]; groups?: string[] },
  ) => {
    refs('environment', envs, [...path, 'environments'], m.environments);
    refs('team', teams, [...path, 'teams'], m.teams);
    refs('group', groups, [...path, 'groups'], m.groups);
  };
  approverRefs(['approval', 'default', 'approvers'], policy.approval.default.approvers);
  policy.approval.rules.forEach((r, i) => {
    approvalMatch(['approval', 'rules', i, 'match'], r.match);
    approverRefs(['approval', 'rules', i, 'approvers'], r.approvers);
  });
  policy.approval.emergency.when.forEach((m, i) => approvalMatch(['approval', 'emergency', 'when', i], m));
  approverRefs(['approval', 'emergency', 'invokers'], policy.approval.emergency.invokers);

  policy.deployments.healthChecks.forEach((c, i) =>
    selector(['deployments', 'healthChecks', i, 'match'], c.match),
  );

  for (const { role, by } of shadowedRoles(roleTable(policy.roles))) {
    warn(
      ['roles', role],
      `roles.${role} lists people, but roles.${by} is open to everyone${by === 'admin' ? '' : ' (the default when left out)'}, and whoever holds ${by} holds ${role} too: list people in roles.${by} as well`,
    );
  }

  if (policy.approval.itsm !== 'off' && policy.itsm.servicenow?.enabled !== true) {
    error(
      ['approval', 'itsm'],
      `expected itsm.servicenow (enabled) when approval.itsm is "${policy.approval.itsm}": the CAB approves change requests in ServiceNow`,
      policy.approval.itsm,
    );
  }
  for (const system of ['servicenow', 'jira'] as const) {
    (policy.itsm[system]?.teams ?? []).forEach((t, i) => ref('team', teams, ['itsm', system, 'teams', i], t));
  }

  const ra = policy.riskAcceptance;
  if (ra.defaultExpiryDays > ra.maxExpiryDays) {
    error(
      ['riskAcceptance', 'defaultExpiryDays'],
      `expected at most maxExpiryDays (${ra.maxExpiryDays})`,
      ra.defaultExpiryDays,
    );
  }
  return issues;
}

/** `teams[0].approvers["*"]` */
export function render(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg))
      out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** The policy file's roles as the core reads them (user ids and group ids of every platform). */
export function roleTable(roles: Roles): RoleTable {
  const out = {} as Record<(typeof ROLES)[number], RoleTable[(typeof ROLES)[number]]>;
  for (const r of ROLES) {
    const g = roles[r];
    out[r] = {
      everyone: g.everyone,
      users: [...g.slackUsers, ...g.entraUsers],
      groups: [...g.slackUserGroups, ...g.entraGroups],
    };
  }
  return out;
}
