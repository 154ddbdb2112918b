/**
 * From an approved change to a deployment plan: the hosts of the change's open findings, the exact
 * packages to install on each (the change's package at its fixed version, and on Debian-like hosts
 * every other binary of the same source package that is installed at an older version), rings from
 * the policy file, each host's maintenance window and health checks, timed by the core planner.
 *
 * Every package name and version goes through the package-manager driver's validation here, so a
 * hostile value is refused before a deployment exists (and again before any command is built).
 */
import type { Policy } from '../../config/policy-schema.js';
import {
  planDeployment,
  type DeploymentPlan,
  type RingSelector,
  type RingSpec,
} from '../../core/deployments/plan.js';
import {
  FIRMWARE_NO_ROLLBACK,
  type LanguagePackageTool,
  type OsPackageTool,
  type PackageTool,
} from '../../core/deployments/state.js';
import { MaintenanceWindowSpec } from '../../core/deployments/windows.js';
import { PatchbotError, PolicyDeniedError, ValidationError } from '../../core/errors.js';
import type { VersionScheme } from '../../core/model.js';
import { getScheme, schemeForEcosystem } from '../../core/versions/index.js';
import type {
  ChangeForDeployment,
  HostSourcePackages,
  NewRing,
  PackageTargetRecord,
} from '../../db/repositories/deployment-repository.js';
import type { HostRecord } from '../../db/types.js';
import { driverFor } from '../../executors/package-managers/index.js';
import { interpreterProblem } from '../../executors/package-managers/language.js';
import { matchesSelector } from '../hosts.js';
import type { DeploymentSettings, StoredHealthCheck, StoredPlan } from './types.js';

export interface PlannedHostTargets {
  hostId: string;
  hostName: string;
  tool: PackageTool;
  targets: PackageTargetRecord[];
}

export interface ChangePlan {
  plan: DeploymentPlan;
  stored: StoredPlan;
  rings: NewRing[];
  hosts: PlannedHostTargets[];
  warnings: string[];
}

const KIND_SCHEME: Record<HostSourcePackages['packageManager'], VersionScheme> = {
  dpkg: 'deb',
  rpm: 'rpm',
  apk: 'apk',
};

/** The package tool of a host, from its latest snapshot (or the change's ecosystem without one). */
export function toolFor(snapshot: HostSourcePackages | undefined, ecosystem: string): OsPackageTool {
  if (snapshot) {
    if (snapshot.packageManager === 'dpkg') return 'apt';
    if (snapshot.packageManager === 'apk') return 'apk';
    const os = snapshot.osId.toLowerCase();
    if (os.includes('suse') || os === 'sles' || os === 'sled') return 'zypper';
    const major = Number.parseInt(snapshot.osVersionId, 10);
    if ((os === 'centos' || os === 'rhel' || os === 'ol' || os === 'amzn') && major > 0 && major < 8)
      return 'yum';
    return 'dnf';
  }
  const base = ecosystem.split(':')[0] ?? '';
  if (base === 'Debian' || base === 'Ubuntu') return 'apt';
  if (base === 'Alpine') return 'apk';
  if (base === 'openSUSE' || base === 'SUSE') return 'zypper';
  return 'dnf';
}

/**
 * The exact packages to install on one host. Throws ValidationError (naming host, package and the
 * problem) when a name or version would not pass the driver.
 */
export function targetsForHost(
  change: Pick<ChangeForDeployment, 'packageName' | 'sourcePackage' | 'fixedVersion' | 'ecosystem'> &
    Partial<Pick<ChangeForDeployment, 'kind'>>,
  findings: readonly { packageName: string; sourcePackage: string; owner?: string }[],
  snapshot: HostSourcePackages | undefined,
  hostName: string,
): { tool: PackageTool; targets: PackageTargetRecord[] } {
  if (change.kind === 'firmware') return firmwareTargets(change, findings, hostName);
  const tool = toolFor(snapshot, change.ecosystem);
  const wanted = new Map<string, PackageTargetRecord>();
  const add = (name: string, arch?: string): void => {
    const key = `${name}:${arch ?? ''}`;
    if (!wanted.has(key)) {
      wanted.set(
        key,
        arch === undefined
          ? { name, version: change.fixedVersion }
          : { name, version: change.fixedVersion, arch },
      );
    }
  };
  for (const f of findings) add(f.packageName);
  if (snapshot?.packageManager === 'dpkg') {
    const scheme = getScheme(KIND_SCHEME.dpkg);
    const sources = new Set(
      [change.sourcePackage, ...findings.map((f) => f.sourcePackage)].filter((s): s is string => !!s),
    );
    for (const p of snapshot.packages) {
      if (!sources.has(p.sourceName)) continue;
      let older = false;
      try {
        older = scheme.compare(p.version, change.fixedVersion) < 0;
      } catch {
        older = false;
      }
      if (older) add(p.name);
    }
    // A name installed for several architectures is named with each architecture.
    const archs = new Map<string, string[]>();
    for (const p of snapshot.packages) archs.set(p.name, [...(archs.get(p.name) ?? []), p.arch]);
    for (const [key, t] of [...wanted]) {
      const list = archs.get(t.name) ?? [];
      if (t.arch === undefined && list.length > 1) {
        wanted.delete(key);
        for (const arch of list) add(t.name, arch);
      }
    }
  }
  const targets = [...wanted.values()].sort((a, b) => a.name.localeCompare(b.name));
  checkTargets(tool, targets, hostName);
  return { tool, targets };
}

