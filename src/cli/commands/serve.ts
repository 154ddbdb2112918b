/**
 * `patchbot serve [--migrate] [--port N] [--host H] [--no-worker]`: the Slack app (POST /slack/events,
 * or Socket Mode with SLACK_APP_TOKEN), the Microsoft Teams bot (POST /api/messages), GET /healthz,
 * /readyz and /metrics on one HTTP server, and
 * the job workers in the same process unless --no-worker. Runs until SIGTERM or SIGINT, then stops
 * taking requests and work, lets running jobs finish, and closes Redis and the database.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { createLogger } from '../../logging/logger.js';
import { shutdownSignal, startServe } from '../../main.js';
import { loadCliConfig } from '../context.js';
import type { CliIo } from '../io.js';

export function parsePort(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65535))
    throw new UsageError(`--port: expected a port number 0-65535, got ${JSON.stringify(value)}`);
  return n;
}

interface ServeFlags {
  migrate?: boolean;
  port?: string;
  host?: string;
  worker: boolean;
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description(
      'Run the chat app: POST /slack/events (or Slack Socket Mode when SLACK_APP_TOKEN is set), ' +
        'GET /healthz, /readyz and /metrics on PORT (default 3000), and the background job workers. ' +
        'Stops cleanly on SIGTERM or SIGINT.',
    )
    .option('--migrate', 'apply pending database migrations first (otherwise they refuse the start)')
    .option('--port <port>', 'HTTP port (default: PORT, 3000)')
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--no-worker', 'do not run job workers in this process (run `patchbot worker` instead)')
    .action(async (flags: ServeFlags) => {
      const port = flags.port === undefined ? undefined : parsePort(flags.port);
      const config = await loadCliConfig(io);
      const logger = createLogger({ level: config.env.logLevel, destination: io.stderr, pretty: false });
      for (const w of config.policyWarnings) logger.warn({ path: w.path }, w.message);
      const onRejection = (err: unknown) => logger.error({ err }, 'unhandled promise rejection');
      process.on('unhandledRejection', onRejection);
      const signal = shutdownSignal();
      try {
        const app = await startServe(config, logger, {
          migrate: flags.migrate === true,
          ...(port === undefined ? {} : { port }),
          ...(flags.host === undefined ? {} : { host: flags.host }),
          worker: flags.worker,
          cwd: io.cwd,
        });
        const received = await signal;
        logger.info({ signal: received }, 'shutting down');
        // a second signal ends the grace period: running hosts are handed back at once
        void shutdownSignal().then((again) => {
          logger.warn({ signal: again }, 'second signal: handing running hosts back now');
          app.handBack();
        });
        await app.stop();
        logger.info('stopped');
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });
}
