/**
 * A private OpenSSH server for integration tests (Debian package openssh-server), one per loopback
 * address (127.0.0.11, .12, ...), each with its own generated host key, a generated client key,
 * public-key login only for one test user, and per-host state: environment variables through
 * `SetEnv` and a bin directory at the front of PATH for stand-in commands (dpkg-query, apt-get...).
 *
 * The test user is not root. Its only sudo rights are docs/patchbot.sudoers, the file the
 * documentation tells operators to install, written to /etc/sudoers.d/patchbot-test with two test
 * adaptations (sudoersForTests): the user name, and the package managers' paths pointing at the
 * stand-ins (`<hosts dir>/<any host>/bin/apt-get` instead of `/usr/bin/apt-get`; sudo then looks
 * commands up in the session's PATH, `!secure_path`, so each host's stand-ins are the ones found).
 * The rules themselves (verbs, options, argument patterns) are the documented ones, unchanged.
 *
 * Needs root to start (sshd privilege separation, useradd, /etc/sudoers.d) and the Debian packages
 * openssh-server and sudo (.ci/install-system-deps).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SSHD_PATH = '/usr/sbin/sshd';
export const SUDO_PATH = '/usr/bin/sudo';
export const TEST_USER = 'patchbot-test';
/** Root-owned parent of every test host's directory (the test user cannot add a host of its own). */
export const HOSTS_DIR = join(tmpdir(), 'patchbot-sshd');
export const DOCUMENTED_SUDOERS = fileURLToPath(new URL('../../docs/patchbot.sudoers', import.meta.url));
const TEST_SUDOERS = '/etc/sudoers.d/patchbot-test';

export interface SshdOptions {
  /** Loopback address to listen on (default 127.0.0.11). */
  address?: string;
  /** Variables set for every session on this host (sshd `SetEnv`). */
  env?: Record<string, string>;
  /** Stand-in programs: file name -> script content, put first in PATH. */
  scripts?: Record<string, string>;
  user?: string;
  /** Host keys of these types besides the ed25519 one (a host with several keys). */
  extraHostKeys?: ('ecdsa' | 'rsa')[];
}

