/**
 * Reads a host's SSH public key the way ssh-keyscan does: a key exchange only, no authentication.
 * Used by `patchbot hosts add` to show the fingerprint a person should compare out of band
 * (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host) before pinning it.
 * The key type is the one patchbot's SSH client negotiates, so the pin matches later connections.
 */
import { Client, type ServerHostKeyAlgorithm } from 'ssh2';
import { PatchbotError } from '../../core/errors.js';
import { mapConnectError } from './errors.js';
import { fingerprintOf, keyTypeOf } from './fingerprint.js';
import { SUPPORTED_HOST_KEY_TYPES, hostKeyAlgorithmsOf } from './host-key-types.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './ssh-executor.js';

export interface HostKeyInfo {
  fingerprint: string;
  keyType: string;
}

export function fetchHostKeyFingerprint(
  address: string,
  port = 22,
  options: { timeoutMs?: number; algorithms?: readonly ServerHostKeyAlgorithm[] } = {},
): Promise<HostKeyInfo> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return new Promise<HostKeyInfo>((resolve, reject) => {
    const client = new Client();
    let key: HostKeyInfo | undefined;
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      client.end();
      if (key !== undefined) resolve(key);
      else
        reject(
          mapConnectError(
            err ?? new Error('no host key received'),
            { host: address, address, port },
            timeoutMs,
          ),
        );
    };
    client.on('error', (err) => finish(err));
    client.on('close', () => finish());
    client.on('ready', () =>
      finish(
        new PatchbotError(
          'HOST_KEY_REJECTED',
          `host ${address}:${port} accepted a connection without a key check`,
        ),
      ),
    );
    client.connect({
      host: address,
      port,
      username: 'patchbot-keyscan',
      readyTimeout: timeoutMs,
      ...(options.algorithms === undefined ? {} : { algorithms: { serverHostKey: [...options.algorithms] } }),
      hostVerifier: (blob: Buffer): boolean => {
        key = { fingerprint: fingerprintOf(blob), keyType: keyTypeOf(blob) };
        // Refuse: the key is all that is wanted; no authentication is attempted.
        setImmediate(() => finish());
        return false;
      },
    });
  });
}

/**
 * Every host key a host has of the types patchbot can verify, as ssh-keyscan lists them: one key
 * exchange per key type. The first entry is the key a connection negotiates by default. Fails
 * (HOST_UNREACHABLE...) only when the host cannot be reached at all; a type the host has no key of
 * is left out.
 */
export async function fetchHostKeys(
  address: string,
  port = 22,
  options: { timeoutMs?: number } = {},
): Promise<HostKeyInfo[]> {
  const first = await fetchHostKeyFingerprint(address, port, options);
  const others = await Promise.all(
    SUPPORTED_HOST_KEY_TYPES.filter((t) => t !== first.keyType).map((type) =>
      fetchHostKeyFingerprint(address, port, {
        ...options,
        algorithms: hostKeyAlgorithmsOf(type) ?? [],
      }).then(
        (key) => (key.keyType === type ? key : undefined),
        () => undefined,
      ),
    ),
  );
  return [first, ...others.filter((k): k is HostKeyInfo => k !== undefined)];
}
