/**
 * The `puppet-masterless` provisioner (packer-plugin-puppet `provisioner/puppet-masterless`, Unix guests): its
 * keys, defaults and Packer's validation messages. Puppet runs on the instance (`puppet apply`) and is not
 * installed for the user, as in Packer.
 */
import type { FileRef, ProvisionerTiming } from '../../config.js';
import { type Decoded, describeValue, hasLineBreakOrNul } from '../decode.js';
import { referencedFields, referencedUserVariables } from '../engine.js';
import { FIELD_TYPE, type FieldSpec } from '../keys.js';
import { parseAt } from '../render.js';
import {
  checkGuestOsType,
  extraArguments,
  type GuestContext,
  optionalRef,
  refList,
  remoteDirectory,
} from './guest.js';

/** Packer's Unix `stagingDir`. */
export const PUPPET_STAGING_DIRECTORY = '/tmp/packer-puppet-masterless';

/** Packer's Unix `executeCommand`. */
export const PUPPET_EXECUTE_COMMAND =
  'cd {{.WorkingDir}} && ' +
  '{{if ne .FacterVars ""}}{{.FacterVars}} {{end}}' +
  '{{if .Sudo}}sudo -E {{end}}' +
  '{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}' +
  'puppet apply --detailed-exitcodes ' +
  '{{if .Debug}}--debug {{end}}' +
  `{{if ne .ModulePath ""}}--modulepath='{{.ModulePath}}' {{end}}` +
  `{{if ne .HieraConfigPath ""}}--hiera_config='{{.HieraConfigPath}}' {{end}}` +
  `{{if ne .ManifestDir ""}}--manifestdir='{{.ManifestDir}}' {{end}}` +
  '{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}' +
  '{{.ManifestFile}}';

/** The fields of `execute_command` (Packer's `ExecuteTemplate`). */
export const PUPPET_COMMAND_FIELDS: readonly string[] = [
  'Debug',
  'ExtraArguments',
  'FacterVars',
  'HieraConfigPath',
  'ModulePath',
  'ModulePathJoiner',
  'ManifestFile',
  'ManifestDir',
  'PuppetBinDir',
  'Sudo',
  'WorkingDir',
];

export interface PuppetMasterlessProvisioner extends ProvisionerTiming {
  type: 'puppet-masterless';
  index: number;
  /** Display name: `puppet-masterless` or the provisioner's `name`. */
  name: string;
  /** `execute_command`, a template over {@link PUPPET_COMMAND_FIELDS}; every value is quoted for its place. */
  executeCommand: string;
  /** `extra_arguments`, split into words (each is quoted). */
  extraArguments: string[];
  /** `facter`, plus `packer_build_name` and `packer_builder_type`. */
  facter: Record<string, string>;
  /** `hiera_config_path`: uploaded to `<staging>/hiera.yaml`. */
  hieraConfigPath?: FileRef;
  /** `ignore_exit_codes` */
  ignoreExitCodes: boolean;
  /** `module_paths`: each to `<staging>/module-<i>`. */
  modulePaths: FileRef[];
  /** `manifest_file`: a file (to `<staging>/manifests/<name>`) or a directory (to `<staging>/manifests`). */
  manifestFile: FileRef;
  /** `manifest_dir`: to `<staging>/manifests`. */
  manifestDir?: FileRef;
  /** `prevent_sudo` */
  preventSudo: boolean;
  /** `puppet_bin_dir` */
  puppetBinDir?: string;
  /** `staging_directory`, default `/tmp/packer-puppet-masterless`. */
  stagingDirectory: string;
  /** `working_directory`, default: the staging directory. */
  workingDirectory: string;
  /** `clean_staging_directory` */
  cleanStagingDirectory: boolean;
  /** The user variables `execute_command` reads (`{{user "x"}}`), resolved at validation. */
  commandVariables?: Record<string, string>;
}

const { list, str, bool } = FIELD_TYPE;

/** `puppet-masterless` keys, without the common ones. */
export const PUPPET_MASTERLESS_OWN_KEYS: readonly FieldSpec[] = [
  {
    key: 'execute_command',
    type: str,
    default: PUPPET_EXECUTE_COMMAND,
    description: `A template over {{.${PUPPET_COMMAND_FIELDS.join('}}, {{.')}}}; each value is quoted for its place.`,
  },
  {
    key: 'extra_arguments',
    type: list,
    description: 'Extra arguments of puppet apply; split into words as a shell would, without expansion.',
  },
  {
    key: 'facter',
    type: { kind: 'stringMap' },
    description: 'Facts set as `FACTER_<name>` (with `packer_build_name` and `packer_builder_type`).',
  },
  { key: 'hiera_config_path', type: str, description: 'Hiera configuration, uploaded as `hiera.yaml`.' },
  {
    key: 'ignore_exit_codes',
    type: bool,
    default: false,
    description: 'Succeed whatever puppet returns (else only 0 and 2).',
  },
  { key: 'manifest_file', type: str, description: 'The manifest (a file or a directory) to apply.' },
  { key: 'manifest_dir', type: str, description: 'Directory uploaded to `<staging>/manifests`.' },
  { key: 'module_paths', type: list, description: 'Module directories, uploaded to `<staging>/module-<i>`.' },
  { key: 'prevent_sudo', type: bool, default: false, description: 'Do not run puppet with `sudo -E`.' },
  { key: 'puppet_bin_dir', type: str, description: 'Directory of the puppet binary on the instance.' },
  {
    key: 'staging_directory',
    type: str,
    default: PUPPET_STAGING_DIRECTORY,
    description: 'Directory on the instance the files are uploaded to.',
  },
  {
    key: 'working_directory',
    type: str,
    description: 'Directory puppet runs in; default: `staging_directory`.',
  },
  {
    key: 'clean_staging_directory',
    type: bool,
    default: false,
    description: 'Remove the staging directory after the run.',
  },
  {
    key: 'guest_os_type',
    type: { kind: 'string' },
    default: 'unix',
    description: 'Only `unix` (instance-store AMIs are Linux).',
  },
];

