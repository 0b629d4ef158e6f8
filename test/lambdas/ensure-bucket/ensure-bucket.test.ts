import {
  CreateBucketCommand,
  GetBucketLocationCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bucketRegion,
  ensureBundleBucket,
  manifestLocation,
  matchesBucketPattern,
} from '../../../lambdas/ensure-bucket/ensure-bucket.js';
import { BucketNotAllowedError, BundleBucketError } from '../../../lambdas/shared/errors.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const s3Mock = mockClient(S3Client);
const deps = { clients: createClients({ s3: S3Client }), env: makeEnvironment() };

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  return { build: makeBuildState(overrides), args: {} };
}

describe('ensureBundleBucket', () => {
  beforeEach(() => {
    s3Mock.reset();
  });
  afterEach(() => {
    s3Mock.reset();
  });

  it('accepts an existing bucket in the build region without changing it', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'eu-west-2' });

    // Act
    const result = await ensureBundleBucket(event({ config: { region: 'eu-west-2' } }), deps);

    // Assess
    expect(result).toEqual({
      name: 'my-bundles',
      keyPrefix: '',
      region: 'eu-west-2',
      manifestLocation: 'my-bundles/image-1704153600.manifest.xml',
      created: false,
    });
    expect(s3Mock.commandCalls(GetBucketLocationCommand)[0]?.args[0].input).toEqual({ Bucket: 'my-bundles' });
    expect(s3Mock.commandCalls(CreateBucketCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
  });

  it('treats an empty location constraint as us-east-1', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).resolves({});

    // Act
    const result = await ensureBundleBucket(event({ config: { region: 'us-east-1' } }), deps);

    // Assess
    expect(result.region).toBe('us-east-1');
  });

  it('puts the key prefix of s3_bucket into the manifest location', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).resolves({});

    // Act
    const result = await ensureBundleBucket(
      event({ config: { bundle: { keyPrefix: 'amis/base', prefix: 'image-42' } } }),
      deps,
    );

    // Assess
    expect(result.keyPrefix).toBe('amis/base');
    expect(result.manifestLocation).toBe('my-bundles/amis/base/image-42.manifest.xml');
  });

  it('creates a missing bucket in the build region with public access blocked and ACLs enabled', async () => {
    // Prepare
    s3Mock
      .on(GetBucketLocationCommand)
      .rejects(awsError('NoSuchBucket', 'The specified bucket does not exist', 404));
    s3Mock.on(CreateBucketCommand).resolves({});
    s3Mock.on(PutPublicAccessBlockCommand).resolves({});

    // Act
    const result = await ensureBundleBucket(
      event({ config: { region: 'eu-central-1', bundle: { bucket: 'team-bundles' } } }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ name: 'team-bundles', region: 'eu-central-1', created: true });
    const create = s3Mock.commandCalls(CreateBucketCommand);
    expect(create).toHaveLength(1);
    expect(create[0]?.args[0].input).toEqual({
      Bucket: 'team-bundles',
      ObjectOwnership: 'BucketOwnerPreferred',
      CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' },
    });
    expect(await regionOf(create[0]!)).toBe('eu-central-1');
    expect(s3Mock.commandCalls(PutPublicAccessBlockCommand)[0]?.args[0].input).toEqual({
      Bucket: 'team-bundles',
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  it('creates a bucket in us-east-1 without a location constraint', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('NoSuchBucket', 'no bucket', 404));
    s3Mock.on(CreateBucketCommand).resolves({});

    // Act
    await ensureBundleBucket(event({ config: { region: 'us-east-1' } }), deps);

    // Assess
    expect(s3Mock.commandCalls(CreateBucketCommand)[0]?.args[0].input).toEqual({
      Bucket: 'my-bundles',
      ObjectOwnership: 'BucketOwnerPreferred',
    });
  });

  it('accepts a bucket that another build created meanwhile, after checking its region again', async () => {
    // Prepare
    s3Mock
      .on(GetBucketLocationCommand)
      .rejectsOnce(awsError('NoSuchBucket', 'no bucket', 404))
      .resolves({ LocationConstraint: 'eu-west-1' });
    s3Mock.on(CreateBucketCommand).rejects(awsError('BucketAlreadyOwnedByYou', 'already yours', 409));

    // Act
    const result = await ensureBundleBucket(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result).toMatchObject({ region: 'eu-west-1', created: false });
    expect(s3Mock.commandCalls(GetBucketLocationCommand)).toHaveLength(2);
    expect(s3Mock.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
  });

  it('returns the same result when invoked again after creating the bucket', async () => {
    // Prepare: the first invocation creates the bucket, the retry finds it.
    s3Mock
      .on(GetBucketLocationCommand)
      .rejectsOnce(awsError('NoSuchBucket', 'no bucket', 404))
      .resolves({ LocationConstraint: 'eu-west-1' });
    s3Mock.on(CreateBucketCommand).resolves({});
    const e = event({ config: { region: 'eu-west-1' } });

    // Act
    const first = await ensureBundleBucket(e, deps);
    const second = await ensureBundleBucket(e, deps);

    // Assess
    expect(second).toEqual({ ...first, created: false });
    expect(s3Mock.commandCalls(CreateBucketCommand)).toHaveLength(1);
  });

  it('fails when the bucket name matches no allowed pattern', async () => {
    // Act
    const result = ensureBundleBucket(event({ config: { bundle: { bucket: 'other-bucket' } } }), deps);

    // Assess
    await expect(result).rejects.toThrow(BucketNotAllowedError);
    await expect(result).rejects.toThrow(/"other-bucket".*my-bundles, team-\*/);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fails when no bucket patterns are configured', async () => {
    // Act
    const result = ensureBundleBucket(event(), { ...deps, env: { allowedBucketPatterns: [] } });

    // Assess
    await expect(result).rejects.toThrow(/none \(no patterns are configured\)/);
  });

  it('fails when the bucket is in another region, naming both regions and the InvalidManifest consequence', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'EU' });

    // Act
    const result = ensureBundleBucket(event({ config: { region: 'us-west-2' } }), deps);

    // Assess
    await expect(result).rejects.toThrow(BundleBucketError);
    await expect(result).rejects.toThrow(
      /"my-bundles" is in eu-west-1, but the build runs in us-west-2.*InvalidManifest/,
    );
  });

  it('fails when S3 redirects to the bucket’s region', async () => {
    // Prepare
    const redirect = Object.assign(awsError('PermanentRedirect', 'use the right endpoint', 301), {
      Region: 'ap-southeast-2',
    });
    s3Mock.on(GetBucketLocationCommand).rejects(redirect);

    // Act
    const result = ensureBundleBucket(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(/is in ap-southeast-2, but the build runs in us-east-1/);
  });

  it('fails when the bucket belongs to another account', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('AccessDenied', 'Access Denied', 403));

    // Act
    const result = ensureBundleBucket(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(BundleBucketError);
    await expect(result).rejects.toThrow(/belongs to another account or is not accessible/);
  });

  it('fails when the name is taken by someone else at creation', async () => {
    // Prepare
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('NoSuchBucket', 'no bucket', 404));
    s3Mock.on(CreateBucketCommand).rejects(awsError('BucketAlreadyExists', 'taken', 409));

    // Act
    const result = ensureBundleBucket(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(BundleBucketError);
    await expect(result).rejects.toThrow(/owned by someone else/);
  });

  it('fails when another build created the bucket in its own region meanwhile', async () => {
    // Prepare
    s3Mock
      .on(GetBucketLocationCommand)
      .rejectsOnce(awsError('NoSuchBucket', 'no bucket', 404))
      .resolves({ LocationConstraint: 'us-west-2' });
    s3Mock.on(CreateBucketCommand).rejects(awsError('BucketAlreadyOwnedByYou', 'yours', 409));

    // Act
    const result = ensureBundleBucket(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    await expect(result).rejects.toThrow(/is in us-west-2, but the build runs in eu-west-1/);
  });

  it('passes throttling through untouched so that the state machine retries it', async () => {
    // Prepare
    const throttled = awsError('SlowDown', 'slow down', 503);
    s3Mock.on(GetBucketLocationCommand).rejects(throttled);

    // Act
    const result = ensureBundleBucket(event(), deps);

    // Assess
    await expect(result).rejects.toBe(throttled);
  });
});

describe('bucket helpers', () => {
  it('matches glob patterns on the whole name', () => {
    expect(matchesBucketPattern('team-a-bundles', 'team-*')).toBe(true);
    expect(matchesBucketPattern('my-team-a', 'team-*')).toBe(false);
    expect(matchesBucketPattern('a.b', 'a.b')).toBe(true);
    expect(matchesBucketPattern('axb', 'a.b')).toBe(false);
    expect(matchesBucketPattern('anything', '*')).toBe(true);
  });

  it('maps location constraints to regions', () => {
    expect(bucketRegion(undefined)).toBe('us-east-1');
    expect(bucketRegion('')).toBe('us-east-1');
    expect(bucketRegion('EU')).toBe('eu-west-1');
    expect(bucketRegion('ap-south-1')).toBe('ap-south-1');
  });

  it('builds the manifest location with and without a key prefix', () => {
    expect(manifestLocation('b', '', 'image-1')).toBe('b/image-1.manifest.xml');
    expect(manifestLocation('b', 'p/q', 'image-1')).toBe('b/p/q/image-1.manifest.xml');
  });
});
