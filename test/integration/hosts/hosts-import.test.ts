/**
 * Fleet onboarding through the real CLI, real PostgreSQL and real sshd hosts: `hosts import
 * --known-hosts` (files written by ssh-keyscan and hashed by ssh-keygen -H, the OpenSSH tools
 * themselves), `hosts import --ansible`, `hosts pin --scan` (trust on first use in bulk) and key
 * rotation with several pinned keys. Every imported host is then collected over SSH, which proves
 * the pins are the keys the hosts present.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { parseKnownHosts } from '../../../src/inventory/sources/known-hosts.js';
import { fingerprintToHex } from '../../../src/usecases/hosts.js';
import { runCli } from '../../support/cli.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import { TEST_USER, startSshd, type TestSshHost } from '../../support/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'patchbot-hosts-import-'));
const markers = mkdtempSync(join(tmpdir(), 'patchbot-hosts-import-ran-'));
const policyPath = join(dir, 'patchbot.yaml');
let pg: TempPostgres;
let env: NodeJS.ProcessEnv;
let db: Database;
let repos: Repositories;
let a: TestSshHost;
let b: TestSshHost;
let c: TestSshHost;
const cli = (...args: string[]) => runCli(args, env, dir);
const hex = (fingerprint: string) => fingerprintToHex(fingerprint, 'test');

/** `ssh-keyscan` output for a host: the real known_hosts lines OpenSSH writes ([addr]:port form). */
function keyscan(h: TestSshHost): string {
  const r = spawnSync('ssh-keyscan', ['-p', String(h.port), '-t', 'ed25519,ecdsa,rsa', h.address], {
    encoding: 'utf8',
  });
  if (r.error !== undefined)
    throw new Error(`ssh-keyscan: ${r.error.message} (apt-get install openssh-client)`);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('['));
  if (lines.length === 0) throw new Error(`ssh-keyscan found no key on ${h.address}:${h.port}: ${r.stderr}`);
  return `${lines.join('\n')}\n`;
}
const endpoint = (h: TestSshHost) => `[${h.address}]:${h.port}`;

