import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleScript, uploadScript } from '../../../lambdas/shared/scripts/bundle.js';
import {
  DEFAULT_BUNDLE_UPLOAD_COMMAND,
  DEFAULT_BUNDLE_VOL_COMMAND,
  renderBundleUploadCommand,
  renderBundleVolCommand,
} from '../../../lambdas/shared/template/bundle-commands.js';
import { makeConfig } from '../fixtures.js';
import { createSandbox, FAKE_CREDENTIALS, FAKE_IMDS_TOKEN, type Sandbox } from './harness.js';

/** Packer's own default upload command (no `-t`), as the fixture carries it. */
const PACKER_UPLOAD_COMMAND = makeConfig().bundle.uploadCommand;

describe('bundle volume run.sh under bash', () => {
  let sandbox: Sandbox;
  let x509: string;
  let dest: string;
  beforeEach(() => {
    sandbox = createSandbox();
    x509 = join(sandbox.root, 'x509');
    dest = join(sandbox.root, 'bundle');
    mkdirSync(x509);
    mkdirSync(dest);
    writeFileSync(join(x509, 'cert.pem'), 'cert', { mode: 0o600 });
    writeFileSync(join(x509, 'key.pem'), 'key', { mode: 0o600 });
  });
  afterEach(() => sandbox.dispose());

  function script(command = DEFAULT_BUNDLE_VOL_COMMAND): string {
    const volCommand = renderBundleVolCommand(command, {
      AccountId: '123456789012',
      Architecture: 'x86_64',
      CertPath: `${x509}/cert.pem`,
      KeyPath: `${x509}/key.pem`,
      Destination: dest,
      Prefix: 'image-1704153600',
      PrivatePath: x509,
    });
    return bundleScript({
      volCommand,
      x509UploadPath: x509,
      manifestPath: `${dest}/image-1704153600.manifest.xml`,
    });
  }

  it('runs ec2-bundle-vol through sudo -i -n with exactly Packer’s arguments, the X.509 files expanded after -e', () => {
    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(0);
    expect(sandbox.calls('sudo')[0]?.slice(0, 3)).toEqual(['-i', '-n', 'ec2-bundle-vol']);
    expect(sandbox.calls('ec2-bundle-vol')).toEqual([
      [
        '-k',
        `${x509}/key.pem`,
        '-u',
        '123456789012',
        '-c',
        `${x509}/cert.pem`,
        '-r',
        'x86_64',
        '-e',
        `${x509}/cert.pem`,
        `${x509}/key.pem`,
        '-d',
        dest,
        '-p',
        'image-1704153600',
        '--batch',
        '--no-filter',
      ],
    ]);
    expect(result.stdout).toContain(`Bundle manifest is ${dest}/image-1704153600.manifest.xml`);
  });

  it('removes its own download folder before bundling, so nothing of it ends up in the image', () => {
    // Act
    const result = sandbox.run(script(), { STUB_PROBE: sandbox.workdir });

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(sandbox.root, 'calls', 'probe'), 'utf8').trim()).toBe('absent');
  });

  it('keeps the X.509 files for the upload step when bundling succeeds', () => {
    // Act
    sandbox.run(script());

    // Assess
    expect(existsSync(join(x509, 'key.pem'))).toBe(true);
    expect(existsSync(join(x509, 'cert.pem'))).toBe(true);
  });

  it('exits 127 when ec2-bundle-vol is not installed, and removes the X.509 files', () => {
    // Prepare
    sandbox.withoutTool('ec2-bundle-vol');

    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('bundle_vol_command exited with status 127');
    expect(existsSync(join(x509, 'key.pem'))).toBe(false);
    expect(existsSync(join(x509, 'cert.pem'))).toBe(false);
  });

  it('propagates the exit code of ec2-bundle-vol', () => {
    // Act
    const result = sandbox.run(script(), { STUB_BUNDLE_EXIT: '5', STUB_BUNDLE_STDERR: 'disk full' });

    // Assess
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('disk full');
  });

  it('fails when the command leaves no manifest where the upload expects it', () => {
    // Act
    const result = sandbox.run(script('sudo -n ec2-bundle-vol -k {{.KeyPath}} --batch'));

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `wrote no manifest at ${dest}/image-1704153600.manifest.xml (<bundle_destination>/<bundle_prefix>.manifest.xml)`,
    );
  });

  it('names both paths when the command writes the manifest somewhere else', () => {
    // Prepare
    const elsewhere = join(sandbox.root, 'elsewhere');
    mkdirSync(elsewhere);

    // Act
    const result = sandbox.run(
      script(`mkdir -p ${elsewhere} && echo '<manifest/>' > ${elsewhere}/image.manifest.xml`),
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `bundle_vol_command wrote its manifest to ${elsewhere}/image.manifest.xml, but the upload and Register AMI expect it at ${dest}/image-1704153600.manifest.xml`,
    );
  });
});