export interface TestSshHost {
  address: string;
  port: number;
  user: string;
  /** Client private key (OpenSSH format) and its file. */
  privateKey: string;
  privateKeyPath: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it for the host key. */
  hostKeyFingerprint: string;
  /** Every host key: key type ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa") -> fingerprint. */
  hostKeys: Record<string, string>;
  /** Directory of this host's files; `${dir}/bin` is first in PATH. */
  dir: string;
  binDir: string;
  /** Replaces the host key with a new one and restarts sshd on the same address and port. */
  replaceHostKey(): Promise<void>;
  /**
   * What a reboot does to the connections: sshd and every session it serves stop (the commands
   * sessions started keep running, as they would not after a real reboot). `start` brings sshd
   * back on the same address, port and host key.
   */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function sshdAvailable(): boolean {
  return existsSync(SSHD_PATH);
}

function requireSshd(): void {
  if (!sshdAvailable()) {
    throw new Error(
      `${SSHD_PATH} not found: install the Debian package openssh-server (apt-get install openssh-server)`,
    );
  }
  if (!existsSync(SUDO_PATH)) {
    throw new Error(`${SUDO_PATH} not found: install the Debian package sudo (apt-get install sudo)`);
  }
  if (process.getuid?.() !== 0) throw new Error('the test sshd needs root (privilege separation, useradd)');
}

/**
 * docs/patchbot.sudoers as installed for the tests: the user is the test user, and each command
 * path (/usr/bin/X, /usr/sbin/X, /sbin/X) is the stand-in X of any test host. sudo finds commands
 * in the session's PATH (each host's stand-ins first) instead of its secure_path.
 */
export function sudoersForTests(documented: string, user = TEST_USER, hostsDir = HOSTS_DIR): string {
  const lines = documented.split('\n').map((line) => {
    if (line.trimStart().startsWith('#')) return line;
    return line
      .replace(/^(Defaults:)patchbot\b/, `$1${user}`)
      .replace(/^patchbot(\s)/, `${user}$1`)
      .replace(/(^\s*|[=,]\s*)\/(?:usr\/)?s?bin\/([a-z0-9-]+)/g, `$1${hostsDir}/*/bin/$2`);
  });
  return [
    ...lines,
    '# test only: look commands up in the session PATH, where each test host has its stand-ins first',
    `Defaults:${user} !secure_path`,
    '',
  ].join('\n');
}

let sudoersInstalled = false;

/** Writes the test sudoers file (validated by visudo, then renamed into place). */
export async function installTestSudoers(): Promise<void> {
  if (sudoersInstalled) return;
  const text = sudoersForTests(readFileSync(DOCUMENTED_SUDOERS, 'utf8'));
  // sudo ignores files in sudoers.d whose name has a dot: the temporary file is never read.
  const tmp = `${TEST_SUDOERS}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o440 });
  const check = run('visudo', ['-c', '-q', '-f', tmp]);
  if (check.status !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`visudo refused the test sudoers file: ${check.stdout}${check.stderr}`);
  }
  await rename(tmp, TEST_SUDOERS);
  sudoersInstalled = true;
}

/** PIDs of the processes below `pid` (children, grandchildren...) with their command names. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const parents = new Map<number, { ppid: number; comm: string }>();
  for (const entry of spawnSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' }).stdout.split(
    '\n',
  )) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(entry);
    if (m) parents.set(Number(m[1]), { ppid: Number(m[2]), comm: (m[3] ?? '').trim() });
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number): void => {
    for (const [child, info] of parents) {
      if (info.ppid === p) {
        out.push({ pid: child, comm: info.comm });
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** Creates the test user when missing, unlocked for key login (`usermod -p '*'`). */
export function ensureTestUser(user = TEST_USER): void {
  if (run('id', ['-u', user]).status !== 0) {
    const r = run('useradd', ['--create-home', '--shell', '/bin/sh', user]);
    // Another test file may have created it at the same moment.
    if (r.status !== 0 && run('id', ['-u', user]).status !== 0)
      throw new Error(`useradd ${user} failed: ${r.stderr}`);
  }
  mustRun('usermod', ['-p', '*', user]);
}

async function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(
  address: string,
  port: number,
  child: ChildProcess,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, address);
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${address}:${port}: ${stderr()}`);
}

export function fingerprintOfKeyFile(pubPath: string): string {
  const out = mustRun('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubPath]);
  const m = /\b(SHA256:[A-Za-z0-9+/]{43})\b/.exec(out);
  if (m === null) throw new Error(`unexpected ssh-keygen -l output: ${out}`);
  return m[1];
}

function keygen(path: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): void {
  mustRun('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-C',
    '',
    '-f',
    path,
  ]);
}

const KEY_TYPE_NAMES = { ed25519: 'ssh-ed25519', ecdsa: 'ecdsa-sha2-nistp256', rsa: 'ssh-rsa' } as const;

