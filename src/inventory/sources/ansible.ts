/**
 * Ansible inventories, INI and YAML, read the way `ansible-inventory --list` reads them: hosts with
 * their groups (a host belongs to every ancestor of its groups) and their variables merged by
 * Ansible's precedence: `all`, then groups by depth, priority (ansible_group_priority) and name,
 * then the host's own variables.
 *
 * - INI: `[group]` host lines (`name[:port] key=value ...`, split like a POSIX shell, `#` comments),
 *   `[group:vars]` (`key=value`), `[group:children]`; host ranges `web[01:20:2].example.com`,
 *   `db-[a:c]`; values read as Python literals where they are (`2222` -> 2222, `'x'` -> "x").
 * - YAML: groups mapping to `hosts:`, `vars:`, `children:` (the yaml plugin's format).
 *
 * Inventory scripts, plugins and Jinja templates are not run: a value with `{{` is reported by the
 * caller. Pure: text in, hosts or a ValidationError naming the line out.
 */
import { split as shellSplit } from 'shlex';
import { LineCounter, isMap, parseDocument, type Document } from 'yaml';
import { ValidationError } from '../../core/errors.js';

export interface AnsibleHost {
  name: string;
  /** Every group the host is in, ancestors included, without `all` and `ungrouped`; sorted. */
  groups: string[];
  /** Variables after Ansible's precedence. */
  vars: Record<string, unknown>;
}

interface Group {
  name: string;
  vars: Record<string, unknown>;
  children: Set<string>;
  hosts: Set<string>;
}

class Inventory {
  readonly groups = new Map<string, Group>();
  /** Host variables in the order they were given (later wins). */
  readonly hostVars = new Map<string, Record<string, unknown>>();

  constructor() {
    this.group('all');
    this.group('ungrouped');
  }

  group(name: string): Group {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = { name, vars: {}, children: new Set(), hosts: new Set() };
      this.groups.set(name, g);
    }
    return g;
  }

  addHost(group: string, host: string, vars: Record<string, unknown>): void {
    this.group(group).hosts.add(host);
    this.hostVars.set(host, { ...(this.hostVars.get(host) ?? {}), ...vars });
  }

  /** Hosts with their groups and merged variables. */
  resolve(file: string): AnsibleHost[] {
    const parents = new Map<string, Set<string>>();
    for (const g of this.groups.values()) {
      for (const c of g.children) {
        if (c === 'all') throw new ValidationError(`${file}: group "all" cannot be a child of "${g.name}"`);
        const set = parents.get(c) ?? new Set<string>();
        set.add(g.name);
        parents.set(c, set);
      }
    }
    // a group with no parent is a child of all (Ansible's reconcile_inventory)
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && !parents.has(g.name)) {
        this.group('all').children.add(g.name);
        parents.set(g.name, new Set(['all']));
      }
    }
    const ancestors = (name: string, seen: string[] = []): Set<string> => {
      if (seen.includes(name))
        throw new ValidationError(`${file}: groups form a cycle (${[...seen, name].join(' -> ')})`);
      const out = new Set<string>([name]);
      for (const p of parents.get(name) ?? []) for (const a of ancestors(p, [...seen, name])) out.add(a);
      return out;
    };
    const depth = (name: string, seen: string[] = []): number => {
      if (name === 'all') return 0;
      if (seen.includes(name)) return 0;
      return 1 + Math.max(...[...(parents.get(name) ?? ['all'])].map((p) => depth(p, [...seen, name])));
    };
    const priority = (g: Group): number => {
      const p = g.vars.ansible_group_priority;
      return typeof p === 'number' ? p : typeof p === 'string' && /^-?\d+$/.test(p) ? Number(p) : 1;
    };

    for (const g of this.groups.keys()) ancestors(g); // refuses a cycle even in groups without hosts
    const hosts = new Map<string, Set<string>>();
    for (const g of this.groups.values()) {
      for (const h of g.hosts) {
        const set = hosts.get(h) ?? new Set<string>();
        for (const a of ancestors(g.name)) set.add(a);
        hosts.set(h, set);
      }
    }
    // a host in no group but all is in ungrouped
    for (const h of this.hostVars.keys()) if (!hosts.has(h)) hosts.set(h, new Set(['all', 'ungrouped']));

    return [...hosts.entries()]
      .map(([name, groupSet]) => {
        groupSet.add('all');
        const ordered = [...groupSet]
          .map((n) => this.group(n))
          .sort(
            (a, b) =>
              depth(a.name) - depth(b.name) ||
              priority(a) - priority(b) ||
              (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
          );
        const vars: Record<string, unknown> = {};
        for (const g of ordered) Object.assign(vars, g.vars);
        Object.assign(vars, this.hostVars.get(name) ?? {});
        delete vars.ansible_group_priority;
        return {
          name,
          groups: [...groupSet].filter((g) => g !== 'all' && g !== 'ungrouped').sort(),
          vars,
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

// ---------------------------------------------------------------------------------------------
// host patterns

const MAX_HOSTS_PER_PATTERN = 10_000;

/** Expands `[a:b]` / `[a:b:step]` ranges (numeric, zero-padded, or single letters), as Ansible does. */
export function expandHostPattern(pattern: string, where: string): string[] {
  const m = /^(.*?)\[([^\]:]*):([^\]:]*)(?::([^\]]*))?\](.*)$/.exec(pattern);
  if (m === null) return [pattern];
  const [, head = '', beg = '', end = '', stepText, tail = ''] = m;
  const step = stepText === undefined || stepText === '' ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1)
    throw new ValidationError(`${where}: invalid range step in ${JSON.stringify(pattern)}`);
  const first = beg === '' ? '0' : beg;
  let values: string[];
  if (/^\d+$/.test(first) && /^\d+$/.test(end)) {
    const a = Number(first);
    const b = Number(end);
    if (b < a)
      throw new ValidationError(`${where}: range end before its start in ${JSON.stringify(pattern)}`);
    if ((b - a) / step > MAX_HOSTS_PER_PATTERN)
      throw new ValidationError(
        `${where}: ${JSON.stringify(pattern)} names more than ${MAX_HOSTS_PER_PATTERN} hosts`,
      );
    if (first.length !== end.length && first.startsWith('0'))
      throw new ValidationError(
        `${where}: range start and end must be the same length in ${JSON.stringify(pattern)}`,
      );
    const width = first.startsWith('0') ? first.length : 0;
    values = [];
    for (let i = a; i <= b; i += step) values.push(String(i).padStart(width, '0'));
  } else if (/^[a-zA-Z]$/.test(first) && /^[a-zA-Z]$/.test(end)) {
    const a = first.charCodeAt(0);
    const b = end.charCodeAt(0);
    if (b < a)
      throw new ValidationError(`${where}: range end before its start in ${JSON.stringify(pattern)}`);
    values = [];
    for (let i = a; i <= b; i += step) values.push(String.fromCharCode(i));
  } else {
    throw new ValidationError(`${where}: invalid host range in ${JSON.stringify(pattern)}`);
  }
  const rest = expandHostPattern(tail, where);
  return values.flatMap((v) => rest.map((r) => `${head}${v}${r}`));
}

