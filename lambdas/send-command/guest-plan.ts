/**
 * The command folders of the guest-side provisioners (ansible-local, chef-solo, puppet-masterless,
 * salt-masterless): their generated `run.sh`, the generated configuration files, and every file of the trees
 * they upload, each staged as `files/<n>`.
 */

import { ProvisionerFailedError, TaskInputError, TemplateValidationError } from '../shared/errors.js';
import { chefSoloScript } from '../shared/scripts/chef-solo.js';
import { joinRemote, normalizeRemotePath } from '../shared/scripts/common.js';
import type { GuestPlacement } from '../shared/scripts/guest.js';
import { guestScript } from '../shared/scripts/guest-provisioners.js';
import { PACKER_BUILDER_TYPE } from '../shared/scripts/provision.js';
import { saltScript } from '../shared/scripts/salt-masterless.js';
import type { BuildState } from '../shared/state.js';
import { renderTemplate, TemplateRenderError, TemplateSyntaxError } from '../shared/template/engine.js';
import { packerFunctions } from '../shared/template/functions.js';
import {
  CHEF_SOLO_CONFIG_TEMPLATE,
  type ChefSoloProvisioner,
} from '../shared/template/provisioners/chef-solo.js';
import type { GuestUpload } from '../shared/template/provisioners/guest.js';
import type { GuestProvisioner } from '../shared/template/provisioners/guest-types.js';
import {
  SALT_CONFIG_DIR,
  type SaltMasterlessProvisioner,
} from '../shared/template/provisioners/salt-masterless.js';
import { seededUuid } from '../shared/template/uuid.js';
import type { ResolvedSource, StagedFile } from './plan.js';

/** What the caller resolved for a guest provisioner: its uploads' S3 sources, in order, and the config template. */
export interface GuestInputs {
  sources: readonly ResolvedSource[];
  /** The text of chef-solo's `config_template`. */
  configTemplate?: string;
}

const RUN_SCRIPT = 'run.sh';

function checkRelative(relative: string, uri: string, step: string): string[] {
  const segments = relative.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new ProvisionerFailedError(
      `${step} cannot upload ${uri}: the object path ${JSON.stringify(relative)} below it has an empty, "." or ".." segment`,
    );
  }
  return segments;
}

/** Resolves each upload to the staged files it places, checking that a directory is one and a file is one. */
function placements(
  uploads: readonly GuestUpload[],
  sources: readonly ResolvedSource[],
  staged: StagedFile[],
  step: string,
): GuestPlacement[] {
  if (sources.length !== uploads.length) {
    throw new TaskInputError(`${step}: the provisioner's files were not resolved before planning`);
  }
  return uploads.map((upload, i) => {
    const source = sources[i];
    if (source === undefined) throw new TaskInputError(`${step}: ${upload.key} was not resolved`);
    const stage = (key: string) => {
      const name = `files/${staged.length}`;
      staged.push({ name, source: { kind: 's3', bucket: source.bucket, key } });
      return name;
    };
    if (upload.kind === 'file') {
      const object = source.objects[0];
      if (source.layout !== 'file' || object === undefined) {
        throw new ProvisionerFailedError(`${step}: ${upload.key} ${source.uri} must be a file, not a folder`);
      }
      return {
        label: source.uri,
        directories: [],
        files: [{ staged: stage(object.key), target: upload.target }],
      };
    }
    if (source.layout === 'file') {
      throw new ProvisionerFailedError(`${step}: ${upload.key} ${source.uri} must be a folder, not a file`);
    }
    const root = normalizeRemotePath(upload.target);
    const dirs = new Set<string>([root]);
    const files = source.objects.map((object) => {
      const segments = checkRelative(object.relative, source.uri, step);
      let dir = root;
      for (const segment of segments.slice(0, -1)) {
        dir = joinRemote(dir, segment);
        dirs.add(dir);
      }
      return { staged: stage(object.key), target: joinRemote(root, segments.join('/')) };
    });
    const directories = [...dirs].sort(
      (a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b),
    );
    return { label: source.uri, directories, files };
  });
}

