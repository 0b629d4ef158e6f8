/**
 * The `run.sh` of an `ansible-local` provisioner: Packer's `Provision` (packer-plugin-ansible
 * `provisioner/ansible-local`), step by step, with its messages and command lines. Ansible runs as the run-as user
 * (`ssh_username`, root when unset), as Packer runs it in that user's SSH session.
 */
import type { FileRef } from '../config.js';
import { shellQuote } from '../shell.js';
import type { AnsibleLocalProvisioner } from '../template/provisioners/ansible-local.js';
import { ANSIBLE_LOCAL_STAGING_ROOT } from '../template/provisioners/ansible-local.js';
import {
  assign,
  FROM_HOME,
  fileFunctions,
  joinRemote,
  prelude,
  runAsFunction,
  runAsSetup,
  say,
  scriptText,
} from './common.js';
import { doubleQuoted, GuestFiles, type GuestSource, type GuestStagedFile, sourceQueue } from './guest.js';

/** What Packer's core gives `packer_http_addr` for a builder without an HTTP server (the SDK's constant). */
export const HTTP_ADDR_NOT_IMPLEMENTED = 'ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER';

/** The references an `ansible-local` provisioner uploads, in the order its plan takes their resolved sources. */
export function ansibleLocalRefs(p: AnsibleLocalProvisioner): FileRef[] {
  return [
    ...(p.playbookDir === undefined ? [] : [p.playbookDir]),
    ...(p.playbookFile === undefined ? [] : [p.playbookFile]),
    ...p.playbookFiles,
    ...(p.inventoryFile === undefined ? [] : [p.inventoryFile]),
    ...(p.galaxyFile === undefined ? [] : [p.galaxyFile]),
    ...(p.groupVars === undefined ? [] : [p.groupVars]),
    ...(p.hostVars === undefined ? [] : [p.hostVars]),
    ...p.rolePaths,
    ...p.collectionPaths,
    ...p.playbookPaths,
  ];
}

export interface AnsibleLocalInput {
  provisioner: AnsibleLocalProvisioner;
  /** The resolved sources of {@link ansibleLocalRefs}, in order. */
  sources: readonly GuestSource[];
  runAsUser?: string;
  /** `PACKER_BUILD_NAME` */
  buildName: string;
  builderType: string;
  /** The uuid of the default staging directory (stable across retries of the command). */
  uuid: string;
  /** Packer's temporary inventory name suffix (`tmp.File` adds random digits). */
  inventorySuffix: number;
  /** How messages name the step. */
  step: string;
}

/** The default staging directory, `/tmp/packer-provisioner-ansible-local/<uuid>`. */
export function ansibleStagingDirectory(p: AnsibleLocalProvisioner, uuid: string): string {
  return p.stagingDirectory ?? `${ANSIBLE_LOCAL_STAGING_ROOT}/${uuid}`;
}

/** The generated inventory: `127.0.0.1`, or `[group]\n127.0.0.1\n` per `inventory_groups` entry. */
export function generatedInventory(groups: readonly string[]): string {
  return groups.length === 0 ? '127.0.0.1' : groups.map((g) => `[${g}]\n127.0.0.1\n`).join('');
}

/** A key below an S3 folder reference, relative to it; undefined when outside. */
function below(folder: FileRef | undefined, ref: FileRef): string | undefined {
  if (folder?.kind !== 's3' || ref.kind !== 's3' || folder.bucket !== ref.bucket) return undefined;
  const prefix = folder.key.endsWith('/') ? folder.key : `${folder.key}/`;
  return ref.key.startsWith(prefix) ? ref.key.slice(prefix.length) : undefined;
}

/**
 * Packer's playbook command line:
 * `cd <staging> && <env> <command> <playbook> --extra-vars "packer_build_name=… packer_builder_type=…
 * packer_http_addr=… -o IdentitiesOnly=yes" <extra_arguments> -c local -i <inventory>`, spacing included.
 */
export function ansiblePlaybookCommand(options: {
  staging: string;
  command: string;
  playbook: string;
  inventory: string;
  buildName: string;
  builderType: string;
  extraArguments: readonly string[];
  collectionsPaths: readonly string[];
  rolesPath?: string;
  environmentVars: readonly { name: string; value: string }[];
}): string {
  let env = '';
  if (options.collectionsPaths.length > 0) {
    env += ` ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:${options.collectionsPaths.map(shellQuote).join(':')}`;
  }
  if (options.rolesPath !== undefined)
    env += ` ANSIBLE_ROLES_PATH=$ANSIBLE_ROLES_PATH:${shellQuote(options.rolesPath)}`;
  const vars = options.environmentVars.map(({ name, value }) => `${name}=${shellQuote(value)} `).join('');
  let extra = ` --extra-vars "packer_build_name=${doubleQuoted(options.buildName)} packer_builder_type=${doubleQuoted(options.builderType)} packer_http_addr=${HTTP_ADDR_NOT_IMPLEMENTED} -o IdentitiesOnly=yes" `;
  if (options.extraArguments.length > 0) extra += options.extraArguments.map(shellQuote).join(' ');
  return `cd ${shellQuote(options.staging)} && ${env} ${vars}${options.command} ${shellQuote(options.playbook)}${extra} -c local -i ${shellQuote(options.inventory)}`;
}

