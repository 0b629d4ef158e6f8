import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHcl, type HclRequest } from '../../../cli/hcl/convert.js';
import { type Diagnostic, HclDiagnosticsError } from '../../../cli/hcl/diagnostics.js';
import { checkTemplate, type ValidateOptions } from '../../../lambdas/shared/template/validate.js';

const root = join(__dirname, '..', '..', '..');
const NOW = new Date('2025-07-15T09:00:00Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A source with every key the workflow needs, so that tests change only what they are about. */
const SOURCE = `
  region         = "us-east-1"
  source_ami     = "ami-0123456789abcdef0"
  instance_type  = "m3.medium"
  s3_bucket      = "my-bundles"
  x509_cert_path = "s3://my-secrets/x509/cert.pem"
  x509_key_path  = "ssm:/ami-builder/x509-key"
`;

let counter = 0;

/** Writes files into a fresh folder; returns the folder. */
function folder(files: Record<string, string>): string {
  counter += 1;
  const path = join(dir, `t${counter}`);
  mkdirSync(path, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
  return path;
}

function request(target: string, changes: Partial<HclRequest> = {}): HclRequest {
  return { target, cwd: dir, env: {}, varFiles: [], vars: new Map(), now: NOW, ...changes };
}

async function convert(text: string, changes: Partial<HclRequest> = {}) {
  const path = folder({ 'main.pkr.hcl': text });
  return convertHcl(request(join(path, 'main.pkr.hcl'), changes));
}

/** The diagnostics of a conversion that fails. */
async function diagnostics(text: string, changes: Partial<HclRequest> = {}): Promise<Diagnostic[]> {
  try {
    await convert(text, changes);
  } catch (error) {
    if (error instanceof HclDiagnosticsError) return [...error.diagnostics];
    throw error;
  }
  throw new Error('expected HCL diagnostics');
}

type JsonRecord = Record<string, unknown>;
const builders = (input: { template: JsonRecord }) => input.template.builders as JsonRecord[];

const cli: ValidateOptions = { mode: 'cli', now: NOW, uuidSeed: 'e-1', checkLocalFile: () => undefined };

describe('HCL2 equivalence with the JSON forms', () => {
  /**
   * A build's configuration without its name (Packer names HCL2 builds `<type>.<source>`) and the image family
   * named after it by default.
   */
  const unnamed = (build: { name: string; family?: string }) => {
    const { name: _, family: __, ...rest } = build;
    return JSON.parse(JSON.stringify(rest)) as JsonRecord;
  };

  /**
   * A JSON template keeps `{{user \`x\`}}` in the keys rendered at build time, with the values in
   * `lateVariables`; HCL2 has already put the values in. Both render the same.
   */
  const lateRendered = (config: JsonRecord) => {
    const late = (config.lateVariables ?? {}) as Record<string, string>;
    let text = JSON.stringify({ ...config, lateVariables: {} });
    for (const [name, value] of Object.entries(late)) {
      text = text.split(`{{user \`${name}\`}}`).join(JSON.stringify(value).slice(1, -1));
    }
    return JSON.parse(text) as JsonRecord;
  };

  it("gives the seed's Basic Example the same normalized build config as its JSON form", async () => {
    // Prepare
    const json = JSON.parse(
      readFileSync(join(root, 'test/fixtures/templates/seed-basic-example.json'), 'utf8'),
    ) as unknown;
    const hcl = await convertHcl(
      request('test/fixtures/templates/seed-basic-example.pkr.hcl', { cwd: root }),
    );

    // Act
    const fromJson = checkTemplate(json, cli);
    const fromHcl = checkTemplate(hcl.input, cli);

    // Assess
    expect(fromHcl.problems).toEqual([]);
    expect(fromHcl.template?.builds.map((b) => b.name)).toEqual(['amazon-instance.basic-example']);
    expect(unnamed(fromHcl.template!.builds[0]!)).toEqual(unnamed(fromJson.template!.builds[0]!));
    expect(fromHcl.template?.warnings.map((w) => w.replace(/^template\.builders\[0\]: /, ''))).toEqual(
      fromJson.template?.warnings,
    );
  });

  it('gives examples/full.json the same normalized build config as examples/full.pkr.hcl', async () => {
    // Prepare
    const json = JSON.parse(readFileSync(join(root, 'examples/full.json'), 'utf8')) as unknown;
    const hcl = await convertHcl(request('examples/full.pkr.hcl', { cwd: root }));
    const options = { ...cli, templateDir: join(root, 'examples'), pwd: root };

    // Act
    const fromJson = checkTemplate(json, options);
    const fromHcl = checkTemplate(hcl.input, options);

    // Assess
    expect(fromJson.problems).toEqual([]);
    expect(fromHcl.problems).toEqual([]);
    expect(fromHcl.template?.builds.map((b) => b.name)).toEqual(['amazon-instance.web']);
    expect(unnamed(fromHcl.template!.builds[0]!)).toEqual(
      lateRendered(unnamed(fromJson.template!.builds[0]!)),
    );
    expect(fromHcl.template?.skipped.map((s) => [s.name, s.type])).toEqual([
      ['amazon-ebs.web-ebs', 'amazon-ebs'],
    ]);
    expect(hcl.input.template.description).toBe(
      'Web server image, instance-store backed, copied to three regions',
    );
  });
});

describe('HCL2 variables', () => {
  const template = `
variable "region" {
  type    = string
  default = "us-east-1"
}
variable "size" {
  type    = number
  default = 8
}
variable "regions" {
  type    = list(string)
  default = ["eu-west-1"]
}
source "amazon-instance" "a" {
${SOURCE.replace('"us-east-1"', 'var.region')}
  ami_name    = "img-\${var.region}-\${var.size}"
  ami_regions = var.regions
}
build {
  sources = ["source.amazon-instance.a"]
}
`;

  it('uses the defaults', async () => {
    const result = await convert(template);
    expect(builders(result.input)[0]).toMatchObject({
      region: 'us-east-1',
      ami_name: 'img-us-east-1-8',
      ami_regions: ['eu-west-1'],
    });
  });

  it('takes PKR_VAR_*, then -var-file, then -var, as Packer does', async () => {
    // Prepare
    const vars = folder({
      'prod.pkrvars.hcl': 'region = "eu-west-1"\nsize = 16\nregions = ["us-west-2", "ap-southeast-2"]\n',
    });

    // Act
    const result = await convert(template, {
      env: { PKR_VAR_region: 'eu-central-1', PKR_VAR_size: '4' },
      varFiles: [join(vars, 'prod.pkrvars.hcl')],
      vars: new Map([['size', '32']]),
    });

    // Assess
    expect(builders(result.input)[0]).toMatchObject({
      region: 'eu-west-1',
      ami_name: 'img-eu-west-1-32',
      ami_regions: ['us-west-2', 'ap-southeast-2'],
    });
  });

  it('reads a complex -var value as an HCL expression', async () => {
    const result = await convert(template, { vars: new Map([['regions', '["sa-east-1"]']]) });
    expect(builders(result.input)[0]?.ami_regions).toEqual(['sa-east-1']);
  });

  it('loads *.auto.pkrvars.hcl of a folder in lexical order, and JSON -var-file', async () => {
    // Prepare
    const path = folder({
      'main.pkr.hcl': template,
      'a.auto.pkrvars.hcl': 'region = "eu-west-1"\n',
      'b.auto.pkrvars.hcl': 'region = "eu-west-2"\n',
      'extra.json': '{ "size": 100 }',
    });

    // Act
    const result = await convertHcl(request(path, { varFiles: [join(path, 'extra.json')] }));

    // Assess
    expect(builders(result.input)[0]?.ami_name).toBe('img-eu-west-2-100');
  });

  it('fails on a value of the wrong type, an unset variable and an undeclared -var', async () => {
    // Act
    const found = await diagnostics(`${template}\nvariable "required" {\n  type = string\n}\n`, {
      vars: new Map([
        ['size', 'big'],
        ['nope', 'x'],
      ]),
    });

    // Assess
    expect(found.map((d) => d.summary)).toEqual(
      expect.arrayContaining([
        'Invalid value for variable',
        'Undefined -var variable',
        'Unset variable "required"',
      ]),
    );
    expect(found.find((d) => d.summary.startsWith('Unset'))).toMatchObject({ line: 30, column: 1 });
  });

  it('checks validation blocks, with the error_message and the rule that failed', async () => {
    // Prepare
    const text = `variable "env" {
  default = "qa"
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "The env must be dev or prod."
  }
}
source "amazon-instance" "a" {${SOURCE}
  ami_name = "x-\${var.env}"
}
build { sources = ["source.amazon-instance.a"] }
`;

    // Act
    const found = await diagnostics(text);
    const passes = await convert(text, { vars: new Map([['env', 'prod']]) });

    // Assess
    expect(found).toEqual([
      expect.objectContaining({
        summary: 'Invalid value for variable',
        detail: expect.stringMatching(
          /^The env must be dev or prod\.\n\nThis was checked by the validation rule at .*main\.pkr\.hcl:3,3\.$/,
        ),
        line: 1,
      }),
    ]);
    expect(builders(passes.input)[0]?.ami_name).toBe('x-prod');
  });

  it('keeps sensitive variables as variables: in vars, listed as sensitive, masked in the template', async () => {
    // Prepare
    const text = `variable "token" {
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}
source "amazon-instance" "a" {${SOURCE}
  ami_name = "img-x"
}
build {
  sources = ["source.amazon-instance.a"]
  provisioner "shell" {
    inline = ["echo \${var.token} | login"]
  }
}
`;

    // Act
    const result = await convert(text);
    const validated = checkTemplate(result.input, cli);

    // Assess
    expect(result.input.vars).toEqual({ token: 's3cr3t-value' });
    expect(result.input.template['sensitive-variables']).toEqual(['token']);
    expect(JSON.stringify(result.input.template)).not.toContain('s3cr3t-value');
    expect((result.input.template.provisioners as JsonRecord[])[0]?.inline).toEqual([
      'echo {{user `token`}} | login',
    ]);
    expect(validated.problems).toEqual([]);
    expect(validated.template?.builds[0]?.provisioners[0]).toMatchObject({
      inline: ['echo s3cr3t-value | login'],
    });
  });

  it('reads env() in variable defaults only', async () => {
    const text = `variable "bucket" {
  default = env("BUNDLE_BUCKET")
}
source "amazon-instance" "a" {${SOURCE.replace('"my-bundles"', 'var.bucket')}
  ami_name = env("HOME")
}
build { sources = ["source.amazon-instance.a"] }
`;
    const found = await diagnostics(text, { env: { BUNDLE_BUCKET: 'from-env' } });
    expect(found).toEqual([
      expect.objectContaining({ summary: 'Function not available here', line: 12, column: 14 }),
    ]);
    const fixed = await convert(text.replace('env("HOME")', '"x"'), { env: { BUNDLE_BUCKET: 'from-env' } });
    expect(builders(fixed.input)[0]?.s3_bucket).toBe('from-env');
  });
});

describe('HCL2 locals', () => {
  it('evaluates locals and local blocks that use variables, other locals and functions', async () => {
    const result = await convert(`variable "app" {
  default = "web"
}
locals {
  stamp = formatdate("YYYYMMDD-hhmm", timestamp())
  name  = "\${local.prefix}-\${local.stamp}"
}
locals {
  prefix = upper(var.app)
}
local "region" {
  expression = "us-\${"east"}-1"
  sensitive  = false
}
source "amazon-instance" "a" {${SOURCE}
  ami_name = local.name
  ami_description = local.region
}
build { sources = ["source.amazon-instance.a"] }
`);
    expect(builders(result.input)[0]).toMatchObject({
      ami_name: 'WEB-20250715-0900',
      ami_description: 'us-east-1',
    });
  });

  it('renders templatefile() with its variables, and reads file()', async () => {
    // Prepare
    const path = folder({
      'main.pkr.hcl': `locals {
  user_data = templatefile("\${path.root}/user-data.tpl", { name = "web", regions = ["a", "b"] })
}
source "amazon-instance" "a" {${SOURCE}
  ami_name        = "img-x"
  user_data       = local.user_data
  ami_description = trimspace(file("\${path.root}/description.txt"))
}
build { sources = ["source.amazon-instance.a"] }
`,
      'user-data.tpl': `#!/bin/sh\necho \${name}%{ for r in regions } \${r}%{ endfor }\n`,
      'description.txt': 'From a file\n',
    });

    // Act
    const result = await convertHcl(request(join(path, 'main.pkr.hcl')));

    // Assess
    expect(builders(result.input)[0]).toMatchObject({
      user_data: '#!/bin/sh\necho web a b\n',
      ami_description: 'From a file',
    });
  });

  it('reports a local that refers to itself, at the reference that closes the cycle', async () => {
    const found = await diagnostics(`locals {
  a = local.b
  b = "x-\${local.a}"
}
source "amazon-instance" "a" {${SOURCE}
  ami_name = local.a
}
build { sources = ["source.amazon-instance.a"] }
`);
    expect(found[0]).toMatchObject({ summary: 'Cyclic local', line: 3, column: 12 });
  });
});

describe('HCL2 data "amazon-ami"', () => {
  const text = (use: string) => `data "amazon-ami" "ubuntu" {
  filters = {
    name                  = "ubuntu/images/*"
    "virtualization-type" = "hvm"
  }
  owners      = ["099720109477"]
  most_recent = true
}
source "amazon-instance" "a" {${SOURCE.replace('"ami-0123456789abcdef0"', 'data.amazon-ami.ubuntu.id')}
  ami_name        = "img-x"
  ami_description = "from \${data.amazon-ami.ubuntu.name} (${use})"
}
build { sources = ["source.amazon-instance.a"] }
`;

  it('becomes the source_ami_filter of the sources whose source_ami is its id, resolved at build time', async () => {
    // Act
    const result = await convert(text(`\${data.amazon-ami.ubuntu.id}`));
    const validated = checkTemplate(result.input, cli);

    // Assess
    const builder = builders(result.input)[0];
    expect(builder?.source_ami).toBeUndefined();
    expect(builder?.source_ami_filter).toEqual({
      filters: { name: 'ubuntu/images/*', 'virtualization-type': 'hvm' },
      owners: ['099720109477'],
      most_recent: true,
    });
    expect(builder?.ami_description).toBe('from {{ .SourceAMIName }} ({{ .SourceAMI }})');
    expect(validated.problems).toEqual([]);
    expect(validated.template?.builds[0]?.sourceAmi).toBeUndefined();
    expect(validated.template?.builds[0]?.sourceAmiFilter).toMatchObject({
      owners: ['099720109477'],
      mostRecent: true,
    });
  });

  it('is an error where its value is needed before the build', async () => {
    const found = await diagnostics(
      text('x').replace('data.amazon-ami.ubuntu.id\n', '"ami-0123456789abcdef0"\n'),
    );
    expect(found[0]).toMatchObject({ summary: 'Value known only at build time' });
  });
});

describe('HCL2 builds', () => {
  it('builds two sources, with a per-build source block, provisioners by source and Packer build names', async () => {
    // Act
    const result = await convert(`source "amazon-instance" "base" {${SOURCE}
  ami_name = "\${source.name}-\${build.name}"
  tag {
    key   = "Role"
    value = "web"
  }
  tags = { Team = "platform" }
  launch_block_device_mappings {
    device_name  = "/dev/sdb"
    virtual_name = "ephemeral0"
  }
}
build {
  name    = "web"
  sources = ["source.amazon-instance.base"]
  source "amazon-instance.base" {
    name          = "big"
    instance_type = "m3.xlarge"
  }
  provisioner "shell" {
    inline = ["echo all"]
  }
  provisioner "file" {
    only        = ["amazon-instance.big"]
    source      = "s3://b-b/motd"
    destination = "/etc/motd"
  }
  provisioner "shell" {
    except = ["amazon-instance.big"]
    inline = ["echo \${source.name}"]
  }
  provisioner "salt-masterless" {
    only            = ["amazon-ebs.other"]
    local_state_tree = "salt"
  }
  hcp_packer_registry {
    bucket_name = "web"
  }
}
`);
    const validated = checkTemplate(result.input, cli);

    // Assess
    expect(builders(result.input).map((b) => [b.name, b.instance_type, b.ami_name])).toEqual([
      ['web.amazon-instance.base', 'm3.medium', 'base-web'],
      ['web.amazon-instance.big', 'm3.xlarge', 'big-web'],
    ]);
    expect(result.input.template.provisioners).toEqual([
      { type: 'shell', inline: ['echo all'], only: ['web.amazon-instance.base', 'web.amazon-instance.big'] },
      { type: 'file', source: 's3://b-b/motd', destination: '/etc/motd', only: ['web.amazon-instance.big'] },
      { type: 'shell', inline: ['echo base'], only: ['web.amazon-instance.base'] },
    ]);
    expect(result.warnings.map((w) => [w.summary, w.line])).toEqual([['hcp_packer_registry is ignored', 43]]);
    expect(validated.problems).toEqual([]);
    expect(validated.template?.builds.map((b) => [b.name, b.provisioners.map((p) => p.type)])).toEqual([
      ['web.amazon-instance.base', ['shell', 'shell']],
      ['web.amazon-instance.big', ['shell', 'file']],
    ]);
    expect(validated.template?.builds[0]?.tags).toBeDefined();
  });

  it('converts chef-solo and salt-masterless blocks into the JSON provisioners the decoder reads', async () => {
    // Act
    const result = await convert(`source "amazon-instance" "base" {${SOURCE}
  ami_name = "base"
}
build {
  sources = ["source.amazon-instance.base"]
  provisioner "chef-solo" {
    cookbook_paths = ["s3://my-chef/cookbooks/"]
    run_list       = ["recipe[web]"]
    json_string    = jsonencode({ web = { port = 8080 } })
    skip_install   = true
    chef_license   = "accept"
  }
  provisioner "salt-masterless" {
    local_state_tree = "s3://my-salt/states/"
    custom_state     = "web"
    skip_bootstrap   = true
    max_retries      = 2
  }
}
`);
    const validated = checkTemplate(result.input, cli);

    // Assess
    expect(result.input.template.provisioners).toEqual([
      {
        type: 'chef-solo',
        cookbook_paths: ['s3://my-chef/cookbooks/'],
        run_list: ['recipe[web]'],
        json_string: '{"web":{"port":8080}}',
        skip_install: true,
        chef_license: 'accept',
        only: ['amazon-instance.base'],
      },
      {
        type: 'salt-masterless',
        local_state_tree: 's3://my-salt/states/',
        custom_state: 'web',
        skip_bootstrap: true,
        max_retries: 2,
        only: ['amazon-instance.base'],
      },
    ]);
    expect(validated.problems).toEqual([]);
    const [chef, salt] = validated.template?.builds[0]?.provisioners ?? [];
    expect(chef).toMatchObject({
      type: 'chef-solo',
      nodeJson: { web: { port: 8080 }, run_list: ['recipe[web]'] },
    });
    expect(salt).toMatchObject({ type: 'salt-masterless', maxRetries: 2 });
  });

  it('selects builds by -only / -except globs over build names', async () => {
    const text = `source "amazon-instance" "a" {${SOURCE}
  ami_name = "a"
}
source "amazon-instance" "b" {${SOURCE}
  ami_name = "b"
}
build { sources = ["source.amazon-instance.a", "source.amazon-instance.b"] }
`;
    expect((await convert(text, { only: ['*.b'] })).input.only).toEqual(['amazon-instance.b']);
    expect((await convert(text, { except: ['amazon-instance.a'] })).input.except).toEqual([
      'amazon-instance.a',
    ]);
    const none = await convert(text, { only: ['nothing.*'] });
    expect(
      checkTemplate(none.input, cli)
        .problems.map((p) => p.message)
        .join('\n'),
    ).toContain('no amazon-instance builder left to build');
  });

  it('emits post-processors and chains per build, and notes required_plugins', async () => {
    const result = await convert(`packer {
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
source "amazon-instance" "a" {${SOURCE}
  ami_name = "a"
}
build {
  sources = ["source.amazon-instance.a"]
  post-processor "manifest" {
    output = "m.json"
  }
  post-processors {
    post-processor "manifest" {
      output = "chained.json"
    }
  }
}
`);
    expect(result.input.template['post-processors']).toEqual([
      { type: 'manifest', output: 'm.json', only: ['amazon-instance.a'] },
      [{ type: 'manifest', output: 'chained.json', only: ['amazon-instance.a'] }],
    ]);
    expect(result.notes).toEqual([
      'required_plugins amazon (github.com/hashicorp/amazon >= 1.2.0): read and noted; the amazon-instance builder is built in',
    ]);
  });
});

describe('HCL2 errors', () => {
  it('points at the file, line and column of an unknown function, variable or attribute', async () => {
    // Act
    const found = await diagnostics(`variable "region" {
  default = "us-east-1"
}
source "amazon-instance" "a" {${SOURCE}
  ami_name        = "x-\${upper(var.region)}-\${nope("a")}"
  ami_description = var.regoin
  launch_block_device_mappings {
    device_name = "/dev/sda1"
  }
  launch_block_device_mappings {
    device_name = what.ever
  }
}
build { sources = ["source.amazon-instance.a"] }
`);

    // Assess
    expect(found.map((d) => [d.summary, d.detail, d.line, d.column])).toEqual([
      ['Call to unknown function', 'There is no function named "nope".', 12, 47],
      ['Unsupported attribute', 'This object does not have an attribute named "regoin".', 13, 21],
      ['Unknown variable', 'There is no variable named "what".', 18, 19],
    ]);
    expect(found[0]?.file).toMatch(/main\.pkr\.hcl$/);
  });

  it("reports syntax errors with HCL's diagnostic", async () => {
    const found = await diagnostics('source "amazon-instance" "a" {\n  ami_name = [1,\n}\n');
    expect(found).toEqual([
      expect.objectContaining({
        summary: 'Invalid expression',
        detail: 'Expected the start of an expression, but found an invalid expression token.',
        line: 3,
        column: 1,
      }),
    ]);
  });

  it('refuses unknown blocks, unknown build arguments and unknown sources', async () => {
    const found = await diagnostics(`resource "x" "y" {}
source "amazon-instance" "a" {${SOURCE}
  ami_name = "a"
}
build {
  sources = ["source.amazon-instance.zz"]
  color = "blue"
}
`);
    expect(found.map((d) => [d.summary, d.line])).toEqual([
      ['Unsupported block type', 1],
      ['Unknown source', 13],
      ['Unsupported argument', 14],
    ]);
  });

  it('formats diagnostics as Packer prints them', async () => {
    try {
      await convert('locals {\n  a = nope()\n}\nbuild {}\n');
    } catch (error) {
      expect((error as HclDiagnosticsError).lines()[0]).toBe(
        `Error: Call to unknown function\n\n  on ${join(`t${counter}`, 'main.pkr.hcl')} line 2, column 7:\n    2:   a = nope()\n\nThere is no function named "nope".\n`,
      );
      return;
    }
    throw new Error('expected HCL diagnostics');
  });
});
