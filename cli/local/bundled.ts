/**
 * The deployed code, run offline (`ami-builder local --bundled`): each task runs from the bundle that `cdk synth`
 * put in the cloud assembly for its function, in a child Node process that loads the handler as Lambda's Node.js
 * runtime loads it, so a bundling mistake (a missing module, a wrong export, CommonJS in an ESM file) fails here.
 *
 * - The bundle is found through the assembly's asset manifests: the function's `Code.S3Key` is the object key of
 *   one file asset, whose source path is the bundle's directory. Nothing assumes how the bundle was built.
 * - `Handler` (`<module>.<export>`) is resolved in the bundle's directory as the runtime resolves it: `<module>.js`,
 *   `.mjs`, then `.cjs`; a `.js` file is ESM when the nearest package.json says `"type": "module"`. A module that
 *   cannot be found or loaded fails with `Runtime.ImportModuleError`, a missing export with
 *   `Runtime.HandlerNotFound`, as on AWS.
 * - Each task has one process, kept warm between invocations like a Lambda execution environment, with the
 *   function's environment, the Lambda variables (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`, `LAMBDA_TASK_ROOT`,
 *   `_HANDLER`, …) and the task role's credentials, plus `AWS_ENDPOINT_URL` pointing at the emulator.
 * - A handler's error reaches the state machine by its `errorType` (the error's `name`), as Lambda reports it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskId } from '../../infra/tasks.js';
import type { SynthesizedStack } from './synthesized.js';
import { credentialVariables, type TaskCredentials } from './task-roles.js';

/** Where a task's deployed code is: the bundle's directory and the function's `Handler`. */
export interface TaskBundle {
  directory: string;
  handler: string;
}

export class BundleNotFoundError extends Error {
  override readonly name = 'BundleNotFoundError';
}

interface AssetManifest {
  files?: Record<
    string,
    { source?: { path?: string; packaging?: string }; destinations?: Record<string, { objectKey?: string }> }
  >;
}

/** Each task's bundle, located through the cloud assembly's asset manifests. */
export function locateBundles(stack: SynthesizedStack): Map<TaskId, TaskBundle> {
  const byKey = new Map<string, string>();
  for (const file of stack.assembly.assetManifests) {
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as AssetManifest;
    for (const asset of Object.values(manifest.files ?? {})) {
      const path = asset.source?.path;
      if (path === undefined) continue;
      for (const destination of Object.values(asset.destinations ?? {})) {
        if (destination.objectKey !== undefined)
          byKey.set(destination.objectKey, join(stack.assembly.directory, path));
      }
    }
  }
  const bundles = new Map<TaskId, TaskBundle>();
  for (const [task, code] of stack.taskCode) {
    const directory = byKey.get(code.assetKey);
    if (directory === undefined) {
      throw new BundleNotFoundError(
        `${task}: no asset of the cloud assembly (${stack.assembly.directory}) has the object key ${code.assetKey}`,
      );
    }
    if (!existsSync(directory) || !statSync(directory).isDirectory()) {
      throw new BundleNotFoundError(
        `${task}: its bundle ${directory} is not a directory of the cloud assembly`,
      );
    }
    bundles.set(task, { directory, handler: code.handler });
  }
  return bundles;
}

/**
 * The child's program: Lambda's handler resolution, then one invocation per IPC message. Plain JavaScript run
 * with `node --input-type=module -e`, so that nothing of this project is loaded next to the bundle.
 */
const RUNTIME = `
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.LAMBDA_TASK_ROOT;
const spec = process.env._HANDLER;
const fail = (errorType, error) => ({
  errorType,
  errorMessage: error instanceof Error ? error.message : String(error),
  stack: error instanceof Error ? String(error.stack ?? '') : '',
});
function isModule(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return JSON.parse(readFileSync(pkg, 'utf8')).type === 'module';
    if (dir === root || dirname(dir) === dir) return false;
  }
}
async function load() {
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) throw { lambda: fail('Runtime.MalformedHandlerName', 'Bad handler ' + spec) };
  const base = join(root, spec.slice(0, dot));
  const name = spec.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (file === undefined) {
    throw { lambda: fail('Runtime.ImportModuleError', "Error: Cannot find module '" + spec.slice(0, dot) + "'") };
  }
  let mod;
  try {
    mod = isModule(file) ? await import(pathToFileURL(file).href) : createRequire(file)(file);
  } catch (error) {
    throw { lambda: fail('Runtime.ImportModuleError', error) };
  }
  const fn = mod?.[name];
  if (typeof fn !== 'function') {
    throw { lambda: fail('Runtime.HandlerNotFound', spec + ' is undefined or not exported') };
  }
  return fn;
}
const loading = load();
loading.catch(() => undefined);
process.on('message', async ({ id, event }) => {
  let reply;
  try {
    const handler = await loading;
    const context = {
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      awsRequestId: id,
      getRemainingTimeInMillis: () => 900000,
    };
    reply = { id, ok: true, result: (await handler(event, context)) ?? null };
  } catch (error) {
    reply = { id, ok: false, error: error?.lambda ?? fail(error?.name ?? 'Error', error) };
  }
  process.send(reply);
});
`;

