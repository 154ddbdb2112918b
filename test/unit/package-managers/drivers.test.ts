import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../../src/core/errors.js';
import {
  apkDriver,
  aptDriver,
  DRIVERS,
  dnfDriver,
  driverFor,
  yumDriver,
  zypperDriver,
  type PackageManagerDriver,
  type PackageTarget,
} from '../../../src/executors/package-managers/index.js';

/** A valid name and version for each driver, used around the hostile value under test. */
const VALID: Record<string, PackageTarget> = {
  apt: { name: 'openssl', version: '3.0.15-1~deb12u1' },
  dnf: { name: 'openssl', version: '1:3.0.7-27.el9' },
  yum: { name: 'openssl', version: '1:1.0.2k-26.el7_9' },
  zypper: { name: 'libopenssl3', version: '3.1.4-150600.5.15.1' },
  apk: { name: 'openssl', version: '3.1.7-r1' },
};

/** What the install and rollback commands need in their environment (kept by the sudoers file). */
const ENV: Record<string, Record<string, string> | undefined> = {
  apt: { DEBIAN_FRONTEND: 'noninteractive' },
  zypper: { ZYPP_LOCK_TIMEOUT: '600' },
};

describe('install and rollback argument lists', () => {
  it.each<[PackageManagerDriver, PackageTarget[], string, string[], string[]]>([
    [
      aptDriver,
      [
        { name: 'openssl', version: '3.0.15-1~deb12u1' },
        { name: 'libssl3', version: '3.0.15-1~deb12u1', arch: 'amd64' },
      ],
      'apt-get',
      [
        'install',
        '-y',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confold',
        '-o',
        'DPkg::Lock::Timeout=600',
        '--',
        'openssl=3.0.15-1~deb12u1',
        'libssl3:amd64=3.0.15-1~deb12u1',
      ],
      [
        'install',
        '-y',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confold',
        '-o',
        'DPkg::Lock::Timeout=600',
        '--allow-downgrades',
        '--',
        'openssl=3.0.15-1~deb12u1',
        'libssl3:amd64=3.0.15-1~deb12u1',
      ],
    ],
    [
      aptDriver,
      [
        { name: 'libc6', version: '2.36-9+deb12u9' },
        { name: 'libstdc++6', version: '12.2.0-14+deb12u1' },
      ],
      'apt-get',
      [
        'install',
        '-y',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confold',
        '-o',
        'DPkg::Lock::Timeout=600',
        '--',
        'libc6=2.36-9+deb12u9',
        'libstdc++6=12.2.0-14+deb12u1',
      ],
      [
        'install',
        '-y',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confold',
        '-o',
        'DPkg::Lock::Timeout=600',
        '--allow-downgrades',
        '--',
        'libc6=2.36-9+deb12u9',
        'libstdc++6=12.2.0-14+deb12u1',
      ],
    ],
    [
      dnfDriver,
      [
        { name: 'openssl', version: '1:3.0.7-27.el9', arch: 'x86_64' },
        { name: 'glibc', version: '2.34-100.el9_4.4' },
      ],
      'dnf',
      ['install', '-y', '--', 'openssl-1:3.0.7-27.el9.x86_64', 'glibc-2.34-100.el9_4.4'],
      ['downgrade', '-y', '--', 'openssl-1:3.0.7-27.el9.x86_64', 'glibc-2.34-100.el9_4.4'],
    ],
    [
      yumDriver,
      [{ name: 'openssl', version: '1:1.0.2k-26.el7_9' }],
      'yum',
      ['install', '-y', '--', 'openssl-1:1.0.2k-26.el7_9'],
      ['downgrade', '-y', '--', 'openssl-1:1.0.2k-26.el7_9'],
    ],
    [
      zypperDriver,
      [{ name: 'libopenssl3', version: '3.1.4-150600.5.15.1', arch: 'x86_64' }],
      'zypper',
      ['--non-interactive', 'install', '--no-recommends', 'libopenssl3.x86_64=3.1.4-150600.5.15.1'],
      [
        '--non-interactive',
        'install',
        '--no-recommends',
        '--oldpackage',
        'libopenssl3.x86_64=3.1.4-150600.5.15.1',
      ],
    ],
    [
      apkDriver,
      [
        { name: 'openssl', version: '3.1.7-r1' },
        { name: 'libcrypto3', version: '3.1.7-r1', arch: 'x86_64' },
      ],
      'apk',
      ['add', '--no-interactive', '--wait', '600', 'openssl=3.1.7-r1', 'libcrypto3=3.1.7-r1'],
      ['add', '--no-interactive', '--wait', '600', 'openssl=3.1.7-r1', 'libcrypto3=3.1.7-r1'],
    ],
  ])('%s', (driver, targets, command, install, rollback) => {
    const env = ENV[driver.tool];
    expect(driver.install(targets)).toEqual({ command, args: install, ...(env ? { env } : {}) });
    expect(driver.rollback(targets)).toEqual({ command, args: rollback, ...(env ? { env } : {}) });
  });
});

