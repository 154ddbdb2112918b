import type { OsPackageTool, PackageTool } from '../../core/deployments/state.js';
import { ValidationError } from '../../core/errors.js';
import { apkDriver } from './apk.js';
import { aptDriver } from './apt.js';
import { fwupdDriver } from './fwupd.js';
import { npmDriver, pipDriver } from './language.js';
import { dnfDriver, yumDriver, zypperDriver } from './rpm-family.js';
import type { PackageManagerDriver } from './types.js';

export type { CommandSpec, PackageManagerDriver, PackageTarget, RebootCheckResult } from './types.js';
export { apkDriver, aptDriver, dnfDriver, fwupdDriver, npmDriver, pipDriver, yumDriver, zypperDriver };

export const DRIVERS: Readonly<Record<OsPackageTool | 'fwupd', PackageManagerDriver>> = {
  apt: aptDriver,
  dnf: dnfDriver,
  yum: yumDriver,
  zypper: zypperDriver,
  apk: apkDriver,
  fwupd: fwupdDriver,
};

/** Where a language package manager works: the interpreter whose pip is driven. */
export interface DriverOptions {
  python?: string;
}

export function driverFor(tool: string, options: DriverOptions = {}): PackageManagerDriver {
  if (tool === 'npm') return npmDriver;
  if (tool === 'pip') {
    if (options.python === undefined) {
      throw new ValidationError('pip needs the Python interpreter it belongs to; none was recorded');
    }
    return pipDriver(options.python);
  }
  if (!Object.hasOwn(DRIVERS, tool)) {
    throw new ValidationError(
      `unknown package manager ${JSON.stringify(tool.slice(0, 40))} (known: ${[...Object.keys(DRIVERS), 'pip', 'npm'].join(', ')})`,
    );
  }
  return DRIVERS[tool as OsPackageTool | 'fwupd'];
}

export type { PackageTool };
