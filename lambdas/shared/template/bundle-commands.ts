/**
 * The bundle commands: `bundle_vol_command` (ec2-bundle-vol) and `bundle_upload_command` (ec2-upload-bundle),
 * templates over Packer's variables (reference §3). Validation checks which variables they use; the
 * send-command task renders them at run time with the values below.
 *
 * Values are substituted unquoted, as in Packer, so that a user's own quoting keeps working; every plain value
 * must therefore match {@link SHELL_SAFE}. The credentials are never values: `{{.AccessKey}}`, `{{.SecretKey}}`
 * and `{{.Token}}` render as references to shell variables that the on-instance script fills from the
 * instance profile (IMDSv2), so no secret is ever in a task's state or an SSM command parameter.
 */
import { TemplateValidationError } from '../errors.js';
import { SHELL_SAFE } from '../shell.js';
import { parseTemplate, referencedUserVariables, renderTemplate } from './engine.js';
import { packerFunctions } from './functions.js';
import { seededUuid } from './uuid.js';

/** Packer's default (`builder/instance/builder.go`), one line. */
export const DEFAULT_BUNDLE_VOL_COMMAND =
  'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter';

/**
 * Packer's default with `-a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}}`: the credentials always come from
 * the instance profile here, and they are temporary, so the session token is needed (packer#3114).
 */
export const DEFAULT_BUNDLE_UPLOAD_COMMAND =
  'sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry';

export const BUNDLE_VOL_VARIABLES: readonly string[] = [
  'AccountId',
  'Architecture',
  'CertPath',
  'Destination',
  'KeyPath',
  'Prefix',
  'PrivatePath',
];

/** `S3Endpoint` is retired (Packer fails on it); it is accepted with a warning and renders the regional endpoint. */
export const BUNDLE_UPLOAD_VARIABLES: readonly string[] = [
  'AccessKey',
  'BucketName',
  'BundleDirectory',
  'ManifestPath',
  'Region',
  'SecretKey',
  'Token',
  'S3Endpoint',
];

/** The shell variables the on-instance script sets from the instance profile's credentials (IMDSv2). */
export const BUNDLE_CREDENTIAL_VARIABLES = {
  AccessKey: 'AMI_BUILDER_ACCESS_KEY',
  SecretKey: 'AMI_BUILDER_SECRET_KEY',
  Token: 'AMI_BUILDER_SESSION_TOKEN',
} as const;

/**
 * Optional context for commands that use `{{user}}`, `{{timestamp}}` or `{{uuid}}`: pass
 * `{ userVariables: config.lateVariables, now: <execution start>, uuidSeed: <execution id> }`.
 */
export interface BundleRenderContext {
  userVariables?: Record<string, string>;
  now?: Date;
  uuidSeed?: string;
}

function checkValues(command: string, values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!SHELL_SAFE.test(value)) {
      throw new TemplateValidationError(
        `${command}: the value of {{.${name}}} may only contain letters, digits and _ . / : @ % + = , - (it is substituted unquoted into the command)`,
      );
    }
  }
}

function render(
  command: string,
  template: string,
  data: Record<string, string>,
  context: BundleRenderContext,
): string {
  const parsed = parseTemplate(template);
  const userVariables: Record<string, string> = Object.fromEntries(
    referencedUserVariables(parsed).map((name) => [
      name,
      context.userVariables !== undefined && Object.hasOwn(context.userVariables, name)
        ? (context.userVariables[name] ?? '')
        : '',
    ]),
  );
  return renderTemplate(
    parsed,
    data,
    packerFunctions({
      now: context.now ?? new Date(),
      uuid: seededUuid(`${context.uuidSeed ?? command}:${command}`),
      userVariables,
    }),
  );
}

/**
 * Renders a `bundle_vol_command`.
 *
 * @throws TemplateValidationError when a value is not shell-safe; the engine's errors when rendering fails.
 */
export function renderBundleVolCommand(
  template: string,
  values: {
    AccountId: string;
    Architecture: string;
    CertPath: string;
    Destination: string;
    KeyPath: string;
    Prefix: string;
    PrivatePath: string;
  },
  context: BundleRenderContext = {},
): string {
  checkValues('bundle_vol_command', values);
  return render('bundle_vol_command', template, { ...values }, context);
}

/**
 * Renders a `bundle_upload_command`. The credential variables become `$AMI_BUILDER_ACCESS_KEY`,
 * `$AMI_BUILDER_SECRET_KEY` and `$AMI_BUILDER_SESSION_TOKEN`; `{{.S3Endpoint}}` becomes
 * `https://s3.<region>.amazonaws.com`.
 *
 * @throws TemplateValidationError when a value is not shell-safe; the engine's errors when rendering fails.
 */
export function renderBundleUploadCommand(
  template: string,
  values: { BucketName: string; BundleDirectory: string; ManifestPath: string; Region: string },
  context: BundleRenderContext = {},
): string {
  checkValues('bundle_upload_command', values);
  return render(
    'bundle_upload_command',
    template,
    {
      ...values,
      AccessKey: `$${BUNDLE_CREDENTIAL_VARIABLES.AccessKey}`,
      SecretKey: `$${BUNDLE_CREDENTIAL_VARIABLES.SecretKey}`,
      Token: `$${BUNDLE_CREDENTIAL_VARIABLES.Token}`,
      S3Endpoint: `https://s3.${values.Region}.amazonaws.com`,
    },
    context,
  );
}
