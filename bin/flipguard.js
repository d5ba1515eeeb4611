#!/usr/bin/env node
// The `flipguard` command's entry point. It lives in git with its executable bit, so `npx flipguard`
// works on a fresh clone: the compiled CLI under dist/ is written by tsc without one.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('flipguard: the compiled CLI (dist/src/cli/main.js) is missing; run "npm install" or "npm run build" in the flipguard folder first.\n');
  process.exit(2);
}
await import(cli.href);