function configText(o: {
  address: string;
  port: number;
  dir: string;
  user: string;
  env: Record<string, string>;
  extraHostKeys: readonly string[];
}): string {
  const path = `${join(o.dir, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  const setEnv = [`PATH=${path}`, ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`)]
    .map((kv) => {
      if (/["\s\\]/.test(kv)) throw new Error(`SetEnv value must have no spaces or quotes: ${kv}`);
      return kv;
    })
    .join(' ');
  return [
    `ListenAddress ${o.address}`,
    `Port ${o.port}`,
    `HostKey ${join(o.dir, 'host_ed25519')}`,
    ...o.extraHostKeys.map((t) => `HostKey ${join(o.dir, `host_${t}`)}`),
    `PidFile ${join(o.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(o.dir, 'authorized_keys')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin no',
    `AllowUsers ${o.user}`,
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'LogLevel ERROR',
    `SetEnv ${setEnv}`,
    '',
  ].join('\n');
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshHost> {
  requireSshd();
  const user = options.user ?? TEST_USER;
  ensureTestUser(user);
  const address = options.address ?? '127.0.0.11';
  await mkdir('/run/sshd', { recursive: true });
  await installTestSudoers();
  await mkdir(HOSTS_DIR, { recursive: true, mode: 0o755 });
  await chmod(HOSTS_DIR, 0o755);

  const dir = await mkdtemp(join(HOSTS_DIR, 'host-'));
  await chmod(dir, 0o755);
  const binDir = join(dir, 'bin');
  await mkdir(binDir, { mode: 0o755 });
  for (const [name, content] of Object.entries(options.scripts ?? {})) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad script name ${name}`);
    await writeFile(join(binDir, name), content, { mode: 0o755 });
  }
  keygen(join(dir, 'host_ed25519'));
  const extraHostKeys = options.extraHostKeys ?? [];
  for (const t of extraHostKeys) keygen(join(dir, `host_${t}`), t);
  keygen(join(dir, 'client'));
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client.pub')), { mode: 0o644 });
  const privateKeyPath = join(dir, 'client');
  const privateKey = await readFile(privateKeyPath, 'utf8');
  const configPath = join(dir, 'sshd_config');
  let port = 0;
  const configure = async (): Promise<void> => {
    port = await freePort(address);
    await writeFile(
      configPath,
      configText({ address, port, dir, user, env: options.env ?? {}, extraHostKeys }),
    );
    mustRun(SSHD_PATH, ['-t', '-f', configPath]);
  };

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    let err = '';
    const c = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child = c;
    await waitForPort(address, port, c, () => err);
  };
  const stopChild = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  /** Stops sshd and the sshd processes serving its sessions (the connections drop). */
  const stopWithSessions = async (): Promise<void> => {
    const c = child;
    const sessions = c?.pid === undefined ? [] : descendants(c.pid).filter((p) => p.comm.startsWith('sshd'));
    await stopChild();
    for (const s of sessions) {
      try {
        process.kill(s.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  // The free port may be taken by someone else before sshd binds it: try again with another.
  for (let attempt = 1; ; attempt += 1) {
    await configure();
    try {
      await start();
      break;
    } catch (err) {
      await stopChild();
      if (attempt >= 3 || !/Address already in use|Cannot bind/i.test(String(err))) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const host: TestSshHost = {
    address,
    port,
    user,
    privateKey,
    privateKeyPath,
    hostKeyFingerprint: fingerprintOfKeyFile(join(dir, 'host_ed25519.pub')),
    hostKeys: Object.fromEntries(
      (['ed25519', ...extraHostKeys] as const).map((t) => [
        KEY_TYPE_NAMES[t],
        fingerprintOfKeyFile(join(dir, `host_${t}.pub`)),
      ]),
    ),
    dir,
    binDir,
    async replaceHostKey() {
      await stopChild();
      await rm(join(dir, 'host_ed25519'), { force: true });
      await rm(join(dir, 'host_ed25519.pub'), { force: true });
      keygen(join(dir, 'host_ed25519'));
      host.hostKeyFingerprint = fingerprintOfKeyFile(join(dir, 'host_ed25519.pub'));
      host.hostKeys['ssh-ed25519'] = host.hostKeyFingerprint;
      await start();
    },
    down: stopWithSessions,
    async up() {
      if (child === undefined) await start();
    },
    async stop() {
      await stopWithSessions();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return host;
}

/** Starts `count` hosts on 127.0.0.(first), 127.0.0.(first+1), ... each with its own host key. */
export async function startSshdHosts(
  count: number,
  options: Omit<SshdOptions, 'address'> & { first?: number; perHost?: (index: number) => SshdOptions } = {},
): Promise<TestSshHost[]> {
  const first = options.first ?? 11;
  const hosts: TestSshHost[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const extra = options.perHost?.(i) ?? {};
      hosts.push(
        await startSshd({
          ...options,
          ...extra,
          env: { ...options.env, ...extra.env },
          scripts: { ...options.scripts, ...extra.scripts },
          address: `127.0.0.${first + i}`,
        }),
      );
    }
  } catch (err) {
    await Promise.all(hosts.map((h) => h.stop()));
    throw err;
  }
  return hosts;
}
