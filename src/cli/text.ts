/**
 * Text output that fits a terminal: lines are wrapped at word boundaries to at most `width`
 * columns, continuation lines indented. A single word longer than the width is cut.
 */
export const TEXT_WIDTH = 100;

/** `text` as lines of at most `width` characters; every line after the first starts with `indent`. */
export function wrap(text: string, indent = '    ', width = TEXT_WIDTH, firstIndent = ''): string[] {
  const words = text.split(/\s+/).filter((w) => w !== '');
  const lines: string[] = [];
  let line = firstIndent;
  let lineHasWord = false;
  for (const word of words) {
    const prefix = lines.length === 0 ? firstIndent : indent;
    const candidate = lineHasWord ? `${line} ${word}` : `${prefix}${word}`;
    if (candidate.length <= width || !lineHasWord) {
      line = candidate.length <= width ? candidate : candidate.slice(0, width);
      lineHasWord = true;
      continue;
    }
    lines.push(line);
    const next = `${indent}${word}`;
    line = next.length <= width ? next : next.slice(0, width);
  }
  if (lineHasWord) lines.push(line);
  return lines;
}

/** "a, b, c +2": at most `max` values, then how many more. */
export function listOf(values: readonly string[], max: number): string {
  return values.length <= max
    ? values.join(', ')
    : `${values.slice(0, max).join(', ')} +${values.length - max}`;
}

/** "1 host", "3 hosts". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}
