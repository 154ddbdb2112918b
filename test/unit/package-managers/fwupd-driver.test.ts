/**
 * The fwupd driver: the fixed install line, device ids and versions refused before any command
 * exists, no rollback, and the installed versions and the reboot a device needs read from real
 * `fwupdmgr get-devices --json` output (test/fixtures/firmware).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_NO_ROLLBACK, rollbackEligibility } from '../../../src/core/deployments/state.js';
import { ValidationError } from '../../../src/core/errors.js';
import { driverFor, fwupdDriver } from '../../../src/executors/package-managers/index.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/firmware/fwupd/${name}`, import.meta.url), 'utf8');
const HP = fixture('get-devices.hp-z4-g4-workstation.json');
/** HP Z4 G4 "System Firmware" 2.90: updatable, needs-reboot. */
const BIOS = 'a45df35ac0e948ee180fe216a5f703f32dda163f';
/** The same workstation's TPM 7.85.17.51968: no needs-reboot flag. */
const TPM = 'c6a80ac3a22083423992a3cb15018989f37834d6';
/** Its Core i7 CPU: no version at all. */
const CPU = '4bde70ba4e39b28f9eab1628f9dd6e6244c03027';

describe('fwupd driver', () => {
  it('installs one exact release on one device with a fixed argument list', () => {
    expect(driverFor('fwupd')).toBe(fwupdDriver);
    expect(fwupdDriver.install([{ name: BIOS, version: '2.91' }])).toEqual({
      command: 'fwupdmgr',
      args: ['install', BIOS, '2.91', '--assume-yes', '--no-reboot-check'],
    });
    expect(fwupdDriver.queryInstalled([BIOS])).toEqual({
      command: 'fwupdmgr',
      args: ['get-devices', '--json'],
    });
  });

  it.each([
    ['upper case', BIOS.toUpperCase()],
    ['short', BIOS.slice(1)],
    ['option', `--allow-older`],
    ['shell', `${BIOS.slice(0, 39)};`],
    ['guid', '37c94477-30f8-42df-96f9-5e417cc49274'],
  ])('refuses a device id that is not 40 hex digits (%s)', (_why, id) => {
    for (const call of [
      () => fwupdDriver.install([{ name: id, version: '2.91' }]),
      () => fwupdDriver.queryInstalled([id]),
      () => fwupdDriver.availableVersions(id),
    ]) {
      expect(call).toThrow(ValidationError);
      expect(call).toThrow(/invalid fwupd device id/);
    }
  });

  it.each([
    ['option', '--allow-older'],
    ['space', '2.91 --force'],
    ['dotdot', '2..91'],
    ['slash', '2.91/x'],
    ['empty', ''],
    ['quote', "2.91'"],
    ['long', '1'.repeat(65)],
  ])('refuses a hostile version (%s), naming the device', (_why, version) => {
    const call = () => fwupdDriver.install([{ name: BIOS, version }]);
    expect(call).toThrow(ValidationError);
    expect(call).toThrow(new RegExp(`device ${BIOS}`));
  });

  it('updates one device per run, without architecture', () => {
    expect(() =>
      fwupdDriver.install([
        { name: BIOS, version: '2.91' },
        { name: TPM, version: '2.91' },
      ]),
    ).toThrow(/one firmware device per host/);
    expect(() => fwupdDriver.install([])).toThrow(/a firmware device/);
    expect(() => fwupdDriver.install([{ name: BIOS, version: '2.91', arch: 'amd64' }])).toThrow(
      /no architecture/,
    );
  });

  it('never rolls back: the driver refuses and the eligibility says why', () => {
    expect(() => fwupdDriver.rollback([{ name: BIOS, version: '2.90' }])).toThrow(
      'firmware cannot be rolled back by patchbot',
    );
    const e = rollbackEligibility('fwupd', {
      name: BIOS,
      baselineVersion: '2.90',
      availableVersions: ['2.90'],
    });
    expect(e.possible).toBe(false);
    expect(e.reason).toBe(`device ${BIOS}: ${FIRMWARE_NO_ROLLBACK}`);
  });

  it('reads the running version of each device from get-devices (none when fwupd does not know it)', () => {
    const installed = fwupdDriver.parseInstalled(HP, [BIOS, TPM, CPU, '0'.repeat(40)]);
    expect(installed.get(BIOS)).toEqual(['2.90']);
    expect(installed.get(TPM)).toEqual(['7.85.17.51968']);
    expect(installed.has(CPU)).toBe(false);
    expect(installed.has('0'.repeat(40))).toBe(false);
    // fwupd's error shape and garbage give nothing, never a throw
    expect(
      fwupdDriver.parseInstalled(
        '{"Error":{"Domain":"x","Code":1,"Message":"Failed to connect to daemon"}}',
        [BIOS],
      ).size,
    ).toBe(0);
    expect(fwupdDriver.parseInstalled('not json', [BIOS]).size).toBe(0);
  });

  it('needs a reboot when an updated device has the needs-reboot flag or update state', () => {
    const ok = { exitCode: 0, stdout: HP };
    expect(fwupdDriver.rebootCheck()).toEqual({ command: 'fwupdmgr', args: ['get-devices', '--json'] });
    expect(fwupdDriver.interpretRebootCheck(ok, [BIOS])).toBe(true);
    expect(fwupdDriver.interpretRebootCheck(ok, [TPM])).toBe(false);
    const pending = JSON.parse(HP) as { Devices: { DeviceId: string; UpdateState?: unknown }[] };
    const tpm = pending.Devices.find((d) => d.DeviceId === TPM);
    if (tpm) tpm.UpdateState = 'needs-reboot';
    expect(fwupdDriver.interpretRebootCheck({ exitCode: 0, stdout: JSON.stringify(pending) }, [TPM])).toBe(
      true,
    );
    // cannot be told: the tool failed or is missing
    expect(fwupdDriver.interpretRebootCheck({ exitCode: 127, stdout: '' }, [BIOS])).toBeUndefined();
    expect(fwupdDriver.interpretRebootCheck({ exitCode: 0, stdout: 'garbage' }, [BIOS])).toBeUndefined();
    expect(fwupdDriver.interpretRebootCheck(undefined, [BIOS])).toBeUndefined();
  });

  it('reads the releases fwupd offers, and has no package database to audit', () => {
    expect(fwupdDriver.availableVersions(BIOS)).toEqual({
      command: 'fwupdmgr',
      args: ['get-releases', BIOS, '--json'],
    });
    const releases = JSON.stringify({
      Releases: [{ Version: '2.91' }, { Version: '2.90' }, { Version: '$(x)' }],
    });
    expect(fwupdDriver.parseAvailableVersions(releases, BIOS)).toEqual(['2.91', '2.90']);
    expect(fwupdDriver.parseAvailableVersions('nope', BIOS)).toEqual([]);
    expect(fwupdDriver.audit([BIOS])).toBeUndefined();
  });
});
