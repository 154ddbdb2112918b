import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../../src/executors/local/local-executor.js';
import { quoteShellArg } from '../../../src/executors/ssh/quote.js';
import { HOSTILE_ARGS } from '../../support/hostile-args.js';

const dir = mkdtempSync(join(tmpdir(), 'patchbot-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pgrep = (pattern: string): string =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim();

describe('LocalExecutor', () => {
  const ex = new LocalExecutor();

  it('passes hostile arguments intact, with no shell', async () => {
    const marker = join(dir, 'pwned');
    const args = [...HOSTILE_ARGS, `$(touch ${marker})`, `; touch ${marker}`];
    const r = await ex.exec({ command: 'printf', args: ['%s\\0', ...args] });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
    expect(existsSync(marker)).toBe(false);
  });

  it('quoteShellArg output is read back intact by real shells', async () => {
    for (const shell of ['/bin/sh', '/bin/bash']) {
      const line = `printf '%s\\0' ${HOSTILE_ARGS.map(quoteShellArg).join(' ')}`;
      const r = await ex.exec({ command: shell, args: ['-c', line] });
      expect(r.exitCode, shell).toBe(0);
      expect(r.stdout.split('\0').slice(0, -1), shell).toEqual(HOSTILE_ARGS);
    }
  });

  it('reports exit codes, stderr and stdin', async () => {
    const r = await ex.exec({ command: 'sh', args: ['-c', 'cat; echo oops >&2; exit 3'], stdin: 'in put\n' });
    expect(r).toMatchObject({
      exitCode: 3,
      signal: null,
      stdout: 'in put\n',
      stderr: 'oops\n',
      timedOut: false,
    });
  });

  it('gives 127 for a missing program, like a shell', async () => {
    const r = await ex.exec({ command: 'patchbot-no-such-program', args: [] });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('command not found');
  });

  it('kills the whole process group on timeout', async () => {
    const started = Date.now();
    const r = await ex.exec({ command: 'sh', args: ['-c', 'sleep 4711 & sleep 4712; wait'], timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(3000);
    await new Promise((res) => setTimeout(res, 200));
    expect(pgrep('sleep 471[12]')).toBe('');
  });

  it('bounds captured output and says so', async () => {
    const r = await ex.exec({ command: 'head', args: ['-c', '5000000', '/dev/zero'], maxOutputBytes: 1000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toHaveLength(1000);
    expect(r.truncated).toBe(true);
  });

  it('stops an endless writer at the limit when asked', async () => {
    const started = Date.now();
    const r = await ex.exec({
      command: 'yes',
      args: ['flood'],
      maxOutputBytes: 10_000,
      stopOnOverflow: true,
    });
    expect(r.truncated).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toHaveLength(10_000);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('runs through sudo -n with the argument list kept apart', async () => {
    const fakeSudo = join(dir, 'sudo');
    writeFileSync(fakeSudo, '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
    const r = await new LocalExecutor({ sudoPath: fakeSudo }).exec({
      command: 'apt-get',
      args: ['install', 'a b'],
      sudo: true,
    });
    expect(r.stdout).toBe('-n|--|apt-get|install|a b|');
  });
});