/** Packer's Galaxy command line: `cd <staging> && <galaxy_command> [collection] install -r <file> -p <path> [-f]`. */
export function ansibleGalaxyCommand(options: {
  staging: string;
  galaxyCommand: string;
  collection: boolean;
  file: string;
  path: string;
  force: boolean;
}): string {
  const args = [
    ...(options.collection ? ['collection'] : []),
    'install',
    '-r',
    shellQuote(options.file),
    '-p',
    shellQuote(options.path),
    ...(options.force ? ['-f'] : []),
  ];
  return `cd ${shellQuote(options.staging)} && ${options.galaxyCommand} ${args.join(' ')}`;
}

/** The staged files and `run.sh` of an `ansible-local` provisioner. */
export function ansibleLocalScript(input: AnsibleLocalInput): { script: string; staged: GuestStagedFile[] } {
  const p = input.provisioner;
  const files = new GuestFiles(input.step);
  const next = sourceQueue(input.sources, input.step);
  const staging = ansibleStagingDirectory(p, input.uuid);
  const rolesPath = p.galaxyRolesPath ?? joinRemote(staging, 'galaxy_roles');
  const collectionsPath = p.galaxyCollectionsPath ?? joinRemote(staging, 'galaxy_collections');
  const lines = [
    ...prelude({ title: 'Provisioning with Ansible...' }),
    ...runAsSetup(input.runAsUser),
    ...runAsFunction(),
    ...fileFunctions(),
    'ami_builder_run() {',
    '  local code',
    `  ami_builder_run_as "$1"`,
    '  code=$?',
    '  [ "$code" -eq 0 ] && return 0',
    '  echo "$2: Non-zero exit status: $code" >&2',
    '  exit "$code"',
    '}',
  ];
  if (p.playbookDir !== undefined) {
    lines.push(say('Uploading Playbook directory to Ansible staging directory...'));
    lines.push(...files.directory(next(), 'playbook_dir', staging));
  } else {
    lines.push(say('Creating Ansible staging directory...'));
    lines.push(`ami_builder_ensure_dir ${shellQuote(staging)} || exit 1`);
  }
  const playbooks: string[] = [];
  if (p.playbookFile !== undefined) {
    lines.push(say('Uploading main Playbook file...'));
    const source = next();
    const target = joinRemote(staging, source.basename);
    lines.push(...files.file(source, 'playbook_file', target));
    playbooks.push(target);
  }
  for (const ref of p.playbookFiles) {
    const source = next();
    const inside = below(p.playbookDir, ref);
    if (inside !== undefined) {
      playbooks.push(joinRemote(staging, inside));
      continue;
    }
    lines.push(say(`Uploading playbook file: ${ref.uri}`));
    const target = joinRemote(staging, source.basename);
    lines.push(...files.file(source, 'playbook_files', target));
    playbooks.push(target);
  }
  const inventoryName =
    p.inventoryFile === undefined ? `packer-provisioner-ansible-local${input.inventorySuffix}` : undefined;
  let galaxyFile: string | undefined;
  let inventoryLines: string[];
  let inventory: string;
  if (p.inventoryFile !== undefined) {
    const source = next();
    inventory = joinRemote(staging, source.basename);
    inventoryLines = files.file(source, 'inventory_file', inventory);
  } else {
    inventory = joinRemote(staging, inventoryName ?? '');
    inventoryLines = files.text(generatedInventory(p.inventoryGroups), inventory);
  }
  if (p.galaxyFile !== undefined) {
    lines.push(say('Uploading galaxy file...'));
    const source = next();
    galaxyFile = joinRemote(staging, source.basename);
    lines.push(...files.file(source, 'galaxy_file', galaxyFile));
  }
  lines.push(say('Uploading inventory file...'), ...inventoryLines);
  const dirs: [FileRef | undefined, string, string, string][] = [
    [p.groupVars, 'group_vars', 'Uploading group_vars directory...', joinRemote(staging, 'group_vars')],
    [p.hostVars, 'host_vars', 'Uploading host_vars directory...', joinRemote(staging, 'host_vars')],
  ];
  for (const [ref, key, text, target] of dirs) {
    if (ref === undefined) continue;
    lines.push(say(text), ...files.directory(next(), key, target));
  }
  const groups: [FileRef[], string, string, string][] = [
    [p.rolePaths, 'role_paths', 'Uploading role directories...', 'roles'],
    [p.collectionPaths, 'collection_paths', 'Uploading collection directories...', 'collections'],
    [p.playbookPaths, 'playbook_paths', 'Uploading additional Playbooks...', 'playbooks'],
  ];
  for (const [refs, key, text, folder] of groups) {
    if (refs.length === 0) continue;
    lines.push(say(text), `ami_builder_ensure_dir ${shellQuote(joinRemote(staging, folder))} || exit 1`);
    for (const _ of refs) {
      const source = next();
      lines.push(...files.directory(source, key, joinRemote(joinRemote(staging, folder), source.basename)));
    }
  }

  // Galaxy first, then each playbook; Packer reads the galaxy file to tell roles (`^roles:`, or no
  // `^collections:`: the v1 format) from collections; here the instance reads it.
  const playbookCommand = (hasRoles: boolean, hasCollections: boolean, playbook: string) =>
    `${FROM_HOME}${ansiblePlaybookCommand({
      staging,
      command: p.command,
      playbook,
      inventory,
      buildName: input.buildName,
      builderType: input.builderType,
      extraArguments: p.extraArguments,
      collectionsPaths: [
        ...(hasCollections ? [collectionsPath] : []),
        ...(p.collectionPaths.length > 0 ? [joinRemote(staging, 'collections')] : []),
      ],
      ...(hasRoles ? { rolesPath } : {}),
      environmentVars: p.environmentVars,
    })}`;
  lines.push("HAS_ROLES=''", "HAS_COLLECTIONS=''");
  if (galaxyFile !== undefined) {
    lines.push(
      assign('GALAXY_FILE', galaxyFile),
      'grep -q "^roles:" -- "$GALAXY_FILE" && HAS_ROLES=1',
      'grep -q "^collections:" -- "$GALAXY_FILE" && HAS_COLLECTIONS=1',
    );
    const galaxy = (collection: boolean) =>
      ansibleGalaxyCommand({
        staging,
        galaxyCommand: p.galaxyCommand,
        collection,
        file: galaxyFile ?? '',
        path: collection ? collectionsPath : rolesPath,
        force: p.galaxyForceInstall,
      });
    const failed = 'Error executing Ansible: Error executing Ansible Galaxy';
    lines.push(
      'if [ -n "$HAS_ROLES" ] || [ -z "$HAS_COLLECTIONS" ]; then',
      `  ${say(`Executing Ansible Galaxy: ${galaxy(false)}`)}`,
      `  ami_builder_run ${shellQuote(`${FROM_HOME}${galaxy(false)}`)} ${shellQuote(failed)}`,
      'fi',
      'if [ -n "$HAS_COLLECTIONS" ]; then',
      `  ${say(`Executing Ansible Galaxy: ${galaxy(true)}`)}`,
      `  ami_builder_run ${shellQuote(`${FROM_HOME}${galaxy(true)}`)} ${shellQuote(failed)}`,
      'fi',
    );
  }
  const notFound = `Error executing Ansible: ${p.command} could not be found. Verify that it is available on the\nPATH after connecting to the machine.`;
  playbooks.forEach((playbook, i) => {
    const variants = ([false, true] as const).flatMap((roles) =>
      ([false, true] as const).map((collections) => ({
        roles,
        collections,
        command: playbookCommand(roles, collections, playbook),
      })),
    );
    lines.push(`case "\${HAS_ROLES:-0}:\${HAS_COLLECTIONS:-0}" in`);
    for (const v of variants) {
      lines.push(
        `  ${v.roles ? '1' : '0'}:${v.collections ? '1' : '0'}) ${assign(`PLAYBOOK_${i}`, v.command)} ;;`,
      );
    }
    lines.push(
      'esac',
      `ami_builder_say_command "$PLAYBOOK_${i}"`,
      `ami_builder_run_as "$PLAYBOOK_${i}"`,
      'code=$?',
      `if [ "$code" -eq 127 ]; then printf '%s\\n' ${shellQuote(notFound)} >&2; exit 127; fi`,
      'if [ "$code" -ne 0 ]; then echo "Error executing Ansible: Non-zero exit status: $code" >&2; exit "$code"; fi',
    );
  });
  if (p.cleanStagingDirectory) {
    lines.push(say('Removing staging directory...'), `rm -rf -- ${shellQuote(staging)} || exit 1`);
  }
  lines.push('exit 0');
  // The command line is shown as Packer shows it: without the leading change to the home directory.
  const sayCommand = [
    'ami_builder_say_command() {',
    `  printf '==> Executing Ansible: %s\\n' "\${1#*$'\\n'}"`,
    '}',
  ];
  const at = lines.indexOf('ami_builder_run() {');
  lines.splice(at, 0, ...sayCommand);
  return { script: scriptText(lines), staged: files.staged };
}
