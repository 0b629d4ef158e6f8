import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface RetentionScheduleProps {
  /** The Apply Retention task. */
  readonly handler: IFunction;
  /** `rate(…)` or `cron(…)`, as EventBridge writes them (the stack's `retentionSchedule`, never `off` here). */
  readonly expression: string;
}

/**
 * Runs Apply Retention over every image family of the stack on its `retentionSchedule` (daily by default) with
 * the event `{ "dryRun": false }`. Delivery is retried twice within an hour: the next run catches up anyway.
 */
export class RetentionSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: RetentionScheduleProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description:
        'ami-builder: retire the images of every family beyond its retention policy (Apply Retention)',
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
