import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { CliIo } from '../../../src/cli/io.js';

const EXAMPLE = fileURLToPath(new URL('../../../patchbot.example.yaml', import.meta.url));

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function run(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const out = capture();
  const err = capture();
  const io: CliIo = {
    stdout: out.stream,
    stderr: err.stream,
    stdin: new PassThrough(),
    env,
    cwd,
    isTty: false,
  };
  const code = await main(args, io);
  return { code, stdout: out.text(), stderr: err.text() };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'patchbot-check-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('patchbot config check', () => {
  it('accepts the example file and summarises it', async () => {
    const r = await run(['config', 'check', EXAMPLE], {}, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/teams {9}3: platform/);
    expect(r.stdout).toContain('rings         canary');
    expect(r.stdout).toMatch(
      /window {8}berlin-nightly: Tue 02:00-04:00, Thu 02:00-04:00 Europe\/Berlin; next opens (Tue|Thu) \d{4}-\d\d-\d\d 02:00 Europe\/Berlin/,
    );
    expect(r.stdout.trimEnd().endsWith('OK')).toBe(true);
  });

  it('uses the built-in defaults when ./patchbot.yaml is missing', async () => {
    const r = await run(['config', 'check'], {}, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no file at ./patchbot.yaml; using the built-in defaults');
  });

  it('fails for a missing file named on the command line or in PATCHBOT_CONFIG', async () => {
    expect((await run(['config', 'check', 'nope.yaml'], {}, dir)).stdout).toContain(
      'nope.yaml file does not exist',
    );
    const r = await run(['config', 'check'], { PATCHBOT_CONFIG: 'other.yaml' }, dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('other.yaml file does not exist');
  });

  it('prints every error with file:line:col and exits 1', async () => {
    await writeFile(
      join(dir, 'patchbot.yaml'),
      'teams:\n  - name: platform\n    chanels: []\nrings:\n  - name: canary\n    soak: 2 hours\n',
    );
    const r = await run(['config', 'check'], { PORT: 'eighty', SLACK_BOT_TOKEN: 'xoxb-123-secret' }, dir);
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toEqual([
      'error   patchbot.yaml:3:5 teams[0].chanels: unknown key; did you mean "slack.channels" or "msteams.channels"?',
      'error   patchbot.yaml:6:11 rings[0].soak: expected a duration such as "30m", "2h", "1d" or "1h30m", got "2 hours"',
      'error   environment PORT: expected a port number 1-65535, got "eighty"',
      'error   environment SLACK_SIGNING_SECRET: expected SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode) when SLACK_BOT_TOKEN is set',
    ]);
    expect(r.stdout).toContain('INVALID: 4 error(s)');
    expect(r.stdout).not.toContain('secret');
  });

  it('--format json gives the same findings as data', async () => {
    await writeFile(join(dir, 'p.yaml'), 'hosts:\n  - name: web-1\n    team: nobody\n');
    const r = await run(
      ['config', 'check', 'p.yaml', '--format', 'json'],
      { DATABASE_URL: 'postgresql://u:pw@db/x' },
      dir,
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      policy: { errors: { path: string; line: number; col: number; message: string }[]; warnings: unknown[] };
      env: { errors: unknown[]; summary: { database: string } };
    };
    expect(report.ok).toBe(false);
    expect(report.policy.errors).toHaveLength(1);
    const [error] = report.policy.errors;
    expect(error).toMatchObject({ path: 'hosts[0].team', line: 3, col: 11 });
    expect(error?.message).toContain('unknown team "nobody"');
    expect(report.env.errors).toEqual([]);
    expect(report.env.summary.database).toBe('PostgreSQL postgresql://u:***@db/x');
  });

  it('is listed in --help', async () => {
    const r = await run(['config', '--help'], {}, dir);
    expect(r.stdout).toContain('check [options] [file]');
  });
});