describe('upload bundle run.sh under bash', () => {
  let sandbox: Sandbox;
  let x509: string;
  let dest: string;
  beforeEach(() => {
    sandbox = createSandbox();
    x509 = join(sandbox.root, 'x509');
    dest = join(sandbox.root, 'bundle');
    mkdirSync(x509);
    mkdirSync(dest);
    writeFileSync(join(x509, 'cert.pem'), 'cert', { mode: 0o600 });
    writeFileSync(join(x509, 'key.pem'), 'key', { mode: 0o600 });
  });
  afterEach(() => sandbox.dispose());

  function script(command = DEFAULT_BUNDLE_UPLOAD_COMMAND): string {
    const uploadCommand = renderBundleUploadCommand(command, {
      BucketName: 'my-bundles/images/web',
      BundleDirectory: dest,
      ManifestPath: `${dest}/image-1704153600.manifest.xml`,
      Region: 'us-east-1',
    });
    return uploadScript({ uploadCommand, x509UploadPath: x509 });
  }

  it('passes the instance-profile credentials from IMDSv2 to ec2-upload-bundle, with the session token', () => {
    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(0);
    expect(sandbox.calls('ec2-upload-bundle')).toEqual([
      [
        '-b',
        'my-bundles/images/web',
        '-m',
        `${dest}/image-1704153600.manifest.xml`,
        '-a',
        FAKE_CREDENTIALS.accessKeyId,
        '-s',
        FAKE_CREDENTIALS.secretAccessKey,
        '-t',
        FAKE_CREDENTIALS.token,
        '-d',
        dest,
        '--batch',
        '--region',
        'us-east-1',
        '--retry',
      ],
    ]);
  });

  it('asks IMDS for a token first and sends it with every metadata request', () => {
    // Act
    sandbox.run(script());

    // Assess
    const [token, ...gets] = sandbox.calls('curl');
    expect(token).toEqual([
      '-sf',
      '--max-time',
      '5',
      '-X',
      'PUT',
      '-H',
      'X-aws-ec2-metadata-token-ttl-seconds: 300',
      'http://169.254.169.254/latest/api/token',
    ]);
    expect(gets.map((call) => call.at(-1))).toEqual([
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      `http://169.254.169.254/latest/meta-data/iam/security-credentials/${FAKE_CREDENTIALS.role}`,
    ]);
    for (const call of gets) expect(call).toContain(`X-aws-ec2-metadata-token: ${FAKE_IMDS_TOKEN}`);
  });

  it('never prints the credentials, and the script text holds none', () => {
    // Act
    const text = script();
    const result = sandbox.run(text);

    // Assess
    const secrets = [FAKE_CREDENTIALS.accessKeyId, FAKE_CREDENTIALS.secretAccessKey, FAKE_CREDENTIALS.token];
    for (const secret of secrets) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
    expect(result.stdout).toContain(
      `Using the credentials of the instance profile role ${FAKE_CREDENTIALS.role}`,
    );
  });

  it('gives the credentials to Packer’s own upload command, which has no -t', () => {
    // Act
    const result = sandbox.run(script(PACKER_UPLOAD_COMMAND));

    // Assess
    expect(result.code).toBe(0);
    const [call] = sandbox.calls('ec2-upload-bundle');
    expect(call?.slice(4, 8)).toEqual([
      '-a',
      FAKE_CREDENTIALS.accessKeyId,
      '-s',
      FAKE_CREDENTIALS.secretAccessKey,
    ]);
    expect(call).not.toContain('-t');
  });

  it('removes the X.509 files after a successful upload', () => {
    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(0);
    expect(existsSync(join(x509, 'key.pem'))).toBe(false);
    expect(existsSync(join(x509, 'cert.pem'))).toBe(false);
    expect(existsSync(sandbox.workdir)).toBe(false);
  });

  it('propagates exit code 3 and still removes the X.509 files', () => {
    // Act
    const result = sandbox.run(script(), { STUB_UPLOAD_EXIT: '3' });

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('bundle_upload_command exited with status 3');
    expect(existsSync(join(x509, 'key.pem'))).toBe(false);
  });

  it('falls back to wget when curl is not installed', () => {
    // Prepare
    sandbox.withoutTool('curl');

    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(0);
    expect(sandbox.calls('wget')[0]).toContain('--method=PUT');
    expect(sandbox.calls('ec2-upload-bundle')[0]).toContain(FAKE_CREDENTIALS.secretAccessKey);
  });

  it('falls back to IMDSv1 when the metadata service issues no token', () => {
    // Act
    const result = sandbox.run(script(), { STUB_IMDS_V1_ONLY: '1' });

    // Assess
    expect(result.code).toBe(0);
    expect(sandbox.calls('ec2-upload-bundle')[0]).toContain(FAKE_CREDENTIALS.token);
    expect(sandbox.calls('curl').slice(1).flat().join(' ')).not.toContain('X-aws-ec2-metadata-token:');
  });

  it('fails with exit 1 and a hint when the instance has no instance profile', () => {
    // Act
    const result = sandbox.run(script(), { STUB_IMDS_NO_ROLE: '1' });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is an instance profile attached to the instance?');
    expect(sandbox.calls('ec2-upload-bundle')).toEqual([]);
    expect(existsSync(join(x509, 'key.pem'))).toBe(false);
  });

  it('exits 127 when neither curl nor wget is installed', () => {
    // Prepare
    sandbox.withoutTool('curl');
    sandbox.withoutTool('wget');

    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('Neither curl nor wget is installed');
  });

  it('exits 127 when ec2-upload-bundle is not installed', () => {
    // Prepare
    sandbox.withoutTool('ec2-upload-bundle');

    // Act
    const result = sandbox.run(script());

    // Assess
    expect(result.code).toBe(127);
  });
});

