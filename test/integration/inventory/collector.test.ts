import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../../src/executors/executor.js';
import { LocalExecutor } from '../../../src/executors/local/local-executor.js';
import { SshExecutor } from '../../../src/executors/ssh/ssh-executor.js';
import { collectInventory, collectMany } from '../../../src/inventory/collector.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { parseOsRelease } from '../../../src/inventory/parsers/os-release.js';
import { startSshd, type SshdOptions, type TestSshHost } from '../../support/sshd.js';

const work = mkdtempSync(join(tmpdir(), 'patchbot-collect-'));
chmodSync(work, 0o755);
const hosts: TestSshHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(work, { recursive: true, force: true });
});

const sshExecutor = (h: TestSshHost, name = h.address): SshExecutor =>
  new SshExecutor({
    host: name,
    address: h.address,
    port: h.port,
    username: h.user,
    privateKey: h.privateKey,
    hostKeyFingerprint: h.hostKeyFingerprint,
  });

/**
 * A host whose files live under a fake root: stand-in `cat`, `test` and `grep` read paths under
 * PATCHBOT_ROOT, so a Debian machine can play a Rocky or Alpine host with the real file formats.
 */
const ROOTED_SCRIPTS = {
  cat: '#!/bin/sh\nexec /bin/cat "$PATCHBOT_ROOT$1"\n',
  test: '#!/bin/sh\nexec /usr/bin/test "$1" "$PATCHBOT_ROOT$2"\n',
  grep: '#!/bin/sh\nexec /bin/grep "$1" "$2" "$PATCHBOT_ROOT$3"\n',
};

async function rootedHost(
  address: string,
  files: Record<string, string | null>,
  scripts: Record<string, string> = {},
  extra: SshdOptions = {},
): Promise<TestSshHost> {
  const root = mkdtempSync(join(work, 'root-'));
  chmodSync(root, 0o755);
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (content === null) {
      mkdirSync(full, { recursive: true, mode: 0o777 });
    } else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  spawnSync('chmod', ['-R', 'a+rX', root]);
  const h = await startSshd({
    address,
    env: { PATCHBOT_ROOT: root, ...extra.env },
    scripts: { ...ROOTED_SCRIPTS, ...scripts },
  });
  hosts.push(h);
  return h;
}

const DEBIAN_OS = readFileSync(
  new URL('../../fixtures/inventory/debian12-os-release', import.meta.url),
  'utf8',
);

describe('collectInventory on this machine', () => {
  const oracle = parseDpkgStatus(readFileSync('/var/lib/dpkg/status', 'utf8'));
  const key = (p: { name: string; arch: string }): string => `${p.name}:${p.arch}`;
  const sorted = <T extends { name: string; arch: string }>(xs: T[]): T[] =>
    [...xs].sort((a, b) => key(a).localeCompare(key(b)));

  it('through the local executor returns the real packages, OS, kernel and reboot state', async () => {
    const now = new Date('2025-01-02T03:04:05Z');
    const { snapshot, warnings } = await collectInventory(new LocalExecutor(), { now: () => now });
    expect(snapshot.packageManager).toBe('dpkg');
    expect(sorted(snapshot.packages)).toEqual(sorted(oracle.packages));
    expect(snapshot.os).toEqual(parseOsRelease(readFileSync('/etc/os-release', 'utf8')).os);
    expect(snapshot.kernel).toBe(release());
    expect(snapshot.rebootRequired).toBe(existsSync('/var/run/reboot-required'));
    expect(snapshot.collectedAt).toBe(now);
    expect(warnings.filter((w) => w.source === 'packages')).toEqual(
      oracle.warnings.map((w) => ({ ...w, source: 'packages' })),
    );
  });

  it('over SSH to a local sshd returns the same real packages', async () => {
    const h = await startSshd({ address: '127.0.0.41' });
    hosts.push(h);
    const ex = sshExecutor(h);
    try {
      const { snapshot } = await collectInventory(ex);
      expect(snapshot.packageManager).toBe('dpkg');
      expect(snapshot.packages.length).toBeGreaterThan(100);
      expect(sorted(snapshot.packages)).toEqual(sorted(oracle.packages));
      expect(snapshot.kernel).toBe(release());
    } finally {
      await ex.close();
    }
  });
});

