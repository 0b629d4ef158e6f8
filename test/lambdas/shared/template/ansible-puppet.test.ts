import { describe, expect, it } from 'vitest';
import {
  ansibleGalaxyCommand,
  ansiblePlaybookCommand,
} from '../../../../lambdas/shared/scripts/ansible-local.js';
import { facterVars, renderPuppetCommand } from '../../../../lambdas/shared/scripts/puppet-masterless.js';
import { Report } from '../../../../lambdas/shared/template/decode.js';
import type { AnsibleLocalProvisioner } from '../../../../lambdas/shared/template/provisioners/ansible-local.js';
import { splitArguments } from '../../../../lambdas/shared/template/provisioners/guest.js';
import {
  PUPPET_EXECUTE_COMMAND,
  type PuppetMasterlessProvisioner,
} from '../../../../lambdas/shared/template/provisioners/puppet-masterless.js';
import { builder, config, problems, validated, warnings } from './helpers.js';

const S3 = 's3://my-bucket/ansible/';
const withProvisioners = (provisioners: unknown[]) => ({ builders: [builder()], provisioners });

describe('ansible-local', () => {
  it("stages Packer's documented command line for a playbook", () => {
    // Act
    const command = ansiblePlaybookCommand({
      staging: '/tmp/packer-provisioner-ansible-local/5f1a',
      command: 'ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook',
      playbook: '/tmp/packer-provisioner-ansible-local/5f1a/site.yml',
      inventory: '/tmp/packer-provisioner-ansible-local/5f1a/packer-provisioner-ansible-local123',
      buildName: 'amazon-instance',
      builderType: 'amazon-instance',
      extraArguments: ['--tags', 'a b', "it's"],
      collectionsPaths: [],
      environmentVars: [],
    });

    // Assess: Packer's `cd %s && %s %s %s%s -c local -i %s`, spacing included, each value quoted.
    expect(command).toBe(
      'cd /tmp/packer-provisioner-ansible-local/5f1a &&  ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook ' +
        '/tmp/packer-provisioner-ansible-local/5f1a/site.yml --extra-vars "packer_build_name=amazon-instance ' +
        'packer_builder_type=amazon-instance packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes" ' +
        `--tags 'a b' 'it'"'"'s' -c local -i /tmp/packer-provisioner-ansible-local/5f1a/packer-provisioner-ansible-local123`,
    );
  });

  it('adds the Galaxy paths as Packer does when the requirements name roles and collections', () => {
    const command = ansiblePlaybookCommand({
      staging: '/s',
      command: 'ansible-playbook',
      playbook: '/s/p.yml',
      inventory: '/s/inv',
      buildName: 'b "x" $y',
      builderType: 'amazon-instance',
      extraArguments: [],
      collectionsPaths: ['/s/galaxy_collections'],
      rolesPath: '/s/galaxy_roles',
      environmentVars: [],
    });
    expect(command).toBe(
      'cd /s &&  ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:/s/galaxy_collections ANSIBLE_ROLES_PATH=$ANSIBLE_ROLES_PATH:/s/galaxy_roles ' +
        'ansible-playbook /s/p.yml --extra-vars "packer_build_name=b \\"x\\" \\$y packer_builder_type=amazon-instance ' +
        'packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes"  -c local -i /s/inv',
    );
    expect(
      ansibleGalaxyCommand({
        staging: '/s',
        galaxyCommand: 'ansible-galaxy',
        collection: true,
        file: '/s/requirements.yml',
        path: '/s/galaxy_collections',
        force: true,
      }),
    ).toBe('cd /s && ansible-galaxy collection install -r /s/requirements.yml -p /s/galaxy_collections -f');
  });

  it('decodes its keys with their defaults', () => {
    // Act
    const [p] = config(
      withProvisioners([
        {
          type: 'ansible-local',
          playbook_file: `${S3}site.yml`,
          role_paths: [`${S3}roles/web/`],
          inventory_groups: 'web,db',
          extra_arguments: ['--extra-vars "a=1 b=2"', '-v'],
        },
      ]),
    ).provisioners as AnsibleLocalProvisioner[];

    // Assess
    expect(p).toMatchObject({
      type: 'ansible-local',
      name: 'ansible-local',
      command: 'ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook',
      galaxyCommand: 'ansible-galaxy',
      inventoryGroups: ['web', 'db'],
      extraArguments: ['--extra-vars', 'a=1 b=2', '-v'],
      cleanStagingDirectory: false,
      rolePaths: [{ kind: 's3', uri: `${S3}roles/web/` }],
    });
    expect(p?.stagingDirectory).toBeUndefined();
  });

  it("fails with Packer's messages", () => {
    expect(problems(withProvisioners([{ type: 'ansible-local' }]))).toContain(
      'provisioners[0]: Either playbook_file or playbook_files must be specified',
    );
    expect(
      problems(
        withProvisioners([
          { type: 'ansible-local', playbook_file: `${S3}a.yml`, playbook_files: [`${S3}b.yml`] },
        ]),
      ),
    ).toContain('provisioners[0]: Either playbook_file or playbook_files can be specified, not both');
    expect(
      problems(withProvisioners([{ type: 'ansible-local', playbook_file: 'site.yml' }])).join('\n'),
    ).toContain('is a local path, but the workflow reads files only from S3');
  });
});

