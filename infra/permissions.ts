/**
 * Least privilege, task by task: every AWS action a Lambda task calls, on the narrowest resources EC2, S3, SSM
 * and IAM support, with tag conditions where resources are addressed by tag. docs/IAM.md is generated from this
 * file (`npx tsx infra/diagram.ts`).
 *
 * Conventions:
 * - EC2 ARNs use region `*`: a build runs in the template's region and copies to `ami_regions`, which the stack
 *   cannot know.
 * - Whatever a build creates is tagged `ami-builder:stack = <stack name>` at creation (TagSpecifications); the
 *   create calls require that tag (`aws:RequestTag`), and every destructive or modifying action (terminate,
 *   delete a security group, deregister an image, delete a snapshot, change an image's attributes or tags,
 *   overwrite a parameter) requires it on the resource (`ec2:ResourceTag`, `ssm:resourceTag`). The handlers
 *   check the same tags before acting (`lambdas/shared/ownership.ts`).
 * - Where no tag can condition an action (S3 objects), it is limited to the keys builds write: deleting bundle
 *   objects only at bundle keys (`<bucket>/….manifest.xml`, `….part.<n>`) of the allowed buckets.
 * - One exception, off by default: with `adoptForeignImages`, Force Deregister may also deregister this account's
 *   images that the stack did not build (statement `DeregisterForeignImages`, present only then).
 * - Image and snapshot ARNs carry no account; EC2 itself refuses to deregister or modify other accounts' images.
 * - A grant whose resources contain `*` must say why in `wildcardReason`; that text is the cdk-nag
 *   acknowledgement. No action contains `*`.
 */