/**
 * A firmware change on one host: each device of its findings (the finding's owner is the fwupd
 * DeviceId; the package name is the GUID the advisory matched) at the change's release.
 */
function firmwareTargets(
  change: Pick<ChangeForDeployment, 'fixedVersion'>,
  findings: readonly { owner?: string }[],
  hostName: string,
): { tool: PackageTool; targets: PackageTargetRecord[] } {
  const devices = [...new Set(findings.map((f) => f.owner ?? ''))].sort();
  const targets = devices.map((name) => ({ name, version: change.fixedVersion }));
  checkTargets('fwupd', targets, hostName);
  return { tool: 'fwupd', targets };
}

/** The driver's validation of a host's targets, as a ValidationError naming the host. */
function checkTargets(tool: PackageTool, targets: PackageTargetRecord[], hostName: string): void {
  try {
    driverFor(tool).install(targets);
  } catch (err) {
    if (err instanceof PatchbotError) {
      throw new ValidationError(`host ${hostName}: ${err.userMessage}; the deployment was not created`, {
        cause: err,
        details: { host: hostName, ...err.details },
      });
    }
    throw err;
  }
}

export function ringSpecs(policy: Pick<Policy, 'rings'>, hosts: readonly HostRecord[]): RingSpec[] {
  return policy.rings.map((r) => {
    let selector: RingSelector | undefined;
    if (r.match !== undefined) {
      const match = r.match;
      selector = {
        hosts: hosts.filter((h) => matchesSelector({ ...h, team: h.team }, match)).map((h) => h.name),
      };
    } else if (r.percent !== undefined) {
      selector = { percent: r.percent };
    }
    return {
      name: r.name,
      ...(selector ? { selector } : {}),
      concurrency: r.concurrency,
      soakMs: r.soak,
      failureBudget:
        r.failureBudget.kind === 'count'
          ? { count: r.failureBudget.value }
          : { percent: r.failureBudget.value },
    };
  });
}

function windowOf(policy: Pick<Policy, 'maintenanceWindows'>, h: HostRecord): string | undefined {
  return policy.maintenanceWindows.find((w) => w.match === undefined || matchesSelector(h, w.match))?.name;
}

function healthChecksOf(policy: Pick<Policy, 'deployments'>, h: HostRecord): StoredHealthCheck[] {
  return policy.deployments.healthChecks
    .filter((c) => c.match === undefined || matchesSelector(h, c.match))
    .map((c) => ({
      name: c.name,
      ...(c.command ? { command: c.command } : {}),
      ...(c.http ? { http: { url: c.http.url, expectStatus: c.http.expectStatus } } : {}),
      timeoutMs: c.timeout,
      retries: c.retries,
      intervalMs: c.interval,
    }));
}

export type PlanPolicy = Pick<
  Policy,
  'rings' | 'maintenanceWindows' | 'deployments' | 'approval' | 'hosts' | 'ssh' | 'inventory'
>;

/** The language tool of a third-party change: pip for PyPI, npm for npm; undefined otherwise. */
export function languageToolOf(ecosystem: string): LanguagePackageTool | undefined {
  if (ecosystem === 'PyPI') return 'pip';
  if (ecosystem === 'npm') return 'npm';
  return undefined;
}

/** The first policy rule (deployments.languagePackages) that lets `tool` upgrade packages on `host`. */
export function languageRuleFor(
  policy: Pick<Policy, 'deployments'>,
  host: HostRecord,
  tool: LanguagePackageTool,
): number | undefined {
  const i = policy.deployments.languagePackages.findIndex((r) => r[tool] && matchesSelector(host, r.match));
  return i < 0 ? undefined : i;
}

/**
 * The language-package plan of one host: the tool, the interpreter (pip) and the exact targets.
 * Refuses (PolicyDeniedError naming the policy key) a host policy deployments.languagePackages
 * does not open for the tool, and an interpreter that is not in inventory.python.
 */
