/**
 * Late rendering: the strings Packer renders only once the source AMI is known (`tags`, `run_tags`,
 * `ami_description`), with the build variables as the template's data (reference §2.7). Validation kept them
 * as template text and checked their syntax; the Prevalidate task renders them here.
 */
import { parseTemplate, referencedUserVariables, renderTemplate } from './engine.js';
import { packerFunctions } from './functions.js';
import { seededUuid } from './uuid.js';

/** The build variables (Packer's generated data, `StepSetGeneratedData`). */
export interface BuildVariables {
  BuildRegion: string;
  SourceAMI: string;
  SourceAMIName: string;
  SourceAMIOwner: string;
  SourceAMIOwnerName: string;
  SourceAMICreationDate: string;
  SourceAMITags: Record<string, string>;
}

/** The names late strings may read as `{{.Name}}`. */
export const BUILD_VARIABLE_NAMES: readonly (keyof BuildVariables)[] = [
  'BuildRegion',
  'SourceAMI',
  'SourceAMIName',
  'SourceAMIOwner',
  'SourceAMIOwnerName',
  'SourceAMICreationDate',
  'SourceAMITags',
];

export interface LateRenderContext {
  buildVariables: BuildVariables;
  /** `BuildConfig.lateVariables`: the user variables late strings reference. */
  userVariables: Record<string, string>;
  /** The execution's start time: the same clock validation used, so `{{timestamp}}` agrees. */
  now: Date;
  /** The execution id; each text gets its own deterministic `{{uuid}}` sequence from it. */
  uuidSeed: string;
}

/**
 * Renders a late string (a tag key or value, a run tag, the AMI description) with the build variables as
 * data and Packer's functions.
 *
 * @throws TemplateSyntaxError / TemplateRenderError from the engine (validation has already parsed the text,
 *   so in practice only a missing `{{.SourceAMITags.x}}` key fails).
 */
export function renderLate(text: string, context: LateRenderContext): string {
  if (!text.includes('{{')) return text;
  const parsed = parseTemplate(text);
  const userVariables: Record<string, string> = Object.fromEntries(
    referencedUserVariables(parsed).map((name) => [
      name,
      Object.hasOwn(context.userVariables, name) ? (context.userVariables[name] ?? '') : '',
    ]),
  );
  return renderTemplate(
    parsed,
    { ...context.buildVariables, SourceAMITags: { ...context.buildVariables.SourceAMITags } },
    packerFunctions({
      now: context.now,
      uuid: seededUuid(`${context.uuidSeed}:late:${text}`),
      userVariables,
    }),
  );
}
