import { DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  ListRolePoliciesCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteTemporaryResources } from '../../../lambdas/delete-temporary-resources/delete-temporary-resources.js';
import type { CleanupArgs } from '../../../lambdas/shared/cleanup-report.js';
import { SecurityGroupInUseError } from '../../../lambdas/shared/errors.js';
import { instanceRoleIdentity } from '../../../lambdas/shared/instance-role.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { CleanupReport, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const iamMock = mockClient(IAMClient);
const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client, iam: IAMClient }),
  env: makeEnvironment(),
  homeRegion: 'eu-central-1',
};

const PREFIX = 'staging/build-2024-01-02/amazon-instance/';
const STAGED = [
  `${PREFIX}commands/02-x509/cert.pem`,
  `${PREFIX}commands/02-x509/key.pem`,
  `${PREFIX}commands/02-x509/run.sh`,
];

const terminated: CleanupReport = {
  terminatedInstances: ['i-0123456789abcdef0'],
  deletedSecurityGroups: [],
  deletedStagedObjects: 0,
  deregisteredImages: [],
  kept: [],
};

function event(reason: CleanupArgs['reason'], overrides: BuildStateOverrides = {}): TaskEvent<CleanupArgs> {
  return {
    build: makeBuildState({
      network: { securityGroupIds: ['sg-0temp'], temporarySecurityGroupId: 'sg-0temp' },
      instance: { instanceId: 'i-0123456789abcdef0' },
      cleanup: terminated,
      ...overrides,
    }),
    args: { reason },
  };
}

