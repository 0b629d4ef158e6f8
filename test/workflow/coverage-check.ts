/**
 * Vitest global setup: clears the workflow coverage records before the run and, after it, fails the run when a
 * state or a Catch handler of the definition was never exercised by the workflow tier. The check applies only
 * when every workflow test file ran (a targeted run of a few files prints nothing).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  COVERAGE_EXCLUSIONS,
  combineRecords,
  coverageReport,
  formatCoverage,
  readRecords,
  startRun,
  unexercised,
} from './coverage.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder where this test run's workflow executions are recorded. */
    workflowCoverageDir: string;
  }
}

let runDir: string | undefined;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKFLOW_DIR = join(ROOT, 'test', 'workflow');

/** The workflow test files that run executions (those that use the harness). */
function harnessFiles(): string[] {
  return readdirSync(WORKFLOW_DIR)
    .filter((name) => name.endsWith('.test.ts'))
    .filter((name) => readFileSync(join(WORKFLOW_DIR, name), 'utf8').includes('useWorkflowHarness('))
    .map((name) => `test/workflow/${name}`);
}

export function setup(project: TestProject): void {
  runDir = startRun();
  project.provide('workflowCoverageDir', runDir);
}

export function teardown(): void {
  if (runDir === undefined) return;
  const records = readRecords(runDir);
  const ran = new Set(records.map((r) => r.file));
  const missing = harnessFiles().filter((file) => !ran.has(file));
  if (records.length === 0 || missing.length > 0) return;
  const { inventory, counts } = combineRecords(records);
  const report = coverageReport(inventory, counts);
  const gaps = unexercised(report, COVERAGE_EXCLUSIONS);
  console.log(`\nWorkflow coverage (${records.length} test files, ${runDir}):\n${formatCoverage(report)}`);
  if (gaps.length > 0) {
    // An error thrown by a global teardown is printed but leaves the exit status 0: fail the run explicitly.
    console.error(
      `\nThe workflow tier left ${gaps.length} state(s) or Catch handler(s) of the definition unexercised:\n` +
        gaps.map((g) => `  ${g}`).join('\n'),
    );
    process.exitCode = 1;
  }
}
