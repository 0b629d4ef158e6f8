import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../../lambdas/shared/errors.js';
import {
  fileProvisionerScript,
  inlineScript,
  packerEnvVars,
  remoteScriptPath,
  renderExecuteCommand,
  shellProvisionerScript,
} from '../../../lambdas/shared/scripts/provision.js';
import { createSandbox, type Sandbox } from './harness.js';

const DEFAULT_EXECUTE_COMMAND = 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}';

/** Values that would run `touch <canary>` if they reached a shell unquoted, and others that break naive quoting. */
function hostileValues(canary: string): Record<string, string> {
  return {
    SEMICOLON: `x; touch ${canary}`,
    SUBSHELL: `$(touch ${canary})`,
    BACKQUOTES: `\`touch ${canary}\``,
    QUOTES: `it's "quoted" '; touch ${canary}; '`,
    NEWLINE: `line1\ntouch ${canary}\nline3`,
    BACKSLASH: 'C:\\path\\',
    GLOB: '* ? [a]',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JavaScript placeholder
    DOLLAR: '$HOME ${PATH} $0',
  };
}

interface ShellCase {
  inline: string[];
  env?: { name: string; value: string }[];
  runAsUser?: string;
  validExitCodes?: number[];
  executeCommand?: string;
  buildName?: string;
}

/** Builds a shell provisioner's run.sh as Send Command does, with inline commands staged as `inline.sh`. */
function shellRun(sandbox: Sandbox, c: ShellCase, env: Record<string, string> = {}) {
  const remoteFolder = join(sandbox.root, 'remote');
  mkdirSync(remoteFolder, { recursive: true });
  const remotePath = remoteScriptPath(remoteFolder, 1234, 'provisioners[0]');
  const vars = packerEnvVars(c.env ?? [], c.buildName ?? 'amazon-instance', 'provisioners[0]');
  const command = renderExecuteCommand(
    c.executeCommand ?? DEFAULT_EXECUTE_COMMAND,
    { Vars: vars, Path: remotePath },
    'provisioners[0]',
  );
  sandbox.stage('inline.sh', inlineScript('/bin/sh -e', c.inline));
  const script = shellProvisionerScript({
    ...(c.runAsUser === undefined ? {} : { runAsUser: c.runAsUser }),
    validExitCodes: c.validExitCodes ?? [0],
    scripts: [{ staged: 'inline.sh', remotePath, label: 'inline commands', command }],
  });
  return { script, remotePath, result: sandbox.run(script, env) };
}

