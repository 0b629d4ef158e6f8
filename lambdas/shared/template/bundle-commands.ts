/**
 * The bundle commands: `bundle_vol_command` (ec2-bundle-vol) and `bundle_upload_command` (ec2-upload-bundle),
 * templates over Packer's variables (reference §3). Validation checks which variables they use and composes
 * them once with the user variables; the send-command task renders them at run time with the values below.
 *
 * Every value is quoted for the place the template's own text puts it in ({@link composeShellCommand}): outside
 * quotes a value is one word, inside the user's quotes it stays inside them. So a `-var` value cannot add
 * arguments or commands, and a user's own quoting keeps working. The build's own values (paths, bucket, region)
 * are also checked at validation to be plain words. The credentials are never values: `{{.AccessKey}}`,
 * `{{.SecretKey}}` and `{{.Token}}` become references to shell variables that the on-instance script fills from
 * the instance profile (IMDSv2), quoted so that they expand even inside the user's single quotes; no secret is
 * ever in a task's state or an SSM command parameter.
 */
import { randomUUID } from 'node:crypto';
import { TemplateValidationError } from '../errors.js';
import { type CommandPart, composeShellCommand, SHELL_SAFE } from '../shell.js';
import { parseTemplate, positionOf, referencedUserVariables, renderTemplateParts } from './engine.js';
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
        `${command}: the value of {{.${name}}} may only contain letters, digits and _ . / : @ % + = , - (it is a path, name or id of the build)`,
      );
    }
  }
}

/**
 * Renders a command and composes it as a shell command line: the template's text as written, each value
 * quoted for its place, each credential (a value equal to its marker) a reference to its shell variable.
 */
function render(
  command: string,
  template: string,
  data: Record<string, string>,
  context: BundleRenderContext,
  credentials: Record<string, string> = {},
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
  // Each credential renders as a marker no template text or variable can know, replaced after rendering.
  const nonce = randomUUID();
  const markers = new Map<string, string>();
  const markedData = { ...data };
  for (const [field, variable] of Object.entries(credentials)) {
    const marker = `\u0001${nonce}:${field}\u0001`;
    markers.set(marker, variable);
    markedData[field] = marker;
  }
  const rendered = renderTemplateParts(
    parsed,
    markedData,
    packerFunctions({
      now: context.now ?? new Date(),
      uuid: seededUuid(`${context.uuidSeed ?? command}:${command}`),
      userVariables,
    }),
  );
  const parts: CommandPart[] = rendered.map((part) => {
    if (part.kind === 'text') return part;
    const start = Math.max(template.lastIndexOf('{{', part.pos), 0);
    const end = template.indexOf('}}', part.pos);
    const { line, column } = positionOf(template, start);
    const action = template.slice(start, end < 0 ? undefined : end + 2);
    const label = `${command}: ${action} (line ${line}, column ${column})`;
    const variable = markers.get(part.text);
    if (variable !== undefined) return { kind: 'variable', name: variable, label };
    if (part.text.includes(nonce)) {
      throw new TemplateValidationError(
        `${label} uses {{.AccessKey}}, {{.SecretKey}} or {{.Token}} in a larger value: a credential may only be printed on its own, as {{.AccessKey}}`,
      );
    }
    return { kind: 'value', text: part.text, label };
  });
  const composed = composeShellCommand(parts);
  if ('problem' in composed) throw new TemplateValidationError(composed.problem);
  return composed.command;
}

/**
 * Renders a `bundle_vol_command`.
 *
 * @throws TemplateValidationError when a build value is not shell-safe, or a value cannot be quoted where the
 *   template puts it ({@link composeShellCommand}); the engine's errors when rendering fails.
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
 * Renders a `bundle_upload_command`. The credential variables become references to `AMI_BUILDER_ACCESS_KEY`,
 * `AMI_BUILDER_SECRET_KEY` and `AMI_BUILDER_SESSION_TOKEN` (`"${AMI_BUILDER_ACCESS_KEY}"` outside quotes,
 * `'"${AMI_BUILDER_ACCESS_KEY}"'` inside single quotes); `{{.S3Endpoint}}` becomes
 * `https://s3.<region>.amazonaws.com`.
 *
 * @throws TemplateValidationError when a build value is not shell-safe, or a value cannot be quoted where the
 *   template puts it ({@link composeShellCommand}); the engine's errors when rendering fails.
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
    { ...values, S3Endpoint: `https://s3.${values.Region}.amazonaws.com` },
    context,
    BUNDLE_CREDENTIAL_VARIABLES,
  );
}
