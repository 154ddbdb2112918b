/**
 * Re-matching stored hosts: after a feed sync (only the hosts the sync touched) or a new inventory
 * snapshot (the hosts collected). Hosts are matched in batches so a large fleet never sits in
 * memory at once.
 */
import type { Logger } from 'pino';
import type { RiskPolicy } from '../core/risk/policy.js';
import type { Repositories } from '../db/index.js';
import { scanTargets, type ScanTarget } from './scan.js';

export interface RescanDeps {
  repos: Repositories;
  riskPolicy: RiskPolicy;
  logger?: Logger;
  now?: () => Date;
}

export interface RescanSummary {
  hosts: number;
  skipped: string[];
  opened: number;
  updated: number;
  resolved: number;
  /** Ids of findings opened (new or back after a fix): the input of notifications. */
  openedIds: string[];
  updatedIds: string[];
}

export interface RescanOptions {
  batchSize?: number;
  onProgress?: (p: { source: string; done: number; total: number; unit: string }) => void;
}

/** Re-matches the named hosts (every stored host when `hostNames` is undefined). */
export async function rescanHosts(
  deps: RescanDeps,
  hostNames?: readonly string[],
  options: RescanOptions = {},
): Promise<RescanSummary> {
  const names = hostNames ?? (await deps.repos.hosts.list()).map((h) => h.name);
  const summary: RescanSummary = {
    hosts: 0,
    skipped: [],
    opened: 0,
    updated: 0,
    resolved: 0,
    openedIds: [],
    updatedIds: [],
  };
  const batchSize = options.batchSize ?? 250;
  for (let i = 0; i < names.length; i += batchSize) {
    const targets: ScanTarget[] = [];
    for (const name of names.slice(i, i + batchSize)) {
      const host = await deps.repos.hosts.get(name);
      const snapshot = host ? await deps.repos.inventory.latest(name) : null;
      if (!host || !snapshot) {
        summary.skipped.push(name);
        continue;
      }
      targets.push({ name, hostId: host.id, context: host, snapshot });
    }
    if (targets.length > 0) {
      const result = await scanTargets(deps, targets);
      for (const change of Object.values(result.changes)) {
        summary.hosts++;
        summary.opened += change.opened.length;
        summary.updated += change.updated.length;
        summary.resolved += change.resolved.length;
        summary.openedIds.push(...change.opened);
        summary.updatedIds.push(...change.updated);
      }
    }
    options.onProgress?.({
      source: 'rescan',
      done: Math.min(i + batchSize, names.length),
      total: names.length,
      unit: 'hosts',
    });
  }
  deps.logger?.info({ ...summary, openedIds: undefined, updatedIds: undefined }, 'hosts re-matched');
  return summary;
}

/** Re-matches the hosts touched by what was stored at or after `since` (a feed sync's start). */
export async function rescanAfterSync(
  deps: RescanDeps,
  since: Date,
  options: RescanOptions = {},
): Promise<RescanSummary> {
  const names = await deps.repos.rescan.hostsAffectedSince(since);
  return rescanHosts(deps, names, options);
}
