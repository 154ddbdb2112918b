/**
 * The reference implementations the differential tests compare against, each run as ONE process
 * for many pairs: dpkg's ordering through python3-apt (`apt_pkg.version_compare`, checked against
 * `dpkg --compare-versions` on a sample), rpm's through `rpm --eval` running Lua (`rpm.vercmp` and
 * `rpm.ver` objects). A missing oracle fails with the Debian package to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SYSTEM_PYTHON = '/usr/bin/python3';

function missing(what: string, aptPackage: string): Error {
  return new Error(
    `${what} is not available: install the Debian package ${aptPackage} (apt-get install -y ${aptPackage})`,
  );
}

export function requireAptPkg(): void {
  if (!existsSync(SYSTEM_PYTHON)) throw missing(SYSTEM_PYTHON, 'python3');
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import apt_pkg'], { encoding: 'utf8' });
  if (probe.status !== 0) throw missing('python module apt_pkg', 'python3-apt');
}

export function requireDpkg(): void {
  const probe = spawnSync('dpkg', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw missing('dpkg', 'dpkg');
}

export function requireRpm(): void {
  const probe = spawnSync('rpm', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) throw missing('rpm', 'rpm');
}

const APT_SCRIPT = `
import sys, apt_pkg
apt_pkg.init_system()
out = []
for line in sys.stdin.buffer.read().decode('utf-8', 'surrogateescape').split('\\n'):
    if not line:
        continue
    a, b = line.split('\\t')
    r = apt_pkg.version_compare(a, b)
    out.append('-1' if r < 0 else ('1' if r > 0 else '0'))
sys.stdout.write('\\n'.join(out) + '\\n')
`;

/** Sign of apt_pkg.version_compare(a, b) for every pair, in one python3 process. */
export function aptCompareAll(pairs: readonly (readonly [string, string])[]): number[] {
  requireAptPkg();
  const input = pairs.map(([a, b]) => `${a}\t${b}\n`).join('');
  const out = execFileSync(SYSTEM_PYTHON, ['-c', APT_SCRIPT], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const results = out.trim().split('\n').map(Number);
  if (results.length !== pairs.length)
    throw new Error(`apt_pkg answered ${results.length} of ${pairs.length} pairs`);
  return results;
}

export type DpkgAnswer = -1 | 0 | 1 | 'invalid';

/** `dpkg --compare-versions` on one pair (one process per pair: for samples only). */
export function dpkgCompare(a: string, b: string): DpkgAnswer {
  const run = (op: string): number | null =>
    spawnSync('dpkg', ['--compare-versions', '--', a, op, b], { encoding: 'utf8' }).status;
  const lt = run('lt');
  if (lt === 2) return 'invalid';
  if (lt === 0) return -1;
  const eq = run('eq');
  if (eq === 2) return 'invalid';
  return eq === 0 ? 0 : 1;
}

/** Whether dpkg accepts `v` (warnings allowed, as `dpkg --compare-versions` allows them). */
export function dpkgAccepts(v: string): boolean {
  const r = spawnSync('dpkg', ['--compare-versions', '--', v, 'eq', '0'], { encoding: 'utf8' });
  if (r.status === 2) return false;
  if (r.status === 0 || r.status === 1) return true;
  throw new Error(`dpkg --compare-versions ${JSON.stringify(v)} exited with ${r.status}: ${r.stderr}`);
}

/**
 * rpm's answers for every pair, in one `rpm --eval` process: [rpm.vercmp(a, b), order of rpm.ver(a)
 * and rpm.ver(b)] (the second is the EVR comparison).
 */
export function rpmCompareAll(pairs: readonly (readonly [string, string])[]): [number, number][] {
  requireRpm();
  const dir = mkdtempSync(path.join(tmpdir(), 'patchbot-rpm-oracle-'));
  try {
    const inFile = path.join(dir, 'pairs.tsv');
    const outFile = path.join(dir, 'answers.txt');
    writeFileSync(inFile, pairs.map(([a, b]) => `${a}\t${b}\n`).join(''));
    const lua = [
      `local out = io.open(${JSON.stringify(outFile)}, "w")`,
      `for line in io.lines(${JSON.stringify(inFile)}) do`,
      '  local a, b = line:match("^([^\\t]*)\\t([^\\t]*)$")',
      '  local c = rpm.vercmp(a, b)',
      '  local va = rpm.ver(a)',
      '  local vb = rpm.ver(b)',
      '  local e = 1',
      '  if va == vb then e = 0 elseif va < vb then e = -1 end',
      '  out:write(c, " ", e, "\\n")',
      'end',
      'out:close()',
    ].join('\n');
    execFileSync('rpm', ['--eval', `%{lua:\n${lua}\n}`], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const lines = readFileSync(outFile, 'utf8').trim().split('\n');
    if (lines.length !== pairs.length)
      throw new Error(`rpm answered ${lines.length} of ${pairs.length} pairs`);
    return lines.map((l) => {
      const [c, e] = l.split(' ').map(Number);
      return [Math.sign(c), e];
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Real Debian versions on this machine: the apt package lists (after `apt-get update`), the
 * installed packages (`dpkg-query -W`) and the Debian 12 status file in the fixtures.
 * Returns package name -> versions seen.
 */
export function realDebianVersions(statusFixture: string): Map<string, Set<string>> {
  const byPackage = new Map<string, Set<string>>();
  const add = (name: string, version: string): void => {
    if (name === '' || version === '') return;
    let set = byPackage.get(name);
    if (set === undefined) byPackage.set(name, (set = new Set()));
    set.add(version);
  };
  const readStanzas = (text: string): void => {
    let name = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('Package: ')) name = line.slice(9).trim();
      else if (line.startsWith('Version: ')) add(name, line.slice(9).trim());
      else if (line.startsWith('Source: ')) {
        const m = /^Source: (\S+) \(([^)]+)\)/.exec(line);
        if (m) add(m[1], m[2]);
      }
    }
  };
  const listsDir = '/var/lib/apt/lists';
  if (existsSync(listsDir)) {
    for (const f of readdirSync(listsDir).filter((n) => /_Packages(\.\w+)?$/.test(n))) {
      const text = execFileSync('/usr/lib/apt/apt-helper', ['cat-file', path.join(listsDir, f)], {
        encoding: 'utf8',
        maxBuffer: 512 << 20,
      });
      readStanzas(text);
    }
  }
  const installed = execFileSync('dpkg-query', ['-W', '-f', '${Package}\t${Version}\n'], {
    encoding: 'utf8',
  });
  for (const line of installed.split('\n')) {
    const [name, version] = line.split('\t');
    if (name !== undefined && version !== undefined) add(name, version);
  }
  readStanzas(readFileSync(statusFixture, 'utf8'));
  return byPackage;
}

/** A small deterministic PRNG (mulberry32), so a failing pair can be reproduced. */
export function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export function requireFwupdtool(): void {
  const probe = spawnSync('fwupdtool', ['vercmp', '1', '2'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) throw missing('fwupdtool vercmp', 'fwupd');
}

/**
 * `fwupdtool vercmp A B [FORMAT]` (fwupd's own fu_version_compare) for every case, a few
 * processes at a time. Versions must not start with `-` (fwupdtool would read an option).
 */
export async function fwupdCompareAll(
  cases: readonly { a: string; b: string; format: string }[],
  parallel = 4,
): Promise<number[]> {
  requireFwupdtool();
  const { spawn } = await import('node:child_process');
  const answers = new Array<number>(cases.length);
  let next = 0;
  const run = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const { a, b, format } = cases[i];
      const args = ['vercmp', a, b];
      if (format !== 'unknown') args.push(format);
      const child = spawn('fwupdtool', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => {
        const m = / (<|==|>) /.exec(out.split('\n').find((l) => / (<|==|>) /.test(l)) ?? '');
        if (code !== 0 || m === null) {
          reject(new Error(`fwupdtool ${args.join(' ')} exited ${code}: ${out}`));
          return;
        }
        answers[i] = m[1] === '<' ? -1 : m[1] === '>' ? 1 : 0;
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (next < cases.length) await run(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return answers;
}

export function requireRuby(): void {
  const probe = spawnSync(
    'ruby',
    ['-e', 'require "rubygems"; print Gem::Version.new("1.0") <=> Gem::Version.new("1")'],
    {
      encoding: 'utf8',
    },
  );
  if (probe.error !== undefined || probe.status !== 0 || probe.stdout !== '0')
    throw missing('ruby (Gem::Version)', 'ruby');
}

const RUBY_SCRIPT = `
out = []
STDIN.read.split("\\n", -1).each do |line|
  next if line.empty?
  a, b = line.split("\\t", -1)
  if !Gem::Version.correct?(a) || !Gem::Version.correct?(b)
    out << "invalid"
  else
    out << (Gem::Version.new(a) <=> Gem::Version.new(b)).to_s
  end
end
STDOUT.write(out.join("\\n") + "\\n")
`;

/** Gem::Version's answer for every pair (-1, 0, 1 or 'invalid'), in one ruby process. */
export function rubyGemsCompareAll(pairs: readonly (readonly [string, string])[]): (number | 'invalid')[] {
  requireRuby();
  const out = execFileSync('ruby', ['-e', RUBY_SCRIPT], {
    input: pairs.map(([a, b]) => `${a}\t${b}\n`).join(''),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const results = out.trim().split('\n');
  if (results.length !== pairs.length)
    throw new Error(`ruby answered ${results.length} of ${pairs.length} pairs`);
  return results.map((r) => (r === 'invalid' ? 'invalid' : Number(r)));
}
