import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = collect();
  const err = collect();
  const io: CliIo = {
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from([stdin]),
    env: {},
    cwd: process.cwd(),
    isTty: false,
  };
  const code = await main(args, io);
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('patchbot vercmp', () => {
  it.each([
    ['deb', '2.36-9+deb12u3+b1', '2.36-9+deb12u3', '>'],
    ['deb', '1:1.0', '2.0', '>'],
    ['deb', '1.0~rc1', '1.0', '<'],
    ['deb', '1.0', '1.0-0', '='],
    ['rpm', '1.0^', '1.0', '>'],
    ['rpm', '2:1.0-1.el9', '1:9.9-1.el9', '>'],
    ['apk', '1.0_rc1', '1.0', '<'],
    ['apk', '1.0-r1', '1.0_p1', '<'],
    ['semver', '1.0.0-rc.1', '1.0.0', '<'],
    ['pep440', '1.0.post1', '1.0', '>'],
  ])('%s %s %s prints %s', async (scheme, a, b, symbol) => {
    expect(await run(['vercmp', scheme, a, b])).toEqual({ code: 0, stdout: `${symbol}\n`, stderr: '' });
  });

  it.each([
    [['vercmp', 'deb', '1.0', 'a:1'], /argument B: invalid deb version "a:1": epoch in version is empty/],
    [['vercmp', 'apk', '1.0-1', '1.0'], /argument A: invalid apk version "1.0-1"/],
    [['vercmp', 'dpkg', '1', '2'], /unknown scheme "dpkg"/],
    [['vercmp', 'deb', '1'], /expected a scheme and two versions/],
  ])('%j exits 2 naming the problem', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('--batch answers every line, invalid ones included, and never stops', async () => {
    const input = [
      'deb\t1.0\t1.0~1',
      'rpm\t1.0~rc1\t1.0',
      'nonsense',
      'semver\tx\t1.0.0',
      'apk\t1.0_rc1\t1.0\r',
      '',
      'deb\t1.0\t1.0\textra',
      'pep440\t1.0\t1.0.0',
      'dpkg\t1\t2',
      'deb\t1:2.0\t2.0',
    ].join('\n');
    const r = await run(['vercmp', '--batch'], `${input}\n`);
    expect(r).toEqual({
      code: 0,
      stdout: ['>', '<', 'invalid', 'invalid', '<', 'invalid', 'invalid', '=', 'invalid', '>', ''].join('\n'),
      stderr: '',
    });
  });

  it('--batch handles many lines', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `deb\t1.${i}\t1.${i + 1}`);
    const r = await run(['vercmp', '--batch'], lines.join('\n'));
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(lines.map(() => '<'));
  });
});