/** `host:port`, `[host]:port` (IPv6), or a name or address without port (ranges kept), as Ansible's parse_address. */
function splitPort(pattern: string): { pattern: string; port?: number } {
  const bracketed = /^\[(.+)\]:(\d+)$/.exec(pattern);
  if (bracketed?.[1] !== undefined) return { pattern: bracketed[1], port: Number(bracketed[2]) };
  const hostPort = /^((?:[^:[\]]|\[[^\]]*\])+):(\d+)$/.exec(pattern);
  if (hostPort?.[1] !== undefined) return { pattern: hostPort[1], port: Number(hostPort[2]) };
  return { pattern };
}

// ---------------------------------------------------------------------------------------------
// INI

/** Python literal of an INI value where it is one (ast.literal_eval's common cases); else the text. */
function iniValue(v: string): unknown {
  if (/^[-+]?\d+$/.test(v)) return Number(v);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) return Number(v);
  if (v === 'True') return true;
  if (v === 'False') return false;
  if (v === 'None') return null;
  const q = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(v);
  if (q) return (q[1] ?? q[2] ?? '').replace(/\\(.)/g, '$1');
  return v;
}

const SECTION_RE = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;

export function parseAnsibleIni(text: string, file = 'inventory'): AnsibleHost[] {
  const inv = new Inventory();
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const pendingChildren: { parent: string; child: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = SECTION_RE.exec(line);
    if (section) {
      group = section[1] ?? 'ungrouped';
      const kind = section[2] ?? 'hosts';
      if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children')
        throw new ValidationError(
          `${where}: section [${group}:${kind}] has unknown type ${JSON.stringify(kind)} (hosts, vars or children)`,
        );
      state = kind;
      inv.group(group);
      return;
    }
    if (line.startsWith('[') && (line.endsWith(']') || !line.includes(']')))
      throw new ValidationError(
        `${where}: invalid section ${JSON.stringify(line)} (no spaces inside the brackets)`,
      );
    if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0)
        throw new ValidationError(
          `${where}: expected key=value in [${group}:vars], got ${JSON.stringify(line.slice(0, 80))}`,
        );
      inv.group(group).vars[line.slice(0, eq).trim()] = iniValue(line.slice(eq + 1).trim());
      return;
    }
    if (state === 'children') {
      const child = shellTokens(line, where)[0];
      if (child === undefined) return;
      pendingChildren.push({ parent: group, child, line: i + 1 });
      return;
    }
    const tokens = shellTokens(line, where);
    const [first, ...assignments] = tokens;
    if (first === undefined) return;
    const { pattern, port } = splitPort(first);
    const vars: Record<string, unknown> = {};
    for (const t of assignments) {
      const eq = t.indexOf('=');
      if (eq <= 0)
        throw new ValidationError(
          `${where}: expected key=value host variable, got ${JSON.stringify(t.slice(0, 80))}`,
        );
      vars[t.slice(0, eq)] = iniValue(t.slice(eq + 1));
    }
    if (port !== undefined) vars.ansible_port = port;
    for (const host of expandHostPattern(pattern, where)) inv.addHost(group, host, vars);
  });
  for (const c of pendingChildren) {
    inv.group(c.child);
    inv.group(c.parent).children.add(c.child);
  }
  return inv.resolve(file);
}

