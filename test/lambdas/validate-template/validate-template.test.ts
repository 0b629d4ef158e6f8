import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { ValidatedTemplate } from '../../../lambdas/shared/config.js';
import { TaskInputError, TemplateValidationError } from '../../../lambdas/shared/errors.js';
import { FINGERPRINT_CLOCK } from '../../../lambdas/shared/fingerprint.js';
import { validateTemplate } from '../../../lambdas/shared/template/validate.js';
import { handler } from '../../../lambdas/validate-template/handler.js';
import {
  MAX_RESULT_BYTES,
  parseValidatePayload,
  type ValidateTemplateDeps,
  validateTemplateTask,
} from '../../../lambdas/validate-template/validate-template.js';
import { EXECUTION_ID, makeExecution } from '../fixtures.js';

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';

function builder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'amazon-instance',
    access_key: ACCESS_KEY,
    secret_key: SECRET_KEY,
    account_id: '1234-5678-9012',
    ami_name: 'my-ami-{{timestamp}}',
    instance_type: 'm3.medium',
    region: 'us-east-1',
    s3_bucket: 'my-bundles',
    source_ami: 'ami-0123456789abcdef0',
    ssh_username: 'ec2-user',
    x509_cert_path: 's3://staging-bucket/x509/cert.pem',
    x509_key_path: 's3://staging-bucket/x509/key.pem',
    ...overrides,
  };
}

const deps: ValidateTemplateDeps = { validate: validateTemplate };

let consoleSpies: MockInstance[];

beforeEach(() => {
  consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
    vi.spyOn(console, m).mockImplementation(() => undefined),
  );
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the names a fingerprint uses (skip_if_unchanged)', () => {
  const template = {
    variables: { app: 'web' },
    builders: [
      builder({
        skip_if_unchanged: true,
        ami_name: '{{user `app`}}-{{timestamp}}-{{uuid}}',
        bundle_prefix: 'b-{{isotime "20060102"}}',
      }),
    ],
  };

  it('renders ami_name and bundle_prefix with a fixed clock and uuid: two runs at other times agree', async () => {
    // Act
    const first = await validateTemplateTask(
      { input: template, execution: { ...makeExecution(), startTime: '2026-01-01T00:00:00.000Z' } },
      deps,
    );
    const second = await validateTemplateTask(
      {
        input: template,
        execution: { ...makeExecution(), id: `${EXECUTION_ID}-2`, startTime: '2026-02-03T04:05:06.000Z' },
      },
      deps,
    );

    // Assess
    const [a] = first.builds;
    const [b] = second.builds;
    expect(a?.amiName).not.toBe(b?.amiName);
    expect(a?.bundle.prefix).not.toBe(b?.bundle.prefix);
    expect(a?.fingerprintNames).toEqual(b?.fingerprintNames);
    expect(a?.fingerprintNames?.amiName).toMatch(/^web-1000000000-[0-9a-f-]{36}$/);
    expect(a?.fingerprintNames?.bundlePrefix).toBe(
      `b-${FINGERPRINT_CLOCK.toISOString().slice(0, 10).replaceAll('-', '')}`,
    );
  });

  it('keeps what the user variables put in the names', async () => {
    // Act
    const result = await validateTemplateTask(
      { input: { ...template, variables: { app: 'api' } }, execution: makeExecution() },
      deps,
    );

    // Assess
    expect(result.builds[0]?.fingerprintNames?.amiName).toMatch(/^api-/);
  });

  it('adds nothing without skip_if_unchanged', async () => {
    // Act
    const result = await validateTemplateTask(
      { input: { builders: [builder()] }, execution: makeExecution() },
      deps,
    );

    // Assess
    expect(result.builds[0]?.fingerprintNames).toBeUndefined();
  });
});