describe('query commands', () => {
  it.each<[PackageManagerDriver, string, string[]]>([
    [
      aptDriver,
      'dpkg-query',
      [
        '-W',
        '-f',
        '${Package}\\t${Version}\\t${Architecture}\\t${Source}\\t${Status}\\n',
        '--',
        'openssl',
        'libssl3',
      ],
    ],
    [
      dnfDriver,
      'rpm',
      [
        '-q',
        '--qf',
        '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n',
        '--',
        'openssl',
        'libssl3',
      ],
    ],
    [
      zypperDriver,
      'rpm',
      [
        '-q',
        '--qf',
        '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n',
        '--',
        'openssl',
        'libssl3',
      ],
    ],
    [apkDriver, 'grep', ['-E', '^([PVAo]:|$)', '/lib/apk/db/installed']],
  ])('%s queryInstalled', (driver, command, args) => {
    expect(driver.queryInstalled(['openssl', 'libssl3'])).toEqual({ command, args });
  });

  it.each<[PackageManagerDriver, string, string[]]>([
    [aptDriver, 'apt-cache', ['madison', '--', 'openssl']],
    [dnfDriver, 'dnf', ['list', '--showduplicates', '-q', '--', 'openssl']],
    [yumDriver, 'yum', ['list', '--showduplicates', '-q', '--', 'openssl']],
    [
      zypperDriver,
      'zypper',
      ['--non-interactive', 'search', '--details', '--match-exact', '--type', 'package', 'openssl'],
    ],
    [apkDriver, 'apk', ['policy', 'openssl']],
  ])('%s availableVersions', (driver, command, args) => {
    expect(driver.availableVersions('openssl')).toEqual({ command, args });
  });
});

const HOSTILE_NAMES: [string, string][] = [
  ['command separator', ';rm -rf /'],
  ['command substitution', '$(x)'],
  ['backticks', '`id`'],
  ['space', 'openssl libssl3'],
  ['newline', 'openssl\nrm'],
  ['tab', 'openssl\tx'],
  ['NUL', 'openssl\0'],
  ['leading dash (option injection)', '-oAPT::Get::AllowUnauthenticated=true'],
  ['double dash option', '--allow-unauthenticated'],
  ['dot dot', '..'],
  ['dot dot inside', 'foo..bar'],
  ['path traversal', '../../etc/passwd'],
  ['Cyrillic look-alike', 'оpenssl'],
  ['full-width letters', 'ｏｐｅｎｓｓｌ'],
  ['zero-width space', 'open\u200bssl'],
  ['300 characters', 'a'.repeat(300)],
  ['empty', ''],
  ['equals sign', 'openssl=1.0'],
  ['glob', 'openssl*'],
  ['redirect', 'openssl>/etc/x'],
  ['pipe', 'openssl|sh'],
  ['quote', "openssl'"],
];

const HOSTILE_VERSIONS: [string, string][] = [
  ['command separator', '1.0;rm -rf /'],
  ['command substitution', '$(x)'],
  ['backticks', '1.0`id`'],
  ['space', '1.0 2.0'],
  ['newline', '1.0-1\n'],
  ['leading dash', '-1.0-1'],
  ['dot dot', '1..0-1'],
  ['Cyrillic look-alike', '1.0-1е'],
  ['300 characters', `1.${'0'.repeat(300)}-1`],
  ['empty', ''],
  ['slash', '1.0/unstable'],
];