describe('deleteTemporaryResources', () => {
  beforeEach(() => {
    ec2Mock.reset();
    s3Mock.reset();
    iamMock.reset();
    iamMock.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntity'));
    iamMock.on(GetRoleCommand).rejects(awsError('NoSuchEntity'));
    ec2Mock.on(DeleteSecurityGroupCommand).resolves({});
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [{ GroupId: 'sg-0temp', Tags: [{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }] }],
    });
    s3Mock
      .on(ListObjectsV2Command)
      .resolves({ Contents: STAGED.map((Key) => ({ Key })), IsTruncated: false });
    s3Mock.on(DeleteObjectsCommand).resolves({});
  });
  afterEach(() => {
    ec2Mock.reset();
    s3Mock.reset();
    iamMock.reset();
  });

  it('deletes the temporary security group and the build’s staged objects, merged into the cleanup report', async () => {
    // Act
    const report = await deleteTemporaryResources(
      event('success', { config: { region: 'us-west-2' } }),
      deps,
    );

    // Assess
    expect(report).toEqual({ ...terminated, deletedSecurityGroups: ['sg-0temp'], deletedStagedObjects: 3 });
    const sg = ec2Mock.commandCalls(DeleteSecurityGroupCommand);
    expect(sg).toHaveLength(1);
    expect(sg[0]?.args[0].input).toEqual({ GroupId: 'sg-0temp' });
    expect(await regionOf(sg[0]!)).toBe('us-west-2');
    const list = s3Mock.commandCalls(ListObjectsV2Command);
    expect(list[0]?.args[0].input).toMatchObject({ Bucket: 'staging-bucket', Prefix: PREFIX });
    expect(await regionOf(list[0]!)).toBe('eu-central-1');
    expect(s3Mock.commandCalls(DeleteObjectsCommand)[0]?.args[0].input).toEqual({
      Bucket: 'staging-bucket',
      Delete: { Objects: STAGED.map((Key) => ({ Key })), Quiet: true },
    });
  });

  it('never deletes a security group the template named', async () => {
    // Act
    const report = await deleteTemporaryResources(
      event('success', { network: { securityGroupIds: ['sg-0users'] } }),
      deps,
    );

    // Assess
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(report.deletedSecurityGroups).toEqual([]);
  });

  it('never touches the bundle bucket', async () => {
    // Act
    await deleteTemporaryResources(event('failure'), deps);

    // Assess
    const buckets = s3Mock.calls().map((c) => (c.args[0].input as { Bucket?: string }).Bucket);
    expect(buckets.length).toBeGreaterThan(0);
    expect(buckets.every((b) => b === 'staging-bucket')).toBe(true);
  });

  it('keeps the security group of a failed build when on_error is abort, but still deletes the staged objects', async () => {
    // Prepare
    const kept = [{ resource: 'instance i-0123456789abcdef0 (us-east-1)', reason: 'on_error is abort' }];

    // Act
    const report = await deleteTemporaryResources(
      event('failure', {
        config: { onError: 'abort' },
        cleanup: { ...terminated, terminatedInstances: [], kept },
      }),
      deps,
    );

    // Assess
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(report.deletedStagedObjects).toBe(3);
    expect(report.kept).toEqual([
      ...kept,
      {
        resource: 'security group sg-0temp (us-east-1)',
        reason:
          'on_error is abort: kept for debugging; delete it once its instance is terminated with: ' +
          'aws ec2 delete-security-group --region us-east-1 --group-id sg-0temp',
      },
    ]);
  });

  it('deletes the security group of a successful build even when on_error is abort', async () => {
    // Act
    const report = await deleteTemporaryResources(event('success', { config: { onError: 'abort' } }), deps);

    // Assess
    expect(report.deletedSecurityGroups).toEqual(['sg-0temp']);
    expect(report.kept).toEqual([]);
  });

  it('fails with SecurityGroupInUseError when the group is still in use, after deleting the staged objects', async () => {
    // Prepare
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejects(awsError('DependencyViolation', 'resource sg-0temp has a dependent object'));

    // Act
    const result = deleteTemporaryResources(event('failure'), deps);

    // Assess
    await expect(result).rejects.toBeInstanceOf(SecurityGroupInUseError);
    await expect(result).rejects.toMatchObject({ name: 'SecurityGroupInUseError' });
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });

  it('treats a security group that is already gone as deleted', async () => {
    // Prepare
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejects(awsError('InvalidGroup.NotFound', "The security group 'sg-0temp' does not exist"));

    // Act
    const report = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(report.deletedSecurityGroups).toEqual(['sg-0temp']);
  });

  it('does nothing new when invoked again after everything is gone', async () => {
    // Prepare
    const first = await deleteTemporaryResources(event('success'), deps);
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('InvalidGroup.NotFound'));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    s3Mock.resetHistory();

    // Act
    const second = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(second).toEqual({ ...first, deletedStagedObjects: 0 });
  });

  it('does nothing when the build failed before creating anything', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command).resolves({ IsTruncated: false });

    // Act
    const report = await deleteTemporaryResources(
      event('failure', { network: undefined, instance: undefined, cleanup: undefined }),
      deps,
    );

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(report).toEqual({ ...terminated, terminatedInstances: [] });
  });

  it('refuses to delete a security group that does not carry this stack’s tag, and reports it left behind', async () => {
    // Prepare
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: 'sg-0temp', Tags: [] }] });

    // Act
    const report = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(report.leaked).toEqual([
      {
        type: 'security group',
        id: 'sg-0temp',
        region: 'us-east-1',
        reason:
          'not deleted: ResourceNotOwnedError: Refusing to touch security group sg-0temp in us-east-1: it does not ' +
          'carry ami-builder:stack=AmiBuilder (no such tag), so this stack did not create it',
        hint: 'once no instance uses it: aws ec2 delete-security-group --region us-east-1 --group-id sg-0temp',
      },
    ]);
    expect(report.deletedSecurityGroups).toEqual([]);
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0]?.args[0].input).toEqual({
      GroupIds: ['sg-0temp'],
    });
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });

  it('counts a security group that no longer exists as deleted, without calling DeleteSecurityGroup', async () => {
    // Prepare
    ec2Mock.on(DescribeSecurityGroupsCommand).rejects(awsError('InvalidGroup.NotFound', 'gone'));

    // Act
    const report = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(report.deletedSecurityGroups).toEqual(['sg-0temp']);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
  });

  it('reports the group left behind when DeleteSecurityGroup is refused, and still deletes the rest', async () => {
    // Prepare
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('UnauthorizedOperation', 'no', 403));

    // Act
    const report = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(report.leaked).toEqual([
      expect.objectContaining({
        type: 'security group',
        id: 'sg-0temp',
        reason: 'not deleted: UnauthorizedOperation: no',
      }),
    ]);
    expect(report.deletedStagedObjects).toBe(3);
  });

  it('reports a group still in use after the retries (groupInUse: report) with the error, without throwing', async () => {
    // Prepare
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejects(awsError('DependencyViolation', 'resource sg-0temp has a dependent object'));
    const input = event('failure', {
      cleanupError: { Error: 'SecurityGroupInUseError', Cause: 'still in use' },
    });

    // Act
    const report = await deleteTemporaryResources(
      { ...input, args: { reason: 'failure', groupInUse: 'report' } },
      deps,
    );

    // Assess
    expect(report.terminatedInstances).toEqual(['i-0123456789abcdef0']);
    expect(report.leaked).toEqual([
      {
        type: 'security group',
        id: 'sg-0temp',
        region: 'us-east-1',
        reason:
          'not deleted: still in use after every retry (DependencyViolation: resource sg-0temp has a dependent object)',
        hint: 'once no instance uses it: aws ec2 delete-security-group --region us-east-1 --group-id sg-0temp',
      },
    ]);
  });

  it('does not try to delete the group of an instance that was not terminated, and reports both', async () => {
    // Prepare
    const instanceLeft = {
      type: 'instance' as const,
      id: 'i-0123456789abcdef0',
      region: 'us-east-1',
      reason: 'not terminated: UnauthorizedOperation: no',
      hint: 'aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0',
    };

    // Act
    const report = await deleteTemporaryResources(
      event('failure', { cleanup: { ...terminated, terminatedInstances: [], leaked: [instanceLeft] } }),
      deps,
    );

    // Assess
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(report.deletedStagedObjects).toBe(3);
    expect(report.leaked).toEqual([
      instanceLeft,
      expect.objectContaining({
        type: 'security group',
        id: 'sg-0temp',
        reason: 'not deleted: its instance i-0123456789abcdef0 was not terminated',
      }),
    ]);
  });

  it('reports the staged objects left behind when S3 refuses to delete them, and still deletes the group', async () => {
    // Prepare
    s3Mock.on(DeleteObjectsCommand).rejects(awsError('AccessDenied', 'Access Denied', 403));

    // Act
    const report = await deleteTemporaryResources(event('success'), deps);

    // Assess
    expect(report.deletedSecurityGroups).toEqual(['sg-0temp']);
    expect(report.leaked).toEqual([
      {
        type: 'staged objects',
        id: `s3://${deps.env.stagingBucket}/${PREFIX}`,
        region: 'eu-central-1',
        reason: 'not deleted: AccessDenied: Access Denied',
        hint: `aws s3 rm --region eu-central-1 --recursive s3://${deps.env.stagingBucket}/${PREFIX}`,
      },
    ]);
  });

  describe('the temporary instance role', () => {
    const identity = () => instanceRoleIdentity('AmiBuilder', makeBuildState());
    const stageRole = () => {
      const { roleName, path } = identity();
      iamMock.on(GetInstanceProfileCommand).resolves({
        InstanceProfile: {
          InstanceProfileName: roleName,
          Path: path,
          Roles: [{ RoleName: roleName, Path: path } as never],
        } as never,
      });
      iamMock.on(GetRoleCommand).resolves({ Role: { RoleName: roleName, Path: path } as never });
      iamMock
        .on(ListRolePoliciesCommand)
        .resolves({ PolicyNames: ['ami-builder-build', 'template-policy-document'] });
      iamMock.on(RemoveRoleFromInstanceProfileCommand).resolves({});
      iamMock.on(DeleteInstanceProfileCommand).resolves({});
      iamMock.on(DeleteRolePolicyCommand).resolves({});
      iamMock.on(DeleteRoleCommand).resolves({});
      return roleName;
    };

    it('deletes the profile, then the inline policies and the role, and reports the role', async () => {
      // Prepare
      const roleName = stageRole();

      // Act
      const report = await deleteTemporaryResources(event('success'), deps);

      // Assess
      expect(report.deletedInstanceRoles).toEqual([roleName]);
      expect(iamMock.commandCalls(RemoveRoleFromInstanceProfileCommand)[0]?.args[0].input).toEqual({
        InstanceProfileName: roleName,
        RoleName: roleName,
      });
      expect(iamMock.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input.PolicyName)).toEqual([
        'ami-builder-build',
        'template-policy-document',
      ]);
      const order = iamMock.calls().map((c) => c.args[0].constructor.name);
      expect(order.indexOf('DeleteInstanceProfileCommand')).toBeLessThan(order.indexOf('DeleteRoleCommand'));
    });

    it('deletes the role after a failure too, even when Create Instance Role failed before returning', async () => {
      // Prepare
      const roleName = stageRole();

      // Act
      const report = await deleteTemporaryResources(event('failure', { instance: undefined }), deps);

      // Assess
      expect(report.deletedInstanceRoles).toEqual([roleName]);
    });

    it('keeps the role with a kept instance (on_error abort) and says how to delete it', async () => {
      // Prepare
      const roleName = stageRole();

      // Act
      const report = await deleteTemporaryResources(
        event('failure', {
          config: { onError: 'abort' },
          instanceRole: { instanceProfileName: roleName, temporary: true, roleName, path: identity().path },
        }),
        deps,
      );

      // Assess
      expect(iamMock.commandCalls(DeleteRoleCommand)).toHaveLength(0);
      expect(report.deletedInstanceRoles).toBeUndefined();
      expect(report.kept).toContainEqual({
        resource: `instance role and profile ${identity().path}${roleName} (IAM)`,
        reason: expect.stringContaining(`aws iam delete-role --role-name ${roleName}`),
      });
    });

    it('touches no role when the template names its own instance profile', async () => {
      // Act
      await deleteTemporaryResources(
        event('success', { config: { iamInstanceProfile: 'legacy-builder' } }),
        deps,
      );

      // Assess
      expect(iamMock.calls()).toHaveLength(0);
    });

    it('leaves a same-named role at another path alone', async () => {
      // Prepare
      stageRole();
      iamMock
        .on(GetRoleCommand)
        .resolves({ Role: { RoleName: identity().roleName, Path: '/other/' } as never });
      iamMock.on(GetInstanceProfileCommand).resolves({
        InstanceProfile: { InstanceProfileName: identity().roleName, Path: '/other/', Roles: [] } as never,
      });

      // Act
      const report = await deleteTemporaryResources(event('success'), deps);

      // Assess
      expect(iamMock.commandCalls(DeleteRoleCommand)).toHaveLength(0);
      expect(iamMock.commandCalls(DeleteInstanceProfileCommand)).toHaveLength(0);
      expect(report.deletedInstanceRoles).toBeUndefined();
    });

    it('reports the role left behind, with the reason, when IAM refuses to delete it', async () => {
      // Prepare
      const roleName = stageRole();
      iamMock
        .on(DeleteRoleCommand)
        .rejects(awsError('AccessDenied', 'not authorized to perform iam:DeleteRole', 403));

      // Act
      const report = await deleteTemporaryResources(event('success'), deps);

      // Assess
      expect(report.deletedSecurityGroups).toEqual(['sg-0temp']);
      expect(report.kept).toEqual([]);
      expect(report.leaked).toEqual([
        expect.objectContaining({
          type: 'instance role',
          id: roleName,
          region: 'global',
          reason: 'not deleted: AccessDenied: not authorized to perform iam:DeleteRole',
          hint: expect.stringContaining(`aws iam delete-role --role-name ${roleName}`),
        }),
      ]);
    });

    it('reports a role this build created and an earlier attempt deleted as deleted', async () => {
      // Act
      const report = await deleteTemporaryResources(
        event('success', {
          instanceRole: {
            instanceProfileName: identity().roleName,
            temporary: true,
            roleName: identity().roleName,
          },
        }),
        deps,
      );

      // Assess
      expect(report.deletedInstanceRoles).toEqual([identity().roleName]);
    });
  });
});
