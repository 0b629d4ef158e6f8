import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../infra/app.js';
import { ConfigError } from '../../infra/config.js';
import { TASK_ID_METADATA_KEY } from '../../infra/constructs/task-function.js';
import { Tasks } from '../../infra/tasks.js';
import { commandDocumentContent } from '../../lambdas/shared/command-document.js';
import { FULL_CONTEXT, type Synthesized, synth } from './synth.js';

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

let plain: Synthesized;
let full: Synthesized;

beforeAll(() => {
  plain = synth({ 'aws:cdk:enable-path-metadata': true });
  full = synth(FULL_CONTEXT);
});

const resourcesOf = (s: Synthesized) => s.template.toJSON().Resources as Resources;
const ofType = (s: Synthesized, type: string) =>
  Object.entries(resourcesOf(s)).filter(([, r]) => r.Type === type);

describe('the stack', () => {
  it('is named by the stackName context, AmiBuilder by default', () => {
    expect(plain.stack.stackName).toBe('AmiBuilder');
    expect(full.stack.stackName).toBe('ImageFactory');
  });

  it('fails the synth with every configuration problem listed', () => {
    // Prepare
    const app = new App({ context: { logRetentionDays: 2, allowedBucketPatterns: ['*'] } });

    // Act
    const act = () => createApp(app);

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(
      /2 problem\(s\):\n {2}\* allowedBucketPatterns\.0 = "\*".*\n {2}\* logRetentionDays = 2/,
    );
  });

  it('has a Standard state machine with X-Ray, logs at level ALL under /aws/vendedlogs/states and a timeout', () => {
    plain.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'AmiBuilder-builds',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    plain.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/AmiBuilder-builds',
      RetentionInDays: 30,
    });
    expect(full.definition.TimeoutSeconds).toBe(12 * 3600);
    full.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/ImageFactory-builds',
      RetentionInDays: 90,
    });
  });

  it('alarms on failed, timed-out and aborted executions', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      plain.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'AWS/States',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    // With notification emails, every alarm notifies the topic.
    const alarms = ofType(full, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(4);
    for (const [, alarm] of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
  });

  it('has one Node 22 ARM64 function per task, traced, bundled with source maps, with its own log group', () => {
    // Prepare
    const functions = ofType(plain, 'AWS::Lambda::Function');
    const logGroups = new Set(
      ofType(plain, 'AWS::Logs::LogGroup')
        .filter(([, r]) => r.Properties.RetentionInDays === 30)
        .map(([id]) => id),
    );

    // Assess
    expect(functions.map(([, f]) => f.Metadata?.[TASK_ID_METADATA_KEY]).sort()).toEqual(
      Object.keys(Tasks).sort(),
    );
    for (const [id, fn] of functions) {
      const taskId = fn.Metadata?.[TASK_ID_METADATA_KEY] as string;
      expect(fn.Metadata?.['aws:cdk:path'], id).toBe(`AmiBuilder/Tasks/${taskId}/Resource`);
      expect(fn.Properties, id).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
      });
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups.has(logGroup), `${id} logs to ${logGroup}`).toBe(true);
    }
  });

  it('gives the tasks the common environment and the timeouts of their work', () => {
    // Prepare
    const byTask = Object.fromEntries(
      ofType(full, 'AWS::Lambda::Function').map(([, f]) => [
        f.Metadata?.[TASK_ID_METADATA_KEY] as string,
        f.Properties,
      ]),
    );

    // Assess
    for (const [task, properties] of Object.entries(byTask)) {
      const own =
        task === 'SweepOrphans'
          ? {
              ABORT_CLEANUP_FUNCTION: { Ref: expect.stringMatching(/^TasksAbortCleanup/) },
              STATE_MACHINE_NAME: 'ImageFactory-builds',
              SWEEP_GRACE_MINUTES: '60',
            }
          : {};
      expect(properties.Environment, task).toEqual({
        Variables: {
          ...own,
          STACK_NAME: 'ImageFactory',
          STAGING_BUCKET: { Ref: expect.stringMatching(/^StagingBucket/) },
          COMMAND_DOCUMENT: { Ref: expect.stringMatching(/^Commands/) },
          COMMAND_LOG_GROUP: { Ref: expect.stringMatching(/^CommandsOutput/) },
          INSTANCE_ROLE_BOUNDARY: { Ref: expect.stringMatching(/^BuildInstanceBoundary/) },
          ALLOWED_INSTANCE_PROFILES: 'legacy-builder',
          ALLOWED_BUCKET_PATTERNS: 'ami-builder-*,team-amis',
          EVENT_BUS_NAME: 'default',
          AMI_PARAMETER_PREFIX: '/images/',
          X509_PARAMETER_PREFIX: '/images/x509/',
          ADOPT_FOREIGN_IMAGES: 'true',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
          NOTIFICATION_TOPIC_ARN: { Ref: expect.stringMatching(/^Notifications/) },
          NODE_OPTIONS: '--enable-source-maps',
        },
      });
    }
    expect(byTask.LaunchInstance?.Timeout).toBe(60);
    expect(byTask.SendCommand?.Timeout).toBe(120);
    for (const task of ['TerminateInstance', 'DeleteTemporaryResources', 'AbortCleanup', 'ForceDeregister']) {
      expect(byTask[task]?.Timeout, task).toBe(300);
    }
    expect(byTask.SweepOrphans?.Timeout).toBe(900);
  });

  it('runs Sweep Orphans daily, and lets it invoke Abort Cleanup only', () => {
    // Assess
    full.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ dryRun: false }) })],
    });
    const sweeperPolicies = ofType(full, 'AWS::IAM::Policy').filter(([id]) =>
      id.startsWith('TasksSweepOrphans'),
    );
    const invokes = sweeperPolicies.flatMap(([, p]) =>
      (
        p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }
      ).Statement.filter((st) => [st.Action].flat().includes('lambda:InvokeFunction')),
    );
    expect(JSON.stringify(invokes)).toMatch(/TasksAbortCleanup/);
    expect(JSON.stringify(invokes)).not.toMatch(/TasksLaunchInstance|TasksNotify/);
    const outputs = full.template.findOutputs('SweepFunctionName');
    expect(Object.keys(outputs)).toEqual(['SweepFunctionName']);
  });

  it('runs Apply Retention daily, and gives the stack’s retention default to it and to Validate Template', () => {
    const retained = synth({ ...FULL_CONTEXT, retention: { keepLatest: 3, deprecateFirstDays: 7 } });
    const rules = ofType(retained, 'AWS::Events::Rule').filter(([id]) => id.startsWith('RetentionRule'));
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(1 day)']);
    const environments = ofType(retained, 'AWS::Lambda::Function')
      .filter(([, f]) => JSON.stringify(f.Properties.Environment ?? {}).includes('RETENTION_DEFAULT'))
      .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''));
    expect(environments.sort()).toEqual(['TasksApplyRetention', 'TasksValidateTemplate']);
    expect(Object.keys(retained.template.findOutputs('RetentionFunctionName'))).toEqual([
      'RetentionFunctionName',
    ]);
    const off = synth({ ...FULL_CONTEXT, retentionSchedule: 'off', sweepSchedule: 'off' });
    expect(ofType(off, 'AWS::Events::Rule').filter(([id]) => id.startsWith('RetentionRule'))).toEqual([]);
  });

  it('has no sweep schedule when sweepSchedule is off', () => {
    const off = synth({ ...FULL_CONTEXT, sweepSchedule: 'off', retentionSchedule: 'off' });
    expect(
      ofType(off, 'AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression !== undefined),
    ).toEqual([]);
  });

  it('has an encrypted, TLS-only, private staging bucket whose staged objects expire', () => {
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'staging/', ExpirationInDays: 3, Status: 'Enabled' }),
        ]),
      },
    });
    expect(JSON.stringify(ofType(full, 'AWS::S3::Bucket'))).not.toMatch(/VersioningConfiguration/);
    full.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('bounds the temporary build-instance roles: SSM agent, staged downloads, bundle uploads, no S3 or SSM read on *', () => {
    plain.template.resourceCountIs('AWS::IAM::InstanceProfile', 0);
    plain.template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    const [, boundary] = ofType(plain, 'AWS::IAM::ManagedPolicy')[0] ?? [];
    expect(boundary?.Properties.Path).toBe('/ami-builder/AmiBuilder/');
    const policy = JSON.stringify(boundary?.Properties.PolicyDocument);
    expect(policy).toContain('/staging/*');
    expect(policy).toContain(':s3:::ami-builder-*/*');
    expect(policy).toContain('ssm:UpdateInstanceInformation');
    expect(policy).toContain('ssmmessages:CreateControlChannel');
    expect(policy).toContain('logs:PutLogEvents');
    expect(policy).not.toMatch(/ssm:GetParameter|AmazonSSMManagedInstanceCore/);
  });

  it('has the SSM command document of lambdas/shared/command-document.ts and a log group for its output', () => {
    plain.template.hasResourceProperties('AWS::SSM::Document', {
      DocumentType: 'Command',
      Content: JSON.parse(JSON.stringify(commandDocumentContent)),
    });
    expect(ofType(plain, 'AWS::Logs::LogGroup').length).toBe(Object.keys(Tasks).length + 2);
  });

  it('invokes Abort Cleanup when one of its executions is aborted, times out, fails or succeeds', () => {
    // Prepare
    const [abortCleanup] =
      ofType(plain, 'AWS::Lambda::Function').find(
        ([, f]) => f.Metadata?.[TASK_ID_METADATA_KEY] === 'AbortCleanup',
      ) ?? [];
    const [machine] = ofType(plain, 'AWS::StepFunctions::StateMachine')[0] ?? [];

    // Assess
    plain.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT', 'FAILED', 'SUCCEEDED'],
          stateMachineArn: [{ Ref: machine }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [abortCleanup, 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AbortCleanupDeadLetterQueue'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
    plain.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: abortCleanup },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    plain.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('turns each configured schedule into a schedule with the template as input, a retry policy and a DLQ', () => {
    // Prepare
    const schedules = ofType(full, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    const [machine] = ofType(full, 'AWS::StepFunctions::StateMachine')[0] ?? [];

    // Assess
    expect(ofType(plain, 'AWS::Scheduler::Schedule')).toHaveLength(0);
    expect(schedules).toHaveLength(2);
    const [nightly, weekly] = schedules as Record<string, Record<string, unknown>>[];
    expect(nightly).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
    });
    expect(weekly).toMatchObject({ ScheduleExpression: 'rate(7 days)', ScheduleExpressionTimezone: 'UTC' });
    for (const schedule of [nightly, weekly]) {
      expect(schedule?.Target).toMatchObject({
        Arn: { Ref: machine },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [expect.stringMatching(/^SchedulesDeadLetterQueue/), 'Arn'] },
        },
      });
    }
    const nightlyInput = JSON.parse((nightly?.Target as { Input: string } | undefined)?.Input ?? 'null');
    expect(nightlyInput.template).toMatchObject({
      variables: { release: 'dev' },
      builders: [{ type: 'amazon-instance', ami_name: 'nightly-{{user `release`}}-{{timestamp}}' }],
    });
    expect(nightlyInput.vars).toEqual({ release: 'nightly' });
    const weeklyInput = JSON.parse((weekly?.Target as { Input: string } | undefined)?.Input ?? 'null');
    expect(weeklyInput.builders[0]).toMatchObject({
      type: 'amazon-instance',
      s3_bucket: 'ami-builder-nightly',
    });
    full.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('creates the notification topic only when emails are configured, encrypted and with a subscription', () => {
    expect(ofType(plain, 'AWS::SNS::Topic')).toHaveLength(0);
    full.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'builds@example.com',
    });
    full.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('has the outputs a user needs to start and follow builds', () => {
    for (const output of [
      'StateMachineArn',
      'StagingBucketName',
      'InstanceRoleBoundaryArn',
      'CommandLogGroupName',
      'CommandDocumentName',
    ]) {
      plain.template.hasOutput(output, { Value: Match.anyValue() });
    }
    full.template.hasOutput('NotificationTopicArn', { Value: Match.anyValue() });
  });

  it('has no custom resource: the stack deploys where Lambda-backed helpers cannot run', () => {
    for (const s of [plain, full]) {
      const types = new Set(Object.values(resourcesOf(s)).map((r) => r.Type));
      expect(
        [...types].filter((t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource'),
      ).toEqual([]);
      expect(ofType(s, 'AWS::Lambda::Function')).toHaveLength(Object.keys(Tasks).length);
    }
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error or warning', () => {
    for (const s of [plain, full]) {
      // Act
      const report = new AwsSolutionsChecks().validateScope(s.stack);

      // Assess
      expect(
        report.violations.map(
          (v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        ),
      ).toEqual([]);
      expect(report.success).toBe(true);
    }
  });

  it('synthesizes without CDK warnings or errors', () => {
    for (const s of [plain, full]) {
      Annotations.fromStack(s.stack).hasNoError('*', Match.anyValue());
      Annotations.fromStack(s.stack).hasNoWarning('*', Match.anyValue());
    }
  });
});
