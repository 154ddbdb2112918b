/**
 * Reads deb822-style paragraphs (dpkg's status file, apk's installed database uses a simpler
 * variant with one-letter keys): `Field: value` lines, continuation lines starting with a space
 * or tab, paragraphs separated by blank lines. Field names are case-insensitive.
 */
import type { WarningList } from './warnings.js';

export interface Paragraph {
  /** Line number of the paragraph's first field. */
  line: number;
  /** Lower-cased field name -> first line of the value (trimmed) and its line number. */
  fields: Map<string, { value: string; line: number }>;
}

const FIELD_LINE = /^([!-9;-~][!-9;-~]*):(.*)$/;

export function readParagraphs(lines: readonly string[], warnings: WarningList): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  let current: Paragraph | undefined;
  let lastField = false;
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    if (raw.trim() === '') {
      if (current !== undefined) paragraphs.push(current);
      current = undefined;
      lastField = false;
      return;
    }
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      // Continuation of a multi-line field (Description, Conffiles...): patchbot reads only the first line.
      if (!lastField) warnings.add(lineNo, 'continuation line without a field before it');
      return;
    }
    const m = FIELD_LINE.exec(raw);
    if (m === null) {
      warnings.add(lineNo, `not a "Field: value" line: ${JSON.stringify(raw.slice(0, 80))}`);
      lastField = false;
      return;
    }
    current ??= { line: lineNo, fields: new Map() };
    const name = m[1].toLowerCase();
    if (current.fields.has(name)) {
      warnings.add(lineNo, `field ${m[1]} repeated in the same record`);
    } else {
      current.fields.set(name, { value: m[2].trim(), line: lineNo });
    }
    lastField = true;
  });
  if (current !== undefined) paragraphs.push(current);
  return paragraphs;
}
