/**
 * SSH host key fingerprints in OpenSSH's form, as `ssh-keygen -lf` and `ssh-keyscan | ssh-keygen -lf -`
 * print them: `SHA256:` + base64 of the SHA-256 of the public key blob, without `=` padding.
 */
import { createHash } from 'node:crypto';

export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob ("ssh-ed25519", "ecdsa-sha2-nistp256"...). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len === 0 || len > 64 || keyBlob.length < 4 + len) return 'unknown';
  const type = keyBlob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : 'unknown';
}

export function isFingerprint(value: string): boolean {
  return FINGERPRINT_PATTERN.test(value);
}
