import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/config.js';
import { TASK_ID_METADATA_KEY } from '../../infra/constructs/task-function.js';
import { DOC_PERMISSION_CONTEXT } from '../../infra/diagram.js';
import { taskGrants } from '../../infra/permissions.js';
import { type TaskId, Tasks } from '../../infra/tasks.js';
import { buildInstancePolicy, stackRolePath } from '../../lambdas/shared/instance-role.js';
import { makeBuildState } from '../lambdas/fixtures.js';
import { FULL_CONTEXT, type Synthesized, synth } from './synth.js';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

let full: Synthesized;
let resources: Resources;
/** Every statement of every task role's policy, by task. */
let statementsByTask: Record<TaskId, Statement[]>;

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const ROLE_PATH = stackRolePath(String(FULL_CONTEXT.stackName));

beforeAll(() => {
  full = synth(FULL_CONTEXT);
  resources = full.template.toJSON().Resources as Resources;
  const roleOfTask = new Map<string, TaskId>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const role = (r.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    roleOfTask.set(role, r.Metadata?.[TASK_ID_METADATA_KEY] as TaskId);
  }
  statementsByTask = {} as Record<TaskId, Statement[]>;
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    for (const role of r.Properties.Roles as { Ref: string }[]) {
      const task = roleOfTask.get(role.Ref);
      if (task === undefined) continue;
      const statements = (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
      statementsByTask[task] = [...(statementsByTask[task] ?? []), ...statements];
    }
  }
});

const withSid = (task: TaskId, sid: string): Statement => {
  const found = statementsByTask[task]?.find((s) => s.Sid === sid);
  if (found === undefined) throw new Error(`${task} has no statement ${sid}`);
  return found;
};

