/**
 * Runs programs on a remote host over SSH (node-ssh / ssh2).
 *
 * - Authentication: a private key (content or file) and/or an SSH agent socket.
 * - Host key: the key the server presents must be one of the pinned OpenSSH fingerprints
 *   (`SHA256:...`; several while a key is rotated). An unknown host (no pin) or a key that is not
 *   pinned is refused during the key exchange, before any authentication or command, with
 *   HOST_KEY_REJECTED naming host, expected and presented fingerprints. When the type of every
 *   pinned key is known, only those key types are negotiated, so a host with several keys presents
 *   a pinned one.
 * - Commands: an argument list, each argument single-quoted for the remote shell (quote.ts); never a
 *   shell string built from data.
 * - Timeout: patchbot's own. When it passes (or the caller aborts, or output passes its limit with
 *   `stopOnOverflow`), patchbot closes the command's channel and stops waiting. It never sends a
 *   signal to a remote process and never wraps the command: a host's sudoers rules see the command
 *   as it is. Commands that change the host run as jobs (../jobs.ts), whose output does not go
 *   through the channel, so closing it or losing the connection cannot interrupt them.
 * - Keepalives every 10 s; three unanswered ones drop the connection (a dead host is noticed in
 *   about 30 s, not at the next TCP timeout).
 * - Output: at most maxOutputBytes of stdout and of stderr are kept.
 * - Connection failures (refused, timed out, reset, DNS) become HOST_UNREACHABLE (transient).
 */
import { readFile } from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import type { Client, ClientChannel } from 'ssh2';
import { z } from 'zod';
import { PatchbotError } from '../../core/errors.js';
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TIMEOUT_MS,
  type ExecRequest,
  type ExecResult,
  type Executor,
} from '../executor.js';
import { BoundedOutput } from '../output.js';
import { mapConnectError, type ConnectionTarget } from './errors.js';
import { FINGERPRINT_PATTERN, fingerprintOf, keyTypeOf } from './fingerprint.js';
import { hostKeyAlgorithmsFor } from './host-key-types.js';
import { buildRemoteCommand } from './quote.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const KEEPALIVE_INTERVAL_MS = 10_000;
const KEEPALIVE_COUNT_MAX = 3;

export const SshTarget = z
  .object({
    /** Name used in messages and results ("web-1"). */
    host: z.string().min(1).max(253),
    /** Address to connect to: IP or DNS name. */
    address: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).default(22),
    username: z
      .string()
      .max(64)
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'not a user name'),
    /** Pinned host key, OpenSSH form `SHA256:<base64>`. Without a pin the host is refused. */
    hostKeyFingerprint: z.string().regex(FINGERPRINT_PATTERN, 'not an OpenSSH SHA256 fingerprint').optional(),
    /** Further pinned keys (any pinned key is accepted), with their type when known ("ssh-ed25519"). */
    hostKeys: z
      .array(
        z.strictObject({
          fingerprint: z.string().regex(FINGERPRINT_PATTERN, 'not an OpenSSH SHA256 fingerprint'),
          type: z.string().max(64).nullish(),
        }),
      )
      .default([]),
    /** Private key content (PEM / OpenSSH format). */
    privateKey: z.string().optional(),
    privateKeyPath: z.string().optional(),
    passphrase: z.string().optional(),
    /** Path of an SSH agent socket (the value of SSH_AUTH_SOCK). */
    agent: z.string().optional(),
    connectTimeoutMs: z.number().int().positive().default(DEFAULT_CONNECT_TIMEOUT_MS),
  })
  .refine(
    (t) => t.privateKey !== undefined || t.privateKeyPath !== undefined || t.agent !== undefined,
    'an SSH private key, a key file or an agent socket is needed',
  );
export type SshTarget = z.infer<typeof SshTarget>;
export type SshTargetInput = z.input<typeof SshTarget>;

