/**
 * The steps on one host, each stored in PostgreSQL before the next starts:
 *
 *   pre-baseline (installed versions) -> install the exact versions -> post-baseline -> verify ->
 *   reboot (when needed and allowed; wait for a new boot id within the limit) -> health checks
 *
 * and, after a halt, the rollback: reinstall the pre-baseline versions where the package manager
 * can, then verify; what it cannot restore is reported plainly, per package.
 *
 * Saving: steps that only read the host (baselines, verify, the reboot check, health probes) move
 * the run on in memory; what they found is stored with the next write, which comes before any
 * command with an effect (install, reboot, rollback: each records that its command was sent) and at
 * the end. A host therefore costs a few writes, not one per step.
 *
 * Commands with an effect (install, rollback) run as jobs on the host (src/executors/jobs.ts): the
 * job's name is stored with the "sent" mark before it is sent, and its record on the host says
 * later whether it still runs, finished (and how), was lost or never started. patchbot never
 * interrupts one: when the install timeout passes, the connection drops, the worker shuts down or
 * another worker takes the host over, the result is unknown, the host goes install_unknown (its
 * concurrency slot kept) and is looked at again every `recheckMs`: still running -> wait; finished ->
 * its exit status; lost or never started -> the host's installed versions and its package database
 * check (dpkg --audit...) decide: installed -> verify, broken -> failed with the evidence, not
 * installed -> the install is sent once more (at most twice in all).
 *
 * Resuming: the loop continues from the stored step; reading steps are simply run again.
 *
 * Failures: transient SSH failures (connection refused, timeouts) are retried with exponential
 * backoff up to the policy's attempts; a host still unreachable before anything was sent is skipped
 * (not changed, not counted against the failure budget). A database or Redis outage never fails a
 * host: the host is handed back and resumed from its stored step. Anything else (a command that
 * failed on the host, a failed verification or health check, a host that does not come back from
 * its reboot) fails the host at once with the first lines of the error.
 */
import {
  rollbackEligibility,
  transitionHostRun,
  type HostRunEvent,
  type PackageTool,
} from '../../core/deployments/state.js';
import { isInWindow } from '../../core/deployments/windows.js';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import type { VersionScheme } from '../../core/model.js';
import { getScheme } from '../../core/versions/index.js';
import type {
  Baseline,
  HostRunData,
  HostRunRecord,
  OutboxEntry,
  PackageTargetRecord,
  RollbackReportEntry,
} from '../../db/repositories/deployment-repository.js';
import { isTransientDbError } from '../../db/retry.js';
import type { ExecResult, Executor } from '../../executors/executor.js';
import { forgetJob, JOB_REFUSED_EXIT, jobStatus, runJob, type JobStatus } from '../../executors/jobs.js';
import {
  driverFor,
  type CommandSpec,
  type PackageManagerDriver,
} from '../../executors/package-managers/index.js';
import {
  realSleep,
  timingOf,
  type DeploymentSettings,
  type EngineDeps,
  type EngineTiming,
  type StoredHealthCheck,
} from './types.js';

const BOOT_ID: CommandSpec = { command: 'cat', args: ['/proc/sys/kernel/random/boot_id'] };
/** `reboot`, no arguments: what docs/patchbot.sudoers allows (systemd, SysV and busybox all have it). */
const REBOOT: CommandSpec = { command: 'reboot', args: [] };
/** An install is sent at most this many times in one host run (once more after an unknown result). */
const MAX_INSTALL_SENDS = 2;

/** The first lines of a text, for chat and the status view. */
export function firstLines(text: string, lines = 5, chars = 600): string {
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(0, lines)
    .join('\n');
  return kept.length > chars ? `${kept.slice(0, chars)}…` : kept;
}

const SCHEME: Record<string, VersionScheme> = {
  dpkg: 'deb',
  rpm: 'rpm',
  apk: 'apk',
  fwupd: 'fwupd',
  PyPI: 'pep440',
  npm: 'semver',
};

function sameVersion(driver: PackageManagerDriver, a: string, b: string): boolean {
  try {
    return getScheme(SCHEME[driver.kind] ?? 'deb').compare(a, b) === 0;
  } catch {
    return a === b;
  }
}

function atLeast(driver: PackageManagerDriver, installed: string, target: string): boolean {
  try {
    return getScheme(SCHEME[driver.kind] ?? 'deb').compare(installed, target) >= 0;
  } catch {
    return false;
  }
}

/** Why a host is stopped mid-way: its lease went to another worker. */
class LeaseLost extends Error {}

/** This worker stops working on the host (shutting down): another one resumes it from its stored step. */
class HandBack extends Error {}

/** The host's result is unknown for now: it was stored, and the host is looked at again later. */
class Parked extends Error {}

/** A host failure with the step it happened in (the message is safe to show). */
class StepFailed extends Error {}

/** Whether the worker is handing its hosts back (a function: the answer changes across awaits). */
function handedBack(ctx: { handBack?: AbortSignal }): boolean {
  return ctx.handBack?.aborted === true;
}

