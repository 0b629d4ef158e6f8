import { describe, expect, it } from 'vitest';
import type { ChefSoloProvisioner } from '../../../../lambdas/shared/template/provisioners/chef-solo.js';
import type { SaltMasterlessProvisioner } from '../../../../lambdas/shared/template/provisioners/salt-masterless.js';
import { builder, cli, config, problems, validated, workflow } from './helpers.js';

const template = (provisioner: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  builders: [builder()],
  provisioners: [provisioner],
  ...extra,
});

const chef = (changes: Record<string, unknown>, options = workflow, extra: Record<string, unknown> = {}) =>
  config(template({ type: 'chef-solo', ...changes }, extra), options).provisioners[0] as ChefSoloProvisioner;
const salt = (changes: Record<string, unknown>, options = workflow) =>
  config(template({ type: 'salt-masterless', local_state_tree: 's3://my-states/salt/', ...changes }), options)
    .provisioners[0] as SaltMasterlessProvisioner;

/** A CLI validation where `dirs` are directories, `files` files, and everything else is missing. */
function localDisk(dirs: string[], files: string[]) {
  return {
    ...cli,
    checkLocalFile: (path: string) => {
      const bare = path.replace(/\/\.$/, '');
      if (dirs.includes(bare)) return undefined;
      if (files.includes(path)) return undefined;
      if (files.includes(bare)) return `stat ${path}: not a directory`;
      return `stat ${path}: no such file or directory`;
    },
  };
}

