/**
 * ansible-local, the remote ansible provisioner (run as ansible-local) and puppet-masterless, built end to end in
 * the sandbox with the real tools: Debian's ansible-core (`ansible-playbook`) and puppet-agent (`puppet apply`),
 * installed on the host and seen inside the sandbox through its overlay root. Skipped where they are absent
 * (`.ci/run` installs them).
 */
import { execFileSync } from 'node:child_process';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { basicExample, provisionerOutputs, useWorkflowHarness, type WorkflowHarness } from './harness.js';

function installed(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

const hasAnsible = installed('ansible-playbook');
const hasPuppet = installed('puppet');
const PREFIX = 'workflow-test/guest/';

const FILES: Record<string, string> = {
  'ansible/site.yml': '- hosts: web\n  roles: [greet]\n',
  'ansible/roles/greet/tasks/main.yml':
    '- debug: {msg: "greet {{ greeting }} from {{ packer_build_name }} as {{ ansible_user_id }} extra={{ extra }}"}\n',
  'ansible/group_vars/web.yml': 'greeting: hello-group-vars\n',
  'roles/greet/tasks/main.yml': '- debug: {msg: "role from role_paths {{ greeting }}"}\n',
  'puppet/manifests/site.pp':
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Puppet's interpolation, not JavaScript's
    "include greet\nnotify { \"fact role=${facts['role']} build=${facts['packer_build_name']}\": }\n",
  'puppet/modules/greet/manifests/init.pp': 'class greet { notify { "module greet applied": } }\n',
};

async function upload(h: WorkflowHarness): Promise<string> {
  const bucket = h.x509.certUri.slice('s3://'.length).split('/')[0] ?? '';
  for (const [name, body] of Object.entries(FILES)) {
    await h.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${name}`, Body: body }));
  }
  return `s3://${bucket}/${PREFIX}`;
}

const harness = useWorkflowHarness();

describe.skipIf(!hasAnsible || !hasPuppet)('guest-side provisioners with the real tools', () => {
  it('runs ansible-local, the remote ansible provisioner and puppet-masterless on the instance', async () => {
    // Prepare
    const h = harness();
    const root = await upload(h);
    const template = {
      builders: [basicExample(h.x509)],
      provisioners: [
        {
          type: 'ansible-local',
          playbook_file: `${root}ansible/site.yml`,
          playbook_dir: `${root}ansible/`,
          role_paths: [`${root}roles/greet/`],
          inventory_groups: ['web'],
          extra_arguments: ['--extra-vars "extra=a b"', '-v'],
          clean_staging_directory: true,
        },
        {
          type: 'ansible',
          playbook_file: `${root}ansible/site.yml`,
          groups: ['web'],
          user: 'ubuntu',
          extra_arguments: ['--extra-vars', 'extra=remote'],
        },
        {
          type: 'puppet-masterless',
          manifest_file: `${root}puppet/manifests/site.pp`,
          module_paths: [`${root}puppet/modules/`],
          facter: { role: "web's" },
          extra_arguments: ['--color=false'],
        },
      ],
    };

    // Act
    const result = await h.run(template, { label: 'guest' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const [ansibleLocal, remote, puppet] = await provisionerOutputs(h, { withStderr: true });
    expect(ansibleLocal).toMatch(
      /Executing Ansible: cd \/tmp\/packer-provisioner-ansible-local\/[0-9a-f-]{36} && {2}ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook \/tmp\/packer-provisioner-ansible-local\/[0-9a-f-]{36}\/site.yml --extra-vars "packer_build_name=amazon-instance packer_builder_type=amazon-instance packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes" --extra-vars 'extra=a b' -v -c local -i \/tmp\/packer-provisioner-ansible-local\/[0-9a-f-]{36}\/packer-provisioner-ansible-local\d+/,
    );
    // role_paths are uploaded after playbook_dir, so the role of role_paths replaces the one beside the playbook.
    expect(ansibleLocal).toContain('role from role_paths hello-group-vars');
    expect(ansibleLocal).toContain('Removing staging directory...');
    expect(remote).toContain('greet hello-group-vars from amazon-instance as ubuntu extra=remote');
    expect(puppet).toContain(
      "Running Puppet: cd /tmp/packer-puppet-masterless && FACTER_packer_build_name='amazon-instance' FACTER_packer_builder_type='amazon-instance' FACTER_role='web'\"'\"'s' sudo -E puppet apply --detailed-exitcodes --modulepath='/tmp/packer-puppet-masterless/module-0' --color=false /tmp/packer-puppet-masterless/manifests/site.pp",
    );
    expect(puppet).toContain("fact role=web's build=amazon-instance");
    expect(puppet).toContain('module greet applied');
  });

  it('fails the build with Packer’s message when puppet reports failures (exit code 4 or 6)', async () => {
    // Prepare
    const h = harness();
    const root = await upload(h);
    const bucket = root.slice('s3://'.length).split('/')[0] ?? '';
    await h.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${PREFIX}bad.pp`,
        Body: 'exec { "/bin/false": }\n',
      }),
    );
    const template = {
      builders: [basicExample(h.x509)],
      provisioners: [{ type: 'puppet-masterless', manifest_file: `${root}bad.pp` }],
    };

    // Act
    const result = await h.run(template, { label: 'guest-fail' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ProvisionerFailedError');
    expect(result.cause).toMatch(/Puppet exited with a non-zero exit status: [46]/);
  });
});

describe.skipIf(hasAnsible && hasPuppet)('guest-side provisioners with the real tools', () => {
  it.skip('are skipped: ansible-playbook or puppet is not installed (apt-get install ansible-core puppet-agent, as .ci/run does)', () => {});
});
