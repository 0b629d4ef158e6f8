/**
 * The `salt-masterless` provisioner, with Packer's keys, defaults and messages (packer-plugin-salt
 * `provisioner/salt-masterless/provisioner.go`): Salt is bootstrapped unless `skip_bootstrap`, the minion
 * config, grains, state tree and pillar roots are uploaded to `temp_config_dir` and moved into place, and
 * `salt-call --local` applies the highstate or `custom_state`.
 */
import type { ProvisionerTiming } from '../../config.js';
import { joinRemote } from '../../scripts/common.js';
import { shellQuote } from '../../shell.js';
import type { Decoded, Path } from '../decode.js';
import { type FieldSpec, PROVISIONER_COMMON_KEYS } from '../keys.js';
import type { ProvisionerContext } from '../provisioners.js';
import { timing } from '../provisioners.js';
import { checkGuestOsType, checkRemoteDirectory, type GuestUpload, guestPathRef } from './guest.js';

export const SALT_TEMP_CONFIG_DIR = '/tmp/salt';
export const SALT_STATE_ROOT = '/srv/salt';
export const SALT_PILLAR_ROOT = '/srv/pillar';
export const SALT_CONFIG_DIR = '/etc/salt';
export const SALT_BOOTSTRAP_FETCH =
  'curl -L https://bootstrap.saltproject.io -o /tmp/install_salt.sh || wget -O /tmp/install_salt.sh https://bootstrap.saltproject.io';
export const SALT_BOOTSTRAP_RUN = 'sh /tmp/install_salt.sh';

const str: FieldSpec['type'] = { kind: 'string' };
const path: FieldSpec['type'] = { kind: 'string', trim: true };
const bool: FieldSpec['type'] = { kind: 'boolean' };

/** `salt-masterless` provisioner keys. */
export const SALT_MASTERLESS_KEYS: readonly FieldSpec[] = [
  ...PROVISIONER_COMMON_KEYS,
  {
    key: 'local_state_tree',
    type: path,
    description:
      '**Required.** Directory of the Salt states (an `s3://…/` prefix; a local directory: CLI only), moved to `remote_state_tree`.',
  },
  {
    key: 'local_pillar_roots',
    type: path,
    description: 'Directory of the pillar data, moved to `remote_pillar_roots`.',
  },
  {
    key: 'remote_state_tree',
    type: path,
    default: SALT_STATE_ROOT,
    description: 'Where the state tree goes (`--file-root`); not with `minion_config`.',
  },
  {
    key: 'remote_pillar_roots',
    type: path,
    default: SALT_PILLAR_ROOT,
    description: 'Where the pillar roots go (`--pillar-root`); not with `minion_config`.',
  },
  {
    key: 'minion_config',
    type: path,
    description: 'File of the minion configuration, moved to `/etc/salt/minion`.',
  },
  { key: 'grains_file', type: path, description: 'File of grains, moved to `/etc/salt/grains`.' },
  {
    key: 'formulas',
    type: { kind: 'stringList' },
    description:
      'Git formulas (`git::https://…/repo.git//subdir?ref=v1`), cloned on the instance into the state tree unless it has that subdirectory.',
  },
  {
    key: 'custom_state',
    type: str,
    description: 'Run `state.sls <custom_state>` instead of `state.highstate`.',
  },
  {
    key: 'skip_bootstrap',
    type: bool,
    default: false,
    description: 'Do not run the Salt bootstrap (Salt is in the image).',
  },
  { key: 'bootstrap_args', type: str, description: 'Arguments of the bootstrap script, as shell text.' },
  { key: 'disable_sudo', type: bool, default: false, description: 'Run the commands without `sudo`.' },
  { key: 'log_level', type: str, default: 'info', description: 'salt-call `-l`.' },
  {
    key: 'no_exit_on_failure',
    type: bool,
    default: false,
    description: 'A failing salt-call does not fail the build.',
  },
  { key: 'salt_call_args', type: str, description: 'More salt-call arguments, as shell text.' },
  { key: 'salt_bin_dir', type: path, description: 'Directory of `salt-call`; default: the `PATH`.' },
  {
    key: 'temp_config_dir',
    type: path,
    default: SALT_TEMP_CONFIG_DIR,
    description: 'Directory on the instance the files are uploaded to before they are moved.',
  },
  {
    key: 'guest_os_type',
    type: str,
    default: 'unix',
    description: 'Only `unix`: instance-store AMIs are Linux.',
  },
];

