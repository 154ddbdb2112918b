/**
 * patchbot's Ansible inventory reader against Ansible's own: `ansible-inventory --list` (Debian
 * package ansible-core) reads the same INI and YAML inventories, and every host, its groups (with
 * their ancestors) and its connection variables must come out the same.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import {
  expandHostPattern,
  parseAnsibleInventory,
  type AnsibleHost,
} from '../../../src/inventory/sources/ansible.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/ansible');
const scratch = mkdtempSync(join(tmpdir(), 'patchbot-ansible-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface OracleGroup {
  hosts?: string[];
  children?: string[];
}
type Oracle = Record<string, OracleGroup> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };

/** What ansible-inventory says: host -> groups (ancestors included) and variables. */
function ansibleInventory(file: string): AnsibleHost[] {
  const r = spawnSync('ansible-inventory', ['-i', file, '--list'], {
    encoding: 'utf8',
    env: { ...process.env, ANSIBLE_HOME: scratch, ANSIBLE_LOCAL_TEMP: scratch },
  });
  if (r.error !== undefined || r.status !== 0)
    throw new Error(
      `ansible-inventory failed (${r.error?.message ?? r.stderr}): install it with apt-get install ansible-core`,
    );
  const data = JSON.parse(r.stdout) as Oracle;
  const parents = new Map<string, string[]>();
  for (const [name, g] of Object.entries(data)) {
    if (name === '_meta') continue;
    for (const c of (g as OracleGroup).children ?? []) parents.set(c, [...(parents.get(c) ?? []), name]);
  }
  const ancestors = (g: string): string[] => [g, ...(parents.get(g) ?? []).flatMap(ancestors)];
  const groupsOf = new Map<string, Set<string>>();
  for (const [name, g] of Object.entries(data)) {
    if (name === '_meta') continue;
    for (const h of (g as OracleGroup).hosts ?? []) {
      const set = groupsOf.get(h) ?? new Set<string>();
      for (const a of ancestors(name)) set.add(a);
      groupsOf.set(h, set);
    }
  }
  const names = new Set([...Object.keys(data._meta.hostvars), ...groupsOf.keys()]);
  return [...names]
    .map((name) => ({
      name,
      groups: [...(groupsOf.get(name) ?? [])].filter((g) => g !== 'all' && g !== 'ungrouped').sort(),
      vars: data._meta.hostvars[name] ?? {},
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

const CONNECTION = ['ansible_host', 'ansible_port', 'ansible_user', 'ansible_connection', 'ntp_server'];
const comparable = (hosts: AnsibleHost[]) =>
  hosts.map((h) => ({
    name: h.name,
    groups: h.groups,
    vars: Object.fromEntries(CONNECTION.filter((k) => h.vars[k] !== undefined).map((k) => [k, h.vars[k]])),
  }));

describe('Ansible inventories, read as ansible-inventory reads them', () => {
  it.each(['inventory.ini', 'inventory.yml'])('%s: same hosts, groups and connection variables', (name) => {
    const file = join(FIXTURES, name);
    const ours = parseAnsibleInventory(readFileSync(file, 'utf8'), file);
    const theirs = ansibleInventory(file);
    expect(ours.length).toBeGreaterThanOrEqual(7);
    expect(comparable(ours)).toEqual(comparable(theirs));
  });

  it.each([
    ['host ranges with a step, letters and zero padding', '[g]\nweb[001:010:3].x\nz-[x:z]\n'],
    [
      'host vars in two groups: the later line wins',
      '[a]\nh1 ansible_user=one\n[b]\nh1 ansible_port=2201\n[c]\nh1 ansible_user=three\n',
    ],
    [
      'group priority and depth decide between group variables',
      '[a]\nh1\n[b]\nh1\n[a:vars]\nansible_user=from_a\nansible_group_priority=10\n[b:vars]\nansible_user=from_b\n[p:children]\na\n[p:vars]\nansible_user=from_parent\n',
    ],
    [
      'quoted values and comments',
      '[g]\nh1 ansible_user=\'dep loy\' ansible_host="10.0.0.1" # comment\n; another comment\n',
    ],
    [
      'children declared before their group',
      '[top:children]\nmid\n[mid:children]\nleaf\n[leaf]\nh9 ansible_port=2022\n',
    ],
  ])('INI: %s', (_what, text) => {
    const file = join(scratch, `inv-${Math.random().toString(36).slice(2)}.ini`);
    writeFileSync(file, text);
    expect(comparable(parseAnsibleInventory(text, file))).toEqual(comparable(ansibleInventory(file)));
  });

  it.each([
    ['[web\nh1\n', /inventory.ini:1: invalid section "\[web"/],
    ['[web:bogus]\nh1\n', /unknown type "bogus"/],
    ['[web]\nh1 novalue\n', /inventory.ini:2: expected key=value host variable, got "novalue"/],
    ['[web]\nh[5:1]\n', /range end before its start/],
    ['[a:children]\nb\n[b:children]\na\n[a]\nh1\n', /groups form a cycle/],
  ])('INI %j is refused naming the line', (text, message) => {
    expect(() => parseAnsibleInventory(text, 'inventory.ini')).toThrow(ValidationError);
    expect(() => parseAnsibleInventory(text, 'inventory.ini')).toThrow(message);
  });

  it.each([
    ['all:\n  hosts: [a, b]\n', /inventory.yml:2: hosts of group "all" must be a mapping/],
    ['all:\n  hostz:\n    a:\n', /unknown key "hostz"/],
    ['all: [\n', /inventory.yml:\d+: invalid YAML/],
  ])('YAML %j is refused naming the line', (text, message) => {
    expect(() => parseAnsibleInventory(text, 'inventory.yml')).toThrow(message);
  });

  it('refuses a range that names too many hosts instead of expanding it', () => {
    expect(() => expandHostPattern('h[0:99999999]', 'x')).toThrow(/more than 10000 hosts/);
  });
});
