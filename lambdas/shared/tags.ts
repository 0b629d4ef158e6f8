/**
 * The tags that tie a resource to this system, apart from the rest of the task runtime, so that template
 * validation (the CLI's `validate` among its users) loads no SDK client and no telemetry library.
 */
import { type BuildRetention, encodeRetentionPolicy } from './retention-policy.js';

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
   * With `skip_if_unchanged`: on an AMI (and each copy), the build's fingerprint (lambdas/check-unchanged), by
   * which a later build with nothing changed finds it instead of building.
   */
  fingerprint: 'ami-builder:fingerprint',
  /**
   * `failed` on an AMI whose `ami_test` failed with `on_failure: keep`: kept for inspection. Sweep Orphans
   * leaves it (the user deregisters it).
   */
  amiTest: 'ami-builder:ami-test',
  /** `test` on the instance launched from the new AMI to test it (`ami_test`); absent on the build instance. */
  role: 'ami-builder:role',
  /**
   * The image family, on an AMI and each copy: the images this stack built for the same template build. Retention
   * (`ami_retention`, the stack's `retention`) applies to a family.
   */
  family: 'ami-builder:family',
  /** On an AMI and each copy when the template sets `ami_retention`: its policy, for the daily retention run. */
  retention: 'ami-builder:retention',
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

/**
 * The tags that make an AMI (and each copy) a member of its family: `ami-builder:family`, and the template's
 * retention policy (`ami-builder:retention`) when it sets `ami_retention`.
 */
export function familyTags(config: {
  name: string;
  family?: string;
  retention?: BuildRetention;
}): { Key: string; Value: string }[] {
  const tags: { Key: string; Value: string }[] = [
    { Key: TagKeys.family, Value: config.family ?? config.name },
  ];
  if (config.retention?.source === 'template')
    tags.push({ Key: TagKeys.retention, Value: encodeRetentionPolicy(config.retention) });
  return tags;
}
