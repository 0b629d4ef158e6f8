/**
 * The tags that tie a resource to this system, apart from the rest of the task runtime, so that template
 * validation (the CLI's `validate` among its users) loads no SDK client and no telemetry library.
 */

/** Tag keys that tie a resource to this system. IAM conditions in infra use the same keys. */
export const TagKeys = {
  stack: 'ami-builder:stack',
  execution: 'ami-builder:execution',
  build: 'ami-builder:build',
  /** `keep` when `on_error: abort` asked to keep the resource for debugging. */
  onError: 'ami-builder:on-error',
  /**
   * `true` on an AMI (and each copy) once Finish AMI tagged it: the image went through every step of its region.
   * Sweep Orphans deregisters only images of failed executions that lack it.
   */
  finished: 'ami-builder:finished',
  /**
   * On a resource a resumed build adopted: the ARN of the failed execution it was kept by (its
   * `ami-builder:execution` now names the resuming execution).
   */
  resumedFrom: 'ami-builder:resumed-from',
} as const;

/** The tags every resource a build creates carries. */
export function ownershipTags(
  env: { stackName: string },
  executionId: string,
  buildName: string,
  onError: 'cleanup' | 'abort' | 'run-cleanup-provisioner' = 'cleanup',
): { Key: string; Value: string }[] {
  return [
    { Key: TagKeys.stack, Value: env.stackName },
    { Key: TagKeys.execution, Value: executionId },
    { Key: TagKeys.build, Value: buildName },
    { Key: TagKeys.onError, Value: onError === 'cleanup' ? 'cleanup' : 'keep' },
  ];
}
