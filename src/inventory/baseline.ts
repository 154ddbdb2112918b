/**
 * The rest of a host's baseline, read-only and without root: DMI facts, fwupd devices and HSI
 * attributes, language packages of system interpreters and global npm, and lockfiles under the
 * directories the policy names (docs/inventory.md).
 *
 * Every command is a fixed argument list (BASELINE_COMMANDS); the only values that come from
 * configuration are the interpreter paths and lockfile roots of policy `inventory`, validated as
 * absolute paths, and the only values that come from the host are the lockfile paths `find`
 * printed, each checked to be an absolute path under its root before it is passed (as one
 * argument, never through a shell) to `cat`. A tool that is not installed (exit 127) is recorded
 * as "not present"; a tool that is there and fails is recorded as "failed" with its first line of
 * error: neither fails the collection. Every output is bounded; an output past its bound is
 * refused, never read in part.
 */
import { PatchbotError, userMessageOf } from '../core/errors.js';
import type {
  BaselineSource,
  BaselineSourceStatus,
  DmiInfo,
  FirmwareDevice,
  HostBaseline,
  HsiAttribute,
  ThirdPartyPackage,
} from '../core/model.js';
import type { ExecResult, Executor } from '../executors/executor.js';
import { DMI_SYSFS_FILES, parseDmiSysfs } from './parsers/firmware/dmi.js';
import { parseFwupdDevices, parseFwupdSecurity } from './parsers/firmware/fwupd.js';
import {
  parseCargoLock,
  parseGemfileLock,
  parseGoSum,
  parseNpmLs,
  parsePackageLock,
  parsePipList,
  parsePoetryLock,
  parsePythonMetadata,
  parseRequirementsTxt,
  type Owner,
  type ThirdPartyParseResult,
} from './parsers/third-party/index.js';
import type { ParseWarning } from './parsers/warnings.js';

export interface BaselineOptions {
  /** Read firmware facts (DMI, fwupd, HSI). Default true. */
  firmware?: boolean;
  /** Interpreters whose `pip list` is read (absolute paths). Default ['/usr/bin/python3']. */
  python?: readonly string[];
  /** Directories searched for `*.dist-info/METADATA` of system Python packages. */
  sitePackages?: readonly string[];
  /** Read `npm ls -g`. Default true. */
  npm?: boolean;
  /** Files or directories searched for lockfiles (absolute paths). Default none. */
  lockfiles?: readonly string[];
  /** How deep `find` descends below a lockfile root (default 4). */
  lockfileDepth?: number;
  /** Most lockfiles read per host (default 200); more are reported, not read. */
  maxLockfiles?: number;
  timeoutMs: number;
  /** Bound of each small output (default 1 MiB). */
  maxOutputBytes?: number;
  /** Bound of one JSON listing or lockfile (default 16 MiB). */
  maxDocumentBytes?: number;
}

export interface BaselineWarning extends ParseWarning {
  source: BaselineSource;
}

export interface BaselineResult {
  baseline: HostBaseline;
  warnings: BaselineWarning[];
}

interface Cmd {
  command: string;
  args: readonly string[];
}

/** Lockfile names patchbot reads, and their parser. requirements files: `requirements*.txt`. */
const LOCKFILE_NAMES = ['package-lock.json', 'poetry.lock', 'go.sum', 'Cargo.lock', 'Gemfile.lock'];

/** Every command of this module with no configured value in it, for review and tests. */
export const BASELINE_COMMANDS = {
  dmi: { command: 'grep', args: ['-s', '-H', '', ...DMI_SYSFS_FILES] },
  fwupdDevices: { command: 'fwupdmgr', args: ['get-devices', '--json'] },
  fwupdtoolDevices: { command: 'fwupdtool', args: ['get-devices', '--json'] },
  fwupdSecurity: { command: 'fwupdmgr', args: ['security', '--json'] },
  fwupdtoolSecurity: { command: 'fwupdtool', args: ['security', '--json'] },
  npmPrefix: { command: 'npm', args: ['prefix', '-g'] },
  npmList: { command: 'npm', args: ['ls', '-g', '--json', '--all'] },
} as const satisfies Record<string, Cmd>;

/** `<python> -m pip list --format=json`, for one configured interpreter. */
export function pipListCommand(python: string): Cmd {
  return { command: python, args: ['-m', 'pip', 'list', '--format=json', '--disable-pip-version-check'] };
}

