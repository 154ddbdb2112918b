/**
 * Webhook signatures. A delivery carries
 *
 *   webhook-id: <event id>
 *   patchbot-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>
 *
 * (several v1= entries while a secret is being rotated). A receiver recomputes the HMAC over the
 * raw body it received, compares in constant time, and refuses timestamps outside its tolerance
 * (replays). docs/integrations.md has the same check for receivers to copy.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'patchbot-signature';
export const WEBHOOK_ID_HEADER = 'webhook-id';
/** Default tolerance of a receiver: 5 minutes either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The header value for `body` signed at `timestamp` (unix seconds) with each secret. */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${signatureOf(s, timestamp, body)}`)].join(',');
}

export type SignatureCheck =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'too old' | 'too new' | 'mismatch' };

/** Checks a signature header against the raw body, a secret and the receiver's clock. */
export function verifySignature(
  header: string | undefined,
  body: string,
  secret: string,
  nowS: number,
  toleranceS: number = DEFAULT_SIGNATURE_TOLERANCE_S,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'malformed' };
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (timestamp === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (timestamp < nowS - toleranceS) return { ok: false, reason: 'too old' };
  if (timestamp > nowS + toleranceS) return { ok: false, reason: 'too new' };
  const expected = Buffer.from(signatureOf(secret, timestamp, body), 'hex');
  const match = candidates.some((c) => timingSafeEqual(Buffer.from(c, 'hex'), expected));
  return match ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}
