import { describe, expect, it } from 'vitest';
import type { BuildOutput } from '../../../lambdas/shared/state.js';
import {
  BUILDS_FAILED,
  MAX_EXECUTION_CAUSE_CHARS,
  parseSummarizePayload,
  type SummarizePayload,
  summarizeBuilds,
} from '../../../lambdas/summarize-builds/summarize-builds.js';
import { makeExecution } from '../fixtures.js';

const timings = {
  started: '2024-01-02T00:00:00.000Z',
  finished: '2024-01-02T00:14:02.000Z',
  total: '14 minutes 2 seconds',
};

function succeeded(name: string, artifacts: Record<string, string>, artifactId: string): BuildOutput {
  return {
    name,
    status: 'succeeded',
    artifacts,
    artifactId,
    warnings: [],
    timings,
    cleanup: {
      terminatedInstances: ['i-0ok'],
      deletedSecurityGroups: [],
      deletedStagedObjects: 2,
      deregisteredImages: [],
      kept: [],
    },
  };
}

function failed(
  name: string,
  error: string,
  message: string,
  kept: BuildOutput['cleanup'] = undefined,
): BuildOutput {
  return {
    name,
    status: 'failed',
    artifacts: {},
    artifactId: '',
    warnings: [],
    timings,
    error: { Error: error, Cause: message },
    cleanup: kept ?? {
      terminatedInstances: [`i-${name}`],
      deletedSecurityGroups: [`sg-${name}`],
      deletedStagedObjects: 3,
      deregisteredImages: [],
      kept: [],
    },
  };
}

function payload(results: BuildOutput[]): SummarizePayload {
  return { results, warnings: ['template warning'], skipped: [], execution: makeExecution() };
}

describe('summarizeBuilds', () => {
  it('reports success with no error or cause when every build succeeded', () => {
    // Prepare
    const builds = [succeeded('a', { 'us-east-1': 'ami-1' }, 'us-east-1:ami-1')];

    // Act
    const summary = summarizeBuilds(payload(builds));

    // Assess
    expect(summary).toEqual({ builds, warnings: ['template warning'], skipped: [], failed: 0, leaked: 0 });
  });

  it('names the failed build’s error and explains it when exactly one build failed', () => {
    // Prepare
    const builds = [
      failed('amazon-instance', 'ProvisionerFailedError', "Provisioner 'shell' exited with status 2"),
      succeeded('other', { 'us-west-2': 'ami-2', 'us-east-1': 'ami-1' }, 'us-east-1:ami-1,us-west-2:ami-2'),
    ];

    // Act
    const summary = summarizeBuilds(payload(builds));

    // Assess
    expect(summary.failed).toBe(1);
    expect(summary.error).toBe('ProvisionerFailedError');
    expect(summary.cause).toBe(
      [
        "Build 'amazon-instance' errored after 14 minutes 2 seconds: Provisioner 'shell' exited with status 2",
        '  error: ProvisionerFailedError',
        '  cleanup: terminated instance i-amazon-instance; deleted security group sg-amazon-instance; deleted 3 staged objects',
        '',
        '==> Builds finished. The artifacts of successful builds are:',
        '--> other: AMIs were created:',
        'us-east-1: ami-1',
        'us-west-2: ami-2',
      ].join('\n'),
    );
  });

  it('fails with BuildsFailed and lists every failed build when two builds failed', () => {
    // Prepare
    const builds = [
      failed('a', 'AgentNotOnlineError', 'agent offline'),
      failed('b', 'VolumeBundleError', 'no tools'),
    ];

    // Act
    const summary = summarizeBuilds(payload(builds));

    // Assess
    expect(summary.failed).toBe(2);
    expect(summary.error).toBe(BUILDS_FAILED);
    expect(summary.cause).toContain(
      "Build 'a' errored after 14 minutes 2 seconds: agent offline\n  error: AgentNotOnlineError",
    );
    expect(summary.cause).toContain(
      "Build 'b' errored after 14 minutes 2 seconds: no tools\n  error: VolumeBundleError",
    );
    expect(summary.cause).not.toContain('artifacts of successful builds');
  });

  it('says what was kept and how to remove it', () => {
    // Prepare
    const kept = {
      terminatedInstances: [],
      deletedSecurityGroups: [],
      deletedStagedObjects: 1,
      deregisteredImages: [],
      kept: [
        {
          resource: 'instance i-1 (us-east-1)',
          reason: 'on_error is abort: kept for debugging; terminate it',
        },
      ],
    };
    const builds = [failed('a', 'CommandTimeoutError', 'timed out', kept)];

    // Act
    const summary = summarizeBuilds(payload(builds));

    // Assess
    expect(summary.cause).toContain('  cleanup: deleted 1 staged object; kept 1 resource');
    expect(summary.cause).toContain(
      '  kept instance i-1 (us-east-1): on_error is abort: kept for debugging; terminate it',
    );
  });

  it('counts what every build left behind, and lists a failed build’s leaks in the cause with the commands', () => {
    // Prepare
    const leak = {
      type: 'security group' as const,
      id: 'sg-1',
      region: 'us-east-1',
      reason: 'not deleted: still in use after every retry (DependencyViolation: in use)',
      hint: 'once no instance uses it: aws ec2 delete-security-group --region us-east-1 --group-id sg-1',
    };
    const ok = succeeded('ok', { 'us-east-1': 'ami-1' }, 'us-east-1:ami-1');
    ok.cleanup = { ...ok.cleanup!, leaked: [{ ...leak, id: 'sg-2' }] };
    const bad = failed('a', 'CommandTimeoutError', 'timed out');
    bad.cleanup = { ...bad.cleanup!, deletedSecurityGroups: [], leaked: [leak] };
    const lines: string[] = [];

    // Act
    const summary = summarizeBuilds(payload([ok, bad]), (line) => lines.push(line));

    // Assess
    expect(summary.leaked).toBe(2);
    expect(summary.cause).toContain(
      '  left behind security group sg-1 (us-east-1): not deleted: still in use after every retry ' +
        '(DependencyViolation: in use); remove it with: once no instance uses it: ' +
        'aws ec2 delete-security-group --region us-east-1 --group-id sg-1',
    );
    expect(lines).toContain(
      'ok: left behind security group sg-2 (us-east-1): not deleted: still in use after every retry (DependencyViolation: in use)',
    );
  });

  it('keeps the cause within the Fail state’s limit', () => {
    // Prepare
    const builds = Array.from({ length: 20 }, (_, i) =>
      failed(`b${i}`, 'ProvisionerFailedError', 'y'.repeat(4000)),
    );

    // Act
    const summary = summarizeBuilds(payload(builds));

    // Assess
    expect(summary.cause?.length).toBeLessThanOrEqual(MAX_EXECUTION_CAUSE_CHARS);
    expect(summary.cause?.endsWith('the output of each build holds the rest)')).toBe(true);
  });
});

describe('parseSummarizePayload', () => {
  it('defaults missing warnings and skipped to empty lists', () => {
    // Act
    const parsed = parseSummarizePayload({ results: [] });

    // Assess
    expect(parsed).toEqual({ results: [], warnings: [], skipped: [] });
  });

  it('fails when results are missing', () => {
    expect(() => parseSummarizePayload({ build: {}, args: {} })).toThrow(
      expect.objectContaining({ name: 'TaskInputError' }),
    );
  });
});
