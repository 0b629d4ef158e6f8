import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { x509Script } from '../../../lambdas/shared/scripts/x509.js';
import { createSandbox, type Sandbox } from './harness.js';

describe('x509 run.sh under bash', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = createSandbox();
    sandbox.stage('cert.pem', '-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n');
    sandbox.stage('key.pem', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
  });
  afterEach(() => sandbox.dispose());

  it('installs cert.pem and key.pem mode 0600 in a new upload directory of mode 0700', () => {
    // Prepare
    const uploadPath = join(sandbox.root, 'x509', 'nested');

    // Act
    const result = sandbox.run(x509Script({ uploadPath }));

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(join(uploadPath, 'key.pem'), 'utf8')).toContain('PRIVATE KEY');
    expect(readFileSync(join(uploadPath, 'cert.pem'), 'utf8')).toContain('CERTIFICATE');
    expect(statSync(join(uploadPath, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(uploadPath, 'cert.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(uploadPath).mode & 0o777).toBe(0o700);
    expect(result.stdout).toContain('==> Uploading X509 Certificate...');
  });

  it('gives both files to root and removes the downloaded folder with its copies', () => {
    // Act
    const result = sandbox.run(x509Script({ uploadPath: join(sandbox.root, 'x509') }));

    // Assess
    expect(result.code).toBe(0);
    const chowns = sandbox.calls('chown');
    expect(chowns).toHaveLength(2);
    for (const call of chowns) expect(call.slice(0, 2)).toEqual(['--', '0:0']);
    expect(existsSync(sandbox.workdir)).toBe(false);
  });

  it('keeps the mode of an existing upload directory', () => {
    // Prepare
    const uploadPath = join(sandbox.root, 'shared');
    mkdirSync(uploadPath, { mode: 0o755 });

    // Act
    const result = sandbox.run(x509Script({ uploadPath: `${uploadPath}/` }));

    // Assess
    expect(result.code).toBe(0);
    expect(statSync(uploadPath).mode & 0o777).toBe(0o755);
    expect(existsSync(join(uploadPath, 'key.pem'))).toBe(true);
  });

  it('replaces a symlink planted at key.pem instead of writing through it', () => {
    // Prepare
    const uploadPath = join(sandbox.root, 'x509');
    mkdirSync(uploadPath);
    const victim = join(sandbox.root, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(uploadPath, 'key.pem'));

    // Act
    const result = sandbox.run(x509Script({ uploadPath }));

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(lstatSync(join(uploadPath, 'key.pem')).isSymbolicLink()).toBe(false);
  });

  it('fails when the key was not downloaded, and says so', () => {
    // Prepare
    writeFileSync(join(sandbox.workdir, 'key.pem'), '');

    // Act
    const result = sandbox.run(x509Script({ uploadPath: join(sandbox.root, 'x509') }));

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The staged key.pem is missing or empty');
    expect(existsSync(join(sandbox.root, 'x509', 'cert.pem'))).toBe(false);
  });

  it('creates no file and runs nothing for an upload path full of shell syntax', () => {
    // Prepare
    const canary = join(sandbox.root, 'pwned');
    const uploadPath = join(sandbox.root, `x509 $(touch ${canary}) \`touch ${canary}\`; touch ${canary}'"`);

    // Act
    const result = sandbox.run(x509Script({ uploadPath }));

    // Assess
    expect(result.code).toBe(0);
    expect(existsSync(canary)).toBe(false);
    expect(existsSync(join(uploadPath, 'key.pem'))).toBe(true);
  });
});

describe('x509Script', () => {
  it('quotes the upload path and contains neither key material nor its location in S3', () => {
    // Act
    const script = x509Script({ uploadPath: "/opt/my x509/it's" });

    // Assess
    expect(script).toContain(`X509_DIR='/opt/my x509/it'"'"'s'`);
    expect(script).toContain(`KEY_PATH='/opt/my x509/it'"'"'s/key.pem'`);
    expect(script).not.toMatch(/s3:\/\/|PRIVATE KEY/);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('trap ami_builder_on_exit EXIT');
  });
});
