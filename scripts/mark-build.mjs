// Run by `npm run build` after the compiler succeeds: dist/.build-stamp records when dist/ was
// built, so bin/patchbot.js can tell compiled code from a source tree that changed since.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/.build-stamp', import.meta.url), `${new Date().toISOString()}\n`);
