/**
 * The `run.sh` of a salt-masterless provisioner: Packer's `Provision` (packer-plugin-salt
 * `provisioner/salt-masterless/provisioner.go`) as one script on the instance, with its Unix commands
 * (`[sudo ]mkdir -p`, `mv`, `stat`, `rm -rf`) run as the user. The files are placed in `temp_config_dir` by
 * root (Packer uploads them as the user) and moved into place with the user's `sudo mv`, as Packer moves them.
 *
 * `formulas` are fetched on the instance (Packer fetches them on its own host, which this system does not
 * have): each is cloned with git into the uploaded state tree, unless the tree already has its subdirectory.
 */

import { shellQuote } from '../shell.js';
import type { SaltFormula } from '../template/provisioners/salt-masterless.js';
import {
  fileFunctions,
  joinRemote,
  message,
  prelude,
  runAsFunction,
  runAsSetup,
  say,
  scriptText,
} from './common.js';
import { createDirLines, type GuestPlacement, placementLines, runLines } from './guest.js';

export interface SaltScriptInput {
  runAsUser?: string;
  tempConfigDir: string;
  /** `/etc/salt` */
  configDir: string;
  bootstrap?: { fetch: string; run: string };
  minionConfig?: GuestPlacement;
  grainsFile?: GuestPlacement;
  stateTree: GuestPlacement;
  pillarRoots?: GuestPlacement;
  /** Where the trees go. */
  stateTreeTarget: string;
  pillarRootsTarget: string;
  formulas: readonly SaltFormula[];
  saltCall: string;
  /** What Packer prints after `Running: salt-call --local`. */
  saltCallArgs: string;
  sudo: boolean;
  noExitOnFailure: boolean;
}

function sudo(input: SaltScriptInput, command: string): string {
  return input.sudo ? `sudo ${command}` : command;
}

function moveLines(input: SaltScriptInput, src: string, dst: string, failure: string): string[] {
  return [
    message(`Moving ${src} to ${dst}`),
    ...runLines('MOVE_COMMAND', sudo(input, `mv ${shellQuote(src)} ${shellQuote(dst)}`)),
    `[ "$code" -eq 0 ] || { echo ${shellQuote(`${failure}: Unable to move ${src} to ${dst}: Bad exit status: `)}"$code" >&2; exit 1; }`,
  ];
}

function formulaLines(formula: SaltFormula, statesDir: string): string[] {
  const target = joinRemote(statesDir, formula.subdirectory);
  const failure = `Unable to download Salt formula from ${formula.url}`;
  const clone = [
    'git clone --quiet --depth 1',
    ...(formula.ref === undefined ? [] : ['--branch', shellQuote(formula.ref)]),
    '--',
    shellQuote(formula.repository),
    '"$FORMULA_DIR/repo"',
  ].join(' ');
  return [
    `if [ -e ${shellQuote(target)} ]; then`,
    `  ${message(`Found existing formula at: ${target}`)}`,
    'else',
    `  ${message(`${formula.url} => ${target}`)}`,
    `  command -v git >/dev/null 2>&1 || { echo ${shellQuote(`${failure}: git is not installed on the instance`)} >&2; exit 1; }`,
    '  FORMULA_DIR=$(mktemp -d) || exit 1',
    `  if ! ${clone} || [ ! -d "$FORMULA_DIR/repo/"${shellQuote(formula.subdirectory)} ]; then`,
    `    echo ${shellQuote(`${failure}: the clone failed or has no subdirectory ${formula.subdirectory}`)} >&2`,
    '    rm -rf -- "$FORMULA_DIR"',
    '    exit 1',
    '  fi',
    `  cp -R -- "$FORMULA_DIR/repo/"${shellQuote(formula.subdirectory)} ${shellQuote(target)} && ami_builder_own_tree ${shellQuote(target)}`,
    '  rm -rf -- "$FORMULA_DIR"',
    'fi',
  ];
}

