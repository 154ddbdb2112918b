import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, loadConfig, loadPolicy } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/core/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'patchbot-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a rejection');
}

describe('loadPolicy', () => {
  it('uses the built-in defaults when the default file is missing', async () => {
    const loaded = await loadPolicy(undefined, { cwd: dir });
    expect(loaded.source).toBe('defaults');
    expect(loaded.policy).toEqual(DEFAULT_POLICY);
    expect(loaded.path).toBe(join(dir, 'patchbot.yaml'));
  });

  it('reads ./patchbot.yaml when it exists', async () => {
    await writeFile(join(dir, 'patchbot.yaml'), 'environments: [prod]\n');
    const loaded = await loadPolicy(undefined, { cwd: dir });
    expect(loaded.source).toBe('file');
    expect(loaded.policy.environments).toEqual(['prod']);
  });

  it('refuses a missing file that was named explicitly', async () => {
    const err = await rejection(loadPolicy('missing.yaml', { cwd: dir }));
    expect(err.userMessage).toBe('policy file missing.yaml does not exist');
  });

  it('refuses a directory', async () => {
    await mkdir(join(dir, 'conf.yaml'));
    const err = await rejection(loadPolicy('conf.yaml', { cwd: dir }));
    expect(err.userMessage).toContain('is not a file');
  });

  it('lists every error with file:line:col and keeps them as data', async () => {
    await writeFile(
      join(dir, 'p.yaml'),
      'rings:\n  - name: canary\n    soak: later\napproval:\n  default: { quorum: two }\n',
    );
    const err = await rejection(loadPolicy('p.yaml', { cwd: dir }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.userMessage).toContain('(2 errors)');
    expect(err.userMessage).toContain('p.yaml:3:11 rings[0].soak: expected a duration');
    expect(err.userMessage).toMatch(
      /p\.yaml:5:\d+ approval\.default\.quorum: expected a positive integer, got "two"/,
    );
    expect((err.details.issues as unknown[]).length).toBe(2);
  });
});

describe('loadConfig', () => {
  it('validates env and policy together and reports where the policy came from', async () => {
    const config = await loadConfig({ PORT: '4000' }, { cwd: dir });
    expect(config.env.port).toBe(4000);
    expect(config.policySource).toBe('defaults');
    expect(config.policy).toEqual(DEFAULT_POLICY);
  });

  it('PATCHBOT_CONFIG names a file that must exist', async () => {
    const err = await rejection(loadConfig({ PATCHBOT_CONFIG: 'etc/patchbot.yaml' }, { cwd: dir }));
    expect(err.userMessage).toContain('etc/patchbot.yaml does not exist');
    await mkdir(join(dir, 'etc'));
    await writeFile(join(dir, 'etc/patchbot.yaml'), 'teams:\n  - name: platform\n');
    const config = await loadConfig({ PATCHBOT_CONFIG: 'etc/patchbot.yaml' }, { cwd: dir });
    expect(config.policySource).toBe('file');
    expect(config.policy.teams[0]?.name).toBe('platform');
    expect(config.policyWarnings.map((w) => w.path)).toContain('teams[0]');
  });

  it('fails on a bad environment before reading the policy', async () => {
    const err = await rejection(
      loadConfig({ LOG_LEVEL: 'chatty', PATCHBOT_CONFIG: 'missing.yaml' }, { cwd: dir }),
    );
    expect(err.userMessage).toContain('LOG_LEVEL: expected one of');
  });
});
