/**
 * skip_if_unchanged: what changes a build's fingerprint and what does not, how S3 content digests are taken, and
 * which AMIs count as "the same build, already made" in every target region.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DescribeImagesCommand, EC2Client, type Image } from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  buildFingerprint,
  type CheckUnchangedDeps,
  checkUnchanged,
  contentDigest,
} from '../../../lambdas/check-unchanged/check-unchanged.js';
import type { ShellProvisioner } from '../../../lambdas/shared/config.js';
import { AmiNameInUseError } from '../../../lambdas/shared/errors.js';
import { s3References } from '../../../lambdas/shared/fingerprint.js';
import { createClients, TagKeys } from '../../../lambdas/shared/runtime.js';
import type { BuildState, SourceInfo } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, EXECUTION_ID, makeBuildState } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const NOW = new Date('2026-06-01T00:00:00.000Z');
const logs: string[] = [];
const deps: CheckUnchangedDeps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client }),
  env: { stackName: 'AmiBuilder', adoptForeignImages: false },
  stagingRegion: 'us-east-1',
  clock: { now: () => NOW },
  log: (m) => logs.push(m),
};

const source: SourceInfo = {
  imageId: 'ami-0123456789abcdef0',
  name: 'base',
  ownerId: '111122223333',
  creationDate: '2023-05-01T10:00:00.000Z',
  tags: {},
  rootDeviceType: 'instance-store',
  architecture: 'x86_64',
  virtualizationType: 'paravirtual',
  accountId: '123456789012',
  rendered: { tags: {}, runTags: {} },
};

const s3Ref = (key: string) => ({
  kind: 's3' as const,
  bucket: 'staging-bucket',
  key,
  uri: `s3://staging-bucket/${key}`,
});

function shell(key: string, overrides: Partial<ShellProvisioner> = {}): ShellProvisioner {
  return {
    type: 'shell',
    index: 0,
    name: 'shell',
    scripts: [s3Ref(key)],
    environmentVars: [],
    executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
    inlineShebang: '/bin/sh -e',
    remoteFolder: '/tmp',
    validExitCodes: [0],
    maxRetries: 0,
    timeoutSeconds: 7200,
    pauseBeforeSeconds: 0,
    ...overrides,
  };
}

/** A build with one staged script, as a CLI run of the given execution stages it. */
function build(run: string, overrides: BuildStateOverrides = {}): BuildState {
  const { config, ...rest } = overrides;
  return makeBuildState({
    source,
    execution: { id: `${EXECUTION_ID}-${run}`, name: run },
    config: {
      skipIfUnchanged: true,
      amiName: `web-${run}`,
      fingerprintNames: { amiName: 'web-1000000000', bundlePrefix: 'image-1000000000' },
      bundle: { prefix: `image-${run}` },
      x509: { cert: s3Ref(`staging/${run}/files/c/cert.pem`), key: s3Ref(`staging/${run}/files/k/key.pem`) },
      provisioners: [shell(`staging/${run}/files/abc/install.sh`)],
      ...config,
    },
    ...rest,
  });
}

const sha = (text: string) => createHash('sha256').update(text).digest('base64');
// The Lambda runtime's Body is a Node stream: the digest only iterates it.
const body = (text: string) => Readable.from([Buffer.from(text)]);

/** Objects by key: their text; HeadObject gives S3's SHA-256 checksum for those in `checksummed`. */
function objects(files: Record<string, string>, checksummed: 'all' | 'none' = 'all') {
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const text = files[input.Key];
    if (text === undefined) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
    return checksummed === 'all' ? { ChecksumSHA256: sha(text), ChecksumType: 'FULL_OBJECT' } : {};
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => ({ Body: body(files[input.Key] ?? '') }));
  s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({
    Contents: Object.keys(files)
      .filter((k) => k.startsWith(input.Prefix))
      .map((Key) => ({ Key })),
  }));
}

/** The files a run named `run` staged: the same content under that run's own keys. */
const staged = (run: string, script = 'echo hi\n') => ({
  [`staging/${run}/files/abc/install.sh`]: script,
  [`staging/${run}/files/c/cert.pem`]: `CERT ${run}`,
  [`staging/${run}/files/k/key.pem`]: `KEY ${run}`,
});

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
  logs.length = 0;
});

