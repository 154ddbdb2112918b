/**
 * Onboarding a fleet: hosts from an OpenSSH known_hosts file (with the keys it trusts, pinned) or an
 * Ansible inventory (hosts, groups as labels, ansible_host/port/user), and host keys pinned in bulk.
 * Each import is planned first (what would be added, pinned, skipped and why), then applied host by
 * host, every change audited. Nothing is deleted; a host's existing pins are only added to.
 */
import path from 'node:path';
import os from 'node:os';
import type { Policy } from '../config/policy-schema.js';
import { HostAddress, LabelKey, UnixUser } from '../config/values.js';
import { userMessageOf } from '../core/errors.js';
import { HostName, type HostInput, type HostRecord, type PinnedHostKey } from '../db/types.js';
import { mapSettledLimited } from '../executors/pool.js';
import { fetchHostKeys, isSupportedHostKeyType } from '../executors/ssh/index.js';
import type { AnsibleHost } from '../inventory/sources/ansible.js';
import { isAddress, nameMatches, type KnownHostsFile } from '../inventory/sources/known-hosts.js';
import {
  LOCAL_ADDRESS,
  addHost,
  describeHostKeys,
  fingerprintToHex,
  hexToFingerprint,
  mergeHostKeys,
  type Actor,
  type HostRepos,
  type PolicyFileRef,
} from './hosts.js';

/** A host as a file describes it. */
export interface ImportCandidate {
  name: string;
  address: string;
  port?: number;
  sshUser?: string;
  identityFile?: string;
  labels: Record<string, string>;
  hostKeys: PinnedHostKey[];
  /** Labels under this key prefix come from the file only: the host's others are dropped on update. */
  ownedLabelPrefix?: string;
  /** Where in the file it came from ("known_hosts:12", "inventory.ini"). */
  origin: string;
}

/** Something in the file that was left out on purpose, or could not be read. */
export interface ImportNote {
  where: string;
  message: string;
  /** true: the file says something that could not be imported (the command ends partial). */
  problem: boolean;
}

export interface ImportSource {
  candidates: ImportCandidate[];
  notes: ImportNote[];
}

// ---------------------------------------------------------------------------------------------
// known_hosts

/** A host asked for by name on the command line: `name` or `[name]:port`. */
export interface WantedHost {
  host: string;
  port: number;
}

