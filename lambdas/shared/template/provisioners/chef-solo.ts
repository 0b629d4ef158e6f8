/**
 * The `chef-solo` provisioner, with Packer's keys, defaults and messages (packer-plugin-chef
 * `provisioner/chef-solo/provisioner.go`): Chef is installed with `install_command` unless `skip_install`, the
 * cookbooks, roles, data bags and environments are placed under `staging_directory`, `solo.rb` and
 * `node.json` are written there, and `execute_command` runs chef-solo.
 */
import type { FileRef, ProvisionerTiming } from '../../config.js';
import type { Decoded, Path } from '../decode.js';
import { describeValue } from '../decode.js';
import { type FieldSpec, PROVISIONER_COMMON_KEYS } from '../keys.js';
import type { ProvisionerContext } from '../provisioners.js';
import { timing } from '../provisioners.js';
import {
  checkGuestOsType,
  checkRemoteDirectory,
  type GuestUpload,
  guestPathRef,
  renderGuestCommand,
  renderJsonStrings,
} from './guest.js';

export const CHEF_SOLO_EXECUTE_COMMAND =
  '{{if .Sudo}}sudo {{end}}chef-solo --no-color -c {{.ConfigPath}} -j {{.JsonPath}}';
export const CHEF_SOLO_INSTALL_COMMAND =
  'curl -L https://omnitruck.chef.io/install.sh | {{if .Sudo}}sudo {{end}}bash -s --{{if .Version}} -v {{.Version}}{{end}}';
export const CHEF_SOLO_STAGING_DIRECTORY = '/tmp/packer-chef-solo';

/** Packer's `DefaultConfigTemplate`, byte for byte. */
export const CHEF_SOLO_CONFIG_TEMPLATE = `
chef_license 		"{{.ChefLicense}}"
cookbook_path 	[{{.CookbookPaths}}]
{{if .HasRolesPath}}
role_path		"{{.RolesPath}}"
{{end}}
{{if .HasDataBagsPath}}
data_bag_path	"{{.DataBagsPath}}"
{{end}}
{{if .HasEncryptedDataBagSecretPath}}
encrypted_data_bag_secret "{{.EncryptedDataBagSecretPath}}"
{{end}}
{{if .HasEnvironmentsPath}}
environment_path "{{.EnvironmentsPath}}"
environment "{{.ChefEnvironment}}"
{{end}}
`;

const str: FieldSpec['type'] = { kind: 'string' };
const path: FieldSpec['type'] = { kind: 'string', trim: true };
const list: FieldSpec['type'] = { kind: 'stringList' };
const bool: FieldSpec['type'] = { kind: 'boolean' };

/** `chef-solo` provisioner keys. */
export const CHEF_SOLO_KEYS: readonly FieldSpec[] = [
  ...PROVISIONER_COMMON_KEYS,
  {
    key: 'cookbook_paths',
    type: list,
    description:
      'Directories of cookbooks (`s3://…/` prefixes; local directories: CLI only), placed at `<staging_directory>/cookbooks-<n>`.',
  },
  {
    key: 'remote_cookbook_paths',
    type: list,
    description: 'Cookbook directories already on the instance, listed first in `cookbook_path`.',
  },
  {
    key: 'roles_path',
    type: path,
    description: 'Directory of roles, placed at `<staging_directory>/roles`.',
  },
  {
    key: 'data_bags_path',
    type: path,
    description: 'Directory of data bags, placed at `<staging_directory>/data_bags`.',
  },
  {
    key: 'encrypted_data_bag_secret_path',
    type: path,
    description: 'File of the data bag secret, placed at `<staging_directory>/encrypted_data_bag_secret`.',
  },
  {
    key: 'environments_path',
    type: path,
    description: 'Directory of environments, placed at `<staging_directory>/environments`.',
  },
  {
    key: 'chef_environment',
    type: str,
    description: 'The `environment` of `solo.rb` (with `environments_path`).',
  },
  {
    key: 'chef_license',
    type: str,
    description:
      '`chef_license` of `solo.rb`; `accept-silent` when Chef is installed with the default `install_command`.',
  },
  {
    key: 'config_template',
    type: path,
    description:
      "File of a `solo.rb` template (Packer's fields: `{{.CookbookPaths}}`, `{{.RolesPath}}`, …); default: Packer's own.",
  },
  { key: 'json', type: { kind: 'anyObject' }, description: 'Node attributes, written to `node.json`.' },
  {
    key: 'json_string',
    type: str,
    description: 'Node attributes as a JSON text (for HCL2, with `jsonencode`).',
  },
  { key: 'run_list', type: list, default: [], description: 'The `run_list` of `node.json`.' },
  {
    key: 'execute_command',
    type: str,
    default: CHEF_SOLO_EXECUTE_COMMAND,
    description: 'How chef-solo runs, a template over `{{.ConfigPath}}`, `{{.JsonPath}}` and `{{.Sudo}}`.',
  },
  {
    key: 'install_command',
    type: str,
    default: CHEF_SOLO_INSTALL_COMMAND,
    description:
      'How Chef is installed, a template over `{{.Sudo}}` and `{{.Version}}`; needs internet access.',
  },
  {
    key: 'skip_install',
    type: bool,
    default: false,
    description: 'Do not install Chef (it is in the image).',
  },
  {
    key: 'prevent_sudo',
    type: bool,
    default: false,
    description: '`{{.Sudo}}` is false: no `sudo` in the commands.',
  },
  {
    key: 'version',
    type: str,
    description: 'Chef version to install (`{{.Version}}`); default: the latest.',
  },
  {
    key: 'staging_directory',
    type: path,
    default: CHEF_SOLO_STAGING_DIRECTORY,
    description: 'Directory on the instance for the cookbooks, `solo.rb` and `node.json` (mode 0777).',
  },
  {
    key: 'guest_os_type',
    type: str,
    default: 'unix',
    description: 'Only `unix`: instance-store AMIs are Linux.',
  },
];