export function saltScript(input: SaltScriptInput): string {
  const temp = input.tempConfigDir;
  const lines = [
    ...prelude({ title: 'Provisioning with Salt...' }),
    ...runAsSetup(input.runAsUser),
    ...runAsFunction(),
    ...fileFunctions(),
    'ami_builder_own_tree() {',
    '  [ -n "$RUN_AS" ] || return 0',
    '  chown -R -- "$RUN_AS:$RUN_AS_GROUP" "$1"',
    '}',
  ];
  if (input.bootstrap !== undefined) {
    // Packer does not check the bootstrap's exit status: a failed install shows when salt-call cannot run.
    lines.push(
      message('Downloading saltstack bootstrap to /tmp/install_salt.sh'),
      ...runLines('BOOTSTRAP_FETCH', input.bootstrap.fetch),
      message(`Installing Salt with command ${input.bootstrap.run}`),
      ...runLines('BOOTSTRAP_RUN', input.bootstrap.run),
    );
  }
  lines.push(
    message(`Creating remote temporary directory: ${temp}`),
    ...createDirLines('MKDIR_COMMAND', temp, input.sudo, 'Error creating remote temporary directory'),
  );
  const configFile = (placement: GuestPlacement | undefined, name: string, what: string, upload: string) => {
    if (placement === undefined) return;
    const src = joinRemote(temp, name);
    const dst = joinRemote(input.configDir, name);
    lines.push(
      message(`Uploading ${what}: ${placement.label}`),
      ...placementLines(placement, `Error uploading ${upload} to remote`),
      message(`Make sure directory ${input.configDir} exists`),
      ...createDirLines(
        'MKDIR_COMMAND',
        input.configDir,
        input.sudo,
        'Error creating remote salt configuration directory',
      ),
      ...moveLines(input, src, dst, `Unable to move ${temp}/${name} to ${input.configDir}/${name}`),
    );
  };
  configFile(input.minionConfig, 'minion', 'minion config', 'local minion config file');
  configFile(input.grainsFile, 'grains', 'grains file', 'local grains file');

  const tree = (placement: GuestPlacement, name: string, what: string, target: string, clear: string) => {
    const src = joinRemote(temp, name);
    lines.push(
      message(`Uploading ${what}: ${placement.label}`),
      ...placementLines(placement, `Error uploading ${what} to remote`),
    );
    if (name === 'states' && input.formulas.length > 0) {
      lines.push(say('Downloading Salt formulas...'));
      for (const formula of input.formulas) lines.push(...formulaLines(formula, src));
    }
    // Packer removes the target only when `stat` fails, then moves the uploaded tree there.
    lines.push(
      message(`Verifying Path: ${target}`),
      ...runLines('STAT_COMMAND', sudo(input, `stat ${shellQuote(target)}`)),
      'if [ "$code" -ne 0 ]; then',
      `  ${message(`Removing directory: ${target}`)}`,
      ...runLines('REMOVE_COMMAND', sudo(input, `rm -rf ${shellQuote(target)}`)).map((l) => `  ${l}`),
      `  [ "$code" -eq 0 ] || { echo ${shellQuote(`Unable to clear ${clear}: Non-zero exit status.`)} >&2; exit 1; }`,
      'fi',
      ...moveLines(input, src, target, `Unable to move ${temp}/${name} to ${target}`),
    );
  };
  tree(input.stateTree, 'states', 'local state tree', input.stateTreeTarget, 'salt tree');
  if (input.pillarRoots !== undefined) {
    tree(input.pillarRoots, 'pillar', 'local pillar roots', input.pillarRootsTarget, 'pillar root');
  }
  lines.push(
    message(`Running: salt-call --local ${input.saltCallArgs}`),
    ...runLines('SALT_CALL', input.saltCall),
  );
  if (input.noExitOnFailure) {
    lines.push(
      `[ "$code" -eq 0 ] || ${say('salt-call failed; no_exit_on_failure is set, so the build goes on')}`,
    );
  } else {
    lines.push(
      '[ "$code" -eq 0 ] || { echo "Error executing salt-call: Bad exit status: $code" >&2; exit "$code"; }',
    );
  }
  lines.push('exit 0');
  return scriptText(lines);
}
