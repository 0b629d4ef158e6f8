/** Listing a prefix of an S3 bucket, page by page. */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';

/** Every key under `prefix` in `bucket`, in S3's order. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) keys.push(object.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/**
 * The keys of the files under `prefix`, in S3's order: zero-byte "folder" markers, which consoles create, are not
 * files.
 */
export async function listFileKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listKeys(s3, bucket, prefix)).filter((key) => !key.endsWith('/'));
}
