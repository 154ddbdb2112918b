/**
 * Runs programs on this machine: child_process.spawn with an argument list (never a shell), in a
 * process group of its own so a timeout kills the command and everything it started (except a
 * `detached` job, which is left to finish), with bounded captured output and optional `sudo -n`
 * (non-interactive: fails instead of asking for a password).
 */
import { spawn } from 'node:child_process';
import { PatchbotError } from '../../core/errors.js';
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TIMEOUT_MS,
  type ExecRequest,
  type ExecResult,
  type Executor,
} from '../executor.js';
import { BoundedOutput } from '../output.js';

export interface LocalExecutorOptions {
  /** Name reported as `host` (default "local"). */
  host?: string;
  /** Environment for the commands; default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Path or name of sudo (default "sudo"). */
  sudoPath?: string;
}

/** Exit codes a shell would give for a program it cannot run, so callers see the same on every executor. */
const NOT_FOUND_EXIT = 127;
const NOT_EXECUTABLE_EXIT = 126;
/** How long to wait for the pipes to close after a timeout kill before giving up on them. */
const KILL_GRACE_MS = 2_000;

export class LocalExecutor implements Executor {
  readonly host: string;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly sudoPath: string;

  constructor(options: LocalExecutorOptions = {}) {
    this.host = options.host ?? 'local';
    this.env = options.env;
    this.sudoPath = options.sudoPath ?? 'sudo';
  }

  exec(request: ExecRequest): Promise<ExecResult> {
    if (request.command === '') {
      return Promise.reject(new PatchbotError('VALIDATION', 'empty command'));
    }
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxBytes = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const [file, args] = request.sudo
      ? [this.sudoPath, ['-n', '--', request.command, ...request.args]]
      : [request.command, [...request.args]];
    const started = performance.now();

    return new Promise<ExecResult>((resolve) => {
      const stdout = new BoundedOutput(maxBytes);
      const stderr = new BoundedOutput(maxBytes);
      let timedOut = false;
      let settled = false;
      const child = spawn(file, args, {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: this.env,
        windowsHide: true,
      });

      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
      };
      let graceTimer: NodeJS.Timeout | undefined;
      const stopWaiting = (): void => {
        // A job (detached) keeps running on its own: stop waiting, leave it alone.
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        finish(null, null);
      };
      const onAbort = (): void => {
        timedOut = true;
        if (request.detached === true) stopWaiting();
        else killGroup();
      };
      request.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        timedOut = true;
        if (request.detached === true) {
          stopWaiting();
          return;
        }
        killGroup();
        // A descendant that left the group (setsid) may still hold the pipes open: stop waiting for it.
        graceTimer = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish(child.exitCode, child.signalCode ?? 'SIGKILL');
        }, KILL_GRACE_MS);
      }, timeoutMs);

      const finish = (exitCode: number | null, signal: string | null, extraStderr?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        request.signal?.removeEventListener('abort', onAbort);
        if (extraStderr !== undefined) stderr.push(Buffer.from(extraStderr));
        resolve({
          exitCode,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          truncated: stdout.truncated || stderr.truncated,
          timedOut,
          durationMs: Math.round(performance.now() - started),
        });
      };

      let overflowKilled = false;
      const onData = (out: BoundedOutput, chunk: Buffer): void => {
        out.push(chunk);
        if (out.truncated && request.stopOnOverflow === true && !overflowKilled) {
          overflowKilled = true;
          killGroup();
        }
      };
      child.stdout.on('data', (chunk: Buffer) => onData(stdout, chunk));
      child.stderr.on('data', (chunk: Buffer) => onData(stderr, chunk));
      child.stdin.on('error', () => {
        // The command exited without reading its input (EPIPE): its exit status tells the story.
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code === 'ENOENT' ? NOT_FOUND_EXIT : NOT_EXECUTABLE_EXIT;
        const reason = err.code === 'ENOENT' ? 'command not found' : `cannot run: ${err.code ?? err.message}`;
        finish(code, null, `${file}: ${reason}\n`);
      });
      child.on('close', (code, signal) => {
        // The command is done; kill anything it left running in its group (like a dropped session would).
        if (timedOut && request.detached !== true) killGroup();
        finish(code, signal);
      });
      if (request.stdin !== undefined) child.stdin.end(request.stdin);
      else child.stdin.end();
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
