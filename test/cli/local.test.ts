/**
 * `ami-builder local`: the whole offline build, run as a user runs it (`node bin/ami-builder.mjs local …`, a child
 * process with the real emulator), and the pieces it adds around the shared runner: the seeded source AMI, the
 * examples' throwaway X.509 pair, the local stack's bucket patterns, `--fault` and `-debug`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { debugLines, localBucketPatterns, readFaults } from '../../cli/local.js';
import {
  concreteValue,
  describeSeed,
  EMULATED_ACCOUNT_ID,
  imageForFilter,
  sourceSeeds,
} from '../../cli/seed.js';
import { ensureExampleX509, missingExamplePairs } from '../../cli/x509.js';
import { InvalidFaultError, type RecordedCommand } from '../../emulator/index.js';
import { makeConfig } from '../lambdas/fixtures.js';

// In the emulator's sandbox mode the instance really runs its commands: a build takes tens of seconds.
vi.setConfig({ testTimeout: 300_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'ami-builder.mjs');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ami-builder <args>` from the repository root, as `npm run local` does. */
function cli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        timeout: 280_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The lines of `text` equal to `line`, or matching it. */
function linesOf(text: string, line: string | RegExp): number[] {
  return text
    .split('\n')
    .flatMap((l, i) => ((typeof line === 'string' ? l === line : line.test(l)) ? [i] : []));
}

/**
 * In sandbox mode, each command's output line is printed once, in Packer's style, before the step that follows
 * the command: `before` must come (once) before the first line matching `next`.
 */
function expectOutputBefore(stdout: string, before: string | RegExp, next: string | RegExp): void {
  const at = linesOf(stdout, before);
  expect(at, `${before} printed once`).toHaveLength(1);
  const [following] = linesOf(stdout, next);
  expect(following, `${next} printed`).toBeDefined();
  expect(at[0], `${before} before ${next}`).toBeLessThan(following ?? -1);
}

