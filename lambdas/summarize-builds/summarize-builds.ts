/**
 * Summarize Builds: turns the outputs of "Build Each Builder" into the execution output, and decides the
 * execution's result the way Packer's exit code does: any failed build fails the run. The "Build Failed" Fail
 * state takes `error` and `cause` from here (ErrorPath/CausePath), so the cause is written for a person, in
 * Packer's words (reference §7.1): what failed, what cleanup did, what was kept and how to remove it, and the
 * artifacts of the builds that succeeded.
 */
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { artifactString } from '../shared/artifact.js';
import { describeCleanup, describeLeak, LEFT_BEHIND_LINE } from '../shared/cleanup-report.js';
import { TaskInputError } from '../shared/errors.js';
import { BUILD_STATUSES, type BuildOutput, isSuccessfulStatus } from '../shared/state.js';

/** The error of the execution when more than one build failed. */
export const BUILDS_FAILED = 'BuildsFailed';

/** Step Functions' limit on a Fail state's cause. */
export const MAX_EXECUTION_CAUSE_CHARS = 32_768;

const buildOutputSchema = z.looseObject({
  name: z.string(),
  status: z.enum(BUILD_STATUSES),
  artifacts: z.record(z.string(), z.string()),
  artifactId: z.string(),
  warnings: z.array(z.string()),
  timings: z.record(z.string(), z.string()),
  error: z.optional(z.object({ Error: z.string(), Cause: z.string() })),
});

export const summarizePayloadSchema = z.object({
  results: z.array(buildOutputSchema),
  warnings: z._default(z.array(z.string()), []),
  skipped: z._default(z.array(z.object({ name: z.string(), type: z.string(), reason: z.string() })), []),
  execution: z.optional(z.object({ id: z.string(), name: z.string(), startTime: z.string() })),
});

export interface SummarizePayload {
  results: BuildOutput[];
  /** ValidateTemplate's warnings (the template's), as opposed to each build's own. */
  warnings: string[];
  skipped: { name: string; type: string; reason: string }[];
  execution?: { id: string; name: string; startTime: string };
}

export interface BuildsSummary {
  builds: BuildOutput[];
  warnings: string[];
  skipped: { name: string; type: string; reason: string }[];
  /** How many builds failed; the execution fails when this is not 0. */
  failed: number;
  /**
   * How many resources the builds left behind (`cleanup.leaked` of every build, succeeded or failed): each must
   * be removed by hand. The CLI exits 2 when this is not 0.
   */
  leaked: number;
  /** The failed build's error name when exactly one failed, else {@link BUILDS_FAILED}. Absent on success. */
  error?: string;
  /** A readable, multi-line account of the failures and their cleanup. Absent on success. */
  cause?: string;
}

/** Checks the payload the state machine sends (`{ results, warnings, skipped, execution }`). */
export function parseSummarizePayload(payload: unknown): SummarizePayload {
  const parsed = summarizePayloadSchema.safeParse(payload);
  if (!parsed.success) {
    throw new TaskInputError(`Summarize Builds input is malformed: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data as SummarizePayload;
}

function failureText(build: BuildOutput): string {
  const after = build.timings.total !== undefined ? ` after ${build.timings.total}` : '';
  const lines = [`Build '${build.name}' errored${after}: ${build.error?.Cause ?? 'unknown error'}`];
  if (build.error !== undefined) lines.push(`  error: ${build.error.Error}`);
  if (build.cleanup !== undefined) {
    lines.push(`  cleanup: ${describeCleanup(build.cleanup)}`);
    for (const kept of build.cleanup.kept) lines.push(`  kept ${kept.resource}: ${kept.reason}`);
    for (const leak of build.cleanup.leaked ?? []) {
      lines.push(`${LEFT_BEHIND_LINE}${describeLeak(leak)}; remove it with: ${leak.hint}`);
    }
  }
  return lines.join('\n');
}

/** The builds' leaked resources, one line each, for the log. */
function leakLines(builds: readonly BuildOutput[]): string[] {
  return builds.flatMap((b) =>
    (b.cleanup?.leaked ?? []).map((l) => `${b.name}: left behind ${describeLeak(l)}`),
  );
}

function limit(text: string): string {
  if (text.length <= MAX_EXECUTION_CAUSE_CHARS) return text;
  const marker = '\n… (truncated: the output of each build holds the rest)';
  return text.slice(0, MAX_EXECUTION_CAUSE_CHARS - marker.length) + marker;
}

/**
 * Summarizes the builds. On failure the cause reads like the end of a Packer run:
 *
 * ```
 * Build 'amazon-instance' errored after 3 minutes 5 seconds: <message>
 *   error: ProvisionerFailedError
 *   cleanup: terminated instance i-…; deleted security group sg-…; deleted 3 staged objects
 *
 * ==> Builds finished. The artifacts of successful builds are:
 * --> other: AMIs were created:
 * us-east-1: ami-…
 * ```
 */
export function summarizeBuilds(
  payload: SummarizePayload,
  log: (line: string) => void = () => {},
): BuildsSummary {
  const failedBuilds = payload.results.filter((b) => b.status === 'failed');
  const summary: BuildsSummary = {
    builds: payload.results,
    warnings: payload.warnings,
    skipped: payload.skipped,
    failed: failedBuilds.length,
    leaked: payload.results.reduce((n, b) => n + (b.cleanup?.leaked?.length ?? 0), 0),
  };
  for (const line of leakLines(payload.results)) log(line);
  if (failedBuilds.length === 0) {
    const unchanged = payload.results.filter((b) => b.status === 'unchanged').length;
    log(
      `${payload.results.length} build(s) succeeded${unchanged > 0 ? ` (${unchanged} unchanged)` : ''}: ${payload.results.map((b) => b.artifactId).join(' ')}`,
    );
    return summary;
  }

  const only = failedBuilds.length === 1 ? failedBuilds[0] : undefined;
  summary.error = only?.error?.Error || BUILDS_FAILED;
  const sections = [failedBuilds.map(failureText).join('\n')];
  const succeeded = payload.results.filter((b) => isSuccessfulStatus(b.status));
  if (succeeded.length > 0) {
    sections.push(
      `==> Builds finished. The artifacts of successful builds are:\n${succeeded
        .map((b) => `--> ${b.name}: ${artifactString(b.artifacts).trimEnd()}`)
        .join('\n')}`,
    );
  }
  summary.cause = limit(sections.join('\n\n'));
  log(`${failedBuilds.length} of ${payload.results.length} build(s) failed: ${summary.error}`);
  return summary;
}
