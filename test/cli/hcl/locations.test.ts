/**
 * Problems found after the HCL2 conversion (by the JSON decoder and checks both formats share) come out as HCL
 * diagnostics at the file, line and column where the offending attribute or block was written.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHcl } from '../../../cli/hcl/convert.js';
import { problemDiagnostics } from '../../../cli/hcl/problems.js';
import type { CliIo } from '../../../cli/io.js';
import { main } from '../../../cli/main.js';
import { checkTemplate } from '../../../lambdas/shared/template/validate.js';

let dir: string;

// Line numbers matter: the expectations below name them.
const MAIN = `data "amazon-ami" "base" {
  filters = {
    name = "ubuntu-*"
  }
  owners      = ["099720109477"]
  most_recent = "maybe"
}

source "amazon-instance" "a" {
  region                  = "us-east-1"
  source_ami              = data.amazon-ami.base.id
  instance_type           = "m5.large"
  s3_bucket               = "my-bundles"
  account_id              = "123456789012"
  x509_cert_path          = "x509.cert"
  x509_key_path           = "x509.key"
  ami_virtualization_type = "nope"
  bogus_key               = 1
  launch_block_device_mappings {
    device_name = "/dev/sda1"
    volume_size = "abc"
  }
}
`;

/** A source block of 8 lines, without ami_name and its closing brace. */
const WEB_SOURCE = `source "amazon-instance" "web" {
  region         = "us-east-1"
  source_ami     = "ami-0123456789abcdef0"
  instance_type  = "m3.medium"
  s3_bucket      = "my-bundles"
  account_id     = "123456789012"
  x509_cert_path = "x509.cert"
  x509_key_path  = "x509.key"
`;

const BUILD = `build {
  source "amazon-instance.a" {
    name   = "b"
    region = "nowhere-1"
  }
  provisioner "shelly" {
    inline = ["echo"]
  }
  provisioner "shell" {
    inline = ["echo"]
    override = {
      "amazon-instance.b" = {
        pause_before = "zz"
      }
    }
  }
  provisioner "salt-masterless" {
    local_state_tree = "salt"
    disable_sudo     = "perhaps"
  }
}
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-locations-'));
  writeFileSync(join(dir, 'x509.cert'), 'certificate');
  writeFileSync(join(dir, 'x509.key'), 'key');
  mkdirSync(join(dir, 'salt'));
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'folder', 'main.pkr.hcl'), MAIN.replaceAll('"x509.', '"../x509.'));
  writeFileSync(join(dir, 'folder', 'build.pkr.hcl'), BUILD.replace('"salt"', '"../salt"'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function diagnostics(target: string) {
  const conversion = await convertHcl({
    target,
    cwd: dir,
    env: {},
    varFiles: [],
    vars: new Map(),
    now: new Date('2026-01-02T03:04:05Z'),
  });
  const report = checkTemplate(conversion.input, {
    mode: 'cli',
    now: new Date('2026-01-02T03:04:05Z'),
    uuidSeed: 'seed',
    templateDir: conversion.templateDir,
    pwd: dir,
  });
  return problemDiagnostics(report.problems, 'error', conversion.locate, [...conversion.sources.keys()]);
}

/** A CLI that records what it prints, run in the test's directory. */
function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: dir,
    env: {},
    readStdin: async () => '',
  };
  return { io, out, err };
}

function at(list: Awaited<ReturnType<typeof diagnostics>>, summary: RegExp) {
  const found = list.filter((d) => summary.test(d.summary));
  expect(found, `one diagnostic matching ${summary}`).toHaveLength(1);
  const [d] = found;
  return `${d?.file}:${d?.line}:${d?.column}`;
}

describe('validation problems of an HCL2 template', () => {
  it('point at the file, line and column of each attribute or block, across the files of a folder', async () => {
    // Act
    const list = await diagnostics('folder');

    // Assess: an invalid value, in the source block and in the per-build source block that overrides it.
    expect(at(list, /^ami_virtualization_type: "nope" is not allowed/)).toBe('folder/main.pkr.hcl:17:29');
    expect(at(list, /^Unknown region: nowhere-1/)).toBe('folder/build.pkr.hcl:4:14');
    // A wrong type inside a nested block.
    expect(at(list, /^launch_block_device_mappings\[0\]\.volume_size: cannot parse "abc"/)).toBe(
      'folder/main.pkr.hcl:21:19',
    );
    // A key the builder does not take, in HCL's words.
    expect(at(list, /^Unsupported argument$/)).toBe('folder/main.pkr.hcl:18:3');
    // The data source whose filter became the source_ami_filter.
    expect(at(list, /^source_ami_filter\.most_recent: cannot parse "maybe"/)).toBe(
      'folder/main.pkr.hcl:6:17',
    );
    // A provisioner type: its label; an option set by `override`: its key there; a bad provisioner option.
    expect(at(list, /^provisioner type "shelly" is not supported/)).toBe('folder/build.pkr.hcl:6:15');
    expect(at(list, /^pause_before: time: invalid duration "zz"/)).toBe('folder/build.pkr.hcl:13:9');
    expect(at(list, /^disable_sudo: cannot parse "perhaps"/)).toBe('folder/build.pkr.hcl:19:24');
    // In the order the files are read (lexical, as Packer reads a folder), then by line.
    const places = list.map((d) => [d.file === 'folder/build.pkr.hcl' ? 0 : 1, d.line ?? 0]);
    expect(places).toEqual(
      [...places].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0)),
    );
    expect(list.every((d) => d.file !== undefined)).toBe(true);
    expect(list.find((d) => d.summary.startsWith('ami_virtualization_type'))?.detail).toBe(
      "In build 'amazon-instance.b'. JSON input key: template.builders[0].ami_virtualization_type.",
    );
  });

  it('point at the source block when a required key is not written there', async () => {
    // Arrange
    writeFileSync(
      join(dir, 'missing.pkr.hcl'),
      `${WEB_SOURCE}}

