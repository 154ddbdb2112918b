/**
 * `patchbot vercmp <scheme> A B` prints `<`, `=` or `>`; `patchbot vercmp --batch` reads lines
 * `scheme<TAB>a<TAB>b` on standard input and prints one answer per line (`invalid` for an invalid
 * version or a malformed line), never stopping on a bad line.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { InvalidVersionError } from '../../core/errors.js';
import { getScheme, isVersionScheme, VERSION_SCHEMES } from '../../core/versions/index.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

const SYMBOL = { '-1': '<', '0': '=', '1': '>' } as const;

/** The answer for one batch line. */
export function answerLine(line: string): string {
  const fields = line.endsWith('\r') ? line.slice(0, -1).split('\t') : line.split('\t');
  if (fields.length !== 3) return 'invalid';
  const [scheme, a, b] = fields as [string, string, string];
  if (!isVersionScheme(scheme)) return 'invalid';
  const impl = getScheme(scheme);
  if (!impl.isValid(a) || !impl.isValid(b)) return 'invalid';
  return SYMBOL[impl.compare(a, b)];
}

async function runBatch(io: CliIo): Promise<void> {
  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
  let out: string[] = [];
  const flush = async (): Promise<void> => {
    if (out.length === 0) return;
    const chunk = `${out.join('\n')}\n`;
    out = [];
    if (!io.stdout.write(chunk)) await new Promise<void>((resolve) => io.stdout.once('drain', resolve));
  };
  for await (const line of lines) {
    out.push(answerLine(line));
    if (out.length >= 4096) await flush();
  }
  await flush();
}

function usageError(io: CliIo, message: string): never {
  writeLine(io.stderr, `patchbot vercmp: ${message}`);
  writeLine(
    io.stderr,
    `usage: patchbot vercmp <${VERSION_SCHEMES.join('|')}> A B   or   patchbot vercmp --batch`,
  );
  throw new CliExit(2);
}

export function registerVercmp(program: Command, io: CliIo): void {
  program
    .command('vercmp')
    .description(
      'Compare two versions with a distribution\'s ordering and print "<", "=" or ">"; ' +
        'with --batch, read "scheme<TAB>a<TAB>b" lines on standard input and answer each ("invalid" for a bad line).',
    )
    .argument('[scheme]', `version ordering: ${VERSION_SCHEMES.join(', ')}`)
    .argument('[a]', 'first version')
    .argument('[b]', 'second version')
    .option('--batch', 'read scheme<TAB>a<TAB>b lines on standard input, print one answer per line')
    .addHelpText('after', '\nExit status: 0 when compared, 2 for an invalid version or usage.')
    .action(
      async (
        scheme: string | undefined,
        a: string | undefined,
        b: string | undefined,
        opts: { batch?: boolean },
      ) => {
        if (opts.batch === true) {
          if (scheme !== undefined) usageError(io, '--batch takes no arguments (it reads standard input)');
          await runBatch(io);
          return;
        }
        if (scheme === undefined || a === undefined || b === undefined)
          usageError(io, 'expected a scheme and two versions');
        if (!isVersionScheme(scheme)) {
          usageError(
            io,
            `unknown scheme ${JSON.stringify(scheme)} (expected one of ${VERSION_SCHEMES.join(', ')})`,
          );
        }
        const impl = getScheme(scheme);
        for (const [label, v] of [
          ['A', a],
          ['B', b],
        ] as const) {
          try {
            impl.parse(v);
          } catch (err) {
            if (!(err instanceof InvalidVersionError)) throw err;
            writeLine(io.stderr, `patchbot vercmp: argument ${label}: ${err.userMessage}`);
            throw new CliExit(2);
          }
        }
        writeLine(io.stdout, SYMBOL[impl.compare(a, b)]);
      },
    );
}
