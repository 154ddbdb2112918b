import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const FIXTURES = join(import.meta.dirname, '../../fixtures/feeds');

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}

export function readJsonFixture(...parts: string[]): unknown {
  return JSON.parse(readFixture(...parts)) as unknown;
}

/** An OSV fixture as a value (YAML read with the core schema: timestamps stay strings). */
export function readOsvFixture(...parts: string[]): unknown {
  const text = readFixture(...parts);
  return parts.at(-1)?.endsWith('.yaml')
    ? (parseYaml(text, { schema: 'core' }) as unknown)
    : (JSON.parse(text) as unknown);
}

export function listFixtures(dir: string): string[] {
  return readdirSync(fixturePath(dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
