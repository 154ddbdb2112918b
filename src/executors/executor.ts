/**
 * An Executor runs one program with an argument list on one host. There is no shell string
 * anywhere in this contract: `command` is the program, `args` are passed as separate arguments
 * (the SSH executor quotes each one for the remote shell with a strict quoting function).
 */
export interface ExecRequest {
  command: string;
  args: readonly string[];
  /**
   * Stop waiting after this many milliseconds (result `timedOut`). Over SSH the remote command is
   * never signalled: patchbot closes its channel and stops waiting. Locally a command that is not
   * `detached` is killed with its process group.
   */
  timeoutMs?: number;
  /** Keep at most this many bytes of stdout and of stderr; the rest is counted and dropped. */
  maxOutputBytes?: number;
  /** Stop the command as soon as its output passes maxOutputBytes (when a cut result is useless). */
  stopOnOverflow?: boolean;
  /** Run through sudo (non-interactive) on the host. */
  sudo?: boolean;
  /** Data written to the command's stdin. */
  stdin?: string;
  /**
   * The command keeps running on its own when patchbot stops waiting (a job, see jobs.ts): it is
   * never killed, locally either.
   */
  detached?: boolean;
  /** Stop waiting when this aborts (as on a timeout; `timedOut` is set). */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr was cut at maxOutputBytes. */
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export interface Executor {
  /** The host name this executor talks to ("local" for this machine). */
  readonly host: string;
  exec(request: ExecRequest): Promise<ExecResult>;
  /** Release connections. Safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
