/**
 * `/patch ...` (Slack) and `patch ...` (Teams) text parsed into a typed command. Pure; shared by
 * every platform. Unknown or malformed input becomes `{ kind: 'unknown', problem }`: the caller
 * answers it with the help text.
 */

/** A change as people type it: its number ("42", "#42") or its id (UUID). */
export type ChangeRef = { number: number } | { id: string };

export type StatusTarget =
  | { kind: 'host'; name: string }
  | { kind: 'team'; name: string }
  | { kind: 'cve'; id: string }
  | { kind: 'advisory'; id: string }
  /** A bare name: a host or a team, whichever exists. */
  | { kind: 'name'; name: string };

export type PatchCommand =
  | { kind: 'status'; target?: StatusTarget }
  | { kind: 'coverage'; team?: string }
  | { kind: 'request'; change: ChangeRef; emergency: boolean; reason?: string }
  /** Post a team's weekly digest now (the team of the channel when none is named). */
  | { kind: 'digest'; team?: string }
  /** Bind the Microsoft Teams channel the command is typed in to a patchbot team. */
  | { kind: 'link'; team: string }
  | { kind: 'approve'; change: ChangeRef }
  | { kind: 'reject'; change: ChangeRef; reason?: string }
  | { kind: 'help' }
  | { kind: 'unknown'; problem: string };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CVE_RE = /^CVE-\d{4}-\d{4,}$/i;
/** Advisory ids patchbot ingests: DSA/DLA/DTSA, USN, GHSA, RHSA/RLSA/ALSA, OSV ids, tracker ids. */
const ADVISORY_RE =
  /^(DSA-\d+(-\d+)?|DLA-\d+(-\d+)?|DTSA-\d+(-\d+)?|USN-\d+-\d+|GHSA(-[0-9a-z]{4}){3}|(RHSA|RLSA|ALSA|RHBA|RHEA|ALBA|ALEA)-\d{4}:\d+|(DEBIAN|UBUNTU|ALPINE|PYSEC|RUSTSEC|GO|OSV|MAL)-[A-Za-z0-9._:-]+)$/i;
/** Host names and team names: what the policy file and inventory allow. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const MAX_REASON = 2000;

/** Parses a change reference: "42", "#42", or a UUID. */
export function parseChangeRef(word: string): ChangeRef | undefined {
  const w = word.trim();
  const n = /^#?(\d{1,9})$/.exec(w);
  if (n) {
    const number = Number(n[1]);
    return number > 0 ? { number } : undefined;
  }
  if (UUID_RE.test(w)) return { id: w.toLowerCase() };
  return undefined;
}

/** Classifies a status target; an explicit "host:", "team:", "cve:" or "advisory:" prefix wins. */
export function parseStatusTarget(word: string): StatusTarget | undefined {
  const prefixed = /^(host|team|cve|advisory):(.+)$/i.exec(word);
  if (prefixed) {
    const kind = prefixed[1].toLowerCase();
    const value = prefixed[2];
    if (kind === 'cve') return CVE_RE.test(value) ? { kind: 'cve', id: value.toUpperCase() } : undefined;
    if (kind === 'advisory')
      return ADVISORY_RE.test(value) ? { kind: 'advisory', id: normalAdvisory(value) } : undefined;
    if (!NAME_RE.test(value)) return undefined;
    return kind === 'host' ? { kind: 'host', name: value } : { kind: 'team', name: value };
  }
  if (CVE_RE.test(word)) return { kind: 'cve', id: word.toUpperCase() };
  if (ADVISORY_RE.test(word)) return { kind: 'advisory', id: normalAdvisory(word) };
  if (NAME_RE.test(word)) return { kind: 'name', name: word };
  return undefined;
}

/** GHSA ids are lower-case after the prefix; the rest are upper-case. */
function normalAdvisory(id: string): string {
  if (/^GHSA-/i.test(id)) return `GHSA-${id.slice(5).toLowerCase()}`;
  return id.toUpperCase();
}

const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

export function parsePatchCommand(text: string): PatchCommand {
  // Slack sends the text after the command; collapse whitespace (including newlines from pasting).
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'help' };
  const [rawSub, ...rest] = trimmed.split(/\s+/);
  const sub = rawSub.toLowerCase();
  const args = rest;
  switch (sub) {
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'status': {
      if (args.length === 0) return { kind: 'status' };
      if (args.length > 1)
        return { kind: 'unknown', problem: `status takes one target, got ${show(args.join(' '))}` };
      const target = parseStatusTarget(args[0]);
      if (!target) return { kind: 'unknown', problem: `not a host, team, CVE or advisory: ${show(args[0])}` };
      return { kind: 'status', target };
    }
    case 'coverage': {
      if (args.length === 0) return { kind: 'coverage' };
      if (args.length > 1 || !NAME_RE.test(args[0]))
        return { kind: 'unknown', problem: `coverage takes one team name, got ${show(args.join(' '))}` };
      return { kind: 'coverage', team: args[0] };
    }
    case 'digest': {
      if (args.length === 0) return { kind: 'digest' };
      if (args.length > 1 || !NAME_RE.test(args[0]))
        return { kind: 'unknown', problem: `digest takes one team name, got ${show(args.join(' '))}` };
      return { kind: 'digest', team: args[0] };
    }
    case 'link': {
      if (args.length !== 1 || !NAME_RE.test(args[0]))
        return { kind: 'unknown', problem: 'link needs the name of a patchbot team, e.g. `link payments`' };
      return { kind: 'link', team: args[0] };
    }
    case 'request': {
      if (args.length === 0)
        return { kind: 'unknown', problem: 'request needs a change number, e.g. `request 42`' };
      const change = parseChangeRef(args[0]);
      if (!change) return { kind: 'unknown', problem: `not a change number: ${show(args[0])}` };
      // `--emergency` may come right after the change; the rest is the reason, with its own spacing.
      let afterRef = trimmed.replace(/^\S+\s+\S+\s*/, '');
      const emergency = /^--emergency(\s|$)/i.test(afterRef);
      if (emergency) afterRef = afterRef.replace(/^--emergency\s*/i, '');
      if (/^--\S/.test(afterRef))
        return {
          kind: 'unknown',
          problem: `request takes only --emergency, got ${show(afterRef.split(/\s/)[0])}`,
        };
      const reason = afterRef.slice(0, MAX_REASON);
      return reason === ''
        ? { kind: 'request', change, emergency }
        : { kind: 'request', change, emergency, reason };
    }
    case 'approve':
    case 'reject': {
      if (args.length === 0)
        return { kind: 'unknown', problem: `${sub} needs a change number, e.g. \`${sub} 42\`` };
      const change = parseChangeRef(args[0]);
      if (!change) return { kind: 'unknown', problem: `not a change number: ${show(args[0])}` };
      if (sub === 'approve') {
        if (args.length > 1) return { kind: 'unknown', problem: 'approve takes only a change number' };
        return { kind: 'approve', change };
      }
      // The reason keeps the person's own spacing (everything after the change reference).
      const afterRef = trimmed.replace(/^\S+\s+\S+\s*/, '');
      const reason = afterRef.slice(0, MAX_REASON);
      return reason === '' ? { kind: 'reject', change } : { kind: 'reject', change, reason };
    }
    default:
      return { kind: 'unknown', problem: `unknown subcommand ${show(rawSub)}` };
  }
}
