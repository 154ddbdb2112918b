#!/usr/bin/env node
// Entry point of the `patchbot` command. It runs compiled code (dist/) whenever that code is the
// code of the sources beside it:
// - an installed package or the container image has no src/: dist/ (PATCHBOT_USE_DIST=1 forces it);
// - a source checkout runs dist/ when `npm run build` wrote it after the last change in src/
//   (dist/.build-stamp is newer than every file there), else the TypeScript sources through tsx,
//   so the command never runs stale compiled code. tsx compiles on every start: build for speed.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const source = new URL('src/cli/main.ts', root);
const compiled = new URL('dist/cli/main.js', root);

function mtimeMs(url) {
  try {
    return statSync(fileURLToPath(url)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Whether dist/ was built after every file in src/ last changed. */
function distIsFresh() {
  const built = mtimeMs(new URL('dist/.build-stamp', root));
  if (built === undefined || mtimeMs(compiled) === undefined) return false;
  const srcDir = fileURLToPath(new URL('src/', root));
  for (const entry of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const dir = entry.parentPath ?? entry.path;
    if (statSync(`${dir}/${entry.name}`).mtimeMs > built) return false;
  }
  return true;
}

let entry = compiled;
if (mtimeMs(source) !== undefined && process.env.PATCHBOT_USE_DIST !== '1' && !distIsFresh()) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    entry = source;
  } catch {
    if (mtimeMs(compiled) !== undefined)
      process.stderr.write(
        'patchbot: warning: running dist/, which is older than src/ (tsx is not installed): run `npm run build`\n',
      );
  }
}
if (mtimeMs(entry) === undefined) {
  process.stderr.write('patchbot: no compiled code found; run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
