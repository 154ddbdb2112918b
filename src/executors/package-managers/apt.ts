/**
 * apt (Debian, Ubuntu). Installs run `apt-get install` itself (under `sudo -n`, with
 * DEBIAN_FRONTEND=noninteractive in its environment so no debconf prompt waits for a terminal),
 * keep changed configuration files (`--force-confold`), wait up to LOCK_WAIT_SECONDS for another
 * apt or dpkg run to release its lock (`DPkg::Lock::Timeout`) instead of failing, and name each
 * package with its exact version (`pkg=1.2-3`, `pkg:arch=1.2-3`). `--` ends option parsing before
 * the packages. The argument shape is fixed: docs/patchbot.sudoers allows exactly it.
 */
import { DPKG_QUERY_FORMAT, parseDpkgQuery } from '../../inventory/parsers/dpkg.js';
import { versionProblem } from '../../core/packages/names.js';
import { checkName, checkNames, checkTargets } from './validate.js';
import {
  LOCK_WAIT_SECONDS,
  type CommandSpec,
  type PackageManagerDriver,
  type PackageTarget,
  type RebootCheckResult,
} from './types.js';

const APT_INSTALL = [
  'install',
  '-y',
  '--no-install-recommends',
  '-o',
  'Dpkg::Options::=--force-confold',
  '-o',
  `DPkg::Lock::Timeout=${LOCK_WAIT_SECONDS}`,
];
const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

function spec(t: PackageTarget): string {
  return t.arch === undefined ? `${t.name}=${t.version}` : `${t.name}:${t.arch}=${t.version}`;
}

export const aptDriver: PackageManagerDriver = {
  tool: 'apt',
  kind: 'dpkg',
  install(targets): CommandSpec {
    const checked = checkTargets('apt', 'dpkg', targets);
    return { command: 'apt-get', args: [...APT_INSTALL, '--', ...checked.map(spec)], env: { ...APT_ENV } };
  },
  rollback(targets): CommandSpec {
    const checked = checkTargets('apt', 'dpkg', targets);
    return {
      command: 'apt-get',
      args: [...APT_INSTALL, '--allow-downgrades', '--', ...checked.map(spec)],
      env: { ...APT_ENV },
    };
  },
  queryInstalled(names): CommandSpec {
    return {
      command: 'dpkg-query',
      args: ['-W', '-f', DPKG_QUERY_FORMAT, '--', ...checkNames('dpkg', names)],
    };
  },
  parseInstalled(stdout, names) {
    const wanted = new Set(names);
    const out = new Map<string, string[]>();
    for (const p of parseDpkgQuery(stdout).packages) {
      if (!wanted.has(p.name) || p.state !== undefined) continue;
      out.set(p.name, [...(out.get(p.name) ?? []), p.version]);
    }
    return out;
  },
  availableVersions(name): CommandSpec {
    return { command: 'apt-cache', args: ['madison', '--', checkName('dpkg', name)] };
  },
  /** `apt-cache madison` lines: ` name | version | url dist/component arch Packages`. */
  parseAvailableVersions(stdout, name) {
    const versions: string[] = [];
    for (const line of stdout.split('\n')) {
      const f = line.split('|').map((s) => s.trim());
      if (f.length < 3 || f[0] !== name || f[2]?.includes('Sources')) continue;
      const v = f[1] ?? '';
      if (versionProblem('dpkg', v) === undefined && !versions.includes(v)) versions.push(v);
    }
    return versions;
  },
  /** `dpkg --audit`: prints the packages an interrupted or failed run left half-done; silent when none. */
  audit: () => ({ command: 'dpkg', args: ['--audit'] }),
  interpretAudit(result) {
    if (result.exitCode === 127 || result.exitCode === null) return undefined;
    const evidence = `${result.stdout}${result.stderr}`.trim();
    if (evidence === '' && result.exitCode === 0) return { broken: false, evidence: '' };
    return { broken: true, evidence: evidence || `dpkg --audit exited with ${result.exitCode}` };
  },
  rebootCheck: () => ({ command: 'test', args: ['-e', '/var/run/reboot-required'] }),
  interpretRebootCheck(result: RebootCheckResult | undefined) {
    if (result?.exitCode === 0) return true;
    if (result?.exitCode === 1) return false;
    return undefined;
  },
};
