/**
 * Commands that change a host (an install, a rollback) run as jobs: a small fixed POSIX shell script
 * on the host starts the command with its input from /dev/null and its output going to files under
 * the login user's `~/.patchbot/jobs`, records the command's exit status there when it ends, and only
 * then copies the output back over the connection. So:
 *
 * - a timeout on patchbot's side, a dropped connection or a worker that stops never interrupts the
 *   command: it does not write to the connection while it runs (no broken pipe), and patchbot sends
 *   no signal (nothing in patchbot signals a remote process);
 * - whoever looks later (`jobStatus`) learns whether it is still running, finished (with its exit
 *   status and output), was lost (the host rebooted or something killed it) or never started;
 * - a job name runs at most once per host: the script refuses a name it already has a record of;
 *   the record stays until patchbot has stored the result and forgets it (`forgetJob`).
 *
 * The scripts are constants; every value (job name, output limit, the command and its arguments)
 * is passed as a separate argument, never put into the script text. `sudo -n --` goes right before
 * the package manager, so the host's sudoers rules see the package manager's own command line.
 */
import { ValidationError } from '../core/errors.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type ExecResult, type Executor } from './executor.js';

/** Job names: what the record files are called (`<name>.pid`, `.out`, `.err`, `.rc`). */
export const JOB_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,100}$/;
const ENV_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,63}$/;
const ENV_VALUE_PATTERN = /^[A-Za-z0-9_.:,/+-]{0,256}$/;

/** Where the records live, relative to the login user's home directory. */
export const JOB_DIR = '.patchbot/jobs';

/** Exit status of the script itself when it cannot start the job (its message says why). */
export const JOB_REFUSED_EXIT = 125;

const RUN_SCRIPT = [
  'j=$1 max=$2',
  'shift 2',
  `d="\${HOME:-.}/${JOB_DIR}"`,
  `mkdir -p -m 700 "$d" || { echo "patchbot: cannot create $d" >&2; exit ${JOB_REFUSED_EXIT}; }`,
  'f="$d/$j"',
  `if [ -e "$f.pid" ] || [ -e "$f.rc" ]; then echo "patchbot: job $j already ran on this host" >&2; exit ${JOB_REFUSED_EXIT}; fi`,
  'boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)',
  // the records are private; the command itself runs with the login umask (a package's maintainer
  // scripts must not create files only root can read)
  `(umask 077 && : > "$f.out" && : > "$f.err" && echo "$$ $boot" > "$f.pid") || exit ${JOB_REFUSED_EXIT}`,
  '"$@" </dev/null >>"$f.out" 2>>"$f.err"',
  'rc=$?',
  'echo "$rc" > "$f.rc"',
  'tail -c "$max" "$f.out"',
  'tail -c "$max" "$f.err" >&2',
  'exit "$rc"',
].join('\n');

const STATUS_SCRIPT = [
  'j=$1 max=$2',
  `f="\${HOME:-.}/${JOB_DIR}/$j"`,
  'state=absent',
  'if [ -f "$f.rc" ]; then state="finished $(cat "$f.rc")"',
  'elif [ -f "$f.pid" ]; then',
  '  pid= boot=',
  '  read pid boot < "$f.pid"',
  '  now=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)',
  '  if [ -n "$pid" ] && [ "$boot" = "$now" ] && [ -d "/proc/$pid" ]; then state=running; else state=lost; fi',
  // it may have ended between the two looks
  '  if [ "$state" = lost ] && [ -f "$f.rc" ]; then state="finished $(cat "$f.rc")"; fi',
  '  if [ "$state" = lost ] && [ ! -f "$f.pid" ]; then state=absent; fi',
  'fi',
  'echo "$state"',
  '[ "$state" = absent ] && exit 0',
  '[ -f "$f.out" ] && tail -c "$max" "$f.out"',
  '[ -f "$f.err" ] && tail -c "$max" "$f.err" >&2',
  'exit 0',
].join('\n');

const FORGET_SCRIPT = [`f="\${HOME:-.}/${JOB_DIR}/$1"`, 'rm -f "$f.pid" "$f.out" "$f.err" "$f.rc"'].join(
  '\n',
);

/** A command to run as a job: the program, its arguments, variables it needs, and sudo. */
export interface JobSpec {
  command: string;
  args: readonly string[];
  /** Set with `env NAME=value` before sudo (sudoers `env_keep` lets them through). */
  env?: Readonly<Record<string, string>>;
  sudo?: boolean;
}

