/**
 * Processes for the scale-out test: `patchbot serve` and `patchbot worker` started as real
 * processes (node bin/patchbot.js) on one PostgreSQL database and one Redis key prefix, and a
 * Prometheus text parser to read what their /metrics say.
 */
import { request } from 'node:http';
import { freePort, spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';

export interface PatchbotProcess {
  name: string;
  proc: Proc;
  /** HTTP port: serve's, or the worker's --metrics-port. */
  port: number;
  pid: number;
}

export interface ProcessEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  policyFile: string;
  slackApiUrl: string;
  signingSecret: string;
  cwd: string;
}

function envOf(e: ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    PATCHBOT_QUEUE_PREFIX: e.prefix,
    PATCHBOT_CONFIG: e.policyFile,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: e.signingSecret,
    SLACK_API_URL: e.slackApiUrl,
    PATCHBOT_SHUTDOWN_GRACE: '5s',
    LOG_LEVEL: 'info',
  };
}

/** `patchbot serve --no-worker` on a free loopback port, once it says it is up. */
export async function startServe(name: string, e: ProcessEnv): Promise<PatchbotProcess> {
  const port = await freePort();
  const proc = spawnPatchbot(
    ['serve', '--migrate', '--no-worker', '--host', '127.0.0.1', '--port', String(port)],
    envOf(e),
    e.cwd,
  );
  await waitForLine(proc, /patchbot serve is up/, 180_000);
  return { name, proc, port, pid: proc.child.pid ?? 0 };
}

/** `patchbot worker --metrics-port N`, once it says it is up. */
export async function startWorkerProcess(name: string, e: ProcessEnv): Promise<PatchbotProcess> {
  const port = await freePort();
  const proc = spawnPatchbot(
    ['worker', '--migrate', '--metrics-host', '127.0.0.1', '--metrics-port', String(port)],
    envOf(e),
    e.cwd,
  );
  await waitForLine(proc, /patchbot worker is up/, 180_000);
  return { name, proc, port, pid: proc.child.pid ?? 0 };
}

/** SIGTERM, then the exit code. */
export async function stopProcess(p: PatchbotProcess): Promise<number | null> {
  if (p.proc.child.exitCode !== null || p.proc.child.signalCode !== null) return p.proc.child.exitCode;
  p.proc.child.kill('SIGTERM');
  return p.proc.exited;
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples and `# TYPE` lines of a Prometheus text exposition. */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1] ?? '', type[2] ?? '');
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return { samples, types };
}
