/**
 * What a command costs to start, side by side in one run: `node -e 0`, `patchbot --version`,
 * `--help`, `vercmp deb 1 2`, and `patchbot scan --dpkg-status F --os debian:12` on a warm embedded
 * database next to `debsecan` checking the same status file against the same bookworm fixes.
 * Each command runs BENCH_RUNS times (default 15), round-robin so a change in the machine's load
 * hits them alike; the median and the fastest wall times are printed with the ratios and whether
 * the targets are met: --version, --help and vercmp within 6x of `node -e 0`; the scan within 2 s
 * and within 10x of debsecan.
 *
 * patchbot runs its compiled code (dist/, as installed); the benchmark builds it first when it is
 * missing or older than src/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/patchbot.js');
const STATUS = path.join(ROOT, 'test/fixtures/inventory/debian12-dpkg-status');
const DEBSECAN_FEED = path.join(ROOT, 'test/fixtures/scan/debsecan-feed');

interface Case {
  label: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Exit codes that mean it ran (scan exits 4 on the bundled, stale advisories). */
  ok: number[];
  times: number[];
  /** CPU time (user + system) of the command and its children, ms. */
  cpu?: number[];
}

function distIsFresh(): boolean {
  try {
    const built = statSync(path.join(ROOT, 'dist/.build-stamp')).mtimeMs;
    for (const e of readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
      if (e.isFile() && statSync(path.join(e.parentPath, e.name)).mtimeMs > built) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function runOnce(c: Case): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(c.command, c.args, {
    cwd: ROOT,
    env: { ...process.env, ...c.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) throw r.error;
  if (!c.ok.includes(r.status ?? -1))
    throw new Error(`${c.label} exited ${r.status}: ${r.stderr.toString().slice(0, 2000)}`);
  return ms;
}

/**
 * The CPU time (user + system) one run takes, from bash's `times` (the children's line): unlike the
 * wall time it hardly changes with the machine's load.
 */
function cpuOnce(c: Case): number {
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; times', 'bench', c.command, ...c.args], {
    cwd: ROOT,
    env: { ...process.env, ...c.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const children = r.stdout.toString().trim().split('\n')[1] ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (seconds.length !== 2)
    throw new Error(`${c.label}: cannot read the CPU time from ${JSON.stringify(r.stdout.toString())}`);
  return (seconds[0] + seconds[1]) * 1000;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const hasDebsecan = (): boolean => spawnSync('debsecan', ['--help'], { stdio: 'ignore' }).status === 0;

export function run(): Promise<void> {
  measure();
  return Promise.resolve();
}

function measure(): void {
  const runs = Number(process.env.BENCH_RUNS ?? 15);
  if (!distIsFresh()) {
    console.log('building dist/ (missing or older than src/)...');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'patchbot-cli-start-'));
  const patchbotEnv = { PATCHBOT_USE_DIST: '1', PATCHBOT_DATA_DIR: dataDir, PATCHBOT_CONFIG: '' };
  try {
    // the warm embedded database: migrated, the bundled advisories imported (not timed)
    execFileSync(process.execPath, [BIN, 'feeds', 'sync', '--offline', '--quiet', '--format', 'json'], {
      cwd: ROOT,
      env: { ...process.env, ...patchbotEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const advisories = (
      JSON.parse(
        spawnSync(
          process.execPath,
          [BIN, 'scan', '--dpkg-status', STATUS, '--os', 'debian:12', '--format', 'json', '--quiet'],
          { cwd: ROOT, env: { ...process.env, ...patchbotEnv }, stdio: ['ignore', 'pipe', 'ignore'] },
        ).stdout.toString(),
      ) as { summary?: { advisoriesConsidered?: number } }
    ).summary?.advisoriesConsidered;
    const packages = (readFileSync(STATUS, 'utf8').match(/^Package: /gm) ?? []).length;
    const debsecanFixes = readFileSync(path.join(DEBSECAN_FEED, 'bookworm.txt'), 'utf8')
      .split('\n\n')[0]
      .split('\n')
      .filter((l) => l.startsWith('CVE-')).length;

    const patchbot = (label: string, args: string[], ok = [0]): Case => ({
      label,
      command: process.execPath,
      args: [BIN, ...args],
      env: patchbotEnv,
      ok,
      times: [],
    });
    const cases: Case[] = [
      { label: 'node -e 0', command: process.execPath, args: ['-e', '0'], ok: [0], times: [] },
      patchbot('patchbot --version', ['--version']),
      patchbot('patchbot --help', ['--help']),
      patchbot('patchbot vercmp deb 1 2', ['vercmp', 'deb', '1', '2']),
      patchbot(
        'patchbot scan --dpkg-status',
        ['scan', '--dpkg-status', STATUS, '--os', 'debian:12', '--quiet'],
        [0, 4],
      ),
    ];
    const debsecan = hasDebsecan();
    if (debsecan)
      cases.push({
        label: 'debsecan',
        command: 'debsecan',
        args: [
          '--suite',
          'bookworm',
          '--source',
          `file://${DEBSECAN_FEED}/`,
          '--status',
          STATUS,
          '--format',
          'simple',
        ],
        ok: [0],
        times: [],
      });

    console.log(
      `input: ${path.relative(ROOT, STATUS)} (${packages} packages); embedded database with the bundled ` +
        `advisories (${advisories ?? '?'} relevant to debian 12); debsecan feed of the same bookworm DSAs ` +
        `(${debsecanFixes} CVEs); ${runs} runs each, round-robin; load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')} on ${os.availableParallelism()} CPUs`,
    );
    for (const c of cases) runOnce(c); // warm the page cache
    for (let i = 0; i < runs; i++) for (const c of cases) c.times.push(runOnce(c));
    for (let i = 0; i < Math.min(runs, 5); i++) for (const c of cases) (c.cpu ??= []).push(cpuOnce(c));

    const byLabel = new Map(cases.map((c) => [c.label, median(c.times)]));
    const base = byLabel.get('node -e 0')!;
    const debsecanMs = byLabel.get('debsecan');
    const scanMs = byLabel.get('patchbot scan --dpkg-status')!;
    const targets: Record<string, () => string> = {
      'patchbot --version': () => verdict(byLabel.get('patchbot --version')! <= 6 * base, '<= 6x node -e 0'),
      'patchbot --help': () => verdict(byLabel.get('patchbot --help')! <= 6 * base, '<= 6x node -e 0'),
      'patchbot vercmp deb 1 2': () =>
        verdict(byLabel.get('patchbot vercmp deb 1 2')! <= 6 * base, '<= 6x node -e 0'),
      'patchbot scan --dpkg-status': () =>
        debsecanMs === undefined
          ? `${verdict(scanMs <= 2000, '<= 2 s')}; vs debsecan: UNKNOWN (debsecan not installed: apt-get install debsecan)`
          : verdict(scanMs <= 2000 && scanMs <= 10 * debsecanMs, '<= 2 s and <= 10x debsecan'),
    };
    console.log(
      `\n${'command'.padEnd(30)} ${'median'.padStart(9)} ${'fastest'.padStart(9)} ${'x node'.padStart(7)} ${'x debsecan'.padStart(10)} ${'CPU'.padStart(8)}  target (on the median wall time)`,
    );
    for (const c of cases) {
      const m = median(c.times);
      console.log(
        `${c.label.padEnd(30)} ${`${m.toFixed(0)} ms`.padStart(9)} ${`${Math.min(...c.times).toFixed(0)} ms`.padStart(9)} ` +
          `${(m / base).toFixed(1).padStart(7)} ${(debsecanMs ? (m / debsecanMs).toFixed(1) : '-').padStart(10)} ` +
          `${`${median(c.cpu ?? [0]).toFixed(0)} ms`.padStart(8)}  ${targets[c.label]?.() ?? ''}`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function verdict(met: boolean, target: string): string {
  return `${met ? 'met' : 'NOT MET'} (${target})`;
}
