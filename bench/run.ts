/**
 * `npm run bench`: runs every bench/*.bench.ts (or the ones named on the command line) one after
 * another, each printing its own figures with the size of its input.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

interface BenchModule {
  run(): Promise<void>;
}

const dir = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}`);
  process.exit(1);
}
for (const file of files) {
  console.log(`\n## ${file.replace(/\.bench\.ts$/, '')}`);
  const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as BenchModule;
  await mod.run();
}
// A benchmark that leaves a connection pool or timer behind must not keep the run from ending.
process.exit(process.exitCode ?? 0);
