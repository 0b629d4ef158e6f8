import { describe, expect, it } from 'vitest';
import {
  awsErrorCode,
  describeCleanup,
  emptyCleanupReport,
  keptInstance,
  mergeCleanupReports,
} from '../../../lambdas/shared/cleanup-report.js';
import { awsError } from '../fixtures.js';

describe('mergeCleanupReports', () => {
  it('unites id lists, adds staged counts and unites kept entries', () => {
    // Prepare
    const a = {
      ...emptyCleanupReport(),
      terminatedInstances: ['i-1'],
      deletedStagedObjects: 2,
      kept: [keptInstance('r', 'i-9')],
    };
    const b = {
      ...emptyCleanupReport(),
      terminatedInstances: ['i-1', 'i-2'],
      deletedSecurityGroups: ['sg-1'],
      deletedStagedObjects: 3,
      kept: [keptInstance('r', 'i-9')],
    };

    // Act
    const merged = mergeCleanupReports(a, undefined, b);

    // Assess
    expect(merged).toEqual({
      terminatedInstances: ['i-1', 'i-2'],
      deletedSecurityGroups: ['sg-1'],
      deletedStagedObjects: 5,
      deregisteredImages: [],
      kept: [keptInstance('r', 'i-9')],
    });
  });
});

describe('describeCleanup', () => {
  it('says what was done in one line', () => {
    // Prepare
    const report = {
      terminatedInstances: ['i-1', 'i-2'],
      deletedSecurityGroups: ['sg-1'],
      deletedStagedObjects: 1,
      deregisteredImages: ['ami-1'],
      kept: [keptInstance('r', 'i-3'), keptInstance('r', 'i-4')],
    };

    // Act
    const line = describeCleanup(report);

    // Assess
    expect(line).toBe(
      'terminated instances i-1, i-2; deleted security group sg-1; deleted 1 staged object; deregistered AMI ami-1; kept 2 resources',
    );
  });

  it('says when there was nothing to clean up', () => {
    expect(describeCleanup(emptyCleanupReport())).toBe('nothing to clean up');
  });
});

describe('awsErrorCode', () => {
  it('reads the code of an SDK error', () => {
    expect(awsErrorCode(awsError('DependencyViolation'))).toBe('DependencyViolation');
    expect(awsErrorCode('text')).toBeUndefined();
  });
});
