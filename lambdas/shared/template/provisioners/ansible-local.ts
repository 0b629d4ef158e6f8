/**
 * The `ansible-local` provisioner (packer-plugin-ansible `provisioner/ansible-local`): its keys, defaults and
 * Packer's validation messages. Ansible runs on the instance (`-c local`) and is not installed for the user, as
 * in Packer. Local files and directories are uploaded by the CLI and are `s3://` references in the workflow.
 */
import type { FileRef, ProvisionerTiming } from '../../config.js';
import type { Decoded } from '../decode.js';
import { FIELD_TYPE, type FieldSpec } from '../keys.js';
import {
  extraArguments,
  type GuestContext,
  optionalRef,
  refBasename,
  refList,
  remoteDirectory,
} from './guest.js';

/** Packer's `DefaultStagingDir`; the default `staging_directory` is `<this>/<uuid>`. */
export const ANSIBLE_LOCAL_STAGING_ROOT = '/tmp/packer-provisioner-ansible-local';
/** Packer's default `command`. */
export const ANSIBLE_LOCAL_COMMAND = 'ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook';

export interface AnsibleLocalProvisioner extends ProvisionerTiming {
  type: 'ansible-local';
  index: number;
  /** Display name: `ansible-local` or the provisioner's `name`. */
  name: string;
  /** `command`: the text before the playbook, pasted as written (it is the user's command line). */
  command: string;
  /** `extra_arguments`, split into words (each is quoted on the command line). */
  extraArguments: string[];
  /** `playbook_file` */
  playbookFile?: FileRef;
  /** `playbook_files`, run in order. */
  playbookFiles: FileRef[];
  /** `playbook_dir`: uploaded as the staging directory itself, before everything else. */
  playbookDir?: FileRef;
  /** `playbook_paths`: each to `<staging>/playbooks/<name>`. */
  playbookPaths: FileRef[];
  /** `role_paths`: each to `<staging>/roles/<name>`. */
  rolePaths: FileRef[];
  /** `collection_paths`: each to `<staging>/collections/<name>`. */
  collectionPaths: FileRef[];
  /** `group_vars`: to `<staging>/group_vars`. */
  groupVars?: FileRef;
  /** `host_vars`: to `<staging>/host_vars`. */
  hostVars?: FileRef;
  /** `inventory_file`; absent: one is generated with `127.0.0.1` (in `inventory_groups`). */
  inventoryFile?: FileRef;
  /** `inventory_groups` */
  inventoryGroups: string[];
  /** `galaxy_file` */
  galaxyFile?: FileRef;
  /** `galaxy_command`, default `ansible-galaxy`, pasted as written. */
  galaxyCommand: string;
  /** `galaxy_force_install` */
  galaxyForceInstall: boolean;
  /** `galaxy_roles_path`; default `<staging>/galaxy_roles`. */
  galaxyRolesPath?: string;
  /** `galaxy_collections_path`; default `<staging>/galaxy_collections`. */
  galaxyCollectionsPath?: string;
  /** `staging_directory`; default `/tmp/packer-provisioner-ansible-local/<uuid>`, chosen when the command is planned. */
  stagingDirectory?: string;
  /** `clean_staging_directory`, default false (the staging directory stays in the image, as in Packer). */
  cleanStagingDirectory: boolean;
  /** Environment variables set for ansible-playbook (from a remote `ansible` provisioner's `ansible_env_vars`). */
  environmentVars: { name: string; value: string }[];
}

const { list, str, bool } = FIELD_TYPE;

