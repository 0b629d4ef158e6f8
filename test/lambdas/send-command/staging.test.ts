import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandDocumentContent } from '../../../lambdas/shared/command-document.js';
import {
  commandFolder,
  commandFolderName,
  commandWorkingDirectory,
  deleteStaged,
  executionStagingPrefix,
  listStaged,
  safeSegment,
  stagedFolderUrl,
  stagingPrefix,
} from '../../../lambdas/shared/staging.js';
import { makeBuildState } from '../fixtures.js';

const s3Mock = mockClient(S3Client);

describe('safeSegment', () => {
  it('keeps a name made of letters, digits, _ . and -', () => {
    expect(safeSegment('build-2024-01-02_a.b')).toBe('build-2024-01-02_a.b');
  });

  it('replaces other characters and adds a hash, so different names stay different', () => {
    // Act
    const a = safeSegment('my build/1');
    const b = safeSegment('my build:1');

    // Assess
    expect(a).toMatch(/^my-build-1-[0-9a-f]{8}$/);
    expect(b).toMatch(/^my-build-1-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });

  it('never returns . or .., which would climb out of a directory', () => {
    expect(safeSegment('..')).toMatch(/^[0-9a-f]{8}$/);
    expect(safeSegment('.')).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('staging layout', () => {
  it('puts a build under staging/<execution name>/<build name>/', () => {
    // Prepare
    const build = makeBuildState({ config: { name: 'web server' } });

    // Act
    const prefix = stagingPrefix(build);

    // Assess
    expect(prefix).toMatch(/^staging\/build-2024-01-02\/web-server-[0-9a-f]{8}\/$/);
    expect(prefix.startsWith(executionStagingPrefix('build-2024-01-02'))).toBe(true);
  });

  it('names each command folder by order, kind, provisioner and attempt', () => {
    expect(commandFolderName({ kind: 'provision', provisionerIndex: 3, attempt: 2 })).toBe(
      '01-provision-03-a2',
    );
    expect(commandFolderName({ kind: 'x509', attempt: 1 })).toBe('02-x509');
    expect(commandFolderName({ kind: 'bundle', attempt: 1 })).toBe('03-bundle');
    expect(commandFolderName({ kind: 'upload', attempt: 1 })).toBe('04-upload');
    expect(commandFolderName({ kind: 'error-cleanup', attempt: 1 })).toBe('05-error-cleanup-a1');
  });

  it('places command folders under the build prefix', () => {
    // Act
    const folder = commandFolder(makeBuildState(), { kind: 'bundle', attempt: 1 });

    // Assess
    expect(folder).toBe('staging/build-2024-01-02/amazon-instance/commands/03-bundle/');
  });

  it('gives a working directory that the command document accepts, whatever the execution name', () => {
    // Prepare
    const pattern = new RegExp(commandDocumentContent.parameters.workingDirectory.allowedPattern);

    // Act
    const plain = commandWorkingDirectory('build-1', { kind: 'x509', attempt: 1 });
    const odd = commandWorkingDirectory('ünïcode name; $(id)', {
      kind: 'provision',
      provisionerIndex: 0,
      attempt: 1,
    });

    // Assess
    expect(plain).toBe('/var/lib/ami-builder/build-1/02-x509');
    expect(odd).toMatch(pattern);
    expect(odd).not.toContain('..');
  });

  it('builds the regional S3 URL of a folder for aws:downloadContent', () => {
    expect(stagedFolderUrl('eu-west-1', 'bucket', 'staging/x/')).toBe(
      'https://s3.eu-west-1.amazonaws.com/bucket/staging/x/',
    );
    expect(stagedFolderUrl('cn-north-1', 'bucket', 'p/')).toBe(
      'https://s3.cn-north-1.amazonaws.com.cn/bucket/p/',
    );
  });
});

describe('listStaged and deleteStaged', () => {
  const s3 = new S3Client({ region: 'us-east-1' });
  const prefix = 'staging/exec/build/';
  beforeEach(() => s3Mock.reset());
  afterEach(() => s3Mock.reset());

  it('lists every page of keys under the prefix', async () => {
    // Prepare
    s3Mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({ Contents: [{ Key: `${prefix}a` }], IsTruncated: true, NextContinuationToken: 't2' })
      .on(ListObjectsV2Command, { ContinuationToken: 't2' })
      .resolves({ Contents: [{ Key: `${prefix}b` }], IsTruncated: false });

    // Act
    const keys = await listStaged(s3, 'staging-bucket', prefix);

    // Assess
    expect(keys).toEqual([`${prefix}a`, `${prefix}b`]);
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: 'staging-bucket',
      Prefix: prefix,
    });
  });

  it('deletes every object in batches of 1000 and returns how many', async () => {
    // Prepare
    const keys = Array.from({ length: 1500 }, (_, i) => ({ Key: `${prefix}commands/f${i}` }));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: keys, IsTruncated: false });
    s3Mock.on(DeleteObjectsCommand).resolves({});

    // Act
    const deleted = await deleteStaged(s3, 'staging-bucket', prefix);

    // Assess
    expect(deleted).toBe(1500);
    const calls = s3Mock.commandCalls(DeleteObjectsCommand);
    expect(calls.map((c) => c.args[0].input.Delete?.Objects?.length)).toEqual([1000, 500]);
    expect(calls[0]?.args[0].input).toMatchObject({ Bucket: 'staging-bucket', Delete: { Quiet: true } });
  });

  it('returns 0 and deletes nothing when the prefix is empty, so cleanup can run twice', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command).resolves({ IsTruncated: false });

    // Act
    const deleted = await deleteStaged(s3, 'staging-bucket', prefix);

    // Assess
    expect(deleted).toBe(0);
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('fails when S3 refuses some deletions, naming the first', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${prefix}a` }, { Key: `${prefix}b` }] });
    s3Mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: `${prefix}b`, Code: 'AccessDenied' }] });

    // Act
    const act = deleteStaged(s3, 'staging-bucket', prefix);

    // Assess
    await expect(act).rejects.toThrow(
      `could not delete 1 staged object(s) in s3://staging-bucket/${prefix} (first: ${prefix}b: AccessDenied)`,
    );
  });

  it('fails when the prefix is not a staging folder, before listing anything', async () => {
    // Act
    const act = deleteStaged(s3, 'staging-bucket', 'staging/run-1');

    // Assess
    await expect(act).rejects.toThrow('not a staging folder prefix');
    expect(s3Mock.calls()).toHaveLength(0);
  });
});
