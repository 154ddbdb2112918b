/**
 * Validation of everything that goes onto a package manager's command line. On top of the
 * per-scheme patterns of src/core/packages/names.ts (which already refuse whitespace, quotes, shell
 * metacharacters, non-ASCII look-alikes, over-long values and a leading `-`), the drivers refuse:
 *
 * - `..` anywhere in a name or version (no real package has it; it reads like a path);
 * - for apt, a version ending in `+` or `-`: apt-get reads a trailing `+`/`-` on an argument as
 *   "install"/"remove" and strips it, so `pkg=1.0-` would remove the package;
 * - for rpm-based tools, a version without a release (`1.2.3` instead of `1.2.3-4.el9`): without it
 *   dnf and zypper pick any release, and the install would not be exact.
 */
import type { PackageTool } from '../../core/deployments/state.js';
import { ValidationError } from '../../core/errors.js';
import type { PackageManagerKind } from '../../core/model.js';
import { archProblem, describeValue, packageNameProblem, versionProblem } from '../../core/packages/names.js';
import type { PackageTarget } from './types.js';

/** Most packages one command installs; a longer list is split by the caller. */
export const MAX_TARGETS = 500;

export function checkName(kind: PackageManagerKind, name: unknown): string {
  if (typeof name !== 'string')
    throw new ValidationError(`package name must be a string, got ${typeof name}`);
  const problem = packageNameProblem(kind, name);
  if (problem !== undefined) throw new ValidationError(problem, { details: { name: name.slice(0, 200) } });
  if (name.includes('..')) {
    throw new ValidationError(`invalid ${kind} package name ${describeValue(name)}: ".." is not allowed`, {
      details: { name },
    });
  }
  return name;
}

export function checkVersion(
  tool: PackageTool,
  kind: PackageManagerKind,
  name: string,
  version: unknown,
): string {
  if (typeof version !== 'string') {
    throw new ValidationError(`version of ${name} must be a string, got ${typeof version}`);
  }
  const where = { details: { name, version: version.slice(0, 200) } };
  const problem = versionProblem(kind, version);
  if (problem !== undefined) throw new ValidationError(`${problem} (package ${name})`, where);
  if (version.includes('..')) {
    throw new ValidationError(
      `invalid ${kind} version ${describeValue(version)} (package ${name}): ".." is not allowed`,
      where,
    );
  }
  if (tool === 'apt' && /[+-]$/.test(version)) {
    throw new ValidationError(
      `invalid version ${describeValue(version)} (package ${name}): apt-get reads a trailing "+" or "-" as an action`,
      where,
    );
  }
  if (kind === 'rpm' && !/-[^-]+$/.test(version)) {
    throw new ValidationError(
      `invalid version ${describeValue(version)} (package ${name}): expected version-release (e.g. 2.34-100.el9) for an exact install`,
      where,
    );
  }
  return version;
}

export function checkArch(name: string, arch: unknown): string {
  if (typeof arch !== 'string') throw new ValidationError(`architecture of ${name} must be a string`);
  const problem = archProblem(arch);
  if (problem !== undefined)
    throw new ValidationError(`${problem} (package ${name})`, { details: { name, arch: arch.slice(0, 64) } });
  return arch;
}

export function checkTargets(
  tool: PackageTool,
  kind: PackageManagerKind,
  targets: readonly PackageTarget[],
): PackageTarget[] {
  if (targets.length === 0) {
    throw new ValidationError('expected at least one package to install');
  }
  if (targets.length > MAX_TARGETS) {
    throw new ValidationError(
      `expected at most ${MAX_TARGETS} packages in one command, got ${targets.length}`,
    );
  }
  const seen = new Set<string>();
  return targets.map((t) => {
    const name = checkName(kind, t.name);
    const version = checkVersion(tool, kind, name, t.version);
    const arch = t.arch === undefined ? undefined : checkArch(name, t.arch);
    const key = `${name}:${arch ?? ''}`;
    if (seen.has(key)) {
      throw new ValidationError(
        `package ${name}${arch ? `:${arch}` : ''} is listed twice; one version per package`,
      );
    }
    seen.add(key);
    return arch === undefined ? { name, version } : { name, version, arch };
  });
}

export function checkNames(kind: PackageManagerKind, names: readonly string[]): string[] {
  if (names.length === 0) throw new ValidationError('expected at least one package name');
  if (names.length > MAX_TARGETS) {
    throw new ValidationError(`expected at most ${MAX_TARGETS} package names, got ${names.length}`);
  }
  return names.map((n) => checkName(kind, n));
}
