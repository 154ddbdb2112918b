import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchbotError } from '../../../src/core/errors.js';
import { SshExecutor, type SshTargetInput } from '../../../src/executors/ssh/ssh-executor.js';
import { fetchHostKeyFingerprint } from '../../../src/executors/ssh/keyscan.js';
import { HOSTILE_ARGS } from '../../support/hostile-args.js';
import { fingerprintOfKeyFile, startSshd, startSshdHosts, type TestSshHost } from '../../support/sshd.js';

const pgrep = (pattern: string): string =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim();

async function rejection(p: Promise<unknown>): Promise<PatchbotError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PatchbotError);
    return err as PatchbotError;
  }
  throw new Error('expected a rejection');
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
const waitForFile = (file: string): Promise<void> => waitFor(() => existsSync(file));

let host: TestSshHost;
const targetOf = (h: TestSshHost, extra: Partial<SshTargetInput> = {}): SshTargetInput => ({
  host: `test-${h.address}`,
  address: h.address,
  port: h.port,
  username: h.user,
  privateKey: h.privateKey,
  hostKeyFingerprint: h.hostKeyFingerprint,
  ...extra,
});

beforeAll(async () => {
  host = await startSshd({ address: '127.0.0.21', env: { PATCHBOT_HOST_STATE: 'alpha' } });
});
afterAll(async () => {
  await host.stop();
});

