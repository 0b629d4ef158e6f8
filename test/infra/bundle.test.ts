import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUNDLE_FILE,
  bundleTasks,
  LAMBDA_CREDENTIALS,
  type TaskBundles,
  TRACING_FILE,
} from '../../infra/bundle.js';
import { repoRoot } from '../../infra/config.js';
import { type TaskId, Tasks } from '../../infra/tasks.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';
import { makeBuildState } from '../lambdas/fixtures.js';

describe('the one esbuild pass over every task', () => {
  let outdir: string;
  let bundles: TaskBundles;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'ami-builder-bundle-test-'));
    bundles = bundleTasks(repoRoot, outdir);
  }, 300_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('writes each task its own code file with an external source map', () => {
    for (const task of Object.keys(Tasks) as TaskId[]) {
      const code = readFileSync(join(outdir, task, BUNDLE_FILE), 'utf8');
      expect(code.includes('//# sourceMappingURL=index.mjs.map'), task).toBe(true);
      expect(code, task).not.toContain('sourceMappingURL=data:');
      const map = JSON.parse(readFileSync(join(outdir, task, `${BUNDLE_FILE}.map`), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      expect(map.sourcesContent, task).toBeUndefined();
      expect(
        map.sources.some((source) => source.includes('lambdas/shared/')),
        task,
      ).toBe(true);
    }
  });

  it('keeps the error classes’ names through minification', () => {
    const code = readFileSync(join(outdir, 'CheckCommand', BUNDLE_FILE), 'utf8');
    // keepNames: esbuild names the minified class at definition (`static{__name(this,"TaskInputError")}`).
    expect(code).toMatch(new RegExp(`static\\{\\w+\\(this,"${ErrorNames.TaskInput}"\\)\\}`));
  });

  it('keeps the tracer and the X-Ray SDK out of every code file, in the tracer’s file beside it', () => {
    const tracerInputs = (inputs: string[]) =>
      inputs.filter(
        (i) => i.includes('/aws-xray-sdk-core/') || i.includes('/@aws-lambda-powertools/tracer/'),
      );
    const outputs = Object.entries(bundles.metafile.outputs);
    const tracing = outputs.find(([path]) => path.endsWith(`/${TRACING_FILE}`));
    expect(tracerInputs(Object.keys(tracing?.[1].inputs ?? {})).length).toBeGreaterThan(0);
    const tracingCode = readFileSync(join(outdir, '_tracing', TRACING_FILE));
    for (const task of Object.keys(Tasks) as TaskId[]) {
      const code = outputs.find(([path]) => path.endsWith(`/${task}/${BUNDLE_FILE}`));
      expect(code, task).toBeDefined();
      expect(tracerInputs(Object.keys(code?.[1].inputs ?? {})), task).toEqual([]);
      // The code file names the tracer's file for run time; esbuild did not inline it.
      expect(readFileSync(join(outdir, task, BUNDLE_FILE), 'utf8'), task).toContain(`"./${TRACING_FILE}"`);
      expect(readFileSync(join(outdir, task, TRACING_FILE)).equals(tracingCode), task).toBe(true);
      expect(readFileSync(join(outdir, task, `${TRACING_FILE}.map`), 'utf8'), task).toContain('tracing.mts');
    }
  });

  it('bundles the credentials Lambda gives (environment, container endpoint), not the default chain’s profiles, SSO and STS', () => {
    const chainInputs = (inputs: string[]) =>
      inputs.filter((i) =>
        /@aws-sdk\/(credential-provider-(node|ini|sso|process|web-identity|login)|nested-clients|token-providers)\//.test(
          i,
        ),
      );
    for (const task of Object.keys(Tasks) as TaskId[]) {
      const code = Object.entries(bundles.metafile.outputs).find(([path]) =>
        path.endsWith(`/${task}/${BUNDLE_FILE}`),
      );
      const inputs = Object.keys(code?.[1].inputs ?? {});
      expect(chainInputs(inputs), task).toEqual([]);
      // Every task but Summarize Builds (no AWS call) creates a client, and with it this provider.
      if (task !== 'SummarizeBuilds' && task !== 'ValidateTemplate') {
        expect(inputs, task).toContain(LAMBDA_CREDENTIALS);
      }
    }
  });

  it('signs a bundled task’s requests with the environment’s credentials, as Lambda gives them', async () => {
    // Prepare: a server that records the Authorization header of the one request Check Command sends.
    let authorization: string | undefined;
    const server = createServer((request, response) => {
      authorization = request.headers.authorization;
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ __type: 'InvalidCommandId', message: 'no such command' }));
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', () => listening()));
    const { port } = server.address() as AddressInfo;
    const script = [
      `const { handler } = await import(${JSON.stringify(pathToFileURL(join(outdir, 'CheckCommand', BUNDLE_FILE)).href)});`,
      `await handler({ build: ${JSON.stringify(makeBuildState({ command: { commandId: 'c-1', kind: 'upload', attempt: 1, stagedPrefix: 's/' }, instance: { instanceId: 'i-0123456789abcdef0' } }))}, args: {} }).catch(() => undefined);`,
    ].join('\n');

    // Act
    try {
      await new Promise<void>((done, fail) =>
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          {
            env: {
              PATH: process.env.PATH,
              HOME: outdir,
              AWS_REGION: 'us-east-1',
              AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
              AWS_ACCESS_KEY_ID: 'AKIDFROMTHEENVIRONMENT',
              AWS_SECRET_ACCESS_KEY: 'secret',
              AWS_SESSION_TOKEN: 'token',
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            },
            timeout: 60_000,
          },
          (error) => (error ? fail(error) : done()),
        ),
      );
    } finally {
      server.close();
    }

    // Assess
    expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFROMTHEENVIRONMENT\//);
  }, 90_000);

  it('bundles no task with zod’s classic API, only zod/mini', () => {
    const inputs = Object.values(bundles.metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    expect(inputs.some((i) => i.includes('zod/v4/mini/'))).toBe(true);
    expect(inputs.filter((i) => i.includes('zod/v4/classic/'))).toEqual([]);
  });
});
