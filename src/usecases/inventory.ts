/**
 * Inventory collection for stored hosts: one executor per host (the local executor for this machine
 * or a host whose address is `local`, otherwise SSH with the pinned host key), collected with a
 * concurrency limit, each snapshot stored as soon as it arrives. One failed host never stops the
 * others; a host without a pinned key is refused before any connection is made.
 */
import os from 'node:os';
import path from 'node:path';
import type { Policy } from '../config/policy-schema.js';
import { NotFoundError, PatchbotError, userMessageOf, type ErrorCode } from '../core/errors.js';
import type { BaselineSourceStatus, InventorySnapshot, OsInfo } from '../core/model.js';
import type { Repositories } from '../db/index.js';
import { HostName, type HostRecord } from '../db/types.js';
import type { Executor } from '../executors/executor.js';
import { observedExecutor, type CommandObserver } from '../executors/observed.js';
import { LocalExecutor } from '../executors/local/local-executor.js';
import { SshExecutor } from '../executors/ssh/index.js';
import {
  collectInventory,
  collectMany,
  type CollectOptions,
  type CollectWarning,
} from '../inventory/collector.js';
import {
  describeDefinition,
  hexToFingerprint,
  LOCAL_ADDRESS,
  resolveMembership,
  unknownHost,
  type Actor,
} from './hosts.js';

export type InventoryRepos = Pick<Repositories, 'hosts' | 'inventory' | 'audit'>;

/** What collection needs: the repositories and the configuration (a CLI AppContext fits). */
export interface InventoryDeps {
  repos: InventoryRepos;
  /**
   * policy: SSH defaults (user, identity file, timeouts, concurrency) and per-host identity files;
   * policyPath: relative identity files are read from its directory; env.sshAuthSock: the SSH
   * agent used when no identity file is configured.
   */
  config: {
    policy: Pick<Policy, 'ssh' | 'hosts' | 'groups' | 'routing'> & { inventory?: Policy['inventory'] };
    policyPath: string;
    env: { sshAuthSock?: string };
  };
  /** Hears of every command run over SSH (its duration and outcome: the SSH metrics). */
  onCommand?: CommandObserver;
}

export interface CollectedHost {
  host: string;
  address: string;
  ok: boolean;
  /** Set when ok. */
  snapshotId?: string;
  packages?: number;
  os?: OsInfo;
  kernel?: string;
  rebootRequired?: boolean;
  /** Firmware devices, language packages and what each baseline source gave (docs/inventory.md). */
  baseline?: { firmwareDevices: number; thirdParty: number; dmi: boolean; sources: BaselineSourceStatus[] };
  /** Lines of the host's output that could not be read (the rest was kept). */
  warnings: CollectWarning[];
  /** Why it failed (set when not ok), safe to show a person. */
  error?: string;
  code?: ErrorCode;
}

export interface CollectSummary {
  /** Every host, in the order asked. */
  hosts: CollectedHost[];
  succeeded: CollectedHost[];
  failed: CollectedHost[];
  /** Packages over all stored snapshots. */
  packages: number;
  /** Hosts that need a reboot. */
  rebootRequired: string[];
}

/** One host done (stored or failed). */
export interface CollectProgress {
  done: number;
  total: number;
  unit: 'hosts';
  host: string;
  ok: boolean;
  result: CollectedHost;
}