describe('the remote ansible provisioner', () => {
  it('runs as ansible-local with its playbook folder, and says what changed', () => {
    // Prepare
    const template = withProvisioners([
      { type: 'ansible', playbook_file: `${S3}site.yml`, groups: ['web'], user: 'ec2-user', use_sftp: true },
    ]);

    // Act
    const [p] = config(template).provisioners as AnsibleLocalProvisioner[];

    // Assess
    expect(p).toMatchObject({
      type: 'ansible-local',
      name: 'ansible',
      inventoryGroups: ['web'],
      playbookDir: { kind: 's3', uri: S3 },
      cleanStagingDirectory: true,
    });
    expect(warnings(template).join('\n')).toMatch(
      /runs as ansible-local on the instance.*no effect without SSH: user, use_sftp/,
    );
  });

  it('fails naming the options that need the machine running Packer', () => {
    const found = problems(
      withProvisioners([
        {
          type: 'ansible',
          playbook_file: `${S3}site.yml`,
          ssh_host_key_file: 'host_key',
          ansible_env_vars: ['ANSIBLE_CONFIG=./ansible.cfg', 'ANSIBLE_HOST_KEY_CHECKING=False'],
        },
      ]),
    ).join('\n');
    expect(found).toContain('ssh_host_key_file (the host key of Packer');
    expect(found).toContain('ansible_env_vars: ANSIBLE_CONFIG names a path on the machine running Packer');
    expect(found).not.toContain('ANSIBLE_HOST_KEY_CHECKING');
  });
});

describe('puppet-masterless', () => {
  it("renders Packer's documented default execute_command, each value quoted for its place", () => {
    // Act
    const command = renderPuppetCommand(
      PUPPET_EXECUTE_COMMAND,
      {
        WorkingDir: '/tmp/packer-puppet-masterless',
        FacterVars: facterVars({ packer_build_name: 'amazon-instance', role: "it's" }),
        Sudo: true,
        PuppetBinDir: '',
        ModulePath: '/tmp/packer-puppet-masterless/module-0:/tmp/packer-puppet-masterless/module-1',
        HieraConfigPath: '/tmp/packer-puppet-masterless/hiera.yaml',
        ManifestDir: '',
        ManifestFile: '/tmp/packer-puppet-masterless/manifests/site.pp',
        extraArguments: ['--verbose', '--environment=a b'],
      },
      {},
      'provisioners[0]',
    );

    // Assess
    expect(command).toBe(
      "cd /tmp/packer-puppet-masterless && FACTER_packer_build_name='amazon-instance' FACTER_role='it'\"'\"'s' " +
        "sudo -E puppet apply --detailed-exitcodes --modulepath='/tmp/packer-puppet-masterless/module-0:/tmp/packer-puppet-masterless/module-1' " +
        "--hiera_config='/tmp/packer-puppet-masterless/hiera.yaml' --verbose '--environment=a b' " +
        '/tmp/packer-puppet-masterless/manifests/site.pp',
    );
  });

  it('drops sudo with prevent_sudo, and refuses facts inside quotes', () => {
    const data = {
      WorkingDir: '/w d',
      FacterVars: "FACTER_a='1'",
      Sudo: false,
      PuppetBinDir: '/opt/puppetlabs/bin',
      ModulePath: '',
      HieraConfigPath: '',
      ManifestDir: '',
      ManifestFile: '/m.pp',
      extraArguments: [],
    };
    expect(renderPuppetCommand(PUPPET_EXECUTE_COMMAND, data, {}, 'p')).toBe(
      "cd '/w d' && FACTER_a='1' /opt/puppetlabs/bin/puppet apply --detailed-exitcodes /m.pp",
    );
    expect(() => renderPuppetCommand('sh -c "{{.FacterVars}} puppet"', data, {}, 'p')).toThrow(
      /must stand outside quotes/,
    );
  });

  it("decodes its keys with Packer's defaults and messages", () => {
    const [p] = config(
      withProvisioners([{ type: 'puppet-masterless', manifest_file: 's3://my-bucket/site.pp' }]),
    ).provisioners as PuppetMasterlessProvisioner[];
    expect(p).toMatchObject({
      stagingDirectory: '/tmp/packer-puppet-masterless',
      workingDirectory: '/tmp/packer-puppet-masterless',
      preventSudo: false,
      ignoreExitCodes: false,
      facter: { packer_build_name: 'amazon-instance', packer_builder_type: 'amazon-instance' },
    });
    expect(problems(withProvisioners([{ type: 'puppet-masterless' }]))).toContain(
      'provisioners[0]: A manifest_file must be specified.',
    );
  });
});

