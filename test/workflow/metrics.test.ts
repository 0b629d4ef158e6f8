/**
 * The metrics of whole builds: the EMF records the handlers write while the synthesized state machine runs
 * offline are read back, and each metric of `lambdas/shared/observability.ts` is checked, as CloudWatch would
 * extract it (namespace, dimension set, unit, value).
 */
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../cli/local/runner.js';
import { WAIT_KEYS } from '../../infra/constructs/build-dashboard.js';
import {
  METRICS_NAMESPACE,
  MetricNames,
  Phases,
  setTelemetrySink,
} from '../../lambdas/shared/observability.js';
import { BUILD_REGION, basicExample, useWorkflowHarness, type X509Pair } from './harness.js';

const harness = useWorkflowHarness();

const COPY_REGION = 'eu-west-1';

/** A metric value as CloudWatch extracts it from one EMF record. */
interface Datum {
  name: string;
  unit: string;
  value: number;
  dimensions: Record<string, string>;
  record: Record<string, unknown>;
}

/** Every metric of every EMF record among the lines, checked against the EMF specification's shape. */
function metricsOf(lines: string[]): Datum[] {
  const data: Datum[] = [];
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, unknown> & {
      _aws?: {
        Timestamp: number;
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string; Unit: string }[];
        }[];
      };
    };
    if (record._aws === undefined) continue;
    expect(typeof record._aws.Timestamp).toBe('number');
    for (const directive of record._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(METRICS_NAMESPACE);
      for (const set of directive.Dimensions) {
        const dimensions = Object.fromEntries(set.map((d) => [d, String(record[d])]));
        for (const metric of directive.Metrics) {
          const value = record[metric.Name];
          expect(typeof value, `${metric.Name} in ${line}`).toBe('number');
          data.push({ name: metric.Name, unit: metric.Unit, value: value as number, dimensions, record });
        }
      }
    }
  }
  return data;
}

/** Runs a build with the handlers' log lines and EMF records captured. */
async function runCaptured(
  input: unknown,
  label: string,
): Promise<{ result: RunResult; lines: string[]; metrics: Datum[] }> {
  const lines: string[] = [];
  const restore = setTelemetrySink((line) => lines.push(line));
  try {
    const result = await harness().run(input, { label });
    return { result, lines, metrics: metricsOf(lines) };
  } finally {
    restore();
  }
}

/** The Basic Example with two provisioners and one copy, so that every phase and command kind runs. */
function everyPhase(x509: X509Pair): Record<string, unknown> {
  return {
    builders: [{ ...basicExample(x509), ami_regions: [COPY_REGION] }],
    provisioners: [
      { type: 'shell', inline: ['echo first'] },
      { type: 'shell', inline: ['echo second'] },
    ],
  };
}

const named = (metrics: Datum[], name: string) => metrics.filter((m) => m.name === name);