describe('chef-solo provisioner', () => {
  it("renders Packer's default commands, staging directory and solo.rb data", () => {
    // Act
    const p = chef({ cookbook_paths: ['s3://my-chef/cookbooks/'], run_list: ['recipe[web]'] });

    // Assess
    expect(p.executeCommand).toBe(
      'sudo chef-solo --no-color -c /tmp/packer-chef-solo/solo.rb -j /tmp/packer-chef-solo/node.json',
    );
    expect(p.installCommand).toBe('curl -L https://omnitruck.chef.io/install.sh | sudo bash -s --');
    expect(p.stagingDirectory).toBe('/tmp/packer-chef-solo');
    expect(p.configData).toEqual({
      CookbookPaths: '"/tmp/packer-chef-solo/cookbooks-0"',
      RolesPath: '',
      DataBagsPath: '',
      EncryptedDataBagSecretPath: '',
      EnvironmentsPath: '',
      ChefEnvironment: '',
      ChefLicense: 'accept-silent',
    });
    expect(p.nodeJson).toEqual({ run_list: ['recipe[web]'] });
    expect(p.uploads).toEqual([
      {
        key: 'cookbook_paths[0]',
        kind: 'directory',
        target: '/tmp/packer-chef-solo/cookbooks-0',
        ref: { kind: 's3', bucket: 'my-chef', key: 'cookbooks/', uri: 's3://my-chef/cookbooks/' },
      },
    ]);
  });

  it('places every path as Packer does, remote cookbook paths first', () => {
    // Act
    const p = chef({
      cookbook_paths: ['s3://my-chef/a/', 's3://my-chef/b/'],
      remote_cookbook_paths: ['/opt/cookbooks'],
      roles_path: 's3://my-chef/roles/',
      data_bags_path: 's3://my-chef/bags/',
      encrypted_data_bag_secret_path: 's3://my-chef/secret',
      environments_path: 's3://my-chef/envs/',
      chef_environment: 'prod',
      staging_directory: '/var/chef-stage/',
    });

    // Assess
    expect(p.uploads.map((u) => [u.key, u.kind, u.target])).toEqual([
      ['cookbook_paths[0]', 'directory', '/var/chef-stage/cookbooks-0'],
      ['cookbook_paths[1]', 'directory', '/var/chef-stage/cookbooks-1'],
      ['roles_path', 'directory', '/var/chef-stage/roles'],
      ['data_bags_path', 'directory', '/var/chef-stage/data_bags'],
      ['encrypted_data_bag_secret_path', 'file', '/var/chef-stage/encrypted_data_bag_secret'],
      ['environments_path', 'directory', '/var/chef-stage/environments'],
    ]);
    expect(p.configData.CookbookPaths).toBe(
      '"/opt/cookbooks","/var/chef-stage/cookbooks-0","/var/chef-stage/cookbooks-1"',
    );
    expect(p.configData.ChefEnvironment).toBe('prod');
  });

  it('follows prevent_sudo, version, skip_install and a custom install_command as Packer does', () => {
    expect(chef({ prevent_sudo: true, version: '17.10.3' })).toMatchObject({
      executeCommand:
        'chef-solo --no-color -c /tmp/packer-chef-solo/solo.rb -j /tmp/packer-chef-solo/node.json',
      installCommand: 'curl -L https://omnitruck.chef.io/install.sh | bash -s -- -v 17.10.3',
    });
    const skipped = chef({ skip_install: true });
    expect(skipped.installCommand).toBeUndefined();
    expect(skipped.configData.ChefLicense).toBe('');
    const custom = chef({ install_command: 'apt-get install -y chef' });
    expect(custom.installCommand).toBe('apt-get install -y chef');
    expect(custom.configData.ChefLicense).toBe('');
    expect(chef({ chef_license: 'accept' }).configData.ChefLicense).toBe('accept');
  });

  it('quotes each value a command template prints for the place it stands in', () => {
    // Act
    const p = chef({
      staging_directory: "/tmp/my chef's",
      version: '1; rm -rf /',
      execute_command: 'chef-solo -c "{{.ConfigPath}}" -j {{.JsonPath}}',
    });

    // Assess
    expect(p.executeCommand).toBe(`chef-solo -c "/tmp/my chef's/solo.rb" -j '/tmp/my chef'\\''s/node.json'`);
    expect(p.installCommand).toBe(
      `curl -L https://omnitruck.chef.io/install.sh | sudo bash -s -- -v '1; rm -rf /'`,
    );
  });

  it('writes json with its user variables rendered, run_list replacing its own', () => {
    // Act
    const p = chef(
      { json: { app: { owner: '{{user `owner`}}' }, run_list: ['x'] }, run_list: ['recipe[a]', 'role[b]'] },
      workflow,
      { variables: { owner: 'ops "team"' } },
    );

    // Assess
    expect(p.nodeJson).toEqual({ app: { owner: 'ops "team"' }, run_list: ['recipe[a]', 'role[b]'] });
    expect(chef({ json_string: '{"a": 1}' }).nodeJson).toEqual({ a: 1 });
  });

  it("fails with Packer's messages", () => {
    expect(
      problems(
        template({
          type: 'chef-solo',
          json_string: '{',
          guest_os_type: 'beos',
          execute_command: '{{.Path}}',
        }),
      ),
    ).toEqual([
      'provisioners[0]: Invalid guest_os_type: "beos"',
      "provisioners[0]: Failed to unmarshal 'json_string': Expected property name or '}' in JSON at position 1",
      'provisioners[0]: execute_command may only use {{.ConfigPath}}, {{.JsonPath}}, {{.Sudo}}; unknown variable {{.Path}}',
    ]);
    expect(problems(template({ type: 'chef-solo', guest_os_type: 'windows' }))).toEqual([
      'provisioners[0]: guest_os_type "windows" is not supported: instance-store AMIs are Linux only',
    ]);
    expect(problems(template({ type: 'chef-solo', staging_directory: 'relative' }))).toEqual([
      'provisioners[0]: staging_directory must be an absolute path on the instance, on one line; got "relative"',
    ]);
    // One rule for every guest provisioner's guest_os_type and directories on the instance.
    expect(
      problems(
        template({ type: 'puppet-masterless', manifest_file: 's3://b-b/site.pp', guest_os_type: 'windows' }),
      ),
    ).toEqual([
      'provisioners[0]: guest_os_type "windows" is not supported: instance-store AMIs are Linux only',
    ]);
    expect(
      problems(
        template({ type: 'puppet-masterless', manifest_file: 's3://b-b/site.pp', guest_os_type: 'beos' }),
      ),
    ).toEqual(['provisioners[0]: Invalid guest_os_type: "beos"']);
    expect(
      config(
        template({ type: 'puppet-masterless', manifest_file: 's3://b-b/site.pp', guest_os_type: 'UNIX' }),
      ).provisioners[0]?.type,
    ).toBe('puppet-masterless');
    expect(
      problems(
        template({
          type: 'salt-masterless',
          local_state_tree: 's3://b-b/salt/',
          temp_config_dir: '/tmp/../etc',
        }),
      ),
    ).toEqual(['provisioners[0]: temp_config_dir must not have ".." segments; got "/tmp/../etc"']);
    expect(
      problems(
        template({ type: 'ansible-local', playbook_file: 's3://b-b/site.yml', staging_directory: 'rel' }),
      ),
    ).toEqual([
      'provisioners[0]: staging_directory must be an absolute path on the instance, on one line; got "rel"',
    ]);
    expect(problems(template({ type: 'chef-solo', cookbook_path: ['x'] }))).toEqual([
      `provisioners[0]: unknown configuration key: '"cookbook_path"'`,
    ]);
  });

  it('checks local paths in the CLI as Packer stats them, and refuses them in the workflow', () => {
    // Prepare
    const disk = localDisk(['cookbooks', 'roles'], ['secret', 'solo.rb.tpl', 'notadir']);

    // Act
    const found = problems(
      template({
        type: 'chef-solo',
        cookbook_paths: ['cookbooks', 'missing', 'notadir'],
        roles_path: 'roles',
        data_bags_path: 'bags',
        encrypted_data_bag_secret_path: 'secret',
        environments_path: 'envs',
        config_template: 'nope.tpl',
      }),
      disk,
    );

    // Assess
    expect(found).toEqual([
      'provisioners[0].config_template: Bad config template path: stat nope.tpl: no such file or directory',
      "provisioners[0].cookbook_paths[1]: Bad cookbook path 'missing': stat missing: no such file or directory",
      "provisioners[0].cookbook_paths[2]: Bad cookbook path 'notadir': stat notadir: not a directory",
      "provisioners[0].data_bags_path: Bad data bags path 'bags': stat bags: no such file or directory",
      "provisioners[0].environments_path: Bad environments path 'envs': stat envs: no such file or directory",
    ]);
    expect(problems(template({ type: 'chef-solo', cookbook_paths: ['cookbooks'] })).join('\n')).toContain(
      'cookbook_paths: "cookbooks" is a local path, but the workflow reads files only from S3',
    );
  });
});

