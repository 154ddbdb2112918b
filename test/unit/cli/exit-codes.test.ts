/**
 * Usage errors end with exit code 2 whatever detects them (commander or a command's own option
 * checks), help with 0. Runs the real CLI in-process; none of these cases opens a database.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';

const run = (...args: string[]) => runCli(args, { PATCHBOT_DATA_DIR: '/nonexistent/patchbot' }, '/');

describe('exit codes of bad usage', () => {
  it.each([
    [['scan', '--no-such-option'], "unknown option '--no-such-option'"],
    [['scan', '--dpkg-status', 'status'], '--dpkg-status needs --os'],
    [['scan', '--dpkg-status', 'status', '--os', 'plan9:4'], '--os: unknown distribution "plan9"'],
    [['scan', '--limit', '-1'], '--limit: expected a whole number'],
    [['scan', '--format', 'yaml'], "argument 'yaml' is invalid"],
    [['feeds', 'sync', '--offline', '--from', 'kev'], 'cannot be combined with --from'],
    [['report', 'coverage', '--format', 'xml'], "argument 'xml' is invalid"],
    [['digest'], "required option '--now' not specified"],
    [['no-such-command'], "unknown command 'no-such-command'"],
  ])('%j exits 2 and says why', async (args, message) => {
    const r = await run(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('--help and --version exit 0', async () => {
    expect((await run('--help')).code).toBe(0);
    expect((await run('scan', '--help')).code).toBe(0);
    expect((await run('--version')).code).toBe(0);
  });
});
