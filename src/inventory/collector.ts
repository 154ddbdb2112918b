/**
 * Inventory collection: a FIXED, read-only command set run through an Executor (local or SSH),
 * parsed by the pure parsers into an InventorySnapshot. No argument comes from the host or the
 * user. Storing the snapshot is the caller's job (a repository).
 *
 *   cat /etc/os-release            (falls back to /usr/lib/os-release)
 *   uname -r
 *   test -f /var/lib/dpkg/status | test -f /lib/apk/db/installed | test -d /var/lib/rpm ...
 *   dpkg-query -W -f FORMAT | rpm -qa --qf FORMAT | grep -E '^([PVAo]:|$)' /lib/apk/db/installed
 *   test -e /var/run/reboot-required + cat /var/run/reboot-required.pkgs   (dpkg)
 *   needs-restarting -r, else test -e /run/reboot-needed                   (rpm)
 *
 * then the rest of the baseline (firmware, language packages, lockfiles: ./baseline.ts), which
 * never fails the collection because a tool is missing.
 */
import { PatchbotError, userMessageOf } from '../core/errors.js';
import type { BaselineSource, InventorySnapshot, OsFamily, PackageManagerKind } from '../core/model.js';
import type { ExecResult, Executor } from '../executors/executor.js';
import { collectBaseline, type BaselineOptions } from './baseline.js';
import { mapSettledLimited } from '../executors/pool.js';
import { parseApkInstalled } from './parsers/apk.js';
import { DPKG_QUERY_FORMAT, parseDpkgQuery } from './parsers/dpkg.js';
import { parseKernelRelease } from './parsers/kernel.js';
import { parseOsRelease } from './parsers/os-release.js';
import { needsRestartingVerdict, parseRebootRequiredPkgs } from './parsers/reboot.js';
import { parseRpmQuery, RPM_QUERY_FORMAT } from './parsers/rpm.js';
import type { PackagesParseResult, ParseWarning } from './parsers/warnings.js';

export type CollectWarningSource =
  'os-release' | 'kernel' | 'package-manager' | 'packages' | 'reboot' | BaselineSource;

export interface CollectWarning extends ParseWarning {
  source: CollectWarningSource;
}

export interface CollectOptions {
  /** Per-command timeout (default 60 s). */
  timeoutMs?: number;
  /** Output limit for small commands (default 1 MiB). */
  maxOutputBytes?: number;
  /** Output limit for the package list (default 64 MiB); a longer list fails instead of being cut. */
  packageListMaxBytes?: number;
  /** Firmware and third-party sources (policy `inventory`); false reads only the OS packages. */
  baseline?: Omit<BaselineOptions, 'timeoutMs' | 'maxOutputBytes'> | false;
  now?: () => Date;
}

export interface CollectResult {
  snapshot: InventorySnapshot;
  warnings: CollectWarning[];
}

interface Cmd {
  command: string;
  args: readonly string[];
}

/** Every command the collector may run, for review and tests. Nothing else is ever sent. */
export const INVENTORY_COMMANDS = {
  osRelease: { command: 'cat', args: ['/etc/os-release'] },
  osReleaseFallback: { command: 'cat', args: ['/usr/lib/os-release'] },
  kernel: { command: 'uname', args: ['-r'] },
  detectDpkg: { command: 'test', args: ['-f', '/var/lib/dpkg/status'] },
  detectApk: { command: 'test', args: ['-f', '/lib/apk/db/installed'] },
  detectRpm: { command: 'test', args: ['-d', '/var/lib/rpm'] },
  detectRpmSysimage: { command: 'test', args: ['-d', '/usr/lib/sysimage/rpm'] },
  dpkgPackages: { command: 'dpkg-query', args: ['-W', '-f', DPKG_QUERY_FORMAT] },
  rpmPackages: { command: 'rpm', args: ['-qa', '--qf', RPM_QUERY_FORMAT] },
  apkPackages: { command: 'grep', args: ['-E', '^([PVAo]:|$)', '/lib/apk/db/installed'] },
  rebootRequired: { command: 'test', args: ['-e', '/var/run/reboot-required'] },
  rebootRequiredPkgs: { command: 'cat', args: ['/var/run/reboot-required.pkgs'] },
  needsRestarting: { command: 'needs-restarting', args: ['-r'] },
  rebootNeededSuse: { command: 'test', args: ['-e', '/run/reboot-needed'] },
} as const satisfies Record<string, Cmd>;

const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_PACKAGE_LIST_MAX_BYTES = 64 * 1024 * 1024;

const MANAGER_HINT: Partial<Record<OsFamily, PackageManagerKind>> = {
  debian: 'dpkg',
  ubuntu: 'dpkg',
  alpine: 'apk',
  rhel: 'rpm',
  rocky: 'rpm',
  almalinux: 'rpm',
  fedora: 'rpm',
  suse: 'rpm',
};

