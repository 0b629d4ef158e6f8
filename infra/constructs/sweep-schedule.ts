import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface SweepScheduleProps {
  /** The Sweep Orphans task. */
  readonly handler: IFunction;
  /** `rate(…)` or `cron(…)`, as EventBridge writes them (the stack's `sweepSchedule`, never `off` here). */
  readonly expression: string;
}

/**
 * Runs Sweep Orphans on the stack's `sweepSchedule` (daily by default) with the event `{ "dryRun": false }`.
 * Delivery is retried twice within an hour: a sweep that cannot run is retried the next day anyway.
 */
export class SweepSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: SweepScheduleProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: 'ami-builder: remove what ended builds left behind (Sweep Orphans)',
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