/** Name and Version headers of every `*.dist-info/METADATA` under one site directory root. */
export function distInfoCommand(root: string): Cmd {
  return {
    command: 'find',
    args: [
      root,
      '-maxdepth',
      '5',
      '-path',
      '*-packages/*.dist-info/METADATA',
      '-type',
      'f',
      '-exec',
      'grep',
      '-H',
      '-m',
      '2',
      '-E',
      '^(Name|Version):',
      '{}',
      '+',
    ],
  };
}

/** The lockfiles under one configured root. */
export function lockfileFindCommand(root: string, depth: number): Cmd {
  const names = [...LOCKFILE_NAMES.flatMap((n) => ['-name', n, '-o']), '-name', 'requirements*.txt'];
  return {
    command: 'find',
    args: [
      root,
      '-maxdepth',
      String(depth),
      '-type',
      'f',
      '-not',
      '-path',
      '*/node_modules/*',
      '(',
      ...names,
      ')',
    ],
  };
}

const NOT_FOUND = 127;

/** Absolute path of printable characters without `..` components (what policy and `find` may give). */
export function isSafeAbsolutePath(p: string): boolean {
  return (
    p.startsWith('/') &&
    p.length <= 4096 &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(p) &&
    !p.split('/').includes('..')
  );
}

class Reader {
  readonly sources: BaselineSourceStatus[] = [];
  readonly warnings: BaselineWarning[] = [];

  constructor(
    private readonly executor: Executor,
    private readonly opts: BaselineOptions,
  ) {}

  async exec(cmd: Cmd, big = false): Promise<ExecResult> {
    const max = big
      ? (this.opts.maxDocumentBytes ?? 16 * 1024 * 1024)
      : (this.opts.maxOutputBytes ?? 1024 * 1024);
    const result = await this.executor.exec({
      ...cmd,
      timeoutMs: this.opts.timeoutMs,
      maxOutputBytes: max,
      stopOnOverflow: true,
    });
    const shown = [cmd.command, ...cmd.args.slice(0, 3)].join(' ');
    if (result.truncated)
      throw new PatchbotError('EXEC_FAILED', `${shown} printed more than ${max} bytes; not read`);
    if (result.timedOut)
      throw new PatchbotError('EXEC_TIMEOUT', `${shown} did not finish in ${this.opts.timeoutMs} ms`);
    return result;
  }

  record(source: BaselineSource, status: BaselineSourceStatus['status'], detail: string): void {
    this.sources.push({ source, status, detail });
  }

  warn(source: BaselineSource, warnings: readonly ParseWarning[], prefix = ''): void {
    for (const w of warnings.slice(0, 50))
      this.warnings.push({
        source,
        line: w.line,
        reason: prefix === '' ? w.reason : `${prefix}: ${w.reason}`,
      });
  }

  /** Runs `body`; an exec failure of this source is recorded as failed, never thrown. */
  async guard(source: BaselineSource, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      if (!(err instanceof PatchbotError) || (err.code !== 'EXEC_FAILED' && err.code !== 'EXEC_TIMEOUT'))
        throw err;
      this.record(source, 'failed', userMessageOf(err));
    }
  }
}

function firstLine(result: ExecResult): string {
  const text = (result.stderr.trim() === '' ? result.stdout : result.stderr).trim();
  return (text.split('\n')[0] ?? '').slice(0, 200);
}

function exitOf(result: ExecResult): string {
  return `exit ${result.exitCode ?? result.signal ?? 'unknown'}`;
}

async function readDmi(r: Reader): Promise<DmiInfo | undefined> {
  let dmi: DmiInfo | undefined;
  await r.guard('dmi', async () => {
    const result = await r.exec(BASELINE_COMMANDS.dmi);
    // grep: 0 = lines printed, 1 = none, 2 = a file was missing (the others still printed)
    if (result.exitCode === NOT_FOUND) return r.record('dmi', 'not-present', 'grep is not installed');
    if (result.exitCode !== 0 && result.exitCode !== 1 && result.exitCode !== 2)
      return r.record('dmi', 'failed', `grep ${exitOf(result)}: ${firstLine(result)}`);
    if (result.stdout.trim() === '')
      return r.record(
        'dmi',
        'not-present',
        '/sys/class/dmi/id is not there (no SMBIOS tables: a VM or container)',
      );
    const parsed = parseDmiSysfs(result.stdout);
    r.warn('dmi', parsed.warnings);
    dmi = parsed.dmi;
    r.record('dmi', 'collected', `${Object.keys(parsed.dmi).length} fields`);
  });
  return dmi;
}

