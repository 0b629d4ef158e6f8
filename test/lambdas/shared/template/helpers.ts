import type { BuildConfig, ValidatedTemplate } from '../../../../lambdas/shared/config.js';
import { TemplateValidationError } from '../../../../lambdas/shared/errors.js';
import {
  checkTemplate,
  type ValidateOptions,
  validateTemplate,
} from '../../../../lambdas/shared/template/validate.js';

/** The clock every test pins: 2025-07-15T09:00:00Z is Unix 1752570000. */
export const NOW = new Date('2025-07-15T09:00:00Z');
export const NOW_UNIX = '1752570000';

export const workflow: ValidateOptions = { mode: 'workflow', now: NOW, uuidSeed: 'execution-1' };
export const cli: ValidateOptions = {
  mode: 'cli',
  now: NOW,
  uuidSeed: 'execution-1',
  checkLocalFile: () => undefined,
};

/** A builder that validates in the workflow; tests change one key at a time. */
export const BASE = {
  type: 'amazon-instance',
  region: 'us-east-1',
  source_ami: 'ami-0123456789abcdef0',
  instance_type: 'm3.medium',
  s3_bucket: 'my-bundles',
  x509_cert_path: 's3://my-secrets/x509/cert.pem',
  x509_key_path: 'ssm:/ami-builder/x509-key',
  ami_name: 'image {{timestamp}}',
} as const;

/** BASE with `changes` applied; a value of `undefined` removes the key. */
export function builder(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const result: Record<string, unknown> = { ...BASE };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete result[k];
    else result[k] = v;
  }
  return result;
}

/** The single build of a valid input. */
export function config(input: unknown, options: ValidateOptions = workflow): BuildConfig {
  const result = validateTemplate(input, options);
  const [only] = result.builds;
  if (only === undefined || result.builds.length !== 1)
    throw new Error(`expected one build, got ${result.builds.length}`);
  return only;
}

export function validated(input: unknown, options: ValidateOptions = workflow): ValidatedTemplate {
  return validateTemplate(input, options);
}

/** The problems of an invalid input, as the TemplateValidationError lists them. */
export function problems(input: unknown, options: ValidateOptions = workflow): string[] {
  try {
    validateTemplate(input, options);
  } catch (error) {
    if (error instanceof TemplateValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected a TemplateValidationError');
}

/** The warnings of a valid input (as formatted in ValidatedTemplate.warnings). */
export function warnings(input: unknown, options: ValidateOptions = workflow): string[] {
  return validateTemplate(input, options).warnings;
}

export { checkTemplate };