interface RunContext {
  deps: EngineDeps;
  timing: EngineTiming;
  settings: DeploymentSettings;
  workerId: string;
  driver: PackageManagerDriver;
  tool: PackageTool;
  sudo: boolean;
  executor: Executor | undefined;
  /** The run as the steps moved it on (ahead of `saved` by the steps taken since the last write). */
  run: HostRunRecord;
  /** The run as PostgreSQL holds it. */
  saved: HostRunRecord;
  /** Events and data since `saved`, written by the next `save`. */
  events: HostRunEvent[];
  unsaved: HostRunData;
  /** Outbox messages that go with a final state (a host failure for the thread). */
  report?: (run: HostRunRecord) => OutboxEntry[];
  reportUnknown?: (run: HostRunRecord, reason: string) => OutboxEntry[];
  /** Aborts when the worker hands its hosts back (shutting down). */
  handBack?: AbortSignal;
}

async function executor(ctx: RunContext): Promise<Executor> {
  ctx.executor ??= await ctx.deps.executors({ hostId: ctx.run.hostId, hostName: ctx.run.hostName });
  return ctx.executor;
}

async function closeExecutor(ctx: RunContext): Promise<void> {
  const ex = ctx.executor;
  ctx.executor = undefined;
  await ex?.close().catch(() => undefined);
}

/** Runs `fn`, retrying transient failures with exponential backoff (policy deployments.retry). */
async function withRetry<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const sleep = ctx.deps.sleep ?? realSleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (handedBack(ctx)) throw new HandBack();
      if (
        err instanceof PatchbotError &&
        err.transient &&
        !isTransientDbError(err) &&
        attempt < ctx.settings.retry.attempts
      ) {
        ctx.deps.logger.warn(
          { host: ctx.run.hostName, code: err.code, attempt: attempt + 1 },
          'transient failure on host; retrying',
        );
        await closeExecutor(ctx);
        await sleep(ctx.settings.retry.backoffMs * 2 ** attempt);
        continue;
      }
      throw err;
    }
  }
}

/** Runs a command that only reads the host (no sudo). */
async function exec(
  ctx: RunContext,
  spec: CommandSpec,
  options: { timeoutMs?: number; sudo?: boolean } = {},
): Promise<ExecResult> {
  if (handedBack(ctx)) throw new HandBack();
  const ex = await executor(ctx);
  const r = await ex.exec({
    command: spec.command,
    args: spec.args,
    timeoutMs: options.timeoutMs ?? ctx.settings.commandTimeoutMs,
    maxOutputBytes: ctx.settings.maxOutputBytes,
    sudo: options.sudo ?? false,
    ...(ctx.handBack ? { signal: ctx.handBack } : {}),
  });
  if (handedBack(ctx)) throw new HandBack();
  return r;
}

/** Runs a command with an effect (install, rollback) as job `job`: never interrupted. */
async function effect(ctx: RunContext, spec: CommandSpec, job: string): Promise<ExecResult> {
  const ex = await executor(ctx);
  return runJob(ex, { ...spec, sudo: ctx.sudo }, job, {
    timeoutMs: ctx.settings.installTimeoutMs,
    maxOutputBytes: ctx.settings.maxOutputBytes,
    ...(ctx.handBack ? { signal: ctx.handBack } : {}),
  });
}

/** Forgets a job whose result is stored (a leftover record is harmless: names are not reused). */
async function forget(ctx: RunContext, job: string | null): Promise<void> {
  if (job === null) return;
  try {
    await forgetJob(await executor(ctx), job, ctx.settings.commandTimeoutMs);
  } catch (err) {
    ctx.deps.logger.warn({ err, host: ctx.run.hostName, job }, 'could not remove a job record on the host');
  }
}

/** The name of the n-th job of `kind` for this host run (stored before it is sent). */
function jobName(ctx: RunContext, kind: 'install' | 'rollback', n: number): string {
  return `pb-${ctx.run.id}-${kind}-${n}`;
}

function jobNumber(job: string | null): number {
  const m = /-(\d+)$/.exec(job ?? '');
  return m ? Number(m[1]) : 0;
}

function describeResult(
  spec: CommandSpec,
  r: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr' | 'timedOut' | 'signal'>,
): string {
  const how = r.timedOut ? `timed out` : r.signal ? `was killed (${r.signal})` : `exited with ${r.exitCode}`;
  const out = firstLines(r.stderr.trim() !== '' ? r.stderr : r.stdout);
  return `${spec.command} ${how}${out ? `: ${out}` : ''}`;
}

async function queryInstalled(ctx: RunContext, names: readonly string[]): Promise<Baseline> {
  const spec = ctx.driver.queryInstalled(names);
  const r = await withRetry(ctx, () => exec(ctx, spec));
  if (r.timedOut || r.exitCode === null || (r.exitCode > 1 && r.stdout.trim() === '')) {
    throw new StepFailed(`cannot read the installed versions: ${describeResult(spec, r)}`);
  }
  const parsed = ctx.driver.parseInstalled(r.stdout, names);
  const out: Baseline = {};
  for (const n of names) out[n] = parsed.get(n) ?? [];
  return out;
}

function uniqueNames(targets: readonly PackageTargetRecord[]): string[] {
  return [...new Set(targets.map((t) => t.name))];
}

