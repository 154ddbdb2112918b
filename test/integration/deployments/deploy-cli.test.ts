/**
 * `patchbot deploy` through the real CLI: plan (with the core planner's times), start (refused for a
 * change that is not approved), status, and the control commands, audited as the CLI user.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { runCli } from '../../support/cli.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import type { FleetHost } from '../../support/fleet-hosts.js';
import { REDIS_URL, seedChange } from './support.js';

const KEY = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';

const dir = mkdtempSync(join(tmpdir(), 'patchbot-deploy-cli-'));
const policyPath = join(dir, 'patchbot.yaml');
writeFileSync(
  policyPath,
  [
    'hosts:',
    ...['app-1', 'app-2', 'app-3'].flatMap((name, i) => [
      `  - name: ${name}`,
      `    address: 192.0.2.${i + 1}`,
      `    hostKey: ${KEY}`,
      `    labels: { ring: ${i === 0 ? 'canary' : 'broad'} }`,
    ]),
    'rings:',
    '  - name: canary',
    '    match: { labels: { ring: canary } }',
    '    soak: 2h',
    '  - name: broad',
    '    concurrency: 2',
    '    failureBudget: 50%',
    'maintenanceWindows:',
    '  - name: nightly',
    "    schedule: 'daily 02:00-04:00'",
    '    timeZone: Europe/Berlin',
    '',
  ].join('\n'),
);

let pg: TempPostgres;
let env: NodeJS.ProcessEnv;
/** The CLI's jobs go under the configured prefix, where this installation's workers look. */
const prefix = `pbtest-${randomBytes(4).toString('hex')}`;
let db: Database;
let repos: Repositories;
const cli = (...args: string[]) => runCli(args, env, dir);
const started: string[] = [];

