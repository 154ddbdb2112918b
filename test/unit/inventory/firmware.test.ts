/**
 * Firmware inventory parsers over real data: a Dell PowerEdge R6515's /sys/class/dmi/id
 * (prometheus/procfs fixture), a Lenovo System x3550 M5's dmidecode output (canonical/checkbox),
 * real `fwupdmgr`/`fwupdtool` JSON of fwupd 1.7, 1.9 and 2.0 (HP Z4 G4, an aarch64 VM, a Qubes
 * dom0, a ThinkPad P1, this project's own VM).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DMI_SYSFS_FILES,
  parseDmidecode,
  parseDmiSysfs,
} from '../../../src/inventory/parsers/firmware/dmi.js';
import { parseFwupdDevices, parseFwupdSecurity } from '../../../src/inventory/parsers/firmware/fwupd.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/firmware');
const read = (p: string): string => readFileSync(path.join(FIXTURES, p), 'utf8');

/** The ttar archive's files: path -> content (without the final newline). */
function ttarFiles(text: string): Map<string, { content: string; mode: string }> {
  const out = new Map<string, { content: string; mode: string }>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^Path: (.*)$/.exec(lines[i]);
    if (m === null) continue;
    const n = Number(/^Lines: (\d+)$/.exec(lines[i + 1])?.[1] ?? NaN);
    const content = lines.slice(i + 2, i + 2 + n).join('\n');
    const mode = /^Mode: (\d+)$/.exec(lines[i + 2 + n])?.[1] ?? '';
    out.set(m[1].replace(/^fixtures/, ''), { content, mode });
  }
  return out;
}

/** What `grep -s -H '' FILE...` prints for the files a non-root user can read. */
function grepOutput(
  files: Map<string, { content: string; mode: string }>,
  wanted: readonly string[],
): string {
  return wanted
    .flatMap((p) => {
      const f = files.get(p);
      if (f === undefined || f.mode === '400') return [];
      return f.content.split('\n').map((l) => `${p}:${l}`);
    })
    .join('\n');
}

describe('DMI from /sys/class/dmi/id', () => {
  const files = ttarFiles(read('dmi/sysfs-dmi-id.dell-poweredge-r6515.ttar'));

  it('reads the BIOS, system and board facts of a real Dell PowerEdge R6515', () => {
    const { dmi, warnings } = parseDmiSysfs(grepOutput(files, DMI_SYSFS_FILES));
    expect(dmi).toEqual({
      biosVendor: 'Dell Inc.',
      biosVersion: '2.2.4',
      biosDate: '04/12/2021',
      biosRelease: '2.2',
      systemVendor: 'Dell Inc.',
      productName: 'PowerEdge R6515',
      productFamily: 'PowerEdge',
      boardVendor: 'Dell Inc.',
      boardName: '07PXPY',
    });
    expect(warnings).toEqual([]);
  });

  it('never asks for a root-only file: every file it reads is world-readable on the real host', () => {
    for (const p of DMI_SYSFS_FILES) expect(files.get(p)?.mode).toBe('444');
    expect(DMI_SYSFS_FILES.some((p) => /serial|uuid/.test(p))).toBe(false);
    const rootOnly = [...files].filter(([, f]) => f.mode === '400').map(([p]) => p);
    expect(rootOnly.length).toBeGreaterThanOrEqual(4);
  });

  it('leaves out empty values and SMBIOS placeholders, and names lines it does not read', () => {
    const { dmi, warnings } = parseDmiSysfs(
      [
        '/sys/class/dmi/id/bios_vendor:American Megatrends Inc.',
        '/sys/class/dmi/id/product_name:To Be Filled By O.E.M.',
        '/sys/class/dmi/id/board_name:',
        '/sys/class/dmi/id/product_serial:ABC123',
        '/etc/passwd:root:x:0:0',
        '/sys/class/dmi/id/bios_vendor:Other',
        `/sys/class/dmi/id/bios_version:${'x'.repeat(300)}`,
      ].join('\n'),
    );
    expect(dmi).toEqual({ biosVendor: 'American Megatrends Inc.' });
    expect(warnings.map((w) => `${w.line}: ${w.reason}`)).toEqual([
      '4: not a line for a /sys/class/dmi/id file patchbot reads: "/sys/class/dmi/id/product_serial:ABC123"',
      '5: not a line for a /sys/class/dmi/id file patchbot reads: "/etc/passwd:root:x:0:0"',
      '6: bios_vendor given twice; the first value is kept',
      '7: bios_version: longer than 256 characters; ignored',
    ]);
  });
});

