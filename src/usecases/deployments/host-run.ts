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
 * Resuming: the loop continues from the stored step; reading steps are simply run again. Steps with
 * an effect, resumed with their "sent" mark set, look at the host instead of sending the command
 * again (an install is never sent twice in one host run).
 *
 * Failures: transient ones (connection refused, timeouts) are retried with exponential backoff up to
 * the policy's attempts; anything else fails the host at once with the first lines of the error.
 */
import {
  rollbackEligibility,
  transitionHostRun,
  type HostRunEvent,
  type PackageTool,
} from '../../core/deployments/state.js';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import type { VersionScheme } from '../../core/model.js';
import { getScheme } from '../../core/versions/index.js';
import type {
  Baseline,
  HostRunData,
  HostRunRecord,
  PackageTargetRecord,
  RollbackReportEntry,
} from '../../db/repositories/deployment-repository.js';
import type { ExecResult, Executor } from '../../executors/executor.js';
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
const REBOOT: CommandSpec = { command: 'systemctl', args: ['reboot'] };

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

const SCHEME: Record<string, VersionScheme> = { dpkg: 'deb', rpm: 'rpm', apk: 'apk' };

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

/** A host failure with the step it happened in (the message is safe to show). */
class StepFailed extends Error {}

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
      if (err instanceof PatchbotError && err.transient && attempt < ctx.settings.retry.attempts) {
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

async function exec(
  ctx: RunContext,
  spec: CommandSpec,
  options: { timeoutMs?: number; sudo?: boolean } = {},
): Promise<ExecResult> {
  const ex = await executor(ctx);
  return ex.exec({
    command: spec.command,
    args: spec.args,
    timeoutMs: options.timeoutMs ?? ctx.settings.commandTimeoutMs,
    maxOutputBytes: ctx.settings.maxOutputBytes,
    sudo: options.sudo ?? false,
  });
}

function describeResult(spec: CommandSpec, r: ExecResult): string {
  const how = r.timedOut ? `timed out` : r.signal ? `was killed (${r.signal})` : `exited with ${r.exitCode}`;
  const out = firstLines(r.stderr.trim() !== '' ? r.stderr : r.stdout);
  return `${spec.command === 'env' ? (spec.args[1] ?? 'env') : spec.command} ${how}${out ? `: ${out}` : ''}`;
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

/** Stores the steps taken since the last write, with `data`; throws LeaseLost when not held. */
async function save(ctx: RunContext, data: HostRunData = {}): Promise<void> {
  if (ctx.events.length === 0 && Object.keys(ctx.unsaved).length === 0 && Object.keys(data).length === 0) {
    return;
  }
  const next = await ctx.deps.deployments.saveProgress(ctx.saved, ctx.workerId, ctx.events, {
    ...ctx.unsaved,
    ...data,
  });
  if (!next) throw new LeaseLost();
  ctx.run = next;
  ctx.saved = next;
  ctx.events = [];
  ctx.unsaved = {};
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
  const spec = ctx.driver.install(ctx.run.targets);
  const names = uniqueNames(ctx.run.targets);
  if (ctx.run.installSentAt === null) {
    await save(ctx, { installSentAt: ctx.deps.now() });
    let result: ExecResult | undefined;
    let lost: unknown;
    try {
      result = await exec(ctx, spec, { timeoutMs: ctx.settings.installTimeoutMs, sudo: ctx.sudo });
    } catch (err) {
      lost = err;
    }
    if (result && result.exitCode === 0 && !result.timedOut) {
      step(ctx, { type: 'install_done' }, { output: result.stdout.slice(-4000) });
      return;
    }
    if (result && !result.timedOut) throw new StepFailed(`install failed: ${describeResult(spec, result)}`);
    // Timed out or the connection dropped: the install may have happened. Look, never send it again.
    const installed = await waitFor(ctx, ctx.timing.recoverWaitMs, 2_000, async () => {
      const now = await queryInstalled(ctx, names);
      return missingTargets(ctx, ctx.run.targets, now).length === 0 ? now : undefined;
    });
    if (installed) {
      step(
        ctx,
        { type: 'install_done' },
        {
          output: `install ended without a result (${userMessageOf(lost ?? 'timeout')}); the host shows the target versions`,
        },
      );
      return;
    }
    throw new StepFailed(
      `install did not finish (${lost ? userMessageOf(lost) : 'timed out'}) and the target versions are not installed; not sent again`,
    );
  }
  // Resumed after the install was sent by a worker that stopped: check the host instead.
  const installed = await waitFor(ctx, ctx.timing.recoverWaitMs, 2_000, async () => {
    const now = await queryInstalled(ctx, names);
    return missingTargets(ctx, ctx.run.targets, now).length === 0 ? now : undefined;
  });
  if (!installed) {
    throw new StepFailed(
      'the install was sent by a worker that stopped, and the target versions are not installed; not sent again',
    );
  }
  step(ctx, { type: 'install_done' }, { output: 'resumed: the install sent earlier completed' });
}

async function postBaseline(ctx: RunContext): Promise<void> {
  const baseline = await queryInstalled(ctx, uniqueNames(ctx.run.targets));
  step(ctx, { type: 'post_baseline_done' }, { postBaseline: baseline });
}

async function verify(ctx: RunContext): Promise<void> {
  const missing = missingTargets(ctx, ctx.run.targets, ctx.run.postBaseline ?? {});
  if (missing.length > 0) throw new StepFailed(`verification failed: expected ${missing.join('; ')}`);
  const policy = ctx.settings.reboot.policy;
  let needed = false;
  const check = ctx.driver.rebootCheck();
  if (check) {
    const r = await withRetry(ctx, () => exec(ctx, check));
    needed =
      ctx.driver.interpretRebootCheck(
        { exitCode: r.exitCode, stdout: r.stdout },
        uniqueNames(ctx.run.targets),
      ) === true;
  }
  const reboot = policy === 'always' || (policy === 'if-required' && needed);
  step(ctx, { type: 'verified', rebootNeeded: reboot }, { rebootNeeded: needed || reboot });
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
  if (ctx.run.rollbackSentAt === null) {
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
      try {
        const spec = ctx.driver.availableVersions(name);
        const r = await withRetry(ctx, () => exec(ctx, spec));
        available = r.exitCode === 0 ? ctx.driver.parseAvailableVersions(r.stdout, name) : undefined;
      } catch (err) {
        if (err instanceof PatchbotError && err.transient) throw err;
        available = undefined;
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
    await save(ctx, {
      rollbackReport: report,
      ...(revert.length > 0 ? { rollbackSentAt: ctx.deps.now() } : {}),
    });
    if (revert.length > 0) {
      const spec = ctx.driver.rollback(revert);
      let result: ExecResult | undefined;
      try {
        result = await exec(ctx, spec, { timeoutMs: ctx.settings.installTimeoutMs, sudo: ctx.sudo });
      } catch (err) {
        if (!(err instanceof PatchbotError && err.transient)) throw err;
      }
      if (result && !result.timedOut && result.exitCode !== 0) {
        keep(ctx, { output: firstLines(result.stderr || result.stdout, 20, 4000) });
      }
    }
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
  const now =
    (await waitFor(ctx, ctx.run.rollbackSentAt ? ctx.timing.recoverWaitMs : 0, 2_000, async () => {
      const q = await queryInstalled(ctx, names);
      return restored(q) ? q : undefined;
    })) ?? (await queryInstalled(ctx, names));
  const updated = report.map((e) => ({
    ...e,
    from: e.from,
    possible: e.possible,
  }));
  const notRestored = updated.filter(
    (e) =>
      e.possible &&
      e.to !== null &&
      !(now[e.name] ?? []).some((v) => sameVersion(ctx.driver, v, e.to as string)),
  );
  const impossible = updated.filter((e) => !e.possible);
  if (notRestored.length === 0 && impossible.length === 0) {
    step(ctx, { type: 'rollback_verified' }, { postBaseline: now, finishedAt: ctx.deps.now(), error: null });
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
      error: problems.join('\n'),
      finishedAt: ctx.deps.now(),
    },
  );
}

// ---------------------------------------------------------------------------------------------

export interface HostRunOutcome {
  run: HostRunRecord;
  /** False when the lease was lost (another worker continues the host). */
  held: boolean;
}

/**
 * Runs a claimed host run from its stored step to a final status (succeeded, failed, skipped) or,
 * for a rollback, to rolled_back / rollback_failed. Heartbeats keep the lease while it works.
 */
export async function runHostRun(
  deps: EngineDeps,
  settings: DeploymentSettings,
  run: HostRunRecord,
  workerId: string,
  mode: 'deploy' | 'rollback',
): Promise<HostRunOutcome> {
  const timing = timingOf(deps);
  let driver: PackageManagerDriver;
  try {
    driver = driverFor(run.tool);
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
  try {
    if (
      mode === 'rollback' &&
      (ctx.run.status === 'succeeded' || ctx.run.status === 'failed' || ctx.run.status === 'rollback_failed')
    ) {
      step(ctx, { type: 'rollback_begin' }, { error: null });
    }
    for (;;) {
      if (leaseLost) throw new LeaseLost();
      switch (ctx.run.status) {
        case 'pre_baseline':
          await preBaseline(ctx);
          break;
        case 'installing':
          await install(ctx);
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
    const message = err instanceof StepFailed ? err.message : userMessageOf(err);
    if (!(err instanceof StepFailed) && !(err instanceof PatchbotError)) {
      deps.logger.error({ err, host: ctx.run.hostName }, 'unexpected error in a host step');
    }
    step(ctx, { type: 'fail', error: message }, { error: message, finishedAt: deps.now() });
    try {
      await save(ctx);
    } catch (lost) {
      if (lost instanceof LeaseLost) return { run: ctx.run, held: false };
      throw lost;
    }
    return { run: ctx.run, held: true };
  } finally {
    clearInterval(beat);
    await closeExecutor(ctx);
  }
}
