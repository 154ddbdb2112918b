import { Command, CommanderError } from 'commander';
import { PatchbotError, userMessageOf } from '../core/errors.js';
import { commands } from './commands/index.js';
import { EXIT } from './exit-codes.js';
import { CliExit, processIo, writeLine, type CliIo } from './io.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('patchbot')
    .description('Chat-ops patch management: inventory, advisories, risk, approvals and staged rollouts.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of commands) register(program, io);
  return program;
}

/** Runs the CLI and returns the process exit code. Never throws. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
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