beforeAll(async () => {
  // a: two host keys (ed25519 + ecdsa); b, c: one. A stand-in `cat` (the first command inventory
  // runs) leaves a trace in a directory the test user may write to.
  chmodSync(markers, 0o777);
  const trace = (name: string) => ({
    cat: `#!/bin/sh\ntouch ${markers}/ran-${name}\nexec /bin/cat "$@"\n`,
  });
  a = await startSshd({ address: '127.0.0.61', extraHostKeys: ['ecdsa'], scripts: trace('a') });
  b = await startSshd({ address: '127.0.0.62', scripts: trace('b') });
  c = await startSshd({ address: '127.0.0.63', scripts: trace('c') });
  // every test host accepts every test client key (one identity file for the policy)
  for (const h of [a, b, c]) {
    const keys = [a, b, c].map((x) => readFileSync(`${x.privateKeyPath}.pub`, 'utf8')).join('');
    writeFileSync(join(h.dir, 'authorized_keys'), keys);
  }
  writeFileSync(
    policyPath,
    [
      'teams:',
      '  - name: platform',
      'ssh:',
      `  user: ${TEST_USER}`,
      `  identityFile: ${a.privateKeyPath}`,
      '  connectTimeout: 5s',
      'hosts:',
      '  - name: policy-1',
      '    address: 127.0.0.1',
      '',
    ].join('\n'),
  );
  pg = await createTempPostgres('hosts_import');
  env = { DATABASE_URL: pg.url, PATCHBOT_CONFIG: policyPath, LOG_LEVEL: 'warn' };
  expect((await cli('db', 'migrate')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
});

afterAll(async () => {
  await Promise.all([a, b, c].map((h) => h?.stop()));
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(markers, { recursive: true, force: true });
});

describe('known_hosts files (OpenSSH format)', () => {
  it('reads every line ssh-keyscan writes with the fingerprint ssh-keygen prints for it', () => {
    const file = join(dir, 'scan.known_hosts');
    writeFileSync(file, keyscan(a) + keyscan(b));
    const oracle = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).stdout;
    const expected = [...oracle.matchAll(/SHA256:[A-Za-z0-9+/]{43}/g)].map((m) => m[0]).sort();
    const parsed = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(parsed.problems).toEqual([]);
    expect(parsed.entries.map((e) => e.fingerprint).sort()).toEqual(expected);
    expect(expected).toContain(a.hostKeys['ecdsa-sha2-nistp256']);
    expect(parsed.entries[0]?.names[0]).toEqual({ kind: 'host', host: a.address, port: a.port });
  });

  it('import pins every key the file trusts for a host; the host is then collected over SSH', async () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, keyscan(a));
    const dry = await cli('hosts', 'import', '--known-hosts', file, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: 1 to add');
    expect(await repos.hosts.get(a.address)).toBeNull();

    const r = await cli('hosts', 'import', '--known-hosts', file, '--team', 'platform');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^${a.address.replace(/\./g, '\\.')} +${a.address}:${a.port} +add `, 'm'),
    );
    const host = await repos.hosts.require(a.address);
    expect(host).toMatchObject({ address: a.address, port: a.port, team: 'platform', source: 'cli' });
    expect(new Set(host.hostKeys.map((k) => k.sha256))).toEqual(
      new Set([hex(a.hostKeys['ssh-ed25519']), hex(a.hostKeys['ecdsa-sha2-nistp256'])]),
    );
    expect(host.hostKeys.map((k) => k.type).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    const [audit] = await repos.audit.list({ action: 'host.add', subjectId: a.address });
    expect(audit?.details).toMatchObject({ importedFrom: `known_hosts ${file}` });

    const collect = await cli('inventory', 'collect', '--host', a.address);
    expect(collect.stderr).not.toContain('refusing');
    expect(collect.code).toBe(0);

    // again: nothing new
    const again = await cli('hosts', 'import', '--known-hosts', file);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('exists, its keys already pinned');
  });

  it('a host pinned only to its ecdsa key is reached with that key (only pinned key types are offered)', async () => {
    const r = await cli(
      'hosts',
      'add',
      'ecdsa-only',
      '--address',
      a.address,
      '--port',
      String(a.port),
      '--host-key',
      a.hostKeys['ecdsa-sha2-nistp256'],
    );
    expect(r.code).toBe(0);
    // its type is learnt from known_hosts: then only ecdsa is negotiated
    const file = join(dir, 'ecdsa.known_hosts');
    writeFileSync(
      file,
      keyscan(a)
        .split('\n')
        .filter((l) => l.includes('ecdsa'))
        .join('\n')
        .replace(`[${a.address}]`, '[ecdsa-only]'),
    );
    const withType = parseKnownHosts(readFileSync(file, 'utf8')).entries[0];
    expect(withType?.keyType).toBe('ecdsa-sha2-nistp256');
    await repos.hosts.setHostKeys('ecdsa-only', [{ sha256: withType.sha256, type: 'ecdsa-sha2-nistp256' }]);
    const collect = await cli('inventory', 'collect', '--host', 'ecdsa-only');
    expect(collect.stderr).not.toContain('refusing');
    expect(collect.code).toBe(0);
  });

  it('hashed entries (ssh-keygen -H) are found only for hosts named on the command line', async () => {
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, keyscan(b));
    const hashed = spawnSync('ssh-keygen', ['-H', '-f', file], { encoding: 'utf8' });
    expect(hashed.status).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    // OpenSSH itself finds the host in the hashed file
    expect(spawnSync('ssh-keygen', ['-F', endpoint(b), '-f', file]).status).toBe(0);

    const none = await cli('hosts', 'import', '--known-hosts', file);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('1 hashed entry not imported: hashed names can only be matched');
    expect(await repos.hosts.get(b.address)).toBeNull();

    const named = await cli('hosts', 'import', '--known-hosts', file, endpoint(b), '[192.0.2.99]:22');
    expect(named.code).toBe(4); // one named host is not in the file
    expect(named.stderr).toContain('192.0.2.99: no usable key in this file');
    expect((await repos.hosts.require(b.address)).hostKeys).toEqual([
      { sha256: hex(b.hostKeyFingerprint), type: 'ssh-ed25519' },
    ]);
    expect((await cli('inventory', 'collect', '--host', b.address)).code).toBe(0);
  });

  it('@revoked keys are never pinned, @cert-authority and patterns are reported, bad lines fail the import partly', async () => {
    const good = keyscan(c).trim();
    const key = good.split(' ').slice(1).join(' ');
    const other = keyscan(a)
      .split('\n')
      .find((l) => l.includes('ssh-ed25519'))!
      .split(' ')
      .slice(1)
      .join(' ');
    const file = join(dir, 'mixed_known_hosts');
    writeFileSync(
      file,
      [
        '# comment',
        good,
        `@revoked * ${other}`,
        `revoked.example.com ${other}`,
        `@cert-authority *.example.com ${key}`,
        `*.internal ${key}`,
        'broken.example.com ssh-ed25519 not-base64!',
        `typo.example.com ssh-rsa ${key.split(' ')[1]}`,
        '',
      ].join('\n'),
    );
    const r = await cli('hosts', 'import', '--known-hosts', file);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      `${file}:4: ${a.hostKeyFingerprint} is marked @revoked in this file; not pinned`,
    );
    expect(r.stderr).toContain(`${file}:5: @cert-authority (host certificates) is not supported`);
    expect(r.stderr).toContain(`${file}:6: pattern "*.internal" names no single host`);
    expect(r.stderr).toContain(`error: ${file}:7: the key is not base64`);
    expect(r.stderr).toContain(`error: ${file}:8: the key is not a ssh-rsa key (its data says ssh-ed25519)`);
    expect(await repos.hosts.get('revoked.example.com')).toBeNull();
    expect((await repos.hosts.require(c.address)).hostKeys.map((k) => k.sha256)).toEqual([
      hex(c.hostKeyFingerprint),
    ]);
  });

  it('a host the policy file defines is left to it, with the lines to add there', async () => {
    const file = join(dir, 'policy_known_hosts');
    writeFileSync(file, keyscan(c).replace(`[${c.address}]:${c.port}`, 'policy-1'));
    const r = await cli('hosts', 'import', '--known-hosts', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `defined in the policy file ${policyPath}; to pin these keys add them there: hostKeys: ["${c.hostKeyFingerprint}"]`,
    );
    expect((await repos.hosts.require('policy-1')).hostKeys).toEqual([]);
  });

  it('a missing or unreadable file is refused naming it', async () => {
    const r = await cli('hosts', 'import', '--known-hosts', join(dir, 'nope'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--known-hosts: cannot read ${join(dir, 'nope')}: no such file`);
    const both = await cli('hosts', 'import', '--known-hosts', 'x', '--ansible', 'y');
    expect(both.stderr).toContain('give one of --known-hosts FILE or --ansible FILE');
  });
});

