import type { PackageTool } from '../../core/deployments/state.js';
import { ValidationError } from '../../core/errors.js';
import { apkDriver } from './apk.js';
import { aptDriver } from './apt.js';
import { fwupdDriver } from './fwupd.js';
import { dnfDriver, yumDriver, zypperDriver } from './rpm-family.js';
import type { PackageManagerDriver } from './types.js';

export type { CommandSpec, PackageManagerDriver, PackageTarget, RebootCheckResult } from './types.js';
export { apkDriver, aptDriver, dnfDriver, fwupdDriver, yumDriver, zypperDriver };

export const DRIVERS: Readonly<Record<PackageTool, PackageManagerDriver>> = {
  apt: aptDriver,
  dnf: dnfDriver,
  yum: yumDriver,
  zypper: zypperDriver,
  apk: apkDriver,
  fwupd: fwupdDriver,
};

export function driverFor(tool: string): PackageManagerDriver {
  if (!Object.hasOwn(DRIVERS, tool)) {
    throw new ValidationError(
      `unknown package manager ${JSON.stringify(tool.slice(0, 40))} (known: ${Object.keys(DRIVERS).join(', ')})`,
    );
  }
  return DRIVERS[tool as PackageTool];
}
