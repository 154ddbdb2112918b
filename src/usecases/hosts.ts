/**
 * Hosts: the ones the policy file defines (reconciled into the database by syncPolicyHosts) and the
 * ones people add with `patchbot hosts add` or `hosts import`. Every change a person causes is
 * audited. A host is never deleted by reconciling or by `hosts remove`: it is retired (no longer
 * collected, counted, announced or deployed to) and keeps its history.
 *
 * SSH host keys are pinned, several per host while a key is rotated. People read and type them in
 * OpenSSH's form (`SHA256:` + unpadded base64, as `ssh-keygen -lf` prints them); the database keeps
 * the sha256 as hex. This file is the one place that converts between the two (fingerprintToHex /
 * hexToFingerprint).
 */
import type { HostSelector, Policy } from '../config/policy-schema.js';
import { closest, hostKeySha256Hex } from '../config/values.js';
import { NotFoundError, PatchbotError, ValidationError } from '../core/errors.js';
import type { Repositories } from '../db/index.js';
import type { HostFilter, HostInput, HostRecord, PinnedHostKey, Surface } from '../db/types.js';

export type HostRepos = Pick<Repositories, 'hosts' | 'audit'>;

/** Who causes a change, for the audit trail. */
export interface Actor {
  id: string;
  display?: string;
  surface: Surface;
}

/** The address that means "this machine": collected with the local executor, never over SSH. */
export const LOCAL_ADDRESS = 'local';

// ---------------------------------------------------------------------------------------------
// fingerprints

/** `SHA256:base64` (OpenSSH) -> sha256 hex as stored; ValidationError naming `where` when malformed. */
export function fingerprintToHex(fingerprint: string, where: string): string {
  const hex = hostKeySha256Hex(fingerprint.trim());
  if (hex === undefined) {
    throw new ValidationError(
      `${where}: expected an SSH host key fingerprint such as "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s" ` +
        `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host), got ${JSON.stringify(fingerprint)}`,
      { details: { where, value: fingerprint } },
    );
  }
  return hex;
}

/** sha256 hex as stored -> `SHA256:base64` as OpenSSH prints it. */
export function hexToFingerprint(hex: string): string {
  return `SHA256:${Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '')}`;
}

/** Pinned keys as people read them: "SHA256:..." with the key type when known. */
export function describeHostKeys(
  keys: readonly PinnedHostKey[],
): { fingerprint: string; type: string | null }[] {
  return keys.map((k) => ({ fingerprint: hexToFingerprint(k.sha256), type: k.type }));
}

