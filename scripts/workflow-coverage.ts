/**
 * Prints the workflow coverage of the last test run: the states, Catch handlers and retriers of the synthesized
 * definition that the workflow tier's executions entered, took and fired (read from the records the workflow
 * harness leaves under `.tmp/workflow-coverage/<run>/`; the newest run, or `--run=<folder>`). `--check` exits 1
 * when a state or a Catch handler was never exercised.
 *
 *   npx vitest run test/workflow && npm run coverage:workflow
 */
import {
  COVERAGE_EXCLUSIONS,
  COVERAGE_ROOT,
  combineRecords,
  coverageReport,
  formatCoverage,
  latestRun,
  readRecords,
  unexercised,
} from '../test/workflow/coverage.js';

// The newest run that recorded executions, or `--run=<folder>`.
const runDir = process.argv.find((a) => a.startsWith('--run='))?.slice('--run='.length) ?? latestRun();
const records = runDir === undefined ? [] : readRecords(runDir);
if (records.length === 0) {
  console.error(
    `No workflow coverage recorded under ${COVERAGE_ROOT}: run the workflow tests first (npx vitest run test/workflow).`,
  );
  process.exit(1);
}
const { inventory, counts } = combineRecords(records);
const report = coverageReport(inventory, counts);
const executions = records.reduce((n, r) => n + r.executions, 0);
console.log(`Workflow coverage: ${executions} executions in ${records.length} test files (${runDir})`);
console.log(formatCoverage(report));
const excluded = Object.entries(COVERAGE_EXCLUSIONS);
if (excluded.length > 0) {
  console.log('Excluded (unreachable offline):');
  for (const [key, why] of excluded) console.log(`  ${key}: ${why}`);
}
if (process.argv.includes('--check')) {
  const gaps = unexercised(report, COVERAGE_EXCLUSIONS);
  if (gaps.length > 0) process.exit(1);
}
