import { describe, expect, it } from 'vitest';
import { listOf, plural, wrap } from '../../../src/cli/text.js';

describe('wrap', () => {
  it('keeps every line within the width, words whole, continuation indented', () => {
    const text = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const lines = wrap(text, '    ', 40);
    expect(lines.length).toBeGreaterThan(5);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
    for (const l of lines.slice(1)) expect(l.startsWith('    word')).toBe(true);
    expect(lines.join(' ').split(/\s+/).filter(Boolean)).toEqual(text.split(' '));
  });

  it('cuts a word longer than the width instead of overflowing', () => {
    const lines = wrap(`short ${'x'.repeat(150)} end`, '  ', 100);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines[0]).toBe('short');
    expect(lines.at(-1)).toBe('  end');
  });

  it('one short line stays one line', () => {
    expect(wrap('glibc 2.36 -> 2.37', '  ', 100, ' ')).toEqual([' glibc 2.36 -> 2.37']);
  });
});

describe('listOf and plural', () => {
  it.each([
    [['a', 'b'], 3, 'a, b'],
    [['a', 'b', 'c', 'd', 'e'], 3, 'a, b, c +2'],
  ])('%j max %d', (values, max, want) => {
    expect(listOf(values, max)).toBe(want);
  });
  it('plural', () => {
    expect(plural(1, 'host')).toBe('1 host');
    expect(plural(1200, 'fix', 'fixes')).toBe('1,200 fixes');
  });
});
