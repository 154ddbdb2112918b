/**
 * Runs the real CLI (`main` from src/cli/main.ts) in-process with captured stdout/stderr and an
 * environment of the test's choosing.
 */
import { PassThrough, Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const stdin = new PassThrough();
  stdin.end();
  const io: CliIo = { stdout: out.stream, stderr: err.stream, stdin, env, cwd, isTty: false };
  const code = await main(args, io);
  return { code, stdout: out.text(), stderr: err.text() };
}