function chefPlan(
  build: BuildState,
  p: ChefSoloProvisioner,
  inputs: GuestInputs,
  keyPath: string,
  step: string,
) {
  const staged: StagedFile[] = [];
  const placed = placements(p.uploads, inputs.sources, staged, step);
  const failures: Record<string, string> = {
    roles_path: 'Error uploading roles',
    data_bags_path: 'Error uploading data bags',
    encrypted_data_bag_secret_path: 'Error uploading encrypted data bag secret',
    environments_path: 'Error uploading environments',
  };
  const template = p.configTemplate === undefined ? CHEF_SOLO_CONFIG_TEMPLATE : inputs.configTemplate;
  if (template === undefined)
    throw new TaskInputError(`${step}: config_template was not read before planning`);
  const data = p.configData;
  let solo: string;
  try {
    solo = renderTemplate(
      template,
      {
        ...data,
        HasRolesPath: data.RolesPath !== '',
        HasDataBagsPath: data.DataBagsPath !== '',
        HasEncryptedDataBagSecretPath: data.EncryptedDataBagSecretPath !== '',
        HasEnvironmentsPath: data.EnvironmentsPath !== '',
      },
      packerFunctions({
        now: new Date(build.execution.startTime),
        uuid: seededUuid(`${build.execution.id}:${keyPath}.config_template`),
        userVariables: build.config.lateVariables,
        buildName: build.config.name,
        buildType: 'amazon-instance',
      }),
    );
  } catch (error) {
    if (error instanceof TemplateSyntaxError || error instanceof TemplateRenderError) {
      throw new TemplateValidationError([
        `${keyPath}.config_template: Error creating Chef config file: ${error.message}`,
      ]);
    }
    throw error;
  }
  staged.push(
    { name: 'solo.rb', source: { kind: 'text', body: solo } },
    { name: 'node.json', source: { kind: 'text', body: JSON.stringify(p.nodeJson, null, 2) } },
  );
  const script = chefSoloScript({
    ...(build.config.runAsUser === undefined ? {} : { runAsUser: build.config.runAsUser }),
    ...(p.installCommand === undefined ? {} : { installCommand: p.installCommand }),
    stagingDirectory: p.stagingDirectory,
    uploads: placed.map((placement, i) => ({
      ...placement,
      // The data bag secret is readable by its owner (and chef-solo's sudo) only.
      ...(p.uploads[i]?.key === 'encrypted_data_bag_secret_path' ? { mode: '0600' as const } : {}),
      failure: failures[p.uploads[i]?.key ?? ''] ?? 'Error uploading cookbooks',
    })),
    soloRb: 'solo.rb',
    nodeJson: 'node.json',
    configPath: joinRemote(p.stagingDirectory, 'solo.rb'),
    jsonPath: joinRemote(p.stagingDirectory, 'node.json'),
    executeCommand: p.executeCommand,
    sudo: p.sudo,
  });
  return [{ name: RUN_SCRIPT, source: { kind: 'text' as const, body: script } }, ...staged];
}

function saltPlan(build: BuildState, p: SaltMasterlessProvisioner, inputs: GuestInputs, step: string) {
  const staged: StagedFile[] = [];
  const placed = placements(p.uploads, inputs.sources, staged, step);
  const byKey = (key: string) => {
    const i = p.uploads.findIndex((u) => u.key === key);
    return i < 0 ? undefined : placed[i];
  };
  const stateTree = byKey('local_state_tree');
  if (stateTree === undefined) throw new TaskInputError(`${step}: local_state_tree was not resolved`);
  const minion = byKey('minion_config');
  const grains = byKey('grains_file');
  const pillar = byKey('local_pillar_roots');
  const script = saltScript({
    ...(build.config.runAsUser === undefined ? {} : { runAsUser: build.config.runAsUser }),
    tempConfigDir: p.tempConfigDir,
    configDir: SALT_CONFIG_DIR,
    ...(p.bootstrap === undefined ? {} : { bootstrap: p.bootstrap }),
    ...(minion === undefined ? {} : { minionConfig: minion }),
    ...(grains === undefined ? {} : { grainsFile: grains }),
    stateTree,
    ...(pillar === undefined ? {} : { pillarRoots: pillar }),
    stateTreeTarget: p.stateTree,
    pillarRootsTarget: p.pillarRoots,
    formulas: p.formulas,
    saltCall: p.saltCall,
    saltCallArgs: p.saltCallArgs,
    sudo: p.sudo,
    noExitOnFailure: p.noExitOnFailure,
  });
  return [{ name: RUN_SCRIPT, source: { kind: 'text' as const, body: script } }, ...staged];
}

/** An ansible-local or puppet-masterless command: its references were resolved into `sources`, in order. */
function scriptPlan(
  build: BuildState,
  provisioner: Exclude<GuestProvisioner, ChefSoloProvisioner | SaltMasterlessProvisioner>,
  inputs: GuestInputs,
  where: GuestWhere,
): StagedFile[] {
  const { keyPath, step } = where;
  const seed = build.execution.id;
  const { script, staged } = guestScript(provisioner, {
    sources: inputs.sources,
    ...(build.config.runAsUser === undefined ? {} : { runAsUser: build.config.runAsUser }),
    buildName: build.config.name,
    builderType: PACKER_BUILDER_TYPE,
    functions: packerFunctions({
      now: new Date(build.execution.startTime),
      uuid: seededUuid(`${seed}:${keyPath}.execute_command`),
      userVariables: {
        ...build.config.lateVariables,
        ...(provisioner.type === 'puppet-masterless' ? provisioner.commandVariables : {}),
      },
      buildName: build.config.name,
      buildType: PACKER_BUILDER_TYPE,
    }),
    uuid: seededUuid(`${seed}:${keyPath}.staging_directory`)(),
    suffix: where.scriptSuffix,
    keyPath,
    step,
  });
  return [{ name: RUN_SCRIPT, source: { kind: 'text', body: script } }, ...staged];
}

/** Where a guest command stands: its template key path, its step name, and Packer's random script suffix. */
export interface GuestWhere {
  keyPath: string;
  step: string;
  scriptSuffix: number;
}

/** The staged files of a guest provisioner's command, by its type. */
export function guestPlan(
  build: BuildState,
  provisioner: GuestProvisioner,
  inputs: GuestInputs,
  where: GuestWhere,
): StagedFile[] {
  switch (provisioner.type) {
    case 'chef-solo':
      return chefPlan(build, provisioner, inputs, where.keyPath, where.step);
    case 'salt-masterless':
      return saltPlan(build, provisioner, inputs, where.step);
    default:
      return scriptPlan(build, provisioner, inputs, where);
  }
}
