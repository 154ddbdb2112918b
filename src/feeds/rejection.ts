import { truncate } from '../core/errors.js';

export { describeZodError } from '../core/validation.js';

/** One record a feed could not import, and why. */
export interface FeedRejection {
  /** The file, archive entry or URL it came from ("all.zip:DSA-5514-1.json", "kev.json"). */
  source: string;
  /** The record's id when it could be read, else a position ("vulnerabilities[12]"). */
  recordId: string;
  reason: string;
}

/** A best-effort record id from an untrusted value, safe to print. */
export function recordIdOf(value: unknown, key = 'id', fallback = '(unknown id)'): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const id = (value as Record<string, unknown>)[key];
    if (typeof id === 'string' && id.length > 0) return truncate(id.replace(/[^\x20-\x7e]/g, '?'), 120);
  }
  return fallback;
}
