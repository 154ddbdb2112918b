/**
 * The sudoers file operators install is docs/patchbot.sudoers; docs/deployments.md shows it whole.
 * The two must not drift apart (the sshd tests run under the file itself).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string): string =>
  readFileSync(new URL(`../../../docs/${path}`, import.meta.url), 'utf8');

describe('docs/patchbot.sudoers', () => {
  it('is shown whole in docs/deployments.md', () => {
    const doc = read('deployments.md');
    const block = /```sudoers\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(read('patchbot.sudoers'));
  });

  it('grants NOPASSWD root for the package managers, fwupd and reboot only, never ALL', () => {
    const rules = read('patchbot.sudoers')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    const spec = rules.filter((l) => /^patchbot\s/.test(l));
    expect(spec).toEqual([
      'patchbot ALL=(root) NOPASSWD: PATCHBOT_APT, PATCHBOT_DNF, PATCHBOT_ZYPPER, PATCHBOT_APK, PATCHBOT_FWUPD, PATCHBOT_PIP, PATCHBOT_NPM, PATCHBOT_REBOOT',
    ]);
    for (const alias of rules.filter((l) => l.startsWith('Cmnd_Alias'))) {
      expect(alias).not.toMatch(/=\s*ALL\b/);
      // every command is a full path with an argument pattern (or none at all)
      expect(alias).toMatch(/= \/(usr\/)?s?bin\/[a-z0-9-]+ (\^.*\$|"")/);
    }
  });
});
