import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInstanceRole } from '../../../lambdas/create-instance-role/create-instance-role.js';
import type { IamPolicyDocument } from '../../../lambdas/shared/config.js';
import { instanceRoleIdentity } from '../../../lambdas/shared/instance-role.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import { awsError, type BuildStateOverrides, makeBuildState, makeEnvironment } from '../fixtures.js';

const iamMock = mockClient(IAMClient);
const BOUNDARY = 'arn:aws:iam::123456789012:policy/ami-builder/AmiBuilder/Boundary';
const deps = {
  clients: createClients({ iam: IAMClient }),
  env: makeEnvironment({ instanceRoleBoundary: BOUNDARY, allowedInstanceProfiles: ['legacy-builder'] }),
  homeRegion: 'us-east-1',
};

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  return { build: makeBuildState(overrides), args: {} };
}

const policyOf = (name: string): IamPolicyDocument => {
  const call = iamMock.commandCalls(PutRolePolicyCommand).find((c) => c.args[0].input.PolicyName === name);
  return JSON.parse(call?.args[0].input.PolicyDocument ?? 'null') as IamPolicyDocument;
};

const resourcesOf = (document: IamPolicyDocument) =>
  document.Statement.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource ?? '']));

describe('createInstanceRole', () => {
  const { roleName, path } = instanceRoleIdentity('AmiBuilder', makeBuildState());

  beforeEach(() => {
    iamMock.reset();
    iamMock.on(CreateRoleCommand).resolves({});
    iamMock.on(PutRolePolicyCommand).resolves({});
    iamMock.on(CreateInstanceProfileCommand).resolves({});
    iamMock
      .on(GetInstanceProfileCommand)
      .resolves({ InstanceProfile: { InstanceProfileName: roleName, Path: path, Roles: [] } as never });
    iamMock.on(AddRoleToInstanceProfileCommand).resolves({});
  });
  afterEach(() => iamMock.reset());

  it('creates the role under the execution’s path with the boundary, its policy and its profile', async () => {
    // Act
    const info = await createInstanceRole(event(), deps);

    // Assess
    expect(info).toEqual({ instanceProfileName: roleName, temporary: true, roleName, path });
    expect(path).toBe('/ami-builder/AmiBuilder/build-2024-01-02/');
    expect(roleName.length).toBeLessThanOrEqual(64);
    const create = iamMock.commandCalls(CreateRoleCommand)[0]?.args[0].input;
    expect(create).toMatchObject({ RoleName: roleName, Path: path, PermissionsBoundary: BOUNDARY });
    expect(JSON.parse(create?.AssumeRolePolicyDocument ?? '{}').Statement[0].Principal).toEqual({
      Service: 'ec2.amazonaws.com',
    });
    expect(create?.Tags).toContainEqual({ Key: 'ami-builder:stack', Value: 'AmiBuilder' });
    expect(iamMock.commandCalls(AddRoleToInstanceProfileCommand)[0]?.args[0].input).toEqual({
      InstanceProfileName: roleName,
      RoleName: roleName,
    });
  });

  it('grants only this build’s staged folder, its bundle keys and the command log group, and no S3 or SSM read on *', async () => {
    // Act
    await createInstanceRole(
      event({ config: { bundle: { bucket: 'my-bundles', keyPrefix: 'amis', prefix: 'web-1' } } }),
      deps,
    );

    // Assess
    const policy = policyOf('ami-builder-build');
    const resources = resourcesOf(policy);
    expect(resources).toContain('arn:aws:s3:::staging-bucket/staging/build-2024-01-02/amazon-instance/*');
    expect(resources).toContain('arn:aws:s3:::my-bundles/amis/web-1.*');
    expect(resources).toContain('arn:aws:logs:us-east-1:123456789012:log-group:/ami-builder/commands:*');
    for (const statement of policy.Statement) {
      const actions = [statement.Action].flat();
      if (statement.Resource === '*') {
        expect(actions.filter((a) => a.startsWith('s3:') || a.startsWith('ssm:GetParameter'))).toEqual([]);
      }
    }
    expect(JSON.stringify(policy)).not.toMatch(/ssm:GetParameter/);
    const list = policy.Statement.find((s) => s.Sid === 'ListStagedFolder');
    expect(list?.Condition).toEqual({
      StringLike: { 's3:prefix': ['staging/build-2024-01-02/amazon-instance/*'] },
    });
  });

  it('escapes IAM wildcards in a bundle prefix, so that it matches only itself', async () => {
    // Act
    await createInstanceRole(
      event({ config: { bundle: { bucket: 'my-bundles', keyPrefix: '', prefix: 'a*b?' } } }),
      deps,
    );

    // Assess
    expect(resourcesOf(policyOf('ami-builder-build'))).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM's own escapes for a literal * and ?
      'arn:aws:s3:::my-bundles/a${*}b${?}.*',
    );
  });

  it('adds the template’s policy document as a second inline policy', async () => {
    // Prepare
    const document: IamPolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::team-assets/*'] }],
    };

    // Act
    await createInstanceRole(event({ config: { temporaryIamPolicyDocument: document } }), deps);

    // Assess
    expect(policyOf('template-policy-document')).toEqual(document);
    expect(iamMock.commandCalls(PutRolePolicyCommand)).toHaveLength(2);
  });

  it('fails with InstanceRoleError when IAM refuses the template’s document', async () => {
    // Prepare
    iamMock
      .on(PutRolePolicyCommand, { PolicyName: 'template-policy-document' })
      .rejects(awsError('MalformedPolicyDocument', 'Policy document should not specify a principal.'));

    // Act
    const result = createInstanceRole(
      event({
        config: {
          temporaryIamPolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
          },
        },
      }),
      deps,
    );

    // Assess
    await expect(result).rejects.toMatchObject({
      name: 'InstanceRoleError',
      message: expect.stringContaining('temporary_iam_instance_profile_policy_document'),
    });
  });

  it('completes what an earlier attempt started: an existing role and profile are reused, not duplicated', async () => {
    // Prepare
    iamMock
      .on(CreateRoleCommand)
      .rejects(awsError('EntityAlreadyExists', `Role with name ${roleName} already exists.`, 409));
    iamMock.on(GetRoleCommand).resolves({
      Role: {
        RoleName: roleName,
        Path: path,
        PermissionsBoundary: { PermissionsBoundaryArn: BOUNDARY },
      } as never,
    });
    iamMock.on(CreateInstanceProfileCommand).rejects(awsError('EntityAlreadyExists', 'exists', 409));
    iamMock.on(GetInstanceProfileCommand).resolves({
      InstanceProfile: {
        InstanceProfileName: roleName,
        Path: path,
        Roles: [{ RoleName: roleName }],
      } as never,
    });

    // Act
    const info = await createInstanceRole(event(), deps);

    // Assess
    expect(info.instanceProfileName).toBe(roleName);
    expect(iamMock.commandCalls(AddRoleToInstanceProfileCommand)).toHaveLength(0);
    expect(iamMock.commandCalls(PutRolePolicyCommand)).toHaveLength(1);
  });

  it('refuses a same-named role that lacks the stack’s boundary', async () => {
    // Prepare
    iamMock.on(CreateRoleCommand).rejects(awsError('EntityAlreadyExists', 'exists', 409));
    iamMock.on(GetRoleCommand).resolves({ Role: { RoleName: roleName, Path: path } as never });

    // Act
    const result = createInstanceRole(event(), deps);

    // Assess
    await expect(result).rejects.toMatchObject({
      name: 'InstanceRoleError',
      message: expect.stringContaining('boundary none'),
    });
    expect(iamMock.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
  });

  it('retries when IAM does not see the new role yet', async () => {
    // Prepare
    iamMock
      .on(AddRoleToInstanceProfileCommand)
      .rejects(awsError('NoSuchEntity', 'The role cannot be found.', 404));

    // Act
    const result = createInstanceRole(event(), deps);

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'AwsTransientError' });
  });

  it('creates nothing for a template that names an allowed instance profile', async () => {
    // Act
    const info = await createInstanceRole(event({ config: { iamInstanceProfile: 'legacy-builder' } }), deps);

    // Assess
    expect(info).toEqual({ instanceProfileName: 'legacy-builder', temporary: false });
    expect(iamMock.calls()).toHaveLength(0);
  });

  it('fails with InstanceProfileNotAllowedError for a profile the stack does not allow', async () => {
    // Act
    const result = createInstanceRole(event({ config: { iamInstanceProfile: 'admin' } }), deps);

    // Assess
    await expect(result).rejects.toMatchObject({
      name: 'InstanceProfileNotAllowedError',
      message: expect.stringContaining('Allowed profiles: legacy-builder'),
    });
    expect(iamMock.calls()).toHaveLength(0);
  });
});
