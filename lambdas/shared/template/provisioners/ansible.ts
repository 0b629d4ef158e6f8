/**
 * The remote `ansible` provisioner (packer-plugin-ansible `provisioner/ansible`) connects to the instance over
 * SSH from the machine running Packer, which this system does not have. Where its options allow, it runs as
 * `ansible-local` on the instance (`-c local`), with a warning that says what changed; options that only make
 * sense with Packer's host and its SSH proxy are refused, by name.
 */
import type { FileRef } from '../../config.js';
import type { Decoded } from '../decode.js';
import { FIELD_TYPE, type FieldSpec } from '../keys.js';
import { ANSIBLE_LOCAL_COMMAND, type AnsibleLocalProvisioner } from './ansible-local.js';
import { extraArguments, type GuestContext, optionalRef, remoteDirectory } from './guest.js';

const { list, str, bool } = FIELD_TYPE;

/** Options that need Packer's host or its SSH proxy: a template that sets them cannot run on the instance. */
const BLOCKING: Record<string, string> = {
  ssh_host_key_file: "the host key of Packer's SSH proxy, which does not exist here",
  ssh_authorized_key_file: "the key Ansible uses to log in through Packer's SSH proxy",
  inventory_directory: "a directory on Packer's host where the generated inventory is written",
  inventory_file_template: 'inventory lines that point Ansible at an SSH host and port',
  ansible_winrm_use_http: 'WinRM (instance-store AMIs are Linux)',
};

/** Options about the SSH connection only: they have no effect when Ansible runs on the instance. */
const SSH_ONLY = [
  'ansible_ssh_extra_args',
  'host_alias',
  'user',
  'local_port',
  'sftp_command',
  'use_sftp',
  'skip_version_check',
  'ansible_proxy_key_type',
  'keep_inventory_file',
  'use_proxy',
  'empty_groups',
  'galaxy_force_with_deps',
];

/** Remote `ansible` keys, without the common ones. */
export const ANSIBLE_OWN_KEYS: readonly FieldSpec[] = [
  {
    key: 'playbook_file',
    type: str,
    description:
      'The playbook; its folder is uploaded with it (as `ansible-local` `playbook_dir`), so that roles and vars beside it are found.',
  },
  { key: 'command', type: str, default: 'ansible-playbook', description: 'As `ansible-local` `command`.' },
  { key: 'extra_arguments', type: list, description: 'As `ansible-local` `extra_arguments`.' },
  {
    key: 'ansible_env_vars',
    type: list,
    description:
      '`NAME=value` set for ansible-playbook on the instance; SSH settings are dropped, settings naming host paths refused.',
  },
  { key: 'groups', type: list, description: 'As `ansible-local` `inventory_groups`.' },
  { key: 'inventory_file', type: str, description: 'As `ansible-local` `inventory_file`.' },
  { key: 'galaxy_file', type: str, description: 'As `ansible-local` `galaxy_file`.' },
  { key: 'galaxy_command', type: str, default: 'ansible-galaxy', description: 'As `ansible-local`.' },
  { key: 'galaxy_force_install', type: bool, default: false, description: 'As `ansible-local`.' },
  { key: 'roles_path', type: str, description: 'As `ansible-local` `galaxy_roles_path`.' },
  { key: 'collections_path', type: str, description: 'As `ansible-local` `galaxy_collections_path`.' },
  ...Object.entries(BLOCKING).map(([key, why]) => ({
    key,
    type: key === 'ansible_winrm_use_http' ? bool : str,
    description: `Refused: ${why}.`,
  })),
  ...SSH_ONLY.map((key) => ({
    key,
    type:
      key === 'local_port'
        ? ({ kind: 'integer', min: 0, max: 65535 } as const)
        : key === 'use_proxy'
          ? ({ kind: 'trilean' } as const)
          : ['use_sftp', 'skip_version_check', 'keep_inventory_file', 'galaxy_force_with_deps'].includes(key)
            ? bool
            : ['ansible_ssh_extra_args', 'empty_groups'].includes(key)
              ? list
              : str,
    description: 'Accepted, no effect: Ansible runs on the instance, not over SSH.',
  })),
];

/** Ansible settings that name a file or directory: on Packer's host in a remote template. */
const HOST_PATH_SETTING = /(_FILE|_PATH|_PATHS|_CONFIG|_DIR|_LIBRARY|_PLUGINS|^ANSIBLE_INVENTORY)$/;
const SSH_SETTING = /^ANSIBLE_(SSH_|SCP_|SFTP_|HOST_KEY_CHECKING$|PIPELINING$|REMOTE_PORT$|REMOTE_USER$)/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function blocks(d: Decoded, key: string): boolean {
  if (key === 'ansible_winrm_use_http') return d.boolean(key) === true;
  return (d.nonEmpty(key) ?? '') !== '';
}

/**
 * Decodes a remote `ansible` provisioner as the `ansible-local` run it becomes on the instance, or reports the
 * options that prevent it.
 */