describe('several pinned keys: a key rotation does not cut access', () => {
  it('any pinned key is accepted; a host presenting none is refused before any command', async () => {
    // b has its key pinned (imported above); pin the next key beside it, then rotate on the host
    const oldKey = b.hostKeyFingerprint;
    const ran = join(markers, 'ran-b');
    rmSync(ran, { force: true });
    await b.replaceHostKey();
    const newKey = b.hostKeyFingerprint;
    expect(newKey).not.toBe(oldKey);

    // not pinned yet: refused during the key exchange, no command ran
    const refused = await cli('inventory', 'collect', '--host', b.address);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `its host key CHANGED. Expected ${oldKey}, presented ssh-ed25519 ${newKey}`,
    );
    expect(existsSync(ran)).toBe(false);

    // the scan shows the change and does not pin it
    const scan = await cli('hosts', 'pin', '--scan', b.address, '--yes');
    expect(scan.code).toBe(1);
    expect(scan.stdout).toMatch(
      new RegExp(`ssh-ed25519 +${newKey.replace(/[+/]/g, '\\$&')} +NOT PINNED: KEY CHANGED`),
    );
    expect(scan.stderr).toContain('presents none of its pinned keys');
    expect((await repos.hosts.require(b.address)).hostKeys.map((k) => k.sha256)).toEqual([hex(oldKey)]);

    // pinned by hand beside the old one (as after checking it out of band): both accepted
    const pin = await cli('hosts', 'pin', b.address, '--key', newKey);
    expect(pin.code).toBe(0);
    expect((await repos.hosts.require(b.address)).hostKeys.map((k) => k.sha256)).toEqual([
      hex(oldKey),
      hex(newKey),
    ]);
    expect((await cli('inventory', 'collect', '--host', b.address)).code).toBe(0);
    expect(existsSync(ran)).toBe(true);

    // two pins, neither presented: refused naming both
    rmSync(ran, { force: true });
    await b.replaceHostKey();
    const again = await cli('inventory', 'collect', '--host', b.address);
    expect(again.stderr).toContain(`Expected one of ${oldKey}, ${newKey}`);
    expect(existsSync(ran)).toBe(false);

    // unpinning the old keys; audited
    const unpin = await cli('hosts', 'unpin', b.address, oldKey);
    expect(unpin.code).toBe(0);
    expect(unpin.stdout).toContain(`keeps ${newKey}`);
    const notPinned = await cli('hosts', 'unpin', b.address, oldKey);
    expect(notPinned.code).toBe(1);
    expect(notPinned.stderr).toContain(`has no pinned key ${oldKey}`);
    expect((await repos.audit.list({ action: 'host.pin', subjectId: b.address })).length).toBe(2);
  });
});

