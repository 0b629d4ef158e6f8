/**
 * Upload, then start (cli/start.ts), as `build` and `local` use it: a start that fails or is interrupted leaves
 * nothing staged. `build` is tested end to end in build.test.ts; these cover the shared step itself.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planStaging, StagingInterruptedError } from '../../cli/stage.js';
import { discardStaged, type StartHooks, uploadThenStart } from '../../cli/start.js';

const s3Mock = mockClient(S3Client);
const BUCKET = 'amibuilder-staging';

let dir: string;
let bucket: Map<string, unknown>;
let interrupt: (() => void) | undefined;
let printed: string[];

const hooks: StartHooks = {
  onInterrupt: (handler) => {
    interrupt = handler;
    return () => {
      interrupt = undefined;
    };
  },
  message: (text) => printed.push(text),
  warn: (text) => printed.push(text),
};

async function prepared() {
  const template = {
    builders: [{ type: 'amazon-instance', x509_cert_path: 'cert.pem', x509_key_path: 'key.pem' }],
    provisioners: [{ type: 'shell', script: 'install.sh' }],
  };
  const staging = await planStaging(template, {
    bucket: BUCKET,
    prefix: 'web-20240102-000000-a1b2',
    templateDir: dir,
    vars: {},
    pwd: dir,
  });
  return { staging, target: { s3: new S3Client({ region: 'us-east-1' }), bucket: BUCKET } };
}

beforeEach(async () => {
  s3Mock.reset();
  bucket = new Map();
  printed = [];
  interrupt = undefined;
  s3Mock.on(PutObjectCommand).callsFake((input: { Key: string; Body: unknown }) => {
    bucket.set(input.Key, input.Body);
    return {};
  });
  s3Mock.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => {
    for (const { Key } of input.Delete.Objects) bucket.delete(Key);
    return {};
  });
  dir = await mkdtemp(join(tmpdir(), 'start-'));
  for (const name of ['cert.pem', 'key.pem', 'install.sh']) await writeFile(join(dir, name), name);
});

afterEach(async () => {
  s3Mock.reset();
  await rm(dir, { recursive: true, force: true });
});

describe('uploadThenStart', () => {
  it('plans without uploading, then uploads everything before it starts', async () => {
    // Prepare
    const p = await prepared();
    const seenAtStart: number[] = [];

    // Act
    expect(bucket.size).toBe(0);
    const { started, interrupted } = await uploadThenStart(
      p,
      async () => seenAtStart.push(bucket.size),
      hooks,
    );

    // Assess
    expect({ started, interrupted, seenAtStart }).toEqual({
      started: 1,
      interrupted: false,
      seenAtStart: [3],
    });
    expect(printed.filter((l) => l.startsWith('Uploaded '))).toHaveLength(3);
    expect(interrupt).toBeUndefined();
  });

  it('A start that fails after staging leaves nothing staged', async () => {
    // Prepare
    const p = await prepared();

    // Act
    const error = await uploadThenStart(
      p,
      async () => {
        throw new Error('the run could not start');
      },
      hooks,
    ).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toBe('the run could not start');
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(3);
    expect([...bucket.keys()]).toEqual([]);
    expect(printed.at(-1)).toBe('Removed the 3 staged file(s): the build did not start.');
  });

  it('never starts after an interrupt during the upload, and removes what it uploaded', async () => {
    // Prepare
    const p = await prepared();
    s3Mock.on(PutObjectCommand).callsFake((input: { Key: string; Body: unknown }) => {
      bucket.set(input.Key, input.Body);
      if (bucket.size === 2) interrupt?.();
      return {};
    });
    let starts = 0;

    // Act
    const error = await uploadThenStart(p, async () => (starts += 1), hooks).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StagingInterruptedError);
    expect((error as Error).message).toBe(
      'interrupted before the build started: removed the 2 staged file(s)',
    );
    expect(starts).toBe(0);
    expect([...bucket.keys()]).toEqual([]);
  });

  it('says when it was interrupted while the start ran, and discardStaged then removes everything', async () => {
    // Prepare
    const p = await prepared();

    // Act
    const result = await uploadThenStart(p, async () => interrupt?.(), hooks);
    const discarded = await discardStaged(p);

    // Assess
    expect(result.interrupted).toBe(true);
    expect(discarded.message).toBe('interrupted before the build started: removed the 3 staged file(s)');
    expect([...bucket.keys()]).toEqual([]);
  });
});