describe('collectInventory on other distributions (real formats behind stand-ins)', () => {
  let rpmDb: string;

  beforeAll(() => {
    // Real rpm packages, built here and registered in a private rpm database.
    const top = join(work, 'rpmbuild');
    const spec = join(work, 'pb-demo.spec');
    writeFileSync(
      spec,
      [
        'Name: pb-demo',
        'Epoch: 2',
        'Version: 1.2.3',
        'Release: 4.el9',
        'Summary: demo',
        'License: MIT',
        'BuildArch: noarch',
        '%description',
        'demo',
        '%package libs',
        'Summary: demo libs',
        '%description libs',
        'libs',
        '%files',
        '%files libs',
        '',
      ].join('\n'),
    );
    const built = spawnSync('rpmbuild', ['-bb', '--define', `_topdir ${top}`, spec], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    rpmDb = join(work, 'rpmdb');
    mkdirSync(rpmDb);
    expect(spawnSync('rpm', ['--dbpath', rpmDb, '--initdb']).status).toBe(0);
    const rpms = ['pb-demo', 'pb-demo-libs'].map((n) =>
      join(top, 'RPMS', 'noarch', `${n}-1.2.3-4.el9.noarch.rpm`),
    );
    const inst = spawnSync('rpm', ['--dbpath', rpmDb, '-i', '--nodeps', '--justdb', '--ignoreos', ...rpms], {
      encoding: 'utf8',
    });
    expect(inst.status, inst.stderr).toBe(0);
    spawnSync('chmod', ['-R', 'a+rwX', rpmDb]);
  });

  it('Rocky Linux: real rpm -qa output, source from SOURCERPM, needs-restarting says reboot', async () => {
    const h = await rootedHost(
      '127.0.0.42',
      {
        '/etc/os-release': 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
        '/var/lib/rpm': null,
      },
      {
        rpm: `#!/bin/sh\nexec /usr/bin/rpm --dbpath ${rpmDb} "$@"\n`,
        'needs-restarting': '#!/bin/sh\n[ "$1" = -r ] || exit 2\necho "Reboot is required"\nexit 1\n',
      },
    );
    const ex = sshExecutor(h);
    try {
      const { snapshot, warnings } = await collectInventory(ex);
      expect(warnings).toEqual([]);
      expect(snapshot.os).toMatchObject({ id: 'rocky', family: 'rocky', versionId: '9.4' });
      expect(snapshot.packageManager).toBe('rpm');
      expect([...snapshot.packages].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        {
          name: 'pb-demo',
          version: '2:1.2.3-4.el9',
          arch: 'noarch',
          sourceName: 'pb-demo',
          sourceVersion: '2:1.2.3-4.el9',
        },
        {
          name: 'pb-demo-libs',
          version: '2:1.2.3-4.el9',
          arch: 'noarch',
          sourceName: 'pb-demo',
          sourceVersion: '2:1.2.3-4.el9',
        },
      ]);
      expect(snapshot.rebootRequired).toBe(true);
    } finally {
      await ex.close();
    }
  });

  it('Alpine: the installed database through grep, origin as source', async () => {
    const db = readFileSync(
      new URL('../../fixtures/inventory/apk-installed-sample', import.meta.url),
      'utf8',
    );
    const h = await rootedHost('127.0.0.43', {
      '/etc/os-release': 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
      '/lib/apk/db/installed': db,
    });
    const ex = sshExecutor(h);
    try {
      const { snapshot, warnings } = await collectInventory(ex);
      expect(snapshot.os).toMatchObject({ id: 'alpine', family: 'alpine', versionId: '3.19.1' });
      expect(snapshot.packageManager).toBe('apk');
      expect(snapshot.packages.map((p) => `${p.name}=${p.version}<${p.sourceName}`)).toEqual([
        'musl=1.2.4_git20230717-r4<musl',
        'libcrypto3=3.1.4-r5<openssl',
        'busybox-binsh=1.36.1-r15<busybox',
        'alpine-baselayout-data=3.4.3-r2<alpine-baselayout',
      ]);
      expect(snapshot.rebootRequired).toBe(false);
      expect(warnings.map((w) => w.source)).toEqual(['reboot']);
    } finally {
      await ex.close();
    }
  });

  it('Debian with reboot-required markers', async () => {
    const h = await rootedHost('127.0.0.44', {
      '/etc/os-release': DEBIAN_OS,
      '/var/lib/dpkg/status': '',
      '/var/run/reboot-required': '*** System restart required ***\n',
      '/var/run/reboot-required.pkgs': 'linux-image-6.1.0-25-amd64\nlibc6\nlibc6\n',
    });
    const ex = sshExecutor(h);
    try {
      const { snapshot } = await collectInventory(ex);
      expect(snapshot.rebootRequired).toBe(true);
      expect(snapshot.rebootPackages).toEqual(['linux-image-6.1.0-25-amd64', 'libc6']);
      expect(snapshot.packages.length).toBeGreaterThan(100);
    } finally {
      await ex.close();
    }
  });
});