/** `keys` plus `added`, each key once (a type learnt later fills one that was unknown). */
export function mergeHostKeys(
  keys: readonly PinnedHostKey[],
  added: readonly PinnedHostKey[],
): PinnedHostKey[] {
  const out = keys.map((k) => ({ ...k }));
  for (const k of added) {
    const same = out.find((o) => o.sha256 === k.sha256);
    if (same === undefined) out.push({ ...k });
    else if (same.type === null) same.type = k.type;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the policy file, for messages

/** Which policy file defines the policy hosts: its absolute path, and whether it exists and is read. */
export interface PolicyFileRef {
  path: string;
  inUse: boolean;
}

/** "/etc/patchbot/patchbot.yaml", or why no policy file is in use. */
export function describePolicyFile(ref: PolicyFileRef): string {
  return ref.inUse
    ? ref.path
    : `no policy file is in use (${ref.path} does not exist; PATCHBOT_CONFIG can name another)`;
}

// ---------------------------------------------------------------------------------------------
// groups and owning team from the policy's selectors

/** The facts selectors look at. */
export interface SelectorSubject {
  name: string;
  labels: Record<string, string>;
  environment: string;
  /** The team the host names itself (not one derived from routing). */
  team?: string | null;
  groups: readonly string[];
}

/** Whether a host matches a selector: every key given must match; a list inside a key is any of. */
export function matchesSelector(h: SelectorSubject, s: Partial<HostSelector>): boolean {
  if (s.hosts && !s.hosts.includes(h.name)) return false;
  if (s.environments && !s.environments.includes(h.environment)) return false;
  if (s.teams && (h.team === undefined || h.team === null || !s.teams.includes(h.team))) return false;
  if (s.groups && !s.groups.some((g) => h.groups.includes(g))) return false;
  for (const [key, values] of Object.entries(s.labels ?? {})) {
    const v = h.labels[key];
    if (v === undefined || !values.includes(v)) return false;
  }
  return true;
}

/**
 * Groups a host belongs to (its own list plus every group whose selector matches) and its owning
 * team (its own `team`, else the first matching routing rule, else routing.defaultTeam).
 */
export function resolveMembership(
  policy: Pick<Policy, 'groups' | 'routing'>,
  h: SelectorSubject,
): { groups: string[]; team: string | null } {
  const groups = [...h.groups];
  for (const g of policy.groups) {
    if (!groups.includes(g.name) && matchesSelector(h, g.match)) groups.push(g.name);
  }
  if (h.team !== undefined && h.team !== null) return { groups, team: h.team };
  const withGroups = { ...h, groups };
  const rule = policy.routing.rules.find((r) => matchesSelector(withGroups, r.match));
  return { groups, team: rule?.team ?? policy.routing.defaultTeam ?? null };
}

// ---------------------------------------------------------------------------------------------
// policy hosts

/** `hostKey` and `hostKeys` of a policy host, each key once. */
function policyHostKeys(h: Policy['hosts'][number]): PinnedHostKey[] {
  const given = [
    ...(h.hostKey === undefined ? [] : [{ value: h.hostKey, where: `hosts.${h.name}.hostKey` }]),
    ...h.hostKeys.map((value, i) => ({ value, where: `hosts.${h.name}.hostKeys[${i}]` })),
  ];
  return mergeHostKeys(
    [],
    given.map((k) => ({ sha256: fingerprintToHex(k.value, k.where), type: null })),
  );
}

/** What the database should hold for each host of the policy file. */
export function policyHostInputs(policy: Policy): HostInput[] {
  return policy.hosts.map((h) => {
    const membership = resolveMembership(policy, {
      name: h.name,
      labels: h.labels,
      environment: h.environment,
      team: h.team,
      groups: h.groups,
    });
    return {
      name: h.name,
      address: h.address,
      port: h.port,
      sshUser: h.user,
      hostKeys: policyHostKeys(h),
      labels: h.labels,
      groups: membership.groups,
      environment: h.environment,
      criticality: h.criticality as 1 | 2 | 3 | 4,
      internetFacing: h.internetFacing,
      compensatingControls: h.compensatingControls,
      ring: h.ring ?? null,
      team: membership.team,
      source: 'policy',
    };
  });
}

/** The definition of a stored host, comparable with a HostInput. */
function definitionOf(h: HostRecord | HostInput): Record<string, unknown> {
  const sortedLabels = Object.fromEntries(
    Object.entries(h.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return {
    address: h.address,
    port: h.port ?? 22,
    sshUser: h.sshUser ?? null,
    hostKeys: [...(h.hostKeys ?? [])]
      .map((k) => ({ sha256: k.sha256, type: k.type ?? null }))
      .sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0)),
    identityFile: h.identityFile ?? null,
    labels: sortedLabels,
    groups: [...(h.groups ?? [])],
    environment: h.environment ?? 'production',
    criticality: h.criticality ?? 3,
    internetFacing: h.internetFacing ?? false,
    compensatingControls: [...(h.compensatingControls ?? [])],
    ring: h.ring ?? null,
    team: h.team ?? null,
    source: h.source ?? 'cli',
  };
}

function changedFields(before: HostRecord, after: HostInput): string[] {
  const a = definitionOf(before);
  const b = definitionOf(after);
  return Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** A host definition as people read it (audit details, JSON output): fingerprints in SHA256 form. */
export function describeDefinition(h: HostRecord | HostInput): Record<string, unknown> {
  const { hostKeys, ...rest } = definitionOf(h);
  return { ...rest, hostKeys: describeHostKeys(hostKeys as PinnedHostKey[]) };
}

export interface SyncResult {
  added: string[];
  /** Policy hosts whose definition changed, with the fields that changed. */
  updated: { name: string; fields: string[] }[];
  /** Hosts added with `patchbot hosts add` that the policy file now defines (the file wins). */
  adopted: string[];
  /** Retired hosts that the policy file defines again (managed again, history intact). */
  restored: string[];
  /** Policy hosts no longer in the file: retired, their history kept. */
  retired: string[];
  unchanged: string[];
}

export interface SyncOptions {
  actor: Actor;
  /** The policy file, for audit details. */
  policyFile?: string;
}

/**
 * Makes the database's policy hosts what the policy file says: hosts in the file are created,
 * updated or restored (source `policy`, teams created as needed), policy hosts no longer in the file
 * are retired (not deleted: snapshots, findings and deployment history stay), hosts added on the
 * command line are left alone unless the file now defines them. Idempotent: a second run with the
 * same file changes nothing and audits nothing.
 */
export async function syncPolicyHosts(
  policy: Policy,
  repos: HostRepos,
  options: SyncOptions,
): Promise<SyncResult> {
  const wanted = policyHostInputs(policy);
  const stored = new Map((await repos.hosts.list({ includeRetired: true })).map((h) => [h.name, h]));
  const result: SyncResult = {
    added: [],
    updated: [],
    adopted: [],
    restored: [],
    retired: [],
    unchanged: [],
  };
  const audit = (action: string, name: string, details: Record<string, unknown>) =>
    repos.audit.append({
      actor: options.actor.id,
      actorDisplay: options.actor.display ?? null,
      surface: options.actor.surface,
      action,
      subjectType: 'host',
      subjectId: name,
      details: { ...details, ...(options.policyFile ? { policyFile: options.policyFile } : {}) },
    });

  for (const input of wanted) {
    const before = stored.get(input.name);
    if (before === undefined) {
      await repos.hosts.upsert(input);
      await audit('host.policy.add', input.name, { definition: describeDefinition(input) });
      result.added.push(input.name);
      continue;
    }
    const fields = changedFields(before, input);
    if (fields.length === 0 && before.retiredAt === null) {
      result.unchanged.push(input.name);
      continue;
    }
    await repos.hosts.upsert(input);
    if (before.retiredAt !== null) {
      await audit('host.policy.restore', input.name, {
        retiredAt: before.retiredAt.toISOString(),
        before: describeDefinition(before),
        definition: describeDefinition(input),
      });
      result.restored.push(input.name);
    } else if (before.source !== 'policy') {
      await audit('host.policy.adopt', input.name, {
        before: describeDefinition(before),
        definition: describeDefinition(input),
      });
      result.adopted.push(input.name);
    } else {
      await audit('host.policy.update', input.name, {
        fields,
        before: describeDefinition(before),
        definition: describeDefinition(input),
      });
      result.updated.push({ name: input.name, fields });
    }
  }

  const inFile = new Set(wanted.map((h) => h.name));
  for (const h of stored.values()) {
    if (h.source !== 'policy' || h.retiredAt !== null || inFile.has(h.name)) continue;
    if (await repos.hosts.retire(h.name)) {
      await audit('host.policy.retire', h.name, { before: describeDefinition(h) });
      result.retired.push(h.name);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// what a person may name for a host

/**
 * Refuses a team, ring or environment the policy does not define (a host of an unknown team is
 * announced to no one; one in an unknown ring is deployed in none). The message names the known
 * ones and the policy file. Unknown groups are only reported (returned): membership in a group
 * nothing refers to changes nothing.
 */
export function checkHostReferences(
  policy: Pick<Policy, 'teams' | 'rings' | 'groups' | 'environments'>,
  input: { team?: string | null; ring?: string | null; environment?: string; groups?: readonly string[] },
  policyFile: PolicyFileRef,
  flags: { team?: string; ring?: string; environment?: string; group?: string } = {},
): string[] {
  const message = (flag: string, kind: string, value: string, known: readonly string[]) => {
    const hint = closest(value, known);
    const none = policyFile.inUse
      ? `no ${kind}s are defined in ${policyFile.path}`
      : `no ${kind}s are defined: no policy file is in use, ${policyFile.path} does not exist`;
    return `${flag}: unknown ${kind} ${JSON.stringify(value)}${hint ? `; did you mean "${hint}"?` : ''} (${
      known.length > 0 ? `known ${kind}s: ${known.join(', ')}` : none
    })`;
  };
  const teams = policy.teams.map((t) => t.name);
  if (input.team !== undefined && input.team !== null && !teams.includes(input.team)) {
    throw new ValidationError(message(flags.team ?? 'team', 'team', input.team, teams), {
      details: { team: input.team, known: teams },
    });
  }
  const rings = policy.rings.map((r) => r.name);
  if (input.ring !== undefined && input.ring !== null && !rings.includes(input.ring)) {
    throw new ValidationError(message(flags.ring ?? 'ring', 'ring', input.ring, rings), {
      details: { ring: input.ring, known: rings },
    });
  }
  if (input.environment !== undefined && !policy.environments.includes(input.environment)) {
    throw new ValidationError(
      message(flags.environment ?? 'environment', 'environment', input.environment, policy.environments),
      { details: { environment: input.environment, known: policy.environments } },
    );
  }
  const groups = policy.groups.map((g) => g.name);
  return (input.groups ?? [])
    .filter((g) => !groups.includes(g))
    .map((g) => message(flags.group ?? 'group', 'group', g, groups));
}

// ---------------------------------------------------------------------------------------------
// hosts added and removed by people

export interface AddHostOptions {
  actor: Actor;
  /** Replace the definition of a host added earlier on the command line. */
  replace?: boolean;
  /** The policy (for groups and the owning team from its selectors). */
  policy?: Pick<Policy, 'groups' | 'routing'>;
  /** The policy file, for messages. */
  policyFile: PolicyFileRef;
  /** Extra audit details (e.g. how the host key was obtained). */
  auditDetails?: Record<string, unknown>;
}

/** "host "x" is defined in /etc/patchbot/patchbot.yaml; <what>" as a CONFLICT. */
function policyOwned(name: string, policyFile: PolicyFileRef, what: string): PatchbotError {
  return new PatchbotError(
    'CONFLICT',
    `host ${JSON.stringify(name)} is defined in the policy file ${policyFile.path}; ${what}`,
    { details: { host: name, policyFile: policyFile.path } },
  );
}

/**
 * Adds a host defined by a person. A host the policy file in use defines cannot be changed here; an
 * existing command-line host is replaced only with `replace`; a retired host is managed again.
 */
export async function addHost(
  repos: HostRepos,
  input: HostInput,
  options: AddHostOptions,
): Promise<HostRecord> {
  const existing = await repos.hosts.get(input.name);
  const active = existing !== null && existing.retiredAt === null ? existing : null;
  if (active?.source === 'policy' && options.policyFile.inUse) {
    throw policyOwned(input.name, options.policyFile, 'change it there');
  }
  if (active && !options.replace) {
    throw new PatchbotError(
      'CONFLICT',
      `host ${JSON.stringify(input.name)} already exists (added ${active.createdAt.toISOString()}); ` +
        'use --replace to redefine it',
      { details: { host: input.name } },
    );
  }
  const membership = options.policy
    ? resolveMembership(options.policy, {
        name: input.name,
        labels: input.labels ?? {},
        environment: input.environment ?? 'production',
        team: input.team,
        groups: input.groups ?? [],
      })
    : { groups: input.groups ?? [], team: input.team ?? null };
  const record = await repos.hosts.upsert({ ...input, ...membership, source: 'cli' });
  await repos.audit.append({
    actor: options.actor.id,
    actorDisplay: options.actor.display ?? null,
    surface: options.actor.surface,
    action: active ? 'host.replace' : 'host.add',
    subjectType: 'host',
    subjectId: record.name,
    details: {
      definition: describeDefinition(record),
      ...(existing ? { before: describeDefinition(existing) } : {}),
      ...(existing?.retiredAt ? { restoredFrom: existing.retiredAt.toISOString() } : {}),
      ...options.auditDetails,
    },
  });
  return record;
}

/** "no host named X; did you mean Y?" */
export function unknownHost(name: string, known: readonly string[]): NotFoundError {
  const hint = closest(name, known);
  const tail =
    known.length === 0
      ? ' (no hosts are defined: add one with `patchbot hosts add` or in the policy file)'
      : hint
        ? `; did you mean "${hint}"?`
        : ' (`patchbot hosts list` shows them)';
  return new NotFoundError(`no host named ${JSON.stringify(name)}${tail}`, { details: { host: name } });
}

export interface RemoveHostResult {
  host: HostRecord;
  /** retired: kept with its history; purged: deleted with its snapshots and findings. */
  outcome: 'retired' | 'purged';
}

/**
 * Removes a host: retires it (no longer collected, counted or deployed to; history kept), or with
 * `purge` deletes it with its snapshots and findings (deployment runs keep its name). A host that
 * the policy file in use defines is removed from the file instead; a policy host while no policy
 * file is in use can be removed here.
 */
export async function removeHost(
  repos: HostRepos,
  name: string,
  options: { actor: Actor; policyFile: PolicyFileRef; purge?: boolean },
): Promise<RemoveHostResult> {
  const host = await repos.hosts.get(name);
  if (!host) {
    const known = (await repos.hosts.list({ includeRetired: true })).map((h) => h.name);
    throw unknownHost(name, known);
  }
  if (host.source === 'policy' && host.retiredAt === null && options.policyFile.inUse) {
    throw policyOwned(name, options.policyFile, 'remove it there (it is then retired, its history kept)');
  }
  const audit = (action: string) =>
    repos.audit.append({
      actor: options.actor.id,
      actorDisplay: options.actor.display ?? null,
      surface: options.actor.surface,
      action,
      subjectType: 'host',
      subjectId: name,
      details: {
        before: describeDefinition(host),
        ...(host.retiredAt ? { retiredAt: host.retiredAt.toISOString() } : {}),
        ...(host.source === 'policy' ? { policyFile: describePolicyFile(options.policyFile) } : {}),
      },
    });
  if (options.purge === true) {
    await repos.hosts.remove(name);
    await audit('host.purge');
    return { host, outcome: 'purged' };
  }
  if (host.retiredAt !== null) {
    throw new PatchbotError(
      'CONFLICT',
      `host ${JSON.stringify(name)} was already retired on ${host.retiredAt.toISOString()}; ` +
        '--purge deletes it with its inventory and findings',
      { details: { host: name } },
    );
  }
  const retired = await repos.hosts.retire(name);
  if (!retired) throw unknownHost(name, []);
  await audit('host.retire');
  return { host: retired, outcome: 'retired' };
}

export async function listHosts(
  repos: Pick<Repositories, 'hosts'>,
  filter: HostFilter = {},
): Promise<HostRecord[]> {
  return repos.hosts.list(filter);
}
