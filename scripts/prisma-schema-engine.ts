/**
 * A stand-in for Prisma's native `schema-engine` binary that runs Prisma's own WebAssembly schema
 * engine (`@prisma/schema-engine-wasm`, the same Rust code) over `pg` through `@prisma/adapter-pg`.
 *
 * The Prisma CLI downloads the native binary from binaries.prisma.sh before every migrate/db command;
 * prisma.config.ts points `PRISMA_SCHEMA_ENGINE_BINARY` here instead, so `prisma migrate dev|deploy|
 * status|diff|reset|resolve` and `prisma db push|pull|execute` work without that download.
 *
 * It speaks the binary's interface:
 * - `schema-engine --version`
 * - `schema-engine --datasource '{"url":...}' cli can-connect-to-database|create-database|drop-database`
 * - `schema-engine --datamodels FILE... --datasource '{"url":...,"shadowDatabaseUrl":...}'`: JSON-RPC 2.0,
 *   one JSON object per line on stdin/stdout, JSON log lines on stderr. Each request is forwarded to the
 *   WebAssembly engine's method of the same name.
 *
 * What the native binary does and the parts used here do not, handled below:
 * - PostgreSQL's internal `"char"` type (oid 18, in catalog queries) is not mapped by adapter-pg:
 *   result columns of that type are reported as text.
 * - adapter-pg's `executeScript` splits the script on every `;` (breaking `$$` function bodies and
 *   atomicity): scripts are sent as one simple query, like the native engine does.
 * - adapter-pg drops a temporary shadow database while its own pool still holds connections to it:
 *   the shadow pool is closed first.
 * - `migrate diff` output is sent to the CLI as a JSON-RPC `print` request, as the native binary does.
 * - `evaluateDataLoss` right after `applyMigrations` in `migrate dev` fails until `devDiagnostic` has
 *   run: it is retried once after a `devDiagnostic`.
 * - The WebAssembly engine leaves timers behind: the process exits explicitly when stdin closes.
 *
 * This relies on internals of @prisma/schema-engine-wasm and @prisma/adapter-pg: keep the exact
 * versions of package.json and test/integration/db/prisma-cli.test.ts, which fails when an upgrade breaks it.
 */
import { readFile } from 'node:fs/promises';
import readline from 'node:readline';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlQuery,
  type SqlResultSet,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type * as EngineModule from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';

type Engine = EngineModule.SchemaEngine;
type Json = Record<string, unknown>;

