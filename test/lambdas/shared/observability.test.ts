import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as reportBuildHandler } from '../../../lambdas/report-build/handler.js';
import {
  correlationOf,
  emitMetrics,
  observeInvocation,
  setLogMask,
  setTelemetrySink,
} from '../../../lambdas/shared/observability.js';
import { makeBuildState } from '../fixtures.js';

const SECRET = 's3cr3t-value';

/** A Report Build payload as the state machine passes it: the build, its args and the state's name. */
function reportBuildEvent(buildName: string, executionName = 'nightly-20240102-000000-abcd') {
  return {
    build: makeBuildState({
      config: { name: buildName },
      execution: { name: executionName },
      instance: { instanceId: 'i-0123456789abcdef0' },
      command: {
        commandId: 'c0ffee00-0000-4000-8000-000000000001',
        kind: 'upload',
        attempt: 1,
        stagedPrefix: 'staging/x/',
      },
      image: { region: 'us-east-1', imageId: 'ami-0fedcba9876543210' },
    }),
    args: { status: 'succeeded' },
    state: 'Report Build',
  };
}

let lines: string[];
let restoreSink: () => void;

/** The JSON log records written (EMF records, which carry `_aws`, left out). */
const logRecords = () =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r._aws === undefined);

beforeEach(() => {
  lines = [];
  restoreSink = setTelemetrySink((line) => lines.push(line));
});

afterEach(() => {
  restoreSink();
});

describe('the tasks’ logs', () => {
  it('are JSON lines carrying the execution, build, state, instance, command and image of the invocation', async () => {
    // Act
    await reportBuildHandler(reportBuildEvent('web-server'));

    // Assess
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const finished = logRecords().find((r) => String(r.message).startsWith("Build 'web-server' finished"));
    expect(finished).toMatchObject({
      level: 'INFO',
      service: 'AmiBuilder',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      execution_name: 'nightly-20240102-000000-abcd',
      build_name: 'web-server',
      state_name: 'Report Build',
      instance_id: 'i-0123456789abcdef0',
      command_id: 'c0ffee00-0000-4000-8000-000000000001',
      image_id: 'ami-0fedcba9876543210',
    });
  });

  it('pass every string through the mask: message, keys, errors and the properties of EMF records', async () => {
    // Prepare
    const restoreMask = setLogMask((text) => text.replaceAll(SECRET, '****'));

    try {
      // Act
      await reportBuildHandler(reportBuildEvent(`web-${SECRET}`));
      await observeInvocation({ state: 'Notify' }, async () => {
        throw new Error(`could not reach ${SECRET}`);
      }).catch(() => undefined);
    } finally {
      restoreMask();
    }

    // Assess
    expect(lines.join('\n')).not.toContain(SECRET);
    const records = logRecords();
    const finished = records.find((r) => String(r.message).startsWith("Build 'web-****' finished"));
    expect(finished).toMatchObject({ build_name: 'web-****' });
    const emf = lines.map((l) => JSON.parse(l)).filter((r) => r._aws !== undefined);
    expect(emf.length).toBeGreaterThan(0);
    for (const record of emf) expect(record.build_name).toBe('web-****');
    expect(records.some((r) => r.level === 'ERROR' && r.message === 'Error: could not reach ****')).toBe(
      true,
    );
  });

  it('keep each invocation’s keys apart when invocations run concurrently in one process', async () => {
    // Act
    await Promise.all([
      reportBuildHandler(reportBuildEvent('alpha', 'exec-a')),
      reportBuildHandler(reportBuildEvent('beta', 'exec-b')),
    ]);

    // Assess
    const records = logRecords().filter((r) => String(r.message).startsWith('Build '));
    expect(records).toHaveLength(2);
    for (const r of records) {
      const build = r.build_name as string;
      expect(r.message).toContain(`'${build}'`);
      expect(r.execution_name).toBe(build === 'alpha' ? 'exec-a' : 'exec-b');
    }
  });

  it('follow the level set by POWERTOOLS_LOG_LEVEL', async () => {
    // Prepare: a fresh module, so that its logger is created with the level set here.
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'WARN');
    vi.resetModules();
    const fresh = await import('../../../lambdas/shared/observability.js');
    const written: string[] = [];
    const restore = fresh.setTelemetrySink((line) => written.push(line));

    try {
      // Act
      fresh.logger().info('routine');
      fresh.logger().warn('attention');
    } finally {
      restore();
      vi.unstubAllEnvs();
    }

    // Assess
    expect(written.map((l) => JSON.parse(l).message)).toEqual(['attention']);
  });
});

describe('the tasks’ tracer', () => {
  it('is loaded only where Powertools can trace (AWS_EXECUTION_ENV set), at the first invocation', async () => {
    // Prepare: fresh modules, outside Lambda and then as in Lambda.
    vi.resetModules();
    const outside = await import('../../../lambdas/shared/observability.js');
    vi.resetModules();
    const inLambda = await import('../../../lambdas/shared/observability.js');
    const client = { middlewareStack: { identify: () => [] as string[] } };

    // Act
    const before = inLambda.captureClient(client);
    vi.stubEnv('AWS_EXECUTION_ENV', '');
    const outsideTracing = await outside.loadTracing();
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    const lambdaTracing = await inLambda.loadTracing().finally(() => vi.unstubAllEnvs());

    // Assess
    expect(before).toBe(client);
    expect(outsideTracing).toBeUndefined();
    expect(outside.captureClient(client)).toBe(client);
    expect(lambdaTracing?.traceInvocation).toBeTypeOf('function');
  });
});

describe('correlationOf', () => {
  it('reads the keys of every payload shape the tasks receive', () => {
    expect(
      correlationOf({ input: {}, execution: { id: 'arn', name: 'e1', startTime: 't' }, state: 'S' }),
    ).toEqual({ execution_name: 'e1', state_name: 'S' });
    expect(correlationOf({ detail: { name: 'e2', status: 'ABORTED' } })).toEqual({ execution_name: 'e2' });
    expect(
      correlationOf({
        build: { config: { name: 'b' }, execution: { name: 'e3' } },
        args: { imageId: 'ami-1' },
        state: 'Finish AMI Copy',
      }),
    ).toEqual({ execution_name: 'e3', build_name: 'b', state_name: 'Finish AMI Copy', image_id: 'ami-1' });
    expect(correlationOf('not an object')).toEqual({});
  });
});

describe('emitMetrics', () => {
  it('writes one EMF record with the service, the dimensions and the correlation keys as properties', async () => {
    // Act
    await observeInvocation(reportBuildEvent('web-server'), async () => {
      emitMetrics({ Phase: 'launch' }, (m) => m.seconds('PhaseDuration', 12.5));
    });

    // Assess
    const [record] = lines.map((l) => JSON.parse(l));
    expect(record).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'AmiBuilder',
            Dimensions: [['service', 'Phase']],
            Metrics: [{ Name: 'PhaseDuration', Unit: 'Seconds' }],
          },
        ],
      },
      service: 'AmiBuilder',
      Phase: 'launch',
      PhaseDuration: 12.5,
      build_name: 'web-server',
      execution_name: 'nightly-20240102-000000-abcd',
    });
  });
});
