import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/notify/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeExecution } from '../fixtures.js';

const eventsMock = mockClient(EventBridgeClient);

afterEach(() => {
  eventsMock.reset();
});

describe('notify handler', () => {
  it('puts the event for the payload the state machine sends', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const payload = {
      summary: { builds: [], warnings: [], skipped: [], failed: 0 },
      execution: makeExecution(),
      templateName: 'web',
    };

    // Act
    const result = await handler(payload);

    // Assess
    expect(result).toEqual({ detailType: 'AMI Build Succeeded', eventId: 'e-1' });
  });

  it('fails with TaskInputError when the payload lacks the execution', async () => {
    // Act
    const act = handler({ summary: { builds: [], failed: 0 } });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(eventsMock.calls()).toHaveLength(0);
  });
});