interface Args {
  version: boolean;
  datamodels: string[];
  datasource: { url?: string; shadowDatabaseUrl?: string };
  cliCommand?: string;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

// ------------------------------------------------------------------------------------------------
// Logging on stderr in the native engine's format (the CLI parses these lines as JSON)
// ------------------------------------------------------------------------------------------------

function log(level: 'INFO' | 'WARN' | 'ERROR', message: string, fields: Json = {}): void {
  process.stderr.write(
    `${JSON.stringify({
      timestamp: new Date().toISOString(),
      level,
      fields: { message, ...fields },
      target: 'schema_engine::logger',
    })}\n`,
  );
}

// ------------------------------------------------------------------------------------------------
// Arguments
// ------------------------------------------------------------------------------------------------

function parseArgs(argv: string[]): Args {
  const args: Args = { version: false, datamodels: [], datasource: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value after ${a}`);
      return v;
    };
    switch (a) {
      case '--version':
      case '-V':
        args.version = true;
        break;
      case '--datamodels':
      case '-d':
        args.datamodels.push(next());
        break;
      case '--datasource':
        args.datasource = JSON.parse(next()) as Args['datasource'];
        break;
      case '--enabled-preview-features':
      case '--extension-types':
        next();
        break;
      case 'cli':
        args.cliCommand = next();
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return args;
}

// ------------------------------------------------------------------------------------------------
// The WebAssembly engine (loaded by hand: Node 20 cannot import .wasm modules)
// ------------------------------------------------------------------------------------------------

interface WasmApi {
  instantiate(
    bytes: Uint8Array,
    imports: object,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

/** The last panic message of the WebAssembly engine (its panic hook writes it here). */
let lastPanic: string | undefined;

async function loadEngineModule(): Promise<typeof EngineModule> {
  (globalThis as { PRISMA_WASM_PANIC_REGISTRY?: unknown }).PRISMA_WASM_PANIC_REGISTRY = {
    set_message(message: string) {
      lastPanic = message;
    },
  };
  const glueUrl = import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const glue = (await import(glueUrl)) as typeof EngineModule & { __wbg_set_wasm(exports: unknown): void };
  const bytes = await readFile(new URL('./schema_engine_bg.wasm', glueUrl));
  // (lib "dom" is not in the tsconfig, so WebAssembly is typed here)
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const { instance } = await wasm.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue;
}

// ------------------------------------------------------------------------------------------------
// pg through adapter-pg, with the fixes listed at the top
// ------------------------------------------------------------------------------------------------

/**
 * PostgreSQL's internal `"char"` type (oid 18: pg_constraint.contype and other catalog columns) is
 * not mapped by adapter-pg, and the engine reads those columns as a character. The pg client below
 * reports them as text and marks each value; `charColumns` then types the marked columns as
 * Character and unmarks the values.
 */
const CHAR_MARK = Symbol('pg "char" value');
type MarkedChar = string & { [CHAR_MARK]: true };
type QueryResultLike = { fields?: { name: string; dataTypeID: number }[]; rows?: unknown[] };

function markChars<T>(result: T): T {
  for (const r of Array.isArray(result) ? (result as QueryResultLike[]) : [result as QueryResultLike]) {
    const fields = r?.fields ?? [];
    fields.forEach((f, i) => {
      if (f.dataTypeID !== PG_CHAR_OID) return;
      f.dataTypeID = PG_TEXT_OID;
      for (const row of r.rows ?? []) {
        const rec = row as Record<string | number, unknown>;
        const key = Array.isArray(row) ? i : f.name;
        const v = rec[key];
        // pg returns "char" values as strings (text format)
        if (typeof v === 'string') rec[key] = Object.assign(new String(v), { [CHAR_MARK]: true });
      }
    });
  }
  return result;
}

/** A pg Client that marks `"char"` values (see markChars). */
class CharMarkingClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's overloads
  override query(...argList: any[]): any {
    const args = argList as unknown[];
    const last: unknown = args[args.length - 1];
    if (typeof last === 'function') {
      const cb = last as (err: Error | null, res: unknown) => void;
      args[args.length - 1] = (err: Error | null, res: unknown) => cb(err, err ? res : markChars(res));
    }
    const ret = (super.query as (...a: unknown[]) => unknown)(...args);
    if (ret && typeof (ret as Promise<unknown>).then === 'function')
      return (ret as Promise<unknown>).then(markChars);
    return ret;
  }
}

function isMarkedChar(v: unknown): v is MarkedChar {
  return typeof v === 'object' && v !== null && CHAR_MARK in v;
}

function charColumns(result: SqlResultSet): SqlResultSet {
  result.columnTypes.forEach((_, i) => {
    if (!result.rows.some((row) => isMarkedChar(row[i]))) return;
    result.columnTypes[i] = ColumnTypeEnum.Character;
    for (const row of result.rows) if (isMarkedChar(row[i])) row[i] = row[i].valueOf();
  });
  return result;
}

type PgAdapter = SqlDriverAdapter & { underlyingDriver(): pg.Pool; onError(e: unknown): never };

/** queryRaw with `"char"` columns typed as Character, on the adapter and on its transactions. */
function withCharColumns<Q extends { queryRaw(q: SqlQuery): Promise<SqlResultSet> }>(queryable: Q): Q {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (q: SqlQuery) => charColumns(await queryRaw(q));
  return queryable;
}

/**
 * The adapter as the engine needs it: `"char"` columns typed, and scripts sent as one simple query
 * (one implicit transaction, `$$` bodies intact) instead of adapter-pg's split on every `;`.
 */
function forSchemaEngine(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const a = withCharColumns(adapter as PgAdapter);
  const startTransaction = a.startTransaction.bind(a);
  a.startTransaction = async (isolationLevel) => withCharColumns(await startTransaction(isolationLevel));
  a.executeScript = async (script: string): Promise<void> => {
    try {
      await a.underlyingDriver().query(script);
    } catch (e) {
      a.onError(e);
    }
  };
  return a;
}

function poolConfig(url: string): pg.PoolConfig {
  return { connectionString: url, Client: CharMarkingClient, max: 4 };
}

/**
 * An adapter for "no database configured" (e.g. `migrate diff --from-empty --to-schema` without
 * DATABASE_URL). The engine's start-up probe (schema exists, server version) is answered as for an
 * empty PostgreSQL 15; every other query fails with a message asking for a database url.
 */
function noDatabase(): SqlDriverAdapter {
  const fail = (): Promise<never> =>
    Promise.reject(new Error('no database url: set DATABASE_URL (prisma.config.ts datasource.url)'));
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    queryRaw: (q: SqlQuery): Promise<SqlResultSet> =>
      /\bversion\(\).*server_version_num/s.test(q.sql)
        ? Promise.resolve({
            columnNames: ['exists', 'version', 'numeric_version'],
            columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
            rows: [[true, 'PostgreSQL 15.0', 150000]],
          })
        : fail(),
    executeRaw: fail,
    executeScript: fail,
    startTransaction: fail,
    getConnectionInfo: () => ({ supportsRelationJoins: true }),
    dispose: () => Promise.resolve(),
  };
}

class PgFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  /** Temporary shadow databases not dropped yet (the engine does not always dispose them). */
  readonly shadowCleanups = new Set<() => Promise<void>>();

  /** Drops the temporary shadow databases that are left. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.shadowCleanups].map((drop) => drop()));
  }

  constructor(
    private readonly url: string | undefined,
    private readonly shadowUrl: string | undefined,
  ) {}

  private requireUrl(): string {
    if (!this.url) throw new Error('no database url: set DATABASE_URL (prisma.config.ts datasource.url)');
    return this.url;
  }

  async connect(): Promise<SqlDriverAdapter> {
    // The engine connects when it starts, even for commands that need no database
    // (`migrate diff --from-empty --to-schema`): without a url, fail only when a query is made.
    if (!this.url) return noDatabase();
    return forSchemaEngine(await new PrismaPg(poolConfig(this.url)).connect());
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    if (this.shadowUrl) return forSchemaEngine(await new PrismaPg(poolConfig(this.shadowUrl)).connect());
    const main = await this.connect();
    const database = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
    await main.executeScript(`CREATE DATABASE "${database}"`);
    const shadowUrl = new URL(this.requireUrl());
    shadowUrl.pathname = `/${database}`;
    const shadow = forSchemaEngine(await new PrismaPg(poolConfig(shadowUrl.toString())).connect());
    const disposeShadow = shadow.dispose.bind(shadow);
    let dropped: Promise<void> | undefined;
    const drop = (): Promise<void> =>
      (dropped ??= (async () => {
        // close our own connections to the shadow database before dropping it
        await disposeShadow();
        try {
          await main.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
        } finally {
          await main.dispose();
          this.shadowCleanups.delete(drop);
        }
      })());
    this.shadowCleanups.add(drop);
    shadow.dispose = drop;
    return shadow;
  }
}

// ------------------------------------------------------------------------------------------------
// One-shot commands: `cli can-connect-to-database | create-database | drop-database`
// ------------------------------------------------------------------------------------------------

function describeTarget(url: string): { host: string; port: string; database: string } {
  const u = new URL(url);
  return {
    host: u.hostname || 'localhost',
    port: u.port || '5432',
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
}

function connectionError(url: string, err: unknown): { code: string; message: string } {
  const { host, port, database } = describeTarget(url);
  const e = err as { code?: string; message?: string };
  if (e.code === '3D000')
    return {
      code: 'P1003',
      message: `Database \`${database}\` does not exist on the database server at \`${host}:${port}\`.`,
    };
  if (e.code === '28P01' || e.code === '28000')
    return {
      code: 'P1000',
      message: `Authentication failed against database server at \`${host}:${port}\`.`,
    };
  if (
    e.code === 'ECONNREFUSED' ||
    e.code === 'ENOTFOUND' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'EHOSTUNREACH'
  )
    return { code: 'P1001', message: `Can't reach database server at \`${host}:${port}\`` };
  return { code: 'P1000', message: e.message ?? String(err) };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

async function runCliCommand(command: string, url: string | undefined): Promise<number> {
  log('INFO', `schema-engine stand-in: ${command}`);
  if (!url) {
    log('ERROR', 'The datasource has no url.', { error_code: 'P1012' });
    return 1;
  }
  const { database } = describeTarget(url);
  try {
    switch (command) {
      case 'can-connect-to-database':
        await withClient(url, (c) => c.query('SELECT 1'));
        return 0;
      case 'create-database':
        await withClient(adminUrl(url), (c) =>
          c.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`),
        );
        return 0;
      case 'drop-database':
        await withClient(adminUrl(url), (c) =>
          c.query(`DROP DATABASE IF EXISTS "${database.replaceAll('"', '""')}"`),
        );
        return 0;
      default:
        log('ERROR', `Unknown cli command ${command}`);
        return 1;
    }
  } catch (err) {
    const { code, message } = connectionError(url, err);
    log('ERROR', message, { error_code: code });
    return 1;
  }
}

// ------------------------------------------------------------------------------------------------
// JSON-RPC server
// ------------------------------------------------------------------------------------------------

interface RpcRequest {
  jsonrpc: '2.0';
  id?: number | string;
  method?: string;
  params?: Json;
  result?: unknown;
  error?: unknown;
}

type ErrorRegistry = { consumeError(id: number): { error: unknown } | undefined };

/**
 * Errors thrown inside the adapter reach the engine as "External error id#N"; the original
 * (a connection refused, a failed statement) sits in the bound factory's registry.
 */
function externalError(message: string, registry: ErrorRegistry | undefined): string {
  const m = /External error id#(\d+)/.exec(message);
  const found = m && registry?.consumeError(Number(m[1]));
  if (!found) return message;
  const e = found.error as { message?: string; kind?: string; cause?: unknown };
  const cause = e.cause as { message?: string; originalMessage?: string; kind?: string } | undefined;
  return cause?.originalMessage ?? cause?.message ?? e.message ?? String(found.error);
}

/** An engine error as the CLI expects it (error_code + message, not a panic). */
function rpcError(err: unknown, registry?: ErrorRegistry): Json {
  let message = externalError(err instanceof Error ? err.message : String(err), registry);
  let errorCode: string | undefined;
  let meta: unknown;
  // the WebAssembly engine throws errors whose message is the engine's JSON error
  try {
    const parsed = JSON.parse(message) as { message?: string; error_code?: string; meta?: unknown };
    if (parsed && typeof parsed === 'object' && typeof parsed.message === 'string') {
      message = parsed.message;
      errorCode = parsed.error_code;
      meta = parsed.meta;
    }
  } catch {
    // plain message
  }
  if (lastPanic !== undefined) {
    const panic = lastPanic;
    lastPanic = undefined;
    return {
      code: 4466,
      message: 'An error happened. Check the data field for details.',
      data: { is_panic: true, message: panic, error: { message: panic }, meta: null, error_code: null },
    };
  }
  const e = err as { code?: unknown; meta?: unknown };
  if (!errorCode && typeof e.code === 'string' && /^P\d{4}$/.test(e.code)) errorCode = e.code;
  return {
    code: 4466,
    message: 'An error happened. Check the data field for details.',
    data: { is_panic: false, message, meta: meta ?? e.meta ?? null, error_code: errorCode ?? null },
  };
}

class Server {
  private engine?: Promise<Engine>;
  private registry?: ErrorRegistry;
  private factory?: PgFactory;
  private nextOutgoingId = 1_000_000;
  private readonly pendingOutgoing = new Map<number, () => void>();

  constructor(
    private readonly args: Args,
    private readonly datamodels: [string, string][],
  ) {}

  private getEngine(): Promise<Engine> {
    this.engine ??= (async () => {
      const mod = await loadEngineModule();
      this.factory = new PgFactory(this.args.datasource.url, this.args.datasource.shadowDatabaseUrl);
      const factory = bindMigrationAwareSqlAdapterFactory(this.factory);
      this.registry = factory.errorRegistry;
      return mod.SchemaEngine.new(
        { datamodels: this.datamodels.length > 0 ? this.datamodels : undefined },
        (line: string) => process.stderr.write(`${line}\n`),
        factory,
      );
    })();
    return this.engine;
  }

  async close(): Promise<void> {
    await this.factory?.cleanup();
  }

  private send(message: Json): void {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  }

  /** Asks the CLI to print text (how the native binary hands over `migrate diff` output). */
  private print(content: string): Promise<void> {
    const id = this.nextOutgoingId++;
    return new Promise((resolve) => {
      this.pendingOutgoing.set(id, resolve);
      this.send({ jsonrpc: '2.0', id, method: 'print', params: { content } });
    });
  }

  async handle(line: string): Promise<void> {
    let req: RpcRequest;
    try {
      req = JSON.parse(line) as RpcRequest;
    } catch {
      this.send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (req.method === undefined) {
      // a response to one of our own requests (print)
      if (typeof req.id === 'number') {
        this.pendingOutgoing.get(req.id)?.();
        this.pendingOutgoing.delete(req.id);
      }
      return;
    }
    try {
      const result = await this.dispatch(req.method, req.params ?? {});
      this.send({ jsonrpc: '2.0', id: req.id, result: result ?? {} });
    } catch (err) {
      this.send({ jsonrpc: '2.0', id: req.id, error: rpcError(err, this.registry) });
    }
  }

  private async dispatch(method: string, params: Json): Promise<unknown> {
    switch (method) {
      case 'getDatabaseVersion':
        return (await this.getEngine()).version(params as unknown as EngineModule.GetDatabaseVersionInput);
      case 'createDatabase': {
        const url = this.args.datasource.url;
        if (!url) throw new Error('The datasource has no url.');
        const code = await runCliCommand('create-database', url);
        if (code !== 0) throw new Error(`could not create database ${describeTarget(url).database}`);
        return { databaseName: describeTarget(url).database };
      }
      case 'diff': {
        const result = await (await this.getEngine()).diff(params as unknown as EngineModule.DiffParams);
        if (result.stdout !== null && result.stdout !== undefined) await this.print(result.stdout);
        return { exitCode: result.exitCode, stdout: null };
      }
      case 'evaluateDataLoss': {
        const engine = await this.getEngine();
        const input = params as unknown as EngineModule.EvaluateDataLossInput;
        try {
          return await engine.evaluateDataLoss(input);
        } catch {
          await engine.devDiagnostic({ migrationsList: input.migrationsList, filters: input.filters });
          return engine.evaluateDataLoss(input);
        }
      }
      case 'debugPanic':
        throw new Error('debugPanic');
      case 'applyMigrations':
      case 'createMigration':
      case 'dbExecute':
      case 'devDiagnostic':
      case 'diagnoseMigrationHistory':
      case 'ensureConnectionValidity':
      case 'introspect':
      case 'introspectSql':
      case 'markMigrationApplied':
      case 'markMigrationRolledBack':
      case 'reset':
      case 'schemaPush': {
        const engine = (await this.getEngine()) as unknown as Record<
          string,
          (p: unknown) => Promise<unknown>
        >;
        const fn = engine[method];
        if (typeof fn !== 'function')
          throw new Error(`the WebAssembly schema engine has no method ${method}`);
        return fn.call(engine, params);
      }
      default:
        throw new Error(`method ${method} is not supported by the WebAssembly schema engine stand-in`);
    }
  }
}

async function serve(args: Args): Promise<void> {
  const datamodels: [string, string][] = [];
  for (const file of args.datamodels) datamodels.push([file, await readFile(file, 'utf8')]);
  const server = new Server(args, datamodels);
  const inFlight = new Set<Promise<void>>();
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    const p = server.handle(line).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
  await new Promise<void>((resolve) => rl.once('close', resolve));
  await Promise.allSettled([...inFlight]);
  await server.close();
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.version) {
    const mod = await loadEngineModule();
    process.stdout.write(`schema-engine-wasm ${mod.version()}\n`);
    return 0;
  }
  if (args.cliCommand) return runCliCommand(args.cliCommand, args.datasource.url);
  await serve(args);
  return 0;
}

// A panic inside the engine can surface outside any request (from a wasm-bindgen future): report it
// the way the native binary does (an ERROR log line with the panic message) and exit 101.
process.on('uncaughtException', (err) => {
  log('ERROR', lastPanic ?? (err instanceof Error ? err.message : String(err)), { is_panic: true });
  process.exit(101);
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('ERROR', err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
