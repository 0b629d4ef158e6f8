/**
 * The `run.sh` of a chef-solo provisioner: Packer's `Provision` (packer-plugin-chef
 * `provisioner/chef-solo/provisioner.go`) as one script on the instance. Packer uploads over SSH as the user;
 * here root places the staged files (owned by the run-as user) and the commands run as that user.
 */
import { shellQuote } from '../shell.js';
import { fileFunctions, message, prelude, runAsFunction, runAsSetup, scriptText } from './common.js';
import { checkStagedName, createDirLines, type GuestPlacement, placementLines, runLines } from './guest.js';

export interface ChefSoloScriptInput {
  runAsUser?: string;
  /** `install_command`, rendered; absent with `skip_install`. */
  installCommand?: string;
  stagingDirectory: string;
  /** Cookbooks, roles, data bags, the secret and environments, each with Packer's failure message. */
  uploads: readonly (GuestPlacement & { failure: string })[];
  /** Staged names of the generated `solo.rb` and `node.json`. */
  soloRb: string;
  nodeJson: string;
  configPath: string;
  jsonPath: string;
  executeCommand: string;
  /** `prevent_sudo`: the staging directory is made without sudo. */
  sudo: boolean;
}

export function chefSoloScript(input: ChefSoloScriptInput): string {
  const lines = [
    ...prelude({ title: 'Provisioning with chef-solo' }),
    ...runAsSetup(input.runAsUser),
    ...runAsFunction(),
    ...fileFunctions(),
  ];
  if (input.installCommand !== undefined) {
    lines.push(
      message('Installing Chef...'),
      ...runLines('INSTALL_COMMAND', input.installCommand),
      '[ "$code" -eq 0 ] || { echo "Error installing Chef: Install script exited with non-zero exit status $code" >&2; exit "$code"; }',
    );
  }
  const staging = input.stagingDirectory;
  const createDir = (dir: string, failure: string) => [
    ...createDirLines('MKDIR_COMMAND', dir, input.sudo, failure),
    ...runLines('CHMOD_COMMAND', `${input.sudo ? 'sudo ' : ''}chmod 0777 ${shellQuote(dir)}`),
    `[ "$code" -eq 0 ] || { echo ${shellQuote(`${failure}: Non-zero exit status. See output above for more info.`)} >&2; exit 1; }`,
  ];
  lines.push(...createDir(staging, 'Error creating staging directory'));
  for (const upload of input.uploads) {
    const isDirectory = upload.directories.length > 0;
    if (isDirectory) {
      const root = upload.directories[0] ?? staging;
      lines.push(...createDir(root, upload.failure));
      lines.push(...placementLines({ ...upload, directories: upload.directories.slice(1) }, upload.failure));
    } else {
      lines.push(...placementLines(upload, upload.failure));
    }
  }
  lines.push(
    message("Creating configuration file 'solo.rb'"),
    `ami_builder_install ${checkStagedName(input.soloRb)} ${shellQuote(input.configPath)} 0644 || { echo 'Error creating Chef config file' >&2; exit 1; }`,
    message('Creating JSON attribute file'),
    `ami_builder_install ${checkStagedName(input.nodeJson)} ${shellQuote(input.jsonPath)} 0644 || { echo 'Error creating JSON attributes' >&2; exit 1; }`,
    message(`Executing Chef: ${input.executeCommand}`),
    ...runLines('EXECUTE_COMMAND', input.executeCommand),
    '[ "$code" -eq 0 ] || { echo "Error executing Chef: Non-zero exit status: $code" >&2; exit "$code"; }',
    'exit 0',
  );
  return scriptText(lines);
}
