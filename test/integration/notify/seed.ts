/**
 * A small fleet with real data: Debian 12 hosts with the dpkg status of a real system (an old
 * glibc on some), the Debian security tracker sample and the CISA KEV feed from test/fixtures.
 * Hosts and teams come from a policy, as in production (syncPolicyHosts + syncDestinations).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import type { InstalledPackage, InventorySnapshot } from '../../../src/core/model.js';
import type { Repositories } from '../../../src/db/index.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { syncDestinations } from '../../../src/usecases/destinations.js';
import { syncFeedSources } from '../../../src/usecases/feeds-sync.js';
import { syncPolicyHosts } from '../../../src/usecases/hosts.js';
import { rescanAfterSync, rescanHosts } from '../../../src/usecases/rescan.js';

export const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));

const packages = parseDpkgStatus(readFileSync(fixture('inventory/debian12-dpkg-status'), 'utf8')).packages;

/** The real package list with glibc at `version` (2.36-9+deb12u2 is hit by CVE-2023-4911). */
export function withGlibc(version: string): InstalledPackage[] {
  return packages.map((p) => (p.sourceName === 'glibc' ? { ...p, version, sourceVersion: version } : p));
}

export const OLD_GLIBC = '2.36-9+deb12u2';

export function snapshot(pk: InstalledPackage[], rebootRequired = false): InventorySnapshot {
  return {
    os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' },
    kernel: '6.1.0-18-amd64',
    packageManager: 'dpkg',
    packages: pk,
    rebootRequired,
    rebootPackages: [],
    collectedAt: new Date(),
  };
}

export const CHANNELS = { payments: 'C0PAYMENTS1', web: 'C0WEBTEAM01', ops: 'C0OPSTEAM01' } as const;

/** Teams payments (pay-*) and web (web-*, by routing rule); ops owns nothing. */
export function testPolicy(extra: Partial<PolicyInput> = {}): Policy {
  return Policy.parse({
    teams: [
      { name: 'payments', slack: { channels: [CHANNELS.payments] } },
      { name: 'web', slack: { channels: [CHANNELS.web] } },
      { name: 'ops', slack: { channels: [CHANNELS.ops] } },
    ],
    hosts: [
      { name: 'pay-1', address: '10.0.0.11', team: 'payments', criticality: 1 },
      { name: 'pay-2', address: '10.0.0.12', team: 'payments' },
      { name: 'web-1', address: '10.0.0.21', labels: { role: 'web' } },
    ],
    routing: { rules: [{ match: { labels: { role: 'web' } }, team: 'web' }] },
    ...extra,
  });
}

/** Hosts and teams from the policy. */
export async function applyPolicy(repos: Repositories, policy: Policy): Promise<void> {
  await syncPolicyHosts(policy, repos, { actor: { id: 'test', surface: 'system' } });
  await syncDestinations(policy, repos, new Date());
}

export async function saveInventory(
  repos: Repositories,
  host: string,
  glibc: string,
  rebootRequired = false,
): Promise<void> {
  await repos.inventory.save(host, snapshot(withGlibc(glibc), rebootRequired));
}

/** Imports feed files and re-matches the hosts they touch. */
export async function syncFeeds(repos: Repositories, policy: Policy, files: string[]): Promise<void> {
  const started = new Date();
  const result = await syncFeedSources({ sources: files, repos });
  if (result.totals.failed > 0) throw new Error(`feed sync failed: ${JSON.stringify(result.sources)}`);
  await rescanAfterSync({ repos, riskPolicy: policy.risk }, started);
}

export async function rescan(repos: Repositories, policy: Policy, hosts: string[]): Promise<void> {
  await rescanHosts({ repos, riskPolicy: policy.risk }, hosts);
}

export const TRACKER = fixture('scan/bookworm-dsa-sample.tracker.json');
export const KEV = fixture('feeds/kev');
