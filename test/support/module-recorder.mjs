// Loaded with `node --import ./test/support/module-recorder.mjs ...`: appends every module URL the
// process loads to the file named by PATCHBOT_TEST_MODULE_LOG, one per line: ES modules (and
// CommonJS ones imported from them) as the loader hooks load them, the CommonJS modules required
// from those from require's cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const log = process.env.PATCHBOT_TEST_MODULE_LOG;
if (log) {
  register('./module-recorder-hooks.mjs', { parentURL: import.meta.url, data: { log } });
  process.on('exit', () => {
    const require = createRequire(import.meta.url);
    const files = Object.keys(require.cache).map((f) => `${pathToFileURL(f).href}\n`);
    appendFileSync(log, files.join(''));
  });
}
