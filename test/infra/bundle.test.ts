import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, bundleTasks, type TaskBundles, TRACING_FILE } from '../../infra/bundle.js';
import { repoRoot } from '../../infra/config.js';
import { type TaskId, Tasks } from '../../infra/tasks.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';

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

  it('bundles no task with zod’s classic API, only zod/mini', () => {
    const inputs = Object.values(bundles.metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    expect(inputs.some((i) => i.includes('zod/v4/mini/'))).toBe(true);
    expect(inputs.filter((i) => i.includes('zod/v4/classic/'))).toEqual([]);
  });
});
