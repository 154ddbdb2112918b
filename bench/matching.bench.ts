/**
 * Matching in memory: 10,000 Debian 12 hosts x the ~730 packages of a real status file, with a
 * realistic spread of versions (most hosts current, some a few stable updates behind, a few far
 * behind), against >= 50,000 advisories derived from the real source package names: mostly old
 * fixes, some recent ones inside the fleet's version spread, some unfixed / no-dsa / postponed /
 * not-affected / withdrawn. Hosts share package objects for equal versions (as an inventory store
 * that interns them would); each host's matches are counted and dropped, as a streaming scan does.
 * Prints the time (index build + matching) and the peak RSS of the process.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAdvisoryIndex, createMatcher, ecosystemsForOs } from '../src/core/matching/index.js';
import type { Advisory, AffectedEntry, AffectedStatus, InstalledPackage } from '../src/core/model.js';
import { parseDpkgStatus } from '../src/inventory/parsers/dpkg.js';

const STATUS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/versions/debian12-dpkg-status',
);
const HOSTS = 10_000;
const ADVISORIES = 50_000;
const SPREAD = 6; // versions per source package across the fleet: current and 5 older stable updates

function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The version `steps` stable updates before `v`: +deb12uN counts down, then the revision, then upstream. */
function older(v: string, steps: number): string {
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

interface SourceChain {
  name: string;
  /** versions[0] is the current one; versions[k] is k updates older. */
  versions: string[];
}

export async function run(): Promise<void> {
  const parsed = parseDpkgStatus(readFileSync(STATUS, 'utf8'));
  const base = parsed.packages;
  const rand = prng(2024);

  // Version chains per source package, and the interned package objects per (binary, step).
  const chains = new Map<string, SourceChain>();
  for (const p of base) {
    if (!chains.has(p.sourceName)) {
      chains.set(p.sourceName, {
        name: p.sourceName,
        versions: Array.from({ length: SPREAD }, (_, k) => older(p.sourceVersion, k)),
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
  const sourceIndex = new Map(sources.map((s, i) => [s.name, i]));

  // Hosts: per source package, 70% current, 20% one or two updates behind, 10% three to five behind.
  const hosts: InstalledPackage[][] = [];
  const steps = new Uint8Array(sources.length);
  for (let h = 0; h < HOSTS; h++) {
    for (let s = 0; s < sources.length; s++) {
      const r = rand();
      steps[s] = r < 0.7 ? 0 : r < 0.9 ? 1 + Math.floor(rand() * 2) : 3 + Math.floor(rand() * 3);
    }
    hosts.push(variants.map((vs, i) => vs[steps[sourceIndex.get(base[i].sourceName)!]]));
  }

  // Advisories over the real source names: mostly fixes older than any host's version, some
  // inside the fleet's spread, about one open (unfixed / no-dsa / postponed) issue per source.
  const advisories: Advisory[] = [];
  for (let i = 0; i < ADVISORIES; i++) {
    const chain = sources[Math.floor(rand() * sources.length)];
    const r = rand();
    let status: AffectedStatus = 'affected';
    let fixed: string | undefined;
    if (r < 0.94)
      fixed = older(chain.versions[SPREAD - 1], 1 + Math.floor(rand() * 20)); // old fix
    else if (r < 0.982)
      fixed = chain.versions[Math.floor(rand() * (SPREAD - 1))]!; // recent fix inside the spread
    else if (r < 0.99) status = 'unfixed';
    else if (r < 0.995) status = 'no-dsa';
    else if (r < 0.997) status = 'postponed';
    else status = 'not-affected';
    const cve = `CVE-${2014 + (i % 11)}-${10000 + i}`;
    const entry: AffectedEntry = {
      ecosystem: 'Debian:12',
      package: chain.name,
      nameKind: 'source',
      status,
      ranges: fixed === undefined ? [] : [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
      versions: [],
    };
    advisories.push({
      id: `DEBIAN-${cve}`,
      source: 'debian-tracker',
      aliases: [],
      cves: [cve],
      modified: new Date('2024-07-01T00:00:00Z'),
      withdrawn: i % 500 === 0 ? new Date('2024-07-02T00:00:00Z') : undefined,
      summary: cve,
      references: [],
      severity: [],
      affected: [entry],
    });
  }

  const ecosystems = ecosystemsForOs({ id: 'debian', family: 'debian', versionId: '12' });
  const start = process.hrtime.bigint();
  const index = buildAdvisoryIndex(advisories);
  const built = process.hrtime.bigint();
  const matcher = createMatcher(index);
  let findings = 0;
  let hostsWithFindings = 0;
  for (const host of hosts) {
    const matches = matcher.match(ecosystems, host);
    findings += matches.length;
    if (matches.length > 0) hostsWithFindings++;
  }
  const end = process.hrtime.bigint();
  let withFix = 0;
  for (const host of hosts.slice(0, 100)) {
    for (const m of matcher.match(ecosystems, host)) if (m.fixedVersion !== null) withFix++;
  }
  const seconds = Number(end - start) / 1e9;
  const peakRss = process.resourceUsage().maxRSS / 1024; // KiB -> MiB
  console.log(
    `matching: ${HOSTS} hosts x ${base.length} packages (${sources.length} source packages, ${SPREAD} versions each) ` +
      `vs ${advisories.length} advisories: ${seconds.toFixed(2)} s ` +
      `(index ${(Number(built - start) / 1e9).toFixed(2)} s), peak RSS ${peakRss.toFixed(0)} MiB (targets < 2 s, < 1024 MiB)`,
  );
  console.log(
    `matching: ${findings} findings, ${(findings / HOSTS).toFixed(0)} per host (${(withFix / 100).toFixed(0)} with a fix), ` +
      `${hostsWithFindings} hosts with findings, ${matcher.warnings().length} warnings`,
  );
  await Promise.resolve();
}
