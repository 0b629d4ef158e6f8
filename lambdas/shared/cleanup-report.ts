/**
 * The {@link CleanupReport} that the cleanup tasks build up (Terminate Instance, Delete Temporary Resources,
 * Report Build, Abort Cleanup) and the texts that tell a person what was kept and how to remove it. Every
 * `kept` entry names the resource and the region, and says why it is still there and which AWS CLI command
 * removes it, because the execution view is where a person learns that something was left behind.
 */
import * as z from 'zod/mini';
import './zod-english.js';
import { InstanceRolePolicyNames } from './instance-role.js';
import type { CleanupReport, LeakedResource } from './state.js';

/**
 * The args of Terminate Instance and Delete Temporary Resources: `success` at the end of the build, `failure`
 * on the Catch path (where `on_error: abort` keeps the instance and the security group).
 */
export const cleanupArgsSchema = z.object({
  reason: z.enum(['success', 'failure']),
  /**
   * What a security group still in use (`DependencyViolation`) gives: `retry` throws SecurityGroupInUseError
   * for the state's Retry; `report` (Finish Cleanup, after those retries) reports the group as left behind.
   * @default 'retry'
   */
  groupInUse: z.optional(z.enum(['retry', 'report'])),
});
export type CleanupArgs = z.infer<typeof cleanupArgsSchema>;

export type KeptResource = CleanupReport['kept'][number];

/** A report in which nothing was done. */
export function emptyCleanupReport(): CleanupReport {
  return {
    terminatedInstances: [],
    deletedSecurityGroups: [],
    deletedStagedObjects: 0,
    deregisteredImages: [],
    kept: [],
  };
}

const union = (a: string[], b: string[]): string[] => [...new Set([...a, ...b])];

/**
 * Merges reports in order: id lists are united (a retried task that reports the same id again does not
 * duplicate it), staged-object counts add up, and `kept` entries are united by resource and reason.
 */
export function mergeCleanupReports(...reports: (CleanupReport | undefined)[]): CleanupReport {
  const merged = emptyCleanupReport();
  for (const report of reports) {
    if (report === undefined) continue;
    merged.terminatedInstances = union(merged.terminatedInstances, report.terminatedInstances ?? []);
    merged.deletedSecurityGroups = union(merged.deletedSecurityGroups, report.deletedSecurityGroups ?? []);
    merged.deletedStagedObjects += report.deletedStagedObjects ?? 0;
    merged.deregisteredImages = union(merged.deregisteredImages, report.deregisteredImages ?? []);
    const roles = union(merged.deletedInstanceRoles ?? [], report.deletedInstanceRoles ?? []);
    if (roles.length > 0) merged.deletedInstanceRoles = roles;
    for (const entry of report.kept ?? []) {
      const seen = merged.kept.some((k) => k.resource === entry.resource && k.reason === entry.reason);
      if (!seen) merged.kept.push(entry);
    }
    // One entry per resource, the latest report's: a later attempt knows best why it is still there.
    for (const entry of report.leaked ?? []) {
      const leaked = (merged.leaked ?? []).filter((l) => !sameResource(l, entry));
      merged.leaked = [...leaked, entry];
    }
    for (const entry of report.rolledBackParameters ?? []) {
      const rolledBack = merged.rolledBackParameters ?? [];
      if (!rolledBack.some((r) => r.name === entry.name && r.region === entry.region)) {
        merged.rolledBackParameters = [...rolledBack, entry];
      }
    }
  }
  // A resource removed after all (a later attempt succeeded) is no longer left behind.
  if (merged.leaked !== undefined) {
    const removed = new Set([
      ...merged.terminatedInstances,
      ...merged.deletedSecurityGroups,
      ...(merged.deletedInstanceRoles ?? []),
    ]);
    const leaked = merged.leaked.filter((l) => !removed.has(l.id));
    if (leaked.length > 0) merged.leaked = leaked;
    else delete merged.leaked;
  }
  return merged;
}

const sameResource = (a: LeakedResource, b: LeakedResource): boolean =>
  a.type === b.type && a.id === b.id && a.region === b.region;

const ON_ERROR_ABORT = 'on_error is abort: kept for debugging';

/** Why a failed build kept its instance and security group, in the words of its `on_error`. */
export function onErrorReason(onError: string): string {
  return `on_error is ${onError}: kept for debugging`;
}

/** The build instance, kept because `on_error` is `abort` (Packer's `-on-error=abort`). */
export function keptInstance(region: string, instanceId: string, why: string = ON_ERROR_ABORT): KeptResource {
  return {
    resource: `instance ${instanceId} (${region})`,
    reason: `${why}; terminate it with: aws ec2 terminate-instances --region ${region} --instance-ids ${instanceId}`,
  };
}

/** The temporary security group, kept because `on_error` is `abort` or because it is still in use. */
export function keptSecurityGroup(
  region: string,
  groupId: string,
  why: string = ON_ERROR_ABORT,
): KeptResource {
  return {
    resource: `security group ${groupId} (${region})`,
    reason:
      `${why}; delete it once its instance is terminated with: ` +
      `aws ec2 delete-security-group --region ${region} --group-id ${groupId}`,
  };
}

/** The build's temporary instance role and its instance profile (IAM is global: no region). */
export function keptInstanceRole(roleName: string, path: string, why: string = ON_ERROR_ABORT): KeptResource {
  return {
    resource: `instance role and profile ${path}${roleName} (IAM)`,
    reason:
      `${why}; once the instance is terminated, delete them with: ` +
      `aws iam remove-role-from-instance-profile --instance-profile-name ${roleName} --role-name ${roleName} && ` +
      `aws iam delete-instance-profile --instance-profile-name ${roleName} && ` +
      `aws iam delete-role-policy --role-name ${roleName} --policy-name ${InstanceRolePolicyNames.build} ` +
      `(and ${InstanceRolePolicyNames.template} if listed by aws iam list-role-policies) && ` +
      `aws iam delete-role --role-name ${roleName}`,
  };
}