function missingTargets(
  ctx: RunContext,
  targets: readonly PackageTargetRecord[],
  installed: Baseline,
): string[] {
  return targets
    .filter((t) => !(installed[t.name] ?? []).some((v) => sameVersion(ctx.driver, v, t.version)))
    .map((t) => `${t.name}=${t.version} (found ${(installed[t.name] ?? []).join(', ') || 'not installed'})`);
}

/** Keeps `data` with the run, in memory; the next `save` stores it. */
function keep(ctx: RunContext, data: HostRunData): void {
  ctx.run = { ...ctx.run, ...data };
  Object.assign(ctx.unsaved, data);
}

/** Moves the run one step on, in memory (through the core state machine); `save` stores it. */
function step(ctx: RunContext, event: HostRunEvent, data: HostRunData = {}): void {
  const next = transitionHostRun(ctx.run.status, event);
  if (!next.ok) throw new PatchbotError('CONFLICT', next.error, { details: { hostRun: ctx.run.id } });
  keep(ctx, data);
  ctx.run.status = next.state;
  ctx.events.push(event);
}

/** Statuses in which a run is done (the outbox reports them). */
const FINAL = new Set(['succeeded', 'failed', 'skipped', 'rolled_back', 'rollback_failed']);

/** Stores the steps taken since the last write, with `data`; throws LeaseLost when not held. */
async function save(ctx: RunContext, data: HostRunData = {}, extra: OutboxEntry[] = []): Promise<void> {
  if (ctx.events.length === 0 && Object.keys(ctx.unsaved).length === 0 && Object.keys(data).length === 0) {
    return;
  }
  const next = { ...ctx.run, ...data };
  const outbox = [...extra, ...(FINAL.has(next.status) && ctx.report ? ctx.report(next) : [])];
  const stored = await ctx.deps.deployments.saveProgress(
    ctx.saved,
    ctx.workerId,
    ctx.events,
    { ...ctx.unsaved, ...data },
    outbox,
  );
  if (!stored) throw new LeaseLost();
  ctx.run = stored;
  ctx.saved = stored;
  ctx.events = [];
  ctx.unsaved = {};
}

/**
 * The result of the host's install or rollback is unknown for now: stored (the host keeps its
 * concurrency slot), the host handed back, and looked at again in `recheckMs` by any worker.
 */
async function park(ctx: RunContext, reason: string): Promise<never> {
  const first = ctx.run.status === 'installing' || ctx.run.status === 'rollback_installing';
  if (first) step(ctx, { type: 'result_unknown' });
  keep(ctx, { output: reason });
  await save(ctx, {}, first && ctx.reportUnknown ? ctx.reportUnknown(ctx.run, reason) : []);
  await ctx.deps.deployments.release(ctx.run.id, ctx.workerId, {
    notBefore: new Date(Date.now() + (ctx.settings.recheckMs ?? ctx.timing.recheckMs)),
  });
  throw new Parked(reason);
}

/** How long after the install was sent an unreachable host is given before it counts as failed. */
function unknownLimit(ctx: RunContext, sentAt: Date | null): number {
  return (
    (sentAt ?? ctx.deps.now()).getTime() + ctx.settings.installTimeoutMs + ctx.settings.reboot.waitLimitMs
  );
}

