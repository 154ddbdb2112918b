/**
 * Reboot-required markers. Debian and Ubuntu: /var/run/reboot-required exists when an update asks
 * for a reboot, and /var/run/reboot-required.pkgs lists the packages that asked (one per line,
 * possibly repeated). RHEL family: `needs-restarting -r` exits 1 when a reboot is needed, 0 when not.
 */
import { packageNameProblem } from '../../core/packages/names.js';
import { splitLines, WarningList, type ParseWarning } from './warnings.js';

export interface RebootPackagesResult {
  packages: string[];
  warnings: ParseWarning[];
}

/** Parses /var/run/reboot-required.pkgs: distinct, valid dpkg package names in file order. */
export function parseRebootRequiredPkgs(text: string): RebootPackagesResult {
  const warnings = new WarningList();
  const packages: string[] = [];
  splitLines(text).forEach((raw, index) => {
    const name = raw.trim();
    if (name === '') return;
    const problem = packageNameProblem('dpkg', name);
    if (problem !== undefined) {
      warnings.add(index + 1, problem);
      return;
    }
    if (!packages.includes(name)) packages.push(name);
  });
  return { packages, warnings: warnings.list() };
}

/**
 * `needs-restarting -r` exit code -> reboot needed. 1 = needed, 0 = not needed; anything else
 * (127 not installed, an error) = unknown.
 */
export function needsRestartingVerdict(exitCode: number | null): boolean | undefined {
  if (exitCode === 0) return false;
  if (exitCode === 1) return true;
  return undefined;
}