describe('DMI from dmidecode', () => {
  it('reads types 0, 1 and 2 of a real Lenovo System x3550 M5 and ignores serial numbers', () => {
    const { dmi, warnings } = parseDmidecode(read('dmi/dmidecode.lenovo-system-x3550-m5.txt'));
    expect(dmi).toEqual({
      biosVendor: 'LENOVO',
      biosVersion: '-[TBE132I-2.50]-',
      biosDate: '10/11/2017',
      biosRelease: '2.50',
      systemVendor: 'LENOVO',
      productName: 'System x3550 M5: -[5463AC1]-',
      productFamily: 'System X',
      boardVendor: 'LENOVO',
      boardName: '00MU647',
    });
    expect(warnings).toEqual([]);
  });

  it('says so when the output holds no SMBIOS structure (dmidecode without /dev/mem)', () => {
    const { dmi, warnings } = parseDmidecode(
      '# dmidecode 3.4\nScanning /dev/mem for entry point.\n/dev/mem: No such file or directory\n',
    );
    expect(dmi).toEqual({});
    expect(warnings[0]?.reason).toMatch(/no SMBIOS structure/);
  });
});

describe('fwupd get-devices --json', () => {
  it('reads the HP Z4 G4 workstation (fwupd 1.7): GUIDs, formats, VersionRaw, flags and LVFS releases', () => {
    const { devices, warnings, error } = parseFwupdDevices(
      read('fwupd/get-devices.hp-z4-g4-workstation.json'),
    );
    expect(error).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(devices).toHaveLength(8);
    const bios = devices.find((d) => d.name === 'System Firmware');
    expect(bios).toMatchObject({
      plugin: 'uefi_capsule',
      version: '2.90',
      versionFormat: 'pair',
      versionRaw: '131162',
      guids: expect.arrayContaining([expect.stringMatching(/^[0-9a-f-]{36}$/)]) as unknown,
    });
    expect(bios?.flags).toEqual(expect.arrayContaining(['updatable', 'needs-reboot']));
    expect(bios?.releases.map((r) => [r.version, r.flags.filter((f) => f.startsWith('is-'))])).toEqual([
      ['2.91', ['is-upgrade']],
      ['2.90', []],
      ['2.85', ['is-downgrade']],
    ]);
    const tpm = devices.find((d) => d.plugin === 'tpm');
    expect(tpm).toMatchObject({
      version: '7.85.17.51968',
      versionFormat: 'quad',
      versionRaw: '1970689910360832',
    });
    const cpu = devices.find((d) => d.plugin === 'cpu');
    expect(cpu?.version).toBeUndefined();
    expect(cpu?.versionFormat).toBe('hex');
  });

  it('reads fwupd 1.9 devices with no Version or Name, and CVE and non-CVE issues apart', () => {
    const { devices, warnings } = parseFwupdDevices(
      read('fwupd/get-devices.aa64-vm.meta-package-manager.json'),
    );
    expect(warnings).toEqual([]);
    const hub = devices.find((d) => d.name === 'USB2.0 Hub');
    expect(hub).toMatchObject({ version: '51.63', versionFormat: 'bcd', versionRaw: '20835' });
    expect(devices.some((d) => d.name === undefined && d.version === undefined)).toBe(true);
    const dbx = devices.find((d) => d.name === 'UEFI dbx');
    const r21 = dbx?.releases.find((r) => r.version === '21');
    expect(r21?.issues).toEqual(['CVE-2022-34303', '309662', 'CVE-2022-34302', 'CVE-2022-34301']);
    expect(r21?.cves).toEqual(['CVE-2022-34303', 'CVE-2022-34302', 'CVE-2022-34301']);
    expect(r21?.appstreamId).toBe('org.linuxfoundation.dbx.aa64.firmware');
  });

  it('reads fwupd 2.0 (Protocols, VendorIds arrays) and fwupdtool on this project VM (a CPU, no version)', () => {
    const updates = parseFwupdDevices(read('fwupd/sandbox.fwupdtool-get-updates.test-plugin.json'));
    expect(updates.error).toBeUndefined();
    expect(updates.warnings).toEqual([]);
    expect(updates.devices[0]).toMatchObject({ name: 'Integrated Webcam™', version: '1.2.2' });
    expect(updates.devices[0]?.releases.map((r) => r.version)).toEqual(['1.2.4', '1.2.3']);
    expect(updates.devices[0]?.protocols.length).toBeGreaterThan(0);
    const vm = parseFwupdDevices(read('fwupd/sandbox.fwupdtool-get-devices.json'));
    expect(vm.devices).toEqual([
      expect.objectContaining({ name: 'EPYC', plugin: 'cpu', versionFormat: 'hex' }),
    ]);
    expect(vm.devices[0]).not.toHaveProperty('version');
  });

  it('reads every real sample, a get-results single device, and a host-emulation file', () => {
    for (const file of [
      'get-devices.qubes-dom0-colorhug2.json',
      'get-updates.uefi-dbx-aa64-cves.json',
      'host-emulate.thinkpad-p1-iommu.json',
    ]) {
      const r = parseFwupdDevices(read(`fwupd/${file}`));
      expect({ file, error: r.error, warnings: r.warnings }).toEqual({
        file,
        error: undefined,
        warnings: [],
      });
      expect(r.devices.length).toBeGreaterThan(0);
    }
    const result = parseFwupdDevices(read('fwupd/get-results.hp-z4-g4-workstation.json'));
    expect(result.devices).toEqual([expect.objectContaining({ version: '2.91', updateState: 'success' })]);
    const thinkpad = parseFwupdDevices(read('fwupd/host-emulate.thinkpad-p1-iommu.json')).devices;
    expect(new Set(thinkpad.map((d) => d.versionFormat))).toEqual(
      new Set(['unknown', 'intel-me', 'triplet', 'bcd', 'quad', 'pair', 'hex', 'number', 'plain']),
    );
  });

  it('reports fwupd errors and broken output instead of devices', () => {
    expect(parseFwupdDevices(read('fwupd/get-results.error-not-in-history.json')).error).toMatch(
      /^fwupd reported an error \(FwupdError\): /,
    );
    const noDaemon = parseFwupdDevices(
      '{"Error": {"Domain": "g-io-error-quark", "Code": 1, "Message": "Failed to connect to daemon: Could not connect: No such file or directory"}}',
    );
    expect(noDaemon).toEqual({
      devices: [],
      warnings: [],
      error:
        'fwupd reported an error (g-io-error-quark): Failed to connect to daemon: Could not connect: No such file or directory',
    });
    expect(parseFwupdDevices('').error).toBe('fwupd output: no output');
    expect(parseFwupdDevices('Loading…\n').error).toMatch(/not JSON/);
    expect(parseFwupdDevices('{"Devices": [').error).toMatch(/cut short/);
  });

  it('keeps the good devices when one is hostile, and ignores text after the document', () => {
    const good = JSON.parse(read('fwupd/sandbox.fwupdtool-get-devices.json')) as {
      Devices: Record<string, unknown>[];
    };
    const base = good.Devices[0];
    const text = `${JSON.stringify({
      Devices: [
        base,
        { ...base, DeviceId: '$(reboot)', Name: 'evil' },
        { ...base, DeviceId: 'a'.repeat(40), Guid: ['not-a-guid'] },
        { ...base, DeviceId: 'b'.repeat(40), Version: 'x\u0007y' },
        { ...base, DeviceId: 'c'.repeat(40), VersionFormat: 'martian', VersionRaw: 2 ** 60 },
        base,
      ],
    })}\nWARNING: some text fwupd printed after the JSON`;
    const { devices, warnings } = parseFwupdDevices(text);
    expect(devices.map((d) => d.id)).toEqual([base['DeviceId'], 'c'.repeat(40)]);
    expect(devices[1]?.versionFormat).toBe('unknown');
    expect(devices[1]).not.toHaveProperty('versionRaw');
    expect(warnings.map((w) => w.reason)).toEqual([
      '47 characters after the JSON document ignored',
      'Devices[1] (evil): left out: DeviceId: not a fwupd device id (40 hex digits)',
      'Devices[2] (EPYC): left out: Guid.0: not a GUID',
      'Devices[3] (EPYC): left out: Version: contains control characters',
      'Devices[4] (EPYC): unknown VersionFormat "martian"; compared without a format',
      'Devices[4] (EPYC): VersionRaw is too large to read exactly; ignored',
      `Devices[5] (EPYC): device ${String(base['DeviceId'])} listed twice; the first entry is kept`,
    ]);
  });
});

describe('fwupd security --json', () => {
  it('reads the HSI attributes of this project VM and of a real ThinkPad P1', () => {
    const vm = parseFwupdSecurity(read('fwupd/sandbox.fwupdtool-security.json'));
    expect(vm.error).toBeUndefined();
    expect(vm.warnings).toEqual([]);
    expect(vm.attributes).toHaveLength(17);
    expect(vm.attributes.find((a) => a.appstreamId === 'org.fwupd.hsi.Uefi.SecureBoot')).toMatchObject({
      result: 'not-enabled',
      success: false,
    });
    const laptop = parseFwupdSecurity(read('fwupd/host-emulate.thinkpad-p1-iommu.json'));
    expect(laptop.attributes).toHaveLength(30);
    expect(laptop.attributes.filter((a) => a.success).length).toBeGreaterThan(0);
  });

  it('reports output without attributes', () => {
    expect(parseFwupdSecurity('{"Devices": []}').error).toBe('fwupd output: no "SecurityAttributes" list');
  });
});
