/**
 * The `run.sh` of a `puppet-masterless` provisioner: Packer's `Provision` (packer-plugin-puppet
 * `provisioner/puppet-masterless`, Unix guests), with its messages, its `execute_command` and its exit codes
 * (0 and 2 are success: `--detailed-exitcodes`). Every value in the command is quoted for its place.
 */
import type { FileRef } from '../config.js';
import { TemplateValidationError } from '../errors.js';
import { shellQuote } from '../shell.js';
import { composeCommandTemplate } from '../template/command-template.js';
import { parseTemplate, positionOf, type TemplateFunction } from '../template/engine.js';
import type { PuppetMasterlessProvisioner } from '../template/provisioners/puppet-masterless.js';
import {
  assign,
  FROM_HOME,
  fileFunctions,
  joinRemote,
  message,
  prelude,
  runAsFunction,
  runAsSetup,
  scriptText,
} from './common.js';
import { GuestFiles, type GuestSource, type GuestStagedFile, sourceQueue } from './guest.js';

/** The references a `puppet-masterless` provisioner uploads, in the order its plan takes them. */
export function puppetRefs(p: PuppetMasterlessProvisioner): FileRef[] {
  return [
    ...(p.hieraConfigPath === undefined ? [] : [p.hieraConfigPath]),
    ...(p.manifestDir === undefined ? [] : [p.manifestDir]),
    ...p.modulePaths,
    p.manifestFile,
  ];
}

/** `FACTER_<name>='<value>'`, sorted by name, as Packer's Unix `facterVarsFmt` (with `'` escaped). */
export function facterVars(facter: Readonly<Record<string, string>>): string {
  return Object.keys(facter)
    .sort()
    .map((name) => `FACTER_${name}='${(facter[name] ?? '').replace(/'/g, `'"'"'`)}'`)
    .join(' ');
}

export interface PuppetCommandData {
  WorkingDir: string;
  FacterVars: string;
  Sudo: boolean;
  PuppetBinDir: string;
  ModulePath: string;
  HieraConfigPath: string;
  ManifestDir: string;
  ManifestFile: string;
  /** The words of `extra_arguments`. */
  extraArguments: readonly string[];
}

/**
 * Renders `execute_command` with Packer's `ExecuteTemplate` data and composes the command line: each value
 * quoted for its place, `{{.FacterVars}}` and `{{.ExtraArguments}}` as words of their own.
 *
 * @throws TemplateValidationError when a value cannot be quoted where the template puts it.
 */
export function renderPuppetCommand(
  template: string,
  data: PuppetCommandData,
  functions: Record<string, TemplateFunction>,
  keyPath: string,
): string {
  const composed = composeCommandTemplate(
    parseTemplate(template),
    {
      ExtraArguments: data.extraArguments.map(shellQuote).join(' '),
      FacterVars: data.FacterVars,
      HieraConfigPath: data.HieraConfigPath,
      ModulePath: data.ModulePath,
      ManifestFile: data.ManifestFile,
      ManifestDir: data.ManifestDir,
      PuppetBinDir: data.PuppetBinDir,
      Sudo: data.Sudo,
      WorkingDir: data.WorkingDir,
    },
    {
      functions,
      words: new Set(['FacterVars', 'ExtraArguments']),
      plain: { Debug: false, ModulePathJoiner: ':' },
      functionOutput: 'value',
      label: (pos) => {
        const { line, column } = positionOf(template, Math.max(template.lastIndexOf('{{', pos), 0));
        return `${keyPath}.execute_command: line ${line}, column ${column}`;
      },
    },
  );
  if ('problem' in composed) throw new TemplateValidationError([composed.problem]);
  return composed.command;
}

export interface PuppetInput {
  provisioner: PuppetMasterlessProvisioner;
  /** The resolved sources of {@link puppetRefs}, in order. */
  sources: readonly GuestSource[];
  runAsUser?: string;
  functions: Record<string, TemplateFunction>;
  keyPath: string;
  step: string;
}

/** The staged files and `run.sh` of a `puppet-masterless` provisioner. */
export function puppetScript(input: PuppetInput): { script: string; staged: GuestStagedFile[] } {
  const p = input.provisioner;
  const files = new GuestFiles(input.step);
  const next = sourceQueue(input.sources, input.step);
  const staging = p.stagingDirectory;
  const lines = [
    ...prelude({ title: 'Provisioning with Puppet...' }),
    ...runAsSetup(input.runAsUser),
    ...runAsFunction(),
    ...fileFunctions(),
    message('Creating Puppet staging directory...'),
    `ami_builder_ensure_dir ${shellQuote(staging)} || exit 1`,
    `chmod 0777 -- ${shellQuote(staging)} || exit 1`,
  ];
  let hiera = '';
  if (p.hieraConfigPath !== undefined) {
    hiera = `${staging}/hiera.yaml`;
    lines.push(
      message('Uploading hiera configuration...'),
      ...files.file(next(), 'hiera_config_path', hiera),
    );
  }
  let manifestDir = '';
  if (p.manifestDir !== undefined) {
    const source = next();
    manifestDir = `${staging}/manifests`;
    lines.push(
      message(`Uploading manifest directory from: ${source.uri}`),
      ...files.directory(source, 'manifest_dir', manifestDir),
    );
  }
  const modulePaths: string[] = [];
  p.modulePaths.forEach((_, i) => {
    const source = next();
    const target = `${staging}/module-${i}`;
    lines.push(
      message(`Uploading local modules from: ${source.uri}`),
      ...files.directory(source, `module_paths[${i}]`, target),
    );
    modulePaths.push(target);
  });
  const manifests = `${staging}/manifests`;
  lines.push(message('Uploading manifests...'), `ami_builder_ensure_dir ${shellQuote(manifests)} || exit 1`);
  const manifest = next();
  let manifestFile: string;
  if (manifest.layout === 'file') {
    manifestFile = joinRemote(manifests, manifest.basename);
    lines.push(
      message(`Uploading manifest file from: ${manifest.uri}`),
      ...files.file(manifest, 'manifest_file', manifestFile),
    );
  } else {
    manifestFile = manifests;
    lines.push(
      message(`Uploading manifest directory from: ${manifest.uri}`),
      ...files.directory(manifest, 'manifest_file', manifests),
    );
  }
  const command = renderPuppetCommand(
    p.executeCommand,
    {
      WorkingDir: p.workingDirectory,
      FacterVars: facterVars(p.facter),
      Sudo: !p.preventSudo,
      PuppetBinDir: p.puppetBinDir ?? '',
      ModulePath: modulePaths.join(':'),
      HieraConfigPath: hiera,
      ManifestDir: manifestDir,
      ManifestFile: manifestFile,
      extraArguments: p.extraArguments,
    },
    input.functions,
    input.keyPath,
  );
  lines.push(
    message(`Running Puppet: ${command}`),
    assign('PUPPET_COMMAND', `${FROM_HOME}${command}`),
    'ami_builder_run_as "$PUPPET_COMMAND"',
    'code=$?',
  );
  if (!p.ignoreExitCodes) {
    lines.push(
      'if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then',
      '  echo "Puppet exited with a non-zero exit status: $code" >&2',
      '  exit "$code"',
      'fi',
    );
  }
  if (p.cleanStagingDirectory) lines.push(`rm -rf -- ${shellQuote(staging)} || exit 1`);
  lines.push('exit 0');
  return { script: scriptText(lines), staged: files.staged };
}
