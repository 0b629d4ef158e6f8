import { describe, expect, it } from 'vitest';
import type { FileProvisioner, ShellProvisioner } from '../../../../lambdas/shared/config.js';
import { builder, cli, config, problems, validated, warnings, workflow } from './helpers.js';

const withProvisioners = (provisioners: unknown[], extra: Record<string, unknown> = {}) => ({
  builders: [builder()],
  provisioners,
  ...extra,
});

const shell = (changes: Record<string, unknown>) =>
  config(withProvisioners([{ type: 'shell', ...changes }])).provisioners[0] as ShellProvisioner;
const file = (changes: Record<string, unknown>) =>
  config(withProvisioners([{ type: 'file', ...changes }])).provisioners[0] as FileProvisioner;

describe('shell provisioner', () => {
  it("fills Packer's defaults", () => {
    expect(shell({ inline: ['echo hi'] })).toEqual({
      type: 'shell',
      index: 0,
      name: 'shell',
      inline: ['echo hi'],
      scripts: [],
      environmentVars: [],
      executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
      inlineShebang: '/bin/sh -e',
      remoteFolder: '/tmp',
      validExitCodes: [0],
      maxRetries: 0,
      timeoutSeconds: 7200,
      pauseBeforeSeconds: 0,
    });
  });

  it('reads every key', () => {
    // Act
    const result = shell({
      name: 'install tools',
      scripts: ['s3://scripts-bucket/a.sh', 's3://scripts-bucket/b.sh'],
      environment_vars: ['A=1', 'B=x=y', 'EMPTY='],
      env: { C: "it's $HOME; `id`" },
      execute_command: "sudo -E bash '{{.Path}}' {{.Vars}}",
      inline_shebang: '/bin/bash -ex',
      remote_folder: '/var/tmp',
      valid_exit_codes: [0, '2', 3],
      max_retries: '2',
      timeout: '10m',
      pause_before: '30s',
    });

    // Assess
    expect(result).toMatchObject({
      name: 'install tools',
      scripts: [
        { kind: 's3', bucket: 'scripts-bucket', key: 'a.sh', uri: 's3://scripts-bucket/a.sh' },
        { kind: 's3', bucket: 'scripts-bucket', key: 'b.sh', uri: 's3://scripts-bucket/b.sh' },
      ],
      environmentVars: [
        { name: 'A', value: '1' },
        { name: 'B', value: 'x=y' },
        { name: 'EMPTY', value: '' },
        { name: 'C', value: "it's $HOME; `id`" },
      ],
      executeCommand: "sudo -E bash '{{.Path}}' {{.Vars}}",
      inlineShebang: '/bin/bash -ex',
      remoteFolder: '/var/tmp',
      validExitCodes: [0, 2, 3],
      maxRetries: 2,
      timeoutSeconds: 600,
      pauseBeforeSeconds: 30,
    });
  });

  it('renders inline commands at validation and keeps shell metacharacters as written', () => {
    // Prepare
    const input = {
      variables: { pkg: 'nginx' },
      ...withProvisioners([
        {
          type: 'shell',
          inline: ['apt-get install -y {{user `pkg`}} && echo "$(date)" > /tmp/x; rm -f `ls`'],
        },
      ]),
    };

    // Act
    const result = config(input).provisioners[0] as ShellProvisioner;

    // Assess
    expect(result.inline).toEqual(['apt-get install -y nginx && echo "$(date)" > /tmp/x; rm -f `ls`']);
  });

  it('renders user variables in execute_command now and keeps {{.Vars}} and {{.Path}}', () => {
    expect(
      shell({ inline: ['x'], execute_command: '{{user `sudo`}} {{.Vars}} sh {{.Path}}' }).executeCommand,
    ).toBe(' {{.Vars}} sh {{.Path}}');
  });

  it.each([
    [{}, 'Either a script file or inline script must be specified.'],
    [{ inline: [] }, 'Either a script file or inline script must be specified.'],
    [
      { script: 's3://b-b/a.sh', scripts: ['s3://b-b/b.sh'] },
      'Only one of script or scripts can be specified.',
    ],
    [
      { inline: ['x'], script: 's3://b-b/a.sh' },
      'Only a script file or an inline script can be specified, not both.',
    ],
    [
      { inline: ['x'], environment_vars: ['NOVALUE'] },
      "environment_vars: Environment variable not in format 'key=value': NOVALUE",
    ],
    [{ inline: ['x'], environment_vars: ['=x'] }, "Environment variable not in format 'key=value': =x"],
    [
      { inline: ['x'], environment_vars: ['A;rm -rf /=x'] },
      'environment variable name "A;rm -rf /" must be a shell identifier',
    ],
    [
      { inline: ['x'], execute_command: '{{.Vars}} {{.Command}}' },
      'execute_command may only use {{.Vars}} and {{.Path}}; unknown variable {{.Command}}',
    ],
    [
      { inline: ['x'], remote_folder: '/tmp/$(id)' },
      'remote_folder must be an absolute directory of letters, digits',
    ],
    [{ inline: ['x'], remote_folder: 'tmp' }, 'remote_folder must be an absolute directory'],
    [{ inline: ['x'], inline_shebang: '/bin/sh\nreboot' }, 'inline_shebang must be a single line'],
    [
      { inline: ['x'], valid_exit_codes: [256] },
      'valid_exit_codes: "256" is not an exit code; allowed: whole numbers 0–255',
    ],
    [{ inline: ['x'], max_retries: 'x' }, 'max_retries: cannot parse "x" as an integer'],
    [{ inline: ['x'], timeout: '49h' }, 'timeout: "49h" is longer than the maximum of 48h0m0s'],
    [{ inline: ['x'], pause_before: 'soon' }, 'pause_before: time: invalid duration "soon"'],
    [
      { inline: ['x'], scripts: 'local.sh' },
      'scripts: "local.sh" is a local path, but the workflow reads files only from S3',
    ],
    [{ inline: ['x'], bogus: true }, `provisioners[0]: unknown configuration key: '"bogus"'`],
    [{ inline: ['{{build `ID`}}'] }, 'the build variable ID is not available here'],
  ])('fails when given %j', (changes, message) => {
    expect(problems(withProvisioners([{ type: 'shell', ...changes }])).join('\n')).toContain(message);
  });

  it('accepts the keys of an SSH upload with a warning', () => {
    expect(
      warnings(withProvisioners([{ type: 'shell', inline: ['x'], skip_clean: true, remote_file: 'x.sh' }])),
    ).toContainEqual(
      'provisioners[0]: remote_file, skip_clean: accepted but ignored: scripts are staged and run through SSM Run Command',
    );
  });

  it("reports a missing local script in the CLI with Packer's message", () => {
    // Prepare
    const options = { ...cli, checkLocalFile: (p: string) => `stat ${p}: no such file or directory` };

    // Act
    const listed = problems(withProvisioners([{ type: 'shell', script: 'setup.sh' }]), options);

    // Assess
    expect(listed).toContain(
      "provisioners[0]: Bad script 'setup.sh': stat setup.sh: no such file or directory",
    );
  });

  it('takes local scripts in the CLI as local file references', () => {
    expect(
      (
        config(withProvisioners([{ type: 'shell', script: './setup.sh' }]), cli)
          .provisioners[0] as ShellProvisioner
      ).scripts,
    ).toEqual([{ kind: 'local', path: './setup.sh', uri: './setup.sh' }]);
  });
});

