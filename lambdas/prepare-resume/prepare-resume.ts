/**
 * Prepare Resume: the state after Validate Template when the input names a failed execution to resume
 * (`{ "resume": "<execution ARN>", "template": … }`). It reads that execution, checks each selected build against
 * what it kept (`resumeBuilds`), and returns Validate Template's result with the resumed builds. It creates and
 * changes nothing: a refusal is a TemplateValidationError (Template Invalid), like any invalid input.
 *
 * Validate Template makes no AWS call, so that the first state of every build starts with no SDK client to load;
 * this one holds the Step Functions, EC2 and IAM reads a resume needs.
 */
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { TaskInputError } from '../shared/errors.js';
import { checkResultSize } from '../shared/state-size.js';
import type { ValidateTemplateResult } from '../validate-template/validate-template.js';
import { type ResumeReader, resumeBuilds } from './resume.js';

/** Validate Template's result (the state) with its `resume`, field by field, as the state machine sends it. */
export type PrepareResumePayload = ValidateTemplateResult & { resume: string };

export interface PrepareResumeDeps {
  /** The stack's name: the kept resources must carry its `ami-builder:stack` tag. */
  stackName: string;
  reader: ResumeReader;
}

const payloadSchema = z.object({
  resume: z.string().check(z.minLength(1)),
  builds: z.array(z.looseObject({ name: z.string() })),
  warnings: z.array(z.string()),
  skipped: z.array(z.looseObject({ name: z.string() })),
  parallelBuilds: z.number(),
  execution: z.object({
    id: z.string().check(z.minLength(1)),
    name: z.string().check(z.minLength(1)),
    startTime: z.string().check(z.minLength(1)),
  }),
  // The state's name, for the logs.
  state: z.optional(z.string()),
});

/** Checks the payload's envelope (a wiring check: the state is Validate Template's result). */
export function parsePrepareResumePayload(event: unknown): PrepareResumePayload {
  const parsed = payloadSchema.safeParse(event);
  if (!parsed.success) {
    throw new TaskInputError(`Prepare Resume payload is malformed: ${z.prettifyError(parsed.error)}`);
  }
  const { state: _, ...payload } = parsed.data;
  return payload as unknown as PrepareResumePayload;
}

/**
 * The state with each build resumed (`config.resume`, the failed build's AMI name and bundle prefix).
 *
 * @throws TemplateValidationError listing every reason to refuse, or when the state grows over the workflow's
 *   limit
 */
export async function prepareResumeTask(
  payload: PrepareResumePayload,
  deps: PrepareResumeDeps,
): Promise<PrepareResumePayload> {
  const builds = await resumeBuilds(payload.resume, payload.builds, payload.execution, deps);
  const result = { ...payload, builds };
  checkResultSize(result);
  return result;
}