describe('validateTemplateTask', () => {
  it('returns one build per selected builder, with the warnings, the skipped builders and the execution', async () => {
    // Prepare
    const execution = makeExecution();
    const input = {
      builders: [builder({ name: 'web' }), { type: 'amazon-ebs', name: 'other' }],
    };

    // Act
    const result = await validateTemplateTask({ input, execution }, deps);

    // Assess
    expect(result.execution).toEqual(execution);
    expect(result.builds.map((b) => b.name)).toEqual(['web']);
    expect(result.builds[0]).toMatchObject({
      region: 'us-east-1',
      accountId: '123456789012',
      instanceType: 'm3.medium',
    });
    expect(result.skipped).toEqual([expect.objectContaining({ name: 'other', type: 'amazon-ebs' })]);
    expect(result.warnings.some((w) => w.includes('access_key'))).toBe(true);
  });

  it('renders {{timestamp}} with the execution start time, so a retry names the AMI the same', async () => {
    // Act
    const result = await validateTemplateTask(
      {
        input: builder(),
        execution: makeExecution({ startTime: '2024-01-02T00:00:00.000Z' }),
      },
      deps,
    );

    // Assess
    expect(result.builds[0]?.amiName).toBe('my-ami-1704153600');
  });

  it('seeds {{uuid}} with the execution id: the same execution renders the same value, another does not', async () => {
    // Prepare
    const input = builder({ ami_name: 'my-ami-{{uuid}}' });

    // Act
    const first = await validateTemplateTask({ input, execution: makeExecution() }, deps);
    const retry = await validateTemplateTask({ input, execution: makeExecution() }, deps);
    const other = await validateTemplateTask(
      { input, execution: makeExecution({ id: `${EXECUTION_ID}-2` }) },
      deps,
    );

    // Assess
    expect(retry.builds[0]?.amiName).toBe(first.builds[0]?.amiName);
    expect(other.builds[0]?.amiName).not.toBe(first.builds[0]?.amiName);
  });

  it('accepts the { template, vars, only } form of the execution input', async () => {
    // Prepare
    const input = {
      template: {
        variables: { version: '1' },
        builders: [builder({ name: 'a', ami_name: 'app-{{user `version`}}' }), builder({ name: 'b' })],
      },
      vars: { version: '42' },
      only: ['a'],
    };

    // Act
    const result = await validateTemplateTask({ input, execution: makeExecution() }, deps);

    // Assess
    expect(result.builds.map((b) => [b.name, b.amiName])).toEqual([['a', 'app-42']]);
    expect(result.skipped).toEqual([
      expect.objectContaining({ name: 'b', reason: 'excluded by only/except' }),
    ]);
  });

  it('keeps credentials out of its result and never logs the input', async () => {
    // Act
    const result = await validateTemplateTask({ input: builder(), execution: makeExecution() }, deps);

    // Assess
    const text = JSON.stringify(result);
    expect(text).not.toContain(SECRET_KEY);
    expect(text).not.toContain(ACCESS_KEY);
    for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
  });

  it('fails when the template is invalid, listing every problem', async () => {
    // Prepare
    const { ami_name: _name, s3_bucket: _bucket, ...input } = builder();

    // Act
    const act = validateTemplateTask({ input, execution: makeExecution() }, deps);

    // Assess
    await expect(act).rejects.toThrow(TemplateValidationError);
    const error = await act.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateValidationError);
    const problems = (error as TemplateValidationError).problems.join('\n');
    expect(problems).toContain('ami_name');
    expect(problems).toContain('s3_bucket');
    expect(problems).not.toContain(SECRET_KEY);
    for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
  });

  it('fails when the result is too large for the workflow state', async () => {
    // Prepare
    const warnings = Array.from({ length: 300 }, (_, i) => `${i} ${'w'.repeat(700)}`);
    const validate = vi.fn((): ValidatedTemplate => ({ builds: [], warnings, skipped: [] }));

    // Act
    const act = validateTemplateTask({ input: builder(), execution: makeExecution() }, { validate });

    // Assess
    await expect(act).rejects.toThrow(TemplateValidationError);
    await expect(act).rejects.toThrow(
      /^1 error\(s\) occurred:\n\n\* the validated template is 2\d\d KB, over the 200 KB the workflow can carry/,
    );
  });

  it('accepts a result of exactly the size limit', async () => {
    // Prepare: pad one warning so that the serialized result is MAX_RESULT_BYTES long.
    const execution = makeExecution();
    const empty = JSON.stringify({
      builds: [],
      warnings: [''],
      skipped: [],
      execution,
      parallelBuilds: 0,
    }).length;
    const warnings = ['w'.repeat(MAX_RESULT_BYTES - empty)];
    const validate = vi.fn((): ValidatedTemplate => ({ builds: [], warnings, skipped: [] }));

    // Act
    const result = await validateTemplateTask({ input: builder(), execution }, { validate });

    // Assess
    expect(Buffer.byteLength(JSON.stringify(result))).toBe(MAX_RESULT_BYTES);
  });

  it('validates in workflow mode with the execution’s clock and uuid seed', async () => {
    // Prepare
    const validate = vi.fn((): ValidatedTemplate => ({ builds: [], warnings: [], skipped: [] }));
    const input = builder();

    // Act
    await validateTemplateTask({ input, execution: makeExecution() }, { validate });

    // Assess
    expect(validate).toHaveBeenCalledWith(input, {
      mode: 'workflow',
      now: new Date('2024-01-02T00:00:00.000Z'),
      uuidSeed: EXECUTION_ID,
    });
  });

  it('fails when the execution start time is not a time', async () => {
    // Act
    const act = validateTemplateTask(
      { input: builder(), execution: makeExecution({ startTime: 'yesterday' }) },
      deps,
    );

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
  });
});

