import { describe, expect, it } from 'vitest';
import { PatchbotError } from '../../../src/core/errors.js';
import { buildRemoteCommand, quoteShellArg } from '../../../src/executors/ssh/quote.js';
import { HOSTILE_ARGS } from '../../support/hostile-args.js';

describe('quoteShellArg', () => {
  it.each([
    ['abc', "'abc'"],
    ['', "''"],
    ["it's", "'it'\\''s'"],
    ['$(id)', "'$(id)'"],
    ['a\nb', "'a\nb'"],
  ])('%j -> %s', (arg, quoted) => {
    expect(quoteShellArg(arg)).toBe(quoted);
  });

  it('leaves nothing outside single quotes but escaped single quotes', () => {
    for (const arg of HOSTILE_ARGS) {
      const q = quoteShellArg(arg);
      expect(q, JSON.stringify(arg)).toMatch(/^'(?:[^']|'\\'')*'$/);
      // Undo the quoting the way a POSIX shell reads it.
      expect(q.slice(1, -1).replaceAll("'\\''", "'")).toBe(arg);
    }
  });

  it('refuses NUL', () => {
    expect(() => quoteShellArg('a\0b')).toThrow(PatchbotError);
  });
});

describe('buildRemoteCommand', () => {
  it('quotes every word, execs the program itself and puts nothing between sudo and it', () => {
    expect(buildRemoteCommand('dpkg-query', ['-W', '-f', '${Package}\\n'])).toBe(
      "exec 'dpkg-query' '-W' '-f' '${Package}\\n'",
    );
    expect(buildRemoteCommand('apt-get', ['install', 'a=1'], { sudo: true })).toBe(
      "exec sudo -n -- 'apt-get' 'install' 'a=1'",
    );
  });

  it.each(['', '-rf', 'a b', 'a;b', '$(id)', 'a\nb', "a'b", 'FOO=bar'])(
    'refuses program name %j',
    (program) => {
      expect(() => buildRemoteCommand(program, [])).toThrow(PatchbotError);
    },
  );
});
