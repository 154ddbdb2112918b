import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerChanges } from './changes.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';
import { registerDeploy } from './deploy.js';
import { registerDigest } from './digest.js';
import { registerFeeds } from './feeds.js';
import { registerHosts } from './hosts.js';
import { registerInventory } from './inventory.js';
import { registerReport } from './report.js';
import { registerScan } from './scan.js';
import { registerServe } from './serve.js';
import { registerVercmp } from './vercmp.js';
import { registerWebhooks } from './webhooks.js';
import { registerWorker } from './worker.js';

/** A subcommand registers itself on the root program. One file per subcommand in this folder. */
export type RegisterCommand = (program: Command, io: CliIo) => void;

/** Every subcommand patchbot has. `patchbot --help` lists exactly these. */
export const commands: RegisterCommand[] = [
  registerConfig,
  registerDb,
  registerVercmp,
  registerHosts,
  registerInventory,
  registerFeeds,
  registerScan,
  registerChanges,
  registerDeploy,
  registerReport,
  registerDigest,
  registerWebhooks,
  registerServe,
  registerWorker,
];