export interface ChefSoloProvisioner extends ProvisionerTiming {
  type: 'chef-solo';
  index: number;
  /** Display name: `chef-solo` or the provisioner's `name`. */
  name: string;
  /** `staging_directory`, default `/tmp/packer-chef-solo`. */
  stagingDirectory: string;
  /** What is placed under the staging directory, in Packer's order (cookbooks, roles, data bags, secret, environments). */
  uploads: GuestUpload[];
  /** `config_template`: a `solo.rb` template file; absent: Packer's default, {@link CHEF_SOLO_CONFIG_TEMPLATE}. */
  configTemplate?: FileRef;
  /** The `solo.rb` template data that does not depend on the template file. */
  configData: {
    /** `"<remote>","<staging>/cookbooks-0",…`, as Packer joins them. */
    CookbookPaths: string;
    RolesPath: string;
    DataBagsPath: string;
    EncryptedDataBagSecretPath: string;
    EnvironmentsPath: string;
    ChefEnvironment: string;
    ChefLicense: string;
  };
  /** `node.json`: `json` with `run_list` set when given. */
  nodeJson: Record<string, unknown>;
  /** `install_command`, rendered; absent with `skip_install`. */
  installCommand?: string;
  /** `execute_command`, rendered. */
  executeCommand: string;
  /** `!prevent_sudo`: the staging directories are made with sudo. */
  sudo: boolean;
}

/** How Packer words each bad path. */
const RULES = {
  cookbook_paths: { directory: true, bad: (p: string, e: string) => `Bad cookbook path '${p}': ${e}` },
  roles_path: { directory: true, bad: (p: string, e: string) => `Bad roles path '${p}': ${e}` },
  data_bags_path: { directory: true, bad: (p: string, e: string) => `Bad data bags path '${p}': ${e}` },
  encrypted_data_bag_secret_path: {
    directory: false,
    bad: (p: string, e: string) => `Bad encrypted data bag secret '${p}': ${e}`,
  },
  environments_path: { directory: true, bad: (p: string, e: string) => `Bad environments path '${p}': ${e}` },
  config_template: { directory: false, bad: (_p: string, e: string) => `Bad config template path: ${e}` },
} as const;

/** The local path keys of chef-solo, for the CLI's staging: directories keep their layout. */
export const CHEF_SOLO_PATH_KEYS: readonly {
  key: string;
  list: boolean;
  directory: boolean;
  bad: (p: string, e: string) => string;
}[] = [
  { key: 'cookbook_paths', list: true, ...RULES.cookbook_paths },
  { key: 'roles_path', list: false, ...RULES.roles_path },
  { key: 'data_bags_path', list: false, ...RULES.data_bags_path },
  { key: 'encrypted_data_bag_secret_path', list: false, ...RULES.encrypted_data_bag_secret_path },
  { key: 'environments_path', list: false, ...RULES.environments_path },
  { key: 'config_template', list: false, ...RULES.config_template },
];

/** `<dir>/<name>` for Packer's `fmt.Sprintf("%s/…", StagingDir)`. */
function under(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

function nodeJsonOf(d: Decoded, ctx: ProvisionerContext): Record<string, unknown> | undefined {
  const { report } = ctx;
  let json: Record<string, unknown> = d.any('json') ?? {};
  const text = d.nonEmpty('json_string');
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        report.error(
          d.at('json_string'),
          `Failed to unmarshal 'json_string': expected an object, got ${describeValue(parsed)}`,
        );
        return undefined;
      }
      json = parsed as Record<string, unknown>;
    } catch (error) {
      report.error(d.at('json_string'), `Failed to unmarshal 'json_string': ${(error as Error).message}`);
      return undefined;
    }
  }
  const before = report.problems.length;
  const rendered = renderJsonStrings(
    json,
    d.at(text === undefined ? 'json' : 'json_string'),
    report,
    ctx.env,
  );
  return report.problems.length > before ? undefined : (rendered as Record<string, unknown>);
}

