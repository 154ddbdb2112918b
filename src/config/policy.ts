import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { checkReferences, render } from './policy-references.js';
import { Policy } from './policy-schema.js';
import { closest } from './values.js';

export * from './policy-schema.js';
export { OWNER, roleTable } from './policy-references.js';

/** Where patchbot looks for its policy file when none is named. */
export const DEFAULT_POLICY_PATH = './patchbot.yaml';
const MAX_POLICY_BYTES = 5 * 1024 * 1024;

/** The built-in policy: what patchbot runs with when there is no policy file. */
export const DEFAULT_POLICY: Policy = Policy.parse({});

/** One problem in a policy file, with where it is. */
export interface PolicyIssue {
  severity: 'error' | 'warning';
  /** File name as given (for messages). */
  file: string;
  /** 1-based line and column of the key or value, when known. */
  line?: number;
  col?: number;
  /** Dotted path of the key: `teams[0].approvers.production`. */
  path: string;
  message: string;
}

/** `patchbot.yaml:14:5 teams[0].approval.quorum: expected a positive integer, got "two"` */
export function formatPolicyIssue(issue: PolicyIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.col ?? 1}`;
  return issue.path === '' ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}

export interface PolicyCheck {
  /** The validated policy; undefined when there are errors. */
  policy?: Policy;
  errors: PolicyIssue[];
  warnings: PolicyIssue[];
}

/** Validates policy file text and reports every problem, each with its line and column. */
export function checkPolicyText(text: string, file = 'patchbot.yaml'): PolicyCheck {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: true, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);

  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = at(e.pos[0]);
        return {
          severity: 'error',
          file,
          line: pos.line,
          col: pos.col,
          path: '',
          message: yamlMessage(e.message),
        };
      }),
      warnings: [],
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    return {
      errors: [{ severity: 'error', file, path: '', message: `cannot read YAML: ${String(err)}` }],
      warnings: [],
    };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      errors: [
        {
          severity: 'error',
          file,
          line: 1,
          col: 1,
          path: '',
          message: 'expected a mapping of sections (teams:, hosts:, ...)',
        },
      ],
      warnings: [],
    };
  }

  const where = (path: readonly PropertyKey[], key = false) => {
    const offset = locate(doc, path, key);
    if (offset === undefined) return {};
    const pos = at(offset);
    return { line: pos.line, col: pos.col };
  };

  // Top-level `x-…` keys are free for YAML anchors (`x-host: &host {...}`), as in compose files.
  const sections = Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith('x-')));
  const result = Policy.safeParse(sections, { error: defaultMessage });
  if (!result.success) {
    const errors = result.error.issues.flatMap((issue) => toPolicyIssues(issue, sections, file, where));
    errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    return { errors, warnings: [] };
  }
  const errors: PolicyIssue[] = [];
  const warnings: PolicyIssue[] = [];
  for (const issue of checkReferences(result.data)) {
    const message = issue.value === undefined ? issue.message : `${issue.message}, got ${show(issue.value)}`;
    const entry: PolicyIssue = {
      severity: issue.severity,
      file,
      ...where(issue.path),
      path: render(issue.path),
      message,
    };
    (issue.severity === 'error' ? errors : warnings).push(entry);
  }
  const byPosition = (a: PolicyIssue, b: PolicyIssue) =>
    (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
  errors.sort(byPosition);
  warnings.sort(byPosition);
  return errors.length > 0 ? { errors, warnings } : { policy: result.data, errors, warnings };
}

export interface LoadedPolicy {
  policy: Policy;
  /** Absolute path of the file read (or looked for, when the defaults were used). */
  path: string;
  source: 'file' | 'defaults';
  warnings: PolicyIssue[];
}

/**
 * Reads and validates a policy file. With no path, `./patchbot.yaml` is read when it exists and
 * the built-in defaults are used when it does not; a path that was given must exist.
 * Throws ConfigError listing every problem (details.issues holds them as data).
 */
export async function loadPolicy(path?: string, options: { cwd?: string } = {}): Promise<LoadedPolicy> {
  const explicit = path !== undefined;
  const absolute = resolve(options.cwd ?? '.', path ?? DEFAULT_POLICY_PATH);
  const shown = path ?? DEFAULT_POLICY_PATH;
  let text: string;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new ConfigError(`policy file ${shown} is not a file`);
    if (info.size > MAX_POLICY_BYTES) throw new ConfigError(`policy file ${shown} is larger than 5 MiB`);
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit)
      return { policy: DEFAULT_POLICY, path: absolute, source: 'defaults', warnings: [] };
    if (code === 'ENOENT') throw new ConfigError(`policy file ${shown} does not exist`, { cause: err });
    throw new ConfigError(`cannot read policy file ${shown}: ${code ?? String(err)}`, { cause: err });
  }
  const check = checkPolicyText(text, explicit ? shown : basename(absolute));
  if (!check.policy) {
    const lines = check.errors.map(formatPolicyIssue);
    throw new ConfigError(
      `policy file ${shown} is invalid (${lines.length} ${lines.length === 1 ? 'error' : 'errors'}):\n${lines.join('\n')}`,
      { details: { issues: check.errors } },
    );
  }
  return { policy: check.policy, path: absolute, source: 'file', warnings: check.warnings };
}

// ---------------------------------------------------------------------------------------------
// zod issues -> messages with positions

type Where = (path: readonly PropertyKey[], key?: boolean) => { line?: number; col?: number };

function toPolicyIssues(issue: z.core.$ZodIssue, data: unknown, file: string, where: Where): PolicyIssue[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const objects = objectDefsAt(Policy, path);
    const known = [...new Set(objects.flatMap((d) => Object.keys(d.shape ?? {})))];
    return issue.keys.map((key) => {
      const message = `unknown key${suggestKey(key, known, objects)}`;
      return {
        severity: 'error',
        file,
        ...where([...path, key], true),
        path: render([...path, key]),
        message,
      };
    });
  }
  if (issue.code === 'invalid_key') {
    // A record key (label name, environment...) that does not have the expected form.
    const inner = issue.issues[0]?.message ?? 'invalid key';
    const key = path[path.length - 1];
    return [
      {
        severity: 'error',
        file,
        ...where(path, true),
        path: render(path),
        message: `${inner}, got key ${show(key)}`,
      },
    ];
  }
  const value = valueAt(data, path);
  let message = issue.message;
  if (value === undefined) {
    message = `missing; ${message}`;
  } else if (issue.code === 'invalid_value' && typeof value === 'string') {
    const hint = closest(
      value,
      issue.values.map((v) => String(v)),
    );
    message = `${message}${hint ? ` (did you mean "${hint}"?)` : ''}, got ${show(value)}`;
  } else if (message.startsWith('expected')) {
    message = `${message}, got ${show(value)}`;
  }
  return [{ severity: 'error', file, ...where(path), path: render(path), message }];
}

/** Messages for zod's own checks, in the file's "expected ..." style. */
function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const e = String(issue.expected);
      const kinds: Record<string, string> = {
        string: 'text',
        number: 'a number',
        int: 'an integer',
        boolean: 'true or false',
        array: 'a list',
        object: 'a mapping (key: value)',
        record: 'a mapping (key: value)',
      };
      return `expected ${kinds[e] ?? e}`;
    }
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'array') return `expected at least ${n} ${n === 1 ? 'entry' : 'entries'}`;
      if (issue.origin === 'string')
        return n === 1 ? 'expected non-empty text' : `expected at least ${n} characters`;
      return `expected a number ${issue.inclusive ? '>=' : '>'} ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'array') return `expected at most ${n} entries`;
      if (issue.origin === 'string') return `expected at most ${n} characters`;
      return `expected a number ${issue.inclusive ? '<=' : '<'} ${n}`;
    }
    case 'invalid_union':
      return 'expected a value of one of the allowed forms';
    case 'invalid_format':
      return `expected ${issue.format}`;
    default:
      return undefined;
  }
}