/** Splits a line like Python's shlex.split(line, comments=True). */
function shellTokens(line: string, where: string): string[] {
  // `#` starts a comment at the start of a word, outside quotes
  let cut = line.length;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '\\') i++;
    else if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      cut = i;
      break;
    }
  }
  try {
    return shellSplit(line.slice(0, cut));
  } catch (err) {
    throw new ValidationError(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// YAML

const GROUP_KEYS = new Set(['hosts', 'vars', 'children']);

export function parseAnsibleYaml(text: string, file = 'inventory.yml'): AnsibleHost[] {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e?.pos[0] ?? 0);
    throw new ValidationError(`${file}:${pos.line}: invalid YAML: ${e?.message.split('\n')[0] ?? ''}`);
  }
  const at = (path: (string | number)[]): string => {
    const node = doc.getIn(path, true) as { range?: [number, number] } | undefined;
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;
  };
  if (!isMap(doc.contents) && doc.contents !== null)
    throw new ValidationError(`${file}: expected a mapping of groups (all:, webservers:, ...)`);
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const inv = new Inventory();

  const readGroup = (name: string, value: unknown, path: (string | number)[]): void => {
    const g = inv.group(name);
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new ValidationError(
        `${at(path)}: group ${JSON.stringify(name)} must be a mapping of hosts, vars and children`,
      );
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (!GROUP_KEYS.has(key))
        throw new ValidationError(
          `${at([...path, key])}: unknown key ${JSON.stringify(key)} in group ${JSON.stringify(name)} (hosts, vars or children)`,
        );
      if (v === null || v === undefined) continue;
      if (typeof v !== 'object' || Array.isArray(v))
        throw new ValidationError(
          `${at([...path, key])}: ${key} of group ${JSON.stringify(name)} must be a mapping`,
        );
      const entries = Object.entries(v as Record<string, unknown>);
      if (key === 'vars') Object.assign(g.vars, v);
      else if (key === 'children') {
        for (const [child, childValue] of entries) {
          g.children.add(child);
          readGroup(child, childValue, [...path, key, child]);
        }
      } else {
        for (const [pattern, hostVars] of entries) {
          if (
            hostVars !== null &&
            hostVars !== undefined &&
            (typeof hostVars !== 'object' || Array.isArray(hostVars))
          )
            throw new ValidationError(
              `${at([...path, key, pattern])}: variables of host ${JSON.stringify(pattern)} must be a mapping`,
            );
          const split = splitPort(pattern);
          const vars = { ...((hostVars as Record<string, unknown> | null) ?? {}) };
          if (split.port !== undefined) vars.ansible_port = split.port;
          for (const host of expandHostPattern(split.pattern, at([...path, key, pattern])))
            inv.addHost(name, host, vars);
        }
      }
    }
  };
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) readGroup(name, value, [name]);
  return inv.resolve(file);
}

/** Reads an inventory by its name the way Ansible picks a plugin: .yml/.yaml/.json as YAML, else INI. */
export function parseAnsibleInventory(text: string, file: string): AnsibleHost[] {
  return /\.(ya?ml|json)$/i.test(file) ? parseAnsibleYaml(text, file) : parseAnsibleIni(text, file);
}
