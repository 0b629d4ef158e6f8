import { Duration, TimeZone, Validations } from 'aws-cdk-lib';
import { Schedule, ScheduleExpression, ScheduleTargetInput, TimeWindow } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type ScheduleConfig, scheduleInput } from '../config.js';

export interface BuildSchedulesProps {
  readonly stateMachine: IStateMachine;
  /** The configured schedules; nothing is created when empty. */
  readonly schedules: ScheduleConfig[];
  /**
   * Reads a schedule's template file (relative to the repository root).
   * @default - reads the file from the repository
   */
  readonly readTemplate?: (relativePath: string) => string;
}

/** Schedule target retry policy: attempts and the oldest an event may be before it goes to the dead-letter queue. */
export const SCHEDULE_RETRY_ATTEMPTS = 3;
export const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

/**
 * One EventBridge Scheduler schedule per configured schedule, each starting a build execution with its template
 * (read at synth) as the input. Defaults, all here:
 * - the expression is evaluated in the schedule's time zone; flexible time window off (builds start on time);
 * - target retry policy: 3 attempts within 1 hour, then the event goes to a dead-letter queue shared by all
 *   schedules (encrypted, TLS only, kept 14 days);
 * - the scheduler's role may only start executions of this state machine and send to that queue.
 */
export class BuildSchedules extends Construct {
  readonly schedules: Schedule[] = [];
  readonly deadLetterQueue?: Queue;

  constructor(scope: Construct, id: string, props: BuildSchedulesProps) {
    super(scope, id);
    if (props.schedules.length === 0) return;
    const deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the schedules’ targets; cdk-nag recognises only SQS redrive policies as dead-letter use.',
    });
    this.deadLetterQueue = deadLetterQueue;
    for (const schedule of props.schedules) {
      const input = scheduleInput(schedule, props.readTemplate);
      const target = new StepFunctionsStartExecution(props.stateMachine, {
        input: ScheduleTargetInput.fromObject(input),
        deadLetterQueue,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
      });
      this.schedules.push(
        new Schedule(this, schedule.name, {
          schedule: ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timezone)),
          target,
          enabled: schedule.enabled,
          timeWindow: TimeWindow.off(),
          description: `ami-builder schedule "${schedule.name}": builds ${schedule.templateFile}`,
        }),
      );
    }
  }
}
