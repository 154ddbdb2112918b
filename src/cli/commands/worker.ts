/**
 * `patchbot worker [--migrate]`: runs the background jobs (feeds sync, inventory collection,
 * re-matching, announcements, slow slash commands, staged deployments and their reconciler) and
 * keeps the recurring schedules of the policy file (feeds.syncInterval, inventory.collectInterval,
 * each team's weekly digest). Several workers may run at once: each job runs once, announcements
 * hold a database lock, a host step is claimed under a lease, and a digest is claimed per team and
 * week. Stops cleanly on SIGTERM or SIGINT: no new host is claimed, hosts being worked on may
 * finish within PATCHBOT_SHUTDOWN_GRACE (default 10 minutes), the rest are handed back to another
 * worker (their commands keep running on the hosts), and it exits 0. A second signal hands back at once.
 * With --metrics-port it serves GET /metrics (Prometheus), /healthz and /readyz.
 */
import type { Command } from 'commander';
import { createLogger } from '../../logging/logger.js';
import { shutdownSignal, startWorker } from '../../main.js';
import { loadCliConfig } from '../context.js';
import { parsePort } from './serve.js';
import type { CliIo } from '../io.js';

export function registerWorker(program: Command, io: CliIo): void {
  program
    .command('worker')
    .description(
      'Run background jobs, the recurring feeds sync and inventory collection, and the weekly digests ' +
        '(intervals and times from the policy file). On SIGTERM or SIGINT it drains: no new host, running ' +
        'hosts may finish within PATCHBOT_SHUTDOWN_GRACE (default 10m), the rest go to another worker.',
    )
    .option('--migrate', 'apply pending database migrations first (otherwise they refuse the start)')
    .option(
      '--metrics-port <port>',
      'serve GET /metrics (Prometheus), /healthz and /readyz on this port (docs/metrics.md); default: no HTTP',
    )
    .option('--metrics-host <address>', 'address the metrics port listens on', '0.0.0.0')
    .action(async (flags: { migrate?: boolean; metricsPort?: string; metricsHost: string }) => {
      const metricsPort = flags.metricsPort === undefined ? undefined : parsePort(flags.metricsPort);
      const config = await loadCliConfig(io);
      const logger = createLogger({ level: config.env.logLevel, destination: io.stderr, pretty: false });
      for (const w of config.policyWarnings) logger.warn({ path: w.path }, w.message);
      const onRejection = (err: unknown) => logger.error({ err }, 'unhandled promise rejection');
      process.on('unhandledRejection', onRejection);
      const signal = shutdownSignal();
      try {
        const app = await startWorker(config, logger, {
          migrate: flags.migrate === true,
          cwd: io.cwd,
          ...(metricsPort === undefined ? {} : { metricsPort, metricsHost: flags.metricsHost }),
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
