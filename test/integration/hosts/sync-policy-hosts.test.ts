import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import { createRepositories, type Repositories } from '../../../src/db/index.js';
import {
  addHost,
  fingerprintToHex,
  hexToFingerprint,
  removeHost,
  syncPolicyHosts,
  type Actor,
} from '../../../src/usecases/hosts.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';

const actor: Actor = { id: 'alice', surface: 'cli' };

/** Real host keys made by ssh-keygen, with the fingerprint ssh-keygen prints and the sha256 of the blob. */
const keyDir = mkdtempSync(join(tmpdir(), 'patchbot-keys-'));
function makeKey(name: string): { fingerprint: string; hex: string } {
  const file = join(keyDir, name);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
  const out = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
    encoding: 'utf8',
  }).stdout;
  const fingerprint = /SHA256:[A-Za-z0-9+/]{43}/.exec(out)?.[0];
  if (!fingerprint) throw new Error(`ssh-keygen -l printed ${out}`);
  const blob = Buffer.from(readFileSync(`${file}.pub`, 'utf8').split(' ')[1] ?? '', 'base64');
  return { fingerprint, hex: createHash('sha256').update(blob).digest('hex') };
}
const keys = { a: makeKey('a'), b: makeKey('b'), c: makeKey('c') };

const basePolicy = (): PolicyInput => ({
  teams: [{ name: 'platform' }, { name: 'payments' }],
  groups: [{ name: 'webs', match: { labels: { role: 'web' } } }],
  routing: {
    defaultTeam: 'platform',
    rules: [{ match: { labels: { pci: 'yes' } }, team: 'payments' }],
  },
  ssh: { user: 'ops' },
  hosts: [
    { name: 'web-1', address: '10.0.0.1', hostKey: keys.a.fingerprint, labels: { role: 'web' } },
    {
      name: 'pay-1',
      address: '10.0.0.2',
      port: 2222,
      user: 'deploy',
      hostKey: keys.b.fingerprint,
      labels: { pci: 'yes' },
      criticality: 1,
      internetFacing: true,
      compensatingControls: ['waf'],
      ring: 'canary',
    },
    { name: 'nokey-1', address: '10.0.0.3', team: 'payments', groups: ['webs'] },
  ],
});

let test: TestDatabase;
let repos: Repositories;
beforeAll(async () => {
  test = await openTestDatabase('postgres', 'hosts_sync');
  repos = createRepositories(test.db);
});
afterAll(async () => {
  await test?.dispose();
  rmSync(keyDir, { recursive: true, force: true });
});

const auditCount = async () => (await repos.audit.list({ subjectType: 'host' })).length;

describe('host key fingerprints', () => {
  it.each(Object.entries(keys))(
    'key %s: SHA256 form <-> stored hex agree with ssh-keygen and the key blob',
    (_, k) => {
      expect(fingerprintToHex(k.fingerprint, 'x')).toBe(k.hex);
      expect(hexToFingerprint(k.hex)).toBe(k.fingerprint);
    },
  );
  it.each(['SHA256:abc', 'MD5:aa:bb', '', `sha256:${keys.a.fingerprint.slice(7)}`])(
    'rejects %j naming where it came from',
    (bad) => {
      expect(() => fingerprintToHex(bad, '--host-key')).toThrow(
        /--host-key: expected an SSH host key fingerprint/,
      );
    },
  );
});

const FILE = { path: '/etc/patchbot/patchbot.yaml', inUse: true };
const NO_FILE = { path: '/srv/patchbot.yaml', inUse: false };
const pin = (hex: string) => [{ sha256: hex, type: null }];

