/**
 * `--bundled`: bundles found through the cloud assembly's asset manifests, and handlers loaded in a child Node
 * process as Lambda's Node.js runtime loads them, so that a bundling mistake fails offline.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BundledRuntime, BundleNotFoundError, locateBundles } from '../../cli/local/bundled.js';
import type { SynthesizedStack } from '../../cli/local/synthesized.js';
import type { TaskId } from '../../infra/tasks.js';

let dir: string;
let runtime: BundledRuntime | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-bundled-'));
});

afterEach(() => {
  runtime?.stop();
  runtime = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A stack with one task whose bundle holds `files`, and the runtime that runs it. */
function bundle(files: Record<string, string>, handler = 'index.handler'): BundledRuntime {
  const directory = join(dir, 'asset.abc');
  mkdirSync(directory, { recursive: true });
  for (const [name, body] of Object.entries(files)) writeFileSync(join(directory, name), body);
  const stack = {
    region: 'eu-west-1',
    environment: { STACK_NAME: 'AmiBuilder', NODE_OPTIONS: '--enable-source-maps' },
  } as unknown as SynthesizedStack;
  runtime = new BundledRuntime({
    stack,
    bundles: new Map([['Prevalidate', { directory, handler }]]),
    endpoint: 'http://127.0.0.1:1',
    credentials: new Map([
      [
        'Prevalidate',
        { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 't', roleArn: 'arn' },
      ],
    ]),
    log: () => undefined,
  });
  return runtime;
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the invocation to fail');
    },
    (error: Error) => ({ name: error.name, message: error.message }),
  );

describe('BundledRuntime', () => {
  it('runs an ESM bundle in its own process with the Lambda environment and the task credentials', async () => {
    // Prepare
    const r = bundle({
      'index.mjs':
        'export const handler = async (event, context) => ({ event, pid: process.pid, fn: context.functionName, ' +
        'env: ["AWS_REGION","AWS_LAMBDA_FUNCTION_NAME","_HANDLER","AWS_ACCESS_KEY_ID","AWS_SESSION_TOKEN","STACK_NAME"]' +
        '.map((k) => process.env[k]) });',
    });

    // Act
    const first = (await r.invoke('Prevalidate', { n: 1 })) as { pid: number; env: string[] };
    const second = (await r.invoke('Prevalidate', { n: 2 })) as { pid: number };

    // Assess
    expect(first).toMatchObject({ event: { n: 1 }, fn: 'Prevalidate' });
    expect(first.env).toEqual([
      'eu-west-1',
      'Prevalidate',
      'index.handler',
      'ASIAEXAMPLE',
      't',
      'AmiBuilder',
    ]);
    expect(first.pid).not.toBe(process.pid);
    // Kept warm, as a Lambda execution environment is.
    expect(second.pid).toBe(first.pid);
  });

  it('loads CommonJS from .cjs, and .js by the nearest package.json type', async () => {
    // Prepare
    const cjs = bundle({ 'main.cjs': 'exports.go = async () => "cjs";' }, 'main.go');
    const cjsResult = await cjs.invoke('Prevalidate', {});
    cjs.stop();
    const esm = bundle(
      { 'index.js': 'export const handler = async () => "esm";', 'package.json': '{"type":"module"}' },
      'index.handler',
    );

    // Act
    const esmResult = await esm.invoke('Prevalidate', {});

    // Assess
    expect(cjsResult).toBe('cjs');
    expect(esmResult).toBe('esm');
  });

  it('fails with the error name Step Functions matches, as Lambda reports it', async () => {
    // Prepare
    const r = bundle({
      'index.mjs':
        'class TemplateValidationError extends Error { name = "TemplateValidationError"; }\n' +
        'export const handler = async () => { throw new TemplateValidationError("s3_bucket is required"); };',
    });

    // Act
    const error = await failure(r.invoke('Prevalidate', {}));

    // Assess
    expect(error).toEqual({ name: 'TemplateValidationError', message: 's3_bucket is required' });
  });

  it('fails with Runtime.HandlerNotFound when the bundle does not export the configured handler', async () => {
    // Prepare
    const r = bundle({ 'index.mjs': 'export const main = async () => 1;' });

    // Act
    const error = await failure(r.invoke('Prevalidate', {}));

    // Assess
    expect(error.name).toBe('Runtime.HandlerNotFound');
    expect(error.message).toContain('index.handler is undefined or not exported');
  });

  it('fails with Runtime.ImportModuleError when the bundle imports a module it does not hold', async () => {
    // Prepare
    const r = bundle({
      'index.mjs': 'import { x } from "not-bundled-package";\nexport const handler = async () => x;',
    });

    // Act
    const error = await failure(r.invoke('Prevalidate', {}));

    // Assess
    expect(error.name).toBe('Runtime.ImportModuleError');
    expect(error.message).toContain('not-bundled-package');
  });

  it('fails with Runtime.ImportModuleError when the handler file is missing', async () => {
    // Prepare
    const r = bundle({ 'other.mjs': 'export const handler = async () => 1;' });

    // Act
    const error = await failure(r.invoke('Prevalidate', {}));

    // Assess
    expect(error).toEqual({
      name: 'Runtime.ImportModuleError',
      message: "Error: Cannot find module 'index'",
    });
  });
});

describe('locateBundles', () => {
  function stackWith(assetKey: string, manifest: unknown): SynthesizedStack {
    const file = join(dir, 'Stack.assets.json');
    writeFileSync(file, JSON.stringify(manifest));
    mkdirSync(join(dir, 'asset.abc'), { recursive: true });
    return {
      assembly: { directory: dir, assetManifests: [file] },
      taskCode: new Map<TaskId, { handler: string; assetKey: string }>([
        ['Prevalidate', { handler: 'index.handler', assetKey }],
      ]),
    } as unknown as SynthesizedStack;
  }

  it("finds each function's bundle by its S3 key in the assembly's asset manifest", () => {
    // Prepare
    const stack = stackWith('abc.zip', {
      files: {
        abc: {
          source: { path: 'asset.abc', packaging: 'zip' },
          destinations: { 'current_account-current_region': { bucketName: 'b', objectKey: 'abc.zip' } },
        },
      },
    });

    // Act
    const bundles = locateBundles(stack);

    // Assess
    expect(bundles.get('Prevalidate')).toEqual({
      directory: join(dir, 'asset.abc'),
      handler: 'index.handler',
    });
  });

  it('fails with BundleNotFoundError when no asset has the function’s key', () => {
    // Prepare
    const stack = stackWith('other.zip', { files: {} });

    // Act
    const act = () => locateBundles(stack);

    // Assess
    expect(act).toThrow(BundleNotFoundError);
    expect(act).toThrow(/no asset of the cloud assembly .* has the object key other\.zip/);
  });
});