describe('ami-builder local', () => {
  it('builds the basic example offline and prints Packer’s lines and artifact listing', async () => {
    // Act
    const run = await cli(['local', 'examples/basic.json']);

    // Assess
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /Seeded the emulator with source AMI ami-d9d6a6b0 \(instance-store, paravirtual, x86_64\) in us-east-1/,
    );
    expect(run.stdout).toContain(
      "Allowed the bundle bucket packer-images in the local stack's allowedBucketPatterns",
    );
    expect(run.stdout).toMatch(/ {4}amazon-instance: Uploaded .*examples\/x509\/cert\.pem to s3:\/\//);
    expect(run.stdout).toContain('==> amazon-instance: Prevalidating AMI Name: packer-quick-start ');
    expect(run.stdout).toContain('==> amazon-instance: Launching a source AWS instance...');
    expect(run.stdout).toMatch(/ {4}amazon-instance: Instance ID: i-[0-9a-f]+/);
    expect(run.stdout).toContain('==> amazon-instance: Bundling the volume...');
    expect(run.stdout).toContain('==> amazon-instance: Terminating the source AWS instance...');
    expect(run.stdout).toMatch(/Build 'amazon-instance' finished after .+\./);
    expect(run.stdout).toContain('==> Builds finished. The artifacts of successful builds are:');
    expect(run.stdout).toMatch(/--> amazon-instance: AMIs were created:\nus-east-1: ami-[0-9a-f]+\n/);
    // The handlers' own log lines stay out of the output (they are Lambda logs).
    expect(run.stdout).not.toMatch(/^Registering the AMI\.\.\.$/m);
  });

  it('builds the full example: the amazon-ebs builder is skipped, the AMI lands in all four regions', async () => {
    // Act
    const run = await cli(['local', 'examples/full.json']);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Skipping build 'web-ebs'");
    expect(run.stdout).toContain('==> web: Provisioning with shell script: ');
    expect(run.stdout).toMatch(/==> web: Copying\/Encrypting AMI \(ami-[0-9a-f]+\) to other regions\.\.\./);
    expect(run.stdout).toMatch(/==> web: Modifying attributes on AMI/);
    if (run.stdout.includes('Sandbox mode')) {
      // The provisioners really ran on the instance and printed their output, in order, as Packer prints it.
      expectOutputBefore(
        run.stdout,
        /^ {4}web: Provisioning web 1\.4\.2 on \S+$/,
        '==> web: Provisioning with shell script: examples/scripts/install-ami-tools.sh',
      );
      expectOutputBefore(
        run.stdout,
        '    web: 1.4.2',
        '==> web: Provisioning with shell script: examples/scripts/install-ami-tools.sh',
      );
      expectOutputBefore(
        run.stdout,
        /^ {4}web: The EC2 AMI Tools are /,
        '==> web: Uploading examples/files/motd => /tmp/motd',
      );
      expectOutputBefore(
        run.stdout,
        '    web:     1 file(s) uploaded',
        /^==> web: Provisioning with shell script: inline commands of provisioner 4/,
      );
      expectOutputBefore(run.stdout, '    web: ec2-bundle-vol complete.', '==> web: Uploading the bundle...');
    }
    const listing = run.stdout.slice(run.stdout.indexOf('--> web: AMIs were created:'));
    for (const region of ['ap-southeast-2', 'eu-west-1', 'us-east-1', 'us-west-2']) {
      expect(listing).toMatch(new RegExp(`\\n${region}: ami-[0-9a-f]+`));
    }
  });

  it('exits 1 when a command fails, with the error name, the cause and what cleanup did', async () => {
    // Act
    const run = await cli([
      'local',
      'examples/basic.json',
      '-debug',
      '--fault',
      '{"type":"command","match":"ec2-bundle-vol","exitCode":127,"stderr":"sudo: ec2-bundle-vol: command not found"}',
    ]);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Armed the emulator fault {"type":"command","match":"ec2-bundle-vol"');
    expect(run.stdout).toMatch(
      /Build 'amazon-instance' errored after .+: VolumeBundleError \(the error is shown above\)/,
    );
    expect(run.stdout).toContain("==> Some builds didn't complete successfully and had errors:");
    expect(run.stdout).not.toContain('AMIs were created');
    expect(run.stderr).toContain('==> Execution failed: VolumeBundleError');
    // The failure's message once (with the command's last lines and where to read the rest), the listing once.
    // (-debug adds the handlers' own log lines, marked [lambda], and the armed fault's text.)
    const text = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((line) => !line.startsWith('[lambda]') && !line.includes('Armed the emulator fault'))
      .join('\n');
    expect(text.split('Bundle Volume failed with exit code 127.').length - 1).toBe(1);
    expect(text.split('sudo: ec2-bundle-vol: command not found').length - 1).toBe(1);
    expect(text.split("==> Some builds didn't complete successfully").length - 1).toBe(1);
    expect(text).toContain('Full output: CloudWatch Logs group');
    expect(run.stdout).toMatch(/ {4}amazon-instance: Terminated instance i-[0-9a-f]+/);
    expect(run.stdout).toMatch(/ {4}amazon-instance: Deleted temporary security group sg-[0-9a-f]+/);
    expect(run.stderr).toMatch(/==> Abort cleanup \(as the stack's EventBridge rule runs it\): /);
    // -debug: each command the instance was sent, with its script; the injected failure is marked.
    expect(run.stdout).toMatch(
      /SSM command \S+ "amazon-instance: Bundle Volume" to i-[0-9a-f]+ in us-east-1: Failed, exit 127 \(injected\)/,
    );
    expect(run.stdout).toContain('amazon-instance:   | #!/bin/bash');
    expect(run.stdout).toMatch(/\| .*ec2-bundle-vol/);
  });

  it('prints Packer’s machine-readable form with -machine-readable', async () => {
    // Act
    const run = await cli(['local', '-machine-readable', 'examples/basic.json']);

    // Assess
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.every((line) => /^\d+,[^,]*,[a-z-]+,/.test(line))).toBe(true);
    expect(run.stdout).toMatch(
      /^\d+,amazon-instance,ui,say,==> amazon-instance: Launching a source AWS instance\.\.\.$/m,
    );
    expect(run.stdout).toMatch(/^\d+,amazon-instance,artifact-count,1$/m);
    expect(run.stdout).toMatch(/^\d+,amazon-instance,artifact,0,builder-id,mitchellh\.amazon\.instance$/m);
    expect(run.stdout).toMatch(/^\d+,amazon-instance,artifact,0,id,us-east-1:ami-[0-9a-f]+$/m);
    expect(run.stdout).toMatch(
      /^\d+,amazon-instance,artifact,0,string,AMIs were created:\\nus-east-1: ami-[0-9a-f]+/m,
    );
    if (run.stdout.includes('Sandbox mode')) {
      // The AMI tools really ran: their output, each line once, before the step that follows them. Compared as
      // the UI text each machine-readable line carries (timestamp, target and type stripped, commas decoded).
      const ui = lines
        .map(
          (line) => /^\d+,[^,]*,ui,[a-z]+,(.*)$/.exec(line)?.[1]?.replaceAll('%!(PACKER_COMMA)', ',') ?? '',
        )
        .join('\n');
      expectOutputBefore(
        ui,
        '    amazon-instance: ec2-bundle-vol complete.',
        '==> amazon-instance: Uploading the bundle...',
      );
      expectOutputBefore(
        ui,
        '    amazon-instance: Bundle upload completed.',
        /^==> amazon-instance: (Deregistering|Registering)/,
      );
    }
  });

  it('fails before starting anything when a --fault is not a fault', async () => {
    // Act
    const run = await cli(['local', 'examples/basic.json', '--fault', '{"type":"command"}']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Invalid fault {"type":"command"}: match:');
    expect(run.stderr).toContain('Usage: ami-builder local [options] TEMPLATE');
    expect(run.stdout).not.toContain('Started the local AWS emulator');
  });
});

describe('sourceSeeds', () => {
  it('seeds an instance-store image with the source_ami id in the build region', () => {
    // Prepare
    const build = makeConfig({ region: 'eu-west-1', sourceAmi: 'ami-d9d6a6b0' });

    // Act
    const seeds = sourceSeeds([build]);

    // Assess
    expect(seeds).toHaveLength(1);
    expect(seeds[0]?.image).toMatchObject({
      region: 'eu-west-1',
      imageId: 'ami-d9d6a6b0',
      rootDeviceType: 'instance-store',
      virtualizationType: 'paravirtual',
      rootDeviceName: '/dev/sda1',
    });
    expect(describeSeed(seeds[0]!, 'ami-d9d6a6b0')).toBe(
      'Seeded the emulator with source AMI ami-d9d6a6b0 (instance-store, paravirtual, x86_64) in eu-west-1',
    );
  });

  it('derives name, owner, tags, architecture and virtualization type from source_ami_filter', () => {
    // Prepare
    const build = makeConfig({
      sourceAmi: undefined,
      sourceAmiFilter: {
        filters: {
          name: ['ubuntu/images/hvm-instance/ubuntu-*-14.04-amd64-server-*'],
          architecture: ['x86_64'],
          'virtualization-type': ['hvm'],
          'root-device-type': ['instance-store'],
          'tag:Team': ['platform'],
          'tag-key': ['Approved'],
          state: ['available'],
          'product-code': ['abc'],
        },
        owners: ['099720109477'],
        mostRecent: true,
        includeDeprecated: false,
      },
    });

    // Act
    const [seed] = sourceSeeds([build]);

    // Assess
    expect(seed?.from).toBe('source_ami_filter');
    expect(seed?.image).toMatchObject({
      region: 'us-east-1',
      name: 'ubuntu/images/hvm-instance/ubuntu--14.04-amd64-server-local',
      ownerId: '099720109477',
      public: true,
      architecture: 'x86_64',
      virtualizationType: 'hvm',
      rootDeviceType: 'instance-store',
      rootDeviceName: '/dev/xvda',
      tags: { Team: 'platform', Approved: 'ami-builder-local' },
    });
    expect(seed?.unmatched).toEqual(['product-code']);
    expect(describeSeed(seed!, 'ami-0abc')).toBe(
      'Seeded the emulator with source AMI ami-0abc "ubuntu/images/hvm-instance/ubuntu--14.04-amd64-server-local" ' +
        'owned by 099720109477 (instance-store, hvm, x86_64), matching source_ami_filter in us-east-1; ' +
        'the filters product-code were not applied to it',
    );
  });

  it('takes an owner alias or self from the owners, and keeps the emulated account for self', () => {
    // Prepare
    const filter = (owners: string[]) => ({
      filters: { name: ['amzn-ami-*'] },
      owners,
      mostRecent: false,
      includeDeprecated: false,
    });

    // Act
    const amazon = imageForFilter(filter(['amazon']), makeConfig());
    const self = imageForFilter(filter(['self']), makeConfig());

    // Assess
    expect(amazon.image).toMatchObject({ ownerAlias: 'amazon', public: true });
    expect(self.image.ownerId ?? EMULATED_ACCOUNT_ID).toBe(EMULATED_ACCOUNT_ID);
    expect(self.image.ownerAlias).toBeUndefined();
    expect(self.image.public).toBeUndefined();
  });

  it('seeds one image per region and source for several builds', () => {
    // Prepare
    const builds = [
      makeConfig({ name: 'a', sourceAmi: 'ami-1' }),
      makeConfig({ name: 'b', sourceAmi: 'ami-1' }),
      makeConfig({ name: 'c', sourceAmi: 'ami-1', region: 'us-west-2' }),
    ];

    // Act
    const seeds = sourceSeeds(builds);

    // Assess
    expect(seeds.map((s) => `${s.image.region}/${s.image.imageId}`)).toEqual([
      'us-east-1/ami-1',
      'us-west-2/ami-1',
    ]);
  });

  it('turns filter wildcards into a concrete value the pattern matches', () => {
    expect(concreteValue('web-*-v?')).toBe('web--vx');
    expect(concreteValue('image-*')).toBe('image-local');
  });
});

describe('localBucketPatterns', () => {
  it('adds each bundle bucket the default pattern does not cover, once', () => {
    expect(localBucketPatterns(['packer-images', 'ami-builder-bundles', 'packer-images'])).toEqual({
      patterns: ['ami-builder-*', 'packer-images'],
      added: ['packer-images'],
    });
  });
});

describe('readFaults', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-faults-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a fault from JSON text, and one or several from @file', () => {
    // Prepare
    writeFileSync(
      join(dir, 'faults.json'),
      JSON.stringify([
        { type: 'agent-offline' },
        { type: 'api', service: 'ec2', operation: 'RunInstances', error: 'throttle', count: 2 },
      ]),
    );

    // Act
    const inline = readFaults('{"type":"copy-fail","region":"eu-west-1"}', dir);
    const fromFile = readFaults('@faults.json', dir);

    // Assess
    expect(inline).toEqual([{ type: 'copy-fail', region: 'eu-west-1' }]);
    expect(fromFile.map((f) => f.type)).toEqual(['agent-offline', 'api']);
  });

  it('fails when a fault file is missing or holds no valid fault', () => {
    // Prepare
    writeFileSync(join(dir, 'bad.json'), '[{"type":"nope"}]');

    // Act / Assess
    expect(() => readFaults('@missing.json', dir)).toThrow(InvalidFaultError);
    expect(() => readFaults('@bad.json', dir)).toThrow(InvalidFaultError);
    expect(() => readFaults('not json', dir)).toThrow(/must be a JSON object/);
  });
});