describe('parseValidatePayload', () => {
  it('fails when the execution context is missing, without echoing the input', () => {
    // Act
    const act = () => parseValidatePayload({ input: builder() });

    // Assess
    expect(act).toThrow(TaskInputError);
    expect(act).toThrow(/execution/);
    try {
      act();
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET_KEY);
    }
  });
});

describe('validate-template handler', () => {
  it('validates the execution input from the payload', async () => {
    // Act
    const result = await handler({ input: builder(), execution: makeExecution() });

    // Assess
    expect(result.builds).toHaveLength(1);
    expect(result.execution.id).toBe(EXECUTION_ID);
  });

  it('fails with TemplateValidationError on a bad template', async () => {
    // Act
    const act = handler({ input: { builders: [] }, execution: makeExecution() });

    // Assess
    await expect(act).rejects.toThrow(TemplateValidationError);
  });
});

describe('an input that resumes a failed execution', () => {
  const failedArn = EXECUTION_ID.replace(/:[^:]+$/, ':failed');

  it('passes the ARN on, trimmed, for Prepare Resume; the builds are validated as usual', async () => {
    // Act
    const result = await validateTemplateTask(
      { input: { template: builder(), resume: `  ${failedArn} ` }, execution: makeExecution() },
      deps,
    );

    // Assess
    expect(result.resume).toBe(failedArn);
    expect(result.builds).toHaveLength(1);
    expect(result.builds[0]?.resume).toBeUndefined();
  });

  it('has no resume without one', async () => {
    // Act
    const result = await validateTemplateTask({ input: builder(), execution: makeExecution() }, deps);

    // Assess
    expect(result).not.toHaveProperty('resume');
  });

  it.each([
    ['not an execution ARN', 'build-2024-01-02', 'is not an execution ARN'],
    [
      'another state machine’s execution',
      'arn:aws:states:us-east-1:123456789012:execution:OtherMachine:failed',
      'is not an execution of this state machine',
    ],
    ['the execution itself', EXECUTION_ID, 'an execution cannot resume itself'],
  ])('refuses %s', async (_what, arn, message) => {
    // Act
    const act = validateTemplateTask(
      { input: { template: builder(), resume: arn }, execution: makeExecution() },
      deps,
    );

    // Assess
    const error = await act.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect((error as TemplateValidationError).problems).toEqual([
      expect.stringMatching(`^resume: .*${message}`),
    ]);
  });
});
