import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type CommandPlan, planCommand, type ResolvedSource } from '../../../lambdas/send-command/plan.js';
import type { Provisioner } from '../../../lambdas/shared/config.js';
import { ProvisionerFailedError } from '../../../lambdas/shared/errors.js';
import { validateTemplate } from '../../../lambdas/shared/template/validate.js';
import { makeBuildState } from '../fixtures.js';
import { builder, workflow } from '../shared/template/helpers.js';

/** The provisioner as validation makes it from the template. */
function provisioner(p: Record<string, unknown>): Provisioner {
  const [build] = validateTemplate({ builders: [builder()], provisioners: [p] }, workflow).builds;
  const result = build?.provisioners[0];
  if (result === undefined) throw new Error('no provisioner');
  return result;
}

function plan(p: Provisioner, sources: ResolvedSource[], configTemplate?: string): CommandPlan {
  const build = makeBuildState({ config: { provisioners: [p] } });
  return planCommand(build, {
    key: { kind: 'provision', provisionerIndex: 0, attempt: 1 },
    scriptSuffix: 1,
    guest: { sources, ...(configTemplate === undefined ? {} : { configTemplate }) },
  });
}

function text(result: CommandPlan, name: string): string {
  const file = result.files.find((f) => f.name === name);
  if (file?.source.kind !== 'text') throw new Error(`no text file ${name}`);
  return file.source.body;
}

const folder = (uri: string, relatives: string[]): ResolvedSource => {
  const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri) ?? [];
  return {
    uri,
    bucket,
    layout: 'contents',
    basename: '',
    objects: relatives.map((r) => ({ key: `${key}${r}`, relative: r })),
  };
};

const bashSyntax = (script: string) => spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });

describe('planCommand: chef-solo', () => {
  it("stages solo.rb from Packer's default template, node.json and every cookbook file at its place", () => {
    // Prepare
    const p = provisioner({
      type: 'chef-solo',
      cookbook_paths: ['s3://my-chef/cookbooks/'],
      roles_path: 's3://my-chef/roles/',
      run_list: ['role[web]'],
      json: { port: 80 },
    });

    // Act
    const result = plan(p, [
      folder('s3://my-chef/cookbooks/', ['web/recipes/default.rb', 'web/metadata.rb']),
      folder('s3://my-chef/roles/', ['web.json']),
    ]);

    // Assess
    expect(text(result, 'solo.rb')).toBe(
      '\nchef_license \t\t"accept-silent"\ncookbook_path \t["/tmp/packer-chef-solo/cookbooks-0"]\n\nrole_path\t\t"/tmp/packer-chef-solo/roles"\n\n\n\n\n',
    );
    expect(JSON.parse(text(result, 'node.json'))).toEqual({ port: 80, run_list: ['role[web]'] });
    expect(result.files.filter((f) => f.source.kind === 's3').map((f) => [f.name, f.source])).toEqual([
      ['files/0', { kind: 's3', bucket: 'my-chef', key: 'cookbooks/web/recipes/default.rb' }],
      ['files/1', { kind: 's3', bucket: 'my-chef', key: 'cookbooks/web/metadata.rb' }],
      ['files/2', { kind: 's3', bucket: 'my-chef', key: 'roles/web.json' }],
    ]);
    const run = text(result, 'run.sh');
    expect(bashSyntax(run).status).toBe(0);
    expect(run).toContain("printf '    %s\\n' 'Installing Chef...'");
    expect(run).toContain(
      'ami_builder_install files/0 /tmp/packer-chef-solo/cookbooks-0/web/recipes/default.rb 0644',
    );
    expect(run).toContain('ami_builder_ensure_dir /tmp/packer-chef-solo/cookbooks-0/web/recipes');
    expect(run).toContain(
      "'Executing Chef: sudo chef-solo --no-color -c /tmp/packer-chef-solo/solo.rb -j /tmp/packer-chef-solo/node.json'",
    );
    expect(run).toContain('Error executing Chef: Non-zero exit status: $code');
  });

  it('renders a config_template with the same data', () => {
    // Prepare
    const p = provisioner({
      type: 'chef-solo',
      skip_install: true,
      cookbook_paths: ['s3://my-chef/cookbooks/'],
      config_template: 's3://my-chef/solo.rb.tpl',
    });

    // Act
    const result = plan(
      p,
      [folder('s3://my-chef/cookbooks/', ['a/recipes/default.rb'])],
      'cookbook_path [{{.CookbookPaths}}]\n{{if .HasRolesPath}}role_path "{{.RolesPath}}"{{end}}license "{{.ChefLicense}}"\n',
    );

    // Assess
    expect(text(result, 'solo.rb')).toBe('cookbook_path ["/tmp/packer-chef-solo/cookbooks-0"]\nlicense ""\n');
    expect(text(result, 'run.sh')).not.toContain('Installing Chef');
  });

  it('places the encrypted data bag secret readable by its owner only', () => {
    // Prepare
    const p = provisioner({ type: 'chef-solo', encrypted_data_bag_secret_path: 's3://my-chef/secret' });
    const secret: ResolvedSource = {
      uri: 's3://my-chef/secret',
      bucket: 'my-chef',
      layout: 'file',
      basename: 'secret',
      objects: [{ key: 'secret', relative: '' }],
    };

    // Act
    const result = plan(p, [secret]);

    // Assess
    expect(text(result, 'run.sh')).toContain(
      'ami_builder_install files/0 /tmp/packer-chef-solo/encrypted_data_bag_secret 0600',
    );
    expect(text(result, 'solo.rb')).toContain(
      'encrypted_data_bag_secret "/tmp/packer-chef-solo/encrypted_data_bag_secret"',
    );
  });

  it('fails when a cookbook path turns out to be a file', () => {
    // Prepare
    const p = provisioner({ type: 'chef-solo', cookbook_paths: ['s3://my-chef/cookbook.tgz'] });
    const file: ResolvedSource = {
      uri: 's3://my-chef/cookbook.tgz',
      bucket: 'my-chef',
      layout: 'file',
      basename: 'cookbook.tgz',
      objects: [{ key: 'cookbook.tgz', relative: '' }],
    };

    // Act + Assess
    expect(() => plan(p, [file])).toThrow(ProvisionerFailedError);
    expect(() => plan(p, [file])).toThrow(
      'cookbook_paths[0] s3://my-chef/cookbook.tgz must be a folder, not a file',
    );
  });
});