describe('file provisioner', () => {
  it('reads a source and a destination', () => {
    expect(file({ source: 's3://files-bucket/nginx.conf', destination: '/etc/nginx/nginx.conf' })).toEqual({
      type: 'file',
      index: 0,
      name: 'file',
      sources: [
        { kind: 's3', bucket: 'files-bucket', key: 'nginx.conf', uri: 's3://files-bucket/nginx.conf' },
      ],
      destination: '/etc/nginx/nginx.conf',
      maxRetries: 0,
      timeoutSeconds: 7200,
      pauseBeforeSeconds: 0,
    });
  });

  it('reads content, folders and destinations with spaces (they are quoted by the script)', () => {
    expect(file({ content: 'hello\n', destination: '/home/me/my file.txt' })).toMatchObject({
      content: 'hello\n',
      sources: [],
      destination: '/home/me/my file.txt',
    });
    expect(file({ sources: ['s3://files-bucket/etc/'], destination: '/etc/app' }).sources[0]).toMatchObject({
      key: 'etc/',
    });
  });

  it.each([
    [{ destination: '/x' }, 'Source must be specified.'],
    [{ source: 's3://b-b/x', content: 'y', destination: '/x' }, 'Cannot specify source file AND content'],
    [{ source: 's3://b-b/x' }, 'Destination must be specified.'],
    [
      { source: 's3://b-b/x', destination: '/x', direction: 'download' },
      'direction "download" is not supported',
    ],
    [
      { source: 's3://b-b/x', destination: '/x', direction: 'sideways' },
      'Direction must be one of: download, upload.',
    ],
    [{ source: 's3://b-b/x', destination: '/x', generated: true }, 'generated is not supported'],
    [
      { source: 's3://b-b/x', destination: '/x\nrm' },
      'destination must not contain newlines or NUL characters',
    ],
  ])('fails when given %j', (changes, message) => {
    expect(problems(withProvisioners([{ type: 'file', ...changes }])).join('\n')).toContain(message);
  });
});

