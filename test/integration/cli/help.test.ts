/**
 * `patchbot --help` lists exactly the commands that exist and work: every listed command (and
 * subcommand) answers --help, and every command of the external contract that is listed runs
 * its real action (checked by the command's own integration tests; here: no command is a stub
 * that prints "not implemented").
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { createTempDir } from '../../support/db.js';

/** The command names DESIGN.md's external contract allows. */
const CONTRACT = new Set([
  'scan',
  'feeds',
  'hosts',
  'inventory',
  'serve',
  'worker',
  'deploy',
  'report',
  'digest',
  'db',
  'config',
  'vercmp',
  'changes',
  'webhooks',
]);

function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help');
}

describe('patchbot --help', () => {
  it('lists only contract commands, each with working help', async () => {
    const tmp = await createTempDir('help');
    try {
      const top = await runCli(['--help'], {}, tmp.dir);
      expect(top.code).toBe(0);
      const commands = listedCommands(top.stdout);
      expect(commands.length).toBeGreaterThanOrEqual(7);
      for (const name of commands) {
        expect(CONTRACT.has(name), `${name} is not a contract command`).toBe(true);
        const help = await runCli([name, '--help'], {}, tmp.dir);
        expect(help.code, `${name} --help`).toBe(0);
        expect(help.stdout).toContain(`Usage: patchbot ${name}`);
        expect(help.stdout + help.stderr).not.toMatch(/not (yet )?implemented|TODO|coming soon/i);
        for (const sub of listedCommands(help.stdout)) {
          const subHelp = await runCli([name, sub, '--help'], {}, tmp.dir);
          expect(subHelp.code, `${name} ${sub} --help`).toBe(0);
          expect(subHelp.stdout).toContain(`Usage: patchbot ${name} ${sub}`);
        }
      }
    } finally {
      await tmp.remove();
    }
  });

  it('answers an unknown command with an error and help pointer', async () => {
    const tmp = await createTempDir('help');
    try {
      const run = await runCli(['frobnicate'], {}, tmp.dir);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/unknown command 'frobnicate'/);
    } finally {
      await tmp.remove();
    }
  });
});
