/**
 * Provisioner commands (Packer's `shell` and `file` provisioners), and the error-cleanup provisioner, which is
 * one of them. Packer uploads files over SSH as `ssh_username` and runs `execute_command` in that user's
 * session; here the instance downloads the staged files with its own role and `run.sh` places them and runs the
 * commands as `ssh_username` (root when unset).
 */
import { TemplateValidationError } from '../errors.js';
import { isShellSafe, shellQuote } from '../shell.js';
import {
  renderTemplate,
  type TemplateFunction,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../template/engine.js';
import {
  assign,
  FROM_HOME,
  fileFunctions,
  joinRemote,
  message,
  normalizeRemotePath,
  prelude,
  runAsFunction,
  runAsSetup,
  say,
  scriptText,
} from './common.js';

/** The builder type Packer exports to shell provisioners as `PACKER_BUILDER_TYPE`. */
export const PACKER_BUILDER_TYPE = 'amazon-instance';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `{{.Vars}}` exactly as Packer's shell provisioner flattens it: `PACKER_BUILDER_TYPE`, `PACKER_BUILD_NAME` and
 * `environment_vars` (later ones win), sorted by name, each `NAME='value' ` with `'` written as `'"'"'`.
 * Single quotes keep every value literal where `{{.Vars}}` stands unquoted, as in the default `execute_command`.
 *
 * @param keyPath the template key of the provisioner, for messages (`provisioners[2]`).
 * @throws TemplateValidationError for a name that is not a shell variable name: Packer would paste it unquoted.
 */
export function packerEnvVars(
  environmentVars: readonly { name: string; value: string }[],
  buildName: string,
  keyPath: string,
): string {
  const vars = new Map<string, string>([
    ['PACKER_BUILDER_TYPE', PACKER_BUILDER_TYPE],
    ['PACKER_BUILD_NAME', buildName],
  ]);
  const bad: string[] = [];
  for (const { name, value } of environmentVars) {
    if (!ENV_NAME.test(name)) {
      bad.push(
        `${keyPath}.environment_vars: ${JSON.stringify(name)} is not a valid environment variable name ` +
          '(letters, digits and _, not starting with a digit)',
      );
      continue;
    }
    vars.set(name, value);
  }
  if (bad.length > 0) throw new TemplateValidationError(bad);
  return [...vars.keys()]
    .sort()
    .map((name) => `${name}='${(vars.get(name) ?? '').replace(/'/g, `'"'"'`)}' `)
    .join('');
}

/**
 * `{{.Path}}`: `<remote_folder>/script_<n>.sh`, as Packer names the uploaded script (one path per provisioner,
 * reused for each of its scripts). The path is substituted raw into `execute_command`, so it must be
 * {@link isShellSafe}.
 *
 * @param suffix Packer's `rand.Intn(9999)`, chosen by the caller.
 * @throws TemplateValidationError when `remote_folder` holds characters that a shell would interpret.
 */
export function remoteScriptPath(remoteFolder: string, suffix: number, keyPath: string): string {
  const path = joinRemote(remoteFolder, `script_${suffix}.sh`);
  if (!remoteFolder.startsWith('/') || !isShellSafe(path)) {
    throw new TemplateValidationError([
      `${keyPath}.remote_folder: ${JSON.stringify(remoteFolder)} must be an absolute path made of letters, ` +
        'digits and _ . / : @ % + = , - only, because {{.Path}} is pasted unquoted into execute_command',
    ]);
  }
  return path;
}

/**
 * Renders `execute_command` with Packer's `ExecuteCommandTemplate` data: `{{.Vars}}`, `{{.Path}}` and
 * `{{.EnvVarFile}}` (always empty: `use_env_var_file` has no effect here), and the given template functions
 * (Packer's, bound to the build: `packerFunctions` of ../template/functions.ts).
 *
 * @throws TemplateValidationError when the template does not parse, names another field or a function fails.
 */
export function renderExecuteCommand(
  template: string,
  data: { Vars: string; Path: string },
  keyPath: string,
  functions: Record<string, TemplateFunction> = {},
): string {
  try {
    return renderTemplate(template, { ...data, EnvVarFile: '' }, functions);
  } catch (error) {
    if (error instanceof TemplateSyntaxError || error instanceof TemplateRenderError) {
      throw new TemplateValidationError([`${keyPath}.execute_command: ${error.message}`]);
    }
    throw error;
  }
}

/** The script Packer writes for `inline`: `#!<inline_shebang>`, then each command on its own line. */
export function inlineScript(shebang: string, commands: readonly string[]): string {
  return `#!${shebang}\n${commands.map((c) => `${c}\n`).join('')}`;
}

/** One script of a shell provisioner. */
export interface ShellScriptEntry {
  /** Name of the staged file in the command folder (chosen by us: `scripts/0`, `inline.sh`). */
  staged: string;
  /** `{{.Path}}` on the instance. */
  remotePath: string;
  /** What the progress line names: the S3 URI of the script, or `inline commands`. */
  label: string;
  /** `execute_command`, rendered. */
  command: string;
}

export interface ShellScriptInput {
  /** `ssh_username`; absent: root. */
  runAsUser?: string;
  /** `valid_exit_codes` */
  validExitCodes: readonly number[];
  scripts: readonly ShellScriptEntry[];
}

const STAGED_NAME = /^[A-Za-z0-9_./-]+$/;

function checkStagedName(name: string): string {
  if (!STAGED_NAME.test(name) || name.startsWith('/') || name.split('/').includes('..')) {
    throw new Error(`internal: staged file name ${JSON.stringify(name)} is not a plain relative path`);
  }
  return name;
}

/**
 * A shell provisioner's `run.sh`: for each script, place it at `{{.Path}}` (owned by the run-as user), run the
 * rendered `execute_command` as that user, remove the script, and stop at the first exit code outside
 * `valid_exit_codes` with Packer's message, exiting with that code. Exits 0 when every script ended with a
 * valid code.
 */
export function shellProvisionerScript(input: ShellScriptInput): string {
  const codes = input.validExitCodes.length > 0 ? input.validExitCodes : [0];
  for (const code of codes) {
    if (!Number.isInteger(code)) throw new Error(`internal: exit code ${code} is not an integer`);
  }
  const lines = [
    ...prelude({
      title: 'Provisioning with shell...',
      assignments: [['AMI_BUILDER_SCRIPT', '']],
      onExit: ['[ -z "$AMI_BUILDER_SCRIPT" ] || rm -f -- "$AMI_BUILDER_SCRIPT"'],
    }),
    ...runAsSetup(input.runAsUser),
    ...runAsFunction(),
    ...fileFunctions(),
    assign('VALID_EXIT_CODES', ` ${codes.join(' ')} `),
    assign('VALID_EXIT_CODES_TEXT', `[${codes.join(' ')}]`),
    'ami_builder_check_exit() {',
    '  case "$VALID_EXIT_CODES" in',
    '    *" $1 "*) return 0 ;;',
    '  esac',
    '  echo "Script exited with non-zero exit status: $1. Allowed exit codes are: $VALID_EXIT_CODES_TEXT" >&2',
    '  return 1',
    '}',
  ];
  input.scripts.forEach((script, i) => {
    lines.push(
      say(`Provisioning with shell script: ${script.label}`),
      assign('AMI_BUILDER_SCRIPT', script.remotePath),
      // Packer runs `chmod 0755` on every uploaded script, inline ones included.
      `ami_builder_install ${checkStagedName(script.staged)} "$AMI_BUILDER_SCRIPT" 0755 || exit 1`,
      assign(`COMMAND_${i}`, `${FROM_HOME}${script.command}`),
      `ami_builder_run_as "$COMMAND_${i}"`,
      'code=$?',
      'rm -f -- "$AMI_BUILDER_SCRIPT"',
      'ami_builder_check_exit "$code" || exit "$code"',
    );
  });
  lines.push('exit 0');
  return scriptText(lines);
}

/** One file a file provisioner places. */
export interface FilePlacement {
  /** Name of the staged file in the command folder (`files/0`). */
  staged: string;
  /** Absolute path on the instance. */
  target: string;
}

/** One `source` (or `content`) of a file provisioner, resolved to the files it places. */
export interface FileUpload {
  /** What the progress line names: the S3 URI, or `content`. */
  label: string;
  /** `destination` as written (for the progress line). */
  destination: string;
  /** Directories to create first (parents before children); existing ones are left alone. */
  directories: string[];
  files: FilePlacement[];
}

export interface FileScriptInput {
  runAsUser?: string;
  uploads: readonly FileUpload[];
}

/**
 * A file provisioner's `run.sh`: creates the directories a directory upload needs and places each staged file
 * at its target (mode 0644), owned by the run-as user when set. Packer writes as that user over SSH; here root
 * writes and hands the new files and directories to the user.
 */
export function fileProvisionerScript(input: FileScriptInput): string {
  const lines = [
    ...prelude({ title: 'Uploading files...' }),
    ...runAsSetup(input.runAsUser),
    ...fileFunctions(),
  ];
  for (const upload of input.uploads) {
    lines.push(say(`Uploading ${upload.label} => ${upload.destination}`));
    for (const dir of upload.directories) {
      lines.push(`ami_builder_ensure_dir ${shellQuote(normalizeRemotePath(dir))} || exit 1`);
    }
    for (const file of upload.files) {
      lines.push(
        `ami_builder_install ${checkStagedName(file.staged)} ${shellQuote(normalizeRemotePath(file.target))} 0644 || exit 1`,
      );
    }
    lines.push(message(`${upload.files.length} file(s) uploaded`));
  }
  lines.push('exit 0');
  return scriptText(lines);
}