describe('shell provisioner run.sh under bash', () => {
  let sandbox: Sandbox;
  let canary: string;
  let out: string;
  beforeEach(() => {
    sandbox = createSandbox();
    canary = join(sandbox.root, 'pwned');
    out = join(sandbox.root, 'out');
    mkdirSync(out);
  });
  afterEach(() => sandbox.dispose());

  it('passes hostile environment values to the script verbatim and runs none of them', () => {
    // Prepare
    const values = hostileValues(canary);
    const env = Object.entries(values).map(([name, value]) => ({ name, value }));
    const inline = Object.keys(values).map((name) => `printf '%s' "$${name}" > '${out}/${name}'`);

    // Act
    const { result } = shellRun(sandbox, { inline, env });

    // Assess
    expect(result).toMatchObject({ code: 0 });
    expect(existsSync(canary)).toBe(false);
    for (const [name, value] of Object.entries(values)) {
      expect(readFileSync(join(out, name), 'utf8'), name).toBe(value);
    }
  });

  it('exports PACKER_BUILDER_TYPE and PACKER_BUILD_NAME as Packer does, even for a hostile build name', () => {
    // Prepare
    const buildName = `build'; touch ${canary}; '`;

    // Act
    const { result } = shellRun(sandbox, {
      inline: [`printf '%s|%s' "$PACKER_BUILDER_TYPE" "$PACKER_BUILD_NAME" > '${out}/packer'`],
      buildName,
    });

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(out, 'packer'), 'utf8')).toBe(`amazon-instance|${buildName}`);
    expect(existsSync(canary)).toBe(false);
  });

  it('runs the script as ssh_username through sudo, from the user home, and gives the script to that user', () => {
    // Act
    const { result, remotePath } = shellRun(sandbox, {
      inline: [`pwd > '${out}/pwd'`],
      runAsUser: 'ubuntu',
    });

    // Assess
    expect(result.code).toBe(0);
    const [sudo] = sandbox.calls('sudo');
    expect(sudo?.slice(0, 7)).toEqual(['-n', '-u', 'ubuntu', '-H', '--', '/bin/sh', '-c']);
    expect(sudo?.[7]).toContain(`chmod +x ${remotePath}; PACKER_BUILDER_TYPE='amazon-instance'`);
    expect(readFileSync(join(out, 'pwd'), 'utf8').trim()).toBe(join(sandbox.root, 'home'));
    expect(sandbox.calls('chown')[0]?.[1]).toBe('ubuntu:1001');
    expect(existsSync(remotePath)).toBe(false);
  });

  it('passes a hostile user name to sudo, id and chown as one argument each', () => {
    // Prepare
    const user = `ubuntu; touch ${canary} $(touch ${canary})`;

    // Act
    const { result } = shellRun(sandbox, { inline: ['true'], runAsUser: user });

    // Assess
    expect(result.code).toBe(0);
    expect(existsSync(canary)).toBe(false);
    expect(sandbox.calls('sudo')[0]?.[2]).toBe(user);
    expect(sandbox.calls('id')[0]).toEqual(['-g', '--', user]);
    expect(sandbox.calls('chown')[0]?.[1]).toBe(`${user}:1001`);
  });

  it('falls back to runuser when sudo is not installed', () => {
    // Prepare
    sandbox.withoutTool('sudo');

    // Act
    const { result } = shellRun(sandbox, { inline: ['true'], runAsUser: 'ec2-user' });

    // Assess
    expect(result.code).toBe(0);
    expect(sandbox.calls('runuser')[0]?.slice(0, 5)).toEqual(['-u', 'ec2-user', '--', '/bin/sh', '-c']);
  });

  it('fails with a clear message when ssh_username does not exist on the instance', () => {
    // Act
    const { result } = shellRun(
      sandbox,
      { inline: ['true'], runAsUser: 'ghost' },
      { STUB_MISSING_USER: 'ghost' },
    );

    // Assess
    expect(result.code).toBe(1);
    expect(sandbox.calls('sudo')).toEqual([]);
    expect(result.stderr).toContain('The user ghost (ssh_username) does not exist on the instance.');
  });

  it('propagates an exit code outside valid_exit_codes with Packer’s message', () => {
    // Act
    const { result } = shellRun(sandbox, { inline: ['echo working', 'exit 3'] });

    // Assess
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('working');
    expect(result.stderr).toContain(
      'Script exited with non-zero exit status: 3. Allowed exit codes are: [0]',
    );
  });

  it('exits 0 when the script ends with a code listed in valid_exit_codes', () => {
    // Act
    const { result } = shellRun(sandbox, { inline: ['exit 2'], validExitCodes: [0, 2] });

    // Assess
    expect(result.code).toBe(0);
  });

  it('propagates 127 from a command that is not installed', () => {
    // Act
    const { result } = shellRun(sandbox, { inline: ['ec2-ami-tools-missing --version'] });

    // Assess
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/not found/);
    expect(result.stderr).toContain('Allowed exit codes are: [0]');
  });

  it('runs a custom execute_command that wraps the command in sudo sh -c', () => {
    // Act
    const { result } = shellRun(sandbox, {
      inline: [`printf '%s' "$GREETING" > '${out}/greeting'`],
      env: [{ name: 'GREETING', value: 'hello' }],
      executeCommand: "sudo -E sh -c '{{.Vars}} {{.Path}}'",
    });

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(out, 'greeting'), 'utf8')).toBe('hello');
    expect(sandbox.calls('sudo')[0]?.[0]).toBe('-E');
  });

  it('writes the inline script with its shebang and removes it and the download folder after the run', () => {
    // Act
    const { result, remotePath } = shellRun(sandbox, {
      inline: [`cat "$0" > '${out}/self'`],
      executeCommand: '{{.Vars}} /bin/sh {{.Path}}',
    });

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(out, 'self'), 'utf8').split('\n')[0]).toBe('#!/bin/sh -e');
    expect(existsSync(remotePath)).toBe(false);
    expect(existsSync(sandbox.workdir)).toBe(false);
  });
});

describe('packerEnvVars', () => {
  it('sorts the variables and quotes each value in single quotes as Packer does', () => {
    // Act
    const vars = packerEnvVars(
      [
        { name: 'ZED', value: "it's" },
        { name: 'ALPHA', value: 'a b' },
      ],
      'my-build',
      'provisioners[0]',
    );

    // Assess
    expect(vars).toBe(
      `ALPHA='a b' PACKER_BUILDER_TYPE='amazon-instance' PACKER_BUILD_NAME='my-build' ZED='it'"'"'s' `,
    );
  });

  it('lets a template variable replace a PACKER_ one, as the last assignment wins in Packer', () => {
    // Act
    const vars = packerEnvVars([{ name: 'PACKER_BUILD_NAME', value: 'custom' }], 'b', 'provisioners[0]');

    // Assess
    expect(vars).toContain("PACKER_BUILD_NAME='custom' ");
    expect(vars).not.toContain("'b'");
  });

  it('fails when a variable name would be pasted into the command as shell syntax', () => {
    // Act
    const act = () => packerEnvVars([{ name: 'X;touch /tmp/pwned', value: '1' }], 'b', 'provisioners[4]');

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow(
      'provisioners[4].environment_vars: "X;touch /tmp/pwned" is not a valid environment variable name',
    );
  });
});

