import { Command, CommanderError, Help } from 'commander';
import { PatchbotError, userMessageOf } from '../core/errors.js';
import { commands, commandsFor } from './commands/index.js';
import { EXIT } from './exit-codes.js';
import { CliExit, processIo, writeLine, type CliIo } from './io.js';

/**
 * The root program. Commands named in `load` are registered by their modules (options, actions);
 * the others only by their name and help line, enough for `patchbot --help` and for commander to
 * name an unknown command's nearest match. `main` loads the module of the command it runs.
 */
export async function buildProgram(io: CliIo, load: readonly string[] | 'all' = 'all'): Promise<Command> {
  const program: Command = new Command('patchbot')
    .description('Chat-ops patch management: inventory, advisories, risk, approvals and staged rollouts.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({
      // the table's term, for a command whose module is not loaded as for one that is
      subcommandTerm(cmd: Command): string {
        const entry = cmd.parent === program ? commands.find((c) => c.name === cmd.name()) : undefined;
        return entry?.term ?? Help.prototype.subcommandTerm.call(this, cmd);
      },
    });
  for (const entry of commands) {
    if (load === 'all' || load.includes(entry.name)) {
      const register = await entry.load();
      register(program, io);
    } else {
      program.command(entry.name).description(entry.summary);
    }
  }
  return program;
}

/** Runs the CLI and returns the process exit code. Never throws. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    const program = await buildProgram(
      io,
      commandsFor(argv).map((c) => c.name),
    );
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CliExit) return err.exitCode;
    // commander has printed its message (unknown option, missing argument...); --help and
    // --version end with 0
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof PatchbotError) {
      writeLine(io.stderr, `patchbot: ${err.userMessage}`);
      return err.code === 'USAGE' ? EXIT.usage : EXIT.error;
    }
    writeLine(io.stderr, `patchbot: unexpected error: ${userMessageOf(err)}`);
    if (err instanceof Error && err.stack && io.env.LOG_LEVEL === 'debug') writeLine(io.stderr, err.stack);
    return EXIT.error;
  }
}
