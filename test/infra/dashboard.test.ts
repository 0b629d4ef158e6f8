import { beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_KINDS, WAIT_KEYS } from '../../infra/constructs/build-dashboard.js';
import { MetricNames, Phases } from '../../lambdas/shared/observability.js';
import { type Synthesized, synth } from './synth.js';

interface Widget {
  type: string;
  width: number;
  properties: {
    title?: string;
    markdown?: string;
    metrics?: unknown[][];
    stat?: string;
    period?: number;
    alarms?: string[];
    stacked?: boolean;
    view?: string;
  };
}

let synthesized: Synthesized;
let widgets: Widget[];

/** The dashboard body is a Fn::Join of text and tokens: each token becomes `<Ref:id>` / `<GetAtt:id>`. */
function dashboardBody(s: Synthesized): { widgets: Widget[] } {
  const dashboards = Object.values(
    s.template.findResources('AWS::CloudWatch::Dashboard') as Record<
      string,
      { Properties: { DashboardBody: unknown; DashboardName: string } }
    >,
  );
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  if (typeof body === 'string') return JSON.parse(body);
  const text = body['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const p = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
      if (p.Ref !== undefined) return `<Ref:${p.Ref}>`;
      if (p['Fn::GetAtt'] !== undefined) return `<GetAtt:${p['Fn::GetAtt'].join('.')}>`;
      return '<token>';
    })
    .join('');
  return JSON.parse(text);
}

const titled = (title: string): Widget => {
  const widget = widgets.find((w) => w.properties.title === title);
  expect(widget, `a widget titled "${title}"`).toBeDefined();
  return widget as Widget;
};

/** One row of a widget's `metrics`: a metric or a math expression, with its rendering options. */
interface MetricRow {
  namespace?: string;
  name?: string;
  dimensions: Record<string, string>;
  stat?: string;
  period?: number;
  expression?: string;
  label?: string;
}

/** `[namespace, name, dim1, value1, …, { stat, label, … }]` rows of a widget, as objects. */
const metricsOf = (widget: Widget): MetricRow[] =>
  (widget.properties.metrics ?? []).map((row) => {
    const options = (typeof row.at(-1) === 'object' ? row.at(-1) : {}) as Record<string, unknown>;
    const fields = row.filter((x) => typeof x === 'string') as string[];
    const dimensions: Record<string, string> = {};
    for (let i = 2; i + 1 < fields.length; i += 2) dimensions[fields[i] as string] = fields[i + 1] as string;
    return { namespace: fields[0], name: fields[1], dimensions, ...options };
  });

beforeAll(() => {
  synthesized = synth();
  widgets = dashboardBody(synthesized).widgets;
});

describe('the build dashboard', () => {
  it('is named after the stack and given as the stack output DashboardName', () => {
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'AmiBuilder-builds',
    });
    synthesized.template.hasOutput('DashboardName', { Value: 'AmiBuilder-builds' });
  });

  it('shows builds per day, succeeded and failed, from the tasks’ metrics', () => {
    const rows = metricsOf(titled('Builds per day'));
    expect(rows).toEqual([
      expect.objectContaining({
        namespace: 'AmiBuilder',
        name: MetricNames.buildSucceeded,
        dimensions: { service: 'AmiBuilder' },
        stat: 'Sum',
        period: 86400,
      }),
      expect.objectContaining({
        namespace: 'AmiBuilder',
        name: MetricNames.buildFailed,
        dimensions: { service: 'AmiBuilder' },
        stat: 'Sum',
        period: 86400,
      }),
    ]);
  });

  it('shows the daily success rate as succeeded over all builds', () => {
    const rows = metricsOf(titled('Success rate (%)'));
    const expression = rows.find((r) => typeof r.expression === 'string');
    expect(expression?.expression).toMatch(
      /^100 \* FILL\((\w+), 0\) \/ \(FILL\(\1, 0\) \+ FILL\((\w+), 0\)\)$/,
    );
    expect(rows.filter((r) => r.name !== undefined).map((r) => r.name)).toEqual([
      MetricNames.buildSucceeded,
      MetricNames.buildFailed,
    ]);
  });

  it('shows p50 and p90 of each phase’s duration', () => {
    for (const stat of ['p50', 'p90']) {
      const rows = metricsOf(titled(`Phase duration (s), ${stat}`));
      expect(rows.map((r) => r.dimensions.Phase)).toEqual([...Phases]);
      for (const row of rows) {
        expect(row).toMatchObject({ name: MetricNames.phaseDuration, stat, namespace: 'AmiBuilder' });
      }
    }
    const total = metricsOf(titled('Build duration (s), p50 and p90'));
    expect(total.map((r) => [r.name, r.stat])).toEqual([
      [MetricNames.buildDuration, 'p50'],
      [MetricNames.buildDuration, 'p90'],
    ]);
  });

  it('shows failures by error name with a search over the ErrorName dimension', () => {
    const [row] = metricsOf(titled('Failures by error'));
    expect(row?.expression).toBe(
      `SEARCH('{AmiBuilder,service,ErrorName} MetricName="BuildFailed" service="AmiBuilder"', 'Sum', 86400)`,
    );
  });

  it('shows the running executions from the state machine’s started and ended counts', () => {
    const widget = titled('Running executions');
    expect(widget.type).toBe('metric');
    expect(widget.properties.view).toBe('singleValue');
    const rows = metricsOf(widget);
    expect(rows.find((r) => typeof r.expression === 'string')?.expression).toMatch(/^RUNNING_SUM\(/);
    expect(rows.filter((r) => r.namespace === 'AWS/States').map((r) => r.name)).toEqual([
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'ExecutionsFailed',
      'ExecutionsAborted',
      'ExecutionsTimedOut',
    ]);
  });

  it('shows the resources left behind, by builds and by abort cleanups', () => {
    const rows = metricsOf(titled('Resources left behind'));
    expect(rows.map((r) => [r.name, r.dimensions.Report, r.stat])).toEqual([
      [MetricNames.resourcesLeftBehind, 'build', 'Sum'],
      [MetricNames.resourcesLeftBehind, 'abort-cleanup', 'Sum'],
    ]);
  });

  it('shows command durations by kind and checks per wait', () => {
    expect(metricsOf(titled('Command duration (s), p90')).map((r) => r.dimensions.CommandKind)).toEqual([
      ...COMMAND_KINDS,
    ]);
    expect(metricsOf(titled('Checks per wait, p90')).map((r) => r.dimensions.Wait)).toEqual([...WAIT_KEYS]);
  });

  it('shows the state of every alarm of the stack', () => {
    const alarmIds = Object.keys(synthesized.template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarmIds).toHaveLength(4);
    const widget = titled('Alarms');
    expect(widget.type).toBe('alarm');
    // Each alarm by the ARN formatted from its name, without an attribute of the alarm resource.
    const names = Object.values(synthesized.template.findResources('AWS::CloudWatch::Alarm')).map(
      (r) => (r as { Properties: { AlarmName: string } }).Properties.AlarmName,
    );
    expect(widget.properties.alarms?.map((arn) => arn.replace(/^.*:alarm:/, '')).sort()).toEqual(
      names.sort(),
    );
    expect(widget.properties.alarms?.join(' ')).not.toContain('GetAtt');
  });
});
