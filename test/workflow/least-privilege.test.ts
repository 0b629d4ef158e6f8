/**
 * Least privilege, proven by running: each task runs with credentials for its own synthesized role, the emulator
 * evaluates that role's policies on every call (emulator/patches/policy.py), and a grant missing from the
 * synthesized template fails the build offline.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { SynthesizedStack, TaskRole } from '../../cli/local/synthesized.js';
import { deployTaskRoles } from '../../cli/local/task-roles.js';
import type { TaskId } from '../../infra/tasks.js';
import { BUILD_REGION, basicExample, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

interface Statement {
  Action?: string | string[];
  [key: string]: unknown;
}

/** The stack with `action` removed from every statement of `task`'s role (a statement left empty is dropped). */
function withoutAction(stack: SynthesizedStack, task: TaskId, action: string): SynthesizedStack {
  const role = stack.taskRoles.get(task);
  if (role === undefined) throw new Error(`no role for ${task}`);
  let removed = 0;
  const policies: TaskRole['policies'] = role.policies.map((policy) => {
    const document = structuredClone(policy.document) as { Statement: Statement[] };
    document.Statement = document.Statement.flatMap((statement) => {
      const actions = [statement.Action ?? []].flat();
      const kept = actions.filter((a) => a !== action);
      removed += actions.length - kept.length;
      if (kept.length === actions.length) return [statement];
      return kept.length === 0 ? [] : [{ ...statement, Action: kept }];
    });
    return { name: policy.name, document };
  });
  if (removed === 0) throw new Error(`${task}'s role does not grant ${action}`);
  const taskRoles = new Map(stack.taskRoles);
  taskRoles.set(task, { ...role, policies });
  return { ...stack, taskRoles };
}

describe('least privilege, offline', () => {
  it('builds the Basic Example with each task signed as its own role', async () => {
    // Prepare
    const h = harness();
    expect(h.taskCredentials?.size).toBe(h.stack.taskRoles.size);

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'iam' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(result.output?.builds?.[0]?.status).toBe('succeeded');
  });

  it('fails the build with AccessDenied when Launch Instance loses ec2:RunInstances', async () => {
    // Prepare
    const h = harness();
    const credentials = await deployTaskRoles(
      withoutAction(h.stack, 'LaunchInstance', 'ec2:RunInstances'),
      h.emulator.endpoint,
    );

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'iam-denied', credentials });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(`${result.error}: ${result.cause}`).toMatch(/UnauthorizedOperation/);
    expect(result.cause).toContain(
      `assumed-role/${h.stack.taskRoles.get('LaunchInstance')?.roleName}/LaunchInstance is not authorized to perform: ec2:RunInstances`,
    );
    // The failure path ran as the other tasks' roles and cleaned up.
    expect(await h.leftovers()).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
  });

  it('refuses a task an object outside the resources its role names', async () => {
    // Prepare: Validate Template's role grants nothing in S3; Ensure Bundle Bucket's grants bucket actions only.
    const h = harness();
    const credentialsOf = (task: TaskId) => {
      const c = h.taskCredentials?.get(task);
      if (c === undefined) throw new Error(`no credentials for ${task}`);
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
    };
    const s3As = (task: TaskId) =>
      new S3Client({
        region: BUILD_REGION,
        endpoint: h.emulator.endpoint,
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: credentialsOf(task),
      });
    const bucket = h.stack.resources.stagingBucket;
    const validate = s3As('ValidateTemplate');
    const sendCommand = s3As('SendCommand');

    // Act
    const denied = await validate
      .send(new GetObjectCommand({ Bucket: bucket, Key: 'workflow-test/x509/cert.pem' }))
      .catch((e: Error) => e);
    const outside = await sendCommand
      .send(new PutObjectCommand({ Bucket: bucket, Key: 'not-staging/file', Body: 'x' }))
      .catch((e: Error) => e);
    const inside = await sendCommand
      .send(new PutObjectCommand({ Bucket: bucket, Key: 'staging/iam-test/file', Body: 'x' }))
      .catch((e: Error) => e);

    // Assess
    expect((denied as Error).name).toBe('AccessDenied');
    expect((outside as Error).name).toBe('AccessDenied');
    expect(inside).not.toBeInstanceOf(Error);
    validate.destroy();
    sendCommand.destroy();
  });
});
