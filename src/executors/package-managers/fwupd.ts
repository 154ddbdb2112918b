/**
 * fwupd (firmware). A target is one device, named by its fwupd DeviceId (40 hex digits, what
 * `fwupdmgr get-devices --json` prints), at one exact release version. The install is
 * `fwupdmgr install DEVICE-ID VERSION --assume-yes --no-reboot-check` (fwupd 1.9.8 and later take a
 * device and a version; run under `sudo -n`): the exact release, never "the newest there is", with
 * no prompt, and with patchbot — not fwupdmgr — deciding about the reboot, inside the host's
 * maintenance window. fwupdmgr flashes one device per run, so one install names one device.
 *
 * The installed version and the reboot a device waits for are read, without root, from
 * `fwupdmgr get-devices --json` (the parser of the firmware inventory): a device whose update is
 * staged for the next boot (a UEFI capsule) carries the `needs-reboot` flag or update state, and
 * keeps its old version until that boot.
 *
 * There is no rollback: `rollback` refuses (src/core/deployments/state.ts, FIRMWARE_NO_ROLLBACK).
 * The argument shape is fixed: docs/patchbot.sudoers allows exactly it.
 */
import { z } from 'zod';
import { FIRMWARE_NO_ROLLBACK } from '../../core/deployments/state.js';
import { ValidationError } from '../../core/errors.js';
import { describeValue } from '../../core/packages/names.js';
import { parseFwupdDevices } from '../../inventory/parsers/firmware/fwupd.js';
import type { CommandSpec, PackageManagerDriver, PackageTarget, RebootCheckResult } from './types.js';

const DEVICE_ID = /^[0-9a-f]{40}$/;
/**
 * A release version as LVFS and fwupd print them: "1.2.3", "0x0000002c", "2.04", "1.0.3a",
 * "HL12.04"... Letters, digits and `. _ + ~ -`, starting with a letter or digit, at most 64.
 */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/;

const INSTALL_OPTIONS = ['--assume-yes', '--no-reboot-check'];
const GET_DEVICES: CommandSpec = { command: 'fwupdmgr', args: ['get-devices', '--json'] };

/** The device id, or a ValidationError naming the bad value. */
export function checkDeviceId(id: unknown): string {
  if (typeof id !== 'string') throw new ValidationError(`fwupd device id must be a string, got ${typeof id}`);
  if (!DEVICE_ID.test(id)) {
    throw new ValidationError(
      `invalid fwupd device id ${describeValue(id)}: expected 40 lower-case hex digits (fwupdmgr get-devices prints it as DeviceId)`,
      { details: { device: id.slice(0, 200) } },
    );
  }
  return id;
}

function checkFirmwareVersion(device: string, version: unknown): string {
  if (typeof version !== 'string') {
    throw new ValidationError(`firmware version of device ${device} must be a string, got ${typeof version}`);
  }
  if (!VERSION.test(version) || version.includes('..')) {
    throw new ValidationError(
      `invalid firmware version ${describeValue(version)} (device ${device}): expected letters, digits and . _ + ~ - (at most 64, no "..")`,
      { details: { device, version: version.slice(0, 200) } },
    );
  }
  return version;
}

function checkTarget(targets: readonly PackageTarget[]): PackageTarget {
  const [target, ...rest] = targets;
  if (target === undefined) throw new ValidationError('expected a firmware device to update');
  if (rest.length > 0) {
    throw new ValidationError(
      `expected one firmware device per host, got ${targets.length} (${targets
        .slice(0, 5)
        .map((t) => String(t.name).slice(0, 40))
        .join(', ')}): fwupdmgr updates one device per run`,
    );
  }
  const name = checkDeviceId(target.name);
  const version = checkFirmwareVersion(name, target.version);
  if (target.arch !== undefined) {
    throw new ValidationError(`firmware device ${name} has no architecture`);
  }
  return { name, version };
}

function checkDeviceIds(names: readonly string[]): string[] {
  if (names.length === 0) throw new ValidationError('expected at least one firmware device');
  if (names.length > 100) {
    throw new ValidationError(`expected at most 100 firmware devices, got ${names.length}`);
  }
  return names.map(checkDeviceId);
}

const ReleasesSchema = z.object({
  Releases: z.array(z.object({ Version: z.string() }).passthrough()).max(1000),
});

/** Devices of `names` that wait for a reboot to finish their update, from get-devices; undefined when unreadable. */
export function devicesNeedingReboot(stdout: string, names: readonly string[]): string[] | undefined {
  const parsed = parseFwupdDevices(stdout);
  if (parsed.error !== undefined) return undefined;
  const wanted = new Set(names);
  return parsed.devices
    .filter((d) => wanted.has(d.id) && (d.flags.includes('needs-reboot') || d.updateState === 'needs-reboot'))
    .map((d) => d.id);
}

export const fwupdDriver: PackageManagerDriver = {
  tool: 'fwupd',
  kind: 'fwupd',
  install(targets): CommandSpec {
    const t = checkTarget(targets);
    return { command: 'fwupdmgr', args: ['install', t.name, t.version, ...INSTALL_OPTIONS] };
  },
  rollback(targets): CommandSpec {
    const names = targets.map((t) => String(t.name).slice(0, 40)).join(', ');
    throw new ValidationError(`device ${names}: ${FIRMWARE_NO_ROLLBACK}`);
  },
  queryInstalled(names): CommandSpec {
    checkDeviceIds(names);
    return GET_DEVICES;
  },
  /** The running version of each device (none when fwupd does not know it or the device is gone). */
  parseInstalled(stdout, names) {
    const wanted = new Set(names);
    const out = new Map<string, string[]>();
    for (const d of parseFwupdDevices(stdout).devices) {
      if (!wanted.has(d.id) || d.version === undefined) continue;
      out.set(d.id, [...(out.get(d.id) ?? []), d.version]);
    }
    return out;
  },
  availableVersions(name): CommandSpec {
    return { command: 'fwupdmgr', args: ['get-releases', checkDeviceId(name), '--json'] };
  },
  parseAvailableVersions(stdout) {
    let value: unknown;
    try {
      value = JSON.parse(stdout);
    } catch {
      return [];
    }
    const parsed = ReleasesSchema.safeParse(value);
    if (!parsed.success) return [];
    return [...new Set(parsed.data.Releases.map((r) => r.Version).filter((v) => VERSION.test(v)))];
  },
  // fwupd keeps no package database that a run could leave half done
  audit: () => undefined,
  interpretAudit: () => undefined,
  rebootCheck: () => GET_DEVICES,
  interpretRebootCheck(result: RebootCheckResult | undefined, changed) {
    if (result === undefined || result.exitCode !== 0) return undefined;
    const waiting = devicesNeedingReboot(result.stdout, changed);
    return waiting === undefined ? undefined : waiting.length > 0;
  },
};
