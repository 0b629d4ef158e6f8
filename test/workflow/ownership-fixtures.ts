/** A same-name AMI built outside the stack (by Packer, say) and its bundle, for the ownership workflow tests. */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BUILD_REGION, type WorkflowHarness } from './harness.js';

export const FOREIGN_AMI_NAME = 'web-from-packer';
/** An allowed bundle bucket (`ami-builder-wf-*`) holding the foreign AMI's bundle. */
export const FOREIGN_BUCKET = 'ami-builder-wf-packer';
export const FOREIGN_KEYS = ['packer/web.manifest.xml', 'packer/web.part.0', 'packer/web.part.1'];

/**
 * Seeds an instance-store AMI named {@link FOREIGN_AMI_NAME}, owned by the account, without the stack's tag, with
 * its bundle in {@link FOREIGN_BUCKET}.
 * @returns the AMI's id
 */
export async function seedForeignAmi(h: WorkflowHarness): Promise<string> {
  await h.s3.send(new CreateBucketCommand({ Bucket: FOREIGN_BUCKET }));
  for (const key of FOREIGN_KEYS) {
    await h.s3.send(new PutObjectCommand({ Bucket: FOREIGN_BUCKET, Key: key, Body: 'packer bundle' }));
  }
  return h.emulator.seedImage({
    region: BUILD_REGION,
    name: FOREIGN_AMI_NAME,
    rootDeviceType: 'instance-store',
    imageLocation: `${FOREIGN_BUCKET}/packer/web.manifest.xml`,
    tags: { Team: 'web' },
  });
}
