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
import type { RetentionPolicy } from '../shared/retention-policy.js';
import type { ExecutionInfo } from '../shared/state.js';
import type { ValidateOptions } from '../shared/template/validate.js';
import { type ResumeReader, resumeBuilds } from './resume.js';

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
  /** What an input with `resume` needs: the stack's name and how to read the failed execution. */
  resume?: { stackName: string; reader: ResumeReader };
}

/** What replaces the state: the builds the Map runs, plus what the final output reports. */
export interface ValidateTemplateResult extends ValidatedTemplate {
  execution: ExecutionInfo;
  /** The Build Each Builder Map's MaxConcurrencyPath: the input's `parallel_builds`, 0 (no limit) by default. */
  parallelBuilds: number;
}

/**
 * Largest serialized result accepted. This result is the state the "Build Each Builder" Map starts from, and the
 * Map's output is added to it; Step Functions refuses any state over 256 KB. (The validator itself bounds the
 * build configs; this bounds the whole result, warnings and skipped builders included.)
 * @default 200 KB (204,800 bytes of UTF-8 JSON)
 */
export const MAX_RESULT_BYTES = 200 * 1024;

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
 *
 * @throws TemplateValidationError listing every problem, or when the result is over {@link MAX_RESULT_BYTES}.
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
  let builds: ValidatedTemplate['builds'] =
    defaultPolicy === undefined
      ? validated.builds
      : validated.builds.map((b) =>
          b.retention === undefined ? { ...b, retention: { ...defaultPolicy, source: 'stack' as const } } : b,
        );
  const resume = resumeArn(input);
  if (resume !== undefined) {
    if (deps.resume === undefined)
      throw new TaskInputError('Validate Template cannot resume: no reader given');
    builds = await resumeBuilds(resume, builds, execution, deps.resume);
  }
  const result: ValidateTemplateResult = {
    builds,
    warnings: validated.warnings,
    skipped: validated.skipped,
    execution,
    parallelBuilds: validated.parallelBuilds ?? 0,
  };

  const bytes = Buffer.byteLength(JSON.stringify(result), 'utf8');
  if (bytes > MAX_RESULT_BYTES) {
    throw new TemplateValidationError(
      `the validated template is ${Math.ceil(bytes / 1024)} KB, over the ${MAX_RESULT_BYTES / 1024} KB the workflow ` +
        'can carry (Step Functions limits every state to 256 KB): move long inline scripts and file contents to ' +
        'files on S3 (script/scripts, source), or split the builders into several templates',
    );
  }
  return result;
}
