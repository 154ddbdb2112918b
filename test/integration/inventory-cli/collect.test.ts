import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { localHostName } from '../../../src/usecases/inventory.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { TEST_USER, startSshdHosts, type TestSshHost } from '../../support/sshd.js';
import { runCli } from '../../support/cli.js';

/** This machine's installed packages as dpkg itself reports them (the oracle). */
function dpkgOracle(): string[] {
  const r = spawnSync(
    'dpkg-query',
    [
      '-W',
      '-f',
      '${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'))
    .filter((f) => f[5] !== 'not-installed' && f[5] !== 'config-files')
    .map((f) => f.slice(0, 5).join(' '))
    .sort();
}

const packagesOf = (snapshot: {
  packages: { name: string; arch: string; version: string; sourceName: string; sourceVersion: string }[];
}) =>
  snapshot.packages.map((p) => [p.name, p.arch, p.version, p.sourceName, p.sourceVersion].join(' ')).sort();

const OTHER_KEY = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

const dir = mkdtempSync(join(tmpdir(), 'patchbot-inventory-cli-'));
const policyPath = join(dir, 'patchbot.yaml');
let pg: TempPostgres;
let env: NodeJS.ProcessEnv;
let db: Database;
let repos: Repositories;
let hosts: TestSshHost[] = [];
let deadPort = 0;
/** A TCP listener standing in for a host with no pinned key: it must never be contacted. */
let tripwire: Server;
let tripwireConnections = 0;
let oracle: string[];
const cli = (...args: string[]) => runCli(args, env, dir);

async function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
}

