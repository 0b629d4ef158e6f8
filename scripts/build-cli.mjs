#!/usr/bin/env node
// Compiles the TypeScript the CLI runs (cli/, lambdas/, infra/, emulator/) to JavaScript under dist/, one file per
// source file (esbuild, no type checking: `npm run build` checks types), so that no command compiles TypeScript
// at run time. Run by `npm ci` / `npm install` (the `prepare` script) and by bin/ami-builder.mjs and bin/cdk-app.mjs
// when a source changed since the last build (scripts/dist-stamp.mjs).
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStale as distIsStale, writeStamp } from './dist-stamp.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
/** The bundle of the template-reading commands (see {@link QUICK_COMMANDS}); at the same depth as dist/cli/. */
export const QUICK_DIST = join(DIST, 'quick');
/** The commands (and version flags) that bin/ami-builder.mjs starts from the bundle. */
export const QUICK_COMMANDS = ['validate', 'inspect', 'version', '--version', '-version', '-v'];
const SOURCE_DIRS = ['cli', 'lambdas', 'infra', 'emulator'];

/**
 * Every source file the CLI may load (TypeScript, and the JSON data modules it imports), and the directories walked
 * to find them.
 */
export function sourceTree() {
  const files = [];
  const dirs = [];
  const walk = (dir) => {
    dirs.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(m?ts|json)$/.test(entry.name) && !/\.d\.m?ts$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(ROOT, dir));
  return { files, dirs };
}

/** Every TypeScript source file the CLI may load. */
export function sourceFiles() {
  return sourceTree().files;
}

/** True when dist/ is missing or older than its sources (scripts/dist-stamp.mjs). */
export function isStale() {
  return distIsStale(ROOT);
}

/** Compiles every source file to dist/<same path>.js. */
export async function buildCli() {
  const esbuild = await import('esbuild');
  const startedAt = Date.now();
  const { files, dirs } = sourceTree();
  const perFile = {
    outdir: DIST,
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Node 20.10+ reads import attributes (`with { type: 'json' }`): keep them.
    supported: { 'import-attributes': true },
    sourcemap: 'inline',
    logLevel: 'warning',
  };
  await esbuild.build({ ...perFile, entryPoints: files.filter((f) => f.endsWith('.ts')) });
  // `.mts` sources (imported as `.mjs`, lambdas/shared/tracing.mts) keep their extension.
  await esbuild.build({
    ...perFile,
    entryPoints: files.filter((f) => f.endsWith('.mts')),
    outExtension: { '.js': '.mjs' },
  });
  // JSON modules (`import … with { type: 'json' }`, e.g. the price table) are loaded as they are.
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const out = join(DIST, relative(ROOT, file));
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(file, out);
  }
  // Chunk names change with their content: start empty, so that old chunks do not pile up.
  rmSync(QUICK_DIST, { recursive: true, force: true });
  // The commands that only read templates start from one bundle (a few files instead of a few hundred), so that
  // `validate` starts about as fast as `packer validate`. Every other command runs the per-file build above,
  // whose layout mirrors the sources (they locate the emulator, the handlers and the examples from it).
  const quick = await esbuild.build({
    entryPoints: { main: join(ROOT, 'cli', 'main.ts') },
    absWorkingDir: ROOT,
    metafile: true,
    outdir: QUICK_DIST,
    bundle: true,
    splitting: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  writeStamp(
    ROOT,
    startedAt,
    [...dirs, ...files, join(ROOT, 'package.json')].map((path) => relative(ROOT, path)),
    // esbuild names inputs relative to its working directory.
    [...Object.keys(quick.metafile.inputs).map((input) => relative(ROOT, join(ROOT, input))), 'package.json'],
  );
  return relative(ROOT, DIST);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildCli();
  console.log(`compiled the CLI to ${out}/`);
}