import { Aws, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { TagKeys } from '../lambdas/shared/tags.js';
import type { ExtraInstanceProfile } from './config.js';
import { bucketArns, bucketObjectArns } from './constructs/build-instance-role.js';
import { acknowledgeWildcardResources, flattenCfnReference } from './constructs/nag.js';
import { STAGING_PREFIX } from './constructs/staging-bucket.js';
import type { TaskFunction } from './constructs/task-function.js';
import type { TaskId } from './tasks.js';

/** The resources the grants name. Plain strings (CloudFormation tokens in the stack; placeholders in the docs). */
export interface PermissionContext {
  /** Value of the `ami-builder:stack` tag. */
  stackName: string;
  partition: string;
  account: string;
  /** The stack's region (where the command document lives). */
  region: string;
  stagingBucketArn: string;
  commandDocumentName: string;
  /** `/ami-builder/<stack>/`: the path of every temporary build-instance role and instance profile. */
  instanceRolePath: string;
  /** ARN of the permissions boundary every temporary build-instance role must be created with. */
  instanceRoleBoundaryArn: string;
  extraInstanceProfiles: ExtraInstanceProfile[];
  bundleBucketPatterns: string[];
  x509ParameterPrefix: string;
  /** Name of the build state machine (Abort Cleanup describes its executions). */
  stateMachineName: string;
  /** ARN of the Abort Cleanup function: Sweep Orphans invokes it for every ended execution it finds. */
  abortCleanupFunctionArn: string;
  /** The SSM parameter path `ami_id_parameter` may name. */
  amiParameterPrefix: string;
  /** The stack's `adoptForeignImages` setting: Force Deregister may deregister images the stack did not build. */
  adoptForeignImages: boolean;
  /** The EventBridge bus build events go to. */
  eventBusName: string;
  /** The notification topic and its KMS key, when the stack has one. */
  notificationTopic?: { topicArn: string; keyArn: string };
}

type Conditions = Record<string, Record<string, string | string[]>>;

/** One IAM statement of a task, with the reason for any wildcard resource. */
export interface TaskGrant {
  /** Statement id: what the grant is for. */
  sid: string;
  actions: string[];
  resources: string[];
  conditions?: Conditions;
  /** Why the resources cannot be narrower; required when one contains `*` (becomes the cdk-nag reason). */
  wildcardReason?: string;
}

const DESCRIBE_REASON =
  'EC2 Describe* and SSM/STS read calls support no resource-level permissions: the Service Authorization Reference lists only "*" for them.';

/** Every task's grants. Tasks without AWS calls have an empty list. */
export function taskGrants(ctx: PermissionContext): Record<TaskId, TaskGrant[]> {
  const { partition: p, account: a } = ctx;
  const ec2 = (type: string) => `arn:${p}:ec2:*:${a}:${type}/*`;
  const images = `arn:${p}:ec2:*::image/*`;
  const snapshots = `arn:${p}:ec2:*::snapshot/*`;
  const stackTag = { [`aws:RequestTag/${TagKeys.stack}`]: ctx.stackName };
  const taggedByStack: Conditions = { StringEquals: { [`ec2:ResourceTag/${TagKeys.stack}`]: ctx.stackName } };
  const createdWithStackTag: Conditions = { StringEquals: stackTag };
  const tagOnCreate = (action: string): Conditions => ({ StringEquals: { 'ec2:CreateAction': action } });

  const stagedObjects = `${ctx.stagingBucketArn}/${STAGING_PREFIX}*`;
  const amiParameters = `arn:${p}:ssm:*:${a}:parameter${ctx.amiParameterPrefix}*`;
  const bundleKeys = (suffix: string) => ctx.bundleBucketPatterns.map((b) => `arn:${p}:s3:::${b}/*${suffix}`);
  const bundleBuckets = bucketArns(ctx.bundleBucketPatterns, p);
  const bundleObjects = bucketObjectArns(ctx.bundleBucketPatterns, p);
  const bundleReason =
    'Bundle buckets are named by each template (s3_bucket); access is limited to the bucket-name patterns the stack is configured to allow (allowedBucketPatterns).';
  const stagedReason = `Each build stages its files under ${STAGING_PREFIX}<execution>/<build>/ in the stack's own staging bucket; the key is known only at run time.`;
  const ec2Reason = (what: string) =>
    `${what} A build runs in the template's region and copies to ami_regions, so the region is "*"; the resource id is only known at run time.`;

  const describe = (sid: string, actions: string[]): TaskGrant => ({
    sid,
    actions,
    resources: ['*'],
    wildcardReason: DESCRIBE_REASON,
  });
  const listStaging: TaskGrant = {
    sid: 'ListStagedFiles',
    actions: ['s3:ListBucket'],
    resources: [ctx.stagingBucketArn],
    conditions: { StringLike: { 's3:prefix': [`${STAGING_PREFIX}*`] } },
  };
  const deleteStaged: TaskGrant = {
    sid: 'DeleteStagedFiles',
    actions: ['s3:DeleteObject'],
    resources: [stagedObjects],
    wildcardReason: stagedReason,
  };
  const terminateTagged: TaskGrant = {
    sid: 'TerminateStackInstances',
    actions: ['ec2:TerminateInstances'],
    resources: [ec2('instance')],
    conditions: taggedByStack,
    wildcardReason: ec2Reason('Only instances tagged ami-builder:stack with this stack (condition).'),
  };
  const deleteTaggedGroups: TaskGrant = {
    sid: 'DeleteStackSecurityGroups',
    actions: ['ec2:DeleteSecurityGroup'],
    resources: [ec2('security-group')],
    conditions: taggedByStack,
    wildcardReason: ec2Reason('Only security groups tagged ami-builder:stack with this stack (condition).'),
  };
  const readUserObjects: TaskGrant = {
    sid: 'ReadReferencedObjects',
    actions: ['s3:GetObject'],
    // The whole staging bucket: the CLI stages local files under staging/, and a template may name the user's own
    // objects elsewhere in the stack's bucket.
    resources: [`${ctx.stagingBucketArn}/*`, ...bundleObjects],
    wildcardReason: `Templates reference S3 objects (scripts, files, user_data_file, X.509 files) in the staging bucket or an allowed bucket; object keys are known only at run time. ${bundleReason}`,
  };

  // ─── Temporary build-instance roles: created, passed and deleted only under the stack's path ───────────────
  const instanceRoles = `arn:${p}:iam::${a}:role${ctx.instanceRolePath}*`;
  const instanceProfiles = `arn:${p}:iam::${a}:instance-profile${ctx.instanceRolePath}*`;
  const withBoundary: Conditions = {
    StringEquals: { 'iam:PermissionsBoundary': ctx.instanceRoleBoundaryArn },
  };
  // A resumed build re-tags what the failed build kept: these keys only, never ami-builder:stack.
  const adoptionTagKeys: Conditions = {
    'ForAllValues:StringEquals': {
      'aws:TagKeys': [TagKeys.execution, TagKeys.build, TagKeys.onError, TagKeys.resumedFrom],
    },
  };
  const rolePathReason = `Temporary build-instance roles and profiles are named per execution and build at run time; only those under the stack's path ${ctx.instanceRolePath} are named.`;
  const deleteInstanceRoles: TaskGrant[] = [
    {
      sid: 'DeleteTemporaryInstanceProfiles',
      actions: ['iam:GetInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:DeleteInstanceProfile'],
      resources: [instanceProfiles],
      wildcardReason: rolePathReason,
    },
    {
      sid: 'DeleteTemporaryInstanceRoles',
      actions: ['iam:GetRole', 'iam:ListRolePolicies', 'iam:DeleteRole'],
      resources: [instanceRoles],
      wildcardReason: rolePathReason,
    },
    {
      sid: 'DeleteTemporaryInstanceRolePolicies',
      actions: ['iam:DeleteRolePolicy'],
      resources: [instanceRoles],
      conditions: withBoundary,
      wildcardReason: `${rolePathReason} Only roles with the stack's permissions boundary (condition).`,
    },
  ];

  // The build event and summary: Notify for builds, Sweep Orphans for what it removed.
  const notify: TaskGrant[] = [
    {
      sid: 'PutBuildEvents',
      actions: ['events:PutEvents'],
      resources: [`arn:${p}:events:${ctx.region}:${a}:event-bus/${ctx.eventBusName}`],
    },
    ...(ctx.notificationTopic === undefined
      ? []
      : [
          {
            sid: 'PublishBuildSummary',
            actions: ['sns:Publish'],
            resources: [ctx.notificationTopic.topicArn],
          },
          {
            sid: 'EncryptBuildSummary',
            actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
            resources: [ctx.notificationTopic.keyArn],
          },
        ]),
  ];
  const findInstanceRoles: TaskGrant[] = [
    {
      sid: 'FindExecutionInstanceRoles',
      actions: ['iam:ListRoles', 'iam:ListInstanceProfiles'],
      resources: ['*'],
      wildcardReason:
        'iam:ListRoles and iam:ListInstanceProfiles support no resource-level permissions; only the stack’s path is listed (PathPrefix) and each role’s tags are read before it is deleted.',
    },
    {
      sid: 'ReadInstanceRoleTags',
      actions: ['iam:ListRoleTags'],
      resources: [instanceRoles],
      wildcardReason: rolePathReason,
    },
  ];
  const describeExecutions = (who: string): TaskGrant => ({
    sid: 'DescribeBuildExecutions',
    actions: ['states:DescribeExecution'],
    resources: [`arn:${p}:states:${ctx.region}:${a}:execution:${ctx.stateMachineName}:*`],
    wildcardReason: `${who}; executions of this state machine only.`,
  });

  return {
    // Validate Template makes no AWS call.
    ValidateTemplate: [],

    // Resuming a failed build (input `resume`): read its execution and check what it kept.
    PrepareResume: [
      {
        sid: 'ReadFailedExecutions',
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: [`arn:${p}:states:${ctx.region}:${a}:execution:${ctx.stateMachineName}:*`],
        wildcardReason:
          'A resumed execution names the failed execution at run time; executions of this state machine only.',
      },
      describe('FindKeptResources', ['ec2:DescribeInstances', 'ec2:DescribeSecurityGroups']),
      {
        sid: 'FindKeptInstanceProfiles',
        actions: ['iam:GetInstanceProfile'],
        resources: [instanceProfiles],
        wildcardReason: rolePathReason,
      },
    ],

    AdoptKeptResources: [
      describe('DescribeKeptResources', ['ec2:DescribeInstances', 'ec2:DescribeSecurityGroups']),
      {
        sid: 'RetagKeptResources',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance'), ec2('security-group')],
        conditions: { ...taggedByStack, ...adoptionTagKeys },
        wildcardReason: ec2Reason(
          'Only instances and groups tagged ami-builder:stack with this stack, and only the execution, build, on-error and resumed-from tags (conditions).',
        ),
      },
      {
        sid: 'RetagKeptInstanceRoles',
        actions: ['iam:ListRoleTags', 'iam:TagRole', 'iam:TagInstanceProfile'],
        resources: [instanceRoles, instanceProfiles],
        conditions: adoptionTagKeys,
        wildcardReason: `${rolePathReason} Only the execution, build, on-error and resumed-from tags (condition).`,
      },
      {
        sid: 'RepointKeptInstanceRoles',
        actions: ['iam:PutRolePolicy'],
        resources: [instanceRoles],
        conditions: withBoundary,
        wildcardReason: `${rolePathReason} Only roles with the stack's permissions boundary (condition).`,
      },
    ],

    Prevalidate: [
      describe('DescribeRegionsAndImages', ['ec2:DescribeRegions', 'ec2:DescribeImages']),
      describe('GetCallerIdentity', ['sts:GetCallerIdentity']),
    ],

    CheckUnchanged: [
      describe('FindUnchangedImages', ['ec2:DescribeImages']),
      { ...readUserObjects, sid: 'DigestReferencedFiles' },
      {
        sid: 'ListReferencedFolders',
        actions: ['s3:ListBucket'],
        resources: [ctx.stagingBucketArn, ...bundleBuckets],
        wildcardReason: `A provisioner's file or folder may be an S3 folder, listed to digest its objects. ${bundleReason}`,
      },
    ],

    EnsureBundleBucket: [
      {
        sid: 'EnsureAllowedBundleBucket',
        actions: [
          's3:GetBucketLocation',
          's3:CreateBucket',
          // CreateBucket with ObjectOwnership (BucketOwnerPreferred, so ec2-upload-bundle's ACLs work) needs it.
          's3:PutBucketOwnershipControls',
          's3:PutBucketPublicAccessBlock',
        ],
        resources: bundleBuckets,
        wildcardReason: bundleReason,
      },
    ],

    CreateSecurityGroup: [
      describe('DescribeNetwork', [
        'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeInstanceTypeOfferings',
      ]),
      {
        sid: 'CreateTaggedSecurityGroup',
        actions: ['ec2:CreateSecurityGroup'],
        resources: [ec2('security-group')],
        conditions: createdWithStackTag,
        wildcardReason: ec2Reason(
          'Only groups created with the tag ami-builder:stack = this stack (condition).',
        ),
      },
      {
        sid: 'CreateSecurityGroupInVpc',
        actions: ['ec2:CreateSecurityGroup'],
        resources: [ec2('vpc')],
        wildcardReason: ec2Reason('CreateSecurityGroup also authorizes the VPC the group is created in.'),
      },
      {
        sid: 'TagSecurityGroupOnCreate',
        actions: ['ec2:CreateTags'],
        resources: [ec2('security-group')],
        conditions: tagOnCreate('CreateSecurityGroup'),
        wildcardReason: ec2Reason(
          'Tagging only as part of CreateSecurityGroup (condition ec2:CreateAction).',
        ),
      },
    ],

    CreateInstanceRole: [
      {
        sid: 'CreateBoundedInstanceRoles',
        actions: ['iam:CreateRole', 'iam:PutRolePolicy'],
        resources: [instanceRoles],
        conditions: withBoundary,
        wildcardReason: `${rolePathReason} Only roles created with the stack's permissions boundary (condition iam:PermissionsBoundary), so no role this task creates or writes can do more than the boundary allows.`,
      },
      {
        sid: 'TagAndFindInstanceRoles',
        actions: ['iam:TagRole', 'iam:GetRole'],
        resources: [instanceRoles],
        wildcardReason: rolePathReason,
      },
      {
        sid: 'CreateInstanceProfiles',
        actions: [
          'iam:CreateInstanceProfile',
          'iam:TagInstanceProfile',
          'iam:GetInstanceProfile',
          'iam:AddRoleToInstanceProfile',
        ],
        resources: [instanceProfiles],
        wildcardReason: rolePathReason,
      },
      {
        // AddRoleToInstanceProfile requires iam:PassRole on the role it adds.
        sid: 'AddInstanceRolesToProfiles',
        actions: ['iam:PassRole'],
        resources: [instanceRoles],
        wildcardReason: rolePathReason,
      },
    ],

    LaunchInstance: [
      {
        sid: 'RunTaggedInstance',
        actions: ['ec2:RunInstances'],
        resources: [ec2('instance')],
        conditions: createdWithStackTag,
        wildcardReason: ec2Reason(
          'Only instances launched with the tag ami-builder:stack = this stack (condition).',
        ),
      },
      {
        sid: 'RunInstanceWithResources',
        actions: ['ec2:RunInstances'],
        resources: [
          images,
          ec2('subnet'),
          ec2('security-group'),
          ec2('network-interface'),
          ec2('volume'),
          ec2('capacity-reservation'),
          ec2('dedicated-host'),
          `arn:${p}:resource-groups:*:${a}:group/*`,
          `arn:${p}:license-manager:*:${a}:license-configuration:*`,
        ],
        wildcardReason: ec2Reason(
          'RunInstances also authorizes the source AMI (any owner: source_ami may be public), the subnet, security groups, the new network interface and volumes, and the capacity reservation, dedicated host / host resource group and license configurations a template may name.',
        ),
      },
      {
        sid: 'TagInstanceOnLaunch',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance'), ec2('volume'), ec2('network-interface')],
        conditions: tagOnCreate('RunInstances'),
        wildcardReason: ec2Reason('Tagging only as part of RunInstances (condition ec2:CreateAction).'),
      },
      describe('DescribeInstances', ['ec2:DescribeInstances']),
      {
        sid: 'PassBuildInstanceRoles',
        actions: ['iam:PassRole'],
        resources: [instanceRoles, ...ctx.extraInstanceProfiles.map((x) => x.roleArn)],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
        wildcardReason: `${rolePathReason} Besides them, only the roles of the configured extraInstanceProfiles.`,
      },
      { ...readUserObjects, sid: 'ReadUserDataFile' },
    ],

    LaunchTestInstance: [
      {
        sid: 'RunTaggedTestInstance',
        actions: ['ec2:RunInstances'],
        resources: [ec2('instance')],
        conditions: createdWithStackTag,
        wildcardReason: ec2Reason(
          'Only instances launched with the tag ami-builder:stack = this stack (condition).',
        ),
      },
      {
        sid: 'RunFromStackImages',
        actions: ['ec2:RunInstances'],
        resources: [images],
        conditions: taggedByStack,
        wildcardReason: ec2Reason(
          'ami_test launches only from images tagged ami-builder:stack with this stack (condition): the AMI the build has just registered (the task also checks its execution and build tags).',
        ),
      },
      {
        sid: 'RunTestInstanceWithResources',
        actions: ['ec2:RunInstances'],
        resources: [ec2('subnet'), ec2('security-group'), ec2('network-interface'), ec2('volume')],
        wildcardReason: ec2Reason(
          "RunInstances also authorizes the build's subnet and security groups and the test instance's new network interface and volumes.",
        ),
      },
      {
        sid: 'TagTestInstanceOnLaunch',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance'), ec2('volume'), ec2('network-interface')],
        conditions: tagOnCreate('RunInstances'),
        wildcardReason: ec2Reason('Tagging only as part of RunInstances (condition ec2:CreateAction).'),
      },
      describe('DescribeImagesAndInstances', ['ec2:DescribeImages', 'ec2:DescribeInstances']),
      {
        sid: 'PassBuildInstanceRoles',
        actions: ['iam:PassRole'],
        resources: [instanceRoles, ...ctx.extraInstanceProfiles.map((x) => x.roleArn)],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
        wildcardReason: `${rolePathReason} Besides them, only the roles of the configured extraInstanceProfiles.`,
      },
    ],

    CheckInstance: [describe('DescribeInstances', ['ec2:DescribeInstances'])],

    CheckAgent: [
      describe('DescribeManagedInstances', ['ssm:DescribeInstanceInformation']),
      describe('DescribeInstances', ['ec2:DescribeInstances']),
    ],

    SendCommand: [
      {
        sid: 'SendStackCommandDocument',
        actions: ['ssm:SendCommand'],
        resources: [`arn:${p}:ssm:${ctx.region}:${a}:document/${ctx.commandDocumentName}`],
      },
      {
        sid: 'SendCommandToStackInstances',
        actions: ['ssm:SendCommand'],
        resources: [ec2('instance')],
        conditions: { StringEquals: { [`ssm:resourceTag/${TagKeys.stack}`]: ctx.stackName } },
        wildcardReason: ec2Reason('Only instances tagged ami-builder:stack with this stack (condition).'),
      },
      describe('FindSentCommands', ['ssm:ListCommands']),
      describe('DescribeInstance', ['ec2:DescribeInstances']),
      {
        sid: 'StageCommandFiles',
        actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
        resources: [stagedObjects],
        wildcardReason: stagedReason,
      },
      { ...readUserObjects, sid: 'ReadReferencedFiles' },
      {
        sid: 'ListStagedAndReferencedFolders',
        actions: ['s3:ListBucket'],
        resources: [ctx.stagingBucketArn, ...bundleBuckets],
        wildcardReason: `A file provisioner's source may be an S3 folder, listed to copy its objects. ${bundleReason}`,
      },
      {
        sid: 'ReadX509Parameters',
        actions: ['ssm:GetParameter'],
        resources: [`arn:${p}:ssm:*:${a}:parameter${ctx.x509ParameterPrefix}*`],
        wildcardReason: `X.509 SecureString parameters are named by templates (ssm:${ctx.x509ParameterPrefix}…); access is limited to that path prefix (x509ParameterPrefix), in any region a build runs in.`,
      },
      {
        sid: 'DecryptX509ParametersViaSsm',
        actions: ['kms:Decrypt'],
        resources: [`arn:${p}:kms:*:${a}:key/*`],
        conditions: { StringLike: { 'kms:ViaService': 'ssm.*.amazonaws.com' } },
        wildcardReason:
          'The key of a SecureString parameter is chosen by whoever wrote it; decryption is allowed only through SSM (condition kms:ViaService) and only for the parameters this task may read.',
      },
    ],

    CheckCommand: [
      describe('ReadCommandStatus', ['ssm:GetCommandInvocation']),
      {
        sid: 'CancelTimedOutCommand',
        actions: ['ssm:CancelCommand'],
        resources: ['*'],
        wildcardReason:
          'A command that outlives its timeout is cancelled; ssm:CancelCommand supports no resource-level permissions (the Service Authorization Reference lists only "*").',
      },
    ],

    ForceDeregister: [
      describe('DescribeImagesAndSnapshots', ['ec2:DescribeImages', 'ec2:DescribeSnapshots']),
      {
        sid: 'DeregisterStackImages',
        actions: ['ec2:DeregisterImage'],
        resources: [images],
        conditions: taggedByStack,
        wildcardReason: ec2Reason(
          'force_deregister removes earlier AMIs named ami_name; only images tagged ami-builder:stack with this stack (condition).',
        ),
      },
      ...(ctx.adoptForeignImages
        ? [
            {
              sid: 'DeregisterForeignImages',
              actions: ['ec2:DeregisterImage'],
              resources: [images],
              conditions: { StringEquals: { 'ec2:Owner': a } },
              wildcardReason: ec2Reason(
                'Present only with the stack setting adoptForeignImages: force_deregister may then replace this account’s AMIs that the stack did not build (teams migrating from Packer); image ARNs carry no account, so the condition ec2:Owner limits it to this account’s images.',
              ),
            },
          ]
        : []),
      {
        sid: 'DeleteStackSnapshots',
        actions: ['ec2:DeleteSnapshot'],
        resources: [snapshots],
        conditions: taggedByStack,
        wildcardReason: ec2Reason(
          'force_delete_snapshot deletes the EBS snapshots of the deregistered AMIs; only snapshots tagged ami-builder:stack with this stack (condition).',
        ),
      },
      {
        sid: 'TagFailedTestImages',
        actions: ['ec2:CreateTags'],
        resources: [images],
        conditions: {
          ...taggedByStack,
          'ForAllValues:StringEquals': { 'aws:TagKeys': [TagKeys.amiTest] },
        },
        wildcardReason: ec2Reason(
          'ami_test with on_failure: keep tags the AMI whose test failed: only images tagged ami-builder:stack with this stack, and only the tag ami-builder:ami-test (conditions).',
        ),
      },
      {
        sid: 'ListDeregisteredBundles',
        actions: ['s3:ListBucket'],
        resources: bundleBuckets,
        wildcardReason: `force_delete_snapshot lists the bundle (parts and manifest) of a deregistered AMI. ${bundleReason}`,
      },
      {
        sid: 'ReadNewBundleManifest',
        actions: ['s3:GetObject'],
        resources: bundleKeys('.manifest.xml'),
        wildcardReason: `The manifest of the bundle this build uploaded lists its parts, which are never deleted. ${bundleReason}`,
      },
      {
        sid: 'DeleteDeregisteredBundles',
        actions: ['s3:DeleteObject'],
        resources: [...bundleKeys('.manifest.xml'), ...bundleKeys('.part.*')],
        wildcardReason: `force_delete_snapshot deletes the bundle of a deregistered AMI: only keys shaped like a bundle's manifest or parts (S3 objects carry no tag IAM can check on delete). ${bundleReason}`,
      },
    ],

    RegisterImage: [
      {
        sid: 'RegisterTaggedImage',
        actions: ['ec2:RegisterImage'],
        resources: [images],
        conditions: createdWithStackTag,
        wildcardReason: ec2Reason(
          'Only images registered with the tag ami-builder:stack = this stack (condition).',
        ),
      },
      {
        sid: 'TagImageOnRegister',
        actions: ['ec2:CreateTags'],
        resources: [images],
        conditions: tagOnCreate('RegisterImage'),
        wildcardReason: ec2Reason('Tagging only as part of RegisterImage (condition ec2:CreateAction).'),
      },
      describe('DescribeImages', ['ec2:DescribeImages']),
    ],

    CheckImage: [describe('DescribeImages', ['ec2:DescribeImages'])],

    CopyImage: [
      {
        sid: 'CopyToTaggedImage',
        actions: ['ec2:CopyImage'],
        resources: [images],
        conditions: createdWithStackTag,
        wildcardReason: ec2Reason(
          'Only copies created with the tag ami-builder:stack = this stack (condition).',
        ),
      },
      {
        sid: 'TagImageOnCopy',
        actions: ['ec2:CreateTags'],
        resources: [images],
        conditions: tagOnCreate('CopyImage'),
        wildcardReason: ec2Reason('Tagging only as part of CopyImage (condition ec2:CreateAction).'),
      },
      describe('DescribeImages', ['ec2:DescribeImages']),
      {
        sid: 'ReadSourceBundle',
        actions: ['s3:GetObject', 's3:GetBucketAcl'],
        resources: [...bundleBuckets, ...bundleObjects],
        wildcardReason: `Copying an instance-store AMI reads its bundle from the source bucket. ${bundleReason}`,
      },
      {
        sid: 'WriteCopiedBundle',
        actions: [
          's3:CreateBucket',
          's3:PutBucketOwnershipControls',
          's3:GetBucketAcl',
          's3:PutObject',
          's3:PutObjectAcl',
          's3:GetObject',
        ],
        resources: [`arn:${p}:s3:::amis-for-${a}-in-*`, `arn:${p}:s3:::amis-for-${a}-in-*/*`],
        wildcardReason:
          'Copying an instance-store AMI makes EC2 create (or reuse) the bucket amis-for-<account>-in-<region>-<suffix> in the target region with the caller’s permissions; the suffix is chosen by EC2.',
      },
      {
        sid: 'FindCopyBucket',
        actions: ['s3:ListAllMyBuckets'],
        resources: [`arn:${p}:s3:::*`],
        wildcardReason:
          'EC2 lists the caller’s buckets to find an existing amis-for-… bucket in the target region; ListAllMyBuckets has no narrower resource.',
      },
    ],

    FinishImage: [
      {
        sid: 'FinishStackImages',
        actions: [
          'ec2:ModifyImageAttribute',
          'ec2:EnableImageDeprecation',
          'ec2:EnableImageDeregistrationProtection',
          'ec2:CreateTags',
        ],
        resources: [images],
        conditions: taggedByStack,
        wildcardReason: ec2Reason('Only images tagged ami-builder:stack with this stack (condition).'),
      },
      describe('DescribeImages', ['ec2:DescribeImages']),
      {
        sid: 'ShareWithOrganizations',
        actions: ['organizations:DescribeOrganization', 'organizations:DescribeOrganizationalUnit'],
        resources: ['*'],
        wildcardReason:
          'Sharing an AMI with ami_org_arns / ami_ou_arns makes EC2 check the organization and OUs with the caller’s permissions; the organization is not known to the stack.',
      },
    ],

    TerminateInstance: [describe('CheckInstanceOwnership', ['ec2:DescribeInstances']), terminateTagged],

    DeleteTemporaryResources: [
      describe('CheckSecurityGroupOwnership', ['ec2:DescribeSecurityGroups']),
      deleteTaggedGroups,
      listStaging,
      deleteStaged,
      ...deleteInstanceRoles,
    ],

    ReportBuild: [
      describe('DescribeImages', ['ec2:DescribeImages']),
      // The cost estimate: the instance's launch and termination times, the bundle's size.
      describe('DescribeBuildInstance', ['ec2:DescribeInstances']),
      {
        sid: 'ListBundleForCost',
        actions: ['s3:ListBucket'],
        resources: bundleBuckets,
        wildcardReason: `Report Build lists the bundle's keys to estimate its storage cost. ${bundleReason}`,
      },
    ],

    SummarizeBuilds: [],

    Notify: notify,

    PublishAmiIds: [
      {
        sid: 'ReadAmiIdParameters',
        actions: ['ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:ListTagsForResource'],
        resources: [amiParameters],
        wildcardReason: `ami_id_parameter is named by each template; limited to the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}), in the build region and every ami_regions region.`,
      },
      {
        sid: 'CreateAmiIdParameters',
        actions: ['ssm:PutParameter'],
        resources: [amiParameters],
        // Without Overwrite, PutParameter cannot change an existing parameter (ParameterAlreadyExists).
        conditions: { StringEqualsIfExists: { 'ssm:Overwrite': 'false' } },
        wildcardReason: `Creates a parameter that does not exist yet, under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}).`,
      },
      {
        sid: 'TagCreatedAmiIdParameters',
        actions: ['ssm:AddTagsToResource'],
        resources: [amiParameters],
        conditions: {
          StringEquals: { [`aws:RequestTag/${TagKeys.stack}`]: ctx.stackName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [TagKeys.stack] },
        },
        wildcardReason: `PutParameter with Tags needs it: only the tag ami-builder:stack = this stack (conditions), under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}).`,
      },
      {
        sid: 'OverwriteStackAmiIdParameters',
        actions: ['ssm:PutParameter'],
        resources: [amiParameters],
        conditions: {
          StringEquals: { 'ssm:Overwrite': 'true', [`ssm:resourceTag/${TagKeys.stack}`]: ctx.stackName },
        },
        wildcardReason: `Overwrites only parameters tagged ami-builder:stack with this stack (condition), under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}).`,
      },
      {
        // Roll Back AMI IDs deletes a parameter a failed build created.
        sid: 'DeleteStackAmiIdParameters',
        actions: ['ssm:DeleteParameter'],
        resources: [amiParameters],
        conditions: { StringEquals: { [`aws:ResourceTag/${TagKeys.stack}`]: ctx.stackName } },
        wildcardReason: `Deletes only parameters tagged ami-builder:stack with this stack (condition), under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}).`,
      },
      // Parameter Store checks that an aws:ec2:image value names an AMI the caller can describe.
      describe('ValidateAmiIds', ['ec2:DescribeImages']),
    ],

    AbortCleanup: [
      describe('FindExecutionResources', [
        'ec2:DescribeRegions',
        'ec2:DescribeInstances',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeImages',
      ]),
      terminateTagged,
      deleteTaggedGroups,
      listStaging,
      deleteStaged,
      ...deleteInstanceRoles,
      ...findInstanceRoles,
      describeExecutions('Abort Cleanup reads the execution named in the status-change event'),
    ],

    ApplyRetention: [
      describe('FindFamilyImagesAndTheirUsers', [
        'ec2:DescribeRegions',
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'ec2:DescribeLaunchTemplateVersions',
      ]),
      {
        sid: 'RetireStackImages',
        actions: ['ec2:EnableImageDeprecation', 'ec2:DeregisterImage'],
        resources: [images],
        conditions: taggedByStack,
        wildcardReason: ec2Reason(
          'Retention deprecates, then deregisters, the images of a family beyond its policy; only images tagged ami-builder:stack with this stack (condition).',
        ),
      },
      {
        sid: 'ListRetiredBundles',
        actions: ['s3:ListBucket'],
        resources: bundleBuckets,
        wildcardReason: `The bundle of a deregistered image is listed to find its parts. ${bundleReason}`,
      },
      {
        sid: 'DeleteRetiredBundles',
        actions: ['s3:DeleteObject'],
        resources: [...bundleKeys('.manifest.xml'), ...bundleKeys('.part.*')],
        wildcardReason: `Deletes the bundle of a deregistered image: only keys shaped like a bundle's manifest or parts (S3 objects carry no tag IAM can check on delete). ${bundleReason}`,
      },
      {
        sid: 'ReadPublishedAmiIds',
        actions: ['ssm:GetParametersByPath'],
        resources: [
          amiParameters,
          `arn:${p}:ssm:*:${a}:parameter${ctx.amiParameterPrefix.replace(/\/$/, '')}`,
        ],
        wildcardReason: `An image an ami_id_parameter points to is never removed; the parameters under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}) are read in each region.`,
      },
    ],

    SweepOrphans: [
      describe('FindStackResources', [
        'ec2:DescribeRegions',
        'ec2:DescribeInstances',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeImages',
      ]),
      describe('GetCallerIdentity', ['sts:GetCallerIdentity']),
      ...findInstanceRoles,
      describeExecutions('Sweep Orphans asks whether the execution that created a resource still runs'),
      {
        sid: 'CleanUpEndedExecutions',
        actions: ['lambda:InvokeFunction'],
        resources: [ctx.abortCleanupFunctionArn],
      },
      listStaging,
      {
        sid: 'DeregisterFailedBuildImages',
        actions: ['ec2:DeregisterImage'],
        resources: [images],
        conditions: taggedByStack,
        wildcardReason: ec2Reason(
          'Images registered by failed builds; only images tagged ami-builder:stack with this stack (condition).',
        ),
      },
      {
        sid: 'ListFailedBuildBundles',
        actions: ['s3:ListBucket'],
        resources: bundleBuckets,
        wildcardReason: `The bundle of a deregistered image is listed to find its parts. ${bundleReason}`,
      },
      {
        sid: 'DeleteFailedBuildBundles',
        actions: ['s3:DeleteObject'],
        resources: [...bundleKeys('.manifest.xml'), ...bundleKeys('.part.*')],
        wildcardReason: `Deletes the bundle of a deregistered image: only keys shaped like a bundle's manifest or parts. ${bundleReason}`,
      },
      {
        sid: 'ReadPublishedAmiIds',
        actions: ['ssm:GetParametersByPath'],
        resources: [
          amiParameters,
          `arn:${p}:ssm:*:${a}:parameter${ctx.amiParameterPrefix.replace(/\/$/, '')}`,
        ],
        wildcardReason: `An image an ami_id_parameter points to is never removed; the parameters under the configured path prefix (amiParameterPrefix ${ctx.amiParameterPrefix}) are read in each region.`,
      },
      ...notify,
    ],
  };
}

/** The context for the stack: CloudFormation pseudo parameters for partition, account and region. */
export function stackPermissionContext(
  values: Omit<PermissionContext, 'partition' | 'account' | 'region'>,
): PermissionContext {
  return { ...values, partition: Aws.PARTITION, account: Aws.ACCOUNT_ID, region: Aws.REGION };
}

/** X-Ray's statement, added by `tracing: ACTIVE` to every task role. */
const XRAY_REASON =
  'X-Ray tracing (tracing: ACTIVE) adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.';

/**
 * Adds each task's grants to its function's role and acknowledges the cdk-nag IAM5 findings of their wildcard
 * resources with the grants' reasons.
 *
 * @throws Error when a grant has a wildcard resource and no `wildcardReason`, or an action with `*`.
 */
export function applyTaskGrants(functions: Record<TaskId, TaskFunction>, ctx: PermissionContext): void {
  const grants = taskGrants(ctx);
  for (const [taskId, fn] of Object.entries(functions) as [TaskId, TaskFunction][]) {
    const stack = Stack.of(fn);
    const reasons: { resources: string[]; reason: string }[] = [{ resources: ['*'], reason: XRAY_REASON }];
    for (const grant of grants[taskId]) {
      const wildcard = grant.resources.some((r) => flattenCfnReference(stack.resolve(r)).includes('*'));
      if (wildcard && grant.wildcardReason === undefined) {
        throw new Error(`${taskId}/${grant.sid}: a wildcard resource needs a wildcardReason`);
      }
      const starAction = grant.actions.find((action) => action.includes('*'));
      if (starAction !== undefined)
        throw new Error(`${taskId}/${grant.sid}: action "${starAction}" has a wildcard`);
      fn.taskRole.addToPolicy(
        new PolicyStatement({
          sid: grant.sid,
          actions: grant.actions,
          resources: grant.resources,
          conditions: grant.conditions,
        }),
      );
      if (grant.wildcardReason !== undefined)
        reasons.push({ resources: grant.resources, reason: grant.wildcardReason });
    }
    acknowledgeWildcardResources(fn.taskRole, reasons);
  }
}