/** Polls `check` until it returns a value or `limitMs` passes (real time). */
async function waitFor<T>(
  ctx: RunContext,
  limitMs: number,
  pollMs: number,
  check: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const sleep = ctx.deps.sleep ?? realSleep;
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await check().catch((err: unknown) => {
      if (err instanceof PatchbotError && err.transient) return undefined;
      throw err;
    });
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await closeExecutor(ctx);
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

// ---------------------------------------------------------------------------------------------
// deploy steps

async function preBaseline(ctx: RunContext): Promise<void> {
  const targets = ctx.run.targets;
  ctx.driver.install(targets); // validates every name and version before any command
  const baseline = await queryInstalled(ctx, uniqueNames(targets));
  const current = targets.every((t) =>
    (baseline[t.name] ?? []).some((v) => atLeast(ctx.driver, v, t.version)),
  );
  step(
    ctx,
    { type: 'pre_baseline_done', alreadyCurrent: current },
    {
      preBaseline: baseline,
      ...(current
        ? { finishedAt: ctx.deps.now(), error: 'already at the target versions: nothing to do' }
        : {}),
    },
  );
}

async function install(ctx: RunContext): Promise<void> {
  if (ctx.run.installSentAt === null) {
    await sendInstall(ctx, 1);
    return;
  }
  // Taken over from a worker that stopped after sending the install: the host says what became of it.
  await resolveInstall(ctx);
}

/** Sends the install as job number `n` (the job is stored first) and takes its result. */
async function sendInstall(ctx: RunContext, n: number): Promise<void> {
  const spec = ctx.driver.install(ctx.run.targets);
  const job = jobName(ctx, 'install', n);
  await save(ctx, { installSentAt: ctx.deps.now(), remoteJob: job });
  let result: ExecResult;
  try {
    result = await effect(ctx, spec, job);
  } catch (err) {
    if (err instanceof PatchbotError && err.transient && !isTransientDbError(err)) {
      if (handedBack(ctx)) throw new HandBack();
      await park(
        ctx,
        `the connection to the host was lost while the install ran (${userMessageOf(err)}); it was not interrupted`,
      );
    }
    throw err;
  }
  if (handedBack(ctx)) throw new HandBack();
  if (result.timedOut) {
    await park(
      ctx,
      `the install did not finish within ${Math.round(ctx.settings.installTimeoutMs / 1000)} s; it was not interrupted, and the host is looked at again`,
    );
  }
  if (result.exitCode === JOB_REFUSED_EXIT && /already ran on this host/.test(result.stderr)) {
    await resolveInstall(ctx);
    return;
  }
  await installFinished(ctx, spec, { ...result, exitCode: result.exitCode ?? -1 });
  await forget(ctx, job);
}

/** An install job ended with `result`: done, or failed with what the host says. */
async function installFinished(
  ctx: RunContext,
  spec: CommandSpec,
  result: { exitCode: number; stdout: string; stderr: string },
): Promise<void> {
  if (result.exitCode === 0) {
    step(ctx, { type: 'install_done' }, { output: result.stdout.slice(-4000) });
    return;
  }
  const described = describeResult(spec, { ...result, timedOut: false, signal: null });
  const state = await hostPackageState(ctx);
  if (state.installed) {
    step(ctx, { type: 'install_done' }, { output: `${described}\nthe host shows the target versions` });
    return;
  }
  if (state.broken) {
    throw new StepFailed(
      `install failed: ${described}\nthe package database is broken:\n${firstLines(state.broken, 12, 1500)}`,
    );
  }
  throw new StepFailed(`install failed: ${described}`);
}

/** The host's targets installed or not, and what its package database check found broken. */
async function hostPackageState(
  ctx: RunContext,
): Promise<{ installed: boolean; broken?: string; missing: string[] }> {
  const names = uniqueNames(ctx.run.targets);
  const now = await queryInstalled(ctx, names);
  const missing = missingTargets(ctx, ctx.run.targets, now);
  const audit = ctx.driver.audit(names);
  let broken: string | undefined;
  if (audit) {
    const r = await withRetry(ctx, () => exec(ctx, audit));
    const finding = ctx.driver.interpretAudit(r, names);
    if (finding?.broken) broken = finding.evidence;
  }
  return {
    installed: missing.length === 0 && broken === undefined,
    missing,
    ...(broken !== undefined ? { broken } : {}),
  };
}

/**
 * An install whose result was not seen: its job record, then the host's package state, decide.
 * Still running -> looked at again later; finished -> its exit status; lost or never started ->
 * installed: verify; broken: fail with the evidence; not installed: sent once more (at most twice).
 */
async function resolveInstall(ctx: RunContext): Promise<void> {
  const job = ctx.run.remoteJob;
  let status: JobStatus;
  try {
    status =
      job === null
        ? { state: 'absent' }
        : await withRetry(ctx, async () =>
            jobStatus(await executor(ctx), job, {
              maxOutputBytes: ctx.settings.maxOutputBytes,
              timeoutMs: ctx.settings.commandTimeoutMs,
            }),
          );
  } catch (err) {
    if (!(err instanceof PatchbotError && err.transient) || isTransientDbError(err)) throw err;
    if (ctx.deps.now().getTime() > unknownLimit(ctx, ctx.run.installSentAt)) {
      throw new StepFailed(
        `the host has not answered since the install was sent at ${ctx.run.installSentAt?.toISOString() ?? 'an unknown time'} (${userMessageOf(err)}); its state is unknown`,
      );
    }
    return park(ctx, `the host cannot be reached to learn the install's result (${userMessageOf(err)})`);
  }
  if (status.state === 'running') {
    return park(
      ctx,
      'the install is still running on the host; it is not interrupted, and the host is looked at again',
    );
  }
  const spec = ctx.driver.install(ctx.run.targets);
  if (status.state === 'finished') {
    await installFinished(ctx, spec, status);
    await forget(ctx, job);
    return;
  }
  const state = await hostPackageState(ctx);
  const lost =
    status.state === 'lost'
      ? `the install was lost on the host (it rebooted or the process was killed): ${firstLines(status.stderr || status.stdout, 5, 600) || 'no output'}`
      : 'the install never started on the host';
  if (state.installed) {
    step(ctx, { type: 'install_done' }, { output: `${lost}; the host shows the target versions` });
    await forget(ctx, job);
    return;
  }
  if (state.broken !== undefined) {
    throw new StepFailed(
      `${lost}, and the package database is broken:\n${firstLines(state.broken, 12, 1500)}`,
    );
  }
  const sent = jobNumber(job);
  if (sent >= MAX_INSTALL_SENDS) {
    throw new StepFailed(
      `${lost}; the install was sent ${sent} times and the target versions are not installed (${state.missing.join('; ')}); not sent again`,
    );
  }
  await forget(ctx, job);
  if (ctx.run.status === 'install_unknown') step(ctx, { type: 'resend' });
  await sendInstall(ctx, sent + 1);
}

async function postBaseline(ctx: RunContext): Promise<void> {
  const baseline = await queryInstalled(ctx, uniqueNames(ctx.run.targets));
  step(ctx, { type: 'post_baseline_done' }, { postBaseline: baseline });
}

async function verify(ctx: RunContext): Promise<void> {
  const missing = missingTargets(ctx, ctx.run.targets, ctx.run.postBaseline ?? {});
  const policy = ctx.settings.reboot.policy;
  // firmware staged for the next boot (a UEFI capsule) keeps its old version until then
  const staged = missing.length > 0 && ctx.tool === 'fwupd';
  if (missing.length > 0 && !staged) {
    throw new StepFailed(`verification failed: expected ${missing.join('; ')}`);
  }
  // apk has no check command: a changed kernel package is what needs the reboot
  const check = ctx.driver.rebootCheck();
  let result: { exitCode: number | null; stdout: string } | undefined;
  if (check) {
    const r = await withRetry(ctx, () => exec(ctx, check));
    result = { exitCode: r.exitCode, stdout: r.stdout };
  }
  const needed = ctx.driver.interpretRebootCheck(result, uniqueNames(ctx.run.targets)) === true;
  if (staged) {
    if (!needed) throw new StepFailed(`verification failed: expected ${missing.join('; ')}`);
    if (policy === 'never') {
      throw new StepFailed(
        `the firmware update waits for a reboot (${missing.join('; ')}), and deployments.reboot.policy is never: reboot the host to finish it`,
      );
    }
    if (!windowOpen(ctx)) {
      throw new StepFailed(
        `the firmware update waits for a reboot (${missing.join('; ')}); not rebooted because the maintenance window had closed: reboot the host inside a window to finish it`,
      );
    }
  }
  const wanted = policy === 'always' || (policy === 'if-required' && needed);
  // A reboot happens inside the host's maintenance window only (the install may have outlasted it).
  const closed = wanted && !windowOpen(ctx);
  const reboot = wanted && !closed;
  step(
    ctx,
    { type: 'verified', rebootNeeded: reboot },
    {
      rebootNeeded: needed || wanted,
      ...(staged
        ? {
            output:
              'the firmware update is staged for the next boot: its version is verified after the reboot',
          }
        : {}),
      ...(closed
        ? { output: 'the host needs a reboot; not rebooted because its maintenance window had closed' }
        : {}),
    },
  );
}

/** Whether the host's maintenance window is open now (hosts without one, and the emergency lane: yes). */
function windowOpen(ctx: RunContext): boolean {
  const name = ctx.settings.hosts[ctx.run.hostName]?.window;
  if (ctx.settings.skipWindows || name === undefined) return true;
  const window = ctx.settings.windows.find((w) => w.name === name);
  if (!window) return true;
  return isInWindow(window, ctx.deps.now(), { blackoutDates: ctx.settings.blackoutDates });
}

async function readBootId(ctx: RunContext): Promise<string> {
  const r = await exec(ctx, BOOT_ID);
  const id = r.stdout.trim();
  if (r.exitCode !== 0 || !/^[0-9a-f-]{8,64}$/i.test(id)) {
    throw new StepFailed(`cannot read the boot id: ${describeResult(BOOT_ID, r)}`);
  }
  return id;
}

async function reboot(ctx: RunContext): Promise<void> {
  if (ctx.run.rebootSentAt === null) {
    const bootId = await withRetry(ctx, () => readBootId(ctx));
    await save(ctx, { bootId, rebootSentAt: ctx.deps.now() });
    try {
      await exec(ctx, REBOOT, { sudo: ctx.sudo, timeoutMs: 30_000 });
    } catch (err) {
      // The connection going away is what a reboot looks like.
      if (!(err instanceof PatchbotError && err.transient)) throw err;
    }
    await closeExecutor(ctx);
  }
  const before = ctx.run.bootId;
  const back = await waitFor(ctx, ctx.settings.reboot.waitLimitMs, ctx.timing.rebootPollMs, async () => {
    const id = await readBootId(ctx);
    return id !== before ? id : undefined;
  });
  if (back === undefined) {
    throw new StepFailed(
      `the host did not come back with a new boot id within ${Math.round(ctx.settings.reboot.waitLimitMs / 1000)} s of the reboot`,
    );
  }
  if (ctx.tool === 'fwupd') {
    // firmware finishes its update during the boot: the device's version now is the result
    const now = await queryInstalled(ctx, uniqueNames(ctx.run.targets));
    const missing = missingTargets(ctx, ctx.run.targets, now);
    keep(ctx, { postBaseline: now });
    if (missing.length > 0) {
      throw new StepFailed(`verification after the reboot failed: expected ${missing.join('; ')}`);
    }
  }
  step(ctx, { type: 'rebooted' }, { rebootedAt: ctx.deps.now(), bootId: back });
}

function fillUrl(url: string, ctx: RunContext): string {
  const address = ctx.settings.hosts[ctx.run.hostName]?.address ?? ctx.run.hostName;
  return url.replaceAll('{name}', encodeURIComponent(ctx.run.hostName)).replaceAll('{address}', address);
}

async function runCheck(ctx: RunContext, check: StoredHealthCheck): Promise<string | undefined> {
  if (check.command) {
    const [command, ...args] = check.command;
    if (command === undefined) return 'empty command';
    try {
      const r = await exec(ctx, { command, args }, { timeoutMs: check.timeoutMs });
      if (r.exitCode !== 0 || r.timedOut) return `${check.name}: ${describeResult({ command, args }, r)}`;
    } catch (err) {
      return `${check.name}: ${userMessageOf(err)}`;
    }
  }
  if (check.http) {
    const url = fillUrl(check.http.url, ctx);
    const doFetch = ctx.deps.fetch ?? fetch;
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(check.timeoutMs), redirect: 'manual' });
      await res.body?.cancel().catch(() => undefined);
      if (!check.http.expectStatus.includes(res.status)) {
        return `${check.name}: ${url} answered ${res.status}, expected ${check.http.expectStatus.join(' or ')}`;
      }
    } catch (err) {
      return `${check.name}: ${url} did not answer: ${(err as Error).message}`;
    }
  }
  return undefined;
}