export function parseWantedHost(value: string): WantedHost | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value);
  const host = (m ? m[1] : value)?.toLowerCase() ?? '';
  const port = m ? Number(m[2]) : 22;
  if (!HostAddress.safeParse(host).success || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Hosts of a known_hosts file, with every key it trusts for each. Names on one line are one host
 * (`web-1.example.com,192.0.2.10`: the name, reached at that name). Hashed names are found only
 * for the hosts in `wanted`; without `wanted`, every plain host name is imported. `@revoked` keys
 * are never pinned; `@cert-authority` lines, patterns and key types patchbot cannot verify are noted.
 */
export function hostsFromKnownHosts(
  file: KnownHostsFile,
  fileName: string,
  wanted?: readonly WantedHost[],
): ImportSource {
  const notes: ImportNote[] = file.problems.map((p) => ({
    where: `${fileName}:${p.line}`,
    message: p.message,
    problem: true,
  }));
  const revoked = new Set(file.entries.filter((e) => e.marker === 'revoked').map((e) => e.sha256));
  let hashedSkipped = 0;

  // endpoints "host port" -> keys and lines; names on one line are joined (union-find)
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r) ?? r;
    parent.set(k, r);
    return r;
  };
  const join = (a: string, b: string) => parent.set(find(a), find(b));
  const endpoint = (host: string, port: number) => `${host} ${port}`;
  const keysOf = new Map<string, { key: PinnedHostKey; line: number }[]>();
  const order: string[] = [];

  for (const e of file.entries) {
    const where = `${fileName}:${e.line}`;
    if (e.marker === 'revoked') continue;
    if (e.marker === 'cert-authority') {
      notes.push({
        where,
        message:
          "@cert-authority (host certificates) is not supported: patchbot pins each host key; pin the hosts' own keys (`patchbot hosts pin --scan`)",
        problem: false,
      });
      continue;
    }
    if (!isSupportedHostKeyType(e.keyType)) {
      notes.push({
        where,
        message: `${e.keyType} keys cannot be verified by patchbot's SSH client; not pinned`,
        problem: false,
      });
      continue;
    }
    if (revoked.has(e.sha256)) {
      notes.push({
        where,
        message: `${e.fingerprint} is marked @revoked in this file; not pinned`,
        problem: false,
      });
      continue;
    }
    const here: string[] = [];
    for (const n of e.names) {
      if (n.kind === 'pattern') {
        notes.push({
          where,
          message: `pattern ${JSON.stringify(n.pattern)} names no single host; skipped`,
          problem: false,
        });
      } else if (n.kind === 'hashed') {
        const match = wanted?.find((w) => nameMatches(n, w.host, w.port));
        if (match) here.push(endpoint(match.host, match.port));
        else hashedSkipped += 1;
      } else if (wanted === undefined || wanted.some((w) => w.host === n.host && w.port === n.port)) {
        here.push(endpoint(n.host, n.port));
      }
    }
    for (const h of here) {
      if (!parent.has(h)) {
        parent.set(h, h);
        order.push(h);
      }
      const list = keysOf.get(h) ?? [];
      list.push({ key: { sha256: e.sha256, type: e.keyType }, line: e.line });
      keysOf.set(h, list);
    }
    for (const h of here.slice(1)) join(h, here[0] ?? h);
  }
  if (hashedSkipped > 0)
    notes.push({
      where: fileName,
      message: `${hashedSkipped} hashed entr${hashedSkipped === 1 ? 'y' : 'ies'} not imported: hashed names can only be matched; name the hosts to import (patchbot hosts import --known-hosts ${fileName} HOST...)`,
      problem: false,
    });

  const components = new Map<string, string[]>();
  for (const h of order) {
    const root = find(h);
    components.set(root, [...(components.get(root) ?? []), h]);
  }
  const candidates: ImportCandidate[] = [];
  const taken = new Set<string>();
  for (const members of components.values()) {
    const endpoints = members.map((m) => {
      const [host = '', port = '22'] = m.split(' ');
      return { host, port: Number(port) };
    });
    const main = endpoints.find((e) => !isAddress(e.host)) ?? endpoints[0];
    if (main === undefined) continue;
    const lines = [...new Set(members.flatMap((m) => keysOf.get(m) ?? []).map((k) => k.line))].sort(
      (a, b) => a - b,
    );
    const where = `${fileName}:${lines.join(',')}`;
    const aliases = endpoints.filter((e) => e !== main).map((e) => e.host);
    if (!HostName.safeParse(main.host).success) {
      notes.push({
        where,
        message: `${main.host} cannot be a host name in patchbot; add it with \`patchbot hosts add NAME --address ${main.host}\``,
        problem: true,
      });
      continue;
    }
    if (taken.has(main.host)) {
      notes.push({
        where,
        message: `${main.host} is listed on more than one port; only the first was imported`,
        problem: true,
      });
      continue;
    }
    taken.add(main.host);
    if (aliases.length > 0)
      notes.push({
        where,
        message: `${aliases.join(', ')}: the same host as ${main.host} (same line); imported once`,
        problem: false,
      });
    candidates.push({
      name: main.host,
      address: main.host,
      // a plain name in known_hosts is port 22, whatever the policy's default port
      port: main.port,
      labels: {},
      hostKeys: mergeHostKeys(
        [],
        members.flatMap((m) => (keysOf.get(m) ?? []).map((k) => k.key)),
      ),
      origin: where,
    });
  }
  for (const w of wanted ?? []) {
    if (!candidates.some((c) => c.name === w.host && (c.port ?? 22) === w.port))
      notes.push({
        where: fileName,
        message: `${w.port === 22 ? w.host : `[${w.host}]:${w.port}`}: no usable key in this file (plain or hashed)`,
        problem: true,
      });
  }
  return { candidates, notes };
}

// ---------------------------------------------------------------------------------------------
// Ansible

export interface AnsibleImportOptions {
  /** Label key prefix for groups: group "webservers" -> label "ansible/webservers=true". */
  groupLabelPrefix: string;
  /** Directory relative identity files are read from (the inventory's). */
  baseDir: string;
}

const CONNECTIONS_OVER_SSH = new Set(['ssh', 'paramiko', 'smart']);

function expandHome(file: string, baseDir: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return path.resolve(baseDir, file);
}