describe('IAM', () => {
  it('gives every task its own role', () => {
    expect(Object.keys(statementsByTask).sort()).toEqual(Object.keys(Tasks).sort());
  });

  it('has no "*" in any action of any policy in the stack', () => {
    // Prepare
    const actions = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::Role')
      .flatMap((r) => {
        const docs = [
          r.Properties.PolicyDocument,
          ...((r.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map(
            (p) => p.PolicyDocument,
          ),
        ].filter((d) => d !== undefined) as { Statement: Statement[] }[];
        return docs.flatMap((d) => d.Statement.flatMap((s) => list(s.Action)));
      });

    // Assess
    expect(actions.length).toBeGreaterThan(50);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('lets Launch Instance pass only the temporary roles under the stack’s path and the configured roles, and only to EC2', () => {
    // Prepare
    const passRole = Object.entries(statementsByTask).flatMap(([task, statements]) =>
      statements.filter((s) => list(s.Action).includes('iam:PassRole')).map((s) => [task, s.Sid] as const),
    );

    // Assess
    expect(passRole).toEqual([
      ['CreateInstanceRole', 'AddInstanceRolesToProfiles'],
      ['LaunchInstance', 'PassBuildInstanceRoles'],
      ['LaunchTestInstance', 'PassBuildInstanceRoles'],
    ]);
    expect(withSid('LaunchTestInstance', 'PassBuildInstanceRoles')).toEqual(
      withSid('LaunchInstance', 'PassBuildInstanceRoles'),
    );
    // (cdk.json's minimizePolicies orders the resources as it merges: compare them as a set.)
    expect(withSid('LaunchInstance', 'PassBuildInstanceRoles')).toEqual({
      Sid: 'PassBuildInstanceRoles',
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: expect.arrayContaining([
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:role${ROLE_PATH}*`],
          ],
        },
        'arn:aws:iam::123456789012:role/legacy-builder',
      ]),
      Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    });
    expect(withSid('LaunchInstance', 'PassBuildInstanceRoles').Resource).toHaveLength(2);
    expect(JSON.stringify(withSid('CreateInstanceRole', 'AddInstanceRolesToProfiles').Resource)).toContain(
      `:role${ROLE_PATH}*`,
    );
  });

  it('creates temporary roles only with the stack’s permissions boundary, and touches IAM only under the stack’s path', () => {
    // Prepare
    const boundary = Object.entries(resources).find(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy');
    const iamStatements = Object.values(statementsByTask)
      .flat()
      .filter((s) => list(s.Action).some((a) => a.startsWith('iam:')));

    // Assess
    expect(boundary?.[1].Properties.Path).toBe(ROLE_PATH);
    const writes = iamStatements.filter((s) =>
      list(s.Action).some((a) => ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy'].includes(a)),
    );
    expect(writes.map((s) => s.Sid).sort()).toEqual([
      'CreateBoundedInstanceRoles',
      'DeleteTemporaryInstanceRolePolicies',
      'DeleteTemporaryInstanceRolePolicies',
      'RepointKeptInstanceRoles',
    ]);
    for (const statement of writes) {
      expect(statement.Condition, statement.Sid).toEqual({
        StringEquals: { 'iam:PermissionsBoundary': { Ref: boundary?.[0] } },
      });
    }
    expect(withSid('CreateInstanceRole', 'CreateBoundedInstanceRoles').Action).toEqual([
      'iam:CreateRole',
      'iam:PutRolePolicy',
    ]);
    for (const statement of iamStatements) {
      const actions = list(statement.Action);
      if (actions.every((a) => a === 'iam:ListRoles' || a === 'iam:ListInstanceProfiles')) continue;
      for (const resource of list(statement.Resource).map((r) => JSON.stringify(r))) {
        expect(resource, statement.Sid).toMatch(
          new RegExp(`:(role|instance-profile)${ROLE_PATH.replace(/\//g, '\\/')}\\*|role/legacy-builder`),
        );
      }
    }
  });

  it('gives the build instance no S3 or SSM read on * and no managed policy granting one', () => {
    // Prepare
    const instanceRoles = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Role' &&
        JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'),
    );
    const managedPolicyArns = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Role')
      .flatMap((r) => (r.Properties.ManagedPolicyArns as unknown[] | undefined) ?? []);
    const boundary = Object.values(resources).find((r) => r.Type === 'AWS::IAM::ManagedPolicy');
    const boundaryStatements =
      (boundary?.Properties.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [];
    const perBuild = buildInstancePolicy(makeBuildState(), {
      partition: 'aws',
      account: '123456789012',
      region: 'us-east-1',
      stagingBucket: 'staging-bucket',
      commandLogGroup: '/ami-builder/commands',
    }).Statement as Statement[];
    const reads = /^(s3:|ssm:GetParameter)/;

    // Assess
    expect(instanceRoles).toEqual([]);
    expect(JSON.stringify(managedPolicyArns)).not.toMatch(/AmazonSSMManagedInstanceCore|ReadOnly|S3|SSM/);
    for (const statement of [...boundaryStatements, ...perBuild]) {
      const actions = list(statement.Action);
      expect(
        actions.filter((a) => a.startsWith('ssm:GetParameter') || a.includes('*')),
        statement.Sid,
      ).toEqual([]);
      if (list(statement.Resource).includes('*')) {
        expect(
          actions.filter((a) => reads.test(a)),
          statement.Sid,
        ).toEqual([]);
      }
      for (const resource of list(statement.Resource).map((r) => JSON.stringify(r))) {
        expect(resource, statement.Sid).not.toMatch(/:s3:::\*|:parameter/);
      }
    }
    expect(perBuild.flatMap((s) => list(s.Resource))).toEqual(
      expect.arrayContaining([
        'arn:aws:s3:::staging-bucket/staging/build-2024-01-02/amazon-instance/*',
        expect.stringMatching(/^arn:aws:s3:::[^*]+\/[^*]+\.\*$/),
      ]),
    );
  });

  it('terminates, deletes, deregisters and changes AMIs and snapshots only on resources tagged by this stack', () => {
    const tagged = { StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' } };
    const guarded: [TaskId, string][] = [
      ['TerminateInstance', 'ec2:TerminateInstances'],
      ['AbortCleanup', 'ec2:TerminateInstances'],
      ['DeleteTemporaryResources', 'ec2:DeleteSecurityGroup'],
      ['AbortCleanup', 'ec2:DeleteSecurityGroup'],
      ['ForceDeregister', 'ec2:DeleteSnapshot'],
      ['FinishImage', 'ec2:ModifyImageAttribute'],
      ['FinishImage', 'ec2:EnableImageDeprecation'],
      ['FinishImage', 'ec2:EnableImageDeregistrationProtection'],
      ['FinishImage', 'ec2:CreateTags'],
    ];
    for (const [task, action] of guarded) {
      const statements = (statementsByTask[task] ?? []).filter((s) => list(s.Action).includes(action));
      expect(statements, `${task} ${action}`).not.toHaveLength(0);
      for (const s of statements) expect(s.Condition, `${task} ${action}`).toEqual(tagged);
    }
    expect(withSid('ForceDeregister', 'DeregisterStackImages')).toMatchObject({
      Action: 'ec2:DeregisterImage',
      Condition: tagged,
    });
  });

  it('names every destructive or modifying action in a statement with a tag condition or a key/path limit', () => {
    // Prepare: the actions that terminate, delete, deregister, modify, overwrite or tag.
    const destructive =
      /^(ec2:(Terminate|Delete|Deregister|Modify|Enable|Disable|Reset|CreateTags)|s3:(DeleteObject|PutObject)|ssm:(PutParameter|AddTagsToResource|Delete))/;
    const tagConditions =
      /ResourceTag\/ami-builder:stack|RequestTag\/ami-builder:stack|ec2:CreateAction|ssm:Overwrite/;
    const findings: string[] = [];

    // Act
    for (const [task, statements] of Object.entries(statementsByTask)) {
      for (const s of statements) {
        for (const action of list(s.Action).filter((a) => destructive.test(a))) {
          const condition = JSON.stringify(s.Condition ?? {});
          const resources = list(s.Resource).map((r) => JSON.stringify(r));
          const byTag = tagConditions.test(condition);
          // S3 objects: the staging prefix, bundle-shaped keys, or EC2's copy bucket.
          const byKey = resources.every((r) =>
            /StagingBucket.*\/staging\/\*|\*\.manifest\.xml|\*\.part\.\*|amis-for-/.test(r),
          );
          const foreignAdoption = s.Sid === 'DeregisterForeignImages';
          if (!byTag && !byKey && !foreignAdoption) findings.push(`${task}/${s.Sid}: ${action}`);
        }
      }
    }

    // Assess
    expect(findings).toEqual([]);
  });

  it('deletes bundle objects only at bundle keys (manifest and parts) of the allowed buckets', () => {
    // Prepare
    const statement = withSid('ForceDeregister', 'DeleteDeregisteredBundles');
    const deleters = Object.entries(statementsByTask).flatMap(([task, statements]) =>
      statements.filter((s) => list(s.Action).includes('s3:DeleteObject')).map((s) => `${task}/${s.Sid}`),
    );

    // Assess
    expect(statement.Action).toBe('s3:DeleteObject');
    expect(
      list(statement.Resource)
        .map((r) => JSON.stringify(r).replace(/\{"Ref":"AWS::Partition"\}/, 'aws'))
        .sort(),
    ).toEqual(
      [
        '{"Fn::Join":["",["arn:",aws,":s3:::ami-builder-*/*.manifest.xml"]]}',
        '{"Fn::Join":["",["arn:",aws,":s3:::team-amis/*.manifest.xml"]]}',
        '{"Fn::Join":["",["arn:",aws,":s3:::ami-builder-*/*.part.*"]]}',
        '{"Fn::Join":["",["arn:",aws,":s3:::team-amis/*.part.*"]]}',
      ].sort(),
    );
    expect(deleters.sort()).toEqual(
      [
        'AbortCleanup/DeleteStagedFiles',
        'ApplyRetention/DeleteRetiredBundles',
        'DeleteTemporaryResources/DeleteStagedFiles',
        'ForceDeregister/DeleteDeregisteredBundles',
        'SendCommand/StageCommandFiles',
        'SweepOrphans/DeleteFailedBuildBundles',
      ].sort(),
    );
  });

  it('deregisters foreign images only with adoptForeignImages, and then only this account’s', () => {
    // Prepare
    const without = synth({ ...FULL_CONTEXT, adoptForeignImages: false, schedules: [] });
    const policies = Object.values(without.template.toJSON().Resources as Resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy',
    );
    const deregisters = policies.flatMap((r) =>
      (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter((s) =>
        list(s.Action).includes('ec2:DeregisterImage'),
      ),
    );

    // Assess
    expect(deregisters.map((s) => [s.Sid, s.Condition]).sort()).toEqual([
      [
        'DeregisterFailedBuildImages',
        { StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' } },
      ],
      ['DeregisterStackImages', { StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' } }],
      ['RetireStackImages', { StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' } }],
    ]);
    expect(withSid('ForceDeregister', 'DeregisterForeignImages').Condition).toEqual({
      StringEquals: { 'ec2:Owner': { Ref: 'AWS::AccountId' } },
    });
    const environment = (r: Resources[string]) =>
      (r.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const withoutFunctions = Object.values(without.template.toJSON().Resources as Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_ID_METADATA_KEY] !== undefined,
    );
    expect(new Set(withoutFunctions.map((r) => environment(r).ADOPT_FOREIGN_IMAGES))).toEqual(
      new Set(['false']),
    );
    const fullFunctions = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_ID_METADATA_KEY] !== undefined,
    );
    expect(new Set(fullFunctions.map((r) => environment(r).ADOPT_FOREIGN_IMAGES))).toEqual(new Set(['true']));
  });

  it('creates instances, security groups and images only with the stack tag, and tags only while creating', () => {
    const requestTag = { StringEquals: { 'aws:RequestTag/ami-builder:stack': 'ImageFactory' } };
    expect(withSid('LaunchInstance', 'RunTaggedInstance').Condition).toEqual(requestTag);
    expect(withSid('CreateSecurityGroup', 'CreateTaggedSecurityGroup').Condition).toEqual(requestTag);
    expect(withSid('RegisterImage', 'RegisterTaggedImage').Condition).toEqual(requestTag);
    expect(withSid('CopyImage', 'CopyToTaggedImage').Condition).toEqual(requestTag);
    for (const [task, sid, action] of [
      ['LaunchInstance', 'TagInstanceOnLaunch', 'RunInstances'],
      ['CreateSecurityGroup', 'TagSecurityGroupOnCreate', 'CreateSecurityGroup'],
      ['RegisterImage', 'TagImageOnRegister', 'RegisterImage'],
      ['CopyImage', 'TagImageOnCopy', 'CopyImage'],
    ] as [TaskId, string, string][]) {
      expect(withSid(task, sid).Condition, sid).toEqual({ StringEquals: { 'ec2:CreateAction': action } });
    }
    // Every CreateTags outside FinishImage, ForceDeregister (the tag of an AMI whose ami_test failed) and Adopt
    // Kept Resources is tied to a create action.
    for (const [task, statements] of Object.entries(statementsByTask)) {
      for (const s of statements.filter((x) => list(x.Action).includes('ec2:CreateTags'))) {
        expect(Object.keys(s.Condition?.StringEquals ?? {}), task).toEqual(
          task === 'FinishImage' || task === 'ForceDeregister' || task === 'AdoptKeptResources'
            ? ['ec2:ResourceTag/ami-builder:stack']
            : ['ec2:CreateAction'],
        );
      }
    }
    expect(withSid('ForceDeregister', 'TagFailedTestImages').Condition).toEqual({
      StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['ami-builder:ami-test'] },
    });
    // The test instance is launched only from images tagged by this stack.
    expect(withSid('LaunchTestInstance', 'RunFromStackImages').Condition).toEqual({
      StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' },
    });
    expect(withSid('LaunchTestInstance', 'RunTaggedTestInstance').Condition).toEqual(requestTag);
    // A resumed build re-tags what the failed build kept: this stack's resources, and never their stack tag.
    const adoptionKeys = {
      'ForAllValues:StringEquals': {
        'aws:TagKeys': [
          'ami-builder:execution',
          'ami-builder:build',
          'ami-builder:on-error',
          'ami-builder:resumed-from',
        ],
      },
    };
    expect(withSid('AdoptKeptResources', 'RetagKeptResources').Condition).toEqual({
      StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'ImageFactory' },
      ...adoptionKeys,
    });
    expect(withSid('AdoptKeptResources', 'RetagKeptInstanceRoles').Condition).toEqual(adoptionKeys);
  });

  it('sends commands only with the stack’s document to instances tagged by this stack', () => {
    expect(withSid('SendCommand', 'SendStackCommandDocument').Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':ssm:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':document/',
          { Ref: expect.stringMatching(/^Commands/) },
        ],
      ],
    });
    expect(withSid('SendCommand', 'SendCommandToStackInstances').Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/ami-builder:stack': 'ImageFactory' },
    });
    expect(withSid('SendCommand', 'DecryptX509ParametersViaSsm').Condition).toEqual({
      StringLike: { 'kms:ViaService': 'ssm.*.amazonaws.com' },
    });
    expect(JSON.stringify(withSid('SendCommand', 'ReadX509Parameters').Resource)).toContain(
      ':parameter/images/x509/*',
    );
  });

  it('creates AMI-id parameters only under the configured path and overwrites only those tagged by this stack', () => {
    // Prepare
    const writers = Object.entries(statementsByTask).filter(([, statements]) =>
      statements.some((s) =>
        list(s.Action).some((a) => a === 'ssm:PutParameter' || a === 'ssm:AddTagsToResource'),
      ),
    );
    const publish = statementsByTask.PublishAmiIds.filter((s) => s.Sid !== 'WriteOwnLogs');

    // Assess
    for (const statement of publish.filter((s) => JSON.stringify(s.Action).includes('ssm:'))) {
      expect(JSON.stringify(statement.Resource), statement.Sid).toContain(':parameter/images/*');
    }
    expect(withSid('PublishAmiIds', 'CreateAmiIdParameters')).toMatchObject({
      Action: 'ssm:PutParameter',
      Condition: { StringEqualsIfExists: { 'ssm:Overwrite': 'false' } },
    });
    expect(withSid('PublishAmiIds', 'OverwriteStackAmiIdParameters')).toMatchObject({
      Action: 'ssm:PutParameter',
      Condition: {
        StringEquals: { 'ssm:Overwrite': 'true', 'ssm:resourceTag/ami-builder:stack': 'ImageFactory' },
      },
    });
    expect(withSid('PublishAmiIds', 'TagCreatedAmiIdParameters')).toMatchObject({
      Action: 'ssm:AddTagsToResource',
      Condition: {
        StringEquals: { 'aws:RequestTag/ami-builder:stack': 'ImageFactory' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['ami-builder:stack'] },
      },
    });
    const puts = publish.filter((s) => list(s.Action).includes('ssm:PutParameter'));
    expect(puts.map((s) => s.Sid).sort()).toEqual(['CreateAmiIdParameters', 'OverwriteStackAmiIdParameters']);
    expect(writers.map(([task]) => task)).toEqual(['PublishAmiIds']);
  });

  it('limits bucket access to the configured bundle-bucket patterns and the staging prefix', () => {
    // Prepare
    const s3Statements = Object.values(statementsByTask)
      .flat()
      .filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    const everyBucket = /:s3:::\*"\]\]\}$/;

    // Assess
    expect(s3Statements.length).toBeGreaterThan(10);
    let allBuckets = 0;
    for (const statement of s3Statements) {
      for (const resource of list(statement.Resource).map((r) => JSON.stringify(r))) {
        expect(resource, statement.Sid).toMatch(/ami-builder-\*|team-amis|StagingBucket|amis-for-|s3:::\*"/);
        // Only the listing EC2 needs to find the copy bucket may name every bucket.
        if (everyBucket.test(resource)) {
          allBuckets += 1;
          expect(statement.Action, statement.Sid).toBe('s3:ListAllMyBuckets');
        }
      }
    }
    expect(allBuckets).toBe(1);
  });

  it('grants Abort Cleanup only the executions of this state machine', () => {
    expect(withSid('AbortCleanup', 'DescribeBuildExecutions').Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:ImageFactory-builds:*',
        ],
      ],
    });
  });

  it('matches every task’s grants to the AWS calls its code makes, and the reverse', () => {
    // Prepare
    const grants = taskGrants(DOC_PERMISSION_CONTEXT);

    // Assess
    for (const taskId of Object.keys(Tasks) as TaskId[]) {
      const calls = sdkCalls(taskId);
      const needed = new Set(calls.flatMap((c) => CALL_ACTIONS[c] ?? [c]));
      const allowedExtra = new Set(calls.flatMap((c) => IMPLIED_ACTIONS[c] ?? []));
      const granted = new Set(grants[taskId].flatMap((g) => g.actions));
      expect(
        [...needed].filter((a) => !granted.has(a)),
        `${taskId} calls without a grant`,
      ).toEqual([]);
      expect(
        [...granted].filter((a) => !needed.has(a) && !allowedExtra.has(a)),
        `${taskId} grants without a call`,
      ).toEqual([]);
    }
  });

  it('synthesizes the grants of infra/permissions.ts into each task role', () => {
    for (const [taskId, statements] of Object.entries(statementsByTask)) {
      const sids = statements.map((s) => s.Sid).filter((s) => s !== undefined);
      const expected = taskGrants(DOC_PERMISSION_CONTEXT)[taskId as TaskId].map((g) => g.sid);
      expect(
        sids.filter(
          (s) => s !== 'WriteOwnLogs' && s !== 'PublishBuildSummary' && s !== 'EncryptBuildSummary',
        ),
        taskId,
      ).toEqual(expected.filter((s) => s !== 'PublishBuildSummary' && s !== 'EncryptBuildSummary'));
    }
    expect(withSid('Notify', 'PublishBuildSummary').Action).toBe('sns:Publish');
  });
});

/** The IAM action(s) an SDK command needs when its name differs from the action. */
const CALL_ACTIONS: Record<string, string[]> = {
  'lambda:Invoke': ['lambda:InvokeFunction'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:HeadObject': ['s3:GetObject'],
  's3:HeadBucket': ['s3:ListBucket'],
  's3:DeleteObjects': ['s3:DeleteObject'],
  's3:CopyObject': ['s3:GetObject', 's3:PutObject'],
  's3:PutPublicAccessBlock': ['s3:PutBucketPublicAccessBlock'],
  's3:PutBucketEncryption': ['s3:PutEncryptionConfiguration'],
};

/** Actions AWS checks on the caller's behalf inside a call (documented per service). */
const IMPLIED_ACTIONS: Record<string, string[]> = {
  // TagSpecifications on create calls; the instance profile's role.
  'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole'],
  // Tags on the create calls; AddRoleToInstanceProfile checks iam:PassRole on the role it adds.
  'iam:CreateRole': ['iam:TagRole'],
  'iam:CreateInstanceProfile': ['iam:TagInstanceProfile'],
  'iam:AddRoleToInstanceProfile': ['iam:PassRole'],
  'ec2:CreateSecurityGroup': ['ec2:CreateTags'],
  'ec2:RegisterImage': ['ec2:CreateTags'],
  // CopyImage of an instance-store AMI reads the source bundle and writes the copy's bucket as the caller.
  'ec2:CopyImage': [
    'ec2:CreateTags',
    's3:CreateBucket',
    's3:PutBucketOwnershipControls',
    's3:GetBucketAcl',
    's3:ListAllMyBuckets',
    's3:GetObject',
    's3:PutObject',
    's3:PutObjectAcl',
  ],
  // Sharing with organizations / OUs.
  'ec2:ModifyImageAttribute': [
    'organizations:DescribeOrganization',
    'organizations:DescribeOrganizationalUnit',
  ],
  // CreateBucket with ObjectOwnership.
  's3:CreateBucket': ['s3:PutBucketOwnershipControls'],
  // SecureString decryption.
  'ssm:GetParameter': ['kms:Decrypt'],
  // PutParameter with Tags; a value of data type aws:ec2:image is checked against the caller's DescribeImages.
  'ssm:PutParameter': ['ssm:AddTagsToResource', 'ec2:DescribeImages'],
  // Publishing to a KMS-encrypted topic.
  'sns:Publish': ['kms:GenerateDataKey', 'kms:Decrypt'],
};

const SDK_SERVICES: Record<string, string> = {
  ec2: 'ec2',
  ssm: 'ssm',
  s3: 's3',
  sts: 'sts',
  sfn: 'states',
  eventbridge: 'events',
  'cloudwatch-logs': 'logs',
  sns: 'sns',
  iam: 'iam',
  lambda: 'lambda',
};

/** `service:Operation` of every SDK command a task's handler module (and what it imports) sends. */
function sdkCalls(taskId: TaskId): string[] {
  const seen = new Set<string>();
  const pending = [join(repoRoot, Tasks[taskId])];
  const calls = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // `import type` brings in no code, so no call (the type's module may call what this task never does).
    for (const m of text.matchAll(/(?:import|export)\s+(type\s+)?[^;]*?from\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      if (m[1] !== undefined) continue;
      const next = resolve(dirname(file), `${m[2]}.ts`);
      if (existsSync(next)) pending.push(next);
    }
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      const service = SDK_SERVICES[m[2] as string];
      if (service === undefined) throw new Error(`${file}: unknown SDK client ${m[2]}`);
      for (const raw of (m[1] as string).split(',')) {
        const name =
          raw
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0] ?? '';
        if (name.endsWith('Command') && new RegExp(`new ${name}\\(`).test(text)) {
          calls.add(`${service}:${name.slice(0, -'Command'.length)}`);
        }
      }
    }
  }
  return [...calls].sort();
}