class Runner {
  constructor(
    private readonly executor: Executor,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {}

  async run(cmd: Cmd, maxBytes = this.maxBytes): Promise<ExecResult> {
    const result = await this.executor.exec({
      ...cmd,
      timeoutMs: this.timeoutMs,
      maxOutputBytes: maxBytes,
      stopOnOverflow: true,
    });
    const shown = [cmd.command, ...cmd.args].join(' ');
    if (result.timedOut && !result.truncated) {
      throw new PatchbotError(
        'EXEC_TIMEOUT',
        `${shown} on ${this.executor.host} did not finish in ${this.timeoutMs} ms`,
        {
          details: { host: this.executor.host, command: cmd.command },
        },
      );
    }
    if (result.truncated) {
      throw new PatchbotError(
        'EXEC_FAILED',
        `${shown} on ${this.executor.host} printed more than ${maxBytes} bytes; refusing a partial result`,
        { details: { host: this.executor.host, command: cmd.command } },
      );
    }
    return result;
  }

  /** Runs a command that must succeed and returns its stdout. */
  async text(cmd: Cmd, maxBytes?: number): Promise<string> {
    const result = await this.run(cmd, maxBytes);
    if (result.exitCode !== 0) {
      const shown = [cmd.command, ...cmd.args].join(' ');
      const err = result.stderr.trim().split('\n')[0]?.slice(0, 200) ?? '';
      throw new PatchbotError(
        'EXEC_FAILED',
        `${shown} on ${this.executor.host} failed (exit ${result.exitCode ?? result.signal ?? 'unknown'})${err === '' ? '' : `: ${err}`}`,
        { details: { host: this.executor.host, command: cmd.command, exitCode: result.exitCode } },
      );
    }
    return result.stdout;
  }

  /** `test ...`: exit 0 = true, 1 = false, anything else is an error. */
  async test(cmd: Cmd): Promise<boolean> {
    const result = await this.run(cmd);
    if (result.exitCode === 0) return true;
    if (result.exitCode === 1) return false;
    throw new PatchbotError(
      'EXEC_FAILED',
      `${[cmd.command, ...cmd.args].join(' ')} on ${this.executor.host} gave exit ${result.exitCode ?? result.signal ?? 'unknown'}`,
      { details: { host: this.executor.host, command: cmd.command } },
    );
  }
}

function tag(source: CollectWarningSource, warnings: readonly ParseWarning[]): CollectWarning[] {
  return warnings.map((w) => ({ source, line: w.line, reason: w.reason }));
}

async function detectManager(run: Runner, family: OsFamily): Promise<PackageManagerKind | undefined> {
  const probes: Record<PackageManagerKind, () => Promise<boolean>> = {
    dpkg: () => run.test(INVENTORY_COMMANDS.detectDpkg),
    apk: () => run.test(INVENTORY_COMMANDS.detectApk),
    rpm: async () =>
      (await run.test(INVENTORY_COMMANDS.detectRpm)) ||
      (await run.test(INVENTORY_COMMANDS.detectRpmSysimage)),
  };
  const hint = MANAGER_HINT[family];
  const order: PackageManagerKind[] = hint === undefined ? ['dpkg', 'rpm', 'apk'] : [hint];
  for (const kind of ['dpkg', 'rpm', 'apk'] as const) if (!order.includes(kind)) order.push(kind);
  for (const kind of order) {
    if (await probes[kind]()) return kind;
  }
  return undefined;
}

async function listPackages(
  run: Runner,
  manager: PackageManagerKind,
  maxBytes: number,
): Promise<PackagesParseResult> {
  switch (manager) {
    case 'dpkg':
      return parseDpkgQuery(await run.text(INVENTORY_COMMANDS.dpkgPackages, maxBytes));
    case 'rpm':
      return parseRpmQuery(await run.text(INVENTORY_COMMANDS.rpmPackages, maxBytes));
    case 'apk':
      return parseApkInstalled(await run.text(INVENTORY_COMMANDS.apkPackages, maxBytes));
  }
}

async function rebootState(
  run: Runner,
  manager: PackageManagerKind,
  warnings: CollectWarning[],
): Promise<{ required: boolean; packages: string[] }> {
  if (manager === 'dpkg') {
    if (!(await run.test(INVENTORY_COMMANDS.rebootRequired))) return { required: false, packages: [] };
    const pkgs = await run.run(INVENTORY_COMMANDS.rebootRequiredPkgs);
    if (pkgs.exitCode !== 0) return { required: true, packages: [] };
    const parsed = parseRebootRequiredPkgs(pkgs.stdout);
    warnings.push(...tag('reboot', parsed.warnings));
    return { required: true, packages: parsed.packages };
  }
  if (manager === 'rpm') {
    const verdict = needsRestartingVerdict((await run.run(INVENTORY_COMMANDS.needsRestarting)).exitCode);
    if (verdict !== undefined) return { required: verdict, packages: [] };
    if (await run.test(INVENTORY_COMMANDS.rebootNeededSuse)) return { required: true, packages: [] };
    warnings.push({
      source: 'reboot',
      line: 0,
      reason:
        'cannot tell whether a reboot is needed: needs-restarting is not available (dnf-utils / yum-utils)',
    });
    return { required: false, packages: [] };
  }
  warnings.push({
    source: 'reboot',
    line: 0,
    reason: 'apk has no reboot-required marker; reported as not required',
  });
  return { required: false, packages: [] };
}

export async function collectInventory(
  executor: Executor,
  opts: CollectOptions = {},
): Promise<CollectResult> {
  const run = new Runner(executor, opts.timeoutMs ?? 60_000, opts.maxOutputBytes ?? DEFAULT_MAX_BYTES);
  const warnings: CollectWarning[] = [];

  const osText = await run.text(INVENTORY_COMMANDS.osRelease).catch(async (err: unknown) => {
    if (err instanceof PatchbotError && err.code === 'EXEC_FAILED')
      return run.text(INVENTORY_COMMANDS.osReleaseFallback);
    throw err;
  });
  const osRelease = parseOsRelease(osText);
  warnings.push(...tag('os-release', osRelease.warnings));

  const kernel = parseKernelRelease(await run.text(INVENTORY_COMMANDS.kernel));
  warnings.push(...tag('kernel', kernel.warnings));

  const manager = await detectManager(run, osRelease.os.family);
  if (manager === undefined) {
    throw new PatchbotError(
      'UNSUPPORTED',
      `no supported package manager (dpkg, rpm, apk) found on ${executor.host} (${osRelease.os.id} ${osRelease.os.versionId})`,
      { details: { host: executor.host } },
    );
  }
  const listed = await listPackages(run, manager, opts.packageListMaxBytes ?? DEFAULT_PACKAGE_LIST_MAX_BYTES);
  warnings.push(...tag('packages', listed.warnings));
  if (listed.packages.length === 0) {
    const first = listed.warnings[0];
    throw new PatchbotError(
      'EXEC_FAILED',
      `no valid ${manager} package in the package list from ${executor.host}` +
        (first === undefined
          ? ' (the list was empty)'
          : ` (${listed.warnings.length} bad lines; line ${first.line}: ${first.reason})`),
      { details: { host: executor.host, warnings: listed.warnings.slice(0, 10) } },
    );
  }
  const reboot = await rebootState(run, manager, warnings);
  const collectedAt = (opts.now ?? (() => new Date()))();
  const baseline =
    opts.baseline === false
      ? undefined
      : await collectBaseline(executor, {
          ...(opts.baseline ?? {}),
          timeoutMs: opts.timeoutMs ?? 60_000,
          maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_BYTES,
        });
  if (baseline !== undefined) warnings.push(...baseline.warnings);

  const snapshot: InventorySnapshot = {
    os: osRelease.os,
    kernel: kernel.kernel ?? 'unknown',
    packageManager: manager,
    packages: listed.packages,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    collectedAt,
    ...(baseline === undefined ? {} : { baseline: baseline.baseline }),
  };
  return { snapshot, warnings };
}

export type CollectOutcome<H> =
  | { host: H; ok: true; snapshot: InventorySnapshot; warnings: CollectWarning[] }
  | { host: H; ok: false; error: PatchbotError };

export interface CollectProgress<H> {
  done: number;
  total: number;
  outcome: CollectOutcome<H>;
}

export interface CollectManyOptions<H> extends CollectOptions {
  /** Hosts collected at the same time (default 10). */
  concurrency?: number;
  onProgress?: (progress: CollectProgress<H>) => void;
}

function asPatchbotError(err: unknown, host: string): PatchbotError {
  if (err instanceof PatchbotError) return err;
  return new PatchbotError('EXEC_FAILED', `inventory of ${host} failed: ${userMessageOf(err)}`, {
    cause: err,
  });
}

/**
 * Collects many hosts with a concurrency limit. One dead or lying host never stops the others:
 * each host gets an outcome (snapshot or error), in input order, and onProgress hears of each as it ends.
 */
export async function collectMany<H extends { name: string }>(
  hosts: readonly H[],
  executorFactory: (host: H) => Executor | Promise<Executor>,
  opts: CollectManyOptions<H> = {},
): Promise<CollectOutcome<H>[]> {
  let done = 0;
  const settled = await mapSettledLimited(
    hosts,
    opts.concurrency ?? 10,
    async (host): Promise<CollectOutcome<H>> => {
      let outcome: CollectOutcome<H>;
      let executor: Executor | undefined;
      try {
        executor = await executorFactory(host);
        const { snapshot, warnings } = await collectInventory(executor, opts);
        outcome = { host, ok: true, snapshot, warnings };
      } catch (err) {
        outcome = { host, ok: false, error: asPatchbotError(err, host.name) };
      } finally {
        await executor?.close().catch(() => undefined);
      }
      done += 1;
      opts.onProgress?.({ done, total: hosts.length, outcome });
      return outcome;
    },
  );
  return settled.map((s, i) =>
    s.status === 'fulfilled'
      ? s.value
      : { host: hosts[i], ok: false, error: asPatchbotError(s.reason, hosts[i].name) },
  );
}
