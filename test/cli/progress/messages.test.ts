import { describe, expect, it } from 'vitest';
import { linesForEvent } from '../../../cli/progress/messages.js';
import { StateNames } from '../../../infra/state-names.js';

const FAILED = 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilder-builds:failed';

describe('the lines of a resumed execution', () => {
  it('says which failed execution Prepare Resume checks, for the whole execution (no build)', () => {
    // Act
    const lines = linesForEvent(
      {
        kind: 'state-entered',
        timestamp: 0,
        state: StateNames.PrepareResume,
        stateType: 'Task',
        input: { resume: FAILED, builds: [], warnings: [], skipped: [] },
      },
      'web',
    );

    // Assess
    expect(lines).toEqual([
      { level: 'say', text: `Checking what the failed execution ${FAILED} kept...`, build: undefined },
    ]);
  });
});
