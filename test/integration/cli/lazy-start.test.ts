/**
 * A command loads what it uses. `patchbot --version`, `--help` and `vercmp` run as real processes
 * with a loader hook recording every module they load (test/support/module-recorder.mjs): none of
 * the chat, queue, database or rendering libraries may be among them. And the light table of
 * commands that `--help` is built from says exactly what the command modules register.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { runCli } from '../../support/cli.js';
import { createTempDir } from '../../support/db.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/patchbot.js');
const RECORDER = path.join(ROOT, 'test/support/module-recorder.mjs');

/** What a command that touches no chat platform, queue or database must never load. */
const HEAVY = [
  '@slack/bolt',
  '@slack/web-api',
  'botbuilder',
  'bullmq',
  'ioredis',
  '@prisma/client',
  '@electric-sql/pglite',
  'pglite-prisma-adapter',
  'pg',
  '@resvg/resvg-js',
  'node-ssh',
  'ssh2',
  'fast-xml-parser',
  'csv-parse',
  'yauzl',
  'pino',
  'zod',
];

/** Packages of the TypeScript loader bin/patchbot.js uses when dist/ is older than src/. */
const LOADER = new Set(['tsx', 'esbuild', '@esbuild/linux-x64', 'get-tsconfig', 'resolve-pkg-maps']);

/** The packages (node_modules/<name>) among the modules `patchbot ARGS` loads. */
async function packagesLoadedBy(args: string[]): Promise<{ packages: Set<string>; stdout: string }> {
  const tmp = await createTempDir('modules');
  try {
    const log = path.join(tmp.dir, 'modules.log');
    const { stdout } = await run(process.execPath, ['--import', RECORDER, BIN, ...args], {
      cwd: tmp.dir,
      env: { ...process.env, PATCHBOT_TEST_MODULE_LOG: log },
    });
    const urls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    // evidence that the recorder saw the run: the command's own entry module is in the log
    expect(urls.some((u) => /\/cli\/main\.(js|ts)$/.test(u))).toBe(true);
    const packages = new Set<string>();
    for (const u of urls) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
      if (m?.[1] && !LOADER.has(m[1])) packages.add(m[1]);
    }
    return { packages, stdout };
  } finally {
    await tmp.remove();
  }
}

describe('start-up loads what the command uses', () => {
  it('--version and --help load commander and nothing else', async () => {
    for (const args of [['--version'], ['--help']]) {
      const { packages, stdout } = await packagesLoadedBy(args);
      expect(stdout.length).toBeGreaterThan(0);
      expect([...packages], args.join(' ')).toEqual(['commander']);
    }
  });

  it('vercmp loads the version orderings, none of the heavy libraries', async () => {
    const { packages, stdout } = await packagesLoadedBy(['vercmp', 'deb', '1', '2']);
    expect(stdout).toBe('<\n');
    for (const heavy of HEAVY) expect(packages.has(heavy), heavy).toBe(false);
    expect(packages.has('semver')).toBe(true);
  });

  it('a command module is loaded only for that command', async () => {
    const { packages } = await packagesLoadedBy(['config', '--help']);
    for (const heavy of HEAVY.filter((h) => h !== 'zod' && h !== 'pino'))
      expect(packages.has(heavy), heavy).toBe(false);
  });
});

describe('the table of commands', () => {
  it('says what the command modules register: the same --help as with every module loaded', async () => {
    const tmp = await createTempDir('help-table');
    try {
      const lazy = await runCli(['--help'], {}, tmp.dir);
      expect(lazy.code).toBe(0);
      const io = {
        stdout: process.stdout,
        stderr: process.stderr,
        stdin: process.stdin,
        env: {},
        cwd: tmp.dir,
        isTty: false,
      };
      const full = await buildProgram(io, 'all');
      const lazyProgram = await buildProgram(io, []);
      expect(lazyProgram.helpInformation()).toBe(full.helpInformation());
      expect(lazy.stdout).toBe(full.helpInformation());
      // and the table's terms are the ones commander derives from each module's registration
      const shown = full.createHelp();
      const derived = new Help();
      for (const cmd of full.commands)
        expect(shown.subcommandTerm(cmd), cmd.name()).toBe(derived.subcommandTerm(cmd));
    } finally {
      await tmp.remove();
    }
  });
});
