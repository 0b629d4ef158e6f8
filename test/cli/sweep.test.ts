import { describe, expect, it } from 'vitest';
import { runSweep, type SweepCommandDeps } from '../../cli/sweep.js';
import { emptyCleanupReport } from '../../lambdas/shared/cleanup-report.js';
import type { SweepReport } from '../../lambdas/sweep-orphans/sweep-orphans.js';
import { captureIo } from './execution-fakes.js';

const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilder-builds:killed';

function report(dryRun: boolean, reason = 'its execution ended ABORTED'): SweepReport {
  return {
    dryRun,
    regions: ['us-east-1'],
    resources: [
      {
        type: 'instance',
        id: 'i-0123',
        region: 'us-east-1',
        execution: EXECUTION,
        action: dryRun ? 'would remove' : 'removed',
        reason,
      },
    ],
    cleanup: emptyCleanupReport(),
    skippedExecutions: [],
  };
}

function fakes(result: SweepReport, calls: unknown[] = []): SweepCommandDeps {
  return {
    functionName: async (_region, stack) => `${stack}-SweepOrphans`,
    invoke: async (region, name, request) => {
      calls.push({ region, name, request });
      return result;
    },
  };
}

describe('ami-builder sweep', () => {
  it('invokes the stack’s sweep function and prints what it removed', async () => {
    // Prepare
    const io = captureIo('/tmp');
    const calls: unknown[] = [];

    // Act
    const code = await runSweep(
      ['--stack', 'Images', '--region', 'eu-west-1'],
      io,
      fakes(report(false), calls),
    );

    // Assess
    expect(code).toBe(0);
    expect(calls).toEqual([{ region: 'eu-west-1', name: 'Images-SweepOrphans', request: { dryRun: false } }]);
    expect(io.text()).toContain(`removed: instance i-0123 (us-east-1), execution ${EXECUTION}`);
  });

  it('asks for a dry run with --dry-run', async () => {
    // Prepare
    const io = captureIo('/tmp');
    const calls: { request: unknown }[] = [];

    // Act
    const code = await runSweep(['--dry-run'], io, fakes(report(true), calls as unknown[]));

    // Assess
    expect(code).toBe(0);
    expect(calls[0]?.request).toEqual({ dryRun: true });
    expect(io.text()).toContain('(dry run)');
    expect(io.text()).toContain('would remove: instance i-0123');
  });

  it('fails when a resource it meant to remove could not be removed', async () => {
    // Prepare
    const io = captureIo('/tmp');
    const result = report(false);
    result.resources[0] = {
      ...result.resources[0]!,
      action: 'kept',
      reason: 'could not be removed (UnauthorizedOperation)',
    };

    // Act
    const code = await runSweep([], io, fakes(result));

    // Assess
    expect(code).toBe(1);
  });

  it('fails with the usage when given an argument', async () => {
    const io = captureIo('/tmp');
    expect(await runSweep(['extra'], io, fakes(report(false)))).toBe(1);
    expect(io.stderr.join('\n')).toContain('Usage: ami-builder sweep');
  });
});