/** `ansible-local` keys, without the common ones. */
export const ANSIBLE_LOCAL_OWN_KEYS: readonly FieldSpec[] = [
  {
    key: 'command',
    type: str,
    default: ANSIBLE_LOCAL_COMMAND,
    description: 'The command that runs a playbook, pasted before it as written.',
  },
  {
    key: 'extra_arguments',
    type: list,
    description:
      'Extra arguments of ansible-playbook; each entry is split into words as a shell would, without expansion, and each word is quoted.',
  },
  { key: 'playbook_file', type: str, description: 'The playbook to run (local path or `s3://`).' },
  {
    key: 'playbook_files',
    type: list,
    description: 'Playbooks to run in order, instead of `playbook_file`.',
  },
  {
    key: 'playbook_dir',
    type: str,
    description: 'A directory uploaded as the staging directory itself, layout intact.',
  },
  { key: 'playbook_paths', type: list, description: 'Directories uploaded to `<staging>/playbooks/<name>`.' },
  { key: 'role_paths', type: list, description: 'Role directories uploaded to `<staging>/roles/<name>`.' },
  {
    key: 'collection_paths',
    type: list,
    description: 'Collection directories uploaded to `<staging>/collections/<name>`.',
  },
  { key: 'group_vars', type: str, description: 'Directory uploaded to `<staging>/group_vars`.' },
  { key: 'host_vars', type: str, description: 'Directory uploaded to `<staging>/host_vars`.' },
  { key: 'inventory_file', type: str, description: 'Inventory to use instead of the generated one.' },
  {
    key: 'inventory_groups',
    type: list,
    description: 'Groups of `127.0.0.1` in the generated inventory.',
  },
  { key: 'galaxy_file', type: str, description: 'Requirements installed with ansible-galaxy first.' },
  { key: 'galaxy_command', type: str, default: 'ansible-galaxy', description: 'The ansible-galaxy command.' },
  { key: 'galaxy_force_install', type: bool, default: false, description: 'Adds `-f` to ansible-galaxy.' },
  {
    key: 'galaxy_roles_path',
    type: str,
    description: 'Where Galaxy roles go; default `<staging>/galaxy_roles`.',
  },
  {
    key: 'galaxy_collections_path',
    type: str,
    description: 'Where Galaxy collections go; default `<staging>/galaxy_collections`.',
  },
  {
    key: 'staging_directory',
    type: str,
    default: `${ANSIBLE_LOCAL_STAGING_ROOT}/<uuid>`,
    description: 'Directory on the instance the files are uploaded to.',
  },
  {
    key: 'clean_staging_directory',
    type: bool,
    default: false,
    description: 'Remove the staging directory after the run.',
  },
];

const INVENTORY_GROUP = /^[A-Za-z0-9_.:-]+$/;

