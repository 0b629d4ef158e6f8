/**
 * Bundling of the Lambda handlers: every task in one esbuild pass (`Tasks`, one entry point each), written to
 * `<outdir>/<TaskId>/index.mjs` with its source map beside it. `TaskFunction` takes each task's directory as its
 * asset; the benchmark measures the same output.
 *
 * Options (one place, used by both):
 * - ESM, platform node, target node22, `module` before `main` so that packages' ESM builds are chosen (they
 *   tree-shake; the AWS SDK's CommonJS builds do not);
 * - minified, with `keepNames` (Step Functions matches the errors' `name`);
 * - linked source maps without sources (`index.mjs.map`, named by the code's `sourceMappingURL` comment, which
 *   `NODE_OPTIONS=--enable-source-maps` follows), so the code file stays small;
 * - every dependency bundled, the AWS SDK v3 included, so the SDK version is the one in package-lock.json;
 * - the SDK's default credential chain (`@aws-sdk/credential-provider-node`) replaced by the two links Lambda can
 *   use, the environment and the container endpoint (`lambdas/shared/lambda-credentials.ts`): the rest of the
 *   chain (profiles, SSO, web identity, with their own STS and SSO clients) is about a quarter of a small
 *   handler's code and start-up time, and never runs in Lambda;
 * - no code splitting: each function loads only its own code file, and the tracer's (`tracing.mjs`: Powertools'
 *   Tracer with the X-Ray SDK, built once in the same pass and copied beside every task's code file) only where
 *   tracing can be on (in Lambda; lambdas/shared/observability.ts, `loadTracing`).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';
import { type TaskId, Tasks } from './tasks.js';

/** The code file of each task's bundle (Lambda `handler`: `index.handler`). */
export const BUNDLE_FILE = 'index.mjs';

/** The tracer's file beside each task's code file (`lambdas/shared/tracing.mts`), loaded only in Lambda. */
export const TRACING_FILE = 'tracing.mjs';
const TRACING_ENTRY = 'lambdas/shared/tracing.mts';
/** Where the pass writes the tracer's file before it is copied into each task's directory. */
const TRACING_OUT = '_tracing';

/** The module that stands for the SDK's default credential chain in the handlers' bundles. */
export const LAMBDA_CREDENTIALS = 'lambdas/shared/lambda-credentials.ts';

/** esbuild options shared by the handlers' bundle and the benchmark's floor bundles. */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  treeShaking: true,
  // Resolved against absWorkingDir (the repository), for the handlers and the benchmark's floors alike.
  alias: { '@aws-sdk/credential-provider-node': `./${LAMBDA_CREDENTIALS}` },
  legalComments: 'none',
  // Bundled CommonJS dependencies call require(); ESM output has none unless we provide it.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  logLevel: 'error',
};

export interface TaskBundles {
  /** The directory holding `<TaskId>/index.mjs` (and `.map`) for every task. */
  outdir: string;
  /** esbuild's metafile: inputs and outputs with their sizes. */
  metafile: Metafile;
  /** Milliseconds the esbuild pass took. */
  buildMs: number;
}

/**
 * Bundles every task in one esbuild pass into `outdir`. Synchronous, because CDK's local bundling is.
 */
export function bundleTasks(root: string, outdir: string): TaskBundles {
  const started = performance.now();
  const result = buildSync({
    ...BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: [
      ...(Object.entries(Tasks) as [TaskId, string][]).map(([task, entry]) => ({
        in: entry,
        out: `${task}/index`,
      })),
      { in: TRACING_ENTRY, out: `${TRACING_OUT}/tracing` },
    ],
    outExtension: { '.js': '.mjs' },
    outdir,
    metafile: true,
  });
  // Each directory is a function's asset: the tracer's file (and its map, whose relative paths hold at the same
  // depth) goes into every one.
  for (const task of Object.keys(Tasks)) {
    for (const file of [TRACING_FILE, `${TRACING_FILE}.map`]) {
      copyFileSync(join(outdir, TRACING_OUT, file), join(outdir, task, file));
    }
  }
  return { outdir, metafile: result.metafile, buildMs: performance.now() - started };
}

let cached: { root: string; bundles: TaskBundles } | undefined;

/**
 * The tasks' bundles for this process: built on the first call, then reused, so that every stack synthesized in
 * the process shares one esbuild pass. They go to a directory of this process under `node_modules/.cache`
 * (removed at exit): at a fixed depth below the repository, so that the source maps' relative paths, and with them
 * the assets' hashes, do not depend on where the repository is checked out.
 */
export function taskBundles(root: string): TaskBundles {
  if (cached?.root === root) return cached.bundles;
  const cache = join(root, 'node_modules', '.cache', 'ami-builder');
  mkdirSync(cache, { recursive: true });
  const outdir = mkdtempSync(join(cache, 'bundles-'));
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  cached = { root, bundles: bundleTasks(root, outdir) };
  return cached.bundles;
}
