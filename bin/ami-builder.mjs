#!/usr/bin/env node
// The `ami-builder` command. It runs the JavaScript `npm ci` compiled into dist/ (scripts/build-cli.mjs); when a
// source file changed since, it compiles again first (a fraction of a second), so no command compiles TypeScript
// while it runs.
import { existsSync } from 'node:fs';

// Kept in step with QUICK_COMMANDS in scripts/build-cli.mjs: these start from one bundle (dist/quick/).
const QUICK = new Set(['validate', 'inspect', 'version', '--version', '-version', '-v']);
const dist = new URL(
  QUICK.has(process.argv[2] ?? '') ? '../dist/quick/main.js' : '../dist/cli/main.js',
  import.meta.url,
);
let ready = existsSync(dist);
try {
  const build = await import('../scripts/build-cli.mjs');
  if (build.isStale()) {
    await build.buildCli();
    ready = true;
  }
} catch (error) {
  // No esbuild (an install without it): run what was compiled, if anything.
  if (!ready) throw error;
}
const { main } = await import(dist.href);
process.exitCode = await main(process.argv.slice(2));
