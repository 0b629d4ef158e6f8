/**
 * The deployed code runs offline: the app is synthesized with bundling, as `cdk synth` does, and every task of a
 * whole build runs from the bundle its function's asset points to, in a child Node process loaded as Lambda loads
 * it, signed as the task's own role.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledRuntime, locateBundles, type TaskBundle } from '../../cli/local/bundled.js';
import { type SynthesizedStack, synthesizeForLocalRun } from '../../cli/local/synthesized.js';
import type { TaskId } from '../../infra/tasks.js';
import {
  ACCOUNT,
  ALLOWED_BUCKET_PATTERNS,
  BUILD_REGION,
  basicExample,
  useWorkflowHarness,
} from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

/** Bundling every task with esbuild takes minutes on a busy machine. */
const BUNDLE_TIMEOUT_MS = 600_000;

let assemblyDir: string;
let bundledStack: SynthesizedStack;
let bundles: Map<TaskId, TaskBundle>;

beforeAll(() => {
  assemblyDir = mkdtempSync(join(tmpdir(), 'ami-builder-wf-assembly-'));
  bundledStack = synthesizeForLocalRun({
    region: BUILD_REGION,
    account: ACCOUNT,
    context: { allowedBucketPatterns: ALLOWED_BUCKET_PATTERNS },
    bundleInto: assemblyDir,
  });
  bundles = locateBundles(bundledStack);
}, BUNDLE_TIMEOUT_MS);

afterAll(() => {
  rmSync(assemblyDir, { recursive: true, force: true });
});

describe('the deployed bundles, offline', () => {
  it('builds the Basic Example with every task loaded from its bundle in the cloud assembly', async () => {
    // Prepare
    const h = harness();
    const lines: string[] = [];
    const runtime = new BundledRuntime({
      stack: bundledStack,
      bundles,
      endpoint: h.emulator.endpoint,
      ...(h.taskCredentials === undefined ? {} : { credentials: h.taskCredentials }),
      log: (line) => lines.push(line),
    });
    const ran = new Set<TaskId>();

    // Act
    let result: Awaited<ReturnType<typeof h.run>>;
    try {
      result = await h.run(basicExample(h.x509), {
        label: 'bundled',
        handlers: (task) => {
          ran.add(task);
          return runtime.handler(task);
        },
      });
    } finally {
      runtime.stop();
    }

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(result.output?.builds?.[0]?.status).toBe('succeeded');
    // Every task function of the stack has a bundle in the assembly, and each task of the run came from one.
    expect([...bundles.keys()].sort()).toEqual([...bundledStack.taskCode.keys()].sort());
    for (const task of ran) {
      const bundle = bundles.get(task);
      expect(bundle?.directory.startsWith(assemblyDir)).toBe(true);
      expect(readdirSync(bundle?.directory ?? '')).toContain('index.mjs');
    }
    expect(ran.has('LaunchInstance')).toBe(true);
    expect(ran.has('AbortCleanup')).toBe(true);
    // The handlers' log lines (their CloudWatch Logs on AWS) came from the child processes.
    expect(lines.length).toBeGreaterThan(0);
    expect(await h.leftovers()).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
  });
});
