/**
 * Re-matching stored hosts: after a feed sync (only the hosts the sync touched) or a new inventory
 * snapshot (the hosts collected). Hosts are matched in batches so a large fleet never sits in
 * memory at once.
 */
import type { Logger } from 'pino';
import type { RiskPolicy } from '../core/risk/policy.js';
import type { Repositories } from '../db/index.js';
import type { HostRecord } from '../db/types.js';
import type { PackageCache } from '../db/repositories/inventory-repository.js';
import { createScanner, type Scanner, type ScanResult, type ScanTarget } from './scan.js';

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

/** Above this many hosts, host records are read with one query for the fleet instead of one each. */
const LIST_ALL_ABOVE = 50;

interface Batch {
  targets: ScanTarget[];
  skipped: string[];
}

/** Re-matches the named hosts (every stored host when `hostNames` is undefined). */
export async function rescanHosts(
  deps: RescanDeps,
  hostNames?: readonly string[],
  options: RescanOptions = {},
): Promise<RescanSummary> {
  const listed = hostNames === undefined || hostNames.length > LIST_ALL_ABOVE;
  const all = listed ? await deps.repos.hosts.list() : [];
  const byName = new Map<string, HostRecord>(all.map((h) => [h.name, h]));
  // each host once: batches in flight at the same time must not share a host
  const names = [...new Set(hostNames ?? all.map((h) => h.name))];
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
  const packageCache: PackageCache = new Map();

  async function load(from: number): Promise<Batch> {
    const slice = names.slice(from, from + batchSize);
    const hosts = new Map<string, HostRecord>();
    for (const name of slice) {
      const host = listed ? byName.get(name) : await deps.repos.hosts.get(name);
      if (host) hosts.set(name, host);
    }
    const snapshots = await deps.repos.inventory.latestForHosts(
      [...hosts.values()].map((h) => h.id),
      packageCache,
    );
    const batch: Batch = { targets: [], skipped: [] };
    for (const name of slice) {
      const host = hosts.get(name);
      const snapshot = host ? snapshots.get(host.id) : undefined;
      if (host && snapshot) batch.targets.push({ name, hostId: host.id, context: host, snapshot });
      else batch.skipped.push(name);
    }
    return batch;
  }

  /** Adds a scanned batch to the summary and reports progress up to `done` hosts. */
  const finish = (result: ScanResult | undefined, done: number): void => {
    for (const change of Object.values(result?.changes ?? {})) {
      summary.hosts++;
      summary.opened += change.opened.length;
      summary.updated += change.updated.length;
      summary.resolved += change.resolved.length;
      summary.openedIds.push(...change.opened);
      summary.updatedIds.push(...change.updated);
    }
    options.onProgress?.({ source: 'rescan', done, total: names.length, unit: 'hosts' });
  };

  // A pipeline: batch i+1 is read from the database while batch i is matched and scored, and
  // batch i is matched while batch i-1 is written. Results are added up in batch order.
  let scanner: Scanner | undefined;
  let next: Promise<Batch> | undefined = names.length > 0 ? load(0) : undefined;
  let previous: { scanning: Promise<ScanResult | undefined>; done: number } | undefined;
  let scanning: Promise<ScanResult | undefined> | undefined;
  try {
    for (let i = 0; i < names.length; i += batchSize) {
      const batch = await next!;
      next = i + batchSize < names.length ? load(i + batchSize) : undefined;
      next?.catch(() => undefined); // awaited (and so reported) on the next turn
      scanning = Promise.resolve(undefined);
      if (batch.targets.length > 0) {
        // a single batch loads only the advisories naming its packages; a fleet each ecosystem once
        scanner ??= createScanner(
          deps,
          names.length <= batchSize ? { packages: packageNamesOf(batch.targets) } : {},
        );
        scanning = scanner.scan(batch.targets, { report: false });
        scanning.catch(() => undefined); // awaited below or on the next turn
      }
      if (previous) finish(await previous.scanning, previous.done);
      summary.skipped.push(...batch.skipped);
      previous = { scanning, done: Math.min(i + batchSize, names.length) };
    }
    if (previous) finish(await previous.scanning, previous.done);
  } catch (err) {
    // nothing keeps writing after the failure is reported
    await Promise.allSettled([scanning, next]);
    throw err;
  }
  deps.logger?.info({ ...summary, openedIds: undefined, updatedIds: undefined }, 'hosts re-matched');
  return summary;
}

function packageNamesOf(targets: readonly ScanTarget[]): Set<string> {
  const names = new Set<string>();
  for (const t of targets) {
    for (const p of t.snapshot.packages) {
      names.add(p.name);
      names.add(p.sourceName);
    }
  }
  return names;
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