/** A variable as text when it is a scalar (YAML may give a mapping or a list). */
function scalarText(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

export function hostsFromAnsible(
  hosts: readonly AnsibleHost[],
  fileName: string,
  options: AnsibleImportOptions,
): ImportSource {
  const notes: ImportNote[] = [];
  const candidates: ImportCandidate[] = [];
  for (const h of hosts) {
    const where = `${fileName}: ${h.name}`;
    const skip = (message: string) => notes.push({ where, message, problem: true });
    const v = h.vars;
    const templated = Object.entries(v).find(
      ([k, value]) => k.startsWith('ansible_') && typeof value === 'string' && value.includes('{{'),
    );
    if (templated) {
      skip(
        `${templated[0]} is a Jinja template (${JSON.stringify(templated[1])}); patchbot does not evaluate templates: set the value, or add the host with \`patchbot hosts add\``,
      );
      continue;
    }
    const connection = v.ansible_connection ?? 'ssh';
    const local = connection === 'local';
    if (!local && (typeof connection !== 'string' || !CONNECTIONS_OVER_SSH.has(connection))) {
      skip(`ansible_connection ${JSON.stringify(connection)}: patchbot reaches hosts over SSH only`);
      continue;
    }
    if (!HostName.safeParse(h.name).success) {
      skip(`${JSON.stringify(h.name)} cannot be a host name in patchbot (letters, digits, ".", "_", "-")`);
      continue;
    }
    const hostValue = v.ansible_host ?? v.ansible_ssh_host ?? h.name;
    const address = local ? LOCAL_ADDRESS : scalarText(hostValue);
    if (address === undefined || (!local && !HostAddress.safeParse(address).success)) {
      skip(`ansible_host ${JSON.stringify(hostValue)} is not a host name or an IP address`);
      continue;
    }
    const portValue = v.ansible_port ?? v.ansible_ssh_port;
    const port = portValue === undefined ? undefined : Number(portValue);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      skip(`ansible_port ${JSON.stringify(portValue)} is not a port number 1-65535`);
      continue;
    }
    const userValue = v.ansible_user ?? v.ansible_ssh_user;
    const user = userValue === undefined ? undefined : scalarText(userValue);
    if (userValue !== undefined && (user === undefined || !UnixUser.safeParse(user).success)) {
      skip(`ansible_user ${JSON.stringify(user)} is not a user name`);
      continue;
    }
    const keyValue = v.ansible_ssh_private_key_file ?? v.ansible_private_key_file;
    const keyFile = keyValue === undefined ? undefined : scalarText(keyValue);
    if (keyValue !== undefined && (keyFile === undefined || keyFile === '')) {
      skip(`ansible_ssh_private_key_file ${JSON.stringify(keyValue)} is not a file path`);
      continue;
    }
    const labels: Record<string, string> = {};
    let badGroup: string | undefined;
    for (const g of h.groups) {
      const key = `${options.groupLabelPrefix}${g}`;
      if (!LabelKey.safeParse(key).success) badGroup = g;
      else labels[key] = 'true';
    }
    if (badGroup !== undefined) {
      skip(
        `group ${JSON.stringify(badGroup)} cannot be a label name ("${options.groupLabelPrefix}${badGroup}")`,
      );
      continue;
    }
    candidates.push({
      name: h.name,
      address,
      ...(local || port === undefined ? {} : { port }),
      ...(local || user === undefined ? {} : { sshUser: user }),
      ...(local || keyFile === undefined ? {} : { identityFile: expandHome(keyFile, options.baseDir) }),
      labels,
      hostKeys: [],
      ownedLabelPrefix: options.groupLabelPrefix,
      origin: where,
    });
  }
  return { candidates, notes };
}

// ---------------------------------------------------------------------------------------------
// plan and apply

/** What to give every imported host on top of what the file says (flags of the command). */
export interface ImportDefaults {
  port: number;
  sshUser?: string;
  identityFile?: string;
  environment: string;
  criticality?: 1 | 2 | 3 | 4;
  team?: string;
  labels: Record<string, string>;
}

export type ImportAction =
  | { type: 'add'; input: HostInput; restored: boolean }
  | { type: 'update'; input: HostInput; fields: string[] }
  | { type: 'pin'; keys: PinnedHostKey[]; added: PinnedHostKey[] }
  | { type: 'unchanged'; reason: string }
  | { type: 'skip'; reason: string };

