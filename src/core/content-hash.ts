/**
 * Content hashes that decide whether a re-imported record changed. A sink stores the hash next to
 * the record and compares: same hash, nothing to write, nothing to announce.
 */
import { createHash } from 'node:crypto';
import type { Advisory } from './model.js';

/** JSON with object keys sorted and Dates as ISO strings, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalise(value));
}

function normalise(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalise(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The hash of what an advisory says. `modified` is left out on purpose: feeds re-stamp records
 * without changing them (osv.dev re-exports, the tracker dump has one date for everything), and
 * such a re-stamp is not news. Every other field, including `withdrawn`, counts.
 */
export function advisoryContentHash(advisory: Advisory): string {
  const { modified: _modified, ...content } = advisory;
  return sha256Hex(canonicalJson(content));
}

/** The hash of one enrichment item (a KEV entry, an EPSS score, NVD's CVSS list). */
export function enrichmentContentHash(item: unknown): string {
  return sha256Hex(canonicalJson(item));
}
