import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOsRelease } from '../../../src/inventory/parsers/os-release.js';
import { parseKernelRelease } from '../../../src/inventory/parsers/kernel.js';
import { needsRestartingVerdict, parseRebootRequiredPkgs } from '../../../src/inventory/parsers/reboot.js';

const debian12 = readFileSync(
  new URL('../../fixtures/inventory/debian12-os-release', import.meta.url),
  'utf8',
);

describe('parseOsRelease', () => {
  it('reads a real Debian 12 os-release', () => {
    const { os, warnings } = parseOsRelease(debian12);
    expect(warnings).toEqual([]);
    expect(os).toEqual({
      id: 'debian',
      family: 'debian',
      versionId: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
  });

  it.each([
    [
      'ubuntu',
      'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\nUBUNTU_CODENAME=jammy\n',
      { id: 'ubuntu', family: 'ubuntu', versionId: '22.04', codename: 'jammy' },
    ],
    [
      'linux mint (ubuntu-like)',
      'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.3"\nUBUNTU_CODENAME=jammy\n',
      { id: 'linuxmint', family: 'ubuntu', versionId: '21.3', codename: 'jammy' },
    ],
    [
      'alpine',
      'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
      { id: 'alpine', family: 'alpine', versionId: '3.19.1' },
    ],
    [
      'rocky',
      'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
      { id: 'rocky', family: 'rocky', versionId: '9.4' },
    ],
    [
      'almalinux',
      'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
      { id: 'almalinux', family: 'almalinux' },
    ],
    ['oracle (rhel-like)', 'ID="ol"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n', { family: 'rhel' }],
    ['centos stream', "ID='centos'\nVERSION_ID='9'\n", { id: 'centos', family: 'rhel', versionId: '9' }],
    ['sles', 'ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"\n', { family: 'suse' }],
    ['opensuse', 'ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n', { family: 'suse' }],
    ['fedora', 'ID=fedora\nVERSION_ID=40\n', { family: 'fedora', versionId: '40' }],
    ['unknown', 'ID=gentoo\nVERSION_ID=2.15\n', { id: 'gentoo', family: 'unknown' }],
  ])('%s', (_label, text, expected) => {
    const { os } = parseOsRelease(text);
    expect(os).toMatchObject(expected);
  });

  it('unquotes shell escapes in double quotes', () => {
    const { fields } = parseOsRelease('PRETTY_NAME="A \\"quoted\\" \\$name \\\\ x"\nID=x\nVERSION_ID=1\n');
    expect(fields.PRETTY_NAME).toBe('A "quoted" $name \\ x');
  });

  it('reports bad lines and values, and never throws', () => {
    const text = [
      'ID=debian',
      'this is garbage',
      'VERSION_ID="12',
      'NAME=two words',
      'PRETTY_NAME="\u0007bell"',
      'VERSION_CODENAME=Book Worm',
    ].join('\n');
    const { os, warnings } = parseOsRelease(text);
    expect(os.id).toBe('debian');
    expect(os.versionId).toBe('');
    expect(os.prettyName).toBeUndefined();
    expect(warnings.map((w) => w.line)).toEqual([2, 3, 4, 6, 0, 0]);
  });

  it('falls back to "linux" without an ID, and refuses a hostile one', () => {
    expect(parseOsRelease('VERSION_ID=1\n').os.id).toBe('linux');
    const hostile = parseOsRelease('ID="debian;reboot"\nVERSION_ID=12\n');
    expect(hostile.os).toMatchObject({ id: 'linux', family: 'unknown' });
    expect(hostile.warnings[0].reason).toContain('invalid ID');
  });
});

describe('parseKernelRelease', () => {
  it.each([
    ['6.1.0-25-amd64\n', '6.1.0-25-amd64'],
    ['5.14.0-427.13.1.el9_4.x86_64\n', '5.14.0-427.13.1.el9_4.x86_64'],
    ['6.6.31-0-lts\n', '6.6.31-0-lts'],
  ])('%j', (text, kernel) => {
    expect(parseKernelRelease(text)).toEqual({ kernel, warnings: [] });
  });

  it.each(['', '6.1.0\n6.2.0\n', '6.1.0; reboot\n', '$(id)\n'])('refuses %j', (text) => {
    const r = parseKernelRelease(text);
    expect(r.kernel).toBeUndefined();
    expect(r.warnings).toHaveLength(1);
  });
});

describe('reboot markers', () => {
  it('lists distinct valid package names from reboot-required.pkgs', () => {
    const r = parseRebootRequiredPkgs('linux-image-6.1.0-25-amd64\nlibc6\nlibc6\n\n$(reboot)\ndbus\n');
    expect(r.packages).toEqual(['linux-image-6.1.0-25-amd64', 'libc6', 'dbus']);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0].line).toBe(5);
  });

  it.each([
    [0, false],
    [1, true],
    [127, undefined],
    [2, undefined],
    [null, undefined],
  ])('needs-restarting -r exit %s -> %s', (code, verdict) => {
    expect(needsRestartingVerdict(code)).toBe(verdict);
  });
});