/**
 * fwupdmgr (through the daemon, no root), else fwupdtool (in process: usually needs root, so it
 * fails for an unprivileged user; recorded). Returns the JSON text of the first that answered.
 */
async function fwupd(
  r: Reader,
  source: BaselineSource,
  viaDaemon: Cmd,
  inProcess: Cmd,
  validate: (text: string) => string | undefined,
): Promise<string | undefined> {
  let text: string | undefined;
  await r.guard(source, async () => {
    const problems: string[] = [];
    let present = false;
    for (const cmd of [viaDaemon, inProcess]) {
      const result = await r.exec(cmd, true);
      if (result.exitCode === NOT_FOUND) continue;
      present = true;
      // exit 2 is fwupd's "nothing to do" (no devices); its JSON is still the answer
      const error = validate(result.stdout);
      if ((result.exitCode === 0 || result.exitCode === 2) && error === undefined) {
        text = result.stdout;
        return;
      }
      problems.push(`${cmd.command} ${cmd.args[0]} ${exitOf(result)}: ${error ?? firstLine(result)}`);
    }
    if (!present) r.record(source, 'not-present', 'fwupd is not installed (neither fwupdmgr nor fwupdtool)');
    else r.record(source, 'failed', problems.join('; '));
  });
  return text;
}

async function readFirmware(
  r: Reader,
): Promise<{ devices: FirmwareDevice[]; hsi: HsiAttribute[] | undefined }> {
  let devices: FirmwareDevice[] = [];
  let hsi: HsiAttribute[] | undefined;
  const devicesText = await fwupd(
    r,
    'fwupd',
    BASELINE_COMMANDS.fwupdDevices,
    BASELINE_COMMANDS.fwupdtoolDevices,
    (t) => parseFwupdDevices(t).error,
  );
  if (devicesText !== undefined) {
    const parsed = parseFwupdDevices(devicesText);
    r.warn('fwupd', parsed.warnings);
    devices = parsed.devices;
    r.record('fwupd', 'collected', `${devices.length} devices`);
  }
  if (r.sources.some((s) => s.source === 'fwupd' && s.status === 'not-present')) {
    r.record('hsi', 'not-present', 'fwupd is not installed');
    return { devices, hsi };
  }
  const securityText = await fwupd(
    r,
    'hsi',
    BASELINE_COMMANDS.fwupdSecurity,
    BASELINE_COMMANDS.fwupdtoolSecurity,
    (t) => parseFwupdSecurity(t).error,
  );
  if (securityText !== undefined) {
    const parsed = parseFwupdSecurity(securityText);
    r.warn('hsi', parsed.warnings);
    hsi = parsed.attributes;
    r.record('hsi', 'collected', `${hsi.length} attributes`);
  }
  return { devices, hsi };
}

/** Adds a parse result's packages; returns how many. */
function take(
  r: Reader,
  source: BaselineSource,
  into: ThirdPartyPackage[],
  parsed: ThirdPartyParseResult,
  what: string,
): number {
  r.warn(source, parsed.warnings, what);
  if (parsed.unpinned.length > 0) {
    r.warnings.push({
      source,
      line: parsed.unpinned[0].line,
      reason: `${what}: ${parsed.unpinned.length} requirements pin no single version (${parsed.unpinned
        .slice(0, 5)
        .map((u) => u.requirement)
        .join(', ')}); not matched`,
    });
  }
  into.push(...parsed.packages);
  return parsed.packages.length;
}