build {
  sources = ["source.amazon-instance.web"]
}
`,
    );

    // Act
    const list = await diagnostics('missing.pkr.hcl');

    // Assess
    expect(at(list, /ami_name must be specified/)).toBe('missing.pkr.hcl:1:1');
  });

  it("are printed by validate in Packer's diagnostic form", async () => {
    // Arrange
    const { io, err } = capture();

    // Act
    const code = await main(['validate', 'folder'], io);

    // Assess
    expect(code).toBe(1);
    expect(err.join('\n')).toContain(
      [
        'Error: ami_virtualization_type: "nope" is not allowed; allowed: "hvm", "paravirtual"',
        '',
        '  on folder/main.pkr.hcl line 17, column 29:',
        '   17:   ami_virtualization_type = "nope"',
        '',
        "In build 'amazon-instance.b'. JSON input key: template.builders[0].ami_virtualization_type.",
      ].join('\n'),
    );
  });

  it('and warnings too: clean_ami_name at its attribute', async () => {
    // Arrange
    writeFileSync(
      join(dir, 'legacy.pkr.hcl'),
      `${WEB_SOURCE}  ami_name       = "web {{ clean_ami_name \`a b\` }}"
}
build {
  sources = ["source.amazon-instance.web"]
}
`,
    );
    const { io, out } = capture();

    // Act
    const code = await main(['validate', 'legacy.pkr.hcl'], io);

    // Assess
    expect(code).toBe(0);
    expect(out.join('\n')).toContain(
      [
        'Warning: ami_name: clean_ami_name was removed in Packer 1.5: use clean_resource_name, which does the same (`packer fix` rewrites it)',
        '',
        '  on legacy.pkr.hcl line 9, column 20:',
      ].join('\n'),
    );
  });
});