/** Decodes a `chef-solo` provisioner (its keys already decoded by {@link CHEF_SOLO_KEYS}). */
export function chefSolo(
  d: Decoded,
  index: number,
  ctx: ProvisionerContext,
): ChefSoloProvisioner | undefined {
  const { report } = ctx;
  const label = `provisioner ${index + 1}`;
  const before = report.problems.length;
  checkGuestOsType(d.string('guest_os_type'), d.at('guest_os_type'), report);
  const staging = d.nonEmpty('staging_directory') ?? CHEF_SOLO_STAGING_DIRECTORY;
  checkRemoteDirectory(staging, 'staging_directory', d.at('staging_directory'), report);
  const skipInstall = d.boolean('skip_install') ?? false;
  const preventSudo = d.boolean('prevent_sudo') ?? false;
  const installText = d.nonEmpty('install_command') ?? CHEF_SOLO_INSTALL_COMMAND;
  let chefLicense = d.string('chef_license') ?? '';
  if (!skipInstall && installText === CHEF_SOLO_INSTALL_COMMAND && chefLicense === '')
    chefLicense = 'accept-silent';

  const ref = (value: string | undefined, key: keyof typeof RULES, at: Path) =>
    value === undefined ? undefined : guestPathRef(value, key, at, ctx, RULES[key]);
  const configTemplate = ref(d.nonEmpty('config_template'), 'config_template', d.at('config_template'));
  const uploads: GuestUpload[] = [];
  const cookbookTargets: string[] = [];
  (d.list('cookbook_paths') ?? []).forEach((value, i) => {
    const target = under(staging, `cookbooks-${i}`);
    const r = ref(value, 'cookbook_paths', [...d.at('cookbook_paths'), i]);
    if (r !== undefined) uploads.push({ key: `cookbook_paths[${i}]`, ref: r, kind: 'directory', target });
    cookbookTargets.push(target);
  });
  const single = (
    key: 'roles_path' | 'data_bags_path' | 'encrypted_data_bag_secret_path' | 'environments_path',
    name: string,
  ) => {
    const value = d.nonEmpty(key);
    if (value === undefined) return '';
    const r = ref(value, key, d.at(key));
    const target = under(staging, name);
    if (r !== undefined)
      uploads.push({ key, ref: r, kind: RULES[key].directory ? 'directory' : 'file', target });
    return target;
  };
  const rolesPath = single('roles_path', 'roles');
  const dataBagsPath = single('data_bags_path', 'data_bags');
  const secretPath = single('encrypted_data_bag_secret_path', 'encrypted_data_bag_secret');
  const environmentsPath = single('environments_path', 'environments');
  const remoteCookbooks = d.list('remote_cookbook_paths') ?? [];
  const nodeJson = nodeJsonOf(d, ctx);
  const runList = d.list('run_list') ?? [];
  if (nodeJson !== undefined && runList.length > 0) nodeJson.run_list = runList;

  const executeCommand = renderGuestCommand(
    d.nonEmpty('execute_command') ?? CHEF_SOLO_EXECUTE_COMMAND,
    'execute_command',
    { ConfigPath: under(staging, 'solo.rb'), JsonPath: under(staging, 'node.json'), Sudo: !preventSudo },
    d.at('execute_command'),
    report,
    ctx.env,
  );
  const installCommand = skipInstall
    ? undefined
    : renderGuestCommand(
        installText,
        'install_command',
        { Sudo: !preventSudo, Version: d.string('version') ?? '' },
        d.at('install_command'),
        report,
        ctx.env,
      );
  const times = timing(d, ctx, label);
  if (report.problems.length > before || executeCommand === undefined || nodeJson === undefined)
    return undefined;
  if (!skipInstall && installCommand === undefined) return undefined;
  const result: ChefSoloProvisioner = {
    type: 'chef-solo',
    index,
    name: d.nonEmpty('name') ?? 'chef-solo',
    stagingDirectory: staging,
    uploads,
    configData: {
      CookbookPaths: [...remoteCookbooks, ...cookbookTargets].map((p) => `"${p}"`).join(','),
      RolesPath: rolesPath,
      DataBagsPath: dataBagsPath,
      EncryptedDataBagSecretPath: secretPath,
      EnvironmentsPath: environmentsPath,
      ChefEnvironment: d.string('chef_environment') ?? '',
      ChefLicense: chefLicense,
    },
    nodeJson,
    executeCommand,
    sudo: !preventSudo,
    ...times,
  };
  if (configTemplate !== undefined) result.configTemplate = configTemplate;
  if (installCommand !== undefined) result.installCommand = installCommand;
  return result;
}