/**
 * An AMI a failed or stopped build registered or copied. Packer never deregisters a registered AMI
 * (reference §1.3), and neither do we: the user decides.
 */
export function keptImage(region: string, imageId: string, why: string): KeptResource {
  return {
    resource: `AMI ${imageId} (${region})`,
    reason:
      `${why}; registered AMIs are kept, as Packer keeps them; remove it with: ` +
      `aws ec2 deregister-image --region ${region} --image-id ${imageId}`,
  };
}

/** The build instance, which TerminateInstances did not terminate. */
export function leakedInstance(region: string, instanceId: string, reason: string): LeakedResource {
  return {
    type: 'instance',
    id: instanceId,
    region,
    reason,
    hint: `aws ec2 terminate-instances --region ${region} --instance-ids ${instanceId}`,
  };
}

/** The temporary security group, which could not be deleted. */
export function leakedSecurityGroup(region: string, groupId: string, reason: string): LeakedResource {
  return {
    type: 'security group',
    id: groupId,
    region,
    reason,
    hint: `once no instance uses it: aws ec2 delete-security-group --region ${region} --group-id ${groupId}`,
  };
}

/** The temporary instance role and its profile (IAM is global). */
export function leakedInstanceRole(roleName: string, reason: string): LeakedResource {
  return {
    type: 'instance role',
    id: roleName,
    region: 'global',
    reason,
    hint:
      `aws iam remove-role-from-instance-profile --instance-profile-name ${roleName} --role-name ${roleName}; ` +
      `aws iam delete-instance-profile --instance-profile-name ${roleName}; ` +
      `aws iam delete-role-policy --role-name ${roleName} --policy-name ${InstanceRolePolicyNames.build} ` +
      `(and ${InstanceRolePolicyNames.template} if aws iam list-role-policies lists it); ` +
      `aws iam delete-role --role-name ${roleName}`,
  };
}

/** The build's staged objects (copies of its files, X.509 key included), which could not be deleted. */
export function leakedStagedObjects(
  region: string,
  bucket: string,
  prefix: string,
  reason: string,
): LeakedResource {
  return {
    type: 'staged objects',
    id: `s3://${bucket}/${prefix}`,
    region,
    reason,
    hint: `aws s3 rm --region ${region} --recursive s3://${bucket}/${prefix}`,
  };
}

/** A failed build's `ami_id_parameter`, still naming its AMI because the roll-back failed. */
export function leakedAmiIdParameter(
  region: string,
  name: string,
  reason: string,
  previous: string | undefined,
): LeakedResource {
  return {
    type: 'AMI id parameter',
    id: name,
    region,
    reason,
    hint:
      previous === undefined
        ? `aws ssm delete-parameter --region ${region} --name ${name}`
        : `aws ssm put-parameter --region ${region} --name ${name} --type String --data-type aws:ec2:image ` +
          `--overwrite --value ${previous}`,
  };
}

/** How a failure's cause (Summarize Builds) starts the line of each resource left behind. */
export const LEFT_BEHIND_LINE = '  left behind ';

/** `security group sg-1 (us-east-1): <reason>`, one line for a person. */
export function describeLeak(leak: LeakedResource): string {
  return `${leak.type} ${leak.id} (${leak.region}): ${leak.reason}`;
}

/** What a failed AWS call said, for a `reason`: `UnauthorizedOperation: You are not authorized…`. */
export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = awsErrorCode(error);
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`;
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/**
 * One line saying what cleanup did: `terminated instance i-1; deleted security group sg-1; deleted 3 staged
 * objects; kept 1 resource`. `nothing to clean up` when the report is empty.
 */
export function describeCleanup(report: CleanupReport): string {
  const parts: string[] = [];
  if (report.terminatedInstances.length > 0) {
    parts.push(
      `terminated ${report.terminatedInstances.length === 1 ? 'instance' : 'instances'} ${report.terminatedInstances.join(', ')}`,
    );
  }
  if (report.deletedSecurityGroups.length > 0) {
    parts.push(
      `deleted security ${report.deletedSecurityGroups.length === 1 ? 'group' : 'groups'} ${report.deletedSecurityGroups.join(', ')}`,
    );
  }
  if (report.deletedStagedObjects > 0) {
    parts.push(`deleted ${plural(report.deletedStagedObjects, 'staged object')}`);
  }
  if (report.deregisteredImages.length > 0) {
    parts.push(
      `deregistered ${report.deregisteredImages.length === 1 ? 'AMI' : 'AMIs'} ${report.deregisteredImages.join(', ')}`,
    );
  }
  const roles = report.deletedInstanceRoles ?? [];
  if (roles.length > 0) {
    parts.push(`deleted instance ${roles.length === 1 ? 'role' : 'roles'} ${roles.join(', ')}`);
  }
  for (const r of report.rolledBackParameters ?? []) {
    parts.push(
      `rolled back ${r.name} (${r.region}) ${r.restored === undefined ? 'by deleting it' : `to ${r.restored}`}`,
    );
  }
  if (report.kept.length > 0) parts.push(`kept ${plural(report.kept.length, 'resource')}`);
  const leaked = report.leaked ?? [];
  if (leaked.length > 0) parts.push(`left ${plural(leaked.length, 'resource')} behind`);
  return parts.length > 0 ? parts.join('; ') : 'nothing to clean up';
}

/** The error code of an AWS SDK error (`InvalidInstanceID.NotFound`, `DependencyViolation`, …). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  return typeof e.name === 'string' ? e.name : undefined;
}
