/**
 * The Prisma CLI works offline through scripts/prisma-schema-engine (prisma.config.ts), and agrees
 * with the in-process migration runner. This fails when an upgrade of prisma, @prisma/adapter-pg or
 * @prisma/schema-engine-wasm breaks the stand-in.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/client.js';
import { adminQuery, createTempPostgres, type TempPostgres } from '../../support/db.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PRISMA = fileURLToPath(new URL('../../../node_modules/prisma/build/index.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function prisma(args: string[], databaseUrl: string | undefined): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
  delete env.PRISMA_SCHEMA_ENGINE_BINARY;
  delete env.PRISMA_SCHEMA_ENGINE;
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  else env.DATABASE_URL = databaseUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const shadowDatabases = async (): Promise<string[]> =>
  (
    await adminQuery<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'`,
    )
  ).map((r) => r.datname);

describe('prisma CLI offline (schema-engine stand-in)', () => {
  let runnerDb: TempPostgres;
  let cliDb: TempPostgres;
  beforeAll(async () => {
    runnerDb = await createTempPostgres('cli_runner');
    cliDb = await createTempPostgres('cli_deploy');
  });
  afterAll(async () => {
    await runnerDb.drop();
    await cliDb.drop();
  });

  it('migrate diff --from-empty --to-schema prints the whole schema as SQL, without a database', async () => {
    const run = await prisma(
      ['migrate', 'diff', '--from-empty', '--to-schema', 'prisma/schema.prisma', '--script'],
      undefined,
    );
    expect(run.code, run.stderr).toBe(0);
    for (const table of [
      'Host',
      'InventorySnapshot',
      'Advisory',
      'Finding',
      'Decision',
      'HostRun',
      'AuditLog',
    ]) {
      expect(run.stdout).toContain(`CREATE TABLE "${table}"`);
    }
    expect(run.stdout).toContain('CREATE UNIQUE INDEX "Finding_hostId_packageName_advisoryId_owner_key"');
  });

  it('the committed migrations produce exactly prisma/schema.prisma (empty diff, shadow database dropped)', async () => {
    const before = await shadowDatabases();
    const run = await prisma(
      [
        'migrate',
        'diff',
        '--from-migrations',
        'prisma/migrations',
        '--to-schema',
        'prisma/schema.prisma',
        '--exit-code',
      ],
      runnerDb.url,
    );
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(await shadowDatabases()).toEqual(before);
  });

  it('--exit-code reports a difference (so the empty diff above means something)', async () => {
    const run = await prisma(
      ['migrate', 'diff', '--from-empty', '--to-schema', 'prisma/schema.prisma', '--exit-code'],
      undefined,
    );
    expect(run.code).toBe(2);
  });

  it('after the in-process runner, migrate status and deploy agree and the database matches the schema', async () => {
    const db = await openDatabase({ url: runnerDb.url, dataDir: '/nonexistent' });
    await db.migrate();
    await db.close();

    const status = await prisma(['migrate', 'status'], runnerDb.url);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('Database schema is up to date!');

    const deploy = await prisma(['migrate', 'deploy'], runnerDb.url);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stdout).toContain('No pending migrations to apply');

    const diff = await prisma(
      ['migrate', 'diff', '--from-config-datasource', '--to-schema', 'prisma/schema.prisma', '--exit-code'],
      runnerDb.url,
    );
    expect(diff.code, `${diff.stdout}\n${diff.stderr}`).toBe(0);
  });

  it('after prisma migrate deploy, the in-process runner finds everything applied and unmodified', async () => {
    const deploy = await prisma(['migrate', 'deploy'], cliDb.url);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stdout).toContain('All migrations have been successfully applied');

    const db = await openDatabase({ url: cliDb.url, dataDir: '/nonexistent' });
    try {
      const result = await db.migrate();
      expect(result.applied).toEqual([]);
      expect(result.modified).toEqual([]);
      expect(result.alreadyApplied.length).toBeGreaterThan(0);
      // the trigger body (a $$ function with ';' inside) went in whole
      const audit = await db.prisma.auditLog.create({
        data: { actor: 'a', surface: 'cli', action: 'x', subjectType: 't', subjectId: '1' },
      });
      await expect(db.prisma.auditLog.delete({ where: { id: audit.id } })).rejects.toThrow(/append-only/);
    } finally {
      await db.close();
    }
  });

  it('migrate status names an unreachable server', async () => {
    const run = await prisma(['migrate', 'status'], 'postgresql://u:pw@127.0.0.1:1/x');
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(/127\.0\.0\.1:1/);
  });
});
