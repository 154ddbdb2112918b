/**
 * Hosts: the ones the policy file defines (reconciled into the database by syncPolicyHosts) and the
 * ones people add with `patchbot hosts add`. Every change a person causes is audited.
 *
 * SSH host keys are pinned. People read and type them in OpenSSH's form (`SHA256:` + unpadded
 * base64, as `ssh-keygen -lf` prints them); the database keeps the sha256 as hex. This file is the
 * one place that converts between the two (fingerprintToHex / hexToFingerprint).
 */
import type { HostSelector, Policy } from '../config/policy-schema.js';
import { closest, hostKeySha256Hex } from '../config/values.js';
import { NotFoundError, PatchbotError, ValidationError } from '../core/errors.js';
import type { Repositories } from '../db/index.js';
import type { HostFilter, HostInput, HostRecord, Surface } from '../db/types.js';

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
      hostKeySha256: h.hostKey === undefined ? null : fingerprintToHex(h.hostKey, `hosts.${h.name}.hostKey`),
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
    hostKeySha256: h.hostKeySha256 ?? null,
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

/** A host definition as people read it (audit details, JSON output): the fingerprint in SHA256 form. */
export function describeDefinition(h: HostRecord | HostInput): Record<string, unknown> {
  const { hostKeySha256, ...rest } = definitionOf(h);
  return { ...rest, hostKey: typeof hostKeySha256 === 'string' ? hexToFingerprint(hostKeySha256) : null };
}

export interface SyncResult {
  added: string[];
  /** Policy hosts whose definition changed, with the fields that changed. */
  updated: { name: string; fields: string[] }[];
  /** Hosts added with `patchbot hosts add` that the policy file now defines (the file wins). */
  adopted: string[];
  removed: string[];
  unchanged: string[];
}

export interface SyncOptions {
  actor: Actor;
  /** The policy file, for audit details. */
  policyFile?: string;
}

/**
 * Makes the database's policy hosts what the policy file says: hosts in the file are created or
 * updated (source `policy`, teams created as needed), policy hosts no longer in the file are
 * removed, hosts added on the command line are left alone unless the file now defines them.
 * Idempotent: a second run with the same file changes nothing and audits nothing.
 */
export async function syncPolicyHosts(
  policy: Policy,
  repos: HostRepos,
  options: SyncOptions,
): Promise<SyncResult> {
  const wanted = policyHostInputs(policy);
  const stored = new Map((await repos.hosts.list()).map((h) => [h.name, h]));
  const result: SyncResult = { added: [], updated: [], adopted: [], removed: [], unchanged: [] };
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
    if (fields.length === 0) {
      result.unchanged.push(input.name);
      continue;
    }
    await repos.hosts.upsert(input);
    if (before.source !== 'policy') {
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
    if (h.source !== 'policy' || inFile.has(h.name)) continue;
    if (await repos.hosts.remove(h.name)) {
      await audit('host.policy.remove', h.name, { before: describeDefinition(h) });
      result.removed.push(h.name);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// hosts added and removed by people

export interface AddHostOptions {
  actor: Actor;
  /** Replace the definition of a host added earlier on the command line. */
  replace?: boolean;
  /** The policy (for groups and the owning team from its selectors). */
  policy?: Pick<Policy, 'groups' | 'routing'>;
  /** Name of the policy file for messages (default patchbot.yaml). */
  policyFile?: string;
  /** Extra audit details (e.g. how the host key was obtained). */
  auditDetails?: Record<string, unknown>;
}

/**
 * Adds a host defined by a person. A host the policy file defines cannot be changed here; an
 * existing command-line host is replaced only with `replace`.
 */
export async function addHost(
  repos: HostRepos,
  input: HostInput,
  options: AddHostOptions,
): Promise<HostRecord> {
  const file = options.policyFile ?? 'patchbot.yaml';
  const existing = await repos.hosts.get(input.name);
  if (existing?.source === 'policy') {
    throw new PatchbotError(
      'CONFLICT',
      `host ${JSON.stringify(input.name)} is defined in ${file}; change it there`,
      { details: { host: input.name } },
    );
  }
  if (existing && !options.replace) {
    throw new PatchbotError(
      'CONFLICT',
      `host ${JSON.stringify(input.name)} already exists (added ${existing.createdAt.toISOString()}); ` +
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
    action: existing ? 'host.replace' : 'host.add',
    subjectType: 'host',
    subjectId: record.name,
    details: {
      definition: describeDefinition(record),
      ...(existing ? { before: describeDefinition(existing) } : {}),
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

/** Removes a host added on the command line (with its snapshots and findings). */
export async function removeHost(
  repos: HostRepos,
  name: string,
  options: { actor: Actor; policyFile?: string },
): Promise<HostRecord> {
  const host = await repos.hosts.get(name);
  if (!host) {
    const known = (await repos.hosts.list()).map((h) => h.name);
    throw unknownHost(name, known);
  }
  if (host.source === 'policy') {
    throw new PatchbotError(
      'CONFLICT',
      `host ${JSON.stringify(name)} is defined in ${options.policyFile ?? 'patchbot.yaml'}; remove it there`,
      { details: { host: name } },
    );
  }
  await repos.hosts.remove(name);
  await repos.audit.append({
    actor: options.actor.id,
    actorDisplay: options.actor.display ?? null,
    surface: options.actor.surface,
    action: 'host.remove',
    subjectType: 'host',
    subjectId: name,
    details: { before: describeDefinition(host) },
  });
  return host;
}

export async function listHosts(
  repos: Pick<Repositories, 'hosts'>,
  filter: HostFilter = {},
): Promise<HostRecord[]> {
  return repos.hosts.list(filter);
}
