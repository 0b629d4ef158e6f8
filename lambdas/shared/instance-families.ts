/**
 * Instance-type facts the build needs before it launches anything. Sources: the facts file
 * (`aws-and-tooling-facts.md`, "Instance-store AMIs") and Packer's run config
 * (`enable_unlimited_credits` regex `^t(:?2|3a?|4g)\.`).
 */

/**
 * Families on which an instance whose root device is instance store can be launched. A build from an
 * instance-store source AMI must use one of them.
 */
export const INSTANCE_STORE_ROOT_FAMILIES = ['c1', 'c3', 'd2', 'i2', 'm1', 'm2', 'm3', 'r3', 'x1'] as const;

/** Burstable families that take a CreditSpecification (`standard`, or `unlimited` with enable_unlimited_credits). */
export const BURSTABLE_FAMILIES = ['t2', 't3', 't3a', 't4g'] as const;

/** The family of an instance type: `m3.medium` → `m3`, `x1e.xlarge` → `x1e`. Lower case. */
export function instanceFamily(instanceType: string): string {
  const dot = instanceType.indexOf('.');
  return (dot === -1 ? instanceType : instanceType.slice(0, dot)).toLowerCase();
}

/**
 * True when the type can boot an instance-store root device. The family must match exactly: AWS lists X1, not
 * X1e, so `x1e.*` is refused rather than guessed at.
 */
export function supportsInstanceStoreRoot(instanceType: string): boolean {
  return (INSTANCE_STORE_ROOT_FAMILIES as readonly string[]).includes(instanceFamily(instanceType));
}

/** True for t2 / t3 / t3a / t4g, the types Packer sends a CreditSpecification for. */
export function isBurstable(instanceType: string): boolean {
  return (BURSTABLE_FAMILIES as readonly string[]).includes(instanceFamily(instanceType));
}
