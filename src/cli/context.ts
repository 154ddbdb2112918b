/**
 * What a data command needs, built once per invocation from the CliIo: validated config, a logger
 * on stderr (stdout is for the command's output), the database and its repositories.
 */
import path from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import { PatchbotError } from '../core/errors.js';
import {
  createRepositories,
  openDatabase,
  pendingMigrations,
  type Database,
  type Repositories,
} from '../db/index.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { writeLine, type CliIo } from './io.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  db: Database;
  repos: Repositories;
}

export interface OpenAppOptions {
  /** Apply pending migrations (always done for the embedded database, which patchbot owns). */
  migrate?: boolean;
  /**
   * The embedded database's code compilation (OpenDatabaseOptions.embeddedCode): `baseline` by
   * default, right for a command that runs for a moment; `optimized` for long imports.
   */
  embeddedCode?: 'baseline' | 'optimized';
  /**
   * The command's output format. Text output starts with the line naming the database
   * ("embedded database at /abs/path/db", "PostgreSQL at host:5432 (database x)"), so nobody
   * reads another install's data unknowingly; machine formats (json, csv) stay pure.
   */
  format?: string;
}

/** The embedded database's directory: `db` under PATCHBOT_DATA_DIR, absolute (relative to `cwd`). */
export function embeddedDataDir(cwd: string, dataDir: string): string {
  return path.resolve(cwd, dataDir, 'db');
}

export async function loadCliConfig(io: CliIo): Promise<Config> {
  return loadConfig(io.env, { cwd: io.cwd });
}

export function cliLogger(io: CliIo, config?: Config): Logger {
  return createLogger({
    // commands print their own warnings; the log speaks up only when asked (LOG_LEVEL)
    level: io.env.LOG_LEVEL ? (config?.env.logLevel ?? 'error') : 'error',
    destination: io.stderr,
    pretty: false,
  });
}

/** Opens config, logger and database; runs `fn`; always closes the database. */
export async function withApp<T>(
  io: CliIo,
  options: OpenAppOptions,
  fn: (app: AppContext) => Promise<T>,
): Promise<T> {
  const config = await loadCliConfig(io);
  const logger = cliLogger(io, config);
  const db = await openDatabase({
    url: config.env.databaseUrl,
    dataDir: embeddedDataDir(io.cwd, config.env.dataDir),
    logger,
    embeddedCode: options.embeddedCode ?? 'baseline',
  });
  try {
    if (db.kind === 'embedded' || options.migrate) {
      await db.migrate();
    } else {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) {
        throw new PatchbotError(
          'DATABASE',
          `${db.description} has ${pending.length} pending migration(s) (${pending.join(', ')}): run \`patchbot db migrate\` first`,
        );
      }
    }
    if ((options.format ?? 'text') === 'text') writeLine(io.stdout, db.description);
    return await fn({ config, logger, db, repos: createRepositories(db) });
  } finally {
    await db.close();
  }
}
