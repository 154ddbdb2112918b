/**
 * Text -> value for the JSON and YAML feed documents, with errors that say where the text broke.
 * Pure. YAML is read with the YAML 1.2 core schema: timestamps stay strings (OSV's `modified`),
 * aliases are capped (billion-laughs), and only the first document of a stream is read.
 */
import { parseDocument } from 'yaml';
import { truncate } from '../core/errors.js';

export class DocumentSyntaxError extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes -> string without a BOM; throws DocumentSyntaxError on invalid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new DocumentSyntaxError('not valid UTF-8 text');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(message);
    const where = m?.[1] === undefined ? '' : ` at ${lineColumn(text, Number(m[1]))}`;
    // V8 echoes part of the input ('Unexpected token }, "...x" is not valid JSON'): leave that out.
    const what = message
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/\s*\(line \d+ column \d+\)$/, '')
      .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '');
    throw new DocumentSyntaxError(`invalid JSON${where}: ${truncate(what, 160)}`);
  }
}

export function parseYamlText(text: string): unknown {
  const doc = parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: true, strict: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos === undefined ? '' : ` at line ${pos.line} column ${pos.col}`;
    throw new DocumentSyntaxError(
      `invalid YAML${where}: ${truncate((first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, ''), 160)}`,
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw new DocumentSyntaxError(
      `invalid YAML: ${truncate(err instanceof Error ? err.message : String(err), 160)}`,
    );
  }
}

function lineColumn(text: string, position: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line} column ${position - lineStart + 1}`;
}
