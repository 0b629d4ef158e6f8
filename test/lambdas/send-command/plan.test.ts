import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type CommandPlan, planCommand, type ResolvedSource } from '../../../lambdas/send-command/plan.js';
import type { FileProvisioner, ShellProvisioner } from '../../../lambdas/shared/config.js';
import {
  ProvisionerFailedError,
  TaskInputError,
  TemplateValidationError,
} from '../../../lambdas/shared/errors.js';
import type { CommandKey } from '../../../lambdas/shared/staging.js';
import type { BuildState } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, makeBuildState } from '../fixtures.js';

function shell(overrides: Partial<ShellProvisioner> = {}): ShellProvisioner {
  return {
    type: 'shell',
    index: 0,
    name: 'shell',
    scripts: [],
    environmentVars: [],
    executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
    inlineShebang: '/bin/sh -e',
    remoteFolder: '/tmp',
    validExitCodes: [0],
    maxRetries: 0,
    timeoutSeconds: 900,
    pauseBeforeSeconds: 0,
    ...overrides,
  };
}

function file(overrides: Partial<FileProvisioner> = {}): FileProvisioner {
  return {
    type: 'file',
    index: 0,
    name: 'file',
    sources: [],
    destination: '/etc/app.conf',
    maxRetries: 0,
    timeoutSeconds: 300,
    pauseBeforeSeconds: 0,
    ...overrides,
  };
}

const s3Ref = (bucket: string, key: string) => ({
  kind: 's3' as const,
  bucket,
  key,
  uri: `s3://${bucket}/${key}`,
});

function state(overrides: BuildStateOverrides = {}): BuildState {
  return makeBuildState({
    instance: { instanceId: 'i-0123456789abcdef0', architecture: 'x86_64' },
    source: {
      imageId: 'ami-0123456789abcdef0',
      name: 'source',
      ownerId: '123456789012',
      creationDate: '2024-01-01T00:00:00.000Z',
      tags: {},
      rootDeviceType: 'instance-store',
      architecture: 'x86_64',
      virtualizationType: 'paravirtual',
      accountId: '123456789012',
      rendered: { tags: {}, runTags: {} },
    },
    ...overrides,
  });
}

const provision = (index = 0, attempt = 1): CommandKey => ({
  kind: 'provision',
  provisionerIndex: index,
  attempt,
});

function runScript(plan: CommandPlan): string {
  const run = plan.files.find((f) => f.name === 'run.sh');
  if (run?.source.kind !== 'text') throw new Error('no run.sh');
  return run.source.body;
}

function textOf(plan: CommandPlan, name: string): string {
  const found = plan.files.find((f) => f.name === name);
  if (found?.source.kind !== 'text') throw new Error(`no text file ${name}`);
  return found.source.body;
}

