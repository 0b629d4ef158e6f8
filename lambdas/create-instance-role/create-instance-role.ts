/**
 * Create Instance Role: Packer's StepIamInstanceProfile (reference §1.1 step 6), made the default. Unless the
 * template names its own `iam_instance_profile`, each build gets a temporary role and instance profile that hold
 * this build's authority and no more (`lambdas/shared/instance-role.ts`): the SSM agent's actions, its own staged
 * folder, its own bundle keys and the command log group. The role is created under the stack's path and with
 * the stack's permissions boundary, which IAM requires of this task (docs/IAM.md), so neither the build's policy
 * nor the template's `temporary_iam_instance_profile_policy_document` can grant more than the boundary.
 */
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  type IAMClient,
  PutRolePolicyCommand,
  type Tag,
} from '@aws-sdk/client-iam';
import { awsErrorCode } from '../shared/cleanup-report.js';
import type { IamPolicyDocument } from '../shared/config.js';
import {
  AwsTransientError,
  InstanceProfileNotAllowedError,
  InstanceRoleError,
  TaskInputError,
} from '../shared/errors.js';
import {
  buildInstancePolicy,
  EC2_TRUST_POLICY,
  type InstanceRoleIdentity,
  InstanceRolePolicyNames,
  instanceRoleIdentity,
  parsePolicyArn,
} from '../shared/instance-role.js';
import { type Clients, isTransient, ownershipTags, type TaskEnvironment } from '../shared/runtime.js';
import type { BuildState, InstanceRoleInfo, TaskEvent } from '../shared/state.js';

export interface CreateInstanceRoleDeps {
  clients: Pick<Clients, 'iam'>;
  env: Pick<
    TaskEnvironment,
    'stackName' | 'stagingBucket' | 'commandLogGroup' | 'instanceRoleBoundary' | 'allowedInstanceProfiles'
  >;
  /** The stack's region (`AWS_REGION`): the staging bucket and the command log group are there. */
  homeRegion: string;
}

/**
 * The profile a template names must be one the stack allows (`extraInstanceProfiles`): infra's `iam:PassRole`
 * covers only their roles and the stack's temporary roles.
 */
export function checkNamedProfile(
  wanted: string,
  env: Pick<TaskEnvironment, 'allowedInstanceProfiles'>,
): void {
  if (env.allowedInstanceProfiles.includes(wanted)) return;
  const allowed = env.allowedInstanceProfiles;
  throw new InstanceProfileNotAllowedError(
    `iam_instance_profile "${wanted}" is not allowed by this stack. Allowed profiles: ` +
      `${allowed.length === 0 ? 'none' : allowed.join(', ')}. Leave iam_instance_profile unset to have the build ` +
      "create a temporary profile, or add the profile to the stack's extraInstanceProfiles context and redeploy.",
  );
}

// IAM tag values allow letters, digits, spaces and _ . : / = + - @ only.
const iamTagValue = (value: string) => value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);

function roleTags(build: BuildState, env: Pick<TaskEnvironment, 'stackName'>): Tag[] {
  return ownershipTags(env, build.execution.id, build.config.name, build.config.onError).map((t) => ({
    Key: t.Key,
    Value: iamTagValue(t.Value),
  }));
}

function failure(what: string, identity: InstanceRoleIdentity, error: unknown): Error {
  if (isTransient(error)) return error as Error;
  const e = error as Error;
  return new InstanceRoleError(
    `${what} ${identity.path}${identity.roleName} failed: ${awsErrorCode(error) ?? e.name}: ${e.message}`,
  );
}

/**
 * Sends a create call: true when it created the entity, false when it exists already (an earlier attempt's, which
 * the caller checks); any other error as {@link failure} words it.
 */
async function created(send: () => Promise<unknown>, what: string, identity: InstanceRoleIdentity) {
  try {
    await send();
    return true;
  } catch (error) {
    if (awsErrorCode(error) !== 'EntityAlreadyExists') throw failure(what, identity, error);
    return false;
  }
}

/** Creates the role, or finds the one an earlier attempt created; a same-named role elsewhere is refused. */
async function ensureRole(
  iam: IAMClient,
  build: BuildState,
  identity: InstanceRoleIdentity,
  deps: CreateInstanceRoleDeps,
) {
  const createdRole = await created(
    () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: identity.roleName,
          Path: identity.path,
          AssumeRolePolicyDocument: JSON.stringify(EC2_TRUST_POLICY),
          PermissionsBoundary: deps.env.instanceRoleBoundary,
          Description: `ami-builder build instance of ${iamTagValue(build.config.name)}`.slice(0, 1000),
          Tags: roleTags(build, deps.env),
        }),
      ),
    'Creating the role',
    identity,
  );
  if (createdRole) return;
  const existing = await iam.send(new GetRoleCommand({ RoleName: identity.roleName }));
  const role = existing.Role;
  const boundary = role?.PermissionsBoundary?.PermissionsBoundaryArn;
  if (role?.Path !== identity.path || boundary !== deps.env.instanceRoleBoundary) {
    throw new InstanceRoleError(
      `A role named ${identity.roleName} already exists at ${role?.Path ?? '?'}${identity.roleName} with ` +
        `boundary ${boundary ?? 'none'}; this build's role must be at ${identity.path} with the stack's ` +
        'boundary. It was not created by this build: rename or delete it, or start a new execution.',
    );
  }
}

