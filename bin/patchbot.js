#!/usr/bin/env node
// Entry point of the `patchbot` command. In a source checkout (src/ present and tsx installed)
// it runs the TypeScript sources directly, so the command never runs stale compiled code;
// in an installed package or the container image it runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const source = new URL('src/cli/main.ts', root);
const compiled = new URL('dist/cli/main.js', root);

let entry = compiled;
if (existsSync(fileURLToPath(source)) && process.env.PATCHBOT_USE_DIST !== '1') {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    entry = source;
  } catch {
    entry = compiled;
  }
}
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('patchbot: no compiled code found; run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