describe('SshExecutor against a real sshd', () => {
  it('runs a command with hostile arguments that arrive intact', async () => {
    const ex = new SshExecutor(targetOf(host));
    try {
      const marker = join(host.dir, 'pwned');
      const args = [...HOSTILE_ARGS, `$(touch ${marker})`, `'; touch ${marker}; '`];
      const r = await ex.exec({ command: 'printf', args: ['%s\\0', ...args] });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
      expect(existsSync(marker)).toBe(false);
      // The same connection serves several commands, also at once.
      const many = await Promise.all(
        [1, 2, 3, 4, 5].map((i) =>
          ex.exec({
            command: 'sh',
            args: ['-c', 'echo "$1 $(id -un) $PATCHBOT_HOST_STATE"', 'sh', String(i)],
          }),
        ),
      );
      expect(many.map((m) => m.stdout)).toEqual([1, 2, 3, 4, 5].map((i) => `${i} ${host.user} alpha\n`));
    } finally {
      await ex.close();
    }
  });

  it('reports exit codes, stderr and stdin', async () => {
    const ex = new SshExecutor(targetOf(host));
    try {
      const r = await ex.exec({
        command: 'sh',
        args: ['-c', 'cat; echo oops >&2; exit 3'],
        stdin: "in'put\n",
      });
      expect(r).toMatchObject({
        exitCode: 3,
        stdout: "in'put\n",
        stderr: 'oops\n',
        timedOut: false,
        truncated: false,
      });
      const missing = await ex.exec({ command: 'patchbot-no-such-program', args: [] });
      expect(missing.exitCode).toBe(127);
    } finally {
      await ex.close();
    }
  });

  it('stops waiting on timeout without signalling the remote command', async () => {
    const ex = new SshExecutor(targetOf(host));
    const done = join(tmpdir(), `patchbot-finished-${randomUUID()}`);
    try {
      const started = Date.now();
      // a command that traps every catchable signal and records it, then finishes by itself
      const r = await ex.exec({
        command: 'sh',
        args: [
          '-c',
          'for s in HUP INT TERM PIPE; do trap "echo $s >> $1.signals" $s; done; sleep 2 & wait $!; touch "$1"',
          'sh',
          done,
        ],
        timeoutMs: 500,
      });
      expect(r.timedOut).toBe(true);
      expect(Date.now() - started).toBeLessThan(2000);
      // The connection is still usable after a timeout.
      expect((await ex.exec({ command: 'true', args: [] })).exitCode).toBe(0);
      await waitForFile(done);
      expect(existsSync(`${done}.signals`)).toBe(false);
    } finally {
      await ex.close();
    }
  });

  it('stops waiting when the caller aborts, leaving the command alone', async () => {
    const ex = new SshExecutor(targetOf(host));
    const done = join(tmpdir(), `patchbot-finished-${randomUUID()}`);
    try {
      const abort = new AbortController();
      const pending = ex.exec({
        command: 'sh',
        args: ['-c', 'sleep 1; touch "$1"', 'sh', done],
        signal: abort.signal,
      });
      setTimeout(() => abort.abort(), 200);
      const r = await pending;
      expect(r.timedOut).toBe(true);
      expect(existsSync(done)).toBe(false);
      await waitForFile(done);
    } finally {
      await ex.close();
    }
  });

  it('bounds captured output', async () => {
    const ex = new SshExecutor(targetOf(host));
    try {
      const r = await ex.exec({
        command: 'head',
        args: ['-c', '3000000', '/dev/zero'],
        maxOutputBytes: 4096,
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toHaveLength(4096);
      expect(r.truncated).toBe(true);
    } finally {
      await ex.close();
    }
  });

  it('stops reading an endless remote writer at the limit when asked (the writer ends on its closed pipe)', async () => {
    const ex = new SshExecutor(targetOf(host));
    try {
      const started = Date.now();
      const r = await ex.exec({
        command: 'yes',
        args: ['flood5741'],
        maxOutputBytes: 10_000,
        stopOnOverflow: true,
      });
      expect(r.truncated).toBe(true);
      expect(r.stdout).toHaveLength(10_000);
      expect(Date.now() - started).toBeLessThan(4000);
      await waitFor(() => pgrep('yes flood5741') === '');
    } finally {
      await ex.close();
    }
  });

  it('refuses a host with no pinned key before any command runs', async () => {
    const marker = join(tmpdir(), `patchbot-marker-${randomUUID()}`);
    const ex = new SshExecutor(targetOf(host, { hostKeyFingerprint: undefined }));
    const err = await rejection(ex.exec({ command: 'touch', args: [marker] }));
    expect(err.code).toBe('HOST_KEY_REJECTED');
    expect(err.userMessage).toContain(host.hostKeyFingerprint);
    expect(err.userMessage).toContain('no host key is pinned');
    expect(err.transient).toBe(false);
    expect(existsSync(marker)).toBe(false);
    await ex.close();
  });

  it('refuses a changed host key before any command runs, naming both fingerprints', async () => {
    const h = await startSshd({ address: '127.0.0.22' });
    try {
      const pinned = h.hostKeyFingerprint;
      await h.replaceHostKey();
      expect(h.hostKeyFingerprint).not.toBe(pinned);
      const marker = join(tmpdir(), `patchbot-marker-${randomUUID()}`);
      const ex = new SshExecutor(targetOf(h, { hostKeyFingerprint: pinned }));
      const err = await rejection(ex.exec({ command: 'touch', args: [marker] }));
      expect(err.code).toBe('HOST_KEY_REJECTED');
      expect(err.userMessage).toContain('CHANGED');
      expect(err.userMessage).toContain(pinned);
      expect(err.userMessage).toContain(h.hostKeyFingerprint);
      expect(err.userMessage).toContain(`127.0.0.22:${h.port}`);
      expect(err.details).toMatchObject({
        expected: pinned,
        presented: h.hostKeyFingerprint,
        keyType: 'ssh-ed25519',
      });
      expect(existsSync(marker)).toBe(false);
      await ex.close();
      // With the new key pinned the same command runs: the marker proves the check above was the only barrier.
      const ok = new SshExecutor(targetOf(h));
      expect((await ok.exec({ command: 'touch', args: [marker] })).exitCode).toBe(0);
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
      await ok.close();
    } finally {
      await h.stop();
    }
  });

  it('gives HOST_UNREACHABLE quickly for a closed port', async () => {
    const srv = createServer();
    const port = await new Promise<number>((resolve) =>
      srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port)),
    );
    await new Promise((resolve) => srv.close(resolve));
    const ex = new SshExecutor({ ...targetOf(host), address: '127.0.0.1', port });
    const started = Date.now();
    const err = await rejection(ex.exec({ command: 'true', args: [] }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.code).toBe('HOST_UNREACHABLE');
    expect(err.transient).toBe(true);
    expect(err.userMessage).toContain('connection refused');
    await ex.close();
  });

  it('gives HOST_UNREACHABLE after the connect timeout when nothing answers', async () => {
    // A TCP server that accepts and never speaks SSH.
    const silent: Server = createServer(() => undefined);
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      const ex = new SshExecutor({ ...targetOf(host), address: '127.0.0.1', port, connectTimeoutMs: 700 });
      const started = Date.now();
      const err = await rejection(ex.exec({ command: 'true', args: [] }));
      expect(err.code).toBe('HOST_UNREACHABLE');
      expect(Date.now() - started).toBeLessThan(3000);
      await ex.close();
    } finally {
      silent.close();
    }
  });

  it('gives HOST_AUTH_FAILED for a key the host does not accept', async () => {
    const other = await startSshd({ address: '127.0.0.23' });
    try {
      const ex = new SshExecutor(targetOf(host, { privateKey: other.privateKey }));
      const err = await rejection(ex.exec({ command: 'true', args: [] }));
      expect(err.code).toBe('HOST_AUTH_FAILED');
      expect(err.transient).toBe(false);
      await ex.close();
    } finally {
      await other.stop();
    }
  });

  it('authenticates with a key file', async () => {
    const ex = new SshExecutor(
      targetOf(host, { privateKey: undefined, privateKeyPath: host.privateKeyPath }),
    );
    expect((await ex.exec({ command: 'id', args: ['-un'] })).stdout).toBe(`${host.user}\n`);
    await ex.close();
  });

  it('authenticates through an SSH agent socket', async () => {
    const sock = join(tmpdir(), `patchbot-agent-${randomUUID()}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(sock); i += 1) await new Promise((res) => setTimeout(res, 50));
      const add = spawnSync('ssh-add', [host.privateKeyPath], {
        env: { SSH_AUTH_SOCK: sock },
        encoding: 'utf8',
      });
      expect(add.status, add.stderr).toBe(0);
      const ex = new SshExecutor(targetOf(host, { privateKey: undefined, agent: sock }));
      expect((await ex.exec({ command: 'id', args: ['-un'] })).stdout).toBe(`${host.user}\n`);
      await ex.close();
    } finally {
      agent.kill();
      rmSync(sock, { force: true });
    }
  });

  it('refuses invalid settings with a clear message', () => {
    expect(() => new SshExecutor(targetOf(host, { hostKeyFingerprint: 'MD5:aa:bb' }))).toThrow(
      /hostKeyFingerprint/,
    );
    expect(() => new SshExecutor(targetOf(host, { privateKey: undefined }))).toThrow(/private key/);
  });
});

describe('fetchHostKeyFingerprint', () => {
  it('returns the fingerprint ssh-keygen -lf prints for the host key, without logging in', async () => {
    const info = await fetchHostKeyFingerprint(host.address, host.port);
    expect(info).toEqual({
      fingerprint: fingerprintOfKeyFile(join(host.dir, 'host_ed25519.pub')),
      keyType: 'ssh-ed25519',
    });
  });

  it('gives HOST_UNREACHABLE for a closed port', async () => {
    const err = await rejection(fetchHostKeyFingerprint('127.0.0.1', 1));
    expect(err.code).toBe('HOST_UNREACHABLE');
  });
});

describe('several hosts on one machine', () => {
  it('each host has its own key, state and stand-in commands', async () => {
    const hosts = await startSshdHosts(3, {
      first: 31,
      perHost: (i) => ({
        env: { PATCHBOT_HOST_STATE: `state${i}` },
        scripts: { 'dpkg-query': `#!/bin/sh\necho "stand-in dpkg-query on host ${i}: $*"\n` },
      }),
    });
    try {
      expect(new Set(hosts.map((h) => h.hostKeyFingerprint)).size).toBe(3);
      const out = await Promise.all(
        hosts.map(async (h) => {
          const ex = new SshExecutor(targetOf(h));
          try {
            const a = await ex.exec({ command: 'dpkg-query', args: ['-W'] });
            const b = await ex.exec({ command: 'printenv', args: ['PATCHBOT_HOST_STATE'] });
            return `${a.stdout}${b.stdout}`;
          } finally {
            await ex.close();
          }
        }),
      );
      expect(out).toEqual([0, 1, 2].map((i) => `stand-in dpkg-query on host ${i}: -W\nstate${i}\n`));
      // A host's pin does not open another host.
      const cross = new SshExecutor(targetOf(hosts[1], { hostKeyFingerprint: hosts[0].hostKeyFingerprint }));
      expect((await rejection(cross.exec({ command: 'true', args: [] }))).code).toBe('HOST_KEY_REJECTED');
      await cross.close();
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
    }
  });
});
