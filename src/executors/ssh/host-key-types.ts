/**
 * SSH host key types and the signature algorithms a client offers for them. A host presents one of
 * its keys, the one of the first algorithm both sides support; offering only the algorithms of the
 * pinned keys makes it present a pinned key when it has several (as OpenSSH does with known_hosts).
 */
import type { ServerHostKeyAlgorithm } from 'ssh2';

/** Key type (as in known_hosts and ssh-keyscan output) -> the algorithms that negotiate it. */
const ALGORITHMS: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** The key types patchbot's SSH client can verify, strongest first (the order ssh-keyscan uses). */
export const SUPPORTED_HOST_KEY_TYPES: readonly string[] = Object.keys(ALGORITHMS);

export function isSupportedHostKeyType(type: string): boolean {
  return ALGORITHMS[type] !== undefined;
}

/**
 * The host key algorithms to offer for these pinned key types, or undefined (the client's
 * defaults) when a type is unknown: a pin whose type was never recorded must still be reachable.
 */
export function hostKeyAlgorithmsFor(
  types: readonly (string | null)[],
): ServerHostKeyAlgorithm[] | undefined {
  if (types.length === 0) return undefined;
  const out: ServerHostKeyAlgorithm[] = [];
  for (const type of types) {
    const algorithms = type === null ? undefined : ALGORITHMS[type];
    if (algorithms === undefined) return undefined;
    for (const a of algorithms) if (!out.includes(a)) out.push(a);
  }
  // strongest first, whatever the order the keys were pinned in
  const rank = (a: ServerHostKeyAlgorithm) => Object.values(ALGORITHMS).flat().indexOf(a);
  return out.sort((a, b) => rank(a) - rank(b));
}

/** The algorithms that make a host present its key of this type (for scanning every key). */
export function hostKeyAlgorithmsOf(type: string): readonly ServerHostKeyAlgorithm[] | undefined {
  return ALGORITHMS[type];
}