async function healthCheck(ctx: RunContext): Promise<void> {
  const checks = ctx.settings.hosts[ctx.run.hostName]?.healthChecks ?? [];
  const sleep = ctx.deps.sleep ?? realSleep;
  // Probes may take a while (retries, intervals): what the host reached so far is stored first.
  if (checks.length > 0) await save(ctx);
  for (const check of checks) {
    let problem: string | undefined;
    for (let attempt = 0; attempt <= check.retries; attempt += 1) {
      problem = await runCheck(ctx, check);
      if (problem === undefined) break;
      if (attempt < check.retries) await sleep(check.intervalMs);
    }
    if (problem !== undefined) throw new StepFailed(`health check failed: ${problem}`);
  }
  step(ctx, { type: 'healthy' }, { finishedAt: ctx.deps.now(), error: null });
}

// ---------------------------------------------------------------------------------------------
// rollback steps

async function rollbackInstall(ctx: RunContext): Promise<void> {
  const names = uniqueNames(ctx.run.targets);
  const pre = ctx.run.preBaseline ?? {};
  if (ctx.run.rollbackSentAt !== null) {
    await resolveRollback(ctx);
    return;
  }
  {
    const now = await queryInstalled(ctx, names);
    const report: RollbackReportEntry[] = [];
    const revert: PackageTargetRecord[] = [];
    for (const name of names) {
      const before = pre[name] ?? [];
      const current = now[name] ?? [];
      const baseline = before[0];
      if (
        baseline !== undefined &&
        current.length > 0 &&
        current.every((v) => before.some((b) => sameVersion(ctx.driver, v, b)))
      ) {
        report.push({
          name,
          from: current,
          to: baseline,
          possible: true,
          reason: 'already at the pre-deployment version',
        });
        continue;
      }
      let available: string[] | undefined;
      // firmware is never rolled back (rollbackEligibility says why): nothing to ask the host
      if (ctx.tool !== 'fwupd') {
        try {
          const spec = ctx.driver.availableVersions(name);
          const r = await withRetry(ctx, () => exec(ctx, spec));
          available = r.exitCode === 0 ? ctx.driver.parseAvailableVersions(r.stdout, name) : undefined;
        } catch (err) {
          if (err instanceof PatchbotError && err.transient) throw err;
          available = undefined;
        }
      }
      const eligibility = rollbackEligibility(ctx.tool, {
        name,
        baselineVersion: baseline,
        ...(available ? { availableVersions: available } : {}),
      });
      report.push({
        name,
        from: current,
        to: baseline ?? null,
        possible: eligibility.possible,
        reason: eligibility.reason,
      });
      if (eligibility.possible && baseline !== undefined) {
        const archs = ctx.run.targets
          .filter((t) => t.name === name && t.arch !== undefined)
          .map((t) => t.arch as string);
        if (archs.length > 0) for (const arch of archs) revert.push({ name, version: baseline, arch });
        else revert.push({ name, version: baseline });
      }
    }
    const previous = ctx.run.remoteJob?.includes('-rollback-') === true ? jobNumber(ctx.run.remoteJob) : 0;
    const job = jobName(ctx, 'rollback', previous + 1);
    await save(ctx, {
      rollbackReport: report,
      ...(revert.length > 0 ? { rollbackSentAt: ctx.deps.now(), remoteJob: job } : {}),
    });
    if (revert.length > 0) {
      const spec = ctx.driver.rollback(revert);
      let result: ExecResult;
      try {
        result = await effect(ctx, spec, job);
      } catch (err) {
        if (err instanceof PatchbotError && err.transient && !isTransientDbError(err)) {
          if (handedBack(ctx)) throw new HandBack();
          await park(
            ctx,
            `the connection to the host was lost while the rollback ran (${userMessageOf(err)}); it was not interrupted`,
          );
        }
        throw err;
      }
      if (handedBack(ctx)) throw new HandBack();
      if (result.timedOut) {
        await park(
          ctx,
          `the rollback did not finish within ${Math.round(ctx.settings.installTimeoutMs / 1000)} s; it was not interrupted, and the host is looked at again`,
        );
      }
      if (result.exitCode !== 0) {
        keep(ctx, { output: firstLines(result.stderr || result.stdout, 20, 4000) });
      }
      await forget(ctx, job);
    }
  }
  step(ctx, { type: 'rollback_installed' });
}

