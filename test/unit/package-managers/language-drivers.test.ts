/**
 * pip and global npm drivers: fixed argument lists (the shape docs/patchbot.sudoers allows),
 * strict names and versions, installed versions read back from `pip list` / `npm ls` output.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import { driverFor } from '../../../src/executors/package-managers/index.js';
import { npmDriver, pipDriver } from '../../../src/executors/package-managers/language.js';

const pip = pipDriver('/usr/bin/python3');

/** The sudoers rule of an alias, as a RegExp over the argument string sudo matches. */
function sudoersRule(alias: string): RegExp {
  const line = readFileSync(new URL('../../../docs/patchbot.sudoers', import.meta.url), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`Cmnd_Alias ${alias} =`));
  const pattern = /\s(\^.*\$)$/.exec(line ?? '')?.[1];
  if (pattern === undefined) throw new Error(`no rule for ${alias}`);
  return new RegExp(pattern);
}

describe('pip driver', () => {
  it('installs exact versions without dependencies, through the interpreter, in the sudoers shape', () => {
    const spec = pip.install([
      { name: 'Jinja2', version: '2.11.3' },
      { name: 'zope.interface', version: '6.0.post1' },
    ]);
    expect(spec).toEqual({
      command: '/usr/bin/python3',
      args: [
        '-m',
        'pip',
        'install',
        '--upgrade',
        '--no-deps',
        '--disable-pip-version-check',
        '--no-input',
        '--',
        'Jinja2==2.11.3',
        'zope.interface==6.0.post1',
      ],
    });
    expect(spec.args.join(' ')).toMatch(sudoersRule('PATCHBOT_PIP'));
    expect(pip.rollback([{ name: 'Jinja2', version: '2.10.1' }]).args.at(-1)).toBe('Jinja2==2.10.1');
  });

  it('refuses hostile or invalid names, versions and interpreters before any argument list exists', () => {
    for (const t of [
      { name: '-r/etc/passwd', version: '1.0' },
      { name: 'a b', version: '1.0' },
      { name: 'jinja2;id', version: '1.0' },
      { name: 'Jinja2', version: '1.0 --index-url=http://evil' },
      { name: 'Jinja2', version: 'not-a-version' },
      { name: 'Jinja2', version: '>=1.0' },
      { name: 'Jinja2', version: '1.0', arch: 'amd64' },
    ]) {
      expect(() => pip.install([t]), JSON.stringify(t)).toThrow(ValidationError);
    }
    // one version per package, whatever its spelling (PEP 503)
    expect(() =>
      pip.install([
        { name: 'Jinja2', version: '2.11.3' },
        { name: 'jinja2', version: '2.11.2' },
      ]),
    ).toThrow(/listed twice/);
    for (const bad of ['python3', '/usr/bin/python3 -c', '/usr/../bin/python3', "/usr/bin/python3'"]) {
      expect(() => pipDriver(bad), bad).toThrow(ValidationError);
    }
    expect(() => driverFor('pip')).toThrow(/interpreter/);
  });

  it('reads installed versions from pip list JSON by normalized name', () => {
    const out = JSON.stringify([
      { name: 'jinja2', version: '2.11.3' },
      { name: 'MarkupSafe', version: '2.1.3' },
    ]);
    expect(pip.queryInstalled(['Jinja2']).args).toEqual([
      '-m',
      'pip',
      'list',
      '--format=json',
      '--disable-pip-version-check',
    ]);
    expect(pip.parseInstalled(out, ['Jinja2', 'requests'])).toEqual(new Map([['Jinja2', ['2.11.3']]]));
    expect(pip.parseInstalled('not json', ['Jinja2'])).toEqual(new Map());
    expect(
      pip.parseAvailableVersions('Jinja2 (3.1.4)\nAvailable versions: 3.1.4, 2.11.3, 2.10.1\n', 'Jinja2'),
    ).toEqual(['3.1.4', '2.11.3', '2.10.1']);
  });
});

describe('npm driver', () => {
  it('installs exact global versions in the sudoers shape, scoped names too', () => {
    const spec = npmDriver.install([
      { name: 'semver', version: '7.5.2' },
      { name: '@babel/traverse', version: '7.23.2' },
    ]);
    expect(spec).toEqual({
      command: 'npm',
      args: ['install', '-g', '--no-fund', '--no-audit', '--', 'semver@7.5.2', '@babel/traverse@7.23.2'],
    });
    expect(spec.args.join(' ')).toMatch(sudoersRule('PATCHBOT_NPM'));
  });

  it('refuses hostile names and non-semver versions', () => {
    for (const t of [
      { name: '../evil', version: '1.0.0' },
      { name: 'https://evil/x.tgz', version: '1.0.0' },
      { name: 'semver', version: 'latest' },
      { name: 'semver', version: '^7.5.2' },
      { name: 'semver', version: '7.5.2 --prefix=/' },
    ]) {
      expect(() => npmDriver.install([t]), JSON.stringify(t)).toThrow(ValidationError);
    }
  });

  it('reads top-level global packages only from npm ls JSON', () => {
    const out = JSON.stringify({
      dependencies: {
        semver: { version: '7.5.2' },
        npm: { version: '10.2.0', dependencies: { semver: { version: '7.3.0' } } },
      },
    });
    expect(npmDriver.parseInstalled(out, ['semver'])).toEqual(new Map([['semver', ['7.5.2']]]));
    expect(npmDriver.parseAvailableVersions('["7.5.1","7.5.2"]', 'semver')).toEqual(['7.5.1', '7.5.2']);
    expect(npmDriver.parseAvailableVersions('"1.0.0"', 'x')).toEqual(['1.0.0']);
  });
});
