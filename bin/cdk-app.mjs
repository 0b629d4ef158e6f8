#!/usr/bin/env node
// The CDK app as `cdk.json` runs it: infra/app.ts compiled into dist/ (scripts/build-cli.mjs, compiled again first
// when a source changed: scripts/dist-stamp.mjs), run by plain node, without a TypeScript loader or npx.
import { fileURLToPath } from 'node:url';
import { isStale } from '../scripts/dist-stamp.mjs';

// esbuild's synchronous API in the calling process rather than a worker thread with a service process of its own: no
// thread to start, and the pass's CPU time is the app's (the benchmark measures it).
process.env.ESBUILD_WORKER_THREADS ??= '0';
if (isStale(fileURLToPath(new URL('..', import.meta.url)))) {
  await (await import('../scripts/build-cli.mjs')).buildCli();
}
const { runApp } = await import('../dist/infra/app.js');
runApp();