/** The package managers (fwupd takes a device id and one device: tested on its own below). */
const PACKAGE_DRIVERS = Object.values(DRIVERS).filter((d) => d.tool !== 'fwupd');

describe('hostile names are refused before any command is built', () => {
  const drivers = PACKAGE_DRIVERS;
  const cases = drivers.flatMap((d) => HOSTILE_NAMES.map(([why, name]) => [d.tool, why, name, d] as const));
  it.each(cases)('%s: %s', (_tool, _why, name, driver) => {
    const valid = VALID[driver.tool];
    const calls: (() => unknown)[] = [
      () => driver.install([valid, { name, version: valid.version }]),
      () => driver.rollback([{ name, version: valid.version }]),
      () => driver.queryInstalled([valid.name, name]),
      () => driver.availableVersions(name),
    ];
    for (const call of calls) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValidationError);
      // The message names the bad value (JSON-escaped, cut at 80 characters).
      expect((error as ValidationError).userMessage).toContain(
        JSON.stringify(name.slice(0, 80)).slice(1, -1).slice(0, 40),
      );
    }
  });
});

describe('hostile versions are refused before any command is built', () => {
  const cases = PACKAGE_DRIVERS.flatMap((d) =>
    HOSTILE_VERSIONS.map(([why, v]) => [d.tool, why, v, d] as const),
  );
  it.each(cases)('%s: %s', (_tool, _why, version, driver) => {
    const valid = VALID[driver.tool];
    for (const call of [
      () => driver.install([valid, { name: 'zlib', version }]),
      () => driver.rollback([{ name: 'zlib', version }]),
    ]) {
      expect(call).toThrow(ValidationError);
      expect(call).toThrow(/zlib/);
    }
  });
});

describe('driver-specific refusals', () => {
  it.each<[PackageManagerDriver, PackageTarget, RegExp]>([
    [aptDriver, { name: 'openssl', version: '3.0.15-' }, /trailing "\+" or "-"/],
    [aptDriver, { name: 'openssl', version: '3.0.15+' }, /trailing "\+" or "-"/],
    [dnfDriver, { name: 'openssl', version: '3.0.7' }, /version-release/],
    [zypperDriver, { name: 'openssl', version: '1:3.0.7' }, /version-release/],
    [aptDriver, { name: 'openssl', version: '3.0.15-1', arch: 'amd64;x' }, /invalid architecture/],
    [dnfDriver, { name: 'openssl', version: '3.0.7-1.el9', arch: '../x' }, /invalid architecture/],
    [apkDriver, { name: 'openssl', version: '3.1' + '.7-r1-r2' }, /invalid apk version/],
    [aptDriver, { name: 'OpenSSL', version: '3.0.15-1' }, /invalid dpkg package name/],
  ])('%s %o', (driver, target, message) => {
    expect(() => driver.install([target])).toThrow(message);
  });

  it('refuses empty and duplicate target lists and unknown tools', () => {
    expect(() => aptDriver.install([])).toThrow(/at least one package/);
    expect(() => aptDriver.install([VALID.apt, VALID.apt])).toThrow(/listed twice/);
    expect(() => aptDriver.queryInstalled([])).toThrow(/at least one package name/);
    expect(() => driverFor('pacman')).toThrow(/unknown package manager "pacman"/);
    expect(driverFor('zypper')).toBe(zypperDriver);
  });

  it('never yields an argument after the options that starts with "-"', () => {
    for (const d of PACKAGE_DRIVERS) {
      const { args } = d.install([VALID[d.tool]]);
      const last = args[args.length - 1];
      expect(last.startsWith('-')).toBe(false);
    }
  });
});

