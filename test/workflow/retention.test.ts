/**
 * Retention (issue 12.1), offline: three builds of one family with `keep_latest: 2` leave the two newest AMIs
 * and their bundles. Another stack's image, an image without the ownership tags, a parameter's image, an image a
 * running instance uses and one a launch template's default version names all survive; a dry run changes
 * nothing; a failure of retention is reported with the build, which keeps its AMI. The tasks run with their own
 * least-privilege roles.
 */
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { applyStackRetention } from '../../lambdas/apply-retention/apply-retention.js';
import { TagKeys } from '../../lambdas/shared/runtime.js';
import { BUILD_REGION, basicExample, enteredStates, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const BUCKET = 'ami-builder-wf-retention';
const FAMILY = 'web';
const PARAMETER = '/ami-builder/ami-ids/web/pinned';

/** Puts a bundle (manifest and two parts) at `<prefix>` in the bucket. */
async function seedBundle(s3: S3Client, prefix: string): Promise<void> {
  const parts = [`${prefix}.part.0`, `${prefix}.part.1`];
  const manifest =
    '<?xml version="1.0"?><manifest><image><name>web</name></image>' +
    `<parts count="2">${parts.map((p, i) => `<part index="${i}"><filename>${p}</filename></part>`).join('')}</parts></manifest>`;
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}.manifest.xml`, Body: manifest }));
  for (const key of parts) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'part' }));
}

async function bundleKeys(s3: S3Client): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
}

const keysOf = (prefix: string) => [`${prefix}.manifest.xml`, `${prefix}.part.0`, `${prefix}.part.1`];

describe('retention', () => {
  it('keeps the two newest builds of the family and everything it must not touch; a dry run changes nothing', async () => {
    // Prepare: older images of the family: one a parameter points to, one a running instance uses, one a launch
    // template's default version names, one nothing protects; another stack's and an untagged image of the same
    // family name. Each with its bundle.
    const h = harness();
    await h.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const stackName = h.stack.stackName;
    const seeded: Record<string, string> = {};
    const old = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const seeds: [string, Record<string, string>, number][] = [
      ['pinned', { [TagKeys.stack]: stackName }, 40],
      ['running', { [TagKeys.stack]: stackName }, 39],
      ['launch-template', { [TagKeys.stack]: stackName }, 38],
      ['plain', { [TagKeys.stack]: stackName }, 37],
      ['plain-older', { [TagKeys.stack]: stackName }, 41],
      ['other-stack', { [TagKeys.stack]: 'SomeOtherStack' }, 36],
      ['untagged', {}, 35],
    ];
    for (const [name, tags, days] of seeds) {
      await seedBundle(h.s3, `old-${name}`);
      seeded[name] = await h.emulator.seedImage({
        region: BUILD_REGION,
        name: `web old ${name}`,
        rootDeviceType: 'instance-store',
        imageLocation: `${BUCKET}/old-${name}.manifest.xml`,
        creationDate: old(days),
        tags:
          name === 'untagged'
            ? {}
            : {
                ...tags,
                [TagKeys.family]: FAMILY,
                [TagKeys.finished]: 'true',
                [TagKeys.execution]: `arn:aws:states:us-east-1:123456789012:execution:x:${name}`,
              },
      });
    }
    await h
      .ssm()
      .send(new PutParameterCommand({ Name: PARAMETER, Type: 'String', Value: seeded.pinned as string }));
    const admin = new EC2Client({ endpoint: h.emulator.endpoint, region: BUILD_REGION, maxAttempts: 1 });
    const launched = await admin.send(
      new RunInstancesCommand({
        ImageId: seeded.running,
        InstanceType: 'm1.small',
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const instanceId = launched.Instances?.[0]?.InstanceId;
    await admin.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web-servers',
        LaunchTemplateData: { ImageId: seeded['launch-template'], InstanceType: 'm1.small' },
      }),
    );
    const template = (n: number) => ({
      ...basicExample(h.x509),
      ami_name: 'web {{uuid}}',
      s3_bucket: BUCKET,
      bundle_prefix: `web-${n}`,
      ami_retention: { keep_latest: 2, family: FAMILY },
    });

    // Act: build 1, with retention failing (it cannot tell which images launch templates use); builds 2 and 3.
    await h.emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'DescribeLaunchTemplateVersions',
      error: 'permanent',
      code: 'UnauthorizedOperation',
      count: 1,
    });
    const results = [];
    const images: Record<number, string> = {};
    for (const n of [1, 2, 3]) {
      await seedBundle(h.s3, `web-${n}`);
      const result = await h.run(template(n), { label: `retention-${n}` });
      results.push(result);
      expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
        status: 'SUCCEEDED',
        error: undefined,
        cause: undefined,
      });
      images[n] = result.output?.builds?.[0]?.artifacts?.[BUILD_REGION] as string;
      if (n === 1) {
        // A dry run of the stack-wide retention (the daily run, ami-builder retention --dry-run): nothing changes.
        const before = { images: await h.images(BUILD_REGION), keys: await bundleKeys(h.s3) };
        const dry = await applyStackRetention(
          { dryRun: true, regions: [BUILD_REGION] },
          {
            clients: {
              ec2: (region) => new EC2Client({ endpoint: h.emulator.endpoint, region, maxAttempts: 1 }),
              s3: () => h.s3,
              ssm: (region) => new SSMClient({ endpoint: h.emulator.endpoint, region, maxAttempts: 1 }),
            },
            env: { stackName, amiParameterPrefix: '/ami-builder/ami-ids/' },
            clock: { now: () => new Date() },
            homeRegion: BUILD_REGION,
            log: () => undefined,
          },
        );
        const family = dry.families.find((f) => f.family === FAMILY);
        expect(family?.policy).toMatchObject({ keepLatest: 2, source: 'tag' });
        expect(family?.actions.map((a) => [a.imageId, a.action]).sort()).toEqual(
          [
            [seeded.pinned, 'kept'],
            [seeded.running, 'kept'],
            [seeded['launch-template'], 'kept'],
            [seeded['plain-older'], 'would deregister'],
          ].sort(),
        );
        expect(await h.images(BUILD_REGION)).toEqual(before.images);
        expect(await bundleKeys(h.s3)).toEqual(before.keys);
      }
    }

    // Assess: build 1's retention failed, and the build kept its AMI and reported the error.
    const first = results[0]?.output?.builds?.[0];
    expect(first?.status).toBe('succeeded');
    expect(first?.retention?.error?.Cause).toContain('The request failed (injected fault).');
    expect(first?.warnings.join('\n')).toContain(`retention of family ${FAMILY} failed`);
    expect(enteredStates(results[0] as NonNullable<(typeof results)[0]>)).toContain(
      StateNames.ApplyRetention,
    );

    // Build 2's retention retired the two unprotected old images; build 3's retired build 1, with their bundles.
    const second = results[1]?.output?.builds?.[0];
    expect(
      (second?.retention?.actions ?? [])
        .filter((a) => a.action === 'deregistered')
        .map((a) => a.imageId)
        .sort(),
    ).toEqual([seeded.plain, seeded['plain-older']].sort());
    const last = results[2]?.output?.builds?.[0];
    const actions = (last?.retention?.actions ?? []).map((a) => [a.imageId, a.action, a.reason]);
    expect(actions.map(([id, action]) => [id, action]).sort()).toEqual(
      [
        [images[1], 'deregistered'],
        [seeded.pinned, 'kept'],
        [seeded.running, 'kept'],
        [seeded['launch-template'], 'kept'],
      ].sort(),
    );
    const reasons = Object.fromEntries(actions.map(([id, , reason]) => [id, reason]));
    expect(reasons[seeded.pinned as string]).toContain(`the parameter ${PARAMETER} points to it`);
    expect(reasons[seeded.running as string]).toContain(`instance ${instanceId}`);
    expect(reasons[seeded['launch-template'] as string]).toContain('launch template web-servers');

    const remaining = (await h.ec2().send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.map(
      (i) => i.ImageId,
    );
    for (const kept of [
      images[2],
      images[3],
      seeded.pinned,
      seeded.running,
      seeded['launch-template'],
      seeded['other-stack'],
      seeded.untagged,
    ]) {
      expect(remaining).toContain(kept);
    }
    expect(remaining).not.toContain(images[1]);
    expect(remaining).not.toContain(seeded.plain);
    expect(remaining).not.toContain(seeded['plain-older']);
    // The builds' own bundles (sandbox: what the stand-in AMI tools uploaded at the seeded keys): build 1's is
    // gone, the others are whole; of the old images', only the retired one's is gone.
    const keys = await bundleKeys(h.s3);
    expect(keys.filter((k) => k.startsWith('web-1.'))).toEqual([]);
    for (const n of [2, 3]) expect(keys).toContain(`web-${n}.manifest.xml`);
    expect(keys.filter((k) => k.startsWith('old-'))).toEqual(
      [
        ...keysOf('old-pinned'),
        ...keysOf('old-running'),
        ...keysOf('old-launch-template'),
        ...keysOf('old-other-stack'),
        ...keysOf('old-untagged'),
      ].sort(),
    );
  });
});