describe('provisioners in the template', () => {
  it('refuses other types, naming the alternative', () => {
    expect(problems(withProvisioners([{ type: 'chef-client' }])).join('\n')).toContain(
      'provisioner type "chef-client" is not supported; supported: shell, file, ansible-local, ansible, chef-solo, puppet-masterless, salt-masterless. Instead: install Chef on the instance and run chef-client from a shell provisioner',
    );
    expect(problems(withProvisioners([{ type: 'powershell', inline: ['x'] }])).join('\n')).toContain(
      'instance-store AMIs are Linux only',
    );
    expect(problems(withProvisioners([{ type: 'puppet-server-2' }])).join('\n')).toContain(
      'provisioner type "puppet-server-2" is not supported; supported: shell, file, ansible-local, ansible, chef-solo, puppet-masterless, salt-masterless',
    );
  });

  describe('a provisioner excluded from every selected build', () => {
    const salt = { type: 'salt-masterless', local_state_tree: 'salt/states', skip_bootstrap: true };
    const twoBuilders = (provisioner: Record<string, unknown>) => ({
      builders: [builder(), { type: 'amazon-ebs', name: 'ebs', region: 'us-east-1' }],
      provisioners: [provisioner, { type: 'shell', inline: ['echo hi'] }],
    });

    it.each([
      ['only', { ...salt, only: ['ebs'] }],
      ['except', { ...salt, except: ['amazon-instance'] }],
    ])('validates a salt-masterless provisioner excluded by %s, which never runs', (_, provisioner) => {
      // Act
      const result = validated(twoBuilders(provisioner));

      // Assess
      expect(result.builds).toHaveLength(1);
      expect(result.builds[0]?.provisioners.map((p) => p.type)).toEqual(['shell']);
    });

    it('validates a provisioner excluded from the builds that -except leaves', () => {
      // Prepare
      const template = {
        builders: [builder({ name: 'a' }), builder({ name: 'b' })],
        provisioners: [{ ...salt, only: ['b'] }],
      };

      // Act
      const result = validated(template, { ...workflow, except: ['b'] });

      // Assess
      expect(result.builds.map((b) => [b.name, b.provisioners.length])).toEqual([['a', 0]]);
    });

    it("still gets Packer's checks made before selection", () => {
      expect(problems(twoBuilders({ ...salt, only: ['nope'] }))).toContain(
        "provisioners[0]: provisioner 1: 'only' specified builder 'nope' not found",
      );
      expect(problems(twoBuilders({ only: ['ebs'] }))).toContain(
        "provisioners[0]: provisioner 1: Provisioner missing 'type'",
      );
    });

    it('is checked in full when it runs for a selected build', () => {
      expect(problems(twoBuilders({ ...salt, only: ['amazon-instance'] })).join('\n')).toContain(
        'local_state_tree: "salt/states" is a local path, but the workflow reads files only from S3',
      );
    });
  });

  it("checks only, except and override against the builders, in Packer's words", () => {
    expect(problems(withProvisioners([{ type: 'shell', inline: ['x'], only: ['nope'] }]))).toContain(
      "provisioners[0]: provisioner 1: 'only' specified builder 'nope' not found",
    );
    expect(problems(withProvisioners([{ type: 'shell', inline: ['x'], except: ['nope'] }]))).toContain(
      "provisioners[0]: provisioner 1: 'except' specified builder 'nope' not found",
    );
    expect(problems(withProvisioners([{ type: 'shell', inline: ['x'], override: { nope: {} } }]))).toContain(
      "provisioners[0].override: provisioner 1: override 'nope' doesn't exist",
    );
    expect(problems(withProvisioners([{ inline: ['x'] }]))).toContain(
      "provisioners[0]: provisioner 1: Provisioner missing 'type'",
    );
  });

  it('applies the override of each build', () => {
    // Prepare
    const input = {
      builders: [
        { ...builder(), name: 'a' },
        { ...builder(), name: 'b' },
      ],
      provisioners: [
        { type: 'shell', inline: ['default'], override: { b: { inline: ['for b'], timeout: '5m' } } },
      ],
    };

    // Act
    const [a, b] = validated(input).builds;

    // Assess
    expect(a?.provisioners[0]).toMatchObject({ inline: ['default'], timeoutSeconds: 7200 });
    expect(b?.provisioners[0]).toMatchObject({ inline: ['for b'], timeoutSeconds: 300 });
  });

  it('takes the error-cleanup-provisioner and the build command_timeout as the default timeout', () => {
    // Act
    const result = config({
      builders: [builder({ command_timeout: '1h' })],
      provisioners: [{ type: 'shell', inline: ['x'] }],
      'error-cleanup-provisioner': { type: 'shell', inline: ['journalctl -n 100'] },
    });

    // Assess
    expect(result.provisioners[0]?.timeoutSeconds).toBe(3600);
    expect(result.errorCleanupProvisioner).toMatchObject({
      type: 'shell',
      index: -1,
      inline: ['journalctl -n 100'],
    });
  });

  it('gives the error-cleanup-provisioner only to the builds its only/except selects', () => {
    // Act
    const result = validated({
      builders: [builder({ name: 'a' }), builder({ name: 'b' })],
      'error-cleanup-provisioner': { type: 'shell', inline: ['journalctl -n 100'], only: ['b'] },
    });

    // Assess
    expect(result.builds.map((b) => [b.name, b.errorCleanupProvisioner?.type])).toEqual([
      ['a', undefined],
      ['b', 'shell'],
    ]);
  });

  it('reports a provisioner problem once even when several builds share it', () => {
    // Prepare
    const input = {
      builders: [
        { ...builder(), name: 'a' },
        { ...builder(), name: 'b' },
      ],
      provisioners: [{ type: 'shell' }],
    };

    // Act
    const listed = problems(input);

    // Assess
    expect(
      listed.filter((p) => p.includes('Either a script file or inline script must be specified.')),
    ).toHaveLength(1);
  });
});

