/**
 * Differential test against Debian's own scanner: for the same dpkg status and the same five real
 * bookworm DSAs, `patchbot scan` must report exactly the (CVE, binary package) pairs that
 * `debsecan` reports. Each round sets the glibc, openssl, openssh and xz-utils binaries of a real
 * Debian 12 status file to versions drawn (with a fixed seed) from real bookworm versions around
 * the fixes, including binNMUs (`+b1` with `Source: pkg (version)`), epochs and exact fixes.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const STATUS = path.join(fixtures, 'inventory/debian12-dpkg-status');
const TRACKER = path.join(fixtures, 'scan/bookworm-dsa-sample.tracker.json');
const DEBSECAN_FEED = path.join(fixtures, 'scan/debsecan-feed');

/** Real bookworm versions of each source package around its security fixes. */
const CANDIDATES: Record<string, string[]> = {
  glibc: [
    '2.36-9',
    '2.36-9+deb12u1',
    '2.36-9+deb12u2',
    '2.36-9+deb12u3',
    '2.36-9+deb12u4',
    '2.36-9+deb12u7',
    '2.36-9+deb12u14',
  ],
  openssl: ['3.0.9-1', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2', '3.0.13-1~deb12u1', '3.0.19-1~deb12u2'],
  openssh: ['1:9.2p1-2', '1:9.2p1-2+deb12u1', '1:9.2p1-2+deb12u2', '1:9.2p1-2+deb12u3', '1:9.2p1-2+deb12u6'],
  'xz-utils': ['5.4.1-0.2', '5.4.1-1'],
};

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Para {
  name: string;
  source: string;
  text: string;
}

function paragraphs(): Para[] {
  return readFileSync(STATUS, 'utf8')
    .trim()
    .split(/\n\n+/)
    .map((text) => {
      const name = /^Package: (.+)$/m.exec(text)?.[1] ?? '';
      const source = /^Source: (\S+)/m.exec(text)?.[1] ?? name;
      return { name, source, text };
    });
}

/** A status file with the binaries of CANDIDATES' sources set to random candidate versions. */
function mutatedStatus(paras: Para[], random: () => number): { text: string; changed: string[] } {
  const changed: string[] = [];
  const out = paras.map((p) => {
    const versions = CANDIDATES[p.source];
    if (!versions) return p.text;
    const version = versions[Math.floor(random() * versions.length)];
    const binNmu = random() < 0.3;
    let text = p.text.replace(/^Version: .*$/m, `Version: ${binNmu ? `${version}+b1` : version}`);
    const sourceLine = binNmu
      ? `Source: ${p.source} (${version})`
      : p.source === p.name
        ? ''
        : `Source: ${p.source}`;
    text = /^Source: .*$/m.test(text)
      ? text.replace(/^Source: .*$/m, sourceLine)
      : sourceLine
        ? text.replace(/^(Package: .*)$/m, `$1\n${sourceLine}`)
        : text;
    text = text.replace(/\n\n+/g, '\n');
    changed.push(`${p.name}=${binNmu ? `${version}+b1 (source ${version})` : version}`);
    return text;
  });
  return { text: `${out.join('\n\n')}\n`, changed };
}

async function debsecanPairs(statusFile: string): Promise<string[]> {
  const { stdout } = await run('debsecan', [
    '--suite',
    'bookworm',
    '--source',
    `file://${DEBSECAN_FEED}/`,
    '--status',
    statusFile,
    '--format',
    'simple',
  ]).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new Error('debsecan is not installed: apt-get install debsecan');
    throw err;
  });
  return [
    ...new Set(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.trim().replace(/\s+/, ' ')),
    ),
  ].sort();
}

interface ScanJson {
  findings: { package: string; cves: string[]; installedVersion: string; fixedVersion: string | null }[];
}

describe('scan agrees with debsecan on real bookworm DSAs', () => {
  let db: TempPostgres;
  let tmp: TempDir;
  let env: NodeJS.ProcessEnv;
  const paras = paragraphs();

  beforeAll(async () => {
    db = await createTempPostgres('debsecan');
    tmp = await createTempDir('debsecan');
    env = { DATABASE_URL: db.url };
    const migrated = await runCli(['db', 'migrate'], env, tmp.dir);
    expect(migrated.code, migrated.stderr).toBe(0);
    // a copy dated now: the advisories are current, so every round is an assessed scan (exit 0)
    const tracker = path.join(tmp.dir, 'tracker.json');
    copyFileSync(TRACKER, tracker);
    const synced = await runCli(['feeds', 'sync', '--from', tracker, '--quiet'], env, tmp.dir);
    expect(synced.code, synced.stderr + synced.stdout).toBe(0);
  });

  afterAll(async () => {
    await db?.drop();
    await tmp?.remove();
  });

  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  let totalPairs = 0;

  it.each(seeds)('round with seed %i', async (seed) => {
    const { text, changed } = mutatedStatus(paras, rng(seed));
    const statusFile = path.join(tmp.dir, `status-${seed}`);
    writeFileSync(statusFile, text);

    const expected = await debsecanPairs(statusFile);
    const result = await runCli(
      ['scan', '--dpkg-status', statusFile, '--os', 'debian:12', '--format', 'json', '--quiet'],
      env,
      tmp.dir,
    );
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as ScanJson;
    const actual = [...new Set(json.findings.flatMap((f) => f.cves.map((c) => `${c} ${f.package}`)))].sort();
    totalPairs += expected.length;
    expect(actual, `versions: ${changed.join(', ')}`).toEqual(expected);
  });

  it('the rounds exercised real findings', () => {
    // a comparison of two empty sets would prove nothing
    expect(totalPairs).toBeGreaterThan(20);
  });
});
