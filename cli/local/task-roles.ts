/**
 * Least privilege offline: each Lambda task runs with credentials for its own synthesized role, as on AWS.
 *
 * {@link deployTaskRoles} creates every task function's role in the emulated IAM, with the inline policies and
 * managed policies the synthesized template attaches to it (intrinsics resolved), and assumes it through the
 * emulated STS. The emulator evaluates the role's policies on every request signed with those credentials
 * (emulator/patches/policy.py), so a grant missing from `infra/permissions.ts` fails the build offline with the
 * service's AccessDenied error.
 *
 * In-process handlers share one `process.env`, from which the AWS SDK's default credential chain reads the
 * Lambda-style variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
 * {@link withTaskCredentials} gives each handler call its own values of those variables (an AsyncLocalStorage
 * scope behind `process.env`), with an expiration inside the SDK's five-minute refresh window, so that every
 * request resolves the credentials of the task that makes it. Child processes (`--bundled`) get them in their
 * environment instead, as Lambda sets them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { TaskId } from '../../infra/tasks.js';
import type { SynthesizedStack } from './synthesized.js';

/** Temporary credentials of one task's role. */
export interface TaskCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  roleArn: string;
}

/** How long the assumed-role sessions last (IAM's default maximum session duration). */
const SESSION_SECONDS = 3600;

/**
 * Creates each task's role in the emulator as `cdk deploy` would, and assumes it.
 * Runs with the caller's (administrator) credentials, after `deployToEmulator` (./runner.ts).
 */
export async function deployTaskRoles(
  stack: SynthesizedStack,
  endpoint: string,
): Promise<Map<TaskId, TaskCredentials>> {
  const iam = new IAMClient({ region: stack.region, endpoint });
  const sts = new STSClient({ region: stack.region, endpoint });
  const credentials = new Map<TaskId, TaskCredentials>();
  try {
    for (const [task, role] of stack.taskRoles) {
      await iam
        .send(
          new CreateRoleCommand({
            RoleName: role.roleName,
            AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy),
            Description: `ami-builder task ${task}`,
          }),
        )
        .catch((error: unknown) => {
          const name = (error as { name?: string }).name;
          if (name !== 'EntityAlreadyExistsException' && name !== 'EntityAlreadyExists') throw error;
        });
      for (const policy of role.policies) {
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: role.roleName,
            PolicyName: policy.name,
            PolicyDocument: JSON.stringify(policy.document),
          }),
        );
      }
      for (const arn of role.managedPolicyArns) {
        await iam.send(new AttachRolePolicyCommand({ RoleName: role.roleName, PolicyArn: arn }));
      }
      const assumed = await sts.send(
        new AssumeRoleCommand({
          RoleArn: role.arn,
          RoleSessionName: task,
          DurationSeconds: SESSION_SECONDS,
        }),
      );
      const c = assumed.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined) {
        throw new Error(`the emulator's STS returned no credentials for ${role.arn}`);
      }
      credentials.set(task, {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        roleArn: role.arn,
      });
    }
  } finally {
    iam.destroy();
    sts.destroy();
  }
  return credentials;
}

/** The variables Lambda sets for a function's role. */
export function credentialVariables(credentials: TaskCredentials): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
  };
}

const scope = new AsyncLocalStorage<Record<string, string>>();
let environmentScoped = false;

/** Puts `process.env` behind a proxy that reads the current task's credential variables first. */
function scopeEnvironment(): void {
  if (environmentScoped) return;
  environmentScoped = true;
  const variables = process.env;
  const scoped = (key: string | symbol): string | undefined => {
    const store = typeof key === 'string' ? scope.getStore() : undefined;
    if (store === undefined || typeof key !== 'string') return undefined;
    // Inside the SDK's refresh window: each request resolves the credentials again, in its caller's scope.
    if (key === 'AWS_CREDENTIAL_EXPIRATION') return new Date(Date.now() + 60_000).toISOString();
    return store[key];
  };
  process.env = new Proxy(variables, {
    get: (target, key) => scoped(key) ?? Reflect.get(target, key),
    has: (target, key) => scoped(key) !== undefined || Reflect.has(target, key),
    // Writes go to process.env itself: the default trap would define the property on the proxy as receiver,
    // which process.env refuses (ERR_INVALID_OBJECT_DEFINE_PROPERTY), e.g. when the emulator settings are undone.
    set: (target, key, value) => Reflect.set(target, key, value),
  });
}

/** Runs `call` with the task's credentials as its `AWS_*` variables (unchanged when `credentials` is undefined). */
export function withTaskCredentials<T>(credentials: TaskCredentials | undefined, call: () => T): T {
  if (credentials === undefined) return call();
  scopeEnvironment();
  return scope.run(credentialVariables(credentials), call);
}