describe('the metrics of a build', () => {
  it('give the duration of the build and of each phase, the commands, the checks and the leftovers', async () => {
    // Prepare
    const h = harness();
    const started = Date.now();

    // Act
    const { result, metrics } = await runCaptured(everyPhase(h.x509), 'metrics');

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const wallSeconds = (Date.now() - started) / 1000;
    const service = h.stack.stackName;
    for (const m of metrics) expect(m.dimensions.service).toBe(service);
    // Every record carries the execution it belongs to (a property, not a dimension).
    const executionName = result.executionArn.split(':').pop();
    for (const m of metrics) expect(m.record.execution_name).toBe(executionName);

    // Build: one success, its duration in seconds, no further dimension.
    expect(named(metrics, MetricNames.buildSucceeded)).toEqual([
      expect.objectContaining({ unit: 'Count', value: 1, dimensions: { service } }),
    ]);
    expect(named(metrics, MetricNames.buildFailed)).toEqual([]);
    const [total] = named(metrics, MetricNames.buildDuration);
    expect(total).toMatchObject({ unit: 'Seconds', dimensions: { service } });
    expect(total?.value).toBeGreaterThan(0);
    expect(total?.value).toBeLessThanOrEqual(wallSeconds);

    // Phases: each once (one copy region), in seconds, within the build's duration.
    const phases = named(metrics, MetricNames.phaseDuration);
    expect(phases.map((m) => m.dimensions.Phase).sort()).toEqual([...Phases].sort());
    for (const phase of phases) {
      expect(phase.unit).toBe('Seconds');
      expect(phase.value).toBeGreaterThanOrEqual(0);
      expect(phase.value).toBeLessThanOrEqual(total?.value ?? 0);
    }
    expect(phases.find((m) => m.dimensions.Phase === 'copy')?.record.build_name).toBe('amazon-instance');

    // Commands: two provisioners, the X.509 upload, the bundle and its upload.
    const commands = named(metrics, MetricNames.commandDuration);
    expect(commands.map((m) => m.dimensions.CommandKind)).toEqual([
      'provision',
      'provision',
      'x509',
      'bundle',
      'upload',
    ]);
    for (const command of commands) {
      expect(command.unit).toBe('Seconds');
      expect(command.record.command_id).toMatch(/^[0-9a-f-]{36}$/);
    }

    // Poll counts: one record per loop, each wait the dashboard lists.
    const checks = named(metrics, MetricNames.pollChecks);
    const waits = checks.map((m) => m.dimensions.Wait);
    expect(new Set(waits)).toEqual(new Set(WAIT_KEYS));
    expect(waits.filter((w) => w === 'command')).toHaveLength(5);
    for (const check of checks) {
      expect(check.unit).toBe('Count');
      expect(Number.isInteger(check.value) && check.value >= 1).toBe(true);
    }

    // Leftovers: none, as reported by the build and by the abort cleanup that runs after every execution.
    expect(
      named(metrics, MetricNames.resourcesLeftBehind).map((m) => [m.dimensions.Report, m.value]),
    ).toEqual([
      ['build', 0],
      ['abort-cleanup', 0],
    ]);
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
  });

  it('count a failed build by its error name and report what it left behind', async () => {
    // Prepare
    const h = harness();
    await h.emulator.addFault({
      type: 'command',
      match: '01-provision',
      exitCode: 1,
      stderr: 'E: Unable to locate package ruby',
    });
    const template = { ...everyPhase(h.x509), builders: [{ ...basicExample(h.x509), on_error: 'abort' }] };

    // Act
    const { result, metrics, lines } = await runCaptured(template, 'metrics-fail');

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ProvisionerFailedError');
    const service = h.stack.stackName;
    expect(named(metrics, MetricNames.buildSucceeded)).toEqual([]);
    expect(named(metrics, MetricNames.buildFailed).map((m) => m.dimensions)).toEqual([
      { service },
      { service, ErrorName: 'ProvisionerFailedError' },
    ]);
    expect(named(metrics, MetricNames.buildDuration)).toHaveLength(1);
    // The failed provisioner ends no phase: launch and agent did, provisioning did not.
    expect(named(metrics, MetricNames.phaseDuration).map((m) => m.dimensions.Phase)).toEqual([
      'launch',
      'agent',
    ]);
    // on_error: abort keeps the instance (and what it uses): the build reports it, and so does the abort cleanup.
    const left = Object.fromEntries(
      named(metrics, MetricNames.resourcesLeftBehind).map((m) => [m.dimensions.Report, m.value]),
    );
    expect(left.build).toBeGreaterThanOrEqual(1);
    expect(left['abort-cleanup']).toBeGreaterThanOrEqual(1);
    // The error is in the logs too, with the build it belongs to.
    const errors = lines.map((l) => JSON.parse(l)).filter((r) => r.level === 'ERROR');
    expect(errors).toContainEqual(
      expect.objectContaining({
        build_name: 'amazon-instance',
        state_name: 'Check Provisioner Command',
        message: expect.stringMatching(/^ProvisionerFailedError: /),
      }),
    );
  });
});
