import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BuildEventDetail,
  DetailTypes,
  EVENT_SOURCE,
  eventDetail,
  MAX_DETAIL_BYTES,
  MAX_SUBJECT_CHARS,
  type NotifyDeps,
  type NotifyPayload,
  notificationMessage,
  notificationSubject,
  notify,
  parseNotifyPayload,
  snsSubject,
  templateNameOf,
} from '../../../lambdas/notify/notify.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { BuildOutput } from '../../../lambdas/shared/state.js';
import { EXECUTION_ID, makeExecution, regionOf } from '../fixtures.js';

const eventsMock = mockClient(EventBridgeClient);
const snsMock = mockClient(SNSClient);
const NOW = new Date('2024-01-02T00:14:02.000Z');
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ami-builder-notifications';

function succeededBuild(overrides: Partial<BuildOutput> = {}): BuildOutput {
  return {
    name: 'amazon-instance',
    status: 'succeeded',
    artifacts: { 'us-east-1': 'ami-0def', 'us-west-2': 'ami-0fed' },
    artifactId: 'us-east-1:ami-0def,us-west-2:ami-0fed',
    warnings: [],
    timings: { total: '14 minutes 2 seconds' },
    ...overrides,
  };
}

function failedBuild(overrides: Partial<BuildOutput> = {}): BuildOutput {
  return {
    name: 'web',
    status: 'failed',
    artifacts: {},
    artifactId: '',
    warnings: [],
    timings: { total: '3 minutes 5 seconds' },
    error: { Error: 'ProvisionerFailedError', Cause: 'provisioner shell exited with 2' },
    cleanup: {
      terminatedInstances: ['i-0123'],
      deletedSecurityGroups: ['sg-0123'],
      deletedStagedObjects: 3,
      deregisteredImages: [],
      kept: [],
    },
    ...overrides,
  };
}

function payload(builds: BuildOutput[], overrides: Partial<NotifyPayload> = {}): NotifyPayload {
  const failed = builds.filter((b) => b.status === 'failed').length;
  return {
    summary: { builds, warnings: [], skipped: [], failed },
    execution: makeExecution({ name: 'web-base-20240102-000000-a1b2' }),
    ...overrides,
  };
}

function makeDeps(topic?: string): NotifyDeps {
  return {
    clients: createClients({ events: EventBridgeClient, sns: SNSClient }),
    env: { eventBusName: 'builds', notificationTopicArn: topic },
    clock: { now: () => NOW },
    region: 'us-east-1',
  };
}

function sentDetail(): BuildEventDetail {
  const entry = eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
  return JSON.parse(entry?.Detail ?? 'null') as BuildEventDetail;
}

describe('notify', () => {
  beforeEach(() => {
    eventsMock.reset();
    snsMock.reset();
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
    snsMock.on(PublishCommand).resolves({ MessageId: 'message-1' });
  });

  afterEach(() => {
    eventsMock.reset();
    snsMock.reset();
  });

  it('puts an "AMI Build Succeeded" event with the artifacts on the configured bus', async () => {
    // Prepare
    const input = payload([succeededBuild()]);

    // Act
    const result = await notify(input, makeDeps());

    // Assess
    expect(result).toEqual({ detailType: DetailTypes.succeeded, eventId: 'event-1' });
    const calls = eventsMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entry = calls[0]!.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      Source: EVENT_SOURCE,
      DetailType: 'AMI Build Succeeded',
      EventBusName: 'builds',
      Resources: [EXECUTION_ID],
      Time: NOW,
    });
    expect(sentDetail()).toEqual({
      executionArn: EXECUTION_ID,
      templateName: 'web-base',
      builds: [
        {
          name: 'amazon-instance',
          status: 'succeeded',
          artifacts: { 'us-east-1': 'ami-0def', 'us-west-2': 'ami-0fed' },
          artifactId: 'us-east-1:ami-0def,us-west-2:ami-0fed',
        },
      ],
      failed: 0,
      leaked: 0,
    });
    expect(await regionOf(calls[0]!)).toBe('us-east-1');
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('lists the resources each build left behind in the event and in the summary, with the commands', async () => {
    // Prepare
    const leak = {
      type: 'instance' as const,
      id: 'i-0123',
      region: 'us-east-1',
      reason: 'not terminated: UnauthorizedOperation: no',
      hint: 'aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123',
    };
    const build = failedBuild();
    build.cleanup = { ...build.cleanup!, terminatedInstances: [], leaked: [leak] };
    const input = payload([build]);
    input.summary.leaked = 1;

    // Act
    await notify(input, makeDeps(TOPIC_ARN));

    // Assess
    expect(sentDetail()).toMatchObject({ failed: 1, leaked: 1, builds: [{ name: 'web', leaked: [leak] }] });
    const message = snsMock.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '';
    expect(message).toContain(
      '==> Resources left behind: cleanup could not remove them; remove them by hand:',
    );
    expect(message).toContain(
      '--> web: instance i-0123 (us-east-1): not terminated: UnauthorizedOperation: no',
    );
    expect(message).toContain('    aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123');
  });

  it('puts an "AMI Build Failed" event with each error when a build failed', async () => {
    // Prepare
    const input = payload([succeededBuild(), failedBuild()]);

    // Act
    const result = await notify(input, makeDeps());

    // Assess
    expect(result.detailType).toBe('AMI Build Failed');
    const detail = sentDetail();
    expect(detail.failed).toBe(1);
    expect(detail.builds[1]).toEqual({
      name: 'web',
      status: 'failed',
      artifacts: {},
      artifactId: '',
      error: { Error: 'ProvisionerFailedError', Cause: 'provisioner shell exited with 2' },
    });
    expect(detail.builds[0]).not.toHaveProperty('error');
  });

  it('publishes a readable summary to the topic, in the topic’s region, when one is configured', async () => {
    // Prepare
    const input = payload([succeededBuild()]);

    // Act
    const result = await notify(input, makeDeps(TOPIC_ARN));

    // Assess
    expect(result.messageId).toBe('message-1');
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]!.args[0].input;
    expect(sent.TopicArn).toBe(TOPIC_ARN);
    expect(sent.Subject).toBe('AMI build succeeded: web-base');
    expect(sent.Message).toContain(
      '==> Builds finished. The artifacts of successful builds are:\n--> amazon-instance: AMIs were created:\nus-east-1: ami-0def\nus-west-2: ami-0fed\n',
    );
    expect(await regionOf(calls[0]!)).toBe('eu-west-1');
  });

  it('accepts the payload the state machine sends and rejects a malformed one', () => {
    // Prepare
    const raw = JSON.parse(JSON.stringify(payload([succeededBuild()]))) as unknown;

    // Act
    const parsed = parseNotifyPayload(raw);

    // Assess
    expect(parsed.summary.builds[0]?.artifactId).toBe('us-east-1:ami-0def,us-west-2:ami-0fed');
    expect(() => parseNotifyPayload({ summary: { builds: [] } })).toThrow(/Notify input is malformed/);
  });

  it('fails with AwsTransientError when EventBridge throttles the entry', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }],
    });

    // Act
    const error = await notify(payload([succeededBuild()]), makeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'AwsTransientError' });
    expect((error as Error).message).toContain('ThrottlingException: Rate exceeded');
  });

  it('fails with NotificationError when EventBridge refuses the entry', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'not authorized' }],
    });

    // Act
    const error = await notify(payload([succeededBuild()]), makeDeps(TOPIC_ARN)).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'NotificationError' });
    expect((error as Error).message).toContain('bus "builds"');
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });
});