describe('parsing host output', () => {
  it('apt: dpkg-query output, fully installed packages only', () => {
    const out = [
      'openssl\t3.0.15-1~deb12u1\tamd64\t\tinstall ok installed',
      'libssl3\t3.0.15-1~deb12u1\tamd64\topenssl\tinstall ok installed',
      'libssl3\t3.0.15-1~deb12u1\ti386\topenssl\tinstall ok unpacked',
      'zlib1g\t1:1.2.13.dfsg-1\tamd64\tzlib\tinstall ok installed',
      'garbage line',
    ].join('\n');
    expect(aptDriver.parseInstalled(out, ['openssl', 'libssl3'])).toEqual(
      new Map([
        ['openssl', ['3.0.15-1~deb12u1']],
        ['libssl3', ['3.0.15-1~deb12u1']],
      ]),
    );
  });

  it('apt: apt-cache madison (format as printed on Debian 12; the first line verbatim)', () => {
    const out = [
      '      bash | 5.2.15-2+b13 | http://deb.debian.org/debian bookworm/main amd64 Packages',
      '      bash | 5.2.15-2+b8 | http://security.debian.org bookworm-security/main amd64 Packages',
      '      bash | 5.2.15-2 | http://deb.debian.org/debian bookworm/main Sources',
      '  bash-doc | 5.2.15-2 | http://deb.debian.org/debian bookworm/main amd64 Packages',
    ].join('\n');
    expect(aptDriver.parseAvailableVersions(out, 'bash')).toEqual(['5.2.15-2+b13', '5.2.15-2+b8']);
  });

  it('rpm: rpm -q output with a missing package', () => {
    const out = [
      'openssl\t1\t3.0.7\t27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm',
      'package libfoo is not installed',
      'glibc\t(none)\t2.34\t100.el9_4.4\tx86_64\tglibc-2.34-100.el9_4.4.src.rpm',
    ].join('\n');
    expect(dnfDriver.parseInstalled(out, ['openssl', 'glibc', 'libfoo'])).toEqual(
      new Map([
        ['openssl', ['1:3.0.7-27.el9']],
        ['glibc', ['2.34-100.el9_4.4']],
      ]),
    );
  });

  it('dnf: list --showduplicates, installed row and headers skipped, wrapped rows read', () => {
    const out = [
      'Installed Packages',
      'openssl.x86_64                 1:3.0.7-27.el9                  @baseos',
      'Available Packages',
      'openssl.x86_64                 1:3.0.7-24.el9                  baseos',
      'openssl.x86_64                 1:3.0.7-27.el9                  baseos',
      'openssl-libs.x86_64            1:3.0.7-27.el9                  baseos',
      'openssl.i686',
      '                               1:3.0.7-25.el9                  appstream',
    ].join('\n');
    expect(dnfDriver.parseAvailableVersions(out, 'openssl')).toEqual([
      '1:3.0.7-24.el9',
      '1:3.0.7-27.el9',
      '1:3.0.7-25.el9',
    ]);
  });

  it('zypper: search --details table', () => {
    const out = [
      'S  | Name        | Type    | Version             | Arch   | Repository',
      '---+-------------+---------+---------------------+--------+------------------------------',
      'i+ | libopenssl3 | package | 3.1.4-150600.5.15.1 | x86_64 | (System Packages)',
      'v  | libopenssl3 | package | 3.1.4-150600.5.15.1 | x86_64 | Update repository with updates',
      'v  | libopenssl3 | package | 3.1.4-150600.5.7.1  | x86_64 | Update repository with updates',
      '   | libopenssl3 | srcpackage | 3.1.4-150600.5.7.1 | noarch | Source',
    ].join('\n');
    expect(zypperDriver.parseAvailableVersions(out, 'libopenssl3')).toEqual([
      '3.1.4-150600.5.15.1',
      '3.1.4-150600.5.7.1',
    ]);
  });

  it('apk: policy output, installed-only versions are not offered', () => {
    const out = [
      'openssl policy:',
      '  3.1.4-r5:',
      '    lib/apk/db/installed',
      '  3.1.7-r1:',
      '    https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
      '  3.1.7-r0:',
      '    /var/cache/apk',
      '    https://mirror.example/alpine/v3.19/main',
    ].join('\n');
    expect(apkDriver.parseAvailableVersions(out, 'openssl')).toEqual(['3.1.7-r1', '3.1.7-r0']);
  });

  it('apk: installed database', () => {
    const out = [
      'P:openssl',
      'V:3.1.7-r1',
      'A:x86_64',
      'o:openssl',
      '',
      'P:musl',
      'V:1.2.4_git20230717-r4',
      'A:x86_64',
      '',
    ].join('\n');
    expect(apkDriver.parseInstalled(out, ['openssl'])).toEqual(new Map([['openssl', ['3.1.7-r1']]]));
  });
});