describe('a lying host', () => {
  const files = { '/etc/os-release': DEBIAN_OS, '/var/lib/dpkg/status': '' };

  it('garbage lines become warnings naming the line; the valid lines are kept', async () => {
    const h = await rootedHost('127.0.0.45', files, {
      'dpkg-query': [
        '#!/bin/sh',
        "printf 'libc6\\t2.36-9+deb12u3+b1\\tamd64\\tglibc (2.36-9+deb12u3)\\tinstall ok installed\\n'",
        "printf '%s\\n' 'evil$(reboot)\\t1\\tamd64\\t\\tinstall ok installed'",
        "printf 'openssl\\t3.0.13-1~deb12u1;id\\tamd64\\t\\tinstall ok installed\\n'",
        "printf 'random garbage\\n'",
        "printf 'bash\\t5.2.15-2+b7\\tamd64\\tbash (5.2.15-2)\\tinstall ok installed\\n'",
        '',
      ].join('\n'),
    });
    const ex = sshExecutor(h, 'liar');
    try {
      const { snapshot, warnings } = await collectInventory(ex);
      expect(snapshot.packages.map((p) => p.name)).toEqual(['libc6', 'bash']);
      const pw = warnings.filter((w) => w.source === 'packages');
      expect(pw.map((w) => w.line)).toEqual([2, 3, 4]);
      expect(pw[1].reason).toContain('invalid dpkg version');
    } finally {
      await ex.close();
    }
  });

  it('a package list with nothing valid fails with a clear message instead of an empty inventory', async () => {
    const h = await rootedHost('127.0.0.46', files, {
      'dpkg-query': "#!/bin/sh\nprintf 'garbage\\nmore garbage\\n'\n",
    });
    const ex = sshExecutor(h, 'liar2');
    try {
      await expect(collectInventory(ex)).rejects.toMatchObject({
        code: 'EXEC_FAILED',
        userMessage: expect.stringMatching(/no valid dpkg package .* liar2 .*2 bad lines; line 1/) as string,
      });
    } finally {
      await ex.close();
    }
  });

  it('an endless package list is refused, not cut', async () => {
    const h = await rootedHost('127.0.0.47', files, {
      'dpkg-query': '#!/bin/sh\nexec yes "libc6\t1\tamd64\t\tinstall ok installed"\n',
    });
    const ex = sshExecutor(h, 'flood');
    try {
      await expect(collectInventory(ex, { packageListMaxBytes: 100_000 })).rejects.toMatchObject({
        code: 'EXEC_FAILED',
        userMessage: expect.stringContaining('more than 100000 bytes') as string,
      });
    } finally {
      await ex.close();
    }
  });

  it('a command that hangs times out', async () => {
    const h = await rootedHost('127.0.0.48', files, { 'dpkg-query': '#!/bin/sh\nexec sleep 6061\n' });
    const ex = sshExecutor(h, 'hang');
    try {
      await expect(collectInventory(ex, { timeoutMs: 800 })).rejects.toMatchObject({ code: 'EXEC_TIMEOUT' });
    } finally {
      await ex.close();
    }
  });
});

describe('collectMany', () => {
  it('collects live hosts, reports the dead one, and respects the concurrency limit', async () => {
    const live = await startSshd({ address: '127.0.0.49' });
    hosts.push(live);
    const targets = [
      { name: 'live-ssh', kind: 'ssh' as const },
      { name: 'dead', kind: 'dead' as const },
      { name: 'local', kind: 'local' as const },
      { name: 'live-ssh-2', kind: 'ssh' as const },
    ];
    let active = 0;
    let maxActive = 0;
    const factory = (t: (typeof targets)[number]): Executor => {
      const inner: Executor =
        t.kind === 'local'
          ? new LocalExecutor({ host: t.name })
          : t.kind === 'ssh'
            ? sshExecutor(live, t.name)
            : new SshExecutor({
                host: t.name,
                address: '127.0.0.1',
                port: 1,
                username: 'nobody',
                privateKey: live.privateKey,
                hostKeyFingerprint: live.hostKeyFingerprint,
              });
      active += 1;
      maxActive = Math.max(maxActive, active);
      return {
        host: inner.host,
        exec: (r) => inner.exec(r),
        close: async () => {
          active -= 1;
          await inner.close();
        },
      };
    };
    const progress: string[] = [];
    const outcomes = await collectMany(targets, factory, {
      concurrency: 2,
      onProgress: (p) =>
        progress.push(`${p.done}/${p.total} ${p.outcome.host.name} ${p.outcome.ok ? 'ok' : 'failed'}`),
    });
    expect(outcomes.map((o) => [o.host.name, o.ok])).toEqual([
      ['live-ssh', true],
      ['dead', false],
      ['local', true],
      ['live-ssh-2', true],
    ]);
    const dead = outcomes[1];
    if (dead.ok) throw new Error('unreachable');
    expect(dead.error.code).toBe('HOST_UNREACHABLE');
    expect(dead.error.userMessage).toContain('dead');
    expect(progress).toHaveLength(4);
    expect(progress.map((p) => p.split(' ')[0])).toEqual(['1/4', '2/4', '3/4', '4/4']);
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(active).toBe(0);
    const [a, , c] = outcomes;
    if (a.ok && c.ok) expect(a.snapshot.packages).toEqual(c.snapshot.packages);
  });
});