export interface CollectHostsOptions {
  /** Hosts contacted at the same time (default: the policy's ssh.concurrency). */
  concurrency?: number;
  /** Names of hosts to collect on this machine with the local executor whatever their address. */
  localHosts?: ReadonlySet<string>;
  /** Hears of each host when it is done (stored or failed). */
  onProgress?: (progress: CollectProgress) => void;
  /** When given, the run is written to the audit trail. */
  actor?: Actor;
  /** Overrides for tests: per-command timeout and connection timeout. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

function baselineSummary(snapshot: InventorySnapshot): CollectedHost['baseline'] {
  const b = snapshot.baseline!;
  return {
    firmwareDevices: b.firmware.length,
    thirdParty: b.thirdParty.length,
    dmi: b.dmi !== undefined,
    sources: b.sources,
  };
}

/** The baseline sources of policy `inventory` (defaults when the caller has no policy). */
export function baselineOptions(inventory: Policy['inventory'] | undefined): CollectOptions['baseline'] {
  if (inventory === undefined) return {};
  return {
    firmware: inventory.firmware,
    python: inventory.python,
    sitePackages: inventory.sitePackages,
    npm: inventory.npm,
    lockfiles: inventory.lockfiles,
    lockfileDepth: inventory.lockfileDepth,
  };
}

function expandPath(file: string, baseDir: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return path.resolve(baseDir, file);
}

function pinHint(host: HostRecord, policyFile: string): string {
  const check = 'compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host';
  return host.source === 'policy'
    ? `add hostKey: "SHA256:..." to host ${host.name} in ${policyFile} (${check})`
    : `run \`patchbot hosts add ${host.name} --address ${host.address} --host-key SHA256:... --replace\` ` +
        `(${check}), or --scan-host-key instead of --host-key to read the key the host presents`;
}

/** The executor for one host; throws PatchbotError (before any connection) when it cannot be built. */
export function executorFor(
  deps: InventoryDeps,
  host: HostRecord,
  options: { local?: boolean; connectTimeoutMs?: number } = {},
): Executor {
  if (options.local === true || host.address === LOCAL_ADDRESS) return new LocalExecutor({ host: host.name });
  const policyFile = path.basename(deps.config.policyPath);
  if (host.retiredAt !== null) {
    throw new PatchbotError(
      'NOT_FOUND',
      `host ${host.name} was retired on ${host.retiredAt.toISOString()}; not connecting (add it again to manage it)`,
      { details: { host: host.name, retiredAt: host.retiredAt.toISOString() } },
    );
  }
  if (host.hostKeys.length === 0) {
    throw new PatchbotError(
      'HOST_KEY_REJECTED',
      `host ${host.name} has no pinned SSH host key; not connecting. To pin it, ${pinHint(host, policyFile)}`,
      { details: { host: host.name } },
    );
  }
  const entry =
    host.source === 'policy' ? deps.config.policy.hosts.find((h) => h.name === host.name) : undefined;
  const identityFile = entry?.identityFile ?? host.identityFile ?? deps.config.policy.ssh.identityFile;
  if (identityFile === undefined && deps.config.env.sshAuthSock === undefined) {
    throw new PatchbotError(
      'CONFIG_INVALID',
      `no SSH identity for host ${host.name}: set ssh.identityFile in ${policyFile}, add the host with --identity-file, or run an SSH agent (SSH_AUTH_SOCK)`,
      { details: { host: host.name } },
    );
  }
  const ssh = new SshExecutor({
    host: host.name,
    address: host.address,
    port: host.port,
    username: host.sshUser ?? deps.config.policy.ssh.user,
    hostKeys: host.hostKeys.map((k) => ({ fingerprint: hexToFingerprint(k.sha256), type: k.type })),
    ...(identityFile !== undefined
      ? { privateKeyPath: expandPath(identityFile, path.dirname(deps.config.policyPath)) }
      : { agent: deps.config.env.sshAuthSock }),
    connectTimeoutMs: options.connectTimeoutMs ?? deps.config.policy.ssh.connectTimeout,
  });
  return deps.onCommand ? observedExecutor(ssh, deps.onCommand) : ssh;
}

/** Stored hosts by name, in the order given (duplicates once); NotFoundError for an unknown name. */
export async function resolveHosts(
  repos: Pick<Repositories, 'hosts'>,
  names: readonly (string | HostRecord)[],
): Promise<HostRecord[]> {
  const wanted = names.filter((n) => typeof n === 'string');
  const stored = new Map<string, HostRecord>(
    wanted.length > 0 ? (await repos.hosts.list({ includeRetired: true })).map((h) => [h.name, h]) : [],
  );
  const out = new Map<string, HostRecord>();
  for (const n of names) {
    if (typeof n !== 'string') {
      out.set(n.name, n);
      continue;
    }
    const h = stored.get(n);
    if (!h) {
      const managed = [...stored.values()].filter((x) => x.retiredAt === null).map((x) => x.name);
      throw unknownHost(n, managed);
    }
    if (h.retiredAt !== null) {
      throw new NotFoundError(
        `host ${JSON.stringify(n)} was retired on ${h.retiredAt.toISOString()} and is no longer managed ` +
          '(`patchbot hosts list --retired` shows it; define it again to manage it)',
        { details: { host: n, retiredAt: h.retiredAt.toISOString() } },
      );
    }
    out.set(n, h);
  }
  return [...out.values()];
}

/**
 * Collects the given hosts (names or records), stores every snapshot as it arrives, and reports
 * each host. An unknown name fails the call before anything is collected.
 */
export async function collectHosts(
  deps: InventoryDeps,
  selection: readonly (string | HostRecord)[],
  options: CollectHostsOptions = {},
): Promise<CollectSummary> {
  const hosts = await resolveHosts(deps.repos, selection);
  const total = hosts.length;
  let done = 0;
  const results = new Map<string, CollectedHost>();
  const finish = (r: CollectedHost): void => {
    results.set(r.host, r);
    done += 1;
    options.onProgress?.({ done, total, unit: 'hosts', host: r.host, ok: r.ok, result: r });
  };
  // Snapshots are stored one after another as they arrive (one transaction each).
  let storing: Promise<void> = Promise.resolve();

  const outcomes = await collectMany(
    hosts,
    (host) =>
      executorFor(deps, host, {
        local: options.localHosts?.has(host.name),
        connectTimeoutMs: options.connectTimeoutMs,
      }),
    {
      concurrency: options.concurrency ?? deps.config.policy.ssh.concurrency,
      timeoutMs: options.commandTimeoutMs ?? deps.config.policy.ssh.commandTimeout,
      maxOutputBytes: deps.config.policy.ssh.maxOutputBytes,
      baseline: baselineOptions(deps.config.policy.inventory),
      onProgress: ({ outcome }) => {
        const base = { host: outcome.host.name, address: outcome.host.address };
        if (!outcome.ok) {
          finish({
            ...base,
            ok: false,
            warnings: [],
            error: outcome.error.userMessage,
            code: outcome.error.code,
          });
          return;
        }
        const { snapshot, warnings } = outcome;
        storing = storing.then(async () => {
          try {
            const snapshotId = await deps.repos.inventory.save(outcome.host.name, snapshot);
            finish({
              ...base,
              ok: true,
              snapshotId,
              packages: snapshot.packages.length,
              os: snapshot.os,
              kernel: snapshot.kernel,
              rebootRequired: snapshot.rebootRequired,
              ...(snapshot.baseline === undefined ? {} : { baseline: baselineSummary(snapshot) }),
              warnings,
            });
          } catch (err) {
            finish({
              ...base,
              ok: false,
              warnings,
              error: `collected, but the snapshot could not be stored: ${userMessageOf(err)}`,
              code: err instanceof PatchbotError ? err.code : 'DATABASE',
            });
          }
        });
      },
    },
  );
  await storing;
  // coverage shows hosts whose collection failed as unreachable until one succeeds
  const failedAt = new Date();
  for (const r of results.values())
    if (!r.ok) await deps.repos.hosts.recordCollectFailure(r.host, r.error ?? 'collection failed', failedAt);

  const ordered = outcomes.map(
    (o) =>
      results.get(o.host.name) ?? {
        host: o.host.name,
        address: o.host.address,
        ok: false,
        warnings: [],
        error: 'no result',
        code: 'EXEC_FAILED' as const,
      },
  );
  const summary: CollectSummary = {
    hosts: ordered,
    succeeded: ordered.filter((r) => r.ok),
    failed: ordered.filter((r) => !r.ok),
    packages: ordered.reduce((n, r) => n + (r.packages ?? 0), 0),
    rebootRequired: ordered.filter((r) => r.ok && r.rebootRequired === true).map((r) => r.host),
  };
  if (options.actor) {
    await deps.repos.audit.append({
      actor: options.actor.id,
      actorDisplay: options.actor.display ?? null,
      surface: options.actor.surface,
      action: 'inventory.collect',
      subjectType: 'inventory',
      subjectId: total === 1 ? (hosts[0]?.name ?? 'hosts') : `${total} hosts`,
      details: {
        ok: ordered.filter((r) => r.ok).map((r) => ({ host: r.host, snapshotId: r.snapshotId })),
        failed: ordered.filter((r) => !r.ok).map((r) => ({ host: r.host, reason: r.error })),
      },
    });
  }
  return summary;
}

/** This machine's host name as a valid host name ("web-1.example.com"; invalid characters become "-"). */
export function localHostName(raw = os.hostname()): string {
  const cleaned = raw.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return HostName.safeParse(cleaned).success ? cleaned : 'localhost';
}

/**
 * The host record of this machine: the host named like it (os.hostname()) when one exists,
 * otherwise a new one (address `local`, source cli), audited as added by `actor`.
 */
export async function ensureLocalHost(
  repos: Pick<Repositories, 'hosts' | 'audit'>,
  options: { actor?: Actor; hostname?: string; policy?: Pick<Policy, 'groups' | 'routing'> } = {},
): Promise<HostRecord> {
  const name = localHostName(options.hostname);
  const existing = await repos.hosts.get(name);
  if (existing) return existing;
  const membership = options.policy
    ? resolveMembership(options.policy, { name, labels: {}, environment: 'production', groups: [] })
    : { groups: [], team: null };
  const record = await repos.hosts.upsert({ name, address: LOCAL_ADDRESS, source: 'cli', ...membership });
  const actor = options.actor ?? { id: 'patchbot', surface: 'system' };
  await repos.audit.append({
    actor: actor.id,
    actorDisplay: actor.display ?? null,
    surface: actor.surface,
    action: 'host.add',
    subjectType: 'host',
    subjectId: name,
    details: { definition: describeDefinition(record), reason: 'this machine' },
  });
  return record;
}

export interface LocalCollection {
  /** The host record of this machine after the snapshot was stored. */
  host: HostRecord;
  snapshot: InventorySnapshot;
  snapshotId: string;
  warnings: CollectWarning[];
}

/**
 * The default scan of this machine: registers it as a host when missing (named os.hostname(),
 * address `local`), collects its inventory with the local executor, stores the snapshot.
 */
export async function collectLocal(
  deps: {
    repos: InventoryRepos;
    config?: { policy: Pick<Policy, 'groups' | 'routing'> & { inventory?: Policy['inventory'] } };
  },
  options: { actor?: Actor; hostname?: string; commandTimeoutMs?: number } = {},
): Promise<LocalCollection> {
  const registered = await ensureLocalHost(deps.repos, { ...options, policy: deps.config?.policy });
  const executor = new LocalExecutor({ host: registered.name });
  try {
    const { snapshot, warnings } = await collectInventory(executor, {
      baseline: baselineOptions(deps.config?.policy.inventory),
      ...(options.commandTimeoutMs !== undefined ? { timeoutMs: options.commandTimeoutMs } : {}),
    });
    const snapshotId = await deps.repos.inventory.save(registered.name, snapshot);
    return { host: await deps.repos.hosts.require(registered.name), snapshot, snapshotId, warnings };
  } finally {
    await executor.close();
  }
}