describe('templateNameOf', () => {
  it('prefers the given template name', () => {
    expect(templateNameOf(payload([succeededBuild()], { templateName: 'golden' }))).toBe('golden');
  });

  it('reads the name back from an execution the CLI named', () => {
    expect(templateNameOf(payload([succeededBuild()]))).toBe('web-base');
  });

  it('falls back to the first build’s name for other execution names', () => {
    // Prepare
    const input = payload([succeededBuild({ name: 'nightly' })], {
      execution: makeExecution({ name: 'd3c1e7f2-schedule' }),
    });

    // Act / Assess
    expect(templateNameOf(input)).toBe('nightly');
  });
});

describe('notification texts', () => {
  it('lists each failed build’s error and cleanup, then the artifacts of the others', () => {
    // Prepare
    const input = payload([succeededBuild(), failedBuild()]);

    // Act
    const message = notificationMessage(input, 'us-east-1');
    const subject = notificationSubject(input);

    // Assess
    expect(subject).toBe('AMI build failed (1 of 2 builds): web-base');
    expect(message).toContain(
      "==> Some builds didn't complete successfully and had errors:\n--> web: ProvisionerFailedError: provisioner shell exited with 2\n    cleanup: terminated instance i-0123; deleted security group sg-0123; deleted 3 staged objects",
    );
    expect(message).toContain('--> amazon-instance: AMIs were created:');
    expect(message).toContain(
      `Console:   https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${EXECUTION_ID}`,
    );
  });

  it('counts an unchanged build (skip_if_unchanged) as succeeded, says so and lists its AMIs', async () => {
    // Prepare
    const input = payload([succeededBuild({ status: 'unchanged' })]);
    eventsMock.reset();
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });

    // Act
    const message = notificationMessage(input, 'us-east-1');
    await notify(input, makeDeps());

    // Assess
    expect(notificationSubject(input)).toBe('AMI build succeeded: web-base');
    expect(message).toContain(
      '--> amazon-instance: unchanged, nothing was built; it reports the AMIs of an earlier build.\n--> amazon-instance: AMIs were created:',
    );
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.DetailType).toBe(
      DetailTypes.succeeded,
    );
    expect(sentDetail().builds[0]).toMatchObject({
      status: 'unchanged',
      artifactId: 'us-east-1:ami-0def,us-west-2:ami-0fed',
    });
    expect(parseNotifyPayload(JSON.parse(JSON.stringify(input))).summary.builds[0]?.status).toBe('unchanged');
  });

  it('says no artifacts were created when every build failed', () => {
    expect(notificationMessage(payload([failedBuild()]), 'us-east-1')).toContain(
      '==> Builds finished but no artifacts were created.',
    );
  });

  it('keeps the subject on one line of printable ASCII within SNS’s 100 characters', () => {
    // Prepare
    const name = `${'x'.repeat(120)}\nnext line — é`;

    // Act
    const subject = snsSubject(`AMI build succeeded: ${name}`);

    // Assess
    expect(subject.length).toBeLessThanOrEqual(MAX_SUBJECT_CHARS);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('shortens error causes when the event detail would not fit in an event', () => {
    // Prepare
    const builds = Array.from({ length: 60 }, (_, i) =>
      failedBuild({ name: `b${i}`, error: { Error: 'X', Cause: 'c'.repeat(4000) } }),
    );

    // Act
    const detail = eventDetail(payload(builds));

    // Assess
    expect(Buffer.byteLength(JSON.stringify(detail))).toBeLessThanOrEqual(MAX_DETAIL_BYTES);
    expect(detail.builds[0]?.error?.Cause).toMatch(/^c{500}… \(cut/);
  });
});