/** A formula of `formulas`, as go-getter reads it. */
export interface SaltFormula {
  /** As written in the template. */
  url: string;
  /** The git repository to clone. */
  repository: string;
  /** `?ref=`: a branch or tag. */
  ref?: string;
  /** The `//subdir` that becomes `<state tree>/<subdir>`. */
  subdirectory: string;
}

export interface SaltMasterlessProvisioner extends ProvisionerTiming {
  type: 'salt-masterless';
  index: number;
  name: string;
  /** `temp_config_dir`, default `/tmp/salt`. */
  tempConfigDir: string;
  /** Where the state tree goes: `remote_state_tree` or `/srv/salt`. */
  stateTree: string;
  /** Where the pillar roots go (with `local_pillar_roots`): `remote_pillar_roots` or `/srv/pillar`. */
  pillarRoots: string;
  /** minion config, grains, state tree and pillar roots, each uploaded into `temp_config_dir`. */
  uploads: GuestUpload[];
  formulas: SaltFormula[];
  /** The bootstrap's two commands; absent with `skip_bootstrap`. */
  bootstrap?: { fetch: string; run: string };
  /** `[sudo ]<salt_bin_dir>/salt-call --local <args>`. */
  saltCall: string;
  /** The `<args>` of {@link saltCall} (Packer's `CmdArgs`), for the progress line. */
  saltCallArgs: string;
  /** `!disable_sudo`: moves and salt-call go through sudo. */
  sudo: boolean;
  noExitOnFailure: boolean;
}

const FORMULA_URL = /^(.*).git\/\/[a-zA-Z0-9-_]+(\?.*)?$/;

/** The local path keys of salt-masterless, for the CLI's staging. */
export const SALT_MASTERLESS_PATH_KEYS: readonly {
  key: string;
  list: boolean;
  directory: boolean;
  bad: (p: string, e: string) => string;
  notDirectory?: (p: string) => string;
}[] = [
  {
    key: 'local_state_tree',
    list: false,
    directory: true,
    bad: (p, e) => `local_state_tree: path '${p}' is invalid: ${e}`,
    notDirectory: (p) => `local_state_tree: path '${p}' must point to a directory`,
  },
  {
    key: 'local_pillar_roots',
    list: false,
    directory: true,
    bad: (p, e) => `local_pillar_roots: path '${p}' is invalid: ${e}`,
    notDirectory: (p) => `local_pillar_roots: path '${p}' must point to a directory`,
  },
  {
    key: 'minion_config',
    list: false,
    directory: false,
    bad: (p, e) => `minion_config: path '${p}' is invalid: ${e}`,
  },
  {
    key: 'grains_file',
    list: false,
    directory: false,
    bad: (p, e) => `grains_file: path '${p}' is invalid: ${e}`,
  },
];

function parseFormula(url: string): SaltFormula {
  const bare = url.replace(/^git::/, '');
  const split = bare.lastIndexOf('.git//');
  const repository = `${bare.slice(0, split)}.git`;
  const rest = bare.slice(split + '.git//'.length);
  const [subdirectory = '', query = ''] = rest.split('?', 2);
  const ref = new URLSearchParams(query).get('ref') ?? undefined;
  return { url, repository, subdirectory, ...(ref === undefined || ref === '' ? {} : { ref }) };
}