describe('post-processors', () => {
  it("fills the manifest's defaults", () => {
    expect(config(withProvisioners([], { 'post-processors': ['manifest'] })).postProcessors).toEqual({
      manifest: { type: 'manifest', output: 'packer-manifest.json', stripPath: false, stripTime: false },
    });
  });

  it('reads custom_data and applies only/except', () => {
    // Prepare
    const input = {
      builders: [
        { ...builder(), name: 'a' },
        { ...builder(), name: 'b' },
      ],
      'post-processors': [
        { type: 'manifest', only: ['b'], strip_time: 'true', custom_data: { team: 'web', n: 2 } },
      ],
    };

    // Act
    const [a, b] = validated(input).builds;

    // Assess
    expect(a?.postProcessors).toEqual({});
    expect(b?.postProcessors.manifest).toEqual({
      type: 'manifest',
      output: 'packer-manifest.json',
      stripPath: false,
      stripTime: true,
      customData: { team: 'web', n: '2' },
    });
  });

  it('skips the others with a warning that names them', () => {
    expect(
      warnings(
        withProvisioners([], {
          'post-processors': ['vagrant', { type: 'compress' }, ['checksum', 'vagrant']],
        }),
      ),
    ).toContainEqual(
      'post-processors: post-processor(s) "vagrant", "compress", "checksum" skipped: they have no meaning for an AMI built in AWS (only "manifest" is honoured)',
    );
  });

  it("fails on malformed entries in Packer's words", () => {
    expect(problems(withProvisioners([], { 'post-processors': [[['manifest']]] }))).toContain(
      'post-processors[0][0]: post-processor 1.1: sequence not allowed to be nested in a sequence',
    );
    expect(problems(withProvisioners([], { 'post-processors': [42] }))).toContain(
      'post-processors[0]: post-processor 1: bad format',
    );
    expect(problems(withProvisioners([], { 'post-processors': [{ output: 'x' }] }))).toContain(
      'post-processors[0]: post-processor 1: type is required',
    );
    expect(
      problems(withProvisioners([], { 'post-processors': [{ type: 'manifest', outptu: 'x' }] })),
    ).toContain(`post-processors[0]: unknown configuration key: '"outptu"'`);
  });

  it('is the same in the workflow and the CLI', () => {
    const input = withProvisioners([], { 'post-processors': ['manifest'] });
    expect(config(input, workflow).postProcessors).toEqual(config(input, cli).postProcessors);
  });
});