beforeAll(async () => {
  pg = await createTempPostgres('deploy_cli');
  env = {
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: policyPath,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    PATCHBOT_QUEUE_PREFIX: prefix,
  };
  expect((await cli('db', 'migrate')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
  expect((await cli('hosts', 'list')).code).toBe(0); // the policy's hosts are stored
  for (const name of ['app-1', 'app-2', 'app-3']) {
    await repos.inventory.save(name, {
      os: { id: 'debian', family: 'debian', versionId: '12' },
      kernel: '6.1.0',
      packageManager: 'dpkg',
      packages: [
        { name: 'openssl', version: OLD, arch: 'amd64', sourceName: 'openssl', sourceVersion: OLD },
        { name: 'libssl3', version: OLD, arch: 'amd64', sourceName: 'openssl', sourceVersion: OLD },
      ],
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    });
  }
});

afterAll(async () => {
  // remove this test's keys (the CLI enqueued under its prefix; nothing under the default one)
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const hosts = ['app-1', 'app-2', 'app-3'].map((name) => ({ name }) as FleetHost);

describe('patchbot deploy', () => {
  it('plan shows rings, hosts, exact packages and window times', async () => {
    const change = await seedChange(db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const r = await cli('deploy', 'plan', String(change.number));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /ring 1\/2 canary: 1 host\(s\), concurrency 1, failure budget 0 host\(s\), soak 120 min/,
    );
    expect(r.stdout).toMatch(/ring 2\/2 broad: 2 host\(s\), concurrency 2, failure budget 50%/);
    const line =
      /app-1 +(\S+) +(waits for window nightly|window nightly is open); apt: libssl3=3\.0\.13-1~deb12u1 openssl=3\.0\.13-1~deb12u1/.exec(
        r.stdout,
      );
    expect(line, r.stdout).not.toBeNull();
    const at = new Date(line![1]).getTime();
    if (line![2] === 'window nightly is open') {
      // planned inside the window (02:00-04:00 Berlin is 00:00-02:00 or 01:00-03:00 UTC): it starts now
      expect(Math.abs(at - Date.now())).toBeLessThan(5 * 60_000);
    } else {
      // outside it: at the window's next opening, within a day
      expect(line![1]).toMatch(/T0[01]:00:00(\.000)?Z$/);
      expect(at).toBeGreaterThan(Date.now());
      expect(at - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    }
    const json = await cli('deploy', 'plan', String(change.number), '--format', 'json');
    const parsed = JSON.parse(json.stdout) as { plan: { rings: { hosts: { name: string }[] }[] } };
    expect(parsed.plan.rings.map((x) => x.hosts.map((h) => h.name).sort())).toEqual([
      ['app-1'],
      ['app-2', 'app-3'],
    ]);
  });

  it('start refuses a change that is not approved, schedules an approved one, and the controls act on it', async () => {
    const pending = await seedChange(db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
      status: 'pending',
    });
    const refused = await cli('deploy', 'start', String(pending.number));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/is pending, not approved/);

    const change = await seedChange(db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const r = await cli('deploy', 'start', String(change.number));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /deployment #(\d+) scheduled/.exec(r.stdout);
    expect(m).not.toBeNull();
    const number = m?.[1] ?? '';
    const dep = await db.prisma.deployment.findUniqueOrThrow({ where: { number: Number(number) } });
    started.push(dep.id);
    // its ring's jobs are where the workers of this installation (PATCHBOT_QUEUE_PREFIX) look
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    for (const [p, expected] of [
      [prefix, true],
      ['patchbot', false],
    ] as const) {
      const queue = new Queue('deployments', { connection, prefix: p });
      const jobs = await queue.getJobs(['waiting', 'delayed', 'waiting-children', 'prioritized'], 0, -1);
      expect(
        jobs.some((j) => (j.data as { deploymentId?: string }).deploymentId === dep.id),
        `jobs under ${p}`,
      ).toBe(expected);
      await queue.close();
    }
    connection.disconnect();

    const again = await cli('deploy', 'start', String(change.number));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(new RegExp(`already has deployment #${number}`));

    const status = await cli('deploy', 'status', number);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`deployment #${number} of change #${change.number}: waiting window, ring 1/2`),
    );
    expect(status.stdout).toMatch(/app-1 +pending +not before \d{4}-/);

    const paused = await cli('deploy', 'pause', number);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/paused/);
    expect((await cli('deploy', 'status', number)).stdout).toMatch(/: paused \(from waiting window\)/);
    const bad = await cli('deploy', 'pause', number);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/paused cannot take "pause"/);
    expect((await cli('deploy', 'abort', number)).code).toBe(0);
    const json = JSON.parse((await cli('deploy', 'status', number, '--format', 'json')).stdout) as {
      state: { status: string };
      rings: { hosts: { status: string }[] }[];
    };
    expect(json.state.status).toBe('aborted');
    expect(json.rings[0]?.hosts.map((h) => h.status)).toEqual(['skipped']);

    const audit = await repos.audit.list({ subjectType: 'deployment', subjectId: dep.id });
    expect(audit.filter((a) => a.surface === 'cli').map((a) => a.action)).toEqual([
      'deployment.scheduled',
      'deployment.pause',
      'deployment.abort',
    ]);
  });

  it('12 concurrent `deploy start` of one change create one deployment; the others say which (3 rounds)', async () => {
    for (let round = 0; round < 3; round += 1) {
      const change = await seedChange(db, {
        hosts,
        packageName: 'openssl',
        installedVersion: OLD,
        fixedVersion: `3.0.13-1~deb12u${round + 2}`,
      });
      const runs = await Promise.all(
        Array.from({ length: 12 }, () => cli('deploy', 'start', String(change.number))),
      );
      const ok = runs.filter((r) => r.code === 0);
      expect(ok, runs.map((r) => r.stderr).join('\n')).toHaveLength(1);
      const number = /deployment #(\d+) scheduled/.exec(ok[0]?.stdout ?? '')?.[1];
      for (const r of runs.filter((x) => x.code !== 0)) {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`already has deployment #${number}`));
      }
      expect(await db.prisma.deployment.count({ where: { changeRequestId: change.id } })).toBe(1);
      const dep = await db.prisma.deployment.findFirstOrThrow({ where: { changeRequestId: change.id } });
      expect((await cli('deploy', 'abort', String(dep.number))).code).toBe(0);
    }
  }, 120_000);
});