async function readPython(r: Reader, opts: BaselineOptions, into: ThirdPartyPackage[]): Promise<void> {
  const interpreters = opts.python ?? ['/usr/bin/python3'];
  const seen = new Set<string>();
  const read: string[] = [];
  const failedOnes: string[] = [];
  const absent: string[] = [];
  for (const python of interpreters) {
    if (!isSafeAbsolutePath(python)) {
      failedOnes.push(`${JSON.stringify(python)} is not an absolute path`);
      continue;
    }
    let result: ExecResult;
    try {
      result = await r.exec(pipListCommand(python), true);
    } catch (err) {
      if (!(err instanceof PatchbotError) || (err.code !== 'EXEC_FAILED' && err.code !== 'EXEC_TIMEOUT'))
        throw err;
      failedOnes.push(`${python}: ${userMessageOf(err)}`);
      continue;
    }
    if (result.exitCode === NOT_FOUND) {
      absent.push(python);
      continue;
    }
    if (result.exitCode !== 0) {
      // a system interpreter without pip: its packages are read from their metadata instead
      if (/No module named pip/.test(result.stderr)) absent.push(`${python} (no pip)`);
      else failedOnes.push(`${python}: ${exitOf(result)}: ${firstLine(result)}`);
      continue;
    }
    const parsed = parsePipList(result.stdout, { owner: python, ownerKind: 'interpreter' });
    if (parsed.error !== undefined) {
      failedOnes.push(`${python}: ${parsed.error}`);
      continue;
    }
    for (const p of parsed.packages) seen.add(`${p.name.toLowerCase()}\u0000${p.version}`);
    read.push(`${python}: ${take(r, 'pip', into, parsed, python)} packages`);
  }
  if (failedOnes.length > 0) r.record('pip', 'failed', [...failedOnes, ...read].join('; '));
  else if (read.length > 0) r.record('pip', 'collected', read.join('; '));
  else r.record('pip', 'not-present', `no interpreter with pip (${absent.join(', ') || 'none configured'})`);

  // *.dist-info metadata: packages no pip list above reported (a system Python without pip)
  const roots = (opts.sitePackages ?? ['/usr/lib/python3', '/usr/local/lib']).filter(isSafeAbsolutePath);
  await r.guard('python-metadata', async () => {
    let count = 0;
    let present = false;
    for (const root of roots) {
      const result = await r.exec(distInfoCommand(root), true);
      if (result.exitCode === NOT_FOUND) continue;
      // find: 1 when a directory is missing or unreadable; what it printed is still good
      if (result.exitCode !== 0 && result.exitCode !== 1) {
        throw new PatchbotError('EXEC_FAILED', `find ${root} ${exitOf(result)}: ${firstLine(result)}`);
      }
      if (result.stdout.trim() !== '') present = true;
      for (const [file, text] of groupHeaders(result.stdout)) {
        const siteDir = file.replace(/\/[^/]+\.dist-info\/METADATA$/, '');
        const parsed = parsePythonMetadata(text, { owner: siteDir, ownerKind: 'site-packages' });
        if (parsed.error !== undefined) {
          r.warnings.push({ source: 'python-metadata', line: 0, reason: `${file}: ${parsed.error}` });
          continue;
        }
        const fresh = {
          ...parsed,
          packages: parsed.packages.filter((p) => !seen.has(`${p.name.toLowerCase()}\u0000${p.version}`)),
        };
        count += take(r, 'python-metadata', into, fresh, file);
      }
    }
    if (present) r.record('python-metadata', 'collected', `${count} packages not listed by pip`);
    else r.record('python-metadata', 'not-present', `no *.dist-info under ${roots.join(', ')}`);
  });
}

/** `grep -H` lines (`FILE:Name: x`) -> file -> metadata header text. */
function groupHeaders(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\/.+\/METADATA):((?:Name|Version):.*)$/.exec(line);
    if (m === null) continue;
    out.set(m[1], `${out.get(m[1]) ?? ''}${m[2]}\n`);
  }
  return out;
}

async function readNpm(r: Reader, into: ThirdPartyPackage[]): Promise<void> {
  await r.guard('npm', async () => {
    const prefix = await r.exec(BASELINE_COMMANDS.npmPrefix);
    if (prefix.exitCode === NOT_FOUND) return r.record('npm', 'not-present', 'npm is not installed');
    const root = prefix.stdout.trim();
    const owner: Owner = {
      owner: prefix.exitCode === 0 && isSafeAbsolutePath(root) ? root : 'npm -g',
      ownerKind: 'global-npm',
    };
    const result = await r.exec(BASELINE_COMMANDS.npmList, true);
    // npm ls exits 1 when the tree has problems (a missing peer) and still prints the tree
    const parsed = parseNpmLs(result.stdout, owner);
    if (parsed.error !== undefined)
      return r.record('npm', 'failed', `npm ls ${exitOf(result)}: ${parsed.error}`);
    r.record(
      'npm',
      'collected',
      `${take(r, 'npm', into, parsed, 'npm ls -g')} packages under ${owner.owner}`,
    );
  });
}

