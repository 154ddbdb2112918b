/**
 * Jobs (src/executors/jobs.ts) against a real sshd and locally: the command's result is recorded
 * on the host, a timeout or a dropped connection never interrupts it, and its record tells later
 * whether it is still running, finished, lost or never started.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../../src/executors/local/local-executor.js';
import { forgetJob, JOB_DIR, jobStatus, runJob } from '../../../src/executors/jobs.js';
import { SshExecutor } from '../../../src/executors/ssh/ssh-executor.js';
import { startSshd, type TestSshHost } from '../../support/sshd.js';

let host: TestSshHost;
let ex: SshExecutor;
const homeOf = (user: string): string => (user === 'root' ? '/root' : `/home/${user}`);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A command that records every catchable signal it gets, sleeps, then leaves a file. */
const sleeper = (seconds: number, done: string) => ({
  command: 'sh',
  args: [
    '-c',
    'for s in HUP INT TERM PIPE; do trap "echo $s >> $2.signals" $s; done; echo started; sleep "$1" & wait $!; echo finished; touch "$2"; exit 7',
    'sh',
    String(seconds),
    done,
  ],
});

beforeAll(async () => {
  host = await startSshd({ address: '127.0.0.31' });
  ex = new SshExecutor({
    host: 'jobs',
    address: host.address,
    port: host.port,
    username: host.user,
    privateKey: host.privateKey,
    hostKeyFingerprint: host.hostKeyFingerprint,
  });
});
afterAll(async () => {
  await ex?.close();
  await host?.stop();
});

describe('jobs over SSH', () => {
  it('returns the exit status and output, keeps the record until it is forgotten, and runs a name once', async () => {
    const job = `t-${randomUUID()}`;
    const r = await runJob(ex, { command: 'sh', args: ['-c', 'echo out; echo err >&2; exit 3'] }, job);
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(await jobStatus(ex, job)).toEqual({
      state: 'finished',
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    const again = await runJob(ex, { command: 'true', args: [] }, job);
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toMatch(/already ran on this host/);
    await forgetJob(ex, job);
    expect(await jobStatus(ex, job)).toEqual({ state: 'absent' });
  });

  it('a job outlives its timeout, is never signalled, and its record has the result later', async () => {
    const job = `t-${randomUUID()}`;
    const done = join(tmpdir(), `patchbot-job-${randomUUID()}`);
    const r = await runJob(ex, sleeper(2, done), job, { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(await jobStatus(ex, job)).toMatchObject({ state: 'running', stdout: 'started\n' });
    await waitFor(() => existsSync(done));
    await waitFor(async () => (await jobStatus(ex, job)).state === 'finished');
    expect(await jobStatus(ex, job)).toMatchObject({
      state: 'finished',
      exitCode: 7,
      stdout: 'started\nfinished\n',
    });
    expect(existsSync(`${done}.signals`)).toBe(false);
    await forgetJob(ex, job);
  });

  it('a job survives its connection going away (sshd and its sessions stopped)', async () => {
    const job = `t-${randomUUID()}`;
    const done = join(tmpdir(), `patchbot-job-${randomUUID()}`);
    const pending = runJob(ex, sleeper(2, done), job);
    await waitFor(async () => (await jobStatus(ex, job)).state === 'running');
    await host.down();
    await expect(pending).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
    await host.up();
    await waitFor(() => existsSync(done));
    await waitFor(
      async () => (await jobStatus(ex, job).catch(() => ({ state: 'error' }))).state === 'finished',
    );
    expect(existsSync(`${done}.signals`)).toBe(false);
    await forgetJob(ex, job);
  });

  it('a job whose process is gone without an exit status is lost; an unknown name is absent', async () => {
    const job = `t-${randomUUID()}`;
    const done = join(tmpdir(), `patchbot-job-${randomUUID()}`);
    await runJob(ex, sleeper(30, done), job, { timeoutMs: 300 });
    const pidFile = join(homeOf(host.user), JOB_DIR, `${job}.pid`);
    const [pid] = (await readFile(pidFile, 'utf8')).trim().split(' ');
    // what a reboot does to it (this test started that process)
    process.kill(Number(pid), 'SIGKILL');
    await waitFor(async () => (await jobStatus(ex, job)).state === 'lost');
    expect(await jobStatus(ex, `t-${randomUUID()}`)).toEqual({ state: 'absent' });
    await forgetJob(ex, job);
  });

  it('runs the command with the login umask (its records stay private)', async () => {
    const job = `t-${randomUUID()}`;
    const file = join(tmpdir(), `patchbot-umask-${randomUUID()}`);
    const r = await runJob(ex, { command: 'touch', args: [file] }, job);
    expect(r.exitCode).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((await stat(join(homeOf(host.user), JOB_DIR))).mode & 0o777).toBe(0o700);
    await rm(file, { force: true });
    await forgetJob(ex, job);
  });

  it('refuses a bad job name before anything runs', async () => {
    await expect(runJob(ex, { command: 'true', args: [] }, '../x')).rejects.toThrow(/invalid job name/);
  });
});

describe('jobs on this machine', () => {
  it('a local job outlives its timeout and is not killed', async () => {
    const local = new LocalExecutor();
    const job = `t-${randomUUID()}`;
    const done = join(tmpdir(), `patchbot-job-${randomUUID()}`);
    const r = await runJob(local, sleeper(1, done), job, { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    await waitFor(() => existsSync(done));
    await waitFor(async () => (await jobStatus(local, job)).state === 'finished');
    expect(existsSync(`${done}.signals`)).toBe(false);
    await forgetJob(local, job);
    expect(existsSync(join(homedir(), JOB_DIR, `${job}.rc`))).toBe(false);
  });
});