describe('the fingerprint', () => {
  it('is the same for two runs at other times whose files were staged under other keys', async () => {
    // Prepare
    objects({ ...staged('run1'), ...staged('run2') });

    // Act
    const first = await buildFingerprint(build('run1'), deps);
    const second = await buildFingerprint(build('run2'), deps);

    // Assess
    expect(first).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(second).toBe(first);
  });

  it('changes with one byte of a script', async () => {
    // Prepare
    objects({ ...staged('run1'), ...staged('run2', 'echo hI\n') });

    // Act
    const first = await buildFingerprint(build('run1'), deps);
    const second = await buildFingerprint(build('run2'), deps);

    // Assess
    expect(second).not.toBe(first);
  });

  it('is the same whether S3 kept a SHA-256 checksum or the object is read', async () => {
    // Prepare
    objects(staged('run1'), 'all');
    const withChecksum = await buildFingerprint(build('run1'), deps);
    s3Mock.reset();
    objects(staged('run1'), 'none');

    // Act
    const read = await buildFingerprint(build('run1'), deps);

    // Assess
    expect(read).toBe(withChecksum);
    expect(s3Mock.commandCalls(GetObjectCommand).length).toBeGreaterThan(0);
  });

  it.each<[string, BuildStateOverrides]>([
    ['the resolved source AMI', { source: { ...source, imageId: 'ami-0fedcba9876543210' } }],
    ['the account (in the rendered bundle command)', { source: { ...source, accountId: '210987654321' } }],
    ['the instance type', { config: { instanceType: 'c3.large' } }],
    [
      'a user variable in ami_name',
      { config: { fingerprintNames: { amiName: 'api-1000000000', bundlePrefix: 'image-1000000000' } } },
    ],
    ['the bundle command', { config: { bundle: { volCommand: 'sudo ec2-bundle-vol -k {{.KeyPath}}' } } }],
    ['an ami_regions region', { config: { amiRegions: ['eu-west-1'] } }],
    ['the tags', { config: { tags: { team: 'web' } } }],
  ])('changes with %s', async (_what, overrides) => {
    // Prepare
    objects(staged('run1'));
    const base = await buildFingerprint(build('run1'), deps);
    const merged: BuildStateOverrides = {
      ...overrides,
      config: {
        ...overrides.config,
        bundle: { prefix: 'image-run1', ...overrides.config?.bundle },
      },
    };

    // Act
    const changed = await buildFingerprint(build('run1', merged), deps);

    // Assess
    expect(changed).not.toBe(base);
  });

  it('leaves out the X.509 certificate and key: rotating them rebuilds nothing', async () => {
    // Prepare
    const files = staged('run1');
    objects(files);
    const before = await buildFingerprint(build('run1'), deps);
    s3Mock.reset();
    objects({ ...files, 'staging/run1/files/k/key.pem': 'ANOTHER KEY' });

    // Act
    const after = await buildFingerprint(build('run1'), deps);

    // Assess
    expect(after).toBe(before);
    expect(s3References(build('run1').config).map((r) => r.key)).toEqual([
      'staging/run1/files/abc/install.sh',
    ]);
  });

  it('uses this run’s names when the fixed rendering is missing, so a timestamp in them never matches', async () => {
    // Prepare
    objects({ ...staged('run1'), ...staged('run2') });
    const noNames = (run: string) => {
      const b = build(run);
      delete b.config.fingerprintNames;
      return b;
    };

    // Act
    const first = await buildFingerprint(noNames('run1'), deps);
    const second = await buildFingerprint(noNames('run2'), deps);

    // Assess
    expect(second).not.toBe(first);
  });
});

describe('content digests', () => {
  it('marks a composite (multipart) checksum as such and never uses the ETag', async () => {
    // Prepare
    s3Mock.on(HeadObjectCommand).resolves({
      ChecksumSHA256: 'abc=-3',
      ChecksumType: 'COMPOSITE',
      ETag: '"d41d8cd98f00b204e9800998ecf8427e-3"',
    });

    // Act
    const digest = await contentDigest(new S3Client({ region: 'us-east-1' }), s3Ref('big.tar'));

    // Assess
    expect(digest).toEqual({ layout: 'file', name: 'big.tar', digest: 'sha256-composite:abc=-3' });
    expect(s3Mock.commandCalls(HeadObjectCommand)[0]?.args[0].input.ChecksumMode).toBe('ENABLED');
  });

  it('digests a folder by each object’s relative key and content, skipping folder markers', async () => {
    // Prepare
    objects({ 'roles/': '', 'roles/a/main.yml': 'a', 'roles/b/main.yml': 'b' });

    // Act
    const digest = await contentDigest(new S3Client({ region: 'us-east-1' }), s3Ref('roles/'));

    // Assess
    expect(digest).toEqual({
      layout: 'folder',
      objects: [
        ['a/main.yml', `sha256:${sha('a')}`],
        ['b/main.yml', `sha256:${sha('b')}`],
      ],
    });
  });

  it('takes a key that names no object for the folder under it, with its name', async () => {
    // Prepare
    objects({ 'x/site/index.html': 'hi' });

    // Act
    const digest = await contentDigest(new S3Client({ region: 'us-east-1' }), s3Ref('x/site'));

    // Assess
    expect(digest).toEqual({
      layout: 'folder',
      name: 'site',
      objects: [['index.html', `sha256:${sha('hi')}`]],
    });
  });
});

