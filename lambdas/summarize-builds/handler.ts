import { logInfo } from '../shared/observability.js';
import { lambdaHandler } from '../shared/runtime.js';
import { parseSummarizePayload, summarizeBuilds } from './summarize-builds.js';

/**
 * State "Summarize Builds": `{ results, warnings, skipped, execution }` (not the build envelope) →
 * `{ builds, warnings, skipped, failed, error?, cause? }`, the execution output.
 */
export const handler = lambdaHandler(async (event: unknown) =>
  summarizeBuilds(parseSummarizePayload(event), logInfo),
);
