/**
 * Prisma CLI configuration (`npx prisma generate | migrate ... | db ...`).
 *
 * Every Prisma 7 CLI command first makes sure a native `schema-engine` binary exists and downloads
 * one from binaries.prisma.sh when it does not. On machines without that access (and by default
 * everywhere) the CLI is pointed at scripts/prisma-schema-engine, a stand-in that speaks the
 * engine's JSON-RPC protocol and runs Prisma's own WebAssembly schema engine over `pg`. The SQL
 * it writes is the native engine's (same Rust code, compiled to WebAssembly).
 *
 * Opt out with `PRISMA_SCHEMA_ENGINE=native` (the CLI then downloads and uses the native binary),
 * or set `PRISMA_SCHEMA_ENGINE_BINARY` yourself.
 *
 * The application itself never needs the CLI: `patchbot db migrate` applies committed migrations.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';

const here = path.dirname(fileURLToPath(import.meta.url));

if (process.env.PRISMA_SCHEMA_ENGINE !== 'native') {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(here, 'scripts', 'prisma-schema-engine');
}

export default defineConfig({
  schema: path.join(here, 'prisma', 'schema.prisma'),
  migrations: { path: path.join(here, 'prisma', 'migrations') },
  datasource: {
    url: process.env.DATABASE_URL,
    shadowDatabaseUrl: process.env.SHADOW_DATABASE_URL,
  },
});
