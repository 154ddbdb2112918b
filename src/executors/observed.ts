/**
 * An executor that reports how long each command took and how it ended (the SSH command duration
 * metric). The verb is the program that ran: for a job (jobs.ts) the package manager or tool it
 * wraps, for a job's status read or clean-up `job-status` / `job-forget`; a name that is not a plain
 * program name is reported as `other`, so the label stays a small fixed set.
 */
import type { ExecRequest, ExecResult, Executor } from './executor.js';

export type CommandOutcome = 'ok' | 'nonzero' | 'timeout' | 'signal' | 'error';

export interface CommandObservation {
  verb: string;
  outcome: CommandOutcome;
  seconds: number;
}

export type CommandObserver = (observation: CommandObservation) => void;

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

const base = (program: string): string => {
  const name = program.slice(program.lastIndexOf('/') + 1);
  return PLAIN.test(name) ? name : 'other';
};

/** The verb of a request: the program, or what a job runs. */
export function commandVerb(request: Pick<ExecRequest, 'command' | 'args'>): string {
  const args = request.args;
  if (base(request.command) === 'sh' && args[0] === '-c') {
    const marker = args[2];
    if (marker === 'patchbot-job-status') return 'job-status';
    if (marker === 'patchbot-job-forget') return 'job-forget';
    if (marker === 'patchbot-job') {
      // sh -c SCRIPT patchbot-job JOB MAX [env K=V...] [sudo -n --] PROGRAM ARGS...
      let i = 5;
      if (args[i] === 'env') {
        i += 1;
        while (i < args.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i] ?? '')) i += 1;
      }
      if (args[i] === 'sudo' && args[i + 1] === '-n' && args[i + 2] === '--') i += 3;
      const program = args[i];
      return program === undefined ? 'other' : base(program);
    }
  }
  return base(request.command);
}

export function outcomeOf(result: ExecResult): CommandOutcome {
  if (result.timedOut) return 'timeout';
  if (result.signal !== null) return 'signal';
  return result.exitCode === 0 ? 'ok' : 'nonzero';
}

/** `executor` with every command reported to `observe` (which must not throw). */
export function observedExecutor(executor: Executor, observe: CommandObserver): Executor {
  return {
    host: executor.host,
    async exec(request) {
      const started = performance.now();
      const verb = commandVerb(request);
      try {
        const result = await executor.exec(request);
        observe({ verb, outcome: outcomeOf(result), seconds: (performance.now() - started) / 1000 });
        return result;
      } catch (err) {
        observe({ verb, outcome: 'error', seconds: (performance.now() - started) / 1000 });
        throw err;
      }
    },
    close: () => executor.close(),
  };
}
