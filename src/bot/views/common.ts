/**
 * Small value types shared by every view. Views are plain data: no platform types, no behaviour
 * beyond pure helpers, so Slack (Block Kit) and Teams (Adaptive Cards) render the same model.
 */
import type { Severity, SsvcDecision } from '../../core/model.js';

export type { Severity, SsvcDecision };

/** A person as a view shows them: a chat user (mentioned by id) or a name (CLI, system). */
export interface PersonRef {
  /** Platform user id (Slack U…/W…, Teams AAD object id); rendered as a mention on its own platform. */
  id?: string;
  platform?: 'slack' | 'teams' | 'cli' | 'system';
  /** Display name; the fallback when no mention can be rendered. */
  name: string;
}

/** A CVE with where to read about it. */
export interface CveRef {
  id: string;
  url: string;
}

export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'none'];

/** "CVE-2024-1234" -> the Debian security tracker for Debian/Ubuntu ecosystems, NVD otherwise. */
export function cveRef(id: string, ecosystem = ''): CveRef {
  const upper = id.toUpperCase();
  const debianLike = /^(debian|ubuntu)/i.test(ecosystem);
  const url = debianLike
    ? `https://security-tracker.debian.org/tracker/${encodeURIComponent(upper)}`
    : `https://nvd.nist.gov/vuln/detail/${encodeURIComponent(upper)}`;
  return { id: upper, url };
}

/** Where to read about an advisory id (DSA, DLA, USN, GHSA, RHSA...), when a well-known page exists. */
export function advisoryUrl(id: string): string | undefined {
  const upper = id.toUpperCase();
  if (/^(DSA|DLA|DTSA)-\d+(-\d+)?$/.test(upper))
    return `https://security-tracker.debian.org/tracker/${encodeURIComponent(upper)}`;
  if (/^USN-\d+-\d+$/.test(upper)) return `https://ubuntu.com/security/notices/${encodeURIComponent(upper)}`;
  if (/^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/i.test(id))
    return `https://github.com/advisories/${encodeURIComponent(id)}`;
  if (/^CVE-\d{4}-\d{4,}$/.test(upper)) return cveRef(upper).url;
  return undefined;
}

/** "due in 3 days", "due today", "overdue by 2 days" relative to `asOf` (whole UTC days). */
export function dueLabel(due: Date, asOf: Date): { overdue: boolean; text: string } {
  const day = 86_400_000;
  const days = Math.floor(due.getTime() / day) - Math.floor(asOf.getTime() / day);
  if (due.getTime() < asOf.getTime()) {
    const late = Math.max(0, -days);
    return { overdue: true, text: late === 0 ? 'overdue (today)' : `overdue by ${plural(late, 'day')}` };
  }
  if (days === 0) return { overdue: false, text: 'due today' };
  return { overdue: false, text: `due in ${plural(days, 'day')}` };
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? word : many}`;
}

/** "2025-08-20" (UTC). */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** "#42" when the change has a number, else the first 8 characters of its id. */
export function changeLabel(change: { changeId: string; changeNumber?: number }): string {
  return change.changeNumber === undefined ? change.changeId.slice(0, 8) : `#${change.changeNumber}`;
}