function yamlMessage(message: string): string {
  return `invalid YAML: ${message.split('\n')[0] ?? message}`;
}

/** A value as it appears in a message: strings quoted, long ones cut, secrets never (the policy holds none). */
function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v === 'object' ? 'a mapping' : typeof v;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** Offset in the text of the node at `path` (its key when `key`), or of its nearest ancestor. */
function locate(doc: Document, path: readonly PropertyKey[], key: boolean): number | undefined {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return offset;
      const last = i === path.length - 1;
      const target = last && key ? pair.key : (pair.value ?? pair.key);
      node = target;
      offset = (target as Node | null)?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return offset;
      node = item;
      offset = (item as Node | null)?.range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

/** The object schemas that describe the value at `path` (several under a union). Walks zod's definitions. */
function objectDefsAt(schema: z.ZodType, path: readonly PropertyKey[]): Def[] {
  let current: Def[] = [def(schema)];
  for (const seg of path) {
    const next: Def[] = [];
    for (const d of current.flatMap(unwrap)) {
      if (d.type === 'object' && d.shape && typeof seg === 'string' && seg in d.shape)
        next.push(def(d.shape[seg]));
      else if (d.type === 'array' && d.element && typeof seg === 'number') next.push(def(d.element));
      else if (d.type === 'record' && d.valueType) next.push(def(d.valueType));
    }
    current = next;
  }
  return current.flatMap(unwrap).filter((d) => d.type === 'object' && d.shape);
}

/**
 * "; did you mean "channels"?" for a key close to one at this level, else for one a level down
 * ("; did you mean "slack.channels"?"), else the list of known keys.
 */
function suggestKey(key: string, known: string[], objects: Def[]): string {
  const hint = closest(key, known);
  if (hint) return `; did you mean "${hint}"?`;
  const nested: string[] = [];
  for (const d of objects) {
    for (const [name, child] of Object.entries(d.shape ?? {})) {
      for (const c of unwrap(def(child))) {
        const inner = c.type === 'object' && c.shape ? Object.keys(c.shape) : [];
        if (closest(key, inner) !== undefined) nested.push(`${name}.${closest(key, inner)}`);
      }
    }
  }
  if (nested.length > 0) return `; did you mean ${[...new Set(nested)].map((n) => `"${n}"`).join(' or ')}?`;
  return known.length > 0 ? ` (known keys: ${known.join(', ')})` : '';
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
}
function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}
function unwrap(d: Def): Def[] {
  if (d.innerType) return unwrap(def(d.innerType));
  if (d.type === 'pipe' && d.in) return unwrap(def(d.in));
  if (d.type === 'union' && d.options) return d.options.flatMap((o) => unwrap(def(o)));
  return [d];
}
