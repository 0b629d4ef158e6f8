import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface TaskScheduleProps {
  /** The task to run (Sweep Orphans, Apply Retention). */
  readonly handler: IFunction;
  /**
   * `rate(…)` or `cron(…)`, as EventBridge writes them (the stack's `sweepSchedule` or `retentionSchedule`, never
   * `off` here).
   */
  readonly expression: string;
  /** The rule's description. */
  readonly description: string;
}

/**
 * Runs a stack-wide task (Sweep Orphans on `sweepSchedule`, Apply Retention over every image family on
 * `retentionSchedule`; daily by default) with the event `{ "dryRun": false }`. Delivery is retried twice within
 * an hour: the next run catches up anyway.
 */
export class TaskSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: TaskScheduleProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: props.description,
      schedule: Schedule.expression(props.expression),
    });
    this.rule.addTarget(
      new LambdaFunction(props.handler, {
        event: RuleTargetInput.fromObject({ dryRun: false }),
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
      }),
    );
  }
}
