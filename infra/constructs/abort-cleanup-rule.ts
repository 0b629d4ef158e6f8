import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IAlarmAction, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** The execution statuses that skip the workflow's own cleanup (no Catch runs) or may have left resources. */
export const ABORT_CLEANUP_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED', 'SUCCEEDED'] as const;

export interface AbortCleanupRuleProps {
  /** The build state machine whose executions are watched. */
  readonly stateMachine: IStateMachine;
  /** The Abort Cleanup task. */
  readonly handler: IFunction;
  /**
   * Where the alarm on failed cleanups notifies.
   * @default - no alarm action
   */
  readonly alarmAction?: IAlarmAction;
}

/**
 * Cleanup for executions that end without running the workflow's Catch: an EventBridge rule on
 * "Step Functions Execution Status Change" with status ABORTED, TIMED_OUT or FAILED for this state machine
 * invokes Abort Cleanup, which finds the execution's resources by tag. SUCCEEDED invokes it too, to delete the
 * files the CLI staged for the whole execution. Defaults, all here:
 * - delivery retried up to 8 times within 6 hours, then the event goes to an encrypted, TLS-only dead-letter
 *   queue kept 14 days;
 * - the function's own failures (after Lambda's 2 async retries) go to the same queue;
 * - an alarm when the queue holds any message: some execution's resources may still exist.
 */
export class AbortCleanupRule extends Construct {
  readonly rule: Rule;
  readonly deadLetterQueue: Queue;
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: AbortCleanupRuleProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the abort-cleanup rule target and of the Abort Cleanup function; cdk-nag recognises only SQS redrive policies as dead-letter use.',
    });

    this.rule = new Rule(this, 'Rule', {
      description: 'ami-builder: clean up after build executions that were stopped, timed out or failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...ABORT_CLEANUP_STATUSES],
          stateMachineArn: [props.stateMachine.stateMachineArn],
        },
      },
    });
    this.rule.addTarget(
      new LambdaFunction(props.handler, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
      }),
    );
    props.handler.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    this.alarm = new Alarm(this, 'FailedCleanups', {
      // Named, so that the dashboard refers to the alarm by its ARN without an attribute of the resource.
      alarmName: `${Stack.of(this).stackName}-abort-cleanup-FailedCleanups`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'Abort Cleanup could not run for a stopped, timed-out or failed build: instances or security groups tagged ami-builder:execution with that execution may remain. The dead-letter queue holds the event.',
    });
    if (props.alarmAction !== undefined) this.alarm.addAlarmAction(props.alarmAction);
  }
}
