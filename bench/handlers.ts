/**
 * The handlers against the floor of their SDK clients (issue 13, "Handlers at the floor of their SDK clients").
 *
 * Each handler is measured as deployed: the bundle `infra/bundle.ts` writes (the one esbuild pass `TaskFunction`
 * takes its assets from), imported by plain `node` in a fresh process. Its floor is built in the same run: a
 * minimal ESM bundle, with the same esbuild options but for the handlers' credential provider alias (the floor
 * keeps the SDK's default credential chain, as published), that imports only the SDK clients found in the
 * handler's bundle (from esbuild's metafile), one command of each, and creates each client at load. Reported per
 * handler:
 * - cold module initialization, handler and floor: the median of {@link INIT_RUNS} imports each, alternated so that
 *   machine load hits both alike;
 * - the code file's size (`index.mjs`; the source map is a separate `index.mjs.map`), handler and floor, and gzipped;
 * - apart, what tracing adds in Lambda: the tracer's file beside the code file (`tracing.mjs`, Powertools' Tracer
 *   with the X-Ray SDK), which a task loads at its first invocation only where tracing can be on
 *   (`AWS_EXECUTION_ENV` set), and the import of code file and tracer together in that environment, against the
 *   floor. Plain `node` loads no tracer: these are shown next to the targets, not judged by them;
 * - what the handler's module load does besides creating clients: timers, sockets or child processes still
 *   pending after the import (none expected: clients are created lazily, configuration is read synchronously).
 *
 * Run alone: `npx tsx bench/handlers.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';
import { BUNDLE_FILE, BUNDLE_OPTIONS, bundleTasks, TRACING_FILE } from '../infra/bundle.js';
import type { TaskId } from '../infra/tasks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Imports of each bundle (handler and floor); the median is reported. */
export const INIT_RUNS = 7;

/** The issue's targets for a handler against its floor. */
export const HANDLER_TARGETS = {
  /** Cold module initialization ≤ this × the floor's. */
  initRatio: 1.25,
  /** Code file ≤ this × the floor's. */
  sizeRatio: 1.25,
  /** Cold module initialization of a handler that loads no EC2 client, ms. */
  noEc2InitMs: 150,
};

export interface HandlerMeasure {
  task: TaskId;
  /** The SDK client packages in the bundle (`client-ec2`, …). */
  clients: string[];
  bundleBytes: number;
  bundleGzipBytes: number;
  mapBytes: number;
  floorBytes: number;
  floorGzipBytes: number;
  initMs: number;
  floorInitMs: number;
  /** The tracer's file beside the code file (loaded in Lambda only), bytes. */
  tracingBytes: number;
  /** Cold import of the code file and then the tracer's file, as in Lambda with tracing on, ms. */
  tracedInitMs: number;
  /**
   * Handles (timers, sockets, requests, processes) the handler's import leaves active that its floor's does not,
   * by type: empty when the load does no work beyond creating clients.
   */
  pendingAtLoad: string[];
}

export interface HandlersReport {
  /** The one esbuild pass over every handler, ms. */
  bundleMs: number;
  handlers: HandlerMeasure[];
}

/** Verdicts of one handler against {@link HANDLER_TARGETS}. */
export function verdicts(h: HandlerMeasure): {
  init: boolean | undefined;
  size: boolean | undefined;
  noEc2: boolean | undefined;
  load: boolean;
} {
  // A handler without SDK clients has an empty floor: the 150 ms bound is its target.
  const floored = h.clients.length > 0;
  return {
    init: floored ? h.initMs <= HANDLER_TARGETS.initRatio * h.floorInitMs : undefined,
    size: floored ? h.bundleBytes <= HANDLER_TARGETS.sizeRatio * h.floorBytes : undefined,
    noEc2: h.clients.includes('client-ec2') ? undefined : h.initMs <= HANDLER_TARGETS.noEc2InitMs,
    load: h.pendingAtLoad.length === 0,
  };
}

const CLIENT_PACKAGE = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//;

/** One client class and one command of an SDK client package (the first command in alphabetical order). */
async function clientAndCommand(pkg: string): Promise<{ client: string; command: string }> {
  const exports = Object.keys(await import(`@aws-sdk/${pkg}`));
  const client = exports.find((name) => name.endsWith('Client') && !name.startsWith('__'));
  const command = exports.filter((name) => /^[A-Z]\w*Command$/.test(name)).sort()[0];
  if (client === undefined || command === undefined) throw new Error(`@aws-sdk/${pkg}: no client or command`);
  return { client, command };
}

