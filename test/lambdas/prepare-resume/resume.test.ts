import { describe, expect, it } from 'vitest';
import { StateNames } from '../../../infra/state-names.js';
import {
  type ExecutionHistory,
  type ResumeReader,
  resumeBuilds,
} from '../../../lambdas/prepare-resume/resume.js';
import type { BuildConfig, Provisioner } from '../../../lambdas/shared/config.js';
import { TemplateValidationError } from '../../../lambdas/shared/errors.js';
import { TagKeys } from '../../../lambdas/shared/tags.js';
import { EXECUTION_ID, makeBuildState, makeConfig, makeExecution } from '../fixtures.js';

const FAILED_ARN = EXECUTION_ID;
const NEW = makeExecution({
  id: 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilderStateMachine:resumed',
  name: 'resumed',
});
const STACK = 'AmiBuilder';

const shell = (index: number, line: string): Provisioner =>
  ({
    type: 'shell',
    index,
    name: 'shell',
    inline: [line],
    scripts: [],
    environmentVars: [],
  }) as unknown as Provisioner;

const failedConfig = makeConfig({
  onError: 'abort',
  amiName: 'web 1704153600',
  bundle: { prefix: 'image-1704153600' },
  provisioners: [shell(0, 'one'), shell(1, 'broken')],
});
const failedState = makeBuildState({
  config: failedConfig,
  source: { imageId: 'ami-0123456789abcdef0' } as never,
  bucket: { name: 'my-bundles' } as never,
  network: { securityGroupIds: ['sg-0123456789abcdef0'], temporarySecurityGroupId: 'sg-0123456789abcdef0' },
  instanceRole: {
    instanceProfileName: 'build-p',
    temporary: true,
    roleName: 'build-p',
    path: '/ami-builder/x/',
  },
  instance: { instanceId: 'i-0123456789abcdef0' },
});

const ownTags = [
  { Key: TagKeys.stack, Value: STACK },
  { Key: TagKeys.execution, Value: FAILED_ARN },
];

function history(overrides: Partial<ExecutionHistory> = {}, state = failedState): ExecutionHistory {
  return {
    status: 'FAILED',
    stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:AmiBuilderStateMachine',
    entered: [
      { name: StateNames.SendProvisionerCommand, input: { ...state, provisionerIndex: 0 } },
      { name: StateNames.SendProvisionerCommand, input: { ...state, provisionerIndex: 1 } },
      { name: StateNames.ReportFailedBuild, input: state },
    ],
    ...overrides,
  };
}

function reader(overrides: Partial<ResumeReader> = {}, execution = history()): ResumeReader {
  return {
    execution: async () => execution,
    instance: async () => ({ state: 'running', tags: ownTags }),
    securityGroup: async () => ({ tags: ownTags }),
    instanceProfileExists: async () => true,
    ...overrides,
  };
}

const current = (overrides: Partial<BuildConfig> = {}): BuildConfig =>
  makeConfig({
    onError: 'abort',
    amiName: 'web 1704157200',
    bundle: { prefix: 'image-1704157200' },
    provisioners: [shell(0, 'one'), shell(1, 'fixed')],
    ...overrides,
  } as never);

async function problems(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TemplateValidationError);
  return (error as TemplateValidationError).problems;
}

describe('resumeBuilds', () => {
  it('resumes at the failed provisioner with the failed build’s names and kept state', async () => {
    const [build] = await resumeBuilds(FAILED_ARN, [current()], NEW, { stackName: STACK, reader: reader() });
    expect(build?.amiName).toBe('web 1704153600');
    expect(build?.bundle.prefix).toBe('image-1704153600');
    expect(build?.provisioners[1]).toEqual(shell(1, 'fixed'));
    expect(build?.resume).toEqual({
      from: FAILED_ARN,
      origin: { id: FAILED_ARN, name: 'build-2024-01-02' },
      step: 'provision',
      provisionerIndex: 1,
      kept: {
        source: failedState.source,
        bucket: failedState.bucket,
        network: failedState.network,
        instanceRole: failedState.instanceRole,
        instance: failedState.instance,
      },
    });
  });

  it('keeps the first execution as the role’s origin across resumes', async () => {
    const origin = {
      id: 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilderStateMachine:first',
      name: 'first',
    };
    const state = { ...failedState, config: { ...failedConfig, resume: { origin } as never } };
    const [build] = await resumeBuilds(FAILED_ARN, [current()], NEW, {
      stackName: STACK,
      reader: reader({}, history({}, state)),
    });
    expect(build?.resume?.origin).toEqual(origin);
  });

  it('refuses when the kept instance or group is gone, naming each', async () => {
    const found = await problems(
      resumeBuilds(FAILED_ARN, [current()], NEW, {
        stackName: STACK,
        reader: reader({
          instance: async () => ({ state: 'terminated', tags: ownTags }),
          securityGroup: async () => undefined,
          instanceProfileExists: async () => false,
        }),
      }),
    );
    expect(found).toEqual([
      'resume: build "amazon-instance": the kept instance i-0123456789abcdef0 in us-east-1 is gone (terminated): run a new build',
      'resume: build "amazon-instance": the kept security group sg-0123456789abcdef0 in us-east-1 is gone: run a new build',
      'resume: build "amazon-instance": the kept instance profile build-p is gone: run a new build',
    ]);
  });

  it('refuses when a step before the failed one changed, naming it', async () => {
    const found = await problems(
      resumeBuilds(FAILED_ARN, [current({ provisioners: [shell(0, 'two'), shell(1, 'fixed')] })], NEW, {
        stackName: STACK,
        reader: reader(),
      }),
    );
    expect(found).toEqual([
      expect.stringContaining(
        'the template changed provisioner 0 (shell), a step before the failed one (provisioner 1 (shell))',
      ),
    ]);
  });

  it('refuses another state machine’s execution, an execution that did not fail, and one without on_error abort', async () => {
    const other = 'arn:aws:states:us-east-1:123456789012:execution:OtherMachine:x';
    expect(
      await problems(resumeBuilds(other, [current()], NEW, { stackName: STACK, reader: reader() })),
    ).toEqual([expect.stringContaining('is not an execution of this state machine')]);
    expect(
      await problems(
        resumeBuilds(FAILED_ARN, [current()], NEW, {
          stackName: STACK,
          reader: reader({}, history({ status: 'SUCCEEDED' })),
        }),
      ),
    ).toEqual([expect.stringContaining('did not fail (status SUCCEEDED)')]);
    const cleanup = { ...failedState, config: { ...failedConfig, onError: 'cleanup' as const } };
    expect(
      await problems(
        resumeBuilds(FAILED_ARN, [current()], NEW, {
          stackName: STACK,
          reader: reader({}, history({}, cleanup)),
        }),
      ),
    ).toEqual([expect.stringContaining('ran with on_error cleanup, not abort')]);
    expect(
      await problems(
        resumeBuilds(FAILED_ARN, [current()], NEW, {
          stackName: STACK,
          reader: { ...reader(), execution: async () => undefined },
        }),
      ),
    ).toEqual([expect.stringContaining('does not exist')]);
  });

  it('refuses a kept instance another execution adopted already', async () => {
    const found = await problems(
      resumeBuilds(FAILED_ARN, [current()], NEW, {
        stackName: STACK,
        reader: reader({
          instance: async () => ({
            state: 'running',
            tags: [ownTags[0]!, { Key: TagKeys.execution, Value: 'arn:aws:states:…:execution:M:other' }],
          }),
        }),
      }),
    );
    expect(found).toEqual([expect.stringContaining('another execution resumed it already?')]);
  });
});
