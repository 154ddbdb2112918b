/**
 * dpkg itself as the oracle: dpkg-query reads the same status file (`--admindir`) and derives the
 * source package and version on its own (`${source:Package}`, `${source:Version}`).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../../src/executors/local/local-executor.js';
import { DPKG_QUERY_FORMAT, parseDpkgQuery, parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';

const ex = new LocalExecutor();
const admin = mkdtempSync(join(tmpdir(), 'patchbot-dpkg-'));
afterAll(() => rmSync(admin, { recursive: true, force: true }));
const FIXTURE = new URL('../../fixtures/inventory/debian12-dpkg-status', import.meta.url);

async function dpkgQuery(format: string, adminDir?: string): Promise<string> {
  const args = [...(adminDir === undefined ? [] : [`--admindir=${adminDir}`]), '-W', '-f', format];
  const r = await ex.exec({ command: 'dpkg-query', args, maxOutputBytes: 64 * 1024 * 1024 });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.truncated).toBe(false);
  return r.stdout;
}

/** dpkg's own view: name:arch -> source name and version, for installed-state packages. */
async function dpkgOwnSources(adminDir?: string): Promise<Map<string, string>> {
  const out = await dpkgQuery(
    '${Package}:${Architecture}\\t${source:Package}\\t${source:Version}\\t${db:Status-Status}\\n',
    adminDir,
  );
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [key, src, ver, status] = line.split('\t');
    if (key === undefined || key === '' || status === 'not-installed' || status === 'config-files') continue;
    map.set(key, `${src}\t${ver}`);
  }
  return map;
}

describe.each([
  ['the Debian 12 fixture', FIXTURE, true],
  ['this machine', new URL('file:///var/lib/dpkg/status'), false],
])('dpkg status parsing agrees with dpkg on %s', (_label, statusUrl, copy) => {
  it('status file and dpkg-query output give the same packages, with dpkg-derived sources', async () => {
    let dir: string | undefined;
    if (copy) {
      dir = mkdtempSync(join(admin, 'db-'));
      copyFileSync(statusUrl, join(dir, 'status'));
    }
    const fromFile = parseDpkgStatus(readFileSync(statusUrl, 'utf8'));
    const fromQuery = parseDpkgQuery(await dpkgQuery(DPKG_QUERY_FORMAT, dir));
    expect(fromFile.packages.length).toBeGreaterThan(100);
    expect(fromQuery.warnings).toEqual(fromFile.warnings);
    const key = (p: { name: string; arch: string }): string => `${p.name}:${p.arch}`;
    const sort = <T extends { name: string; arch: string }>(xs: T[]): T[] =>
      [...xs].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sort(fromQuery.packages)).toEqual(sort(fromFile.packages));

    const own = await dpkgOwnSources(dir);
    expect(own.size).toBe(fromFile.packages.length);
    for (const p of fromFile.packages) {
      expect(`${p.sourceName}\t${p.sourceVersion}`, key(p)).toBe(own.get(key(p)));
    }
  });
});
