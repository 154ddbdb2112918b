/**
 * The SSH command metric's verb and outcome: the program that ran, the tool a job wraps (after
 * its env assignments and sudo), and a bounded label for anything else.
 */
import { describe, expect, it } from 'vitest';
import { jobCommand } from '../../../src/executors/jobs.js';
import type { ExecRequest, ExecResult, Executor } from '../../../src/executors/executor.js';
import { commandVerb, observedExecutor, type CommandObservation } from '../../../src/executors/observed.js';

const result = (over: Partial<ExecResult>): ExecResult => ({
  exitCode: 0,
  signal: null,
  stdout: '',
  stderr: '',
  truncated: false,
  timedOut: false,
  durationMs: 1,
  ...over,
});

describe('commandVerb', () => {
  it.each([
    [{ command: 'dpkg-query', args: ['-W'] }, 'dpkg-query'],
    [{ command: '/usr/bin/rpm', args: ['-qa'] }, 'rpm'],
    [{ command: 'weird name', args: [] }, 'other'],
    [jobCommand({ command: 'apt-get', args: ['install', '-y', '--', 'openssl=3'] }, 'pb-1'), 'apt-get'],
    [
      jobCommand(
        { command: 'apt-get', args: ['install'], sudo: true, env: { DEBIAN_FRONTEND: 'noninteractive' } },
        'pb-2',
      ),
      'apt-get',
    ],
    [jobCommand({ command: 'zypper', args: ['install'], sudo: true }, 'pb-3'), 'zypper'],
    [{ command: 'sh', args: ['-c', 'script', 'patchbot-job-status', 'pb-4', '100'] }, 'job-status'],
    [{ command: 'sh', args: ['-c', 'script', 'patchbot-job-forget', 'pb-4'] }, 'job-forget'],
  ])('%j is %s', (request, verb) => {
    expect(commandVerb(request)).toBe(verb);
  });
});

describe('observedExecutor', () => {
  const run = async (outcome: ExecResult | Error): Promise<CommandObservation[]> => {
    const seen: CommandObservation[] = [];
    const inner: Executor = {
      host: 'h',
      exec: (_r: ExecRequest) =>
        outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome),
      close: () => Promise.resolve(),
    };
    const ex = observedExecutor(inner, (o) => seen.push(o));
    await ex.exec({ command: 'cat', args: ['/etc/os-release'] }).catch(() => undefined);
    return seen;
  };

  it.each([
    [result({}), 'ok'],
    [result({ exitCode: 1 }), 'nonzero'],
    [result({ exitCode: null, timedOut: true }), 'timeout'],
    [result({ exitCode: null, signal: 'SIGKILL' }), 'signal'],
    [new Error('connection lost'), 'error'],
  ])('reports %j as %s', async (outcome, expected) => {
    const seen = await run(outcome);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.verb).toBe('cat');
    expect(seen[0]?.outcome).toBe(expected);
    expect(seen[0]?.seconds).toBeGreaterThanOrEqual(0);
  });
});