describe('syncPolicyHosts', () => {
  it('creates the policy hosts with source policy, the resolved team and groups, the keys as hex', async () => {
    await addHost(
      repos,
      { name: 'cli-1', address: '10.9.9.9', hostKeys: pin(keys.c.hex) },
      { actor, policyFile: FILE },
    );
    const p = basePolicy();
    p.hosts![0] = { ...p.hosts![0], hostKeys: [keys.c.fingerprint, keys.a.fingerprint] };
    const r = await syncPolicyHosts(Policy.parse(p), repos, { actor });
    expect(r.added.sort()).toEqual(['nokey-1', 'pay-1', 'web-1']);
    expect(r.retired).toEqual([]);

    const web = await repos.hosts.require('web-1');
    expect(web).toMatchObject({
      source: 'policy',
      address: '10.0.0.1',
      port: 22,
      sshUser: 'ops',
      // hostKey and hostKeys together, each key once
      hostKeys: [...pin(keys.a.hex), ...pin(keys.c.hex)],
      groups: ['webs'],
      team: 'platform', // routing.defaultTeam
      retiredAt: null,
    });
    expect(await repos.hosts.require('pay-1')).toMatchObject({
      port: 2222,
      sshUser: 'deploy',
      hostKeys: pin(keys.b.hex),
      team: 'payments', // first matching routing rule
      criticality: 1,
      internetFacing: true,
      compensatingControls: ['waf'],
      ring: 'canary',
      groups: [],
    });
    // the host's own team wins over routing; its own groups are kept
    expect(await repos.hosts.require('nokey-1')).toMatchObject({
      team: 'payments',
      groups: ['webs'],
      hostKeys: [],
    });
    expect((await repos.hosts.list({ team: 'platform' })).map((h) => h.name)).toEqual(['web-1']);
    expect((await repos.hosts.list({ names: ['pay-1', 'web-1', 'gone-1'] })).map((h) => h.name)).toEqual([
      'pay-1',
      'web-1',
    ]);
    expect((await repos.audit.list({ action: 'host.policy.add' })).map((e) => e.subjectId).sort()).toEqual([
      'nokey-1',
      'pay-1',
      'web-1',
    ]);
    // back to one key for the tests below
    await syncPolicyHosts(Policy.parse(basePolicy()), repos, { actor });
  });

  it('is idempotent: the same file again changes and audits nothing', async () => {
    const before = await repos.hosts.list();
    const audits = await auditCount();
    const r = await syncPolicyHosts(Policy.parse(basePolicy()), repos, { actor });
    expect(r).toMatchObject({ added: [], updated: [], adopted: [], retired: [], restored: [] });
    expect(r.unchanged.sort()).toEqual(['nokey-1', 'pay-1', 'web-1']);
    expect(await auditCount()).toBe(audits);
    const after = await repos.hosts.list();
    expect(after.map((h) => [h.name, h.updatedAt.getTime()])).toEqual(
      before.map((h) => [h.name, h.updatedAt.getTime()]),
    );
  });

  it('updates a changed host, naming the fields, and keeps its inventory facts', async () => {
    const p = basePolicy();
    p.hosts![0] = { ...p.hosts![0], hostKey: keys.c.fingerprint, labels: { role: 'db' } };
    const r = await syncPolicyHosts(Policy.parse(p), repos, { actor });
    expect(r.updated).toEqual([{ name: 'web-1', fields: ['hostKeys', 'labels', 'groups'] }]);
    expect(await repos.hosts.require('web-1')).toMatchObject({ hostKeys: pin(keys.c.hex), groups: [] });
    const entries = await repos.audit.list({ action: 'host.policy.update', subjectId: 'web-1' });
    const entry = entries.find((e) => JSON.stringify(e.details.fields).includes('labels'));
    expect(entry?.details).toMatchObject({
      fields: ['hostKeys', 'labels', 'groups'],
      before: { hostKeys: [{ fingerprint: keys.a.fingerprint, type: null }] },
      definition: { hostKeys: [{ fingerprint: keys.c.fingerprint, type: null }] },
    });
  });

  it('retires policy hosts no longer in the file (history kept, not counted) and never touches CLI hosts', async () => {
    const cliBefore = await repos.hosts.require('cli-1');
    const pay = await repos.hosts.require('pay-1');
    await repos.inventory.save('pay-1', {
      collectedAt: new Date('2026-01-01T00:00:00Z'),
      os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian 12' },
      kernel: '6.1.0',
      packageManager: 'dpkg',
      packages: [],
      rebootRequired: false,
      rebootPackages: [],
    });
    const now = new Date();
    const counted = async (team?: string) =>
      (await repos.status.counts({ now, since: new Date(0), ...(team ? { team } : {}) })).hosts;
    const fleetBefore = await counted();
    const paymentsBefore = await counted('payments');
    const p = basePolicy();
    p.hosts = p.hosts!.filter((h) => h.name !== 'pay-1');
    const r = await syncPolicyHosts(Policy.parse(p), repos, { actor, policyFile: FILE.path });
    // a retired host is no longer counted
    expect(await counted()).toBe(fleetBefore - 1);
    expect(await counted('payments')).toBe(paymentsBefore - 1);
    expect(r.retired).toEqual(['pay-1']);
    const retired = await repos.hosts.require('pay-1');
    expect(retired.id).toBe(pay.id);
    expect(retired.retiredAt).toBeInstanceOf(Date);
    expect(await repos.inventory.count('pay-1')).toBe(1); // history kept
    expect((await repos.hosts.list()).map((h) => h.name)).not.toContain('pay-1');
    expect((await repos.hosts.list({ includeRetired: true })).map((h) => h.name)).toContain('pay-1');
    expect(await repos.hosts.require('cli-1')).toEqual(cliBefore);
    const [audit] = await repos.audit.list({ action: 'host.policy.retire', subjectId: 'pay-1' });
    expect(audit?.details).toMatchObject({ policyFile: FILE.path });

    // again: nothing more to retire, nothing audited
    const audits = await auditCount();
    expect((await syncPolicyHosts(Policy.parse(p), repos, { actor })).retired).toEqual([]);
    expect(await auditCount()).toBe(audits);

    // an empty host list retires every policy host and still leaves the CLI host alone
    const r2 = await syncPolicyHosts(Policy.parse({ ...p, hosts: [] }), repos, { actor });
    expect(r2.retired.sort()).toEqual(['nokey-1', 'web-1']);
    expect((await repos.hosts.list()).map((h) => h.name)).toEqual(['cli-1']);
  });

  it('a retired host back in the file is managed again, same row, its history intact', async () => {
    const before = await repos.hosts.require('pay-1');
    const r = await syncPolicyHosts(Policy.parse(basePolicy()), repos, { actor });
    expect(r.restored.sort()).toEqual(['nokey-1', 'pay-1', 'web-1']);
    const after = await repos.hosts.require('pay-1');
    expect(after).toMatchObject({ id: before.id, retiredAt: null, source: 'policy' });
    expect(await repos.inventory.count('pay-1')).toBe(1);
    expect(
      (await repos.audit.list({ action: 'host.policy.restore' })).map((e) => e.subjectId).sort(),
    ).toEqual(['nokey-1', 'pay-1', 'web-1']);
  });

  it('a host the file now defines takes over a CLI host of that name; then only the file changes it', async () => {
    const p = basePolicy();
    p.hosts = [{ name: 'cli-1', address: '10.1.1.1', hostKey: keys.a.fingerprint }];
    const r = await syncPolicyHosts(Policy.parse(p), repos, { actor });
    expect(r.adopted).toEqual(['cli-1']);
    expect(await repos.hosts.require('cli-1')).toMatchObject({ source: 'policy', address: '10.1.1.1' });
    await expect(
      addHost(repos, { name: 'cli-1', address: '10.2.2.2' }, { actor, replace: true, policyFile: FILE }),
    ).rejects.toThrow(
      'host "cli-1" is defined in the policy file /etc/patchbot/patchbot.yaml; change it there',
    );
    await expect(removeHost(repos, 'cli-1', { actor, policyFile: FILE })).rejects.toThrow(
      'host "cli-1" is defined in the policy file /etc/patchbot/patchbot.yaml; remove it there',
    );
    expect(await repos.hosts.require('cli-1')).toMatchObject({ address: '10.1.1.1' });
    // with no policy file in use, it can be retired here
    const removed = await removeHost(repos, 'cli-1', { actor, policyFile: NO_FILE });
    expect(removed.outcome).toBe('retired');
    expect((await repos.hosts.require('cli-1')).retiredAt).toBeInstanceOf(Date);
  });
});