/** A rollback whose result was not seen: wait while it runs; then the installed versions decide. */
async function resolveRollback(ctx: RunContext): Promise<void> {
  const job = ctx.run.remoteJob?.includes('-rollback-') === true ? ctx.run.remoteJob : null;
  if (job !== null) {
    let status: JobStatus;
    try {
      status = await withRetry(ctx, async () =>
        jobStatus(await executor(ctx), job, {
          maxOutputBytes: ctx.settings.maxOutputBytes,
          timeoutMs: ctx.settings.commandTimeoutMs,
        }),
      );
    } catch (err) {
      if (!(err instanceof PatchbotError && err.transient) || isTransientDbError(err)) throw err;
      if (ctx.deps.now().getTime() > unknownLimit(ctx, ctx.run.rollbackSentAt)) {
        throw new StepFailed(
          `the host has not answered since the rollback was sent (${userMessageOf(err)}); its state is unknown`,
        );
      }
      await park(ctx, `the host cannot be reached to learn the rollback's result (${userMessageOf(err)})`);
      return;
    }
    if (status.state === 'running') {
      await park(
        ctx,
        'the rollback is still running on the host; it is not interrupted, and the host is looked at again',
      );
    }
    if (status.state === 'finished' && status.exitCode !== 0) {
      keep(ctx, { output: firstLines(status.stderr || status.stdout, 20, 4000) });
    }
    await forget(ctx, job);
  }
  step(ctx, { type: 'rollback_installed' });
}