describe('planCommand: salt-masterless', () => {
  it("uploads into temp_config_dir and moves into place with Packer's commands", () => {
    // Prepare
    const p = provisioner({
      type: 'salt-masterless',
      local_state_tree: 's3://my-salt/states/',
      local_pillar_roots: 's3://my-salt/pillar/',
      grains_file: 's3://my-salt/grains',
      formulas: ['git::https://github.com/org/nginx-formula.git//nginx?ref=v1'],
    });
    const grains: ResolvedSource = {
      uri: 's3://my-salt/grains',
      bucket: 'my-salt',
      layout: 'file',
      basename: 'grains',
      objects: [{ key: 'grains', relative: '' }],
    };

    // Act
    const result = plan(p, [
      grains,
      folder('s3://my-salt/states/', ['top.sls', 'web/init.sls']),
      folder('s3://my-salt/pillar/', ['top.sls']),
    ]);

    // Assess
    const run = text(result, 'run.sh');
    expect(bashSyntax(run).status).toBe(0);
    const order = [
      'Downloading saltstack bootstrap to /tmp/install_salt.sh',
      'Installing Salt with command sudo sh /tmp/install_salt.sh ',
      'Creating remote temporary directory: /tmp/salt',
      'Uploading grains file: s3://my-salt/grains',
      'Moving /tmp/salt/grains to /etc/salt/grains',
      'Uploading local state tree: s3://my-salt/states/',
      'git::https://github.com/org/nginx-formula.git//nginx?ref=v1 => /tmp/salt/states/nginx',
      'Verifying Path: /srv/salt',
      'Moving /tmp/salt/states to /srv/salt',
      'Uploading local pillar roots: s3://my-salt/pillar/',
      'Moving /tmp/salt/pillar to /srv/pillar',
      'Running: salt-call --local state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar --retcode-passthrough -l info',
    ].map((line) => run.indexOf(line));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(run).toContain(
      'git clone --quiet --depth 1 --branch v1 -- https://github.com/org/nginx-formula.git',
    );
    expect(run).toContain('sudo mv /tmp/salt/states /srv/salt');
    expect(run).toContain('Error executing salt-call: Bad exit status: $code');
  });

  it('goes on after a failing salt-call with no_exit_on_failure', () => {
    // Prepare
    const p = provisioner({
      type: 'salt-masterless',
      local_state_tree: 's3://my-salt/states/',
      no_exit_on_failure: true,
      skip_bootstrap: true,
    });

    // Act
    const run = text(plan(p, [folder('s3://my-salt/states/', ['top.sls'])]), 'run.sh');

    // Assess
    expect(run).not.toContain('Error executing salt-call');
    expect(run).not.toContain('install_salt.sh');
    expect(run).toContain(
      'sudo salt-call --local state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar -l info',
    );
  });
});