/** The floor's entry: the clients, one command each, every client created at load. */
async function floorSource(packages: readonly string[]): Promise<string> {
  const parts = await Promise.all(packages.map(async (pkg) => ({ pkg, ...(await clientAndCommand(pkg)) })));
  return [
    ...parts.map((p) => `import { ${p.client}, ${p.command} } from '@aws-sdk/${p.pkg}';`),
    `export const clients = [${parts.map((p) => `new ${p.client}({ region: process.env.AWS_REGION })`).join(', ')}];`,
    `export const commands = [${parts.map((p) => p.command).join(', ')}];`,
    '',
  ].join('\n');
}

/**
 * Milliseconds to import `file` in a fresh `node`, and the handles the import left active. The process exits as
 * soon as it has measured, so a pending timer does not hold it.
 */
function importOnce(file: string, env: NodeJS.ProcessEnv, also?: string): { ms: number; pending: string[] } {
  const then = also === undefined ? '' : `await import(${JSON.stringify(pathToFileURL(also).href)});`;
  const script = [
    `const before=new Set(process.getActiveResourcesInfo());`,
    `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});${then}const ms=performance.now()-t;`,
    `await new Promise((r)=>setImmediate(r));`,
    `const pending=process.getActiveResourcesInfo().filter((r)=>!before.has(r));`,
    `process.stdout.write(JSON.stringify({ms,pending}));process.exit(0);`,
  ].join('');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmpdir(),
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out) as { ms: number; pending: string[] };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length / 2)] ?? Number.NaN) * 10) / 10;
}

/**
 * Bundles every handler as infra does and measures each against its floor. `env` is the handlers' environment
 * (they read it at load).
 */
