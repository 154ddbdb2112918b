/**
 * `patchbot db migrate`: applies the pending migrations to PostgreSQL (`DATABASE_URL`) or, without
 * it, to the embedded database under `PATCHBOT_DATA_DIR` (default `.patchbot`). Safe to run from
 * several processes at once: each migration is applied once.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError, ValidationError } from '../../core/errors.js';
import { openDatabase } from '../../db/client.js';
import { writeLine, type CliIo } from '../io.js';

export interface DatabaseSettings {
  /** PostgreSQL URL; undefined = embedded database. */
  url: string | undefined;
  /** Directory of the embedded database. */
  embeddedDir: string;
}

/** Where the database is, from the environment (DATABASE_URL, PATCHBOT_DATA_DIR). */
export function databaseSettings(env: NodeJS.ProcessEnv, cwd: string): DatabaseSettings {
  const url = env.DATABASE_URL?.trim() || undefined;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ValidationError(
      'DATABASE_URL: expected a PostgreSQL URL such as postgresql://user:password@host:5432/patchbot',
    );
  }
  const dataDir = env.PATCHBOT_DATA_DIR?.trim() || '.patchbot';
  return { url, embeddedDir: path.resolve(cwd, dataDir, 'db') };
}

function parseFormat(value: string): 'text' | 'json' {
  if (value === 'text' || value === 'json') return value;
  throw new UsageError(`--format: expected text or json, got ${JSON.stringify(value)}`);
}

export function registerDb(program: Command, io: CliIo): void {
  const db = program.command('db').description('Database administration.');
  db.command('migrate')
    .description(
      'Apply pending database migrations to PostgreSQL (DATABASE_URL) or to the embedded database ' +
        '(PATCHBOT_DATA_DIR, default .patchbot). Concurrent runs apply each migration once.',
    )
    .option('--format <format>', 'output format: text or json', 'text')
    .action(async (opts: { format: string }) => {
      const format = parseFormat(opts.format);
      const settings = databaseSettings(io.env, io.cwd);
      const database = await openDatabase({ url: settings.url, dataDir: settings.embeddedDir });
      try {
        const result = await database.migrate();
        if (format === 'json') {
          writeLine(
            io.stdout,
            JSON.stringify({ database: database.kind, location: database.description, ...result }, null, 2),
          );
          return;
        }
        writeLine(io.stdout, database.description);
        for (const name of result.modified) {
          writeLine(io.stderr, `warning: migration ${name} was modified after it was applied`);
        }
        for (const name of result.unknown) {
          writeLine(
            io.stderr,
            `warning: migration ${name} is in the database but not in the migrations directory`,
          );
        }
        if (result.applied.length === 0) {
          writeLine(io.stdout, `database is up to date (${database.description})`);
          return;
        }
        for (const name of result.applied) writeLine(io.stdout, `applied ${name}`);
        const n = result.applied.length;
        writeLine(io.stdout, `${n} migration${n === 1 ? '' : 's'} applied to ${database.description}`);
      } finally {
        await database.close();
      }
    });
}