describe('checkUnchanged', () => {
  const tags = (run: string, value: string, extra: Record<string, string> = {}) =>
    Object.entries({
      [TagKeys.stack]: 'AmiBuilder',
      [TagKeys.execution]: `${EXECUTION_ID}-${run}`,
      [TagKeys.build]: 'amazon-instance',
      [TagKeys.finished]: 'true',
      [TagKeys.fingerprint]: value,
      ...extra,
    }).map(([Key, Value]) => ({ Key, Value }));
  const image = (id: string, run: string, value: string, more: Partial<Image> = {}): Image => ({
    ImageId: id,
    Name: `web-${run}`,
    State: 'available',
    CreationDate: `2026-05-0${run.slice(-1)}T00:00:00.000Z`,
    Tags: tags(run, value),
    ...more,
  });

  async function fingerprintOf(b: BuildState): Promise<string> {
    return buildFingerprint(b, deps);
  }

  it('reports the newest AMI with the fingerprint that has a copy in every ami_regions region', async () => {
    // Prepare
    objects({ ...staged('run3') });
    const b = build('run3', { config: { amiRegions: ['eu-west-1'] } });
    const value = await fingerprintOf(b);
    ec2Mock.on(DescribeImagesCommand).callsFake(async (input, getClient) => {
      const region = await getClient().config.region();
      expect(input.Filters).toEqual(
        expect.arrayContaining([
          { Name: `tag:${TagKeys.stack}`, Values: ['AmiBuilder'] },
          { Name: `tag:${TagKeys.fingerprint}`, Values: [value] },
          { Name: `tag:${TagKeys.finished}`, Values: ['true'] },
          { Name: 'state', Values: ['available'] },
        ]),
      );
      // run2 is newer in us-east-1 but was never copied: run1 is the build with an AMI in both regions.
      return region === 'us-east-1'
        ? { Images: [image('ami-1', 'run1', value), image('ami-2', 'run2', value)] }
        : { Images: [image('ami-1e', 'run1', value)] };
    });

    // Act
    const result = await checkUnchanged({ build: b, args: {} }, deps);

    // Assess
    expect(result).toEqual({
      value,
      unchanged: {
        image: { region: 'us-east-1', imageId: 'ami-1' },
        copies: [{ region: 'eu-west-1', imageId: 'ami-1e' }],
        executionId: `${EXECUTION_ID}-run1`,
        name: 'web-run1',
      },
    });
  });

  it('ignores another stack’s image, a deprecated one and one whose tag differs', async () => {
    // Prepare
    objects(staged('run3'));
    const b = build('run3');
    const value = await fingerprintOf(b);
    ec2Mock.on(DescribeImagesCommand).callsFake((input) =>
      input.Filters?.some((f: { Name: string }) => f.Name === 'name')
        ? { Images: [] }
        : {
            Images: [
              image('ami-other', 'run1', value, {
                Tags: tags('run1', value, { [TagKeys.stack]: 'OtherStack' }),
              }),
              image('ami-old', 'run1', value, { DeprecationTime: '2026-05-31T00:00:00.000Z' }),
              image('ami-diff', 'run1', 'v1:other'),
            ],
          },
    );

    // Act
    const result = await checkUnchanged({ build: b, args: {} }, deps);

    // Assess
    expect(result).toEqual({ value });
  });

  it('with nothing unchanged, fails when ami_name is taken (the check Prevalidate left to it)', async () => {
    // Prepare
    objects(staged('run3'));
    const b = build('run3', { config: { amiName: 'web-static' } });
    ec2Mock
      .on(DescribeImagesCommand)
      .callsFake((input) =>
        input.Filters?.some((f: { Name: string }) => f.Name === 'name')
          ? { Images: [{ ImageId: 'ami-taken', Name: 'web-static', Tags: [] }] }
          : { Images: [] },
      );

    // Act + Assess
    await expect(checkUnchanged({ build: b, args: {} }, deps)).rejects.toThrow(AmiNameInUseError);
  });

  it('with force_deregister and nothing unchanged, leaves the name to Force Deregister', async () => {
    // Prepare
    objects(staged('run3'));
    const b = build('run3', { config: { amiName: 'web-static', forceDeregister: true } });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });

    // Act
    const result = await checkUnchanged({ build: b, args: {} }, deps);

    // Assess
    expect(result.unchanged).toBeUndefined();
    expect(
      ec2Mock
        .commandCalls(DescribeImagesCommand)
        .some((c) => c.args[0].input.Filters?.some((f) => f.Name === 'name')),
    ).toBe(false);
  });
});