describe('planCommand: x509', () => {
  it('stages run.sh and server-side copies of the certificate and key', () => {
    // Act
    const plan = planCommand(state(), { key: { kind: 'x509', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(plan.files.map((f) => [f.name, f.source.kind])).toEqual([
      ['run.sh', 'text'],
      ['cert.pem', 's3'],
      ['key.pem', 's3'],
    ]);
    expect(plan.files[2]?.source).toEqual({ kind: 's3', bucket: 'staging-bucket', key: 'x509/key.pem' });
    expect(runScript(plan)).toContain('X509_DIR=/tmp\nCERT_PATH=/tmp/cert.pem\nKEY_PATH=/tmp/key.pem\n');
    expect(plan.timeoutSeconds).toBe(7200);
    expect(plan.comment).toBe('amazon-instance: Upload X509 Certificate');
  });

  it('reads a SecureString key from SSM', () => {
    // Prepare
    const build = state({
      config: { x509: { key: { kind: 'ssm', name: '/x509/key', uri: 'ssm:/x509/key' } } },
    });

    // Act
    const plan = planCommand(build, { key: { kind: 'x509', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(plan.files[2]?.source).toEqual({ kind: 'ssm', name: '/x509/key' });
  });

  it('fails when x509_upload_path is not absolute', () => {
    // Prepare
    const build = state({ config: { x509: { uploadPath: 'x509' } } });

    // Act
    const act = () => planCommand(build, { key: { kind: 'x509', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow('x509_upload_path: "x509" must be an absolute path on the instance');
  });

  it('fails when the certificate is still a local path', () => {
    // Prepare
    const build = state({
      config: { x509: { cert: { kind: 'local', path: 'x509.cert', uri: 'x509.cert' } } },
    });

    // Act
    const act = () => planCommand(build, { key: { kind: 'x509', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TaskInputError);
    expect(act).toThrow('x509_cert_path is "x509.cert": a build reads only s3:// references and ssm:');
  });
});

describe('planCommand: shell provisioner', () => {
  it('writes inline commands into inline.sh and runs it with the rendered execute_command as ssh_username', () => {
    // Prepare
    const build = state({
      config: {
        runAsUser: 'ubuntu',
        provisioners: [
          shell({
            inline: ['apt-get update', 'echo "$GREETING"'],
            environmentVars: [{ name: 'GREETING', value: "it's here" }],
          }),
        ],
      },
    });

    // Act
    const plan = planCommand(build, { key: provision(), scriptSuffix: 4711 });

    // Assess
    expect(plan.files.map((f) => f.name)).toEqual(['run.sh', 'inline.sh']);
    expect(textOf(plan, 'inline.sh')).toBe('#!/bin/sh -e\napt-get update\necho "$GREETING"\n');
    const script = runScript(plan);
    expect(script).toContain('RUN_AS=ubuntu\n');
    expect(script).toContain('AMI_BUILDER_SCRIPT=/tmp/script_4711.sh\n');
    expect(script).toContain(
      `COMMAND_0='cd "\${HOME:-/}" 2>/dev/null || cd /\nchmod +x /tmp/script_4711.sh; ` +
        `GREETING='"'"'it'"'"'"'"'"'"'"'"'s here'"'"' PACKER_BUILDER_TYPE='"'"'amazon-instance'"'"' ` +
        `PACKER_BUILD_NAME='"'"'amazon-instance'"'"'  /tmp/script_4711.sh'\n`,
    );
    expect(plan.timeoutSeconds).toBe(900);
    expect(plan.comment).toBe('amazon-instance: Provisioner 1 (shell)');
  });

  it('stages each script of `scripts` as a server-side copy and runs them in order', () => {
    // Prepare
    const build = state({
      config: {
        provisioners: [shell({ scripts: [s3Ref('b', 'one.sh'), s3Ref('b', 'dir/two.sh')] })],
      },
    });

    // Act
    const plan = planCommand(build, { key: provision(0, 2), scriptSuffix: 1 });

    // Assess
    expect(plan.files.slice(1)).toEqual([
      { name: 'scripts/0', source: { kind: 's3', bucket: 'b', key: 'one.sh' } },
      { name: 'scripts/1', source: { kind: 's3', bucket: 'b', key: 'dir/two.sh' } },
    ]);
    const script = runScript(plan);
    expect(script.indexOf('Provisioning with shell script: s3://b/one.sh')).toBeLessThan(
      script.indexOf('Provisioning with shell script: s3://b/dir/two.sh'),
    );
    expect(plan.comment).toBe('amazon-instance: Provisioner 1 (shell) (attempt 2)');
  });

  it('renders Packer functions in execute_command with the execution start as the clock', () => {
    // Prepare
    const build = state({
      config: {
        provisioners: [
          shell({ inline: ['true'], executeCommand: '{{.Vars}} BUILT={{timestamp}} {{.Path}}' }),
        ],
      },
    });

    // Act
    const plan = planCommand(build, { key: provision(), scriptSuffix: 1 });

    // Assess
    expect(runScript(plan)).toContain(' BUILT=1704153600 /tmp/script_1.sh');
  });

  it('fails when execute_command uses a field Packer does not define', () => {
    // Prepare
    const build = state({
      config: { provisioners: [shell({ inline: ['true'], executeCommand: '{{.Script}}' })] },
    });

    // Act
    const act = () => planCommand(build, { key: provision(), scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TemplateValidationError);
  });

  it('fails when a script is still a local path', () => {
    // Prepare
    const build = state({
      config: { provisioners: [shell({ scripts: [{ kind: 'local', path: 'a.sh', uri: 'a.sh' }] })] },
    });

    // Act
    const act = () => planCommand(build, { key: provision(), scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TaskInputError);
    expect(act).toThrow('provisioners[0].scripts[0] is "a.sh"');
  });

  it('plans the error-cleanup provisioner with its own timeout', () => {
    // Prepare
    const build = state({
      config: { errorCleanupProvisioner: shell({ inline: ['dmesg'], timeoutSeconds: 120 }) },
    });

    // Act
    const plan = planCommand(build, { key: { kind: 'error-cleanup', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(textOf(plan, 'inline.sh')).toBe('#!/bin/sh -e\ndmesg\n');
    expect(plan.timeoutSeconds).toBe(120);
    expect(plan.comment).toBe('amazon-instance: Error cleanup provisioner (shell)');
  });

  it('fails when the provisioner index is not in the build', () => {
    expect(() => planCommand(state(), { key: provision(3), scriptSuffix: 1 })).toThrow(TaskInputError);
  });
});

describe('planCommand: file provisioner', () => {
  const resolvedFile = (key: string): ResolvedSource => ({
    uri: `s3://src/${key}`,
    bucket: 'src',
    layout: 'file',
    basename: key.split('/').pop() ?? key,
    objects: [{ key, relative: '' }],
  });

  it('writes content to the destination', () => {
    // Prepare
    const build = state({
      config: { provisioners: [file({ content: 'a=1\n', destination: '/etc/app.conf' })] },
    });

    // Act
    const plan = planCommand(build, { key: provision(), scriptSuffix: 1 });

    // Assess
    expect(plan.files[1]).toEqual({ name: 'files/0', source: { kind: 'text', body: 'a=1\n' } });
    expect(runScript(plan)).toContain('ami_builder_install files/0 /etc/app.conf 0644 || exit 1');
  });

  it('fails when content goes to a destination ending in /', () => {
    // Prepare
    const build = state({ config: { provisioners: [file({ content: 'x', destination: '/etc/' })] } });

    // Act, Assess
    expect(() => planCommand(build, { key: provision(), scriptSuffix: 1 })).toThrow(TemplateValidationError);
  });

  it('places a file under its own name when the destination ends in /, else at the destination', () => {
    // Prepare
    const into = state({
      config: { provisioners: [file({ sources: [s3Ref('src', 'a/app.conf')], destination: '/etc/' })] },
    });
    const exact = state({
      config: { provisioners: [file({ sources: [s3Ref('src', 'a/app.conf')], destination: '/etc/x.conf' })] },
    });

    // Act
    const a = planCommand(into, {
      key: provision(),
      fileSources: [resolvedFile('a/app.conf')],
      scriptSuffix: 1,
    });
    const b = planCommand(exact, {
      key: provision(),
      fileSources: [resolvedFile('a/app.conf')],
      scriptSuffix: 1,
    });

    // Assess
    expect(runScript(a)).toContain('ami_builder_install files/0 /etc/app.conf 0644');
    expect(runScript(b)).toContain('ami_builder_install files/0 /etc/x.conf 0644');
    expect(a.files[1]?.source).toEqual({ kind: 's3', bucket: 'src', key: 'a/app.conf' });
  });

  it('uploads a folder’s contents into the destination, and a folder without / as a folder in it', () => {
    // Prepare
    const build = state({
      config: {
        provisioners: [file({ sources: [s3Ref('src', 'conf/'), s3Ref('src', 'site')], destination: '/srv' })],
      },
    });
    const contents: ResolvedSource = {
      uri: 's3://src/conf/',
      bucket: 'src',
      layout: 'contents',
      basename: 'conf',
      objects: [
        { key: 'conf/a', relative: 'a' },
        { key: 'conf/sub/b', relative: 'sub/b' },
      ],
    };
    const folder: ResolvedSource = {
      uri: 's3://src/site',
      bucket: 'src',
      layout: 'directory',
      basename: 'site',
      objects: [{ key: 'site/index.html', relative: 'index.html' }],
    };

    // Act
    const plan = planCommand(build, { key: provision(), fileSources: [contents, folder], scriptSuffix: 1 });

    // Assess
    const script = runScript(plan);
    expect(script).toContain(
      [
        'ami_builder_ensure_dir /srv || exit 1',
        'ami_builder_ensure_dir /srv/sub || exit 1',
        'ami_builder_install files/0 /srv/a 0644 || exit 1',
        'ami_builder_install files/1 /srv/sub/b 0644 || exit 1',
      ].join('\n'),
    );
    expect(script).toContain(
      [
        'ami_builder_ensure_dir /srv/site || exit 1',
        'ami_builder_install files/2 /srv/site/index.html 0644 || exit 1',
      ].join('\n'),
    );
  });

  it('fails when a folder holds a path that would climb out of the destination', () => {
    // Prepare
    const build = state({
      config: { provisioners: [file({ sources: [s3Ref('src', 'conf/')], destination: '/srv' })] },
    });
    const contents: ResolvedSource = {
      uri: 's3://src/conf/',
      bucket: 'src',
      layout: 'contents',
      basename: 'conf',
      objects: [{ key: 'conf/../../etc/shadow', relative: '../../etc/shadow' }],
    };

    // Act
    const act = () => planCommand(build, { key: provision(), fileSources: [contents], scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(ProvisionerFailedError);
    expect(act).toThrow('Provisioner 1 (file) cannot upload s3://src/conf/');
  });

  it('quotes a hostile destination', () => {
    // Prepare
    const build = state({
      config: { provisioners: [file({ content: 'x', destination: "/tmp/a'; touch /pwned; '" })] },
    });

    // Act
    const plan = planCommand(build, { key: provision(), scriptSuffix: 1 });

    // Assess
    expect(runScript(plan)).toContain(`ami_builder_install files/0 '/tmp/a'"'"'; touch /pwned; '"'"'' 0644`);
  });
});

describe('planCommand: bundle and upload', () => {
  it('renders bundle_vol_command with the instance architecture, the account and the X.509 paths', () => {
    // Prepare
    const build = state({ config: { x509: { uploadPath: '/root/x509/' }, bundle: { destination: '/mnt' } } });

    // Act
    const plan = planCommand(build, {
      key: { kind: 'bundle', attempt: 1 },
      architecture: 'i386',
      scriptSuffix: 1,
    });

    // Assess
    expect(plan.files.map((f) => f.name)).toEqual(['run.sh']);
    expect(runScript(plan)).toContain(
      "VOL_COMMAND='sudo -i -n ec2-bundle-vol -k /root/x509/key.pem -u 123456789012 -c /root/x509/cert.pem " +
        "-r i386 -e /root/x509/* -d /mnt -p image-1704153600 --batch --no-filter'\n",
    );
    expect(runScript(plan)).toContain('MANIFEST_PATH=/mnt/image-1704153600.manifest.xml\n');
  });

  it('fails when a bundle value would be pasted into the command as shell syntax', () => {
    // Prepare
    const build = state({ config: { bundle: { destination: '/tmp/a b;reboot' } } });

    // Act
    const act = () =>
      planCommand(build, { key: { kind: 'bundle', attempt: 1 }, architecture: 'x86_64', scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TemplateValidationError);
  });

  it('fails when bundle_vol_command names a variable Packer does not define', () => {
    // Prepare
    const build = state({ config: { bundle: { volCommand: 'ec2-bundle-vol -r {{.Arch}}' } } });

    // Act
    const act = () =>
      planCommand(build, { key: { kind: 'bundle', attempt: 1 }, architecture: 'x86_64', scriptSuffix: 1 });

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow('bundle_vol_command: template: no field or key "Arch" in data');
  });

  it('fails when the state has no source information', () => {
    expect(() =>
      planCommand(makeBuildState(), {
        key: { kind: 'bundle', attempt: 1 },
        architecture: 'x86_64',
        scriptSuffix: 1,
      }),
    ).toThrow(TaskInputError);
  });

  it('renders bundle_upload_command with the bucket and its key prefix, the build region and credential references', () => {
    // Prepare
    const build = state({
      config: { region: 'eu-west-1', bundle: { bucket: 'my-bundles', keyPrefix: 'images/web' } },
    });

    // Act
    const plan = planCommand(build, { key: { kind: 'upload', attempt: 1 }, scriptSuffix: 1 });

    // Assess
    expect(runScript(plan)).toContain(
      "UPLOAD_COMMAND='sudo -i -n ec2-upload-bundle -b my-bundles/images/web -m /tmp/image-1704153600.manifest.xml " +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
        '-a "${AMI_BUILDER_ACCESS_KEY}" -s "${AMI_BUILDER_SECRET_KEY}" -d /tmp --batch --region eu-west-1 --retry\'\n',
    );
  });
});

describe('planCommand: every run.sh', () => {
  const hostile = "x'; touch /tmp/pwned; echo '$(touch /tmp/pwned) `touch /tmp/pwned`\n\"";

  it.each<[string, CommandKey]>([
    ['x509', { kind: 'x509', attempt: 1 }],
    ['provision (shell)', provision(0)],
    ['provision (file)', provision(1)],
    ['bundle', { kind: 'bundle', attempt: 1 }],
    ['upload', { kind: 'upload', attempt: 1 }],
    ['error-cleanup', { kind: 'error-cleanup', attempt: 1 }],
  ])('is valid bash for %s, even with hostile template values', (_, key) => {
    // Prepare
    const build = state({
      config: {
        name: hostile,
        runAsUser: hostile,
        provisioners: [
          shell({ inline: [hostile], environmentVars: [{ name: 'V', value: hostile }] }),
          file({ content: hostile, destination: `/tmp/${hostile}` }),
        ],
        errorCleanupProvisioner: shell({
          inline: ['true'],
          environmentVars: [{ name: 'V', value: hostile }],
        }),
      },
    });

    // Act
    const script = runScript(planCommand(build, { key, architecture: 'x86_64', scriptSuffix: 1 }));
    const check = spawnSync('/bin/bash', ['-n'], { input: script, encoding: 'utf8' });

    // Assess
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('trap ami_builder_on_exit EXIT');
  });
});