function parserFor(file: string): ((text: string, owner: Owner) => ThirdPartyParseResult) | undefined {
  const base = file.slice(file.lastIndexOf('/') + 1);
  if (base === 'package-lock.json') return parsePackageLock;
  if (base === 'poetry.lock') return parsePoetryLock;
  if (base === 'go.sum') return parseGoSum;
  if (base === 'Cargo.lock') return parseCargoLock;
  if (base === 'Gemfile.lock') return parseGemfileLock;
  if (/^requirements[^/]*\.txt$/.test(base)) return parseRequirementsTxt;
  return undefined;
}

async function readLockfiles(r: Reader, opts: BaselineOptions, into: ThirdPartyPackage[]): Promise<void> {
  const roots = opts.lockfiles ?? [];
  if (roots.length === 0)
    return r.record('lockfiles', 'not-present', 'no lockfile paths in policy inventory.lockfiles');
  const max = opts.maxLockfiles ?? 200;
  await r.guard('lockfiles', async () => {
    const files: string[] = [];
    const missing: string[] = [];
    for (const root of roots) {
      if (!isSafeAbsolutePath(root)) continue;
      const result = await r.exec(lockfileFindCommand(root, opts.lockfileDepth ?? 4));
      if (result.exitCode === NOT_FOUND) throw new PatchbotError('EXEC_FAILED', 'find is not installed');
      const found = result.stdout
        .split('\n')
        .filter(
          (f) =>
            f !== '' &&
            isSafeAbsolutePath(f) &&
            (f === root || f.startsWith(root.endsWith('/') ? root : `${root}/`)),
        );
      if (result.exitCode !== 0 && found.length === 0)
        missing.push(`${root} (${firstLine(result) || exitOf(result)})`);
      for (const f of found) if (!files.includes(f)) files.push(f);
    }
    files.sort();
    if (files.length > max) {
      r.warnings.push({
        source: 'lockfiles',
        line: 0,
        reason: `${files.length} lockfiles found; the first ${max} were read`,
      });
      files.length = max;
    }
    let count = 0;
    const unread: string[] = [];
    for (const file of files) {
      const parse = parserFor(file);
      if (parse === undefined) continue;
      const result = await r.exec({ command: 'cat', args: ['--', file] }, true);
      if (result.exitCode !== 0) {
        unread.push(`${file}: ${firstLine(result) || exitOf(result)}`);
        continue;
      }
      const parsed = parse(result.stdout, { owner: file, ownerKind: 'lockfile' });
      if (parsed.error !== undefined) {
        unread.push(`${file}: ${parsed.error}`);
        continue;
      }
      count += take(r, 'lockfiles', into, parsed, file);
    }
    const detail = [
      `${files.length} lockfiles, ${count} packages`,
      ...missing.map((m) => `not found: ${m}`),
      ...unread,
    ].join('; ');
    r.record(
      'lockfiles',
      unread.length > 0 ? 'failed' : files.length > 0 ? 'collected' : 'not-present',
      detail,
    );
  });
}

/** Reads the baseline of one host (see the file comment); never fails because a tool is missing. */
export async function collectBaseline(executor: Executor, opts: BaselineOptions): Promise<BaselineResult> {
  const r = new Reader(executor, opts);
  const thirdParty: ThirdPartyPackage[] = [];
  let dmi: DmiInfo | undefined;
  let firmware: FirmwareDevice[] = [];
  let hsi: HsiAttribute[] | undefined;
  if (opts.firmware !== false) {
    dmi = await readDmi(r);
    ({ devices: firmware, hsi } = await readFirmware(r));
  }
  await readPython(r, opts, thirdParty);
  if (opts.npm !== false) await readNpm(r, thirdParty);
  await readLockfiles(r, opts, thirdParty);
  const baseline: HostBaseline = { firmware, thirdParty, sources: r.sources };
  if (dmi !== undefined) baseline.dmi = dmi;
  if (hsi !== undefined) baseline.hsi = hsi;
  return { baseline, warnings: r.warnings };
}
