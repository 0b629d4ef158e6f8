/**
 * The size of the state the "Build Each Builder" Map starts from. Validate Template (and Prepare Resume, which adds
 * the kept resources to each resumed build) replaces the state with its result, and the Map's output is added to
 * it; Step Functions refuses any state over 256 KB.
 */
import { TemplateValidationError } from './errors.js';

/**
 * Largest serialized result accepted. (The validator itself bounds the build configs; this bounds the whole
 * result, warnings and skipped builders included.)
 * @default 200 KB (204,800 bytes of UTF-8 JSON)
 */
export const MAX_RESULT_BYTES = 200 * 1024;

/** @throws TemplateValidationError when `result` serializes to more than {@link MAX_RESULT_BYTES}. */
export function checkResultSize(result: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(result), 'utf8');
  if (bytes > MAX_RESULT_BYTES) {
    throw new TemplateValidationError(
      `the validated template is ${Math.ceil(bytes / 1024)} KB, over the ${MAX_RESULT_BYTES / 1024} KB the workflow ` +
        'can carry (Step Functions limits every state to 256 KB): move long inline scripts and file contents to ' +
        'files on S3 (script/scripts, source), or split the builders into several templates',
    );
  }
}