/** Decodes an `ansible-local` provisioner with Packer's checks and messages (`Prepare`). */
export function decodeAnsibleLocal(
  d: Decoded,
  ctx: GuestContext,
):
  | Omit<AnsibleLocalProvisioner, 'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'>
  | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  const file = (key: string) => (value: string, error: string) => `${key}: ${value} is invalid: ${error}`;
  const listed = (key: string) => (value: string, _i: number, error: string) =>
    `${key}: ${value} is invalid: ${error}`;
  const isFile = (key: string) => ({
    kind: 'file' as const,
    wrong: (value: string) => `${key}: ${value} must point to a file`,
  });
  const isDir = (key: string) => ({
    kind: 'directory' as const,
    wrong: (value: string) => `${key}: ${value} must point to a directory`,
  });

  const playbookFile = optionalRef(d, 'playbook_file', ctx, file('playbook_file'), isFile('playbook_file'));
  const playbookFiles = refList(d, 'playbook_files', ctx, listed('playbook_files'), isFile('playbook_files'));
  const hasFile = d.nonEmpty('playbook_file') !== undefined || d.failed.has('playbook_file');
  const hasFiles = (d.list('playbook_files') ?? []).length > 0 || d.failed.has('playbook_files');
  if (hasFile && hasFiles)
    report.error(d.path, 'Either playbook_file or playbook_files can be specified, not both');
  if (!hasFile && !hasFiles) report.error(d.path, 'Either playbook_file or playbook_files must be specified');
  const names = new Set<string>();
  for (const ref of playbookFiles.refs) {
    const name = refBasename(ref);
    if (names.has(name))
      report.error(
        d.at('playbook_files'),
        `playbook_files: two playbooks are named ${JSON.stringify(name)}; each is uploaded to <staging_directory>/<its name>`,
      );
    names.add(name);
  }
  const inventoryFile = optionalRef(
    d,
    'inventory_file',
    ctx,
    file('inventory_file'),
    isFile('inventory_file'),
  );
  const galaxyFile = optionalRef(d, 'galaxy_file', ctx, file('galaxy_file'), isFile('galaxy_file'));
  const playbookDir = optionalRef(d, 'playbook_dir', ctx, file('playbook_dir'), isDir('playbook_dir'));
  const groupVars = optionalRef(d, 'group_vars', ctx, file('group_vars'), isDir('group_vars'));
  const hostVars = optionalRef(d, 'host_vars', ctx, file('host_vars'), isDir('host_vars'));
  const playbookPaths = refList(d, 'playbook_paths', ctx, listed('playbook_paths'), isDir('playbook_paths'));
  const rolePaths = refList(d, 'role_paths', ctx, listed('role_paths'), isDir('role_paths'));
  const collectionPaths = refList(
    d,
    'collection_paths',
    ctx,
    listed('collection_paths'),
    isDir('collection_paths'),
  );
  const inventoryGroups = (d.list('inventory_groups') ?? []).map((g) => g.trim()).filter((g) => g !== '');
  for (const group of inventoryGroups) {
    if (!INVENTORY_GROUP.test(group))
      report.error(
        d.at('inventory_groups'),
        `inventory_groups: ${JSON.stringify(group)} is not an Ansible group name (letters, digits and _ . : -)`,
      );
  }
  const extra = extraArguments(d, 'extra_arguments', report);
  const stagingDirectory = remoteDirectory(d, 'staging_directory', report);
  const galaxyRolesPath = remoteDirectory(d, 'galaxy_roles_path', report);
  const galaxyCollectionsPath = remoteDirectory(d, 'galaxy_collections_path', report);
  const command = d.nonEmpty('command') ?? ANSIBLE_LOCAL_COMMAND;
  const galaxyCommand = d.nonEmpty('galaxy_command') ?? 'ansible-galaxy';
  for (const key of ['command', 'galaxy_command'] as const) {
    const text = d.nonEmpty(key);
    if (text !== undefined && /[\n\r\0]/.test(text)) report.error(d.at(key), `${key} must be a single line`);
  }
  if (report.problems.length > before || extra === undefined) return undefined;
  const result: Omit<
    AnsibleLocalProvisioner,
    'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'
  > = {
    type: 'ansible-local',
    name: d.nonEmpty('name') ?? 'ansible-local',
    command,
    extraArguments: extra,
    playbookFiles: playbookFiles.refs,
    playbookPaths: playbookPaths.refs,
    rolePaths: rolePaths.refs,
    collectionPaths: collectionPaths.refs,
    inventoryGroups,
    galaxyCommand,
    galaxyForceInstall: d.boolean('galaxy_force_install') ?? false,
    cleanStagingDirectory: d.boolean('clean_staging_directory') ?? false,
    environmentVars: [],
  };
  if (playbookFile.ref !== undefined) result.playbookFile = playbookFile.ref;
  if (playbookDir.ref !== undefined) result.playbookDir = playbookDir.ref;
  if (groupVars.ref !== undefined) result.groupVars = groupVars.ref;
  if (hostVars.ref !== undefined) result.hostVars = hostVars.ref;
  if (inventoryFile.ref !== undefined) result.inventoryFile = inventoryFile.ref;
  if (galaxyFile.ref !== undefined) result.galaxyFile = galaxyFile.ref;
  if (galaxyRolesPath !== undefined) result.galaxyRolesPath = galaxyRolesPath;
  if (galaxyCollectionsPath !== undefined) result.galaxyCollectionsPath = galaxyCollectionsPath;
  if (stagingDirectory !== undefined) result.stagingDirectory = stagingDirectory;
  return result;
}
