#!/usr/bin/env node
// The `ami-builder` command. It runs the JavaScript `npm ci` compiled into dist/ (scripts/build-cli.mjs); when a
// source file changed since (scripts/dist-stamp.mjs: about 1 ms to check), it compiles again first (a fraction of
// a second), so no command compiles TypeScript while it runs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isStale } from '../scripts/dist-stamp.mjs';

// Kept in step with QUICK_COMMANDS in scripts/build-cli.mjs: these start from one bundle (dist/quick/).
const QUICK = new Set(['validate', 'inspect', 'version', '--version', '-version', '-v']);
const quick = QUICK.has(process.argv[2] ?? '');
const dist = new URL(quick ? '../dist/quick/main.js' : '../dist/cli/main.js', import.meta.url);
if (isStale(fileURLToPath(new URL('..', import.meta.url)), quick ? 'quick' : 'paths')) {
  try {
    await (await import('../scripts/build-cli.mjs')).buildCli();
  } catch (error) {
    // No esbuild (an install without it): run what was compiled, if anything.
    if (!existsSync(dist)) throw error;
  }
}
const { main } = await import(dist.href);
process.exitCode = await main(process.argv.slice(2));