describe('reboot checks', () => {
  it.each<[PackageManagerDriver, number | null, boolean | undefined]>([
    [aptDriver, 0, true],
    [aptDriver, 1, false],
    [aptDriver, 127, undefined],
    [dnfDriver, 1, true],
    [dnfDriver, 0, false],
    [yumDriver, 127, undefined],
    [zypperDriver, 102, true],
    [zypperDriver, 0, false],
    [zypperDriver, null, undefined],
  ])('%s exit %s -> %s', (driver, exitCode, expected) => {
    expect(driver.rebootCheck()).toBeDefined();
    expect(driver.interpretRebootCheck({ exitCode, stdout: '' }, [])).toBe(expected);
  });

  it('apk: reboot only when a kernel package changed', () => {
    expect(apkDriver.rebootCheck()).toBeUndefined();
    expect(apkDriver.interpretRebootCheck(undefined, ['openssl', 'linux-lts'])).toBe(true);
    expect(
      apkDriver.interpretRebootCheck(undefined, ['openssl', 'linux-firmware-intel', 'linux-headers']),
    ).toBe(false);
  });
});

describe('package database check after an unknown result', () => {
  it('apt: dpkg --audit output (as dpkg 1.21 prints it) means broken; silence means clean', () => {
    expect(aptDriver.audit(['openssl'])).toEqual({ command: 'dpkg', args: ['--audit'] });
    const printed =
      'The following packages are only half configured, probably due to problems\n' +
      'configuring them the first time.  The configuration should be retried using\n' +
      'dpkg --configure <package> or the configure menu option in dselect:\n' +
      ' openssl              Secure Sockets Layer toolkit - cryptographic utility\n';
    expect(aptDriver.interpretAudit({ exitCode: 0, stdout: printed, stderr: '' }, ['openssl'])).toEqual({
      broken: true,
      evidence: printed.trim(),
    });
    expect(aptDriver.interpretAudit({ exitCode: 0, stdout: '', stderr: '' }, ['openssl'])).toEqual({
      broken: false,
      evidence: '',
    });
    expect(aptDriver.interpretAudit({ exitCode: 127, stdout: '', stderr: 'not found' }, [])).toBeUndefined();
  });

  it('rpm: a package registered twice for one architecture is broken; kernels side by side are not', () => {
    expect(dnfDriver.audit(['openssl', 'kernel-core'])).toEqual({
      command: 'rpm',
      args: [
        '-q',
        '--qf',
        '%{NAME}.%{ARCH} %{EPOCH}:%{VERSION}-%{RELEASE}\\n',
        '--',
        'openssl',
        'kernel-core',
      ],
    });
    const clean =
      'openssl.x86_64 1:3.0.7-27.el9\nkernel-core.x86_64 (none):5.14.0-427.el9\nkernel-core.x86_64 (none):5.14.0-503.el9\n';
    expect(dnfDriver.interpretAudit({ exitCode: 0, stdout: clean, stderr: '' }, [])?.broken).toBe(false);
    const twice =
      'openssl.x86_64 1:3.0.7-25.el9\nopenssl.x86_64 1:3.0.7-27.el9\nopenssl.i686 1:3.0.7-27.el9\n';
    expect(zypperDriver.interpretAudit({ exitCode: 0, stdout: twice, stderr: '' }, [])).toEqual({
      broken: true,
      evidence: 'openssl.x86_64 is registered 2 times: 1:3.0.7-25.el9, 1:3.0.7-27.el9',
    });
    const missing = 'package foo is not installed\n';
    expect(yumDriver.interpretAudit({ exitCode: 1, stdout: missing, stderr: '' }, [])?.broken).toBe(false);
  });

  it('apk: nothing to check (the installed versions decide)', () => {
    expect(apkDriver.audit(['openssl'])).toBeUndefined();
  });
});
