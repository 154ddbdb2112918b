import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { sshdAvailable, startSshd, type TestSshHost } from '../../support/sshd.js';
import { runCli } from '../../support/cli.js';

const KEY_A = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const KEY_A_HEX = Buffer.from(KEY_A.slice(7), 'base64').toString('hex');

const dir = mkdtempSync(join(tmpdir(), 'patchbot-hosts-cli-'));
const policyPath = join(dir, 'patchbot.yaml');
writeFileSync(
  policyPath,
  [
    'teams:',
    '  - name: platform',
    '  - name: payments',
    'routing:',
    '  defaultTeam: platform',
    'groups:',
    '  - name: dbs',
    '    match: { labels: { role: db } }',
    'hosts:',
    '  - name: policy-1',
    '    address: 10.0.0.1',
    `    hostKey: ${KEY_A}`,
    '',
  ].join('\n'),
);

let pg: TempPostgres;
let env: NodeJS.ProcessEnv;
let db: Database;
let repos: Repositories;
let sshd: TestSshHost | undefined;
const cli = (...args: string[]) => runCli(args, env, dir);

beforeAll(async () => {
  pg = await createTempPostgres('hosts_cli');
  env = { DATABASE_URL: pg.url, PATCHBOT_CONFIG: policyPath, LOG_LEVEL: 'warn' };
  expect((await cli('db', 'migrate')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
  if (sshdAvailable() && process.getuid?.() === 0) sshd = await startSshd({ address: '127.0.0.31' });
});
afterAll(async () => {
  await sshd?.stop();
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('patchbot hosts', () => {
  it('list shows the policy file hosts (reconciled first) with the key in SHA256 form', async () => {
    const r = await cli('hosts', 'list');
    expect(r.code).toBe(0);
    // the message names the policy file by its real path
    expect(r.stderr).toContain(`${policyPath}: hosts 1 added (policy-1)`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('policy-1'));
    expect(line).toMatch(
      /^policy-1\s+10\.0\.0\.1:22\s+patchbot\s+production\s+3\s+platform\s+patchbot\.yaml\s+managed\s+SHA256:/,
    );
    expect(line).toContain(KEY_A);
    expect(await repos.hosts.require('policy-1')).toMatchObject({
      source: 'policy',
      hostKeys: [{ sha256: KEY_A_HEX, type: null }],
    });
  });

  it('add stores every flag, audits it as the OS user from the cli, and list --format json shows it', async () => {
    const r = await cli(
      'hosts',
      'add',
      'db-1',
      '--address',
      'db1.example.com',
      '--port',
      '2222',
      '--user',
      'deploy',
      '--host-key',
      KEY_A,
      '--label',
      'role=db',
      '--label',
      'tier=1',
      '--env',
      'staging',
      '--criticality',
      '1',
      '--internet-facing',
      '--control',
      'waf',
      '--control',
      'ids',
      '--ring',
      'canary',
      '--group',
      'extra',
    );
    expect(r.stderr).toContain('warning: --group: unknown group "extra"');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('added host db-1 (deploy@db1.example.com:2222; host key ' + KEY_A);
    expect(await repos.hosts.require('db-1')).toMatchObject({
      source: 'cli',
      address: 'db1.example.com',
      port: 2222,
      sshUser: 'deploy',
      hostKeys: [{ sha256: KEY_A_HEX, type: null }],
      labels: { role: 'db', tier: '1' },
      environment: 'staging',
      criticality: 1,
      internetFacing: true,
      compensatingControls: ['waf', 'ids'],
      ring: 'canary',
      team: 'platform',
      groups: ['extra', 'dbs'],
    });
    const [audit] = await repos.audit.list({ action: 'host.add', subjectId: 'db-1' });
    expect(audit).toMatchObject({ actor: userInfo().username, surface: 'cli', subjectType: 'host' });
    expect(audit?.details).toMatchObject({
      hostKeySource: 'given',
      definition: { hostKeys: [{ fingerprint: KEY_A, type: null }], port: 2222 },
    });

    const list = await cli('hosts', 'list', '--format', 'json');
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as {
      policyFile: string | null;
      hosts: { name: string; hostKeys: { fingerprint: string }[]; source: string; status: string }[];
    };
    expect(parsed.policyFile).toBe(policyPath);
    expect(parsed.hosts.map((h) => [h.name, h.source, h.status, h.hostKeys[0]?.fingerprint])).toEqual([
      ['db-1', 'cli', 'managed', KEY_A],
      ['policy-1', 'policy', 'managed', KEY_A],
    ]);
    const team = await cli('hosts', 'list', '--team', 'payments');
    expect(team.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^PostgreSQL at 127\.0\.0\.1:5432 \(database \S+\)$/),
      'no hosts of team payments',
    ]);
  });

  it('refuses to add a host twice unless --replace, and --replace is audited with the old definition', async () => {
    const again = await cli('hosts', 'add', 'db-1', '--address', '10.0.0.9');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('host "db-1" already exists');
    expect(again.stderr).toContain('--replace');
    const replaced = await cli(
      'hosts',
      'add',
      'db-1',
      '--address',
      '10.0.0.9',
      '--team',
      'payments',
      '--replace',
    );
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toContain('note: no host key pinned');
    expect(await repos.hosts.require('db-1')).toMatchObject({
      address: '10.0.0.9',
      team: 'payments',
      hostKeys: [],
    });
    const [audit] = await repos.audit.list({ action: 'host.replace', subjectId: 'db-1' });
    expect(audit?.details).toMatchObject({
      before: { address: 'db1.example.com' },
      definition: { address: '10.0.0.9' },
    });
  });

  it.each([
    [['bad name', '--address', '10.0.0.1'], 'NAME: ', '"bad name"'],
    [
      ['x', '--address', '-oProxyCommand=sh'],
      '--address: expected a host name or an IP address',
      '"-oProxyCommand=sh"',
    ],
    [['x', '--address', '10.0.0.1', '--port', '0'], '--port: expected a port number 1-65535', '"0"'],
    [['x', '--address', '10.0.0.1', '--port', '22x'], '--port: expected a port number 1-65535', '"22x"'],
    [['x', '--address', '10.0.0.1', '--user', 'a b'], '--user: expected a user name', '"a b"'],
    [
      ['x', '--address', '10.0.0.1', '--host-key', 'SHA256:short'],
      '--host-key: expected an SSH host key fingerprint',
      '"SHA256:short"',
    ],
    [['x', '--address', '10.0.0.1', '--label', 'novalue'], '--label: expected KEY=VALUE', '"novalue"'],
    [['x', '--address', '10.0.0.1', '--label', '-k=v'], '--label: expected a label name', '"-k"'],
    [
      ['x', '--address', '10.0.0.1', '--criticality', '5'],
      '--criticality: expected 1 (most critical) to 4',
      '"5"',
    ],
    [
      ['x', '--address', '10.0.0.1', '--env', 'prod'],
      '--env: unknown environment "prod"',
      'production, staging',
    ],
    [['x', '--address', '10.0.0.1', '--team', 'a/b'], '--team: expected a name', '"a/b"'],
    [['x', '--address', 'local', '--host-key', KEY_A], '--address local is this machine', ''],
    [
      ['x', '--address', '10.0.0.1', '--host-key', KEY_A, '--scan-host-key'],
      '--host-key and --scan-host-key',
      '',
    ],
  ])('add %j is refused naming the flag and value', async (args, flagMessage, value) => {
    const r = await cli('hosts', 'add', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flagMessage);
    expect(r.stderr).toContain(value);
    expect(await repos.hosts.get('x')).toBeNull();
  });

  it('add refuses a team or ring the policy does not define, naming the known ones', async () => {
    const team = await cli('hosts', 'add', 'x', '--address', '10.0.0.1', '--team', 'nosuchteam');
    expect(team.code).toBe(2);
    expect(team.stderr).toContain('--team: unknown team "nosuchteam" (known teams: platform, payments)');
    const typo = await cli('hosts', 'add', 'x', '--address', '10.0.0.1', '--team', 'paymnets');
    expect(typo.stderr).toContain('did you mean "payments"?');
    const ring = await cli('hosts', 'add', 'x', '--address', '10.0.0.1', '--ring', 'nosuchring');
    expect(ring.code).toBe(2);
    expect(ring.stderr).toContain('--ring: unknown ring "nosuchring"');
    expect(await repos.hosts.get('x')).toBeNull();
  });

  it('remove retires a CLI host (history kept, audited), --purge deletes it; a policy host is refused', async () => {
    const policyHost = await cli('hosts', 'remove', 'policy-1');
    expect(policyHost.code).toBe(1);
    expect(policyHost.stderr).toContain(
      `host "policy-1" is defined in the policy file ${policyPath}; remove it there (it is then retired, its history kept)`,
    );
    expect((await repos.hosts.require('policy-1')).retiredAt).toBeNull();

    const unknown = await cli('hosts', 'remove', 'db-2');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no host named "db-2"; did you mean "db-1"?');

    const before = await repos.hosts.require('db-1');
    const ok = await cli('hosts', 'remove', 'db-1');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('retired host db-1');
    const retired = await repos.hosts.require('db-1');
    expect(retired).toMatchObject({ id: before.id, address: before.address });
    expect(retired.retiredAt).toBeInstanceOf(Date);
    const [audit] = await repos.audit.list({ action: 'host.retire', subjectId: 'db-1' });
    expect(audit).toMatchObject({ actor: userInfo().username, surface: 'cli' });

    // not listed, not collected; shown as retired on request
    const list = await cli('hosts', 'list');
    expect(list.stdout).not.toMatch(/^db-1 /m);
    expect(list.stdout).toContain('1 retired host(s) not shown');
    const all = await cli('hosts', 'list', '--retired');
    expect(all.stdout).toMatch(/^db-1 .* retired \d{4}-\d{2}-\d{2} /m);
    const collect = await cli('inventory', 'collect', '--host', 'db-1');
    expect(collect.code).toBe(1);
    expect(collect.stderr).toContain('host "db-1" was retired on');

    const again = await cli('hosts', 'remove', 'db-1');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already retired');
    const purged = await cli('hosts', 'remove', 'db-1', '--purge');
    expect(purged.code).toBe(0);
    expect(await repos.hosts.get('db-1')).toBeNull();
    expect(await repos.audit.list({ action: 'host.purge', subjectId: 'db-1' })).toHaveLength(1);
  });

  it('add --scan-host-key pins the key the host presents (as ssh-keygen prints it) with a TOFU warning', async (ctx) => {
    if (!sshd) ctx.skip();
    const h = sshd!;
    const r = await cli(
      'hosts',
      'add',
      'scanned-1',
      '--address',
      h.address,
      '--port',
      String(h.port),
      '--scan-host-key',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `warning: pinning the ssh-ed25519 key that ${h.address}:${h.port} presented just now`,
    );
    expect(r.stderr).toContain(h.hostKeyFingerprint);
    expect(r.stderr).toMatch(/trust on first use.*verify it out of band/i);
    const stored = await repos.hosts.require('scanned-1');
    expect(stored.hostKeys).toEqual([
      { sha256: Buffer.from(h.hostKeyFingerprint.slice(7), 'base64').toString('hex'), type: 'ssh-ed25519' },
    ]);
    const [audit] = await repos.audit.list({ action: 'host.add', subjectId: 'scanned-1' });
    expect(audit?.details).toMatchObject({
      hostKeySource: 'scanned',
      definition: { hostKeys: [{ fingerprint: h.hostKeyFingerprint, type: 'ssh-ed25519' }] },
    });
  });

  it('add --scan-host-key against a closed port fails with the reason and stores nothing', async () => {
    const r = await cli('hosts', 'add', 'dead-1', '--address', '127.0.0.1', '--port', '1', '--scan-host-key');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('connection refused');
    expect(await repos.hosts.get('dead-1')).toBeNull();
  });

  it('a host removed from the policy file is retired on the next command; CLI hosts stay', async () => {
    expect((await cli('hosts', 'add', 'keep-1', '--address', 'local')).code).toBe(0);
    const before = await repos.hosts.require('policy-1');
    writeFileSync(policyPath, 'teams:\n  - name: platform\nhosts: []\n');
    const r = await cli('hosts', 'list');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `${policyPath}: hosts 1 retired, no longer in the file (policy-1; history kept)`,
    );
    const retired = await repos.hosts.require('policy-1');
    expect(retired.id).toBe(before.id);
    expect(retired.retiredAt).toBeInstanceOf(Date);
    expect(await repos.hosts.get('keep-1')).not.toBeNull();
    const [audit] = await repos.audit.list({ action: 'host.policy.retire', subjectId: 'policy-1' });
    expect(audit).toMatchObject({ actor: userInfo().username, surface: 'cli' });
  });

  it('without a policy file, messages say none is in use and policy hosts stay until removed here', async () => {
    writeFileSync(policyPath, `hosts:\n  - name: policy-2\n    address: 10.0.0.2\n    hostKey: ${KEY_A}\n`);
    expect((await cli('hosts', 'list')).code).toBe(0);
    const elsewhere = mkdtempSync(join(tmpdir(), 'patchbot-nofile-'));
    try {
      const noFile = { DATABASE_URL: pg.url, LOG_LEVEL: 'warn' };
      const list = await runCli(['hosts', 'list'], noFile, elsewhere);
      expect(list.code).toBe(0);
      expect(list.stderr).toContain(
        `no policy file is in use (${join(elsewhere, 'patchbot.yaml')} does not exist`,
      );
      expect(list.stdout).toMatch(/^policy-2 .* policy \(no file in use\) +managed /m);
      const team = await runCli(
        ['hosts', 'add', 'y', '--address', '10.0.0.3', '--team', 'platform'],
        noFile,
        elsewhere,
      );
      expect(team.code).toBe(2);
      expect(team.stderr).toContain('no teams are defined: no policy file is in use');
      const removed = await runCli(['hosts', 'remove', 'policy-2'], noFile, elsewhere);
      expect(removed.code).toBe(0);
      expect(removed.stdout).toContain('retired host policy-2');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