describe('remoteScriptPath', () => {
  it('names the script script_<n>.sh in remote_folder', () => {
    expect(remoteScriptPath('/tmp/', 42, 'provisioners[0]')).toBe('/tmp/script_42.sh');
  });

  it('fails when remote_folder holds characters a shell would interpret', () => {
    // Act
    const act = () => remoteScriptPath('/tmp/a b;touch x', 1, 'provisioners[1]');

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow('provisioners[1].remote_folder: "/tmp/a b;touch x" must be an absolute path');
  });
});

describe('renderExecuteCommand', () => {
  it('fails when execute_command names a field Packer does not provide', () => {
    // Act
    const act = () =>
      renderExecuteCommand('{{.Vars}} {{.Script}}', { Vars: '', Path: '/tmp/s' }, 'provisioners[0]');

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow('provisioners[0].execute_command: template: no field or key "Script" in data');
  });
});

describe('file provisioner run.sh under bash', () => {
  let sandbox: Sandbox;
  let canary: string;
  beforeEach(() => {
    sandbox = createSandbox();
    canary = join(sandbox.root, 'pwned');
  });
  afterEach(() => sandbox.dispose());

  it('writes content to a hostile destination path literally', () => {
    // Prepare
    const dest = join(sandbox.root, `dest $(touch ${canary}); touch ${canary} \`touch ${canary}\` '"`);
    mkdirSync(dirname(dest), { recursive: true });
    sandbox.stage('files/0', 'hello\n');
    const script = fileProvisionerScript({
      uploads: [
        {
          label: 'content',
          destination: dest,
          directories: [],
          files: [{ staged: 'files/0', target: dest }],
        },
      ],
    });

    // Act
    const result = sandbox.run(script);

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');
    expect(statSync(dest).mode & 0o777).toBe(0o644);
    expect(existsSync(canary)).toBe(false);
    expect(sandbox.calls('chown')).toEqual([]);
  });

  it('creates a folder upload’s directories and gives new files and directories, not existing ones, to the user', () => {
    // Prepare
    const dest = join(sandbox.root, 'etc');
    mkdirSync(dest);
    sandbox.stage('files/0', 'a');
    sandbox.stage('files/1', 'b');
    const script = fileProvisionerScript({
      runAsUser: 'ubuntu',
      uploads: [
        {
          label: 's3://bucket/conf/',
          destination: `${dest}/`,
          directories: [dest, `${dest}/app`, `${dest}/app/sub`],
          files: [
            { staged: 'files/0', target: `${dest}/app/a.conf` },
            { staged: 'files/1', target: `${dest}/app/sub/b.conf` },
          ],
        },
      ],
    });

    // Act
    const result = sandbox.run(script);

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(`${dest}/app/sub/b.conf`, 'utf8')).toBe('b');
    expect(statSync(`${dest}/app`).mode & 0o777).toBe(0o755);
    const owned = sandbox.calls('chown').map((call) => call[2] ?? '');
    expect(owned).toContain(`${dest}/app`);
    expect(owned).toContain(`${dest}/app/sub`);
    expect(owned).not.toContain(dest);
    expect(owned.filter((p) => p.includes('.ami-builder.'))).toHaveLength(2);
    expect(result.stdout).toContain(`==> Uploading s3://bucket/conf/ => ${dest}/`);
  });

  it('fails when the destination’s directory does not exist, as Packer does for a file', () => {
    // Prepare
    sandbox.stage('files/0', 'a');
    const target = join(sandbox.root, 'missing', 'file');
    const script = fileProvisionerScript({
      uploads: [
        { label: 'content', destination: target, directories: [], files: [{ staged: 'files/0', target }] },
      ],
    });

    // Act
    const result = sandbox.run(script);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mktemp/);
  });
});

describe('quoting, for any value (property)', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = createSandbox();
  });
  afterEach(() => sandbox.dispose());

  const anyText = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));

  it('delivers any environment value to the script unchanged', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        // Prepare
        const out = join(sandbox.root, 'value');
        rmSync(out, { force: true });

        // Act
        const { result } = shellRun(sandbox, {
          inline: [`printf '%s' "$VALUE" > '${out}'`],
          env: [{ name: 'VALUE', value }],
        });

        // Assess
        expect(result.code).toBe(0);
        expect(readFileSync(out, 'utf8')).toBe(value);
      }),
      { numRuns: 25 },
    );
  });

  it('writes content to any file name, literally', () => {
    const name = anyText.filter((s) => s !== '' && !s.includes('/') && s !== '.' && s !== '..');
    fc.assert(
      fc.property(name, (fileName) => {
        // Prepare
        const dir = join(sandbox.root, 'dest');
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        const target = join(dir, fileName);
        sandbox.stage('files/0', 'payload');
        const script = fileProvisionerScript({
          uploads: [
            {
              label: 'content',
              destination: target,
              directories: [],
              files: [{ staged: 'files/0', target }],
            },
          ],
        });

        // Act
        const result = sandbox.run(script);

        // Assess
        expect(result.code).toBe(0);
        expect(readdirSync(dir)).toEqual([fileName]);
        expect(readFileSync(target, 'utf8')).toBe('payload');
      }),
      { numRuns: 25 },
    );
  });
});
