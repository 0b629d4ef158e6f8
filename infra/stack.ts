import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { encodeRetentionPolicy, RETENTION_DEFAULT_ENV } from '../lambdas/shared/retention-policy.js';
import { LOG_LEVEL_ENV } from '../lambdas/shared/telemetry-names.js';
import type { BuilderConfig } from './config.js';
import { AbortCleanupRule } from './constructs/abort-cleanup-rule.js';
import { BuildDashboard } from './constructs/build-dashboard.js';
import { BuildInstanceRole } from './constructs/build-instance-role.js';
import { BuildSchedules } from './constructs/build-schedules.js';
import { BuildStateMachine } from './constructs/build-state-machine.js';
import { CommandDocument } from './constructs/command-document.js';
import { acknowledgeWildcardResources } from './constructs/nag.js';
import { NotificationTopic } from './constructs/notification-topic.js';
import { StagingBucket } from './constructs/staging-bucket.js';
import { TaskFunction } from './constructs/task-function.js';
import { TaskSchedule } from './constructs/task-schedule.js';
import { applyTaskGrants, stackPermissionContext } from './permissions.js';
import { type TaskId, Tasks } from './tasks.js';
import { buildWorkflow } from './workflow.js';

export interface AmiBuilderStackProps extends StackProps {
  /** The validated configuration (`loadConfig`). */
  readonly config: BuilderConfig;
  /**
   * Reads a schedule's template file.
   * @default - reads it from the repository
   */
  readonly readTemplate?: (relativePath: string) => string;
}

/** The build bus: notifications go to the account's default bus. */
export const EVENT_BUS_NAME = 'default';

/**
 * The ami-builder stack: the build state machine and its Lambda tasks, the build instance's permissions boundary, the
 * staging bucket, the SSM command document and its log group, alarms, the abort-cleanup rule, the schedules and
 * the builds' dashboard.
 */
export class AmiBuilderStack extends Stack {
  readonly config: BuilderConfig;
  readonly functions: Record<TaskId, TaskFunction>;
  readonly stagingBucket: StagingBucket;
  readonly commands: CommandDocument;
  readonly buildInstance: BuildInstanceRole;
  readonly builds: BuildStateMachine;
  readonly abortCleanup: AbortCleanupRule;
  readonly schedules: BuildSchedules;
  readonly sweep?: TaskSchedule;
  readonly retention?: TaskSchedule;
  readonly notifications?: NotificationTopic;
  readonly dashboard: BuildDashboard;