describe('extra_arguments', () => {
  it('splits entries into words as a shell would, without expanding anything', () => {
    const report = new Report();
    expect(splitArguments(`--extra-vars "a=1 b=2" 'c d' e\\ f`, [], report)).toEqual([
      '--extra-vars',
      'a=1 b=2',
      'c d',
      'e f',
    ]);
    expect(splitArguments('--x=$(id)', [], report)).toBeUndefined();
    expect(splitArguments("'$HOME'", [], report)).toEqual(['$HOME']);
    expect(report.problems.map((p) => p.message).join('\n')).toContain('"$"');
  });
});

describe('the core keys on guest provisioners', () => {
  it('applies only, except, override, pause_before, max_retries and timeout as on shell', () => {
    // Prepare
    const template = {
      builders: [builder({ name: 'a' }), builder({ name: 'b' })],
      provisioners: [
        {
          type: 'ansible-local',
          playbook_file: `${S3}site.yml`,
          pause_before: '1m',
          max_retries: 2,
          timeout: '30m',
          override: { b: { playbook_file: `${S3}other.yml` } },
        },
        { type: 'puppet-masterless', manifest_file: 's3://my-bucket/site.pp', only: ['a'] },
        { type: 'ansible', playbook_file: `${S3}site.yml`, except: ['a', 'b'] },
      ],
    };

    // Act
    const result = validated(template);

    // Assess
    const [a, b] = result.builds;
    expect(a?.provisioners.map((p) => p.type)).toEqual(['ansible-local', 'puppet-masterless']);
    expect(b?.provisioners.map((p) => p.type)).toEqual(['ansible-local']);
    expect(a?.provisioners[0]).toMatchObject({
      pauseBeforeSeconds: 60,
      maxRetries: 2,
      timeoutSeconds: 1800,
      playbookFile: { uri: `${S3}site.yml` },
    });
    expect(b?.provisioners[0]).toMatchObject({ playbookFile: { uri: `${S3}other.yml` } });
  });

  it('checks the variables of a puppet execute_command and keeps the user variables it reads', () => {
    expect(
      problems(
        withProvisioners([
          {
            type: 'puppet-masterless',
            manifest_file: 's3://my-bucket/site.pp',
            execute_command: '{{.Nope}} x',
          },
        ]),
      ).join('\n'),
    ).toContain('execute_command: unknown variable {{.Nope}}');
    const [p] = config({
      variables: { env: 'prod' },
      ...withProvisioners([
        {
          type: 'puppet-masterless',
          manifest_file: 's3://my-bucket/site.pp',
          execute_command:
            'cd {{.WorkingDir}} && puppet apply --environment={{user `env`}} {{.ManifestFile}}',
        },
      ]),
    }).provisioners as PuppetMasterlessProvisioner[];
    expect(p?.commandVariables).toEqual({ env: 'prod' });
  });
});