describe('hostile user variables in the bundle commands, under bash', () => {
  let sandbox: Sandbox;
  let x509: string;
  let dest: string;
  let marker: string;
  beforeEach(() => {
    sandbox = createSandbox();
    x509 = join(sandbox.root, 'x509');
    dest = join(sandbox.root, 'bundle');
    marker = join(sandbox.root, 'marker');
    mkdirSync(x509);
    mkdirSync(dest);
    writeFileSync(join(x509, 'cert.pem'), 'cert', { mode: 0o600 });
    writeFileSync(join(x509, 'key.pem'), 'key', { mode: 0o600 });
  });
  afterEach(() => sandbox.dispose());

  /** The variable outside quotes, in the user's single and double quotes, and inside a word. */
  const VOL_COMMAND =
    'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -p {{user `v`}} -r \'{{user `v`}}\' -u "{{user `v`}}" -c x{{user `v`}}y -d {{.Destination}} --batch';
  const UPLOAD_COMMAND =
    "sudo -i -n ec2-upload-bundle -b {{.BucketName}} -a '{{.AccessKey}}' -s \"{{.SecretKey}}\" -t {{.Token}} --description {{user `v`}} '{{user `v`}}' --batch";

  const hostile = (touch: string) => [
    `--no-filter; touch ${touch}`,
    `$(touch ${touch})`,
    `\`touch ${touch}\``,
    `'; touch ${touch}; '`,
    `"; touch ${touch}; "`,
    `\\'; touch ${touch} #`,
    `x\ntouch ${touch}`,
    `a && touch ${touch} || b`,
    `> ${touch}`,
    '{a,b} * $IFS ~root',
  ];

  it('runs nothing but ec2-bundle-vol, which receives each value as one argument', () => {
    // The stub tool writes no bundle: the manifest Bundle Volume checks for is there beforehand.
    mkdirSync(dest, { recursive: true });
    writeFileSync(`${dest}/m.manifest.xml`, '<manifest/>');
    for (const value of hostile('MARKER')) {
      // Prepare
      const v = value.replaceAll('MARKER', marker);
      const volCommand = renderBundleVolCommand(
        VOL_COMMAND,
        {
          AccountId: '123456789012',
          Architecture: 'x86_64',
          CertPath: `${x509}/cert.pem`,
          KeyPath: `${x509}/key.pem`,
          Destination: dest,
          Prefix: 'image-1704153600',
          PrivatePath: x509,
        },
        { userVariables: { v } },
      );
      const before = sandbox.calls('ec2-bundle-vol').length;

      // Act
      const result = sandbox.run(
        bundleScript({ volCommand, x509UploadPath: x509, manifestPath: `${dest}/m.manifest.xml` }),
      );

      // Assess
      expect(result.code, v).toBe(0);
      expect(existsSync(marker), v).toBe(false);
      expect(sandbox.calls('ec2-bundle-vol').slice(before), v).toEqual([
        ['-k', `${x509}/key.pem`, '-p', v, '-r', v, '-u', v, '-c', `x${v}y`, '-d', dest, '--batch'],
      ]);
    }
    expect(sandbox.calls('sudo')).toHaveLength(hostile('').length);
  });

  it('passes the real credentials, also in the user’s own quotes, and the values as one argument each', () => {
    for (const value of hostile('MARKER')) {
      // Prepare
      const v = value.replaceAll('MARKER', marker);
      const uploadCommand = renderBundleUploadCommand(
        UPLOAD_COMMAND,
        {
          BucketName: 'my-bundles/images',
          BundleDirectory: dest,
          ManifestPath: `${dest}/image-1704153600.manifest.xml`,
          Region: 'us-east-1',
        },
        { userVariables: { v } },
      );
      const before = sandbox.calls('ec2-upload-bundle').length;

      // Act
      const result = sandbox.run(uploadScript({ uploadCommand, x509UploadPath: x509 }));

      // Assess
      expect(result.code, v).toBe(0);
      expect(existsSync(marker), v).toBe(false);
      expect(uploadCommand).not.toContain(FAKE_CREDENTIALS.secretAccessKey);
      expect(sandbox.calls('ec2-upload-bundle').slice(before), v).toEqual([
        [
          '-b',
          'my-bundles/images',
          '-a',
          FAKE_CREDENTIALS.accessKeyId,
          '-s',
          FAKE_CREDENTIALS.secretAccessKey,
          '-t',
          FAKE_CREDENTIALS.token,
          '--description',
          v,
          v,
          '--batch',
        ],
      ]);
    }
  });
});