/** Decodes a `salt-masterless` provisioner (its keys already decoded by {@link SALT_MASTERLESS_KEYS}). */
export function saltMasterless(
  d: Decoded,
  index: number,
  ctx: ProvisionerContext,
): SaltMasterlessProvisioner | undefined {
  const { report } = ctx;
  const label = `provisioner ${index + 1}`;
  const before = report.problems.length;
  checkGuestOsType(d.string('guest_os_type'), d.at('guest_os_type'), report);
  const temp = d.nonEmpty('temp_config_dir') ?? SALT_TEMP_CONFIG_DIR;
  checkRemoteDirectory(temp, 'temp_config_dir', d.at('temp_config_dir'), report);
  const uploads: GuestUpload[] = [];
  const place = (key: string, target: string, at: Path) => {
    const value = d.nonEmpty(key);
    if (value === undefined) return false;
    const rule = SALT_MASTERLESS_PATH_KEYS.find((k) => k.key === key);
    if (rule === undefined) throw new Error(`internal: no rule for ${key}`);
    const ref = guestPathRef(value, key, at, ctx, rule);
    if (ref !== undefined) uploads.push({ key, ref, kind: rule.directory ? 'directory' : 'file', target });
    return true;
  };
  // Packer's order of checks and of uploads differ; problems come in the order of its Prepare.
  if (d.nonEmpty('local_state_tree') === undefined && !d.failed.has('local_state_tree')) {
    report.error(d.at('local_state_tree'), 'local_state_tree cannot be empty');
  }
  const formulaUrls = d.list('formulas') ?? [];
  if (formulaUrls.length > 0 && !formulaUrls.every((u) => FORMULA_URL.test(u))) {
    report.error(
      d.at('formulas'),
      "Invalid formula URL. Please verify the git URLs also contain a '//' subdir",
    );
  }
  const minion = d.nonEmpty('minion_config') !== undefined;
  const remoteState = d.nonEmpty('remote_state_tree');
  const remotePillar = d.nonEmpty('remote_pillar_roots');
  if (minion && (remoteState !== undefined || remotePillar !== undefined)) {
    report.error(
      d.path,
      'remote_state_tree and remote_pillar_roots only apply when minion_config is not used',
    );
  }
  const stateTree = remoteState ?? SALT_STATE_ROOT;
  const pillarRoots = remotePillar ?? SALT_PILLAR_ROOT;
  for (const [key, value] of [
    ['remote_state_tree', stateTree],
    ['remote_pillar_roots', pillarRoots],
  ] as const) {
    checkRemoteDirectory(value, key, d.at(key), report);
  }
  place('minion_config', joinRemote(temp, 'minion'), d.at('minion_config'));
  place('grains_file', joinRemote(temp, 'grains'), d.at('grains_file'));
  place('local_state_tree', joinRemote(temp, 'states'), d.at('local_state_tree'));
  place('local_pillar_roots', joinRemote(temp, 'pillar'), d.at('local_pillar_roots'));

  const sudo = !(d.boolean('disable_sudo') ?? false);
  const noExitOnFailure = d.boolean('no_exit_on_failure') ?? false;
  const customState = d.nonEmpty('custom_state');
  const args: string[] =
    customState === undefined ? ['state.highstate'] : ['state.sls', shellQuote(customState)];
  if (!minion) args.push(`--file-root=${shellQuote(stateTree)}`, `--pillar-root=${shellQuote(pillarRoots)}`);
  if (!noExitOnFailure) args.push('--retcode-passthrough');
  args.push('-l', shellQuote(d.nonEmpty('log_level') ?? 'info'));
  const extra = d.nonEmpty('salt_call_args');
  if (extra !== undefined) {
    if (/[\n\r\0]/.test(extra))
      report.error(d.at('salt_call_args'), `${label}: salt_call_args must be one line`);
    args.push(extra);
  }
  const binDir = d.nonEmpty('salt_bin_dir');
  const saltCallPath = binDir === undefined ? 'salt-call' : joinRemote(binDir, 'salt-call');
  const bootstrapArgs = d.string('bootstrap_args') ?? '';
  if (/[\n\r\0]/.test(bootstrapArgs))
    report.error(d.at('bootstrap_args'), `${label}: bootstrap_args must be one line`);
  const times = timing(d, ctx, label);
  if (report.problems.length > before) return undefined;
  const prefix = sudo ? 'sudo ' : '';
  const result: SaltMasterlessProvisioner = {
    type: 'salt-masterless',
    index,
    name: d.nonEmpty('name') ?? 'salt-masterless',
    tempConfigDir: temp,
    stateTree,
    pillarRoots,
    uploads,
    formulas: formulaUrls.map(parseFormula),
    saltCall: `${prefix}${shellQuote(saltCallPath)} --local ${args.join(' ')}`,
    saltCallArgs: args.join(' '),
    sudo,
    noExitOnFailure,
    ...times,
  };
  if (!(d.boolean('skip_bootstrap') ?? false)) {
    result.bootstrap = {
      fetch: SALT_BOOTSTRAP_FETCH,
      run: `${prefix}${SALT_BOOTSTRAP_RUN} ${bootstrapArgs}`,
    };
  }
  return result;
}
