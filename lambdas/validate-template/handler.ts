import { decodeRetentionPolicy, RETENTION_DEFAULT_ENV } from '../shared/retention-policy.js';
import { lambdaHandler } from '../shared/runtime.js';
import { validateTemplate } from '../shared/template/validate.js';
import { parseValidatePayload, validateTemplateTask } from './validate-template.js';

const deps = {
  validate: validateTemplate,
  retentionDefault: decodeRetentionPolicy(process.env[RETENTION_DEFAULT_ENV]),
};

/**
 * State "Validate Template": `{ input: $, execution: { id, name, startTime } }` →
 * `{ builds, warnings, skipped, parallelBuilds, execution, resume? }`, which replaces the state. It makes no AWS
 * call (a `resume` is read by Prepare Resume, the next state).
 */
export const handler = lambdaHandler((event: unknown) =>
  validateTemplateTask(parseValidatePayload(event), deps),
);