async function putPolicy(
  iam: IAMClient,
  identity: InstanceRoleIdentity,
  name: string,
  document: IamPolicyDocument,
) {
  try {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: identity.roleName,
        PolicyName: name,
        PolicyDocument: JSON.stringify(document),
      }),
    );
  } catch (error) {
    const code = awsErrorCode(error);
    if (
      name === InstanceRolePolicyNames.template &&
      (code === 'MalformedPolicyDocument' || code === 'LimitExceeded')
    ) {
      const e = error as Error;
      throw new InstanceRoleError(
        `IAM refused temporary_iam_instance_profile_policy_document (${code}): ${e.message} Fix the document.`,
      );
    }
    throw failure(`Writing the policy ${name} of`, identity, error);
  }
}

async function ensureProfile(
  iam: IAMClient,
  build: BuildState,
  identity: InstanceRoleIdentity,
  deps: CreateInstanceRoleDeps,
) {
  await created(
    () =>
      iam.send(
        new CreateInstanceProfileCommand({
          InstanceProfileName: identity.roleName,
          Path: identity.path,
          Tags: roleTags(build, deps.env),
        }),
      ),
    'Creating the instance profile',
    identity,
  );
  const profile = (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: identity.roleName })))
    .InstanceProfile;
  if (profile?.Path !== identity.path) {
    throw new InstanceRoleError(
      `An instance profile named ${identity.roleName} already exists at ${profile?.Path ?? '?'}; this build's ` +
        `profile must be at ${identity.path}. It was not created by this build: start a new execution.`,
    );
  }
  const roles = (profile.Roles ?? []).map((r) => r.RoleName);
  if (roles.includes(identity.roleName)) return;
  try {
    await iam.send(
      new AddRoleToInstanceProfileCommand({
        InstanceProfileName: identity.roleName,
        RoleName: identity.roleName,
      }),
    );
  } catch (error) {
    // IAM is eventually consistent: a role created a moment ago may not be visible to this call yet.
    if (awsErrorCode(error) === 'NoSuchEntity') {
      throw new AwsTransientError(
        `AddRoleToInstanceProfile: the new role ${identity.roleName} is not visible yet`,
      );
    }
    throw failure('Adding the role to the instance profile', identity, error);
  }
}

/**
 * Creates (or finds) the build's temporary role and instance profile and returns the profile Launch Instance
 * passes. With `iam_instance_profile`, only checks that the stack allows that profile.
 *
 * Idempotent: the names derive from the execution and the build, so a retry or a redrive completes what an
 * earlier attempt started; the policies are written again (PutRolePolicy replaces them).
 *
 * @throws InstanceProfileNotAllowedError when `iam_instance_profile` is not one of the stack's extra profiles.
 * @throws InstanceRoleError when IAM refuses the role, a policy or the profile, or a same-named one is not ours.
 * @throws AwsTransientError when the new role is not visible yet (retried with backoff).
 */
export async function createInstanceRole(
  event: TaskEvent,
  deps: CreateInstanceRoleDeps,
): Promise<InstanceRoleInfo> {
  const { build } = event;
  const { config } = build;
  if (config.iamInstanceProfile !== undefined) {
    checkNamedProfile(config.iamInstanceProfile, deps.env);
    return { instanceProfileName: config.iamInstanceProfile, temporary: false };
  }
  const boundary = parsePolicyArn(deps.env.instanceRoleBoundary);
  if (boundary === undefined || deps.env.stagingBucket === '') {
    throw new TaskInputError(
      'INSTANCE_ROLE_BOUNDARY (a managed policy ARN) and STAGING_BUCKET must be set in the task environment',
    );
  }
  const identity = instanceRoleIdentity(deps.env.stackName, build);
  const iam = deps.clients.iam(deps.homeRegion);

  await ensureRole(iam, build, identity, deps);
  const policy = buildInstancePolicy(build, {
    partition: boundary.partition,
    account: boundary.account,
    region: deps.homeRegion,
    stagingBucket: deps.env.stagingBucket,
    commandLogGroup: deps.env.commandLogGroup,
  });
  await putPolicy(iam, identity, InstanceRolePolicyNames.build, policy);
  if (config.temporaryIamPolicyDocument !== undefined) {
    await putPolicy(iam, identity, InstanceRolePolicyNames.template, config.temporaryIamPolicyDocument);
  }
  await ensureProfile(iam, build, identity, deps);
  return {
    instanceProfileName: identity.roleName,
    temporary: true,
    roleName: identity.roleName,
    path: identity.path,
  };
}
