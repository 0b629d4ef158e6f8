import { createHash } from 'node:crypto';

/**
 * Deterministic RFC 4122 version-4-shaped uuids. The n-th call (counting from 0) returns the first 16 bytes
 * of `sha256(`${seed}:${n}`)` with the version (4) and variant (10xx) bits set, as lowercase
 * `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
 *
 * Packer's `{{uuid}}` is random; a task that is retried or redriven must render the same names (key pair,
 * security group, …), so the workflow seeds the generator with something stable such as the execution id.
 */
export function seededUuid(seed: string): () => string {
  let n = 0;
  return () => {
    const bytes = createHash('sha256').update(`${seed}:${n}`, 'utf8').digest().subarray(0, 16);
    n += 1;
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}