export function decodeRemoteAnsible(
  d: Decoded,
  ctx: GuestContext,
):
  | Omit<AnsibleLocalProvisioner, 'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'>
  | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  const blocking = Object.keys(BLOCKING).filter((key) => blocks(d, key));
  if (blocking.length > 0) {
    report.error(
      d.path,
      `the remote ansible provisioner connects over SSH from the machine running Packer, and there is none here; it runs as ansible-local on the instance unless it needs that machine, as these options do: ${blocking.map((k) => `${k} (${BLOCKING[k]})`).join('; ')}. Remove them, or use an ansible-local provisioner`,
    );
  }
  const playbook = optionalRef(d, 'playbook_file', ctx, (v, e) => `playbook_file: ${v} is invalid: ${e}`, {
    kind: 'file',
    wrong: (v) => `playbook_file: ${v} must point to a file`,
  });
  if (d.nonEmpty('playbook_file') === undefined && !d.failed.has('playbook_file'))
    report.error(d.path, 'playbook_file must be specified.');
  const inventory = optionalRef(d, 'inventory_file', ctx, (v, e) => `inventory_file: ${v} is invalid: ${e}`, {
    kind: 'file',
    wrong: (v) => `inventory_file: ${v} must point to a file`,
  });
  const galaxy = optionalRef(d, 'galaxy_file', ctx, (v, e) => `galaxy_file: ${v} is invalid: ${e}`, {
    kind: 'file',
    wrong: (v) => `galaxy_file: ${v} must point to a file`,
  });
  const extra = extraArguments(d, 'extra_arguments', report);
  const rolesPath = remoteDirectory(d, 'roles_path', report);
  const collectionsPath = remoteDirectory(d, 'collections_path', report);

  const environmentVars: { name: string; value: string }[] = [];
  const dropped: string[] = [];
  for (const entry of d.list('ansible_env_vars') ?? []) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (eq < 0 || !ENV_NAME.test(name)) {
      report.error(d.at('ansible_env_vars'), `ansible_env_vars: ${JSON.stringify(entry)} is not NAME=value`);
    } else if (SSH_SETTING.test(name)) {
      dropped.push(name);
    } else if (HOST_PATH_SETTING.test(name)) {
      report.error(
        d.at('ansible_env_vars'),
        `ansible_env_vars: ${name} names a path on the machine running Packer, which this system does not have; upload what it names (role_paths, playbook_dir of an ansible-local provisioner) instead`,
      );
    } else {
      environmentVars.push({ name, value: entry.slice(eq + 1) });
    }
  }
  if (report.problems.length > before || extra === undefined || playbook.ref === undefined) return undefined;

  const ignored = SSH_ONLY.filter((k) => d.present.has(k));
  const folder = parentFolder(playbook.ref);
  const changes = [
    `runs as ansible-local on the instance (ansible-playbook -c local with the generated inventory${d.list('groups')?.length ? ' in groups' : ''}), because there is no machine running Packer to connect from over SSH`,
    `the folder of playbook_file (${folder?.uri ?? folderOf(playbook.ref.uri)}) is uploaded with it as playbook_dir, so that what the playbook finds beside it is there`,
    'Ansible must be installed on the instance (as for ansible-local)',
    ignored.length > 0 ? `no effect without SSH: ${ignored.join(', ')}` : undefined,
    dropped.length > 0 ? `SSH settings not set: ${dropped.join(', ')}` : undefined,
  ].filter((c): c is string => c !== undefined);
  report.warn(d.path, `ansible: ${changes.join('; ')}`);

  const result: Omit<
    AnsibleLocalProvisioner,
    'index' | 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'
  > = {
    type: 'ansible-local',
    name: d.nonEmpty('name') ?? 'ansible',
    command: d.nonEmpty('command') ?? ANSIBLE_LOCAL_COMMAND,
    extraArguments: extra,
    playbookFile: playbook.ref,
    playbookFiles: [],
    playbookPaths: [],
    rolePaths: [],
    collectionPaths: [],
    inventoryGroups: (d.list('groups') ?? []).map((g) => g.trim()).filter((g) => g !== ''),
    galaxyCommand: d.nonEmpty('galaxy_command') ?? 'ansible-galaxy',
    galaxyForceInstall: d.boolean('galaxy_force_install') ?? false,
    cleanStagingDirectory: true,
    environmentVars,
  };
  if (folder !== undefined) result.playbookDir = folder;
  if (inventory.ref !== undefined) result.inventoryFile = inventory.ref;
  if (galaxy.ref !== undefined) result.galaxyFile = galaxy.ref;
  if (rolesPath !== undefined) result.galaxyRolesPath = rolesPath;
  if (collectionsPath !== undefined) result.galaxyCollectionsPath = collectionsPath;
  return result;
}

/**
 * The S3 folder that holds the playbook (`s3://b/p/site.yml` → `s3://b/p/`); for a local path (CLI, before
 * staging) none: the CLI uploads the folder with the playbook, so that the staged reference has one.
 */
function parentFolder(ref: FileRef): FileRef | undefined {
  if (ref.kind !== 's3') return undefined;
  const slash = ref.key.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const key = ref.key.slice(0, slash + 1);
  return { kind: 's3', bucket: ref.bucket, key, uri: `s3://${ref.bucket}/${key}` };
}

/** The folder part of a path or URI, for messages (`.` for a bare name). */
function folderOf(text: string): string {
  const slash = Math.max(text.lastIndexOf('/'), text.lastIndexOf('\\'));
  return slash < 0 ? '.' : text.slice(0, slash + 1);
}