export interface ImportPlanEntry {
  candidate: ImportCandidate;
  action: ImportAction;
}

/** A host's labels without those the file owns (a group the host left loses its label). */
function keptLabels(labels: Record<string, string>, ownedPrefix: string | undefined): Record<string, string> {
  if (ownedPrefix === undefined || ownedPrefix === '') return labels;
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith(ownedPrefix)));
}

function inputOf(c: ImportCandidate, d: ImportDefaults, existing: HostRecord | null): HostInput {
  return {
    name: c.name,
    address: c.address,
    port: c.port ?? d.port,
    sshUser: c.sshUser ?? d.sshUser ?? null,
    identityFile: c.identityFile ?? d.identityFile ?? null,
    hostKeys: mergeHostKeys(existing?.hostKeys ?? [], c.hostKeys),
    labels: { ...keptLabels(existing?.labels ?? {}, c.ownedLabelPrefix), ...d.labels, ...c.labels },
    groups: existing?.groups ?? [],
    environment: d.environment,
    ...(d.criticality !== undefined ? { criticality: d.criticality } : {}),
    team: d.team ?? null,
    source: 'cli',
  };
}

/**
 * What importing the candidates would do. New and retired hosts are added; hosts added earlier on
 * the command line get the file's keys pinned beside theirs (and, with `update`, the file's address,
 * port, user and labels); hosts the policy file in use defines are left to it.
 */
export async function planImport(
  repos: Pick<HostRepos, 'hosts'>,
  candidates: readonly ImportCandidate[],
  options: { defaults: ImportDefaults; policyFile: PolicyFileRef; update?: boolean },
): Promise<ImportPlanEntry[]> {
  const stored = new Map((await repos.hosts.list({ includeRetired: true })).map((h) => [h.name, h] as const));
  return candidates.map((candidate) => {
    const existing = stored.get(candidate.name) ?? null;
    const active = existing?.retiredAt === null ? existing : null;
    if (active === null) {
      return {
        candidate,
        action: {
          type: 'add',
          input: inputOf(candidate, options.defaults, null),
          restored: existing !== null,
        },
      };
    }
    if (active.source === 'policy' && options.policyFile.inUse) {
      const keys = candidate.hostKeys.filter((k) => !active.hostKeys.some((a) => a.sha256 === k.sha256));
      return {
        candidate,
        action: {
          type: 'skip',
          reason:
            `defined in the policy file ${options.policyFile.path}` +
            (keys.length > 0
              ? `; to pin these keys add them there: hostKeys: [${describeHostKeys(keys)
                  .map((k) => `"${k.fingerprint}"`)
                  .join(', ')}]`
              : ''),
        },
      };
    }
    if (options.update === true) {
      const input = inputOf(candidate, options.defaults, active);
      const before = {
        address: active.address,
        port: active.port,
        sshUser: active.sshUser,
        identityFile: active.identityFile,
        labels: active.labels,
        hostKeys: active.hostKeys,
      };
      const after = {
        address: input.address,
        port: input.port,
        sshUser: input.sshUser,
        identityFile: input.identityFile,
        labels: input.labels,
        hostKeys: input.hostKeys,
      };
      const fields = Object.keys(after).filter(
        (k) =>
          JSON.stringify(before[k as keyof typeof before]) !== JSON.stringify(after[k as keyof typeof after]),
      );
      return fields.length === 0
        ? { candidate, action: { type: 'unchanged', reason: 'already as the file says' } }
        : {
            candidate,
            action: {
              type: 'update',
              input: {
                ...input,
                team: active.team,
                environment: active.environment,
                criticality: active.criticality,
                internetFacing: active.internetFacing,
                compensatingControls: active.compensatingControls,
                ring: active.ring,
              },
              fields,
            },
          };
    }
    const added = candidate.hostKeys.filter((k) => !active.hostKeys.some((a) => a.sha256 === k.sha256));
    if (added.length > 0)
      return { candidate, action: { type: 'pin', keys: mergeHostKeys(active.hostKeys, added), added } };
    return {
      candidate,
      action: {
        type: 'unchanged',
        reason:
          candidate.hostKeys.length > 0
            ? 'exists, its keys already pinned'
            : 'exists (--update redefines it from the file)',
      },
    };
  });
}

export interface ImportOutcome {
  entry: ImportPlanEntry;
  ok: boolean;
  error?: string;
}