beforeAll(async () => {
  oracle = dpkgOracle();
  hosts = await startSshdHosts(2, { first: 41 });
  const [a, b] = hosts as [TestSshHost, TestSshHost];
  const closed = createServer();
  deadPort = await listen(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  tripwire = createServer((s) => {
    tripwireConnections += 1;
    s.destroy();
  });
  const tripwirePort = await listen(tripwire);

  writeFileSync(
    policyPath,
    [
      'ssh:',
      `  user: ${TEST_USER}`,
      `  identityFile: ${a.privateKeyPath}`,
      '  connectTimeout: 5s',
      'hosts:',
      '  - name: good-a',
      `    address: ${a.address}`,
      `    port: ${a.port}`,
      `    hostKey: ${a.hostKeyFingerprint}`,
      '  - name: good-b',
      `    address: ${b.address}`,
      `    port: ${b.port}`,
      `    hostKey: ${b.hostKeyFingerprint}`,
      `    identityFile: ${b.privateKeyPath}`,
      '  - name: wrong-key',
      `    address: ${b.address}`,
      `    port: ${b.port}`,
      `    hostKey: ${a.hostKeyFingerprint}`,
      `    identityFile: ${b.privateKeyPath}`,
      '',
    ].join('\n'),
  );
  pg = await createTempPostgres('inventory_cli');
  env = { DATABASE_URL: pg.url, PATCHBOT_CONFIG: policyPath, LOG_LEVEL: 'warn' };
  expect((await cli('db', 'migrate')).code).toBe(0);
  const dead = await cli(
    'hosts',
    'add',
    'dead-1',
    '--address',
    '127.0.0.1',
    '--port',
    String(deadPort),
    '--host-key',
    OTHER_KEY,
  );
  expect(dead.code, dead.stderr).toBe(0);
  const nopin = await cli(
    'hosts',
    'add',
    'nopin-1',
    '--address',
    '127.0.0.1',
    '--port',
    String(tripwirePort),
  );
  expect(nopin.code, nopin.stderr).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await new Promise<void>((r) => (tripwire ? tripwire.close(() => r()) : r()));
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('patchbot inventory collect', () => {
  it('--all stores the good hosts with the real packages and reports each failure with its reason', async () => {
    const [a, b] = hosts as [TestSshHost, TestSshHost];
    const r = await cli('inventory', 'collect', '--all', '--concurrency', '3');
    // some hosts failed, the others are stored: partial
    expect(r.code, r.stderr).toBe(4);
    const lines = r.stdout.split('\n');
    const line = (host: string) =>
      lines.find((l) => /^(ok|FAILED) /.test(l) && l.includes(` ${host}: `)) ?? '';
    // progress on stderr: one line per host as it ends
    for (const name of ['good-a', 'good-b', 'dead-1', 'wrong-key', 'nopin-1'])
      expect(r.stderr).toMatch(new RegExp(`\\[[1-5]/5\\] (ok|FAILED) +${name}: `));

    expect(line('good-a')).toMatch(new RegExp(`^ok +good-a: ${oracle.length} packages, `));
    expect(line('good-b')).toMatch(new RegExp(`^ok +good-b: ${oracle.length} packages, `));
    expect(line('dead-1')).toMatch(
      /FAILED +dead-1: cannot reach dead-1 \(127\.0\.0\.1:\d+\): connection refused/,
    );
    expect(line('wrong-key')).toContain('FAILED  wrong-key: refusing wrong-key');
    expect(line('wrong-key')).toContain(
      `its host key CHANGED. Expected ${a.hostKeyFingerprint}, presented ssh-ed25519 ${b.hostKeyFingerprint}`,
    );
    expect(line('nopin-1')).toContain(
      'FAILED  nopin-1: host nopin-1 has no pinned SSH host key; not connecting',
    );
    expect(line('nopin-1')).toContain(
      'patchbot hosts add nopin-1 --address 127.0.0.1 --host-key SHA256:... --replace',
    );
    expect(tripwireConnections).toBe(0);
    expect(lines).toContain(`hosts: 2 ok, 3 failed; packages: ${2 * oracle.length}; reboot required: none`);

    for (const name of ['good-a', 'good-b']) {
      const snap = await repos.inventory.latest(name);
      expect(snap, name).not.toBeNull();
      expect(packagesOf(snap!)).toEqual(oracle);
      expect((await repos.hosts.require(name)).lastInventoryAt).toEqual(snap!.collectedAt);
    }
    for (const name of ['dead-1', 'wrong-key', 'nopin-1']) {
      expect(await repos.inventory.latest(name), name).toBeNull();
    }
    // coverage names the failed hosts unreachable, with the reason; the collected ones were
    // inventoried (no advisories are loaded here, so they are not assessed either)
    const report = await cli('report', 'coverage', '--hosts', '--format', 'json');
    expect(report.code, report.stderr).toBe(0);
    const states = new Map(
      (JSON.parse(report.stdout) as { hosts: { name: string; state: string; detail: string }[] }).hosts.map(
        (h) => [h.name, h],
      ),
    );
    for (const name of ['dead-1', 'wrong-key', 'nopin-1'])
      expect(states.get(name)?.state, name).toBe('unreachable');
    expect(states.get('dead-1')?.detail).toContain('connection refused');
    for (const name of ['good-a', 'good-b']) expect(states.get(name)?.state, name).toBe('noAdvisories');
    const [audit] = await repos.audit.list({ action: 'inventory.collect' });
    expect(audit).toMatchObject({ actor: userInfo().username, surface: 'cli' });
    expect((audit?.details.failed as { host: string }[]).map((f) => f.host).sort()).toEqual([
      'dead-1',
      'nopin-1',
      'wrong-key',
    ]);
  });

  it('--host with --format json prints the summary as data', async () => {
    const r = await cli('inventory', 'collect', '--host', 'good-b', '--host', 'dead-1', '--format', 'json');
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout) as {
      ok: number;
      failed: number;
      packages: number;
      hosts: {
        host: string;
        ok: boolean;
        packages?: number;
        snapshotId?: string;
        error?: string;
        code?: string;
      }[];
    };
    expect(out).toMatchObject({ ok: 1, failed: 1, packages: oracle.length });
    expect(out.hosts.map((h) => [h.host, h.ok])).toEqual([
      ['good-b', true],
      ['dead-1', false],
    ]);
    expect(out.hosts[1]).toMatchObject({ code: 'HOST_UNREACHABLE' });
    expect(out.hosts[1]?.error).toContain('connection refused');
    expect(await repos.inventory.count('good-b')).toBe(2);
    expect((await repos.inventory.latest('good-b'))?.id).toBe(out.hosts[0]?.snapshotId);
  });

  it('every host failing is an error (exit 1), not a partial result', async () => {
    const r = await cli('inventory', 'collect', '--host', 'dead-1', '--host', 'nopin-1');
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain('hosts: 0 ok, 2 failed');
  });

  it('refuses a missing selection and an unknown host before collecting anything', async () => {
    const none = await cli('inventory', 'collect');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--host NAME (repeatable), --all (every host) or --local (this machine)');
    const unknown = await cli('inventory', 'collect', '--host', 'good-c');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no host named "good-c"; did you mean');
    const conc = await cli('inventory', 'collect', '--all', '--concurrency', '0');
    expect(conc.code).toBe(2);
    expect(conc.stderr).toContain('--concurrency: expected');
    expect(conc.stderr).toContain('"0"');
    expect(await repos.inventory.count('good-a')).toBe(1);
  });

  it('--local registers this machine and stores its packages', async () => {
    const r = await cli('inventory', 'collect', '--local');
    expect(r.code, r.stderr).toBe(0);
    const name = localHostName(hostname());
    expect(r.stdout).toContain(`ok      ${name}: ${oracle.length} packages`);
    expect(r.stdout).toContain('hosts: 1 ok, 0 failed');
    const host = await repos.hosts.require(name);
    expect(host).toMatchObject({ address: 'local', source: 'cli' });
    const snap = await repos.inventory.latest(name);
    expect(packagesOf(snap!)).toEqual(oracle);
    const [added] = await repos.audit.list({ action: 'host.add', subjectId: name });
    expect(added).toMatchObject({ actor: userInfo().username, surface: 'cli' });
  });
});

describe('collectLocal (the default scan of this machine)', () => {
  it('registers this machine once, stores a snapshot per call, and returns the host record', async () => {
    const { collectLocal } = await import('../../../src/usecases/inventory.js');
    const first = await collectLocal({ repos }, { hostname: 'scan-box' });
    expect(first.host).toMatchObject({ name: 'scan-box', address: 'local', source: 'cli' });
    expect(first.host.lastInventoryAt).toEqual(first.snapshot.collectedAt);
    expect(packagesOf(first.snapshot)).toEqual(oracle);
    const second = await collectLocal({ repos }, { hostname: 'scan-box' });
    expect(second.host.id).toBe(first.host.id);
    expect(second.snapshotId).not.toBe(first.snapshotId);
    expect(await repos.inventory.count('scan-box')).toBe(2);
    expect(await repos.audit.list({ action: 'host.add', subjectId: 'scan-box' })).toHaveLength(1);
  });
});
