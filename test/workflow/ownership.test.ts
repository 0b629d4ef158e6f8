/**
 * A build touches only what its stack owns: `force_deregister` meets a same-name AMI the stack did not build,
 * and a rebuild with a fixed `bundle_prefix` replaces the stack's own AMI without deleting its fresh bundle.
 * (The same foreign AMI with `adoptForeignImages` on: adopt-foreign-images.test.ts.)
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { TagKeys } from '../../lambdas/shared/runtime.js';
import { ACCOUNT, BUILD_REGION, basicExample, enteredStates, useWorkflowHarness } from './harness.js';
import { FOREIGN_AMI_NAME, FOREIGN_BUCKET, FOREIGN_KEYS, seedForeignAmi } from './ownership-fixtures.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const NEW_BUCKET = 'ami-builder-wf-new';
const REBUILD_BUCKET = 'ami-builder-wf-rebuild';
const FIXED_PREFIX = 'web-latest';

describe('ownership', () => {
  it('fails in Prevalidate when force_deregister meets an AMI this stack did not build, creating nothing', async () => {
    // Prepare
    const h = harness();
    const foreignId = await seedForeignAmi(h);
    const bucketsBefore = await h.buckets();
    const template = {
      ...basicExample(h.x509),
      ami_name: FOREIGN_AMI_NAME,
      s3_bucket: NEW_BUCKET,
      force_deregister: true,
      force_delete_snapshot: true,
    };

    // Act
    const result = await h.run(template, { label: 'foreign' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ForeignImageError');
    expect(result.cause).toContain(
      `AMI ${foreignId} ('${FOREIGN_AMI_NAME}') in ${BUILD_REGION}, owner ${ACCOUNT}`,
    );
    expect(result.cause).toContain('-c adoptForeignImages=true');
    const failed = result.events.flatMap((e) => (e.type === 'StateFailed' && e.state ? [e.state.name] : []));
    expect(failed).toContain(StateNames.Prevalidate);
    const entered = enteredStates(result);
    expect(entered).not.toContain(StateNames.EnsureBundleBucket);
    expect(entered).not.toContain(StateNames.ForceDeregister);
    expect(await h.buckets()).toEqual(bucketsBefore);
    expect(await h.emulator.launches()).toEqual([]);
    expect(await h.leftovers()).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
    const images = await h.images(BUILD_REGION);
    expect(images.find((i) => i.ImageId === foreignId)).toMatchObject({
      State: 'available',
      Name: FOREIGN_AMI_NAME,
    });
    const objects = await h.s3.send(new ListObjectsV2Command({ Bucket: FOREIGN_BUCKET }));
    expect((objects.Contents ?? []).map((o) => o.Key).sort()).toEqual([...FOREIGN_KEYS].sort());
  });

  it('registers a rebuild with a fixed bundle_prefix from its own intact bundle, replacing its own earlier AMI', async () => {
    // Prepare: an earlier build of this stack registered the name from the same keys. The emulated instance runs
    // nothing, so the bundle this build "uploads" is the one at those keys: it must still be there afterwards.
    const h = harness();
    await h.s3.send(new CreateBucketCommand({ Bucket: REBUILD_BUCKET }));
    const manifest = `${FIXED_PREFIX}.manifest.xml`;
    const parts = [`${FIXED_PREFIX}.part.0`, `${FIXED_PREFIX}.part.1`];
    const staleOldPart = `${FIXED_PREFIX}.part.2`;
    const manifestXml =
      '<?xml version="1.0"?><manifest><image><name>web</name></image>' +
      `<parts count="2">${parts.map((p, i) => `<part index="${i}"><filename>${p}</filename></part>`).join('')}</parts></manifest>`;
    await h.s3.send(new PutObjectCommand({ Bucket: REBUILD_BUCKET, Key: manifest, Body: manifestXml }));
    for (const key of [...parts, staleOldPart]) {
      await h.s3.send(new PutObjectCommand({ Bucket: REBUILD_BUCKET, Key: key, Body: 'bundle part' }));
    }
    const oldId = await h.emulator.seedImage({
      region: BUILD_REGION,
      name: 'web-fixed',
      rootDeviceType: 'instance-store',
      imageLocation: `${REBUILD_BUCKET}/${manifest}`,
      tags: { [TagKeys.stack]: h.stack.stackName },
    });
    const template = {
      ...basicExample(h.x509),
      ami_name: 'web-fixed',
      s3_bucket: REBUILD_BUCKET,
      bundle_prefix: FIXED_PREFIX,
      force_deregister: true,
      force_delete_snapshot: true,
    };

    // Act
    const result = await h.run(template, { label: 'rebuild' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const images = (await h.images(BUILD_REGION)).filter((i) => i.Name === 'web-fixed');
    expect(images).toHaveLength(1);
    expect(images[0]?.ImageId).not.toBe(oldId);
    expect(images[0]?.ImageLocation).toBe(`${REBUILD_BUCKET}/${manifest}`);
    // The registered manifest and every part it lists are there; nothing else is (the stale part is gone). In
    // sandbox mode the stand-in AMI tools uploaded a new bundle at the same keys; simulated, the seeded one stays.
    const registered = await h.s3.send(new GetObjectCommand({ Bucket: REBUILD_BUCKET, Key: manifest }));
    const listed = [
      ...((await registered.Body?.transformToString()) ?? '').matchAll(/<filename>([^<]+)<\/filename>/g),
    ].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(0);
    if (h.emulator.mode !== 'sandbox') expect(listed).toEqual(parts);
    const objects = await h.s3.send(new ListObjectsV2Command({ Bucket: REBUILD_BUCKET }));
    expect((objects.Contents ?? []).map((o) => o.Key).sort()).toEqual([manifest, ...listed].sort());
  });

  for (const existing of [
    { what: 'a SecureString', Type: 'SecureString' as const, Value: 'not-an-ami-secret' },
    { what: 'a String this stack did not create', Type: 'String' as const, Value: 'team-owned-value' },
  ]) {
    it(`refuses to publish the AMI id over ${existing.what}, leaving it unchanged`, async () => {
      // Prepare
      const h = harness();
      const name = '/ami-builder/ami-ids/workflow-test/taken';
      await h.ssm().send(new PutParameterCommand({ Name: name, Type: existing.Type, Value: existing.Value }));
      const template = { ...basicExample(h.x509), ami_id_parameter: name };

      // Act
      const result = await h.run(template, { label: 'publish-refused' });

      // Assess
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('AmiParameterNotOwnedError');
      expect(result.cause).toContain(
        `ami_id_parameter "${name}" in ${BUILD_REGION} already exists as a ${existing.Type}`,
      );
      expect(result.cause).not.toContain(existing.Value);
      const after = await h.ssm().send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      expect(after.Parameter).toMatchObject({ Type: existing.Type, Value: existing.Value, Version: 1 });
    });
  }
});
