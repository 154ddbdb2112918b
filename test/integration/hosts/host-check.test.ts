/**
 * Least privilege, checked against real sudo: the documented docs/patchbot.sudoers allows exactly the
 * command lines patchbot builds (for real package names and versions of every tool) and refuses the
 * ones it must not (other verbs, options, package files), and `patchbot hosts check` reports, read
 * only, what a host gives and what it lacks. The test hosts' SSH user is not root; its sudo rights
 * are that file and nothing else.
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApkInstalled } from '../../../src/inventory/parsers/apk.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { createRepositories, openDatabase, type Database } from '../../../src/db/index.js';
import { SshExecutor } from '../../../src/executors/ssh/ssh-executor.js';
import {
  DRIVERS,
  type CommandSpec,
  type PackageManagerDriver,
  type PackageTarget,
} from '../../../src/executors/package-managers/index.js';
import { runCli } from '../../support/cli.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { DOCUMENTED_SUDOERS, sshdAvailable, startSshd, type TestSshHost } from '../../support/sshd.js';
import { FLAVOR_OS } from '../deployments/support.js';

const fixture = (path: string): string =>
  readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8');

let fleet: Fleet;
let nosudo: TestSshHost;
let pg: TempPostgres;
let db: Database;
let ex: SshExecutor;
const dir = mkdtempSync(join(tmpdir(), 'patchbot-host-check-'));
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, env, dir);

/** Whether real sudo, asked by the test user over SSH, allows `spec` (runs nothing). */
async function allowed(spec: CommandSpec): Promise<boolean> {
  const r = await ex.exec({ command: 'sudo', args: ['-n', '-l', spec.command, ...spec.args] });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`sudo -l failed: ${r.stderr}`);
  return r.exitCode === 0;
}

/** Targets in batches as a deployment would send them (what the driver accepts of `all`). */
function batches(driver: PackageManagerDriver, all: PackageTarget[], size = 40): PackageTarget[][] {
  const ok = all.filter((t) => {
    try {
      driver.install([t]);
      return true;
    } catch {
      return false;
    }
  });
  const out: PackageTarget[][] = [];
  for (let i = 0; i < ok.length; i += size) out.push(ok.slice(i, i + size));
  return out;
}