describe('debugLines', () => {
  it('shows each command with its status, injected exit code, staged files and run.sh', () => {
    // Prepare
    const command = {
      commandId: 'c-1',
      region: 'us-east-1',
      instanceIds: ['i-1'],
      comment: 'web: Bundle Volume',
      status: 'Failed',
      fault: { match: 'ec2-bundle-vol', exitCode: 127 },
      staged: {
        url: 's3://b/p/',
        bucket: 'b',
        prefix: 'p/',
        keys: ['p/run.sh'],
        runScript: '#!/bin/bash\nec2-bundle-vol\n',
      },
    } as unknown as RecordedCommand;

    // Act
    const lines = debugLines([command]);

    // Assess
    expect(lines).toEqual([
      'SSM command c-1 "web: Bundle Volume" to i-1 in us-east-1: Failed, exit 127 (injected)',
      '  files: p/run.sh',
      '  run.sh:',
      '  | #!/bin/bash',
      '  | ec2-bundle-vol',
    ]);
  });
});

describe('ensureExampleX509', () => {
  let examples: string;
  beforeEach(() => {
    examples = mkdtempSync(join(tmpdir(), 'local-examples-'));
  });
  afterEach(() => {
    rmSync(examples, { recursive: true, force: true });
  });

  const template = {
    type: 'amazon-instance',
    x509_cert_path: '{{template_dir}}/x509/cert.pem',
    x509_key_path: '{{template_dir}}/x509/{{user `key`}}',
  };
  const options = () => ({
    cwd: ROOT,
    templateDir: examples,
    vars: new Map([['key', 'key.pem']]),
    examplesDir: examples,
  });

  it('creates a self-signed pair with openssl where an example names missing files', () => {
    // Act
    const created = ensureExampleX509(template, options());

    // Assess
    const cert = join(examples, 'x509', 'cert.pem');
    const key = join(examples, 'x509', 'key.pem');
    expect(created).toEqual([{ cert, key }]);
    const subject = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-subject'], {
      encoding: 'utf8',
    });
    expect(subject).toContain('ami-builder local throwaway');
    expect(readFileSync(key, 'utf8')).toContain('PRIVATE KEY');
    expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it('creates nothing when the pair exists', () => {
    // Prepare
    ensureExampleX509(template, options());

    // Act
    const created = ensureExampleX509(template, options());

    // Assess
    expect(created).toEqual([]);
  });

  it('never creates files outside the examples folder, nor for s3:// or ssm: references', () => {
    // Prepare
    const elsewhere = { ...template, x509_cert_path: join(tmpdir(), 'not-an-example', 'cert.pem') };
    const remote = { ...template, x509_cert_path: 's3://bucket/cert.pem', x509_key_path: 'ssm:/x509/key' };

    // Act
    const pairs = [...missingExamplePairs(elsewhere, options()), ...missingExamplePairs(remote, options())];

    // Assess
    expect(pairs).toEqual([]);
    expect(existsSync(join(tmpdir(), 'not-an-example'))).toBe(false);
  });

  it('finds the builders of a Packer template and of a wrapped one', () => {
    // Prepare
    const packer = { variables: { key: 'key.pem' }, builders: [{ ...template }, { type: 'amazon-ebs' }] };
    const wrapped = { template: JSON.stringify(packer), vars: {} };

    // Act / Assess
    expect(missingExamplePairs(packer, { ...options(), vars: new Map() })).toHaveLength(1);
    expect(missingExamplePairs(wrapped, { ...options(), vars: new Map() })).toHaveLength(1);
  });
});