async function rollbackVerify(ctx: RunContext): Promise<void> {
  const report = ctx.run.rollbackReport ?? [];
  const names = uniqueNames(ctx.run.targets);
  const restored = (now: Baseline): boolean =>
    report
      .filter((e) => e.possible && e.to !== null)
      .every((e) => (now[e.name] ?? []).some((v) => sameVersion(ctx.driver, v, e.to as string)));
  // the rollback job has ended (rollbackInstall saw it end): the versions now are the result
  const now = await queryInstalled(ctx, names);
  const notRestored = report.filter(
    (e) =>
      e.possible &&
      e.to !== null &&
      !(now[e.name] ?? []).some((v) => sameVersion(ctx.driver, v, e.to as string)),
  );
  const impossible = report.filter((e) => !e.possible);
  if (notRestored.length === 0 && impossible.length === 0 && restored(now)) {
    // the deployment's own error (why the host failed) stays on record
    step(
      ctx,
      { type: 'rollback_verified' },
      { postBaseline: now, finishedAt: ctx.deps.now(), rollbackError: null },
    );
    return;
  }
  const problems = [
    ...notRestored.map(
      (e) =>
        `${e.name} is at ${(now[e.name] ?? []).join(', ') || 'nothing'} after the rollback, expected ${e.to}`,
    ),
    ...impossible.map((e) => `cannot restore ${e.name}: ${e.reason}`),
  ];
  step(
    ctx,
    { type: 'fail', error: problems.join('; ') },
    {
      postBaseline: now,
      rollbackError: problems.join('\n'),
      finishedAt: ctx.deps.now(),
    },
  );
}

// ---------------------------------------------------------------------------------------------

export interface HostRunOutcome {
  run: HostRunRecord;
  /** False when the lease was lost or handed back (another worker continues the host). */
  held: boolean;
  /** Set when the host's result is unknown for now (it is looked at again later): why. */
  parked?: string;
}

export interface HostRunOptions {
  /** Outbox messages that go with the run's final state (written in the same statement). */
  report?: (run: HostRunRecord) => OutboxEntry[];
  /** Outbox messages for a host whose result just became unknown. */
  reportUnknown?: (run: HostRunRecord, reason: string) => OutboxEntry[];
}

/**
 * Runs a claimed host run from its stored step to a final status (succeeded, failed, skipped) or,
 * for a rollback, to rolled_back / rollback_failed, or until its result is unknown for now
 * (`parked`). Heartbeats keep the lease while it works, however long a command runs.
 */
