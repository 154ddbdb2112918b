/**
 * OpenSSH known_hosts files (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"), read to onboard hosts with
 * the keys people already trust: `[marker] hostnames keytype base64-key [comment]`.
 *
 * - Host names are comma-separated: plain names or addresses, `[host]:port` for another port,
 *   patterns (`*`, `?`, `!`) that name no host, or a hashed name `|1|salt|hmac` (HashKnownHosts),
 *   which only tells whether a given name is the one hashed: HMAC-SHA1(salt, "name" or "[name]:port").
 * - `@revoked` marks a key that must never be accepted; `@cert-authority` a CA that signs host
 *   certificates (patchbot pins host keys, not certificates).
 * - The key blob is checked: valid base64 whose own type matches the line's key type.
 *
 * Pure: text in, entries and problems (with line numbers) out.
 */
import { createHash, createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { keyTypeOf } from '../../executors/ssh/fingerprint.js';

export type KnownHostsMarker = 'cert-authority' | 'revoked';

/** One name of a line: a plain host (with port), a pattern, or a hashed name. */
export type KnownHostName =
  | { kind: 'host'; host: string; port: number }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostsEntry {
  /** 1-based line number. */
  line: number;
  marker: KnownHostsMarker | null;
  names: KnownHostName[];
  keyType: string;
  /** sha256 of the key blob as hex (as patchbot stores pins). */
  sha256: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  comment: string;
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export interface KnownHostsFile {
  entries: KnownHostsEntry[];
  /** Lines that could not be read (the others were). */
  problems: KnownHostsProblem[];
}

const MAX_LINE = 16 * 1024;
const KEY_TYPE_RE = /^[a-z0-9][a-z0-9@.-]{2,63}$/;
const HOST_RE = /^[A-Za-z0-9_.:%-]+$/;

function parseName(raw: string): KnownHostName | string {
  if (raw.startsWith('|1|')) {
    const [salt, hash, extra] = raw.slice(3).split('|');
    const s = salt === undefined ? Buffer.alloc(0) : Buffer.from(salt, 'base64');
    const h = hash === undefined ? Buffer.alloc(0) : Buffer.from(hash, 'base64');
    if (extra !== undefined || s.length !== 20 || h.length !== 20)
      return `malformed hashed host name ${JSON.stringify(raw.slice(0, 80))}`;
    return { kind: 'hashed', salt: s, hash: h };
  }
  if (raw.startsWith('|')) return `unknown hashed host name format ${JSON.stringify(raw.slice(0, 80))}`;
  if (/[*?!]/.test(raw)) return { kind: 'pattern', pattern: raw };
  const bracket = /^\[([^\]]+)\]:(\d{1,5})$/.exec(raw);
  const host = bracket ? bracket[1] : raw;
  const port = bracket ? Number(bracket[2]) : 22;
  if (host === undefined || !HOST_RE.test(host) || port < 1 || port > 65535)
    return `invalid host name ${JSON.stringify(raw.slice(0, 80))}`;
  return { kind: 'host', host: host.toLowerCase(), port };
}

export function parseKnownHosts(text: string): KnownHostsFile {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (raw.length > MAX_LINE) {
      problems.push({ line, message: `line longer than ${MAX_LINE} characters` });
      return;
    }
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostsMarker | null = null;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@cert-authority') marker = 'cert-authority';
      else if (m === '@revoked') marker = 'revoked';
      else {
        problems.push({
          line,
          message: `unknown marker ${JSON.stringify(m)} (known: @cert-authority, @revoked)`,
        });
        return;
      }
    }
    const [hostsField, keyType, keyData, ...comment] = fields;
    if (hostsField === undefined || keyType === undefined || keyData === undefined) {
      problems.push({ line, message: 'expected "host names, key type, base64 key"' });
      return;
    }
    if (!KEY_TYPE_RE.test(keyType)) {
      problems.push({ line, message: `invalid key type ${JSON.stringify(keyType.slice(0, 80))}` });
      return;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyData)) {
      problems.push({ line, message: 'the key is not base64' });
      return;
    }
    const blob = Buffer.from(keyData, 'base64');
    const blobType = keyTypeOf(blob);
    if (blobType !== keyType) {
      problems.push({
        line,
        message: `the key is not a ${keyType} key (its data says ${blobType === 'unknown' ? 'nothing readable' : blobType})`,
      });
      return;
    }
    const names: KnownHostName[] = [];
    for (const n of hostsField.split(',')) {
      if (n === '') continue;
      const parsed = parseName(n);
      if (typeof parsed === 'string') {
        problems.push({ line, message: parsed });
        return;
      }
      names.push(parsed);
    }
    if (names.length === 0) {
      problems.push({ line, message: 'no host name' });
      return;
    }
    const digest = createHash('sha256').update(blob).digest();
    entries.push({
      line,
      marker,
      names,
      keyType,
      sha256: digest.toString('hex'),
      fingerprint: `SHA256:${digest.toString('base64').replace(/=+$/, '')}`,
      comment: comment.join(' '),
    });
  });
  return { entries, problems };
}

/** The text OpenSSH hashes for a host: "name" on port 22, "[name]:port" otherwise. */
export function knownHostsLookupName(host: string, port = 22): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Whether a line name stands for `host` on `port` (plain or hashed). */
export function nameMatches(name: KnownHostName, host: string, port = 22): boolean {
  if (name.kind === 'host') return name.host === host.toLowerCase() && name.port === port;
  if (name.kind === 'hashed') {
    const mac = createHmac('sha1', name.salt).update(knownHostsLookupName(host, port)).digest();
    return mac.equals(name.hash);
  }
  return false;
}

export function isAddress(host: string): boolean {
  return isIP(host) !== 0;
}