describe('Ansible inventories and trust on first use in bulk', () => {
  it('imports hosts, groups as labels and ansible_host/port/user; unpinned hosts are refused', async () => {
    const file = join(dir, 'hosts.ini');
    writeFileSync(
      file,
      [
        '[web]',
        `web-a ansible_host=${a.address} ansible_port=${a.port}`,
        `web-c ansible_host=${c.address} ansible_port=${c.port}`,
        '[db]',
        'db-remote ansible_host=198.51.100.7 ansible_user=postgres',
        'tmpl ansible_host="{{ inventory_hostname }}.example.com"',
        '[prod:children]',
        'web',
        'db',
        '[all:vars]',
        `ansible_user=${TEST_USER}`,
        '',
      ].join('\n'),
    );
    const team = await cli('hosts', 'import', '--ansible', file, '--team', 'nosuchteam');
    expect(team.code).toBe(2);
    expect(team.stderr).toContain('--team: unknown team "nosuchteam" (known teams: platform)');

    const r = await cli('hosts', 'import', '--ansible', file);
    expect(r.code).toBe(4); // the templated host could not be imported
    expect(r.stderr).toContain('tmpl: ansible_host is a Jinja template');
    expect(r.stderr).toContain('`patchbot hosts pin --scan --unpinned`');
    expect(await repos.hosts.require('web-a')).toMatchObject({
      address: a.address,
      port: a.port,
      sshUser: TEST_USER,
      labels: { 'ansible/web': 'true', 'ansible/prod': 'true' },
      hostKeys: [],
    });
    expect(await repos.hosts.require('db-remote')).toMatchObject({
      address: '198.51.100.7',
      port: 22,
      sshUser: 'postgres',
      labels: { 'ansible/db': 'true', 'ansible/prod': 'true' },
    });
    expect(await repos.hosts.get('tmpl')).toBeNull();
    const refused = await cli('inventory', 'collect', '--host', 'web-a');
    expect(refused.stderr).toContain('host web-a has no pinned SSH host key; not connecting');
  });

  it('pin --scan --unpinned prints every key for review and pins only with --yes', async () => {
    const look = await cli('hosts', 'pin', '--scan', 'web-a', 'web-c', '--quiet');
    expect(look.code).toBe(0);
    expect(look.stdout).toMatch(
      new RegExp(
        `^web-a +${a.address}:${a.port} +ssh-ed25519 +${a.hostKeys['ssh-ed25519'].replace(/[+/]/g, '\\$&')} +new$`,
        'm',
      ),
    );
    expect(look.stdout).toContain(a.hostKeys['ecdsa-sha2-nistp256']);
    expect(look.stdout).toContain(c.hostKeyFingerprint);
    expect(look.stdout).toContain(
      'nothing was pinned: review the fingerprints above, then run again with --yes',
    );
    expect(look.stderr).toContain('trust on first use');
    expect((await repos.hosts.require('web-a')).hostKeys).toEqual([]);
    const dry = await cli('hosts', 'pin', '--scan', '--unpinned', '--dry-run', '--yes', '--quiet');
    expect(dry.stdout).toContain('dry run: 3 key(s) on 2 host(s) would be pinned');

    // db-remote (198.51.100.7) is not reachable from here: the others are pinned, exit 4
    const yes = await cli('hosts', 'pin', '--scan', '--unpinned', '--yes', '--quiet');
    expect(yes.code).toBe(4);
    expect(yes.stdout).toMatch(/^db-remote +198\.51\.100\.7:22 +- +- +UNREACHABLE$/m);
    expect(yes.stdout).toContain('pinned web-a:');
    expect((await repos.hosts.require('web-a')).hostKeys.map((k) => k.type).sort()).toEqual([
      'ecdsa-sha2-nistp256',
      'ssh-ed25519',
    ]);
    const [audit] = await repos.audit.list({ action: 'host.pin', subjectId: 'web-c' });
    expect(audit?.details).toMatchObject({
      hostKeySource: 'scanned',
      before: [],
      after: [{ fingerprint: c.hostKeyFingerprint, type: 'ssh-ed25519' }],
    });
    expect((await cli('inventory', 'collect', '--host', 'web-a', '--host', 'web-c')).code).toBe(0);

    const nothing = await cli('hosts', 'pin', '--scan', 'web-a', '--yes', '--quiet');
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('nothing new to pin');
  }, 60_000);

  it('a YAML inventory imports the same way; --update redefines hosts from the file', async () => {
    const file = join(dir, 'hosts.yml');
    writeFileSync(
      file,
      [
        'all:',
        '  children:',
        '    web:',
        '      hosts:',
        '        web-a:',
        `          ansible_host: ${a.address}`,
        `          ansible_port: ${a.port}`,
        `          ansible_user: ${TEST_USER}`,
        '        local-box:',
        '          ansible_connection: local',
        '',
      ].join('\n'),
    );
    const r = await cli('hosts', 'import', '--ansible', file, '--group-label-prefix', 'grp/');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^web-a .* unchanged +exists \(--update redefines it from the file\)$/m);
    expect(await repos.hosts.require('local-box')).toMatchObject({
      address: 'local',
      labels: { 'grp/web': 'true' },
    });
    // --update: the file's groups replace the labels under its prefix (web-a left "prod" here)
    const upd = await cli('hosts', 'import', '--ansible', file, '--update');
    expect(upd.code).toBe(0);
    expect(upd.stdout).toMatch(/^web-a .* update +labels$/m);
    const webA = await repos.hosts.require('web-a');
    expect(webA.labels).toEqual({ 'ansible/web': 'true' });
    expect(webA.hostKeys).toHaveLength(2); // pins are kept
  });

  it('pin --scan asks a terminal before pinning, and pins nothing on "no"', async () => {
    expect((await cli('hosts', 'add', 'tty-1', '--address', c.address, '--port', String(c.port))).code).toBe(
      0,
    );
    const ask = async (answer: string) => {
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks: string[] = [];
      out.on('data', (d: Buffer) => chunks.push(d.toString()));
      err.on('data', (d: Buffer) => chunks.push(d.toString()));
      const stdin = Object.assign(new PassThrough(), { isTTY: true });
      stdin.end(`${answer}\n`);
      const code = await main(['hosts', 'pin', '--scan', 'tty-1', '--quiet'], {
        stdout: out,
        stderr: err,
        stdin,
        env,
        cwd: dir,
        isTty: true,
      });
      return { code, text: chunks.join('') };
    };
    const no = await ask('n');
    expect(no.code).toBe(0);
    expect(no.text).toContain('Pin 1 key(s) on 1 host(s)? [y/N]');
    expect(no.text).toContain('nothing was pinned');
    expect((await repos.hosts.require('tty-1')).hostKeys).toEqual([]);
    const yes = await ask('y');
    expect(yes.code).toBe(0);
    expect(yes.text).toContain('pinned tty-1:');
    expect((await repos.hosts.require('tty-1')).hostKeys.map((k) => k.sha256)).toEqual([
      hex(c.hostKeyFingerprint),
    ]);
  });
});
