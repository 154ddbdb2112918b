/**
 * Every subcommand patchbot has, as a light table: the name, the usage term and the one-line
 * description `patchbot --help` lists, and how to load the command's module. A module (one file per
 * subcommand in this folder) registers the command's options and implements it; it is imported only
 * when that command runs or its own help is asked for, so a command costs what it uses:
 * `patchbot --version` loads no command at all, `patchbot vercmp` only the version orderings, and no
 * command pays for Slack, Teams, BullMQ or the database unless it uses them.
 *
 * test/unit/cli/lazy-commands.test.ts checks that this table says what the modules register.
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';

/** A subcommand registers itself on the root program. */
export type RegisterCommand = (program: Command, io: CliIo) => void;

export interface CommandEntry {
  name: string;
  /** How `patchbot --help` shows the command ("scan [options]"). */
  term: string;
  /** Its line in `patchbot --help`. */
  summary: string;
  load(): Promise<RegisterCommand>;
}

/** The commands in the order `patchbot --help` lists them. */
export const commands: readonly CommandEntry[] = [
  {
    name: 'config',
    term: 'config',
    summary: "Check patchbot's configuration",
    load: async () => (await import('./config.js')).registerConfig,
  },
  {
    name: 'db',
    term: 'db',
    summary: 'Database administration.',
    load: async () => (await import('./db.js')).registerDb,
  },
  {
    name: 'vercmp',
    term: 'vercmp [options] [scheme] [a] [b]',
    summary:
      'Compare two versions with a distribution\'s ordering and print "<", "=" or ">"; ' +
      'with --batch, read "scheme<TAB>a<TAB>b" lines on standard input and answer each ("invalid" for a bad line).',
    load: async () => (await import('./vercmp.js')).registerVercmp,
  },
  {
    name: 'hosts',
    term: 'hosts',
    summary:
      "Hosts patchbot manages: the policy file's and those added here (add, list, remove, import, pin, unpin).",
    load: async () => (await import('./hosts.js')).registerHosts,
  },
  {
    name: 'inventory',
    term: 'inventory',
    summary: 'Inventory of hosts: installed packages, OS, kernel, reboot state.',
    load: async () => (await import('./inventory.js')).registerInventory,
  },
  {
    name: 'feeds',
    term: 'feeds',
    summary: 'Advisory and vulnerability feeds.',
    load: async () => (await import('./feeds.js')).registerFeeds,
  },
  {
    name: 'scan',
    term: 'scan [options]',
    summary:
      'List the security fixes to install, highest risk first: this machine by default, stored hosts ' +
      'with --host/--all, or an offline dpkg status file. Syncs the default advisory feeds first when ' +
      'none are stored.',
    load: async () => (await import('./scan.js')).registerScan,
  },
  {
    name: 'changes',
    term: 'changes',
    summary: 'Change requests (fix campaigns): list, show, and request, approve or reject them without chat.',
    load: async () => (await import('./changes.js')).registerChanges,
  },
  {
    name: 'deploy',
    term: 'deploy',
    summary: 'Staged deployments of approved changes: plan, start, status, pause, resume, abort, rollback.',
    load: async () => (await import('./deploy.js')).registerDeploy,
  },
  {
    name: 'report',
    term: 'report',
    summary: 'Reports from the stored data (coverage metrics, SLA compliance, time to remediate)',
    load: async () => (await import('./report.js')).registerReport,
  },
  {
    name: 'digest',
    term: 'digest [options]',
    summary:
      "Run the weekly digest now (the worker runs it at each team's digest time): store this week's " +
      "metric snapshots and post the digest with its trend chart to the team's channels",
    load: async () => (await import('./digest.js')).registerDigest,
  },
  {
    name: 'webhooks',
    term: 'webhooks',
    summary: 'Signed event webhooks: list them with their deliveries, the dead-letter list, retry, test.',
    load: async () => (await import('./webhooks.js')).registerWebhooks,
  },
  {
    name: 'serve',
    term: 'serve [options]',
    summary:
      'Run the chat app: POST /slack/events (or Slack Socket Mode when SLACK_APP_TOKEN is set), GET ' +
      '/healthz, /readyz and /metrics on PORT (default 3000), and the background job workers. Stops ' +
      'cleanly on SIGTERM or SIGINT.',
    load: async () => (await import('./serve.js')).registerServe,
  },
  {
    name: 'worker',
    term: 'worker [options]',
    summary:
      'Run background jobs, the recurring feeds sync and inventory collection, and the weekly digests ' +
      '(intervals and times from the policy file). On SIGTERM or SIGINT it drains: no new host, running ' +
      'hosts may finish within PATCHBOT_SHUTDOWN_GRACE (default 10m), the rest go to another worker.',
    load: async () => (await import('./worker.js')).registerWorker,
  },
];

/**
 * The commands whose modules this command line needs: the command it runs (`patchbot scan ...`)
 * or the one whose help it asks for (`patchbot help scan`). Options before the command are the
 * root program's (--help, --version), which take no value.
 */
export function commandsFor(argv: readonly string[]): CommandEntry[] {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  const wanted = first === 'help' ? second : first;
  return commands.filter((c) => c.name === wanted);
}
