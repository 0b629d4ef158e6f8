/**
 * Validate Template: the first state. It turns the execution input (a Packer template, a bare amazon-instance
 * builder, or `{ template, vars, only, except }`) into one normalized build config per selected builder, so that
 * bad input fails here with every problem listed, before anything is created.
 *
 * The input may hold credentials (`access_key`, `secret_key`, …): it is never logged, and the configs returned
 * hold none (the validator drops them).
 */
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import type { ValidatedTemplate } from '../shared/config.js';
import { TaskInputError, TemplateValidationError } from '../shared/errors.js';
import { FINGERPRINT_CLOCK, FINGERPRINT_UUID_SEED } from '../shared/fingerprint.js';
import { resumeArnProblems } from '../shared/resume.js';
import type { RetentionPolicy } from '../shared/retention-policy.js';
import type { ExecutionInfo } from '../shared/state.js';
import { checkResultSize } from '../shared/state-size.js';
import type { ValidateOptions } from '../shared/template/validate.js';

export { MAX_RESULT_BYTES } from '../shared/state-size.js';

/** The payload the state machine sends: `{ input: $, execution: { id, name, startTime } }` from the context. */
export interface ValidateTemplatePayload {
  input: unknown;
  execution: ExecutionInfo;
}

export interface ValidateTemplateDeps {
  /** The template-language validator (`lambdas/shared/template/validate.ts`). */
  validate: (input: unknown, options: ValidateOptions) => ValidatedTemplate;
  /** The stack's `retention` default: a build whose template has no `ami_retention` gets it. */
  retentionDefault?: RetentionPolicy;
}

/** What replaces the state: the builds the Map runs, plus what the final output reports. */
export interface ValidateTemplateResult extends ValidatedTemplate {
  execution: ExecutionInfo;
  /** The Build Each Builder Map's MaxConcurrencyPath: the input's `parallel_builds`, 0 (no limit) by default. */
  parallelBuilds: number;
  /**
   * The input's `resume`, trimmed: the failed execution whose builds Prepare Resume (the next state) resumes.
   * Only its form is checked here, so that this state makes no AWS call.
   */
  resume?: string;
}

const payloadSchema = z.object({
  input: z.unknown(),
  execution: z.object({
    id: z.string().check(z.minLength(1)),
    name: z.string().check(z.minLength(1)),
    startTime: z.string().check(z.minLength(1)),
  }),
});

/** Checks the payload's envelope (a wiring check: the state machine builds it). Never echoes the input. */
export function parseValidatePayload(event: unknown): ValidateTemplatePayload {
  const parsed = payloadSchema.safeParse(event);
  if (!parsed.success) {
    // Only the issues' paths and messages: the input itself may hold credentials.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TaskInputError(`Validate Template payload is malformed: ${issues.join('; ')}`);
  }
  return { input: parsed.data.input, execution: parsed.data.execution };
}

/** The input's `resume` (wrapper form), trimmed; the validator has checked that it is a string. */
function resumeArn(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || !Object.hasOwn(input, 'resume')) return undefined;
  const value = (input as { resume?: unknown }).resume;
  return typeof value === 'string' ? value.trim() : undefined;
}

/**
 * With `skip_if_unchanged`, the names that change every run (`ami_name`, `bundle_prefix` with `{{timestamp}}`,
 * `{{isotime}}` or `{{uuid}}`) must stay out of the build's fingerprint, while what else they hold (user
 * variables, literal text) must stay in. Validating the input once more with a fixed clock and uuid seed gives
 * exactly that: the names as this run renders them, minus what only the time or a uuid put there. A build whose
 * second rendering fails keeps no `fingerprintNames`, so its fingerprint uses this run's names (it never matches
 * a build of another time: a build too many, never one too few).
 */
function addFingerprintNames(input: unknown, validated: ValidatedTemplate, deps: ValidateTemplateDeps): void {
  let neutral: ValidatedTemplate;
  try {
    neutral = deps.validate(input, {
      mode: 'workflow',
      now: FINGERPRINT_CLOCK,
      uuidSeed: FINGERPRINT_UUID_SEED,
    });
  } catch {
    return;
  }
  for (const build of validated.builds) {
    if (build.skipIfUnchanged !== true) continue;
    const twin = neutral.builds.find((b) => b.name === build.name);
    if (twin === undefined) continue;
    build.fingerprintNames = { amiName: twin.amiName, bundlePrefix: twin.bundle.prefix };
  }
}

/**
 * Validates the execution input in workflow mode. The clock (`{{timestamp}}`, `{{isotime}}`) is the execution's
 * start time and `{{uuid}}` is seeded by the execution id, so a retry or a redrive renders the same AMI name.
 * A `resume` must be the ARN of another execution of this state machine; what that execution kept is Prepare
 * Resume's to check.
 *
 * @throws TemplateValidationError listing every problem, or when the result is over the workflow's limit
 *   (`MAX_RESULT_BYTES`).
 */
export async function validateTemplateTask(
  payload: ValidateTemplatePayload,
  deps: ValidateTemplateDeps,
): Promise<ValidateTemplateResult> {
  const { input, execution } = payload;
  const now = new Date(execution.startTime);
  if (Number.isNaN(now.getTime())) {
    throw new TaskInputError(
      `execution.startTime must be an ISO 8601 time ($$.Execution.StartTime), got ${JSON.stringify(execution.startTime)}`,
    );
  }

  const validated = deps.validate(input, { mode: 'workflow', now, uuidSeed: execution.id });
  if (validated.builds.some((b) => b.skipIfUnchanged === true)) addFingerprintNames(input, validated, deps);
  const defaultPolicy = deps.retentionDefault;
  const builds: ValidatedTemplate['builds'] =
    defaultPolicy === undefined
      ? validated.builds
      : validated.builds.map((b) =>
          b.retention === undefined ? { ...b, retention: { ...defaultPolicy, source: 'stack' as const } } : b,
        );
  const resume = resumeArn(input);
  if (resume !== undefined) {
    const problems = resumeArnProblems(resume, execution.id);
    if (problems.length > 0) throw new TemplateValidationError(problems.map((p) => `resume: ${p}`));
  }
  const result: ValidateTemplateResult = {
    builds,
    warnings: validated.warnings,
    skipped: validated.skipped,
    execution,
    parallelBuilds: validated.parallelBuilds ?? 0,
    ...(resume === undefined ? {} : { resume }),
  };
  checkResultSize(result);
  return result;
}