describe('the core keys on guest-side provisioners', () => {
  it('applies only, except, override, pause_before, max_retries and timeout as on shell', () => {
    // Prepare
    const input = {
      builders: [builder({ name: 'a' }), builder({ name: 'b' })],
      provisioners: [
        {
          type: 'chef-solo',
          run_list: ['recipe[base]'],
          override: { b: { run_list: ['recipe[other]'] } },
          pause_before: '10s',
          max_retries: 3,
          timeout: '5m',
        },
        { type: 'salt-masterless', local_state_tree: 's3://my-states/salt/', only: ['a'] },
        { type: 'salt-masterless', local_state_tree: 's3://my-states/salt/', except: ['a'] },
      ],
    };

    // Act
    const builds = validated(input).builds;

    // Assess
    expect(builds.map((b) => b.provisioners.map((p) => p.type))).toEqual([
      ['chef-solo', 'salt-masterless'],
      ['chef-solo', 'salt-masterless'],
    ]);
    const [a, b] = builds.map((build) => build.provisioners[0] as ChefSoloProvisioner);
    expect(a).toMatchObject({ pauseBeforeSeconds: 10, maxRetries: 3, timeoutSeconds: 300 });
    expect(a?.nodeJson.run_list).toEqual(['recipe[base]']);
    expect(b?.nodeJson.run_list).toEqual(['recipe[other]']);
    expect(builds.map((build) => build.provisioners[1]?.index)).toEqual([1, 2]);
  });
});