interface Reply {
  id: string;
  ok: boolean;
  result?: unknown;
  error?: { errorType: string; errorMessage: string; stack: string };
}

/** A handler's error as Lambda reports it to Step Functions: its `errorType` becomes the error's name. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, message: string) {
    super(message);
    this.name = errorType;
  }
}

export interface BundledRuntimeOptions {
  stack: SynthesizedStack;
  bundles: ReadonlyMap<TaskId, TaskBundle>;
  endpoint: string;
  credentials?: ReadonlyMap<TaskId, TaskCredentials>;
  /** Receives each line the handlers print (their CloudWatch Logs). @default console.log */
  log?: (line: string) => void;
}

/** One warm child process per task, started on the task's first invocation. */
export class BundledRuntime {
  private readonly processes = new Map<TaskId, ChildProcess>();
  private readonly pending = new Map<string, { resolve: (r: Reply) => void }>();
  private sequence = 0;

  constructor(private readonly options: BundledRuntimeOptions) {}

  /** The task's handler, for the runner: each call is one invocation of the deployed function. */
  handler(task: TaskId): (event: unknown) => Promise<unknown> {
    return (event) => this.invoke(task, event);
  }

  async invoke(task: TaskId, event: unknown): Promise<unknown> {
    const child = this.process(task);
    this.sequence += 1;
    const id = `${task}-${this.sequence}`;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve });
      child.send({ id, event }, (error) => {
        if (error) {
          this.pending.delete(id);
          reject(error);
        }
      });
    });
    if (reply.ok) return reply.result;
    const e = reply.error ?? { errorType: 'Error', errorMessage: 'no error', stack: '' };
    throw new LambdaFunctionError(e.errorType, e.errorMessage);
  }

  /** Stops every child process. */
  stop(): void {
    for (const child of this.processes.values()) child.kill();
    this.processes.clear();
  }

  private process(task: TaskId): ChildProcess {
    const running = this.processes.get(task);
    if (running !== undefined && running.exitCode === null) return running;
    const bundle = this.options.bundles.get(task);
    if (bundle === undefined) throw new BundleNotFoundError(`no bundle for the task ${task}`);
    const { stack } = this.options;
    const credentials = this.options.credentials?.get(task);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...stack.environment,
      AWS_REGION: stack.region,
      AWS_DEFAULT_REGION: stack.region,
      AWS_LAMBDA_FUNCTION_NAME: task,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: bundle.directory,
      _HANDLER: bundle.handler,
      TZ: ':UTC',
      // Local only: the SDK's calls go to the emulator, and no instance metadata is asked for credentials.
      AWS_ENDPOINT_URL: this.options.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...(credentials === undefined
        ? { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }
        : credentialVariables(credentials)),
    };
    const child = spawn(process.execPath, ['--input-type=module', '-e', RUNTIME], {
      cwd: bundle.directory,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const log = this.options.log ?? ((line: string) => console.log(line));
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) log(line);
      });
    }
    child.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiting?.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      // Every invocation still waiting fails as Lambda reports a crashed runtime.
      for (const [id, waiting] of this.pending) {
        if (!id.startsWith(`${task}-`)) continue;
        this.pending.delete(id);
        waiting.resolve({
          id,
          ok: false,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${id} Error: Runtime exited ${signal === null ? `with error: exit status ${code}` : `with signal ${signal}`}`,
            stack: '',
          },
        });
      }
    });
    this.processes.set(task, child);
    return child;
  }
}
