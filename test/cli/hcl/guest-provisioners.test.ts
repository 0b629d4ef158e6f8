import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHcl } from '../../../cli/hcl/convert.js';
import { checkTemplate, type ValidateOptions } from '../../../lambdas/shared/template/validate.js';

const NOW = new Date('2025-07-15T09:00:00Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-guest-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const HCL = `
source "amazon-instance" "web" {
  region         = "us-east-1"
  source_ami     = "ami-0123456789abcdef0"
  instance_type  = "m3.medium"
  s3_bucket      = "my-bundles"
  x509_cert_path = "s3://my-secrets/x509/cert.pem"
  x509_key_path  = "ssm:/ami-builder/x509-key"
  ami_name       = "web"
}

build {
  sources = ["source.amazon-instance.web"]

  provisioner "ansible-local" {
    playbook_file    = "s3://my-playbooks/site.yml"
    role_paths       = ["s3://my-playbooks/roles/web/"]
    inventory_groups = ["web"]
    extra_arguments  = ["--extra-vars", "env=\${source.name}"]
    max_retries      = 1
  }

  provisioner "puppet-masterless" {
    manifest_file = "s3://my-manifests/site.pp"
    facter        = { role = "web" }
    prevent_sudo  = true
    only          = ["amazon-instance.web"]
  }

  provisioner "ansible" {
    playbook_file = "s3://my-playbooks/site.yml"
    groups        = ["web"]
  }
}
`;

const options: ValidateOptions = { mode: 'workflow', now: NOW, uuidSeed: 'e-1' };

describe('guest provisioners in HCL2 templates', () => {
  it('convert to the JSON provisioners and decode as they do', async () => {
    // Prepare
    const path = join(dir, 'one');
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'main.pkr.hcl'), HCL);

    // Act
    const input = await convertHcl({
      target: join(path, 'main.pkr.hcl'),
      cwd: dir,
      env: {},
      varFiles: [],
      vars: new Map(),
      now: NOW,
    });
    const result = checkTemplate(input.input, options);

    // Assess
    expect(result.problems).toEqual([]);
    const provisioners = result.template?.builds[0]?.provisioners ?? [];
    expect(provisioners.map((p) => [p.type, p.name])).toEqual([
      ['ansible-local', 'ansible-local'],
      ['puppet-masterless', 'puppet-masterless'],
      ['ansible-local', 'ansible'],
    ]);
    expect(provisioners[0]).toMatchObject({
      extraArguments: ['--extra-vars', 'env=web'],
      inventoryGroups: ['web'],
      maxRetries: 1,
    });
    expect(provisioners[1]).toMatchObject({ preventSudo: true, facter: { role: 'web' } });
  });
});
