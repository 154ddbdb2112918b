/**
 * dnf, yum and zypper: rpm-based, so installed versions come from `rpm -q` with the inventory's
 * query format, and versions are rpm EVRs (`[epoch:]version-release`).
 *
 * - dnf/yum: `dnf install -y -- name-[epoch:]version-release[.arch]`; rollback `dnf downgrade -y`.
 * - zypper: `zypper --non-interactive install --no-recommends name[.arch]=[epoch:]version-release`;
 *   rollback adds `--oldpackage` (zypper refuses an older version without it). zypper gets no `--`:
 *   names and versions can never start with `-` anyway (the patterns refuse it). ZYPP_LOCK_TIMEOUT
 *   makes it wait for another zypper or rpm run instead of failing at once; dnf and yum wait on their
 *   own.
 * - The package-database check after an unknown result: a target registered twice for one
 *   architecture is what an interrupted rpm transaction leaves (kernels excepted: they are installed
 *   side by side).
 *
 * The argument shapes are fixed: docs/patchbot.sudoers allows exactly them.
 */
import type { PackageTool } from '../../core/deployments/state.js';
import { versionProblem } from '../../core/packages/names.js';
import { parseRpmQuery, RPM_QUERY_FORMAT } from '../../inventory/parsers/rpm.js';
import { checkName, checkNames, checkTargets } from './validate.js';
import {
  LOCK_WAIT_SECONDS,
  type AuditFinding,
  type CommandSpec,
  type PackageManagerDriver,
  type PackageTarget,
  type RebootCheckResult,
} from './types.js';

const NAME_ARCH_FORMAT = '%{NAME}.%{ARCH} %{EPOCH}:%{VERSION}-%{RELEASE}\\n';

function audit(names: readonly string[]): CommandSpec {
  return { command: 'rpm', args: ['-q', '--qf', NAME_ARCH_FORMAT, '--', ...checkNames('rpm', names)] };
}

/** Kernels (installonly packages) are installed in several versions on purpose. */
const INSTALL_ONLY = /^kernel(-|$)/;

function interpretAudit(result: {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}): AuditFinding | undefined {
  if (result.exitCode === 127 || result.exitCode === null) return undefined;
  if (/rpmdb|BDB|database/i.test(result.stderr) && result.stdout.trim() === '') {
    return { broken: true, evidence: result.stderr.trim() };
  }
  const seen = new Map<string, string[]>();
  for (const line of result.stdout.split('\n')) {
    if (/ is not installed$/.test(line.trim())) continue;
    const [key, evr, extra] = line.trim().split(' ');
    if (!key || !evr || extra !== undefined) continue;
    seen.set(key, [...(seen.get(key) ?? []), evr]);
  }
  const twice = [...seen].filter(([key, evrs]) => evrs.length > 1 && !INSTALL_ONLY.test(key));
  return {
    broken: twice.length > 0,
    evidence: twice
      .map(([key, evrs]) => `${key} is registered ${evrs.length} times: ${evrs.join(', ')}`)
      .join('\n'),
  };
}

function queryInstalled(names: readonly string[]): CommandSpec {
  return { command: 'rpm', args: ['-q', '--qf', RPM_QUERY_FORMAT, '--', ...checkNames('rpm', names)] };
}

function parseInstalled(stdout: string, names: readonly string[]): Map<string, string[]> {
  const wanted = new Set(names);
  const out = new Map<string, string[]>();
  // `rpm -q` prints "package x is not installed" for missing names: not a record, skipped.
  for (const p of parseRpmQuery(stdout).packages) {
    if (!wanted.has(p.name)) continue;
    out.set(p.name, [...(out.get(p.name) ?? []), p.version]);
  }
  return out;
}

/** `needs-restarting -r` (dnf-utils / yum-utils): exit 1 = reboot needed, 0 = not. */
function interpretNeedsRestarting(result: RebootCheckResult | undefined): boolean | undefined {
  if (result?.exitCode === 1) return true;
  if (result?.exitCode === 0) return false;
  return undefined;
}