export function languageTargetsForHost(
  change: Pick<ChangeForDeployment, 'number' | 'packageName' | 'fixedVersion' | 'ecosystem'>,
  findings: readonly { packageName: string; owner: string; ownerKind: string | null }[],
  host: HostRecord,
  policy: Pick<Policy, 'deployments' | 'inventory'>,
): { tool: LanguagePackageTool; python?: string; targets: PackageTargetRecord[] } {
  const tool = languageToolOf(change.ecosystem);
  if (tool === undefined) {
    throw new PatchbotError(
      'UNSUPPORTED',
      `change #${change.number} fixes ${change.packageName} in ${change.ecosystem}; patchbot deploys pip and global npm packages only`,
    );
  }
  let python: string | undefined;
  if (tool === 'pip') {
    const owners = [...new Set(findings.filter((f) => f.ownerKind === 'interpreter').map((f) => f.owner))];
    if (owners.length !== 1) {
      throw new ValidationError(
        owners.length === 0
          ? `change #${change.number}: host ${host.name} has no finding from a pip interpreter; nothing patchbot can upgrade there`
          : `change #${change.number}: host ${host.name} has ${change.packageName} under several interpreters (${owners.join(', ')}); a deployment upgrades one interpreter per host: deploy it on one and upgrade the others by hand`,
      );
    }
    python = owners[0];
    if (!policy.inventory.python.includes(python)) {
      throw new PolicyDeniedError(
        `change #${change.number}: interpreter ${python} on ${host.name} is not in policy inventory.python; patchbot runs pip only with the interpreters listed there`,
      );
    }
    const problem = interpreterProblem(python);
    if (problem !== undefined) throw new ValidationError(`host ${host.name}: ${problem}`);
  }
  if (languageRuleFor(policy, host, tool) === undefined) {
    throw new PolicyDeniedError(
      `change #${change.number}: ${tool} upgrades are not allowed on ${host.name} by policy deployments.languagePackages; ` +
        `add a rule matching the host with ${tool}: true, or upgrade ${change.packageName} to ${change.fixedVersion} by hand`,
      { details: { host: host.name, tool, key: 'deployments.languagePackages' } },
    );
  }
  const names = [...new Set(findings.map((f) => f.packageName))].sort();
  const targets = names.map((name) => ({ name, version: change.fixedVersion }));
  try {
    driverFor(tool, python === undefined ? {} : { python }).install(targets);
  } catch (err) {
    if (err instanceof PatchbotError) {
      throw new ValidationError(`host ${host.name}: ${err.userMessage}; the deployment was not created`, {
        cause: err,
        details: { host: host.name, ...err.details },
      });
    }
    throw err;
  }
  return { tool, ...(python === undefined ? {} : { python }), targets };
}

/**
 * Plans a change: hosts, targets, rings, windows, times. `emergency` is the lane's decision (the
 * caller checked that the change may use it); with it, hosts skip their windows when the policy's
 * lane says so, and the soak too when it says so.
 */