beforeAll(async () => {
  fleet = await startFleet(
    [
      { name: 'chk-apt', installed: [{ name: 'openssl', version: '3.0.11-1~deb12u1' }], available: [] },
      {
        name: 'chk-dnf',
        flavor: 'dnf',
        installed: [{ name: 'openssl', version: '1:3.0.7-25.el9' }],
        available: [],
      },
    ],
    { first: 141 },
  );
  nosudo = await startSshd({ address: '127.0.0.143', user: 'patchbot-nosudo' });
  const apt = fleet.host('chk-apt').ssh;
  ex = new SshExecutor({
    host: 'chk-apt',
    address: apt.address,
    port: apt.port,
    username: apt.user,
    privateKeyPath: fleet.clientKeyPath,
    hostKeyFingerprint: apt.hostKeyFingerprint,
  });
  pg = await createTempPostgres('host_check');
  const policyPath = join(dir, 'patchbot.yaml');
  const host = (name: string, h: TestSshHost, extra: string[] = []) => [
    `  - name: ${name}`,
    `    address: ${h.address}`,
    `    port: ${h.port}`,
    `    user: ${h.user}`,
    `    hostKey: "${h.hostKeyFingerprint}"`,
    ...extra,
  ];
  writeFileSync(
    policyPath,
    [
      'ssh:',
      `  identityFile: ${fleet.clientKeyPath}`,
      '  connectTimeout: 3s',
      'hosts:',
      ...host('chk-apt', apt),
      ...host('chk-dnf', fleet.host('chk-dnf').ssh),
      ...host('chk-nosudo', nosudo, [`    identityFile: ${nosudo.privateKeyPath}`]),
      '',
    ].join('\n'),
  );
  env = { DATABASE_URL: pg.url, PATCHBOT_CONFIG: policyPath, LOG_LEVEL: 'warn' };
  expect((await cli('db', 'migrate')).code).toBe(0);
  expect((await cli('hosts', 'list')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  const repos = createRepositories(db);
  const dnf = FLAVOR_OS.dnf;
  await repos.inventory.save('chk-dnf', {
    os: dnf.os,
    kernel: '5.14.0',
    packageManager: dnf.packageManager,
    packages: [],
    rebootRequired: false,
    rebootPackages: [],
    collectedAt: new Date(),
  });
}, 120_000);

afterAll(async () => {
  await ex?.close();
  await fleet?.stop();
  await nosudo?.stop();
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(sshdAvailable() && process.getuid?.() === 0)(
  'least privilege under docs/patchbot.sudoers',
  () => {
    it('the test user is not root, and its sudo rights are the documented rules', async () => {
      expect((await ex.exec({ command: 'id', args: ['-u'] })).stdout.trim()).not.toBe('0');
      const listed = await ex.exec({ command: 'sudo', args: ['-n', '-l'] });
      expect(listed.exitCode).toBe(0);
      // every command rule of the documented file, and nothing else
      const documented = readFileSync(DOCUMENTED_SUDOERS, 'utf8');
      for (const rule of [
        '^install -y --no-install-recommends',
        '^(install|downgrade) -y --',
        '^add --no-interactive --wait 600',
      ]) {
        expect(documented).toContain(rule);
        expect(listed.stdout).toContain(rule);
      }
      expect(listed.stdout).not.toMatch(/\(ALL\)|: ALL\b/);
      expect(await allowed({ command: 'id', args: [] })).toBe(false);
      expect(await allowed({ command: 'sh', args: ['-c', 'id'] })).toBe(false);
    });

    it('allows every install and rollback command patchbot builds, for real package names and versions', async () => {
      const deb = parseDpkgStatus(fixture('versions/debian12-dpkg-status')).packages.map((p) => ({
        name: p.name,
        version: p.version,
        ...(p.arch === 'all' ? {} : { arch: p.arch }),
      }));
      const rpm = fixture('versions/rpm_rpmvercmp_at.tsv')
        .split('\n')
        .slice(1)
        .flatMap((l, i) =>
          l
            .split('\t')
            .slice(0, 1)
            .map((v) => ({ name: `pkg${i}-x_y+z`, version: v.includes('-') ? v : `${v}-1.el9` })),
        );
      const apk = parseApkInstalled(fixture('inventory/apk-installed-sample')).packages.map((p) => ({
        name: p.name,
        version: p.version,
      }));
      const cases: [string, PackageTarget[]][] = [
        ['apt', deb],
        ['dnf', rpm.map((t, i) => (i % 3 === 0 ? { ...t, arch: 'x86_64' } : t))],
        ['yum', rpm],
        ['zypper', rpm.map((t, i) => (i % 2 === 0 ? { ...t, arch: 'noarch' } : t))],
        ['apk', apk],
      ];
      let checked = 0;
      for (const [tool, targets] of cases) {
        const driver = DRIVERS[tool as keyof typeof DRIVERS];
        const sets = batches(driver, targets);
        expect(sets.length, tool).toBeGreaterThan(0);
        for (const set of sets) {
          expect(
            await allowed(driver.install(set)),
            `${tool} install ${JSON.stringify(set.slice(0, 2))}`,
          ).toBe(true);
          expect(await allowed(driver.rollback(set)), `${tool} rollback`).toBe(true);
          checked += set.length;
        }
      }
      expect(checked).toBeGreaterThan(500);
      expect(await allowed({ command: 'reboot', args: [] })).toBe(true);
    }, 120_000);

    it('refuses every other verb, option, package file and reboot argument', async () => {
      const apt = DRIVERS.apt.install([{ name: 'openssl', version: '3.0.13-1~deb12u1' }]);
      const refused: CommandSpec[] = [
        { command: 'apt-get', args: ['update'] },
        { command: 'apt-get', args: ['remove', '-y', 'openssl'] },
        { command: 'apt-get', args: [...apt.args.slice(0, -1), './evil.deb'] },
        { command: 'apt-get', args: [...apt.args, '-o', 'APT::Update::Pre-Invoke::=id'] },
        {
          command: 'apt-get',
          args: [...apt.args.slice(0, -2), '-o', 'Dpkg::Pre-Invoke::=id', '--', 'openssl=1.0-1'],
        },
        { command: 'apt-get', args: apt.args.slice(0, -1) },
        { command: 'dnf', args: ['install', '-y', '--', '/tmp/evil.rpm'] },
        { command: 'dnf', args: ['install', '-y', '--setopt=tsflags=noscripts', '--', 'openssl-1.0-1.el9'] },
        { command: 'yum', args: ['remove', '-y', '--', 'openssl'] },
        {
          command: 'zypper',
          args: ['--non-interactive', 'install', '--no-recommends', 'http://x.example/evil.rpm'],
        },
        {
          command: 'zypper',
          args: ['--non-interactive', 'install', '--no-recommends', '--no-gpg-checks', 'a=1.0-1'],
        },
        {
          command: 'apk',
          args: ['add', '--no-interactive', '--wait', '600', '--allow-untrusted', '/tmp/evil.apk'],
        },
        { command: 'apk', args: ['del', 'openssl'] },
        { command: 'reboot', args: ['-f'] },
        { command: 'systemctl', args: ['reboot'] },
        { command: 'dpkg', args: ['-i', '/tmp/evil.deb'] },
      ];
      for (const spec of refused)
        expect(await allowed(spec), `${spec.command} ${spec.args.join(' ')}`).toBe(false);
    });
  },
);

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('patchbot hosts check', () => {
  it('reports every right and read present on a host with the documented sudoers (apt and dnf), changing nothing', async () => {
    const before = await fleet.host('chk-apt').installed();
    for (const [name, tool] of [
      ['chk-apt', 'apt'],
      ['chk-dnf', 'dnf'],
    ] as const) {
      const r = await cli('hosts', 'check', name);
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`${name} (patchbot-test@`);
      expect(r.stdout).toMatch(new RegExp(`: ${tool}, through sudo`));
      expect(r.stdout).not.toContain('MISSING');
      expect(r.stdout).toMatch(/ok +sudo: (apt-get|dnf) install \(exact versions\): allowed/);
      expect(r.stdout).toMatch(/ok +sudo: reboot: allowed/);
      expect(r.stdout).toMatch(/gives patchbot everything a deployment needs/);
    }
    const json = JSON.parse((await cli('hosts', 'check', 'chk-apt', '--format', 'json')).stdout) as {
      ok: boolean;
      tool: string;
      toolSource: string;
      items: { name: string; ok: boolean }[];
    };
    expect(json).toMatchObject({ ok: true, tool: 'apt', toolSource: 'detected' });
    expect(json.items.map((i) => i.name)).toContain('sudo keeps DEBIAN_FRONTEND');
    // read only: nothing installed, nothing run through a package manager that changes state
    expect(await fleet.host('chk-apt').installed()).toEqual(before);
    expect(await fleet.host('chk-apt').installsBegun()).toEqual([]);
    expect(await fleet.host('chk-apt').reboots()).toBe(0);
  }, 60_000);

  it('names what is missing on a host whose user has no sudo rights, and exits 1', async () => {
    const r = await cli('hosts', 'check', 'chk-nosudo');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /MISSING sudo -n -l: sudo refused to list patchbot-nosudo's rights without a password/,
    );
    expect(r.stdout).toMatch(
      /MISSING sudo: apt-get install \(exact versions\): not allowed: apt-get install -y .* add its rule from docs\/patchbot\.sudoers/,
    );
    expect(r.stdout).toMatch(/MISSING sudo: reboot: not allowed/);
    expect(r.stdout).toMatch(/chk-nosudo: \d+ item\(s\) missing/);
  }, 60_000);
});