export class SshExecutor implements Executor {
  readonly host: string;
  private readonly target: SshTarget;
  private ssh: NodeSSH | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;

  constructor(target: SshTargetInput) {
    const parsed = SshTarget.safeParse(target);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join('.') ?? '';
      throw new PatchbotError(
        'CONFIG_INVALID',
        `invalid SSH settings for host ${JSON.stringify(String(target.host).slice(0, 80))}: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
      );
    }
    this.target = parsed.data;
    this.host = parsed.data.host;
  }

  private get where(): ConnectionTarget {
    return { host: this.target.host, address: this.target.address, port: this.target.port };
  }

  private connection(): Promise<Client> {
    if (this.closed)
      return Promise.reject(new PatchbotError('VALIDATION', `executor for ${this.host} is closed`));
    const live = this.ssh?.connection;
    if (live !== null && live !== undefined) return Promise.resolve(live);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const t = this.target;
    let privateKey = t.privateKey;
    if (privateKey === undefined && t.privateKeyPath !== undefined) {
      try {
        privateKey = await readFile(t.privateKeyPath, 'utf8');
      } catch (err) {
        throw new PatchbotError(
          'CONFIG_INVALID',
          `cannot read SSH private key ${t.privateKeyPath} for host ${t.host}`,
          {
            cause: err,
          },
        );
      }
    }
    let presented: { fingerprint: string; keyType: string } | undefined;
    let refused = false;
    const pinned = pinnedKeys(t);
    const accepted = new Set(pinned.map((k) => k.fingerprint));
    const serverHostKey = hostKeyAlgorithmsFor(pinned.map((k) => k.type));
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: t.address,
        port: t.port,
        username: t.username,
        privateKey,
        passphrase: t.passphrase,
        agent: t.agent,
        readyTimeout: t.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        ...(serverHostKey === undefined ? {} : { algorithms: { serverHostKey } }),
        hostVerifier: (key: Buffer): boolean => {
          presented = { fingerprint: fingerprintOf(key), keyType: keyTypeOf(key) };
          const ok = accepted.has(presented.fingerprint);
          refused = !ok;
          return ok;
        },
      });
    } catch (err) {
      ssh.dispose();
      if (refused && presented !== undefined) throw hostKeyRejected(t, presented);
      throw mapConnectError(err, this.where, t.connectTimeoutMs);
    }
    const conn = ssh.connection;
    if (conn === null) throw mapConnectError(new Error('connection closed'), this.where, t.connectTimeoutMs);
    // node-ssh stops listening for errors once connected; an unhandled 'error' would crash the process.
    conn.on('error', () => {
      if (this.ssh === ssh) this.ssh = undefined;
    });
    conn.on('close', () => {
      if (this.ssh === ssh) this.ssh = undefined;
    });
    if (this.closed) {
      ssh.dispose();
      throw new PatchbotError('VALIDATION', `executor for ${this.host} is closed`);
    }
    this.ssh = ssh;
    return conn;
  }

  async exec(request: ExecRequest): Promise<ExecResult> {
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxBytes = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const command = buildRemoteCommand(request.command, request.args, { sudo: request.sudo });
    const started = performance.now();
    if (request.signal?.aborted === true) return stoppedBeforeStart(started);
    const conn = await this.connection();
    const remaining = Math.max(1, timeoutMs - (performance.now() - started));

    return new Promise<ExecResult>((resolve, reject) => {
      const stdout = new BoundedOutput(maxBytes);
      const stderr = new BoundedOutput(maxBytes);
      let channel: ClientChannel | undefined;
      let exitCode: number | null = null;
      let signal: string | null = null;
      let exited = false;
      let timedOut = false;
      let settled = false;
      let stopping = false;

      const settle = (error?: PatchbotError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.removeListener('close', onConnectionClose);
        request.signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          reject(error);
          return;
        }
        resolve({
          exitCode,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          truncated: stdout.truncated || stderr.truncated,
          timedOut,
          durationMs: Math.round(performance.now() - started),
        });
      };
      const onConnectionClose = (): void => {
        if (stopping) settle();
        else settle(connectionLost(this.where, request.command));
      };
      conn.on('close', onConnectionClose);

      /** Stops waiting: the channel is closed; no signal is sent to the remote command. */
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        channel?.close();
        settle();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, remaining);
      const onAbort = (): void => {
        timedOut = true;
        stop();
      };
      request.signal?.addEventListener('abort', onAbort, { once: true });
      const onData = (out: BoundedOutput, chunk: Buffer): void => {
        out.push(chunk);
        if (out.truncated && request.stopOnOverflow === true) stop();
      };

      conn.exec(command, (err, ch) => {
        if (err !== undefined && err !== null) {
          settle(
            new PatchbotError(
              'EXEC_FAILED',
              `cannot start ${request.command} on ${this.host}: ${err.message}`,
              {
                cause: err,
                details: { host: this.host },
              },
            ),
          );
          return;
        }
        channel = ch;
        if (settled) {
          ch.close();
          return;
        }
        ch.on('data', (chunk: Buffer) => onData(stdout, chunk));
        ch.stderr.on('data', (chunk: Buffer) => onData(stderr, chunk));
        ch.on('exit', (code: number | null, sig?: string) => {
          exited = true;
          exitCode = code;
          signal = sig === undefined ? null : sig.startsWith('SIG') ? sig : `SIG${sig}`;
        });
        ch.on('close', () => {
          if (!exited && !stopping) settle(connectionLost(this.where, request.command));
          else settle();
        });
        ch.end(request.stdin);
      });
    });
  }

  close(): Promise<void> {
    this.closed = true;
    this.ssh?.dispose();
    this.ssh = undefined;
    return Promise.resolve();
  }
}

/** Every pinned key of a target, each once. */
function pinnedKeys(t: SshTarget): { fingerprint: string; type: string | null }[] {
  const keys = [
    ...(t.hostKeyFingerprint === undefined ? [] : [{ fingerprint: t.hostKeyFingerprint, type: null }]),
    ...t.hostKeys.map((k) => ({ fingerprint: k.fingerprint, type: k.type ?? null })),
  ];
  const seen = new Map<string, { fingerprint: string; type: string | null }>();
  for (const k of keys) {
    const before = seen.get(k.fingerprint);
    seen.set(k.fingerprint, { fingerprint: k.fingerprint, type: before?.type ?? k.type });
  }
  return [...seen.values()];
}

function hostKeyRejected(t: SshTarget, presented: { fingerprint: string; keyType: string }): PatchbotError {
  const where = `${t.host} (${t.address}:${t.port})`;
  const expected = pinnedKeys(t).map((k) => k.fingerprint);
  const message =
    expected.length === 0
      ? `refusing ${where}: no host key is pinned for it; it presented ${presented.keyType} ${presented.fingerprint}. Check that fingerprint out of band and pin it (patchbot hosts add).`
      : `refusing ${where}: its host key CHANGED. Expected ${expected.length === 1 ? expected[0] : `one of ${expected.join(', ')}`}, presented ${presented.keyType} ${presented.fingerprint}. No command was run.`;
  return new PatchbotError('HOST_KEY_REJECTED', message, {
    details: {
      host: t.host,
      address: t.address,
      port: t.port,
      expected: expected[0] ?? null,
      pinned: expected,
      presented: presented.fingerprint,
      keyType: presented.keyType,
    },
  });
}

function stoppedBeforeStart(started: number): ExecResult {
  return {
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    truncated: false,
    timedOut: true,
    durationMs: Math.round(performance.now() - started),
  };
}

function connectionLost(where: ConnectionTarget, command: string): PatchbotError {
  return new PatchbotError(
    'HOST_UNREACHABLE',
    `connection to ${where.host} (${where.address}:${where.port}) was lost while ${command} was running`,
    { details: { ...where } },
  );
}