function dnfLike(tool: 'dnf' | 'yum'): PackageManagerDriver {
  const nevra = (t: PackageTarget) => `${t.name}-${t.version}${t.arch === undefined ? '' : `.${t.arch}`}`;
  return {
    tool,
    kind: 'rpm',
    install(targets) {
      return {
        command: tool,
        args: ['install', '-y', '--', ...checkTargets(tool, 'rpm', targets).map(nevra)],
      };
    },
    rollback(targets) {
      return {
        command: tool,
        args: ['downgrade', '-y', '--', ...checkTargets(tool, 'rpm', targets).map(nevra)],
      };
    },
    queryInstalled,
    parseInstalled,
    audit,
    interpretAudit,
    availableVersions(name) {
      return { command: tool, args: ['list', '--showduplicates', '-q', '--', checkName('rpm', name)] };
    },
    /**
     * `dnf list --showduplicates` rows: `name.arch  [epoch:]version-release  repo` (a long name
     * wraps the rest onto the next line); the "Installed Packages" / "Available Packages" headers
     * and the `@System` row of the installed package are skipped.
     */
    parseAvailableVersions(stdout, name) {
      const tokens = stdout.split(/\s+/).filter((t) => t !== '');
      const versions: string[] = [];
      for (let i = 0; i + 2 < tokens.length; i++) {
        const t = tokens[i] ?? '';
        if (!t.startsWith(`${name}.`) || t.slice(name.length + 1).includes('.')) continue;
        const v = tokens[i + 1] ?? '';
        const repo = tokens[i + 2] ?? '';
        if (repo.startsWith('@')) continue;
        if (versionProblem('rpm', v) === undefined && !versions.includes(v)) versions.push(v);
      }
      return versions;
    },
    rebootCheck: () => ({ command: 'needs-restarting', args: ['-r'] }),
    interpretRebootCheck: interpretNeedsRestarting,
  };
}

export const dnfDriver = dnfLike('dnf');
export const yumDriver = dnfLike('yum');

const ZYPPER_ENV = { ZYPP_LOCK_TIMEOUT: String(LOCK_WAIT_SECONDS) };
const zypperSpec = (t: PackageTarget) => `${t.name}${t.arch === undefined ? '' : `.${t.arch}`}=${t.version}`;
const tool: PackageTool = 'zypper';

export const zypperDriver: PackageManagerDriver = {
  tool,
  kind: 'rpm',
  install(targets) {
    return {
      command: 'zypper',
      args: [
        '--non-interactive',
        'install',
        '--no-recommends',
        ...checkTargets(tool, 'rpm', targets).map(zypperSpec),
      ],
      env: { ...ZYPPER_ENV },
    };
  },
  rollback(targets) {
    return {
      command: 'zypper',
      args: [
        '--non-interactive',
        'install',
        '--no-recommends',
        '--oldpackage',
        ...checkTargets(tool, 'rpm', targets).map(zypperSpec),
      ],
      env: { ...ZYPPER_ENV },
    };
  },
  queryInstalled,
  parseInstalled,
  audit,
  interpretAudit,
  availableVersions(name) {
    return {
      command: 'zypper',
      args: [
        '--non-interactive',
        'search',
        '--details',
        '--match-exact',
        '--type',
        'package',
        checkName('rpm', name),
      ],
    };
  },
  /** `zypper search --details` table: `S | Name | Type | Version | Arch | Repository`. */
  parseAvailableVersions(stdout, name) {
    const versions: string[] = [];
    for (const line of stdout.split('\n')) {
      const f = line.split('|').map((s) => s.trim());
      if (f.length < 6 || f[1] !== name || f[2] !== 'package') continue;
      if ((f[5] ?? '').startsWith('(System')) continue;
      const v = f[3] ?? '';
      if (versionProblem('rpm', v) === undefined && !versions.includes(v)) versions.push(v);
    }
    return versions;
  },
  /** `zypper needs-rebooting`: exit 102 = reboot needed, 0 = not. */
  rebootCheck: () => ({ command: 'zypper', args: ['needs-rebooting'] }),
  interpretRebootCheck(result) {
    if (result?.exitCode === 102) return true;
    if (result?.exitCode === 0) return false;
    return undefined;
  },
};
