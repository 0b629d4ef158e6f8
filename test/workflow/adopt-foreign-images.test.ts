/**
 * With the stack setting `adoptForeignImages`, `force_deregister` may replace a same-name AMI the stack did not
 * build (teams migrating from Packer): the foreign AMI is deregistered and, with `force_delete_snapshot`, its
 * bundle deleted. Its own file: the handlers read the stack's environment once, at load.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { BUILD_REGION, basicExample, useWorkflowHarness } from './harness.js';
import { FOREIGN_AMI_NAME, FOREIGN_BUCKET, seedForeignAmi } from './ownership-fixtures.js';

const harness = useWorkflowHarness({ context: { adoptForeignImages: true } });

describe('a stack that adopts foreign images', () => {
  it('deregisters a same-name AMI it did not build, and deletes its bundle with force_delete_snapshot', async () => {
    // Prepare
    const h = harness();
    const foreignId = await seedForeignAmi(h);
    const template = {
      ...basicExample(h.x509),
      ami_name: FOREIGN_AMI_NAME,
      s3_bucket: 'ami-builder-wf-adopting',
      force_deregister: true,
      force_delete_snapshot: true,
    };

    // Act
    const result = await h.run(template, { label: 'adopt' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const named = (await h.images(BUILD_REGION)).filter((i) => i.Name === FOREIGN_AMI_NAME);
    expect(named.map((i) => i.ImageId)).not.toContain(foreignId);
    expect(named).toHaveLength(1);
    const objects = await h.s3.send(new ListObjectsV2Command({ Bucket: FOREIGN_BUCKET }));
    expect(objects.Contents ?? []).toEqual([]);
  });
});
