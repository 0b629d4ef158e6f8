import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../cli/io.js';
import { main } from '../../../cli/main.js';

let dir: string;

const SOURCE = `source "amazon-instance" "web" {
  region         = var.region
  source_ami     = "ami-0123456789abcdef0"
  instance_type  = "m3.medium"
  s3_bucket      = "my-bundles"
  x509_cert_path = "x509.cert"
  x509_key_path  = "x509.key"
  ami_name       = "web-\${var.version}-{{timestamp}}"
}
`;

const VARIABLES = `variable "region" {
  type    = string
  default = "us-east-1"
}
variable "version" {
  type = string
}
variable "token" {
  type      = string
  default   = "t0ken-value"
  sensitive = true
}
`;

const BUILD = `build {
  sources = ["source.amazon-instance.web"]
  provisioner "shell" {
    inline = ["echo \${var.version} \${var.token}"]
  }
}
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-cli-'));
  writeFileSync(join(dir, 'x509.cert'), 'certificate');
  writeFileSync(join(dir, 'x509.key'), 'key');
  writeFileSync(join(dir, 'web.pkr.hcl'), `${VARIABLES}${SOURCE}${BUILD}`);
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'folder', 'variables.pkr.hcl'), VARIABLES);
  writeFileSync(join(dir, 'folder', 'sources.pkr.hcl'), SOURCE);
  writeFileSync(join(dir, 'folder', 'build.pkr.hcl'), BUILD);
  writeFileSync(join(dir, 'folder', 'release.auto.pkrvars.hcl'), 'version = "2.0"\n');
  writeFileSync(join(dir, 'prod.pkrvars.hcl'), 'version = "3.1"\nregion = "eu-west-1"\n');
  writeFileSync(
    join(dir, 'broken.pkr.hcl'),
    `${VARIABLES}${SOURCE.replace('var.region', 'var.regoin')}${BUILD}`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: dir,
    env,
    readStdin: async () => '',
  };
  const code = await main(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('ami-builder validate with HCL2', () => {
  it('validates a .pkr.hcl file with -var-file and -var', async () => {
    const result = await run([
      'validate',
      '-var-file',
      'prod.pkrvars.hcl',
      '-var',
      'region=us-west-2',
      'web.pkr.hcl',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Template validated successfully.');
  });

  it('validates a folder, loading its *.auto.pkrvars.hcl', async () => {
    const result = await run(['validate', 'folder']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Template validated successfully.');
  });

  it("prints Packer's diagnostics for an HCL2 error, and for an unset variable", async () => {
    // Act
    const broken = await run(['validate', '-var', 'version=1', 'broken.pkr.hcl']);
    const unset = await run(['validate', 'web.pkr.hcl']);

    // Assess
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe(
      [
        'Error: Unsupported attribute',
        '',
        '  on broken.pkr.hcl line 14, column 20:',
        '   14:   region         = var.regoin',
        '',
        'This object does not have an attribute named "regoin".',
        '',
      ].join('\n'),
    );
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('Error: Unset variable "version"\n\n  on web.pkr.hcl line 5, column 1:');
  });

  it('validates the builds -only selects, by glob over Packer build names', async () => {
    const result = await run(['validate', '-var', 'version=1', '-only', 'nope.*', 'web.pkr.hcl']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no amazon-instance builder left to build');
  });
});

describe('ami-builder inspect', () => {
  it('prints the JSON input of an HCL2 template, sensitive variables kept as variables', async () => {
    // Act
    const result = await run(['inspect', 'web.pkr.hcl'], { PKR_VAR_version: '4.2' });

    // Assess
    expect(result.code).toBe(0);
    const input = JSON.parse(result.stdout) as {
      template: Record<string, unknown>;
      vars: Record<string, string>;
    };
    expect(input.vars).toEqual({ token: 't0ken-value' });
    expect(input.template).toEqual({
      variables: { token: null },
      'sensitive-variables': ['token'],
      builders: [
        {
          type: 'amazon-instance',
          name: 'amazon-instance.web',
          region: 'us-east-1',
          source_ami: 'ami-0123456789abcdef0',
          instance_type: 'm3.medium',
          s3_bucket: 'my-bundles',
          x509_cert_path: 'x509.cert',
          x509_key_path: 'x509.key',
          ami_name: 'web-4.2-{{timestamp}}',
        },
      ],
      provisioners: [{ type: 'shell', inline: ['echo 4.2 {{user `token`}}'], only: ['amazon-instance.web'] }],
    });
  });

  it('prints a JSON template as the input form, with the -var values', async () => {
    // Prepare
    writeFileSync(
      join(dir, 'plain.json'),
      JSON.stringify({
        variables: { v: 'a' },
        builders: [
          {
            type: 'amazon-instance',
            region: 'us-east-1',
            source_ami: 'ami-0123456789abcdef0',
            instance_type: 'm3.medium',
            s3_bucket: 'my-bundles',
            x509_cert_path: 'x509.cert',
            x509_key_path: 'x509.key',
            ami_name: 'img-{{user `v`}}',
          },
        ],
      }),
    );

    // Act
    const result = await run(['inspect', '-var', 'v=b', 'plain.json']);

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      vars: { v: 'b' },
      template: { variables: { v: 'a' } },
    });
  });

  it('refuses an invalid template, printing its problems', async () => {
    const result = await run(['inspect', '-var', 'version=1', '-var', 'region=mars-1', 'web.pkr.hcl']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Template validation failed.');
  });
});
