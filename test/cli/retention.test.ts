import { describe, expect, it } from 'vitest';
import { type RetentionCommandDeps, runRetention } from '../../cli/retention.js';
import type { RetentionReport } from '../../lambdas/apply-retention/apply-retention.js';
import { captureIo } from './execution-fakes.js';

function report(dryRun: boolean, failed = false): RetentionReport {
  return {
    dryRun,
    regions: ['us-east-1'],
    families: [
      {
        family: 'web',
        policy: { keepLatest: 2, deleteBundles: true, source: 'tag' },
        summary: 'keep the 2 newest build(s); deregister at once; delete the bundles',
        dryRun,
        regions: ['us-east-1'],
        builds: 3,
        actions: [
          {
            imageId: 'ami-0123',
            region: 'us-east-1',
            name: 'web 1',
            action: failed ? 'failed' : dryRun ? 'would deregister' : 'deregistered',
            reason: failed ? 'could not deregister (UnauthorizedOperation)' : 'beyond the policy',
            bundle: 's3://bundles/web-1.manifest.xml (3 object(s))',
          },
        ],
      },
    ],
    skippedFamilies: ['db'],
  };
}

function fakes(result: RetentionReport, calls: unknown[] = []): RetentionCommandDeps {
  return {
    functionName: async (_region, stack) => `${stack}-ApplyRetention`,
    invoke: async (region, name, request) => {
      calls.push({ region, name, request });
      return result;
    },
  };
}

describe('ami-builder retention', () => {
  it('invokes the stack’s retention function and prints what it retired', async () => {
    // Prepare
    const io = captureIo('/tmp');
    const calls: unknown[] = [];

    // Act
    const code = await runRetention(
      ['--stack', 'Images', '--region', 'eu-west-1'],
      io,
      fakes(report(false), calls),
    );

    // Assess
    expect(code).toBe(0);
    expect(calls).toEqual([
      { region: 'eu-west-1', name: 'Images-ApplyRetention', request: { dryRun: false } },
    ]);
    expect(io.text()).toContain('Family web (keep the 2 newest build(s)');
    expect(io.text()).toContain(
      'deregistered: ami-0123 (us-east-1, web 1): beyond the policy; bundle s3://bundles/',
    );
    expect(io.text()).toContain('Families without a policy (left alone): db');
  });

  it('asks for a dry run with --dry-run', async () => {
    // Prepare
    const io = captureIo('/tmp');
    const calls: { request: unknown }[] = [];

    // Act
    const code = await runRetention(['--dry-run'], io, fakes(report(true), calls as unknown[]));

    // Assess
    expect(code).toBe(0);
    expect(calls[0]?.request).toEqual({ dryRun: true });
    expect(io.text()).toContain('(dry run: nothing was changed)');
    expect(io.text()).toContain('would deregister: ami-0123');
  });

  it('fails when an image it meant to retire could not be', async () => {
    const io = captureIo('/tmp');
    expect(await runRetention([], io, fakes(report(false, true)))).toBe(1);
  });

  it('refuses arguments', async () => {
    const io = captureIo('/tmp');
    expect(await runRetention(['now'], io, fakes(report(false)))).toBe(1);
    expect(io.text()).toContain('retention takes no arguments');
  });
});