export async function measureHandlers(env: Record<string, string>, region: string): Promise<HandlersReport> {
  const dir = mkdtempSync(join(tmpdir(), 'ami-builder-bench-'));
  const runEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...env,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  // As in Lambda: Powertools traces there (outside a function's invocation it finds no segment, and says so).
  const tracedEnv: NodeJS.ProcessEnv = { ...runEnv, AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
  try {
    const bundles = bundleTasks(ROOT, join(dir, 'tasks'));
    const handlers: HandlerMeasure[] = [];
    const outputs = bundles.metafile.outputs;
    for (const [path, output] of Object.entries(outputs)) {
      if (!path.endsWith(`/${BUNDLE_FILE}`)) continue;
      const task = path.split('/').at(-2) as TaskId;
      const clients = [
        ...new Set(
          Object.keys(output.inputs)
            .map((input) => CLIENT_PACKAGE.exec(input)?.[1])
            .filter((p): p is string => p !== undefined),
        ),
      ].sort();
      const code = join(ROOT, path);
      const floorDir = join(dir, 'floor', task);
      mkdirSync(floorDir, { recursive: true });
      writeFileSync(join(floorDir, 'entry.mjs'), await floorSource(clients));
      // The floor is the clients as the SDK publishes them, default credential chain included (an EC2Client
      // and one command: about 870 KB): the handlers' lighter credential provider is one of their levers, not
      // the floor's.
      const { alias: _handlersOnly, ...floorOptions } = BUNDLE_OPTIONS;
      buildSync({
        ...floorOptions,
        absWorkingDir: ROOT,
        entryPoints: [join(floorDir, 'entry.mjs')],
        nodePaths: [join(ROOT, 'node_modules')],
        outfile: join(floorDir, BUNDLE_FILE),
      });
      const floorCode = join(floorDir, BUNDLE_FILE);
      const handlerRuns: number[] = [];
      const tracedRuns: number[] = [];
      const floorRuns: number[] = [];
      const tracing = join(ROOT, path.replace(new RegExp(`${BUNDLE_FILE}$`), TRACING_FILE));
      const handlerPending = new Set<string>();
      const floorPending = new Set<string>();
      for (let i = 0; i < INIT_RUNS; i += 1) {
        const h = importOnce(code, runEnv);
        handlerRuns.push(h.ms);
        for (const r of h.pending) handlerPending.add(r);
        const f = importOnce(floorCode, runEnv);
        floorRuns.push(f.ms);
        for (const r of f.pending) floorPending.add(r);
        tracedRuns.push(importOnce(code, tracedEnv, tracing).ms);
      }
      const codeBytes = readFileSync(code);
      const floorBytes = readFileSync(floorCode);
      handlers.push({
        task,
        clients,
        bundleBytes: codeBytes.byteLength,
        bundleGzipBytes: gzipSync(codeBytes).byteLength,
        mapBytes: readFileSync(`${code}.map`).byteLength,
        floorBytes: floorBytes.byteLength,
        floorGzipBytes: gzipSync(floorBytes).byteLength,
        initMs: median(handlerRuns),
        floorInitMs: median(floorRuns),
        tracingBytes: readFileSync(tracing).byteLength,
        tracedInitMs: median(tracedRuns),
        pendingAtLoad: [...handlerPending].filter((r) => !floorPending.has(r)),
      });
    }
    return { bundleMs: Math.round(bundles.buildMs), handlers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const ms = (value: number) => `${Math.round(value)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** The table rows of the handlers against their floors. */
export function handlerRows(report: HandlersReport): string[][] {
  const mark = (ok: boolean | undefined) => (ok === undefined ? '-' : ok ? 'ok' : 'MISS');
  return [
    [
      'task',
      'clients',
      'code (gz)',
      'floor (gz)',
      'size',
      'init',
      'floor init',
      'init',
      '≤150ms',
      'load',
      '| tracer file',
      'code+tracer',
      'init+tracer',
    ],
    ...report.handlers.map((h) => {
      const v = verdicts(h);
      const floored = h.clients.length > 0;
      return [
        h.task,
        h.clients.map((c) => c.replace(/^client-/, '')).join('+'),
        `${kib(h.bundleBytes)} (${kib(h.bundleGzipBytes)})`,
        `${kib(h.floorBytes)} (${kib(h.floorGzipBytes)})`,
        v.size === undefined ? '-' : `${ratio(h.bundleBytes, h.floorBytes)} ${mark(v.size)}`,
        ms(h.initMs),
        ms(h.floorInitMs),
        v.init === undefined ? '-' : `${ratio(h.initMs, h.floorInitMs)} ${mark(v.init)}`,
        mark(v.noEc2),
        v.load ? 'ok' : `MISS ${h.pendingAtLoad.join(',')}`,
        `| ${kib(h.tracingBytes)}`,
        floored ? ratio(h.bundleBytes + h.tracingBytes, h.floorBytes) : '-',
        `${ms(h.tracedInitMs)}${floored ? ` ${ratio(h.tracedInitMs, h.floorInitMs)}` : ''}`,
      ];
    }),
  ];
}

/** Every target a handler misses, one line each (empty when all are met). */
export function handlerMisses(report: HandlersReport): string[] {
  return report.handlers.flatMap((h) => {
    const v = verdicts(h);
    const misses: string[] = [];
    if (v.size === false) {
      misses.push(
        `${h.task}: code file ${ratio(h.bundleBytes, h.floorBytes)} the floor's (≤ ${HANDLER_TARGETS.sizeRatio}×)`,
      );
    }
    if (v.init === false) {
      misses.push(
        `${h.task}: cold init ${ratio(h.initMs, h.floorInitMs)} the floor's (≤ ${HANDLER_TARGETS.initRatio}×)`,
      );
    }
    if (v.noEc2 === false) {
      misses.push(
        `${h.task}: cold init ${ms(h.initMs)} without an EC2 client (≤ ${HANDLER_TARGETS.noEc2InitMs} ms)`,
      );
    }
    if (!v.load) misses.push(`${h.task}: pending after load: ${h.pendingAtLoad.join(', ')}`);
    return misses;
  });
}

/** The note under the table: what the columns right of `|` are. */
export const HANDLER_TABLE_NOTE =
  'right of |: what tracing adds in Lambda, not judged (plain node loads no tracer): the tracer file (Powertools ' +
  "Tracer + X-Ray SDK, loaded at the first invocation where AWS_EXECUTION_ENV is set), code+tracer against the floor's " +
  'size, and the import of both in that environment against the floor init';

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { table } = await import('./table.js');
  const { synthesizeForLocalRun } = await import('../cli/local/synthesized.js');
  const stack = synthesizeForLocalRun({ region: 'us-east-1', account: '123456789012' });
  const report = await measureHandlers(stack.environment, stack.region);
  process.stdout.write(`one esbuild pass over every handler: ${ms(report.bundleMs)}\n`);
  process.stdout.write(`${table(handlerRows(report))}\n${HANDLER_TABLE_NOTE}\n`);
  const misses = handlerMisses(report);
  if (misses.length > 0) {
    process.stdout.write(
      `MISSED ${misses.length} handler target(s):\n${misses.map((m) => `  MISS ${m}`).join('\n')}\n`,
    );
    process.exitCode = 1;
  } else {
    process.stdout.write('every handler meets its targets\n');
  }
}