/** Applies a plan host by host (one failure does not stop the others), auditing each change. */
export async function applyImport(
  repos: HostRepos,
  plan: readonly ImportPlanEntry[],
  options: {
    actor: Actor;
    policy: Pick<Policy, 'groups' | 'routing'>;
    policyFile: PolicyFileRef;
    /** "known_hosts ~/.ssh/known_hosts", "ansible inventory.ini": for the audit trail. */
    importedFrom: string;
  },
): Promise<ImportOutcome[]> {
  const out: ImportOutcome[] = [];
  for (const entry of plan) {
    const a = entry.action;
    try {
      if (a.type === 'add' || a.type === 'update') {
        await addHost(repos, a.input, {
          actor: options.actor,
          replace: a.type === 'update',
          policy: options.policy,
          policyFile: options.policyFile,
          auditDetails: { importedFrom: options.importedFrom, origin: entry.candidate.origin },
        });
      } else if (a.type === 'pin') {
        await pinHostKeys(repos, entry.candidate.name, a.keys, {
          actor: options.actor,
          auditDetails: { importedFrom: options.importedFrom, origin: entry.candidate.origin },
        });
      }
      out.push({ entry, ok: true });
    } catch (err) {
      out.push({ entry, ok: false, error: userMessageOf(err) });
    }
  }
  return out;
}

/** Replaces a host's pins with `keys` (audited with the pins before and after). */
export async function pinHostKeys(
  repos: HostRepos,
  name: string,
  keys: readonly PinnedHostKey[],
  options: { actor: Actor; auditDetails?: Record<string, unknown> },
): Promise<HostRecord> {
  const before = await repos.hosts.require(name);
  const after = await repos.hosts.setHostKeys(name, keys);
  await repos.audit.append({
    actor: options.actor.id,
    actorDisplay: options.actor.display ?? null,
    surface: options.actor.surface,
    action: 'host.pin',
    subjectType: 'host',
    subjectId: name,
    details: {
      before: describeHostKeys(before.hostKeys),
      after: describeHostKeys(after.hostKeys),
      ...options.auditDetails,
    },
  });
  return after;
}

/** "SHA256:... (ssh-ed25519)" */
export function describeKey(k: PinnedHostKey): string {
  return `${hexToFingerprint(k.sha256)}${k.type ? ` (${k.type})` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// trust on first use, in bulk

export type ScannedKeyStatus = 'pinned' | 'new';

export interface HostScan {
  host: HostRecord;
  ok: boolean;
  /** Every key the host presents (of the types patchbot verifies), with whether it is pinned. */
  keys: (PinnedHostKey & { fingerprint: string; status: ScannedKeyStatus })[];
  /**
   * The host has pins and presents none of them: reinstalled, its keys replaced, or someone in
   * between. Never pinned without an explicit replace.
   */
  changed: boolean;
  error?: string;
}

/**
 * Reads every host key each host presents, one key exchange per key type (no authentication, no
 * command), at most `concurrency` hosts at a time; one unreachable host does not stop the others.
 */
export async function scanHostKeys(
  hosts: readonly HostRecord[],
  options: {
    concurrency: number;
    timeoutMs: number;
    onProgress?: (p: { done: number; total: number; unit: 'hosts'; host: string }) => void;
  },
): Promise<HostScan[]> {
  let done = 0;
  const settled = await mapSettledLimited(hosts, options.concurrency, async (host) => {
    try {
      return await fetchHostKeys(host.address, host.port, { timeoutMs: options.timeoutMs });
    } finally {
      done += 1;
      options.onProgress?.({ done, total: hosts.length, unit: 'hosts', host: host.name });
    }
  });
  return hosts.map((host, i) => {
    const r = settled[i];
    if (r === undefined || r.status === 'rejected')
      return { host, ok: false, keys: [], changed: false, error: userMessageOf(r?.reason) };
    const keys = r.value.map((k) => {
      const sha256 = fingerprintToHex(k.fingerprint, 'scanned key');
      const status: ScannedKeyStatus = host.hostKeys.some((p) => p.sha256 === sha256) ? 'pinned' : 'new';
      return { sha256, type: k.keyType, fingerprint: k.fingerprint, status };
    });
    const changed = host.hostKeys.length > 0 && !keys.some((k) => k.status === 'pinned');
    return { host, ok: true, keys, changed };
  });
}