  constructor(scope: Construct, id: string, props: AmiBuilderStackProps) {
    super(scope, id, {
      description: 'ami-builder: builds instance-store AMIs from Packer amazon-instance templates',
      ...props,
      stackName: props.config.stackName,
    });
    const { config } = props;
    this.config = config;
    const logRetention = config.logRetentionDays as RetentionDays;

    this.stagingBucket = new StagingBucket(this, 'StagingBucket', {
      expirationDays: config.stagedObjectExpirationDays,
    });
    this.commands = new CommandDocument(this, 'Commands', { logRetention });
    this.buildInstance = new BuildInstanceRole(this, 'BuildInstance', {
      stackName: config.stackName,
      stagingBucket: this.stagingBucket.bucket,
      bundleBucketPatterns: config.allowedBucketPatterns,
      commandLogGroup: this.commands.logGroup,
    });
    if (config.notificationEmails.length > 0) {
      this.notifications = new NotificationTopic(this, 'Notifications', {
        emails: config.notificationEmails,
      });
    }

    const environment: Record<string, string> = {
      STACK_NAME: config.stackName,
      STAGING_BUCKET: this.stagingBucket.bucket.bucketName,
      COMMAND_DOCUMENT: this.commands.documentName,
      COMMAND_LOG_GROUP: this.commands.logGroup.logGroupName,
      INSTANCE_ROLE_BOUNDARY: this.buildInstance.boundaryArn,
      ALLOWED_INSTANCE_PROFILES: config.extraInstanceProfiles.map((p) => p.name).join(','),
      ALLOWED_BUCKET_PATTERNS: config.allowedBucketPatterns.join(','),
      EVENT_BUS_NAME,
      AMI_PARAMETER_PREFIX: config.amiParameterPrefix,
      X509_PARAMETER_PREFIX: config.x509ParameterPrefix,
      ADOPT_FOREIGN_IMAGES: String(config.adoptForeignImages),
      [LOG_LEVEL_ENV]: config.logLevel,
    };
    if (this.notifications !== undefined)
      environment.NOTIFICATION_TOPIC_ARN = this.notifications.topic.topicArn;

    const tasks = new Construct(this, 'Tasks');
    const functions: Partial<Record<TaskId, TaskFunction>> = {};
    for (const taskId of Object.keys(Tasks) as TaskId[]) {
      const fn = new TaskFunction(tasks, taskId, { taskId, environment, logRetention });
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'The tasks pin Node.js 22 on purpose: the bundles target node22 and the offline test tiers run the same code on Node 20/22; moving to a newer runtime is a deliberate upgrade, not a drift.',
      });
      functions[taskId] = fn;
    }
    this.functions = functions as Record<TaskId, TaskFunction>;

    this.builds = new BuildStateMachine(this, 'Builds', {
      definition: buildWorkflow(this, this.functions),
      stackName: config.stackName,
      timeout: Duration.hours(config.executionTimeoutHours),
      logRetention,
      alarmAction: this.notifications?.alarmAction,
    });
    acknowledgeWildcardResources(this.builds.stateMachine.role, [
      {
        resources: ['*'],
        reason:
          'Step Functions X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and log delivery (logs:CreateLogDelivery and related) support no resource-level permissions.',
      },
      {
        resources: Object.values(this.functions).map((fn) => `${fn.functionArn}:*`),
        reason:
          'CDK grants lambda:InvokeFunction on each task function and its versions/aliases (<arn>:*); only the stack’s own task functions are named.',
      },
    ]);

    applyTaskGrants(
      this.functions,
      stackPermissionContext({
        stackName: config.stackName,
        stagingBucketArn: this.stagingBucket.bucket.bucketArn,
        commandDocumentName: this.commands.documentName,
        instanceRolePath: this.buildInstance.rolePath,
        instanceRoleBoundaryArn: this.buildInstance.boundaryArn,
        extraInstanceProfiles: config.extraInstanceProfiles,
        bundleBucketPatterns: config.allowedBucketPatterns,
        x509ParameterPrefix: config.x509ParameterPrefix,
        amiParameterPrefix: config.amiParameterPrefix,
        adoptForeignImages: config.adoptForeignImages,
        stateMachineName: `${config.stackName}-builds`,
        abortCleanupFunctionArn: this.functions.AbortCleanup.functionArn,
        eventBusName: EVENT_BUS_NAME,
        notificationTopic:
          this.notifications === undefined
            ? undefined
            : { topicArn: this.notifications.topic.topicArn, keyArn: this.notifications.key.keyArn },
      }),
    );

    this.abortCleanup = new AbortCleanupRule(this, 'AbortCleanup', {
      stateMachine: this.builds.stateMachine,
      handler: this.functions.AbortCleanup,
      alarmAction: this.notifications?.alarmAction,
    });
    // Sweep Orphans cleans up after ended executions through Abort Cleanup, and names the executions of staged
    // folders from the state machine's name.
    const sweeper = this.functions.SweepOrphans;
    sweeper.addEnvironment('ABORT_CLEANUP_FUNCTION', this.functions.AbortCleanup.functionName);
    sweeper.addEnvironment('STATE_MACHINE_NAME', `${config.stackName}-builds`);
    sweeper.addEnvironment('SWEEP_GRACE_MINUTES', String(config.sweepGraceMinutes));
    if (config.sweepSchedule !== 'off') {
      this.sweep = new TaskSchedule(this, 'Sweep', {
        handler: sweeper,
        expression: config.sweepSchedule,
        description: 'ami-builder: remove what ended builds left behind (Sweep Orphans)',
      });
    }
    // Validate Template gives a build without ami_retention the stack's default; Apply Retention's daily run
    // applies it to the families whose newest build carries no policy tag.
    const retainer = this.functions.ApplyRetention;
    if (config.retention !== undefined) {
      const policy = encodeRetentionPolicy(config.retention);
      retainer.addEnvironment(RETENTION_DEFAULT_ENV, policy);
      this.functions.ValidateTemplate.addEnvironment(RETENTION_DEFAULT_ENV, policy);
    }
    if (config.retentionSchedule !== 'off') {
      this.retention = new TaskSchedule(this, 'Retention', {
        handler: retainer,
        expression: config.retentionSchedule,
        description:
          'ami-builder: retire the images of every family beyond its retention policy (Apply Retention)',
      });
    }
    this.schedules = new BuildSchedules(this, 'Schedules', {
      stateMachine: this.builds.stateMachine,
      schedules: config.schedules,
      readTemplate: props.readTemplate,
    });

    this.dashboard = new BuildDashboard(this, 'Dashboard', {
      stackName: config.stackName,
      stateMachine: this.builds.stateMachine,
      alarms: [...Object.values(this.builds.alarms), this.abortCleanup.alarm],
    });

    new CfnOutput(this, 'StateMachineArn', {
      value: this.builds.stateMachine.stateMachineArn,
      description:
        'Start a build: aws stepfunctions start-execution --state-machine-arn <this> --input file://template.json',
    });
    new CfnOutput(this, 'StagingBucketName', {
      value: this.stagingBucket.bucket.bucketName,
      description: 'Where the CLI uploads local template files and builds stage command folders (staging/)',
    });
    new CfnOutput(this, 'InstanceRoleBoundaryArn', {
      value: this.buildInstance.boundaryArn,
      description: `The permissions boundary of every temporary build-instance role (under ${this.buildInstance.rolePath})`,
    });
    new CfnOutput(this, 'CommandLogGroupName', {
      value: this.commands.logGroup.logGroupName,
      description: 'Full output of every SSM command a build runs',
    });
    new CfnOutput(this, 'CommandDocumentName', {
      value: this.commands.documentName,
      description: 'The SSM command document builds run their commands with',
    });
    new CfnOutput(this, 'SweepFunctionName', {
      value: sweeper.functionName,
      description: 'Removes what ended builds left behind: ami-builder sweep [--dry-run] invokes it',
    });
    new CfnOutput(this, 'RetentionFunctionName', {
      value: retainer.functionName,
      description:
        'Retires the images of every family beyond its policy: ami-builder retention [--dry-run] invokes it',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.dashboard.dashboardName,
      description:
        'CloudWatch dashboard of the builds: results, durations by phase, failures, leftovers, alarms',
    });
    if (this.notifications !== undefined) {
      new CfnOutput(this, 'NotificationTopicArn', {
        value: this.notifications.topic.topicArn,
        description: 'Build summaries and alarms',
      });
    }
  }
}