const FACT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Decodes a `puppet-masterless` provisioner with Packer's checks and messages (`Prepare`). */
export function decodePuppetMasterless(
  d: Decoded,
  ctx: GuestContext,
  build: { name: string; type: string; userVariables?: Record<string, string> },
):
  | Omit<PuppetMasterlessProvisioner, 'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'>
  | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  checkGuestOsType(d.string('guest_os_type'), d.at('guest_os_type'), report);
  const hiera = optionalRef(d, 'hiera_config_path', ctx, (_v, e) => `hiera_config_path is invalid: ${e}`, {
    kind: 'file',
    wrong: () => 'hiera_config_path must point to a file',
  });
  const manifestDir = optionalRef(d, 'manifest_dir', ctx, (_v, e) => `manifest_dir is invalid: ${e}`, {
    kind: 'directory',
    wrong: () => 'manifest_dir must point to a directory',
  });
  const manifestFile = optionalRef(d, 'manifest_file', ctx, (_v, e) => `manifest_file is invalid: ${e}`);
  if (d.nonEmpty('manifest_file') === undefined && !d.failed.has('manifest_file'))
    report.error(d.path, 'A manifest_file must be specified.');
  const modules = refList(d, 'module_paths', ctx, (_v, i, e) => `module_path[${i}] is invalid: ${e}`, {
    kind: 'directory',
    wrong: (_v, i) => `module_path[${i}] must point to a directory`,
  });
  const facter: Record<string, string> = {};
  for (const [name, value] of Object.entries(d.map('facter') ?? {})) {
    if (!FACT_NAME.test(name)) {
      report.error(
        [...d.at('facter'), name],
        `facter: ${describeValue(name)} must be a fact name (letters, digits and _, not starting with a digit): it becomes the variable FACTER_<name>`,
      );
    } else if (value.includes('\u0000')) {
      report.error([...d.at('facter'), name], `facter: the value of ${name} must not contain NUL characters`);
    } else {
      facter[name] = value;
    }
  }
  facter.packer_build_name = build.name;
  facter.packer_builder_type = build.type;
  const extra = extraArguments(d, 'extra_arguments', report);
  const staging = remoteDirectory(d, 'staging_directory', report) ?? PUPPET_STAGING_DIRECTORY;
  const working = remoteDirectory(d, 'working_directory', report) ?? staging;
  const binDir = d.nonEmpty('puppet_bin_dir');
  if (binDir !== undefined && hasLineBreakOrNul(binDir))
    report.error(d.at('puppet_bin_dir'), 'puppet_bin_dir must not contain line breaks or NUL characters');
  const executeCommand = d.nonEmpty('execute_command') ?? PUPPET_EXECUTE_COMMAND;
  const parsed = parseAt(executeCommand, d.at('execute_command'), report);
  const unknown =
    parsed === undefined ? [] : referencedFields(parsed).filter((f) => !PUPPET_COMMAND_FIELDS.includes(f));
  if (unknown.length > 0) {
    report.error(
      d.at('execute_command'),
      `execute_command: unknown variable ${unknown.map((f) => `{{.${f}}}`).join(', ')}; allowed: ${PUPPET_COMMAND_FIELDS.map((f) => `{{.${f}}}`).join(', ')}`,
    );
  }
  if (report.problems.length > before || extra === undefined || manifestFile.ref === undefined)
    return undefined;
  const result: Omit<
    PuppetMasterlessProvisioner,
    'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'
  > = {
    type: 'puppet-masterless',
    name: d.nonEmpty('name') ?? 'puppet-masterless',
    executeCommand,
    extraArguments: extra,
    facter,
    ignoreExitCodes: d.boolean('ignore_exit_codes') ?? false,
    modulePaths: modules.refs,
    manifestFile: manifestFile.ref,
    preventSudo: d.boolean('prevent_sudo') ?? false,
    stagingDirectory: staging,
    workingDirectory: working,
    cleanStagingDirectory: d.boolean('clean_staging_directory') ?? false,
  };
  if (hiera.ref !== undefined) result.hieraConfigPath = hiera.ref;
  if (manifestDir.ref !== undefined) result.manifestDir = manifestDir.ref;
  if (binDir !== undefined) result.puppetBinDir = binDir;
  const names = parsed === undefined ? [] : referencedUserVariables(parsed);
  if (names.length > 0) {
    result.commandVariables = Object.fromEntries(
      names.map((n) => [
        n,
        Object.hasOwn(build.userVariables ?? {}, n) ? (build.userVariables?.[n] ?? '') : '',
      ]),
    );
  }
  return result;
}
