import { describe, expect, it } from 'vitest';
import {
  type PrepareResumeDeps,
  parsePrepareResumePayload,
  prepareResumeTask,
} from '../../../lambdas/prepare-resume/prepare-resume.js';
import type { ResumeReader } from '../../../lambdas/prepare-resume/resume.js';
import { TaskInputError, TemplateValidationError } from '../../../lambdas/shared/errors.js';
import { MAX_RESULT_BYTES } from '../../../lambdas/shared/state-size.js';
import { EXECUTION_ID, makeConfig, makeExecution } from '../fixtures.js';

const FAILED = EXECUTION_ID.replace(/:[^:]+$/, ':failed');

const payload = (overrides: Record<string, unknown> = {}) => ({
  resume: FAILED,
  builds: [makeConfig()],
  warnings: ['a warning'],
  skipped: [{ name: 'other', type: 'amazon-ebs', reason: 'not an amazon-instance builder' }],
  parallelBuilds: 2,
  execution: makeExecution(),
  state: 'Prepare Resume',
  ...overrides,
});

/** A reader whose failed execution is unknown: every build is refused before any resource is read. */
const unknownExecution: ResumeReader = {
  execution: async () => undefined,
  instance: async () => undefined,
  securityGroup: async () => undefined,
  instanceProfileExists: async () => false,
};

describe('parsePrepareResumePayload', () => {
  it('keeps Validate Template’s result and drops the state’s name', () => {
    // Act
    const parsed = parsePrepareResumePayload(payload());

    // Assess
    expect(parsed).not.toHaveProperty('state');
    expect(parsed).toMatchObject({ resume: FAILED, warnings: ['a warning'], parallelBuilds: 2 });
  });

  it('names what is missing', () => {
    // Act
    const act = () => parsePrepareResumePayload(payload({ resume: undefined, builds: 'x' }));

    // Assess
    expect(act).toThrow(TaskInputError);
    expect(act).toThrow(/resume[\s\S]*builds/);
  });
});

describe('prepareResumeTask', () => {
  it('refuses, with the reason, when the failed execution does not exist', async () => {
    // Prepare
    const deps: PrepareResumeDeps = { stackName: 'AmiBuilder', reader: unknownExecution };

    // Act
    const error = await prepareResumeTask(parsePrepareResumePayload(payload()), deps).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect((error as TemplateValidationError).problems).toEqual([
      `resume: execution ${FAILED} does not exist`,
    ]);
  });

  it('refuses a state that would outgrow what the workflow carries', async () => {
    // Prepare: the warnings alone are over the limit; the failed execution has no build to resume, so the
    // resumed builds are empty only if every build was refused, which throws first: check the size on its own.
    const big = payload({ warnings: ['w'.repeat(MAX_RESULT_BYTES)] });
    const deps: PrepareResumeDeps = {
      stackName: 'AmiBuilder',
      reader: {
        ...unknownExecution,
        execution: async () => ({ status: 'FAILED', stateMachineArn: '', entered: [] }),
      },
    };

    // Act
    const error = await prepareResumeTask(parsePrepareResumePayload({ ...big, builds: [] }), deps).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect(String((error as Error).message)).toContain('KB the workflow can carry');
  });
});
