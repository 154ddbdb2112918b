/**
 * `patchbot` as a real child process (node bin/patchbot.js), for tests of the long-running
 * commands: spawn with an environment, wait for a log line, pick a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/patchbot.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function spawnPatchbot(args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

export async function waitForLine(p: Proc, re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(p.stderr());
    if (m) return m;
    if (p.child.exitCode !== null) throw new Error(`patchbot exited ${p.child.exitCode}: ${p.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