export type JobStatus =
  /** Still running (same boot, its process alive): output so far. */
  | { state: 'running'; stdout: string; stderr: string }
  | { state: 'finished'; exitCode: number; stdout: string; stderr: string }
  /** Started, never recorded an exit status, and no longer running: the host rebooted or it was killed. */
  | { state: 'lost'; stdout: string; stderr: string }
  /** No record: it never started, or it finished and its result was already delivered. */
  | { state: 'absent' };

export function checkJobName(job: string): string {
  if (!JOB_NAME_PATTERN.test(job)) {
    throw new ValidationError(`invalid job name ${JSON.stringify(job.slice(0, 120))}`);
  }
  return job;
}

/** The argument list that runs `spec` as job `job` (what `runJob` hands to the executor). */
export function jobCommand(
  spec: JobSpec,
  job: string,
  maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES,
): { command: string; args: string[] } {
  checkJobName(job);
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => {
    if (!ENV_NAME_PATTERN.test(k) || !ENV_VALUE_PATTERN.test(v)) {
      throw new ValidationError(`invalid environment variable for a job: ${JSON.stringify(k.slice(0, 64))}`);
    }
    return `${k}=${v}`;
  });
  return {
    command: 'sh',
    args: [
      '-c',
      RUN_SCRIPT,
      'patchbot-job',
      job,
      String(Math.max(1, Math.trunc(maxOutputBytes))),
      ...(env.length > 0 ? ['env', ...env] : []),
      ...(spec.sudo === true ? ['sudo', '-n', '--'] : []),
      spec.command,
      ...spec.args,
    ],
  };
}

export interface RunJobOptions {
  /** Stop waiting after this long; the job goes on (result `timedOut`). */
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Stop waiting when aborted (the job goes on). */
  signal?: AbortSignal;
}

/**
 * Runs `spec` as job `job` and waits for it (up to the timeout). The result is the command's exit
 * status and the end of its output; `timedOut` when patchbot stopped waiting (the job still runs).
 * A dropped connection throws the executor's transient error: the job goes on either way.
 */
export async function runJob(
  executor: Executor,
  spec: JobSpec,
  job: string,
  options: RunJobOptions = {},
): Promise<ExecResult> {
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const command = jobCommand(spec, job, max);
  return await executor.exec({
    ...command,
    detached: true,
    maxOutputBytes: max,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
}

/** Parses what the status script printed. */
export function parseJobStatus(result: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>): JobStatus {
  const nl = result.stdout.indexOf('\n');
  const first = (nl === -1 ? result.stdout : result.stdout.slice(0, nl)).trim();
  const stdout = nl === -1 ? '' : result.stdout.slice(nl + 1);
  const stderr = result.stderr;
  if (result.exitCode !== 0) throw new ValidationError(`cannot read the job record: ${stderr.slice(0, 200)}`);
  if (first === 'absent') return { state: 'absent' };
  if (first === 'running') return { state: 'running', stdout, stderr };
  if (first === 'lost') return { state: 'lost', stdout, stderr };
  const m = /^finished (\d{1,3})$/.exec(first);
  if (m) return { state: 'finished', exitCode: Number(m[1]), stdout, stderr };
  // An exit status file cut short (the host went down while writing it): the command ended.
  if (first.startsWith('finished')) return { state: 'lost', stdout, stderr };
  throw new ValidationError(`unexpected job record ${JSON.stringify(first.slice(0, 80))}`);
}

/** What became of job `job` on the host. Transient executor errors (host unreachable) propagate. */
export async function jobStatus(
  executor: Executor,
  job: string,
  options: { maxOutputBytes?: number; timeoutMs?: number } = {},
): Promise<JobStatus> {
  checkJobName(job);
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const r = await executor.exec({
    command: 'sh',
    args: ['-c', STATUS_SCRIPT, 'patchbot-job-status', job, String(max)],
    maxOutputBytes: max + 64,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  return parseJobStatus(r);
}

/** Removes the record of a job whose result was taken. */
export async function forgetJob(executor: Executor, job: string, timeoutMs?: number): Promise<void> {
  checkJobName(job);
  await executor.exec({
    command: 'sh',
    args: ['-c', FORGET_SCRIPT, 'patchbot-job-forget', job],
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}
