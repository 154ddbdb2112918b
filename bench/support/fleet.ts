/**
 * A synthetic Debian 12 fleet and Debian tracker advisories for benchmarks, built from the real
 * status file test/fixtures/versions/debian12-dpkg-status (a copy of
 * /work/shared/data/inventory/debian12-dpkg-status).
 *
 * - Every source package gets a chain of `spread` versions: the current one and the stable updates
 *   before it (+deb12uN counted down, then the Debian revision, then upstream).
 * - Per source package a host is 70% current, 20% one or two updates behind, 10% three to five
 *   behind. Hosts share package objects for equal versions (as an inventory store that interns them
 *   would).
 * - Advisories name the real source packages; the mix of old fixes (below every host's version),
 *   recent fixes inside the fleet's spread and open issues (unfixed / no-dsa / postponed) is a
 *   parameter.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Advisory, AffectedEntry, AffectedStatus, InstalledPackage } from '../../src/core/model.js';
import { parseDpkgStatus } from '../../src/inventory/parsers/dpkg.js';

export const DPKG_STATUS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../test/fixtures/versions/debian12-dpkg-status',
);

/** A small deterministic PRNG (mulberry32): the same seed gives the same fleet. */
export function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The version `steps` stable updates before `v`: +deb12uN counts down, then the revision, then upstream. */
export function older(v: string, steps: number): string {
  let out = v;
  for (let i = 0; i < steps; i++) {
    const u = /\+deb12u(\d+)$/.exec(out);
    if (u && Number(u[1]) > 1) out = `${out.slice(0, u.index)}+deb12u${Number(u[1]) - 1}`;
    else if (u) out = out.slice(0, u.index);
    else {
      const m = /(\d+)(\D*)$/.exec(out);
      out = m && Number(m[1]) > 0 ? `${out.slice(0, m.index)}${Number(m[1]) - 1}${m[2]}` : `${out}~old`;
    }
  }
  return out;
}

export interface SourceChain {
  name: string;
  /** versions[0] is the current one; versions[k] is k updates older. */
  versions: string[];
}

export interface Fleet {
  /** The packages of the real status file. */
  base: InstalledPackage[];
  sources: SourceChain[];
  /** Per host, its packages (shared objects for equal versions). */
  hosts: InstalledPackage[][];
  spread: number;
}

export function buildFleet(rand: () => number, hostCount: number, spread = 6): Fleet {
  const base = parseDpkgStatus(readFileSync(DPKG_STATUS, 'utf8')).packages;
  const chains = new Map<string, SourceChain>();
  for (const p of base) {
    if (!chains.has(p.sourceName)) {
      chains.set(p.sourceName, {
        name: p.sourceName,
        versions: Array.from({ length: spread }, (_, k) => older(p.sourceVersion, k)),
      });
    }
  }
  const variants: InstalledPackage[][] = base.map((p) => {
    const chain = chains.get(p.sourceName)!;
    const binNmu = p.version.startsWith(p.sourceVersion) ? p.version.slice(p.sourceVersion.length) : '';
    return chain.versions.map((sv, k) =>
      k === 0
        ? p
        : { ...p, sourceVersion: sv, version: p.version === p.sourceVersion ? sv : `${sv}${binNmu}` },
    );
  });
  const sources = [...chains.values()];
  const sourceOf = base.map((p) => sources.findIndex((s) => s.name === p.sourceName));

  const hosts: InstalledPackage[][] = [];
  const steps = new Uint8Array(sources.length);
  for (let h = 0; h < hostCount; h++) {
    for (let s = 0; s < sources.length; s++) {
      const r = rand();
      steps[s] = r < 0.7 ? 0 : r < 0.9 ? 1 + Math.floor(rand() * 2) : 3 + Math.floor(rand() * 3);
    }
    hosts.push(variants.map((vs, i) => vs[steps[sourceOf[i]]]));
  }
  return { base, sources, hosts, spread };
}

/** Shares of the advisories; the rest are `not-affected` entries. */
export interface AdvisoryMix {
  /** Fixed before the oldest version any host runs. */
  oldFix: number;
  /** Fixed at one of the versions inside the fleet's spread (hosts behind it are affected). */
  recentFix: number;
  unfixed: number;
  noDsa: number;
  postponed: number;
}

export interface AdvisoryOptions {
  count: number;
  mix: AdvisoryMix;
  /** Every n-th advisory is withdrawn (0 = none). */
  withdrawnEvery?: number;
  /** Debian tracker urgencies to draw from for the entries (none when empty). */
  urgencies?: readonly string[];
  modified?: Date;
}

/** Debian tracker advisories `DEBIAN-CVE-…` over the fleet's source packages, one CVE each. */
export function buildDebianAdvisories(
  rand: () => number,
  fleet: Fleet,
  options: AdvisoryOptions,
): Advisory[] {
  const { sources, spread } = fleet;
  const { mix, count } = options;
  const cut = {
    old: mix.oldFix,
    recent: mix.oldFix + mix.recentFix,
    unfixed: mix.oldFix + mix.recentFix + mix.unfixed,
    noDsa: mix.oldFix + mix.recentFix + mix.unfixed + mix.noDsa,
    postponed: mix.oldFix + mix.recentFix + mix.unfixed + mix.noDsa + mix.postponed,
  };
  const urgencies = options.urgencies ?? [];
  const modified = options.modified ?? new Date('2024-07-01T00:00:00Z');
  const advisories: Advisory[] = [];
  for (let i = 0; i < count; i++) {
    const chain = sources[Math.floor(rand() * sources.length)];
    const r = rand();
    let status: AffectedStatus = 'affected';
    let fixed: string | undefined;
    if (r < cut.old) fixed = older(chain.versions[spread - 1], 1 + Math.floor(rand() * 20));
    else if (r < cut.recent) fixed = chain.versions[Math.floor(rand() * (spread - 1))];
    else if (r < cut.unfixed) status = 'unfixed';
    else if (r < cut.noDsa) status = 'no-dsa';
    else if (r < cut.postponed) status = 'postponed';
    else status = 'not-affected';
    const cve = `CVE-${2014 + (i % 11)}-${10000 + i}`;
    const entry: AffectedEntry = {
      ecosystem: 'Debian:12',
      package: chain.name,
      nameKind: 'source',
      status,
      ranges: fixed === undefined ? [] : [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
      versions: [],
      ...(urgencies.length > 0 ? { urgency: urgencies[i % urgencies.length] } : {}),
    };
    const every = options.withdrawnEvery ?? 0;
    advisories.push({
      id: `DEBIAN-${cve}`,
      source: 'debian-tracker',
      aliases: [],
      cves: [cve],
      modified,
      ...(every > 0 && i % every === 0 ? { withdrawn: new Date(modified.getTime() + 86_400_000) } : {}),
      summary: cve,
      references: [],
      severity: [],
      affected: [entry],
    });
  }
  return advisories;
}
