/**
 * Parsers never throw on bad input from a host: each bad line or record becomes a warning that
 * names the line and the reason, and the rest still parses. A host that prints endless garbage
 * gets a bounded list of warnings and a last one saying how many more were dropped.
 */
import type { InstalledPackage } from '../../core/model.js';

export interface ParseWarning {
  /** 1-based line number in the parsed text (0 when the warning is about the whole text). */
  line: number;
  reason: string;
}

export interface PackagesParseResult {
  packages: InstalledPackage[];
  warnings: ParseWarning[];
}

export const MAX_WARNINGS = 100;

export class WarningList {
  readonly items: ParseWarning[] = [];
  private dropped = 0;

  constructor(private readonly max = MAX_WARNINGS) {}

  add(line: number, reason: string): void {
    if (this.items.length < this.max) this.items.push({ line, reason });
    else this.dropped += 1;
  }

  /** The warnings, with a final one counting those dropped past the limit. */
  /** In line order (whole-text warnings, line 0, last), then the count of those dropped. */
  list(): ParseWarning[] {
    const sorted = [...this.items].sort((a, b) => (a.line || Infinity) - (b.line || Infinity));
    if (this.dropped === 0) return sorted;
    return [...sorted, { line: 0, reason: `${this.dropped} more warnings not shown` }];
  }
}

/** Splits text into lines, accepting \n and \r\n endings. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** A short, printable rendering of an untrusted line for a message. */
export function showLine(line: string): string {
  return JSON.stringify(line.length <= 80 ? line : `${line.slice(0, 80)}…`);
}
