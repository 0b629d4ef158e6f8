import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  type Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  type IChainable,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface BuildStateMachineProps {
  /** The workflow (`infra/workflow.ts`). */
  readonly definition: IChainable;
  /** Names the state machine `<stackName>-builds` and its log group `/aws/vendedlogs/states/<stackName>-builds`. */
  readonly stackName: string;
  /** Overall execution timeout. */
  readonly timeout: Duration;
  /** Retention of the execution log group. */
  readonly logRetention: RetentionDays;
  /**
   * Where the alarms notify.
   * @default - no alarm action
   */
  readonly alarmAction?: IAlarmAction;
}

/**
 * The build state machine with its defaults in one place:
 * - Standard workflow (builds run for up to hours; Express stops after 5 minutes), JSONPath (the CDK default: the
 *   local runner cannot execute JSONata);
 * - X-Ray tracing;
 * - logging at level ALL with execution data to `/aws/vendedlogs/states/<stackName>-builds` (the prefix keeps
 *   the CloudWatch Logs resource policy small), with the configured retention, removed with the stack;
 * - the execution timeout from the configuration (24 h by default);
 * - alarms when an execution fails, times out or is aborted (any in 5 minutes), missing data not breaching.
 */
export class BuildStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  readonly alarms: { failed: Alarm; timedOut: Alarm; aborted: Alarm };

  constructor(scope: Construct, id: string, props: BuildStateMachineProps) {
    super(scope, id);
    const name = `${props.stackName}-builds`;
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${name}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'Resource', {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(props.definition),
      timeout: props.timeout,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      comment:
        'ami-builder: builds instance-store AMIs from Packer amazon-instance templates (docs/ARCHITECTURE.md)',
    });

    const alarm = (alarmId: string, metric: Metric, what: string): Alarm => {
      const a = new Alarm(this, alarmId, {
        // Named, so that the dashboard refers to the alarm by its ARN without an attribute of the resource.
        alarmName: `${props.stackName}-builds-${alarmId}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `An AMI build execution of ${props.stackName} ${what}. Open the execution in the Step Functions console: the failed state names the error.`,
      });
      if (props.alarmAction !== undefined) a.addAlarmAction(props.alarmAction);
      return a;
    };
    const period = Duration.minutes(5);
    this.alarms = {
      failed: alarm(
        'ExecutionsFailed',
        this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
        'failed',
      ),
      timedOut: alarm(
        'ExecutionsTimedOut',
        this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        'timed out',
      ),
      aborted: alarm(
        'ExecutionsAborted',
        this.stateMachine.metricAborted({ period, statistic: 'Sum' }),
        'was aborted (stopped)',
      ),
    };
  }
}