export function planChange(input: {
  change: ChangeForDeployment;
  hosts: readonly HostRecord[];
  snapshots: ReadonlyMap<string, HostSourcePackages>;
  policy: PlanPolicy;
  emergency: boolean;
  now: Date;
}): ChangePlan {
  const { change, policy } = input;
  const scheme = schemeForEcosystem(change.ecosystem);
  const firmware = change.kind === 'firmware' && scheme === 'fwupd';
  const language = change.kind === 'third-party';
  if (!firmware && !language && scheme !== 'deb' && scheme !== 'rpm' && scheme !== 'apk') {
    throw new PatchbotError(
      'UNSUPPORTED',
      `change #${change.number} fixes ${change.packageName} in ${change.ecosystem}; patchbot deploys operating-system packages (apt, dnf, yum, zypper, apk) and firmware (fwupd) only`,
    );
  }
  if (change.findings.length === 0) {
    throw new ValidationError(
      `change #${change.number} has no open findings: no host needs ${change.packageName} ${change.fixedVersion} any more`,
    );
  }
  const byHost = new Map<string, ChangeForDeployment['findings']>();
  for (const f of change.findings) byHost.set(f.hostId, [...(byHost.get(f.hostId) ?? []), f]);
  const hostById = new Map(input.hosts.map((h) => [h.id, h]));
  const hosts: HostRecord[] = [];
  const planned: PlannedHostTargets[] = [];
  const pythonOf = new Map<string, string>();
  for (const [hostId, findings] of byHost) {
    const host = hostById.get(hostId);
    if (!host)
      throw new ValidationError(
        `change #${change.number}: host ${findings[0]?.hostName ?? hostId} is no longer known`,
      );
    hosts.push(host);
    if (language) {
      const l = languageTargetsForHost(change, findings, host, policy);
      if (l.python !== undefined) pythonOf.set(host.name, l.python);
      planned.push({ hostId, hostName: host.name, tool: l.tool, targets: l.targets });
      continue;
    }
    const { tool, targets } = targetsForHost(change, findings, input.snapshots.get(hostId), host.name);
    planned.push({ hostId, hostName: host.name, tool, targets });
  }
  const lane = policy.approval.emergency;
  const skipWindows = input.emergency && lane.skipMaintenanceWindow;
  const skipSoak = input.emergency && lane.skipSoak;
  const windows = policy.maintenanceWindows.map((w) =>
    MaintenanceWindowSpec.parse({
      name: w.name,
      timeZone: w.timeZone,
      schedule: w.schedule,
      blackoutDates: w.blackoutDates,
    }),
  );
  const specs = ringSpecs(policy, hosts);
  const planned0 = planDeployment({
    hosts: hosts.map((h) => {
      const window = windowOf(policy, h);
      return {
        name: h.name,
        labels: h.labels,
        ...(h.ring ? { ring: h.ring } : {}),
        ...(h.groups[0] ? { group: h.groups[0] } : {}),
        ...(window ? { window } : {}),
      };
    }),
    rings: specs,
    windows,
    emergency: skipWindows,
    skipSoak,
    now: input.now,
    requireWindow: policy.deployments.requireWindow,
    blackoutDates: policy.deployments.blackoutDates,
  });
  // what an operator reads before starting (plan text and JSON, the chat message): no way back
  const plan: DeploymentPlan = firmware
    ? { ...planned0, warnings: [FIRMWARE_NO_ROLLBACK, ...planned0.warnings] }
    : planned0;
  const hostByName = new Map(hosts.map((h) => [h.name, h]));
  const targetsByName = new Map(planned.map((p) => [p.hostName, p]));
  const unschedulable = new Set(plan.unschedulable);
  const policyHost = new Map(policy.hosts.map((h) => [h.name, h]));
  const settings: DeploymentSettings = {
    installTimeoutMs: policy.deployments.installTimeout,
    recheckMs: policy.deployments.recheckInterval,
    commandTimeoutMs: policy.ssh.commandTimeout,
    maxOutputBytes: policy.ssh.maxOutputBytes,
    reboot: { policy: policy.deployments.reboot.policy, waitLimitMs: policy.deployments.reboot.waitLimit },
    onFailure: policy.deployments.onFailure,
    retry: { attempts: policy.deployments.retry.attempts, backoffMs: policy.deployments.retry.backoff },
    skipWindows,
    skipSoak,
    windows,
    blackoutDates: policy.deployments.blackoutDates,
    hosts: Object.fromEntries(
      hosts.map((h) => {
        const window = windowOf(policy, h);
        return [
          h.name,
          {
            address: h.address,
            sudo: policyHost.get(h.name)?.sudo ?? policy.deployments.sudo,
            ...(window ? { window } : {}),
            healthChecks: healthChecksOf(policy, h),
            ...(pythonOf.has(h.name) ? { python: pythonOf.get(h.name) } : {}),
          },
        ];
      }),
    ),
  };
  const rings: NewRing[] = plan.rings.map((r) => ({
    name: r.name,
    concurrency: r.concurrency,
    failureBudget: r.failureBudget,
    soakSeconds: Math.round((skipSoak ? 0 : r.soakMs) / 1000),
    notBefore: r.start,
    healthChecks: [],
    hosts: r.hosts
      .filter((h) => !unschedulable.has(h.name))
      .map((h) => {
        const t = targetsByName.get(h.name);
        const host = hostByName.get(h.name);
        if (!t || !host) throw new ValidationError(`host ${h.name} is in the plan but not in the change`);
        return {
          hostId: host.id,
          hostName: h.name,
          tool: t.tool,
          targets: t.targets,
          notBefore: h.earliestStart,
        };
      }),
  }));
  const stored: StoredPlan = {
    version: 1,
    change: {
      number: change.number,
      packageName: change.packageName,
      fixedVersion: change.fixedVersion,
      ecosystem: change.ecosystem,
    },
    plan: serializePlan(plan),
    settings,
  };
  return {
    plan,
    stored,
    rings: rings.filter((r) => r.hosts.length > 0),
    hosts: planned,
    warnings: plan.warnings,
  };
}

/** The plan as JSON (dates as ISO strings). */
export function serializePlan(plan: DeploymentPlan): unknown {
  return JSON.parse(JSON.stringify(plan)) as unknown;
}
