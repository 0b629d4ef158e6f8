/**
 * Deleting a temporary build-instance role and its instance profile: shared by Delete Temporary Resources and
 * Abort Cleanup. Kept apart from `instance-role.ts` so that only the tasks that call IAM bundle its client.
 */
import {
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  type IAMClient,
  ListRolePoliciesCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam';
import { awsErrorCode } from './cleanup-report.js';
import type { InstanceRoleIdentity } from './instance-role.js';

/** Runs `call`; `undefined` when IAM answers NoSuchEntity (already gone: a retry, a redrive, a second sweep). */
async function unlessGone<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (awsErrorCode(error) === 'NoSuchEntity' || awsErrorCode(error) === 'NoSuchEntityException') {
      return undefined;
    }
    throw error;
  }
}

/**
 * Deletes the instance profile and the role named by `identity`, in the order IAM requires (remove the role
 * from the profile, delete the profile, delete the inline policies, delete the role). Only a profile and a role
 * under `identity.path` are touched: a same-named one elsewhere in the account is not this build's.
 *
 * @returns true when something was deleted, false when nothing of this build was there.
 */
export async function deleteInstanceRole(iam: IAMClient, identity: InstanceRoleIdentity): Promise<boolean> {
  const { roleName, path } = identity;
  let deleted = false;

  const profile = await unlessGone(() =>
    iam.send(new GetInstanceProfileCommand({ InstanceProfileName: roleName })),
  );
  if (profile?.InstanceProfile !== undefined && profile.InstanceProfile.Path === path) {
    for (const role of profile.InstanceProfile.Roles ?? []) {
      await unlessGone(() =>
        iam.send(
          new RemoveRoleFromInstanceProfileCommand({
            InstanceProfileName: roleName,
            RoleName: role.RoleName,
          }),
        ),
      );
    }
    await unlessGone(() => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: roleName })));
    deleted = true;
  }

  const role = await unlessGone(() => iam.send(new GetRoleCommand({ RoleName: roleName })));
  if (role?.Role === undefined || role.Role.Path !== path) return deleted;
  let marker: string | undefined;
  const policies: string[] = [];
  do {
    const page = await unlessGone(() =>
      iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker })),
    );
    policies.push(...(page?.PolicyNames ?? []));
    marker = page?.IsTruncated ? page.Marker : undefined;
  } while (marker !== undefined);
  for (const PolicyName of policies) {
    await unlessGone(() => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName })));
  }
  await unlessGone(() => iam.send(new DeleteRoleCommand({ RoleName: roleName })));
  return true;
}