export async function runHostRun(
  deps: EngineDeps,
  settings: DeploymentSettings,
  run: HostRunRecord,
  workerId: string,
  mode: 'deploy' | 'rollback',
  options: HostRunOptions = {},
): Promise<HostRunOutcome> {
  const timing = timingOf(deps);
  let driver: PackageManagerDriver;
  try {
    const python = settings.hosts[run.hostName]?.python;
    driver = driverFor(run.tool, python === undefined ? {} : { python });
  } catch (err) {
    const message = userMessageOf(err);
    const failed = await deps.deployments.saveProgress(run, workerId, [{ type: 'fail', error: message }], {
      error: message,
      finishedAt: deps.now(),
    });
    return { run: failed ?? run, held: failed !== null };
  }
  const ctx: RunContext = {
    deps,
    timing,
    settings,
    workerId,
    run,
    saved: run,
    events: [],
    unsaved: {},
    executor: undefined,
    driver,
    tool: driver.tool,
    sudo: settings.hosts[run.hostName]?.sudo ?? false,
    ...(options.report ? { report: options.report } : {}),
    ...(options.reportUnknown ? { reportUnknown: options.reportUnknown } : {}),
    ...(deps.shutdown ? { handBack: deps.shutdown.handBack } : {}),
  };
  let leaseLost = false;
  const beat = setInterval(() => {
    deps.deployments.heartbeat(ctx.run.id, workerId, new Date()).then(
      (held) => {
        if (!held) leaseLost = true;
      },
      (err: unknown) => deps.logger.warn({ err, host: ctx.run.hostName }, 'heartbeat failed'),
    );
  }, timing.heartbeatMs);
  beat.unref();
  const handBack = async (): Promise<HostRunOutcome> => {
    await deps.deployments.release(ctx.run.id, workerId).catch(() => undefined);
    return { run: ctx.run, held: false };
  };
  try {
    if (mode === 'rollback') {
      if (ctx.run.status === 'install_unknown' && (await installRunning(ctx))) {
        await park(ctx, 'the install is still running on the host; the rollback waits for it to end');
      }
      if (['succeeded', 'failed', 'rollback_failed', 'install_unknown'].includes(ctx.run.status)) {
        // the host's own error (why it failed) stays on record
        step(ctx, { type: 'rollback_begin' });
      }
    }
    for (;;) {
      if (leaseLost) throw new LeaseLost();
      if (handedBack(ctx)) throw new HandBack();
      switch (ctx.run.status) {
        case 'pre_baseline':
          await preBaseline(ctx);
          break;
        case 'installing':
          await install(ctx);
          break;
        case 'install_unknown':
          await resolveInstall(ctx);
          break;
        case 'post_baseline':
          await postBaseline(ctx);
          break;
        case 'verifying':
          await verify(ctx);
          break;
        case 'rebooting':
          await reboot(ctx);
          break;
        case 'health_check':
          await healthCheck(ctx);
          break;
        case 'rollback_installing':
          await rollbackInstall(ctx);
          break;
        case 'rollback_unknown':
          await resolveRollback(ctx);
          break;
        case 'rollback_verifying':
          await rollbackVerify(ctx);
          break;
        default:
          await save(ctx);
          return { run: ctx.run, held: true };
      }
    }
  } catch (err) {
    if (err instanceof LeaseLost) return { run: ctx.run, held: false };
    if (err instanceof Parked) return { run: ctx.run, held: true, parked: err.message };
    if (err instanceof HandBack) return handBack();
    // PostgreSQL or Redis out of reach: nothing is wrong with the host; another try resumes it.
    if (isTransientDbError(err) || (err instanceof PatchbotError && err.code === 'TRANSIENT')) {
      deps.logger.warn(
        { err, host: ctx.run.hostName },
        'infrastructure failure during a host step; handing the host back',
      );
      return handBack();
    }
    const unreachable =
      ctx.run.status === 'pre_baseline' &&
      err instanceof PatchbotError &&
      err.transient &&
      ctx.run.installSentAt === null;
    // retired while the deployment ran (`hosts remove`, or taken out of the policy file): not touched
    const retiredAt =
      ctx.run.installSentAt === null &&
      err instanceof PatchbotError &&
      typeof err.details.retiredAt === 'string'
        ? err.details.retiredAt
        : undefined;
    const message = err instanceof StepFailed ? err.message : userMessageOf(err);
    if (!unreachable && !(err instanceof StepFailed) && !(err instanceof PatchbotError)) {
      deps.logger.error({ err, host: ctx.run.hostName }, 'unexpected error in a host step');
    }
    if (retiredAt !== undefined) {
      const reason = `not changed: the host was retired on ${retiredAt} and is no longer managed`;
      step(ctx, { type: 'skip', reason }, { error: reason, finishedAt: deps.now() });
    } else if (unreachable) {
      const reason = `not changed: the host could not be reached (${message}) after ${settings.retry.attempts + 1} attempt(s)`;
      step(ctx, { type: 'skip', reason }, { error: reason, finishedAt: deps.now() });
    } else {
      step(ctx, { type: 'fail', error: message }, { error: message, finishedAt: deps.now() });
    }
    try {
      await save(ctx);
    } catch (lost) {
      if (lost instanceof LeaseLost) return { run: ctx.run, held: false };
      if (isTransientDbError(lost)) return handBack();
      throw lost;
    }
    return { run: ctx.run, held: true };
  } finally {
    clearInterval(beat);
    await closeExecutor(ctx);
  }
}

/** Whether the install job of an install_unknown host is still running (unreachable: assume so). */
async function installRunning(ctx: RunContext): Promise<boolean> {
  const job = ctx.run.remoteJob;
  if (job === null) return false;
  try {
    const status = await jobStatus(await executor(ctx), job, { timeoutMs: ctx.settings.commandTimeoutMs });
    return status.state === 'running';
  } catch (err) {
    if (err instanceof PatchbotError && err.transient && !isTransientDbError(err)) return true;
    throw err;
  }
}
