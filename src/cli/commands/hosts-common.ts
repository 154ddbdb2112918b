/**
 * What the `hosts` subcommands (and the commands that reconcile the policy hosts first) share: the
 * acting OS user, the policy file reference, flag parsing, tables.
 */
import os from 'node:os';
import path from 'node:path';
import { access } from 'node:fs/promises';
import type { z } from 'zod';
import { LabelKey, LabelValue } from '../../config/values.js';
import { PatchbotError, UsageError } from '../../core/errors.js';
import { describePolicyFile, syncPolicyHosts, type Actor, type PolicyFileRef } from '../../usecases/hosts.js';
import type { AppContext } from '../context.js';
import { writeLine, type CliIo } from '../io.js';

/** The person running the command: the OS user. */
export function cliActor(io: CliIo): Actor {
  let id: string | undefined;
  try {
    id = os.userInfo().username;
  } catch {
    id = undefined;
  }
  id = id || io.env.USER || io.env.LOGNAME || `uid:${process.getuid?.() ?? 'unknown'}`;
  return { id, surface: 'cli' };
}

/** The policy file for messages: its absolute path, and whether it is in use. */
export function policyFileRef(app: Pick<AppContext, 'config'>): PolicyFileRef {
  return { path: app.config.policyPath, inUse: app.config.policySource === 'file' };
}

/**
 * Brings the database's policy hosts in line with the policy file before a hosts or inventory
 * command: hosts no longer in the file are retired (their history kept). Without a policy file
 * (built-in defaults) nothing is retired: a missing file is not an empty one.
 */
export async function syncHostsFromPolicy(app: AppContext, io: CliIo): Promise<void> {
  const ref = policyFileRef(app);
  if (!ref.inUse) {
    const stored = await app.repos.hosts.list({ source: 'policy' });
    if (stored.length > 0) {
      writeLine(
        io.stderr,
        `warning: ${describePolicyFile(ref)}; keeping the ${stored.length} host(s) an earlier policy file defined ` +
          '(`patchbot hosts remove NAME` retires one)',
      );
    }
    return;
  }
  const r = await syncPolicyHosts(app.config.policy, app.repos, {
    actor: cliActor(io),
    policyFile: ref.path,
  });
  const parts = [
    r.added.length ? `${r.added.length} added (${r.added.join(', ')})` : '',
    r.updated.length ? `${r.updated.length} updated (${r.updated.map((u) => u.name).join(', ')})` : '',
    r.adopted.length ? `${r.adopted.length} now defined by the file (${r.adopted.join(', ')})` : '',
    r.restored.length ? `${r.restored.length} back in the file (${r.restored.join(', ')})` : '',
    r.retired.length
      ? `${r.retired.length} retired, no longer in the file (${r.retired.join(', ')}; history kept)`
      : '',
  ].filter((p) => p !== '');
  if (parts.length > 0) writeLine(io.stderr, `${ref.path}: hosts ${parts.join(', ')}`);
}

export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * Runs a check of command-line values and reports what it refuses as bad usage (exit 2): the same
 * checks serve the policy file, where they are configuration errors.
 */
export function asUsage<T>(checkValues: () => T): T {
  try {
    return checkValues();
  } catch (err) {
    throw err instanceof PatchbotError && !(err instanceof UsageError)
      ? new UsageError(err.userMessage, { details: err.details })
      : err;
  }
}

/** Parses a flag's value with a schema; the error names the flag and the value. */
export function check<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const message = r.error.issues[0]?.message ?? 'invalid value';
  throw new UsageError(`${flag}: ${message}, got ${JSON.stringify(value)}`, {
    details: { flag, value },
  });
}

export function intFlag(value: string, flag: string, min: number, max: number, what: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag}: expected ${what}, got ${JSON.stringify(value)}`, {
      details: { flag, value },
    });
  }
  return Number(value);
}

/** `--label k=v` flags as a record. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const kv of values) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
    labels[check(LabelKey, kv.slice(0, eq), '--label')] = check(LabelValue, kv.slice(eq + 1), '--label');
  }
  return labels;
}

/**
 * `--identity-file`: made absolute (serve and worker may run elsewhere); a file that cannot be read
 * here is reported, not refused (it may exist only where the worker runs).
 */
export async function identityFileFlag(value: string, io: CliIo): Promise<string> {
  if (value.trim() === '' || value.includes('\0'))
    throw new UsageError(`--identity-file: expected a file path, got ${JSON.stringify(value)}`);
  const home = io.env.HOME ?? os.homedir();
  const file =
    value === '~'
      ? home
      : value.startsWith('~/')
        ? path.join(home, value.slice(2))
        : path.resolve(io.cwd, value);
  try {
    await access(file);
  } catch {
    writeLine(
      io.stderr,
      `warning: --identity-file ${file} cannot be read here; serve and worker must find it at that path`,
    );
  }
  return file;
}

/** The environment a new host gets when none is given. */
export function defaultEnvironment(environments: readonly string[]): string {
  return environments.includes('production') ? 'production' : (environments[0] ?? 'production');
}

export function printTable(io: CliIo, rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  for (const r of rows)
    writeLine(
      io.stdout,
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
}
