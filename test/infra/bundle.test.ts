import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, bundleTasks, type TaskBundles } from '../../infra/bundle.js';
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

  it('bundles no task with zod’s classic API, only zod/mini', () => {
    const inputs = Object.values(bundles.metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    expect(inputs.some((i) => i.includes('zod/v4/mini/'))).toBe(true);
    expect(inputs.filter((i) => i.includes('zod/v4/classic/'))).toEqual([]);
  });
});