describe('salt-masterless provisioner', () => {
  it("builds Packer's salt-call command line and bootstrap", () => {
    // Act
    const p = salt({});

    // Assess
    expect(p.saltCall).toBe(
      'sudo salt-call --local state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar --retcode-passthrough -l info',
    );
    expect(p.bootstrap).toEqual({
      fetch:
        'curl -L https://bootstrap.saltproject.io -o /tmp/install_salt.sh || wget -O /tmp/install_salt.sh https://bootstrap.saltproject.io',
      run: 'sudo sh /tmp/install_salt.sh ',
    });
    expect(p.uploads).toEqual([
      {
        key: 'local_state_tree',
        kind: 'directory',
        target: '/tmp/salt/states',
        ref: { kind: 's3', bucket: 'my-states', key: 'salt/', uri: 's3://my-states/salt/' },
      },
    ]);
    expect([p.tempConfigDir, p.stateTree, p.pillarRoots]).toEqual(['/tmp/salt', '/srv/salt', '/srv/pillar']);
  });

  it('follows every option of the run as Packer does', () => {
    // Act
    const p = salt({
      custom_state: 'web.nginx',
      remote_state_tree: '/srv/states',
      remote_pillar_roots: '/srv/data',
      no_exit_on_failure: true,
      log_level: 'debug',
      salt_call_args: 'pillar=\'{"a": 1}\'',
      salt_bin_dir: '/opt/salt/bin',
      disable_sudo: true,
      skip_bootstrap: true,
      temp_config_dir: '/var/tmp/salt',
      local_pillar_roots: 's3://my-states/pillar/',
      grains_file: 's3://my-states/grains',
    });

    // Assess
    expect(p.saltCall).toBe(
      `/opt/salt/bin/salt-call --local state.sls web.nginx --file-root=/srv/states --pillar-root=/srv/data -l debug pillar='{"a": 1}'`,
    );
    expect(p.bootstrap).toBeUndefined();
    expect(p.noExitOnFailure).toBe(true);
    expect(p.uploads.map((u) => [u.key, u.kind, u.target])).toEqual([
      ['grains_file', 'file', '/var/tmp/salt/grains'],
      ['local_state_tree', 'directory', '/var/tmp/salt/states'],
      ['local_pillar_roots', 'directory', '/var/tmp/salt/pillar'],
    ]);
    expect(salt({ minion_config: 's3://my-states/minion', custom_state: "it's" }).saltCall).toBe(
      `sudo salt-call --local state.sls 'it'"'"'s' --retcode-passthrough -l info`,
    );
    expect(salt({ bootstrap_args: '-P git v3006.8' }).bootstrap?.run).toBe(
      'sudo sh /tmp/install_salt.sh -P git v3006.8',
    );
  });

  it('reads formulas as go-getter URLs', () => {
    expect(
      salt({ formulas: ['git::https://github.com/org/nginx-formula.git//nginx?ref=v1.2'] }).formulas,
    ).toEqual([
      {
        url: 'git::https://github.com/org/nginx-formula.git//nginx?ref=v1.2',
        repository: 'https://github.com/org/nginx-formula.git',
        subdirectory: 'nginx',
        ref: 'v1.2',
      },
    ]);
  });

  it("fails with Packer's messages", () => {
    expect(
      problems(
        template({
          type: 'salt-masterless',
          formulas: ['https://github.com/org/repo'],
          minion_config: 's3://my-states/minion',
          remote_state_tree: '/srv/x',
        }),
      ),
    ).toEqual([
      'provisioners[0]: local_state_tree cannot be empty',
      "provisioners[0].formulas: Invalid formula URL. Please verify the git URLs also contain a '//' subdir",
      'provisioners[0]: remote_state_tree and remote_pillar_roots only apply when minion_config is not used',
    ]);
    expect(
      problems(
        template({
          type: 'salt-masterless',
          local_state_tree: 'states',
          minion_config: 'minion',
          grains_file: 'g',
        }),
        localDisk(['states', 'minion'], []),
      ),
    ).toEqual(["provisioners[0]: grains_file: path 'g' is invalid: stat g: no such file or directory"]);
  });
});
