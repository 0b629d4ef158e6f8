import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../cli/io.js';
import { prepareExecution, TemplateInputError } from '../../../cli/prepare.js';

const s3Mock = mockClient(S3Client);
const NOW = new Date('2024-01-02T03:04:05.000Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-prepare-'));
  writeFileSync(join(dir, 'cert.pem'), 'certificate');
  writeFileSync(join(dir, 'key.pem'), 'key');
  writeFileSync(join(dir, 'install.sh'), '#!/bin/sh\necho installing\n');
  writeFileSync(
    join(dir, 'web.pkr.hcl'),
    `variable "version" {
  type = string
}
variable "api_token" {
  type      = string
  default   = "tok-123456"
  sensitive = true
}
source "amazon-instance" "web" {
  access_key     = "AKIAIOSFODNN7EXAMPLE"
  secret_key     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region         = "us-east-1"
  source_ami     = "ami-0123456789abcdef0"
  instance_type  = "m3.medium"
  account_id     = "0123-4567-8901"
  s3_bucket      = "ami-builder-bundles"
  x509_cert_path = "cert.pem"
  x509_key_path  = "\${path.root}/key.pem"
  ami_name       = "web-\${var.version}-{{timestamp}}"
}
build {
  sources = ["source.amazon-instance.web"]
  provisioner "shell" {
    script           = "install.sh"
    environment_vars = ["TOKEN=\${var.api_token}"]
  }
}
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
});

function context(lines: string[]) {
  const io: CliIo = {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
    cwd: dir,
    env: {},
    readStdin: async () => '',
  };
  return {
    io,
    now: NOW,
    randomHex: () => 'a1b2',
    say: (text: string) => lines.push(`==> ${text}`),
    message: (text: string) => lines.push(`    ${text}`),
    stagingTarget: async () => ({ s3: new S3Client({ region: 'us-east-1' }), bucket: 'staging-bucket' }),
  };
}

describe('prepareExecution with an HCL2 template (build and local)', () => {
  it('sends the converted JSON input: credentials removed, local files planned for staging, sensitive values as vars', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    const prepared = await prepareExecution(
      { file: 'web.pkr.hcl', vars: new Map([['version', '2.1']]), varFiles: [] },
      context(lines),
    );

    // Assess
    expect(prepared.name).toBe('amazon-instance-web-20240102-030405-a1b2');
    const template = prepared.input.template as {
      builders: Record<string, unknown>[];
      provisioners: Record<string, unknown>[];
    };
    const [builder] = template.builders;
    expect(builder?.access_key).toBeUndefined();
    expect(builder?.ami_name).toBe('web-2.1-{{timestamp}}');
    expect(builder?.x509_cert_path).toMatch(
      /^s3:\/\/staging-bucket\/staging\/amazon-instance-web-.*\/cert\.pem$/,
    );
    expect(builder?.x509_key_path).toMatch(/^s3:\/\/staging-bucket\/.*\/key\.pem$/);
    expect(template.provisioners[0]).toMatchObject({
      script: expect.stringMatching(/^s3:\/\/staging-bucket\/.*\/install\.sh$/),
      environment_vars: ['TOKEN={{user `api_token`}}'],
    });
    expect(prepared.input.vars).toEqual({ api_token: 'tok-123456' });
    expect(prepared.validated.builds.map((b) => b.name)).toEqual(['amazon-instance.web']);
    expect(prepared.body).not.toContain('EXAMPLEKEY');
    // Planned, not uploaded: the callers upload once every check has passed (cli/start.ts).
    expect(prepared.staging.objects).toHaveLength(3);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(lines.join('\n')).toContain('access_key');
  });

  it("fails before anything is staged with Packer's HCL diagnostics", async () => {
    // Act
    const error = await prepareExecution(
      { file: 'web.pkr.hcl', vars: new Map(), varFiles: [] },
      context([]),
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TemplateInputError);
    expect((error as TemplateInputError).lines[0]).toMatch(
      /^Error: Unset variable "version"\n\n {2}on web\.pkr\.hcl line 1, column 1:/,
    );
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('fails before anything is staged with a diagnostic at the attribute whose value the checks refuse', async () => {
    // Arrange: a value that converts but that the shared JSON checks refuse, on line 13.
    const text = readFileSync(join(dir, 'web.pkr.hcl'), 'utf8').replace(
      '  region         = "us-east-1"\n',
      '  region         = "us-east-1"\n  ami_virtualization_type = "nope"\n',
    );
    writeFileSync(join(dir, 'bad-value.pkr.hcl'), text);

    // Act
    const error = await prepareExecution(
      { file: 'bad-value.pkr.hcl', vars: new Map([['version', '1.0']]), varFiles: [] },
      context([]),
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TemplateInputError);
    expect((error as TemplateInputError).lines).toEqual([
      [
        'Error: ami_virtualization_type: "nope" is not allowed; allowed: "hvm", "paravirtual"',
        '',
        '  on bad-value.pkr.hcl line 13, column 29:',
        '   13:   ami_virtualization_type = "nope"',
        '',
        "In build 'amazon-instance.web'. JSON input key: template.builders[0].ami_virtualization_type.",
        '',
      ].join('\n'),
    ]);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('prints the warnings of an HCL2 template as diagnostics at their attribute', async () => {
    // Arrange: clean_ami_name (removed in Packer 1.5) in ami_name, on line 19.
    const text = readFileSync(join(dir, 'web.pkr.hcl'), 'utf8').replace(
      '{{timestamp}}',
      '{{timestamp | clean_ami_name}}',
    );
    writeFileSync(join(dir, 'legacy.pkr.hcl'), text);
    const lines: string[] = [];

    // Act
    await prepareExecution(
      { file: 'legacy.pkr.hcl', vars: new Map([['version', '1.0']]), varFiles: [] },
      context(lines),
    );

    // Assess
    expect(lines.join('\n')).toContain(
      [
        'Warning: ami_name: clean_ami_name was removed in Packer 1.5: use clean_resource_name, which does the same (`packer fix` rewrites it)',
        '',
        '  on legacy.pkr.hcl line 19, column 20:',
      ].join('\n'),
    );
  });
});
