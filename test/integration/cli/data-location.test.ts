/**
 * Where the data is: text output of a command that opens a database names it on its first line,
 * with the embedded database's absolute path (PATCHBOT_DATA_DIR resolved against the directory the
 * command runs in) or PostgreSQL's host, port and database without a password; JSON output stays
 * pure JSON. Run from another directory with the same PATCHBOT_DATA_DIR, a command uses the same
 * database.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

let tmp: TempDir;
let pg: TempPostgres;
let here: string;
let elsewhere: string;

beforeAll(async () => {
  tmp = await createTempDir('data-location');
  pg = await createTempPostgres('data_location');
  here = path.join(tmp.dir, 'here');
  elsewhere = path.join(tmp.dir, 'elsewhere', 'deeper');
  await mkdir(here, { recursive: true });
  await mkdir(elsewhere, { recursive: true });
}, 60_000);

afterAll(async () => {
  await pg?.drop();
  await tmp?.remove();
});

const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  ...extra,
});

describe('the embedded database', () => {
  it('is named on the first line with its absolute path, and found again from another directory', async () => {
    const dataDir = path.join(tmp.dir, 'patchbot-data');
    const added = await runCli(
      ['hosts', 'add', 'web-1', '--address', 'local'],
      env({ PATCHBOT_DATA_DIR: dataDir }),
      here,
    );
    expect(added.code, added.stderr).toBe(0);
    const [first, second] = added.stdout.split('\n');
    expect(first).toBe(`embedded database at ${path.join(dataDir, 'db')}`);
    expect(second).toMatch(/^added host web-1 /);

    // another directory, the same PATCHBOT_DATA_DIR: the same database, named the same way
    const listed = await runCli(['hosts', 'list'], env({ PATCHBOT_DATA_DIR: dataDir }), elsewhere);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n')[0]).toBe(`embedded database at ${path.join(dataDir, 'db')}`);
    expect(listed.stdout).toMatch(/^web-1 /m);

    // JSON output is JSON only
    const json = await runCli(
      ['hosts', 'list', '--format', 'json'],
      env({ PATCHBOT_DATA_DIR: dataDir }),
      elsewhere,
    );
    expect(json.code, json.stderr).toBe(0);
    const hosts = JSON.parse(json.stdout) as unknown;
    expect(JSON.stringify(hosts)).toContain('"web-1"');
  });

  it('resolves a relative PATCHBOT_DATA_DIR (and the default .patchbot) against the working directory', async () => {
    const relative = await runCli(['hosts', 'list'], env({ PATCHBOT_DATA_DIR: 'rel-data' }), elsewhere);
    expect(relative.code, relative.stderr).toBe(0);
    const [first, second] = relative.stdout.split('\n');
    expect(first).toBe(`embedded database at ${path.join(elsewhere, 'rel-data', 'db')}`);
    expect(second).toMatch(/^no hosts /);

    const byDefault = await runCli(['hosts', 'list'], env({}), here);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(byDefault.stdout.split('\n')[0]).toBe(
      `embedded database at ${path.join(here, '.patchbot', 'db')}`,
    );
  });
});

describe('PostgreSQL', () => {
  it('is named by host, port and database on the first line, never with its password', async () => {
    const url = new URL(pg.url);
    url.password = 'not-to-be-shown'; // trust authentication on the test server ignores it
    const database = url.pathname.slice(1);
    const named = `PostgreSQL at 127.0.0.1:5432 (database ${database})`;
    const migrated = await runCli(['db', 'migrate'], env({ DATABASE_URL: url.toString() }), elsewhere);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout.split('\n')[0]).toBe(named);
    const run = await runCli(['hosts', 'list'], env({ DATABASE_URL: url.toString() }), elsewhere);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe(named);
    expect(migrated.stdout + migrated.stderr + run.stdout + run.stderr).not.toContain('not-to-be-shown');
  });
});
