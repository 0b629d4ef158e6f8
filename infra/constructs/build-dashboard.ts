import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  type CfnAlarm,
  Dashboard,
  GraphWidget,
  type IAlarm,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CommandKind } from '../../lambdas/shared/state.js';
import {
  METRICS_NAMESPACE,
  MetricDimensions,
  MetricNames,
  Phases,
} from '../../lambdas/shared/telemetry-names.js';

export interface BuildDashboardProps {
  /** The stack's name: the metrics' `service` dimension, and the dashboard's name `<stackName>-builds`. */
  readonly stackName: string;
  /** The build state machine: its execution metrics give the running executions. */
  readonly stateMachine: StateMachine;
  /** The stack's alarms, shown with their state. */
  readonly alarms: IAlarm[];
}

const DAY = Duration.days(1);

/** Every command kind, as `CommandDuration`'s `CommandKind` dimension. */
export const COMMAND_KINDS = [
  'provision',
  'x509',
  'bundle',
  'upload',
  'error-cleanup',
] as const satisfies readonly CommandKind[];

/** Every `$.poll` key, as `PollChecks`' `Wait` dimension (test/workflow/metrics.test.ts checks them). */
export const WAIT_KEYS = [
  'instanceRunning',
  'agent',
  'command',
  'image',
  'copy',
  'instanceTerminated',
] as const;
const HOUR = Duration.hours(1);

/**
 * The CloudWatch dashboard of the builds, from the metrics the tasks emit (`lambdas/shared/observability.ts`) and
 * the state machine's own:
 * - builds per day (succeeded, failed) and the daily success rate;
 * - p50 and p90 of the build's duration and of each phase's;
 * - failures by error name;
 * - running executions;
 * - resources left behind, by reporter (the build's report, the abort cleanup);
 * - command durations by kind and checks per wait;
 * - the state of the stack's alarms.
 */
export class BuildDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: BuildDashboardProps) {
    super(scope, id);
    this.dashboardName = `${props.stackName}-builds`;
    const metric = (
      metricName: string,
      statistic: string,
      period: Duration,
      dimensions: Record<string, string> = {},
      label?: string,
    ) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.stackName, ...dimensions },
        statistic,
        period,
        label,
      });
    const byPhase = (statistic: 'p50' | 'p90'): IMetric[] =>
      Phases.map((phase) =>
        metric(MetricNames.phaseDuration, statistic, HOUR, { [MetricDimensions.phase]: phase }, phase),
      );

    const succeeded = metric(MetricNames.buildSucceeded, 'Sum', DAY, {}, 'succeeded');
    const failed = metric(MetricNames.buildFailed, 'Sum', DAY, {}, 'failed');
    const successRate = new MathExpression({
      expression: '100 * FILL(succeeded, 0) / (FILL(succeeded, 0) + FILL(failed, 0))',
      usingMetrics: { succeeded, failed },
      period: DAY,
      label: 'success rate (%)',
    });
    const failuresByError = new MathExpression({
      expression:
        `SEARCH('{${METRICS_NAMESPACE},service,${MetricDimensions.errorName}} ` +
        `MetricName="${MetricNames.buildFailed}" service="${props.stackName}"', 'Sum', 86400)`,
      usingMetrics: {},
      period: DAY,
      label: '',
    });
    const sm = props.stateMachine;
    const executions = {
      started: sm.metricStarted({ period: HOUR, statistic: 'Sum' }),
      succeeded: sm.metricSucceeded({ period: HOUR, statistic: 'Sum' }),
      failed: sm.metricFailed({ period: HOUR, statistic: 'Sum' }),
      aborted: sm.metricAborted({ period: HOUR, statistic: 'Sum' }),
      timedOut: sm.metricTimedOut({ period: HOUR, statistic: 'Sum' }),
    };
    // Step Functions publishes no gauge of running executions: started minus ended, summed over the range.
    const running = new MathExpression({
      expression:
        'RUNNING_SUM(FILL(started, 0) - FILL(succeeded, 0) - FILL(failed, 0) - FILL(aborted, 0) - FILL(timedOut, 0))',
      usingMetrics: executions,
      period: HOUR,
      label: 'running executions',
    });

    this.dashboard = new Dashboard(this, 'Resource', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.days(14),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# ${props.stackName}: AMI builds\n` +
          `Metrics in the \`${METRICS_NAMESPACE}\` namespace (dimension \`service\` = \`${props.stackName}\`), ` +
          'emitted by the tasks as embedded metric format log lines. Running executions count those started ' +
          'and not yet ended within the time range shown.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Builds per day',
        left: [succeeded, failed],
        stacked: true,
        width: 8,
      }),
      new GraphWidget({
        title: 'Success rate (%)',
        left: [successRate],
        leftYAxis: { min: 0, max: 100 },
        width: 8,
      }),
      new GraphWidget({
        title: 'Failures by error',
        left: [failuresByError],
        stacked: true,
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Build duration (s), p50 and p90',
        left: [
          metric(MetricNames.buildDuration, 'p50', HOUR, {}, 'p50'),
          metric(MetricNames.buildDuration, 'p90', HOUR, {}, 'p90'),
        ],
        width: 8,
      }),
      new GraphWidget({ title: 'Phase duration (s), p50', left: byPhase('p50'), width: 8 }),
      new GraphWidget({ title: 'Phase duration (s), p90', left: byPhase('p90'), width: 8 }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Running executions',
        metrics: [running],
        width: 4,
      }),
      new GraphWidget({
        title: 'Resources left behind',
        left: [
          metric(
            MetricNames.resourcesLeftBehind,
            'Sum',
            DAY,
            { [MetricDimensions.reporter]: 'build' },
            'by builds',
          ),
          metric(
            MetricNames.resourcesLeftBehind,
            'Sum',
            DAY,
            { [MetricDimensions.reporter]: 'abort-cleanup' },
            'by abort cleanups',
          ),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Command duration (s), p90',
        left: COMMAND_KINDS.map((kind) =>
          metric(MetricNames.commandDuration, 'p90', HOUR, { [MetricDimensions.commandKind]: kind }, kind),
        ),
        width: 6,
      }),
      new GraphWidget({
        title: 'Checks per wait, p90',
        left: WAIT_KEYS.map((wait) =>
          metric(MetricNames.pollChecks, 'p90', HOUR, { [MetricDimensions.wait]: wait }, wait),
        ),
        width: 6,
      }),
    );
    // By name, not by the alarm resource's Arn attribute: the ARN is formatted from the name (the alarms are
    // named), so the dashboard does not depend on an attribute that CloudFormation emulators may not provide.
    const alarms = props.alarms.map((alarm, i) => {
      const name = (alarm.node.defaultChild as CfnAlarm | undefined)?.alarmName;
      return typeof name === 'string' ? Alarm.fromAlarmName(this, `Alarm${i}`, name) : alarm;
    });
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  }
}
