/**
 * Matching in memory: 10,000 Debian 12 hosts x the ~730 packages of a real status file, with a
 * realistic spread of versions (most hosts current, some a few stable updates behind, a few far
 * behind), against >= 50,000 advisories derived from the real source package names: mostly old
 * fixes, some recent ones inside the fleet's version spread, some unfixed / no-dsa / postponed /
 * not-affected / withdrawn. Hosts share package objects for equal versions (as an inventory store
 * that interns them would); each host's matches are counted and dropped, as a streaming scan does.
 * Prints the time (index build + matching) and the peak RSS of the process.
 */
import { buildAdvisoryIndex, createMatcher, ecosystemsForOs } from '../src/core/matching/index.js';
import { buildDebianAdvisories, buildFleet, prng } from './support/fleet.js';

const HOSTS = 10_000;
const ADVISORIES = 50_000;
const SPREAD = 6; // versions per source package across the fleet: current and 5 older stable updates

export async function run(): Promise<void> {
  const rand = prng(2024);
  const fleet = buildFleet(rand, HOSTS, SPREAD);
  const { base, sources, hosts } = fleet;
  // mostly fixes older than any host's version, some inside the fleet's spread, about one open
  // (unfixed / no-dsa / postponed) issue per source
  const advisories = buildDebianAdvisories(rand, fleet, {
    count: ADVISORIES,
    mix: { oldFix: 0.94, recentFix: 0.042, unfixed: 0.008, noDsa: 0.005, postponed: 0.002 },
    withdrawnEvery: 500,
  });

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
