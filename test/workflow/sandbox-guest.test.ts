/**
 * chef-solo and salt-masterless builds whose commands really run in the sandbox: local cookbooks and state trees
 * are staged by the CLI's staging as `s3://…/` prefixes, placed on the instance with their layout, and applied by
 * the chef-solo and salt-call stand-ins (emulator/guest/), which the images have "installed": the templates set
 * `skip_install` / `skip_bootstrap`, because the sandbox has no internet for Packer's install commands. With
 * `skip_install`, Packer leaves `chef_license` empty and Chef refuses to run (exit 172), so the templates accept it.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stageTemplateFiles } from '../../cli/stage.js';
import { basicExample, provisionerOutputs, useWorkflowHarness, type WorkflowHarness } from './harness.js';

const harness = useWorkflowHarness();
const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Writes files (path → content) below a new temporary directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ami-builder-guest-'));
  dirs.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** Stages the template's local files as `ami-builder build` does, under the execution's own folder. */
async function build(
  h: WorkflowHarness,
  provisioners: Record<string, unknown>[],
  pwd: string,
  label: string,
) {
  const executionName = `wf-${label}-${Date.now()}`;
  const staged = await stageTemplateFiles(
    { builders: [basicExample(h.x509)], provisioners },
    {
      s3: h.s3,
      bucket: h.stack.resources.stagingBucket,
      prefix: executionName,
      templateDir: pwd,
      vars: {},
      pwd,
    },
  );
  return h.run(staged.template, { label, executionName });
}

/**
 * A git repository of a Salt formula, `nginx/init.sls`, on branch main. Under /var/tmp: the sandbox sees the
 * host's files there (its /tmp is its own).
 */
async function formulaRepository(): Promise<string> {
  const work = await mkdtemp(join('/var/tmp', 'ami-builder-formula-'));
  dirs.push(work);
  await mkdir(join(work, 'src', 'nginx'), { recursive: true });
  await writeFile(
    join(work, 'src', 'nginx', 'init.sls'),
    'formula-file:\n  file.managed:\n    - name: /etc/ami-builder/formula.txt\n    - contents: from the formula\n    - makedirs: True\n',
  );
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: join(work, 'src'),
      stdio: 'pipe',
    });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '.');
  git('commit', '--quiet', '-m', 'formula');
  git('clone', '--quiet', '--bare', '.', join(work, 'nginx-formula.git'));
  return join(work, 'nginx-formula.git');
}

const COOKBOOKS = {
  'cookbooks/site/recipes/default.rb': [
    'directory "/etc/ami-builder" do',
    '  recursive true',
    'end',
    'file "/etc/ami-builder/chef.txt" do',
    `  content "chef says #{node['greeting']} with #{node['site']['colour']}\\n"`,
    '  mode "0644"',
    'end',
    'include_recipe "site::extra"',
  ].join('\n'),
  'cookbooks/site/recipes/extra.rb': 'execute "id -un > /etc/ami-builder/chef-user.txt"\n',
  'cookbooks/site/attributes/default.json': '{"colour": "blue"}\n',
  'roles/web.json': '{"name": "web", "run_list": ["recipe[site]"]}\n',
};

const STATES = {
  'salt/top.sls': "base:\n  '*':\n    - web\n    - nginx\n",
  'salt/web/init.sls': [
    'include:',
    '  - web.files',
    'salt-file:',
    '  file.managed:',
    '    - name: /etc/ami-builder/salt.txt',
    '    - contents: "salt says {{ pillar[\'greeting\'] }}"',
    '    - makedirs: True',
  ].join('\n'),
  'salt/web/files.sls':
    'copied:\n  file.managed:\n    - name: /etc/ami-builder/motd\n    - source: salt://web/motd\n    - makedirs: True\n',
  'salt/web/motd': 'from the state tree\n',
  'pillar/top.sls': "base:\n  '*':\n    - common\n",
  'pillar/common.sls': 'greeting: hello from pillar\n',
};

describe('chef-solo and salt-masterless builds in the sandbox', () => {
  it('stages the cookbooks and the state tree, applies them on the instance, and a later shell provisioner reads what they wrote', async () => {
    // Prepare
    const h = harness();
    expect(h.emulator.mode).toBe('sandbox');
    const pwd = await tree({ ...COOKBOOKS, ...STATES });
    const formula = await formulaRepository();

    // Act
    const result = await build(
      h,
      [
        {
          type: 'chef-solo',
          // Packer's {{.Sudo}} in a custom install command; the image already has the chef-solo stand-in.
          install_command: '{{if .Sudo}}sudo {{end}}test -x /usr/local/bin/chef-solo',
          chef_license: 'accept-silent',
          cookbook_paths: ['cookbooks'],
          roles_path: 'roles',
          run_list: ['role[web]'],
          json: { greeting: 'hi there' },
        },
        {
          type: 'salt-masterless',
          skip_bootstrap: true,
          local_state_tree: 'salt',
          local_pillar_roots: 'pillar',
          formulas: [`git::file://${formula}//nginx?ref=main`],
        },
        {
          type: 'shell',
          inline: [
            'cat /etc/ami-builder/chef.txt /etc/ami-builder/chef-user.txt /etc/ami-builder/salt.txt',
            'echo',
            'cat /etc/ami-builder/motd /etc/ami-builder/formula.txt',
          ],
        },
      ],
      pwd,
      'guest',
    );

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const [chef, salt, shell] = await provisionerOutputs(h);
    expect(chef).toContain('Provisioning with chef-solo');
    expect(chef).toContain(
      'Executing Chef: sudo chef-solo --no-color -c /tmp/packer-chef-solo/solo.rb -j /tmp/packer-chef-solo/node.json',
    );
    expect(chef).toContain('Recipe: site::extra');
    expect(salt).toContain(
      'Running: salt-call --local state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar --retcode-passthrough -l info',
    );
    expect(salt).toContain('Succeeded: 3 (changed=3)');
    expect(shell).toContain(
      'chef says hi there with blue\nroot\nsalt says hello from pillar\nfrom the state tree\nfrom the formula',
    );
    expect(chef).toContain('Installing Chef...');
    expect(salt).toContain(`git::file://${formula}//nginx?ref=main => /tmp/salt/states/nginx`);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  const failures = [
    {
      what: 'the run list names a recipe the cookbook does not have',
      provisioner: {
        type: 'chef-solo',
        skip_install: true,
        chef_license: 'accept',
        cookbook_paths: ['cookbooks'],
        run_list: ['recipe[site::missing]'],
      },
      cause: [
        /Provisioner 1 \(chef-solo\) failed with exit code 1/,
        /could not find recipe missing for cookbook site/,
        /Error executing Chef: Non-zero exit status: 1/,
      ],
    },
    {
      what: 'custom_state names an SLS the state tree does not have',
      provisioner: {
        type: 'salt-masterless',
        skip_bootstrap: true,
        local_state_tree: 'salt',
        custom_state: 'missing',
      },
      cause: [
        /Provisioner 1 \(salt-masterless\) failed with exit code 1/,
        /Error executing salt-call: Bad exit status: 1/,
      ],
    },
  ];
  for (const c of failures) {
    it(`fails with ProvisionerFailedError when ${c.what}, and cleans up`, async () => {
      // Prepare
      const h = harness();
      const pwd = await tree({ ...COOKBOOKS, ...STATES });

      // Act
      const result = await build(h, [c.provisioner], pwd, 'guest-fail');

      // Assess
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ProvisionerFailedError');
      for (const expected of c.cause) expect(result.cause).toMatch(expected);
      expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
    });
  }
});
