/**
 * The temporary build-instance role: its name and path, and the inline policy that gives the instance this
 * build's authority and no more (docs/ARCHITECTURE.md, "The build instance's role").
 *
 * Every temporary role and its instance profile live under `/ami-builder/<stack>/<execution>/`, so that
 * - the stack's IAM grants (create, pass, delete) name only that path, never another role of the account;
 * - Abort Cleanup finds an execution's roles by path, without knowing the builds.
 * Each role is created with the stack's permissions boundary, which caps whatever its inline policies say.
 */
import { createHash } from 'node:crypto';
import type { BuildConfig, IamPolicyDocument } from './config.js';
import { safeSegment, stagingPrefix } from './staging-paths.js';
import type { BuildState } from './state.js';

/** First segment of every path the stack's temporary roles live under. */
export const INSTANCE_ROLE_ROOT = '/ami-builder/';

/** `/ami-builder/<stack>/`: every temporary role of the stack. IAM grants name this path. */
export function stackRolePath(stackName: string): string {
  return `${INSTANCE_ROLE_ROOT}${safeSegment(stackName)}/`;
}

/** `/ami-builder/<stack>/<execution name>/`: the temporary roles of one execution (Abort Cleanup lists it). */
export function executionRolePath(stackName: string, executionName: string): string {
  return `${stackRolePath(stackName)}${safeSegment(executionName)}/`;
}

/** IAM role and instance-profile names: at most 64 characters of `[\w+=,.@-]`. */
const MAX_NAME = 64;

/**
 * The role's (and its instance profile's) name: the build name, readable, and a hash of the execution and
 * build, so that a retry or a redrive finds the role of its first attempt and two builds never share one.
 */
export function instanceRoleName(executionId: string, buildName: string): string {
  const hash = createHash('sha256').update(`${executionId}/${buildName}`).digest('hex').slice(0, 12);
  const readable = safeSegment(buildName)
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, MAX_NAME - hash.length - 'build--'.length);
  return `build-${readable}-${hash}`;
}

/** Where the role and its instance profile of one build live. */
export interface InstanceRoleIdentity {
  roleName: string;
  path: string;
}

/** The name and path of one build's temporary role. */
export function instanceRoleIdentity(
  stackName: string,
  build: Pick<BuildState, 'execution' | 'config'>,
): InstanceRoleIdentity {
  // A resumed build's role is the one the build it resumes created (its first execution's names).
  const owner = build.config.resume?.origin ?? build.execution;
  return {
    roleName: instanceRoleName(owner.id, build.config.name),
    path: executionRolePath(stackName, owner.name),
  };
}

/** The trust policy: only EC2 may assume the role (through the instance profile). */
export const EC2_TRUST_POLICY: IamPolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/**
 * The actions the SSM agent needs to register and run commands sent with Run Command, instead of
 * `AmazonSSMManagedInstanceCore` (which also reads every SSM parameter of the account). The agent reports its
 * state (`UpdateInstanceInformation`), polls associations (`ListInstanceAssociations`), and receives commands
 * through the control channel (`ssmmessages`, agents from 3.x) or the message delivery service (`ec2messages`,
 * older agents).
 * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html
 */
export const SSM_AGENT_ACTIONS = [
  'ssm:UpdateInstanceInformation',
  'ssm:ListInstanceAssociations',
  'ssmmessages:CreateControlChannel',
  'ssmmessages:OpenControlChannel',
  'ec2messages:AcknowledgeMessage',
  'ec2messages:DeleteMessage',
  'ec2messages:FailMessage',
  'ec2messages:GetEndpoint',
  'ec2messages:GetMessages',
  'ec2messages:SendReply',
];

/** What `aws:downloadContent` needs to download a staged command folder. */
export const STAGED_FOLDER_BUCKET_ACTIONS = ['s3:ListBucket'];
export const STAGED_FOLDER_OBJECT_ACTIONS = ['s3:GetObject'];

/** The S3 actions `ec2-upload-bundle` needs (facts file, "Instance-store AMIs"). */
export const UPLOAD_BUNDLE_BUCKET_ACTIONS = ['s3:ListBucket', 's3:GetBucketLocation'];
export const UPLOAD_BUNDLE_OBJECT_ACTIONS = ['s3:PutObject', 's3:GetObject', 's3:PutObjectAcl'];

/** What the SSM agent needs to stream command output to the command log group. */
export const COMMAND_LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'];
export const FIND_LOG_GROUP_ACTIONS = ['logs:DescribeLogGroups'];

/**
 * Escapes IAM's wildcard characters in a literal part of a resource ARN, with IAM's own special-character
 * policy variables, so that a `*` or `?` in a bundle prefix matches only itself.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-specialchars
 */
export function escapeArnWildcards(literal: string): string {
  return literal.replace(/[$*?]/g, (c) => `\${${c}}`);
}

/** Where the build's own policy applies: the stack's resources, as the task learns them from its environment. */
export interface InstancePolicyContext {
  partition: string;
  account: string;
  /** The stack's region: the staging bucket and the command log group are there. */
  region: string;
  stagingBucket: string;
  /** Empty when the stack streams no command output. */
  commandLogGroup: string;
}

/**
 * The keys the bundle of this build is uploaded to: `<s3_bucket key prefix/><bundle_prefix>.` followed by
 * `manifest.xml` or `part.NN` (ec2-upload-bundle's names).
 */
export function bundleKeyPattern(bundle: Pick<BuildConfig['bundle'], 'keyPrefix' | 'prefix'>): string {
  const keyPrefix = bundle.keyPrefix === '' ? '' : `${bundle.keyPrefix}/`;
  return `${escapeArnWildcards(`${keyPrefix}${bundle.prefix}.`)}*`;
}

/**
 * The build's own inline policy: the SSM agent's actions, reading this build's staged folder, writing this
 * build's bundle keys, and streaming command output. Nothing else in S3, no Parameter Store read at all: the
 * Send Command task reads `ssm:` X.509 parameters itself and stages them in the build's folder.
 */
export function buildInstancePolicy(
  build: Pick<BuildState, 'execution' | 'config'>,
  ctx: InstancePolicyContext,
): IamPolicyDocument {
  const p = ctx.partition;
  const staged = stagingPrefix(build);
  const stagingBucketArn = `arn:${p}:s3:::${ctx.stagingBucket}`;
  const bundleBucketArn = `arn:${p}:s3:::${build.config.bundle.bucket}`;
  const statements: IamPolicyDocument['Statement'] = [
    { Sid: 'SsmAgent', Effect: 'Allow', Action: SSM_AGENT_ACTIONS, Resource: '*' },
    {
      Sid: 'ListStagedFolder',
      Effect: 'Allow',
      Action: STAGED_FOLDER_BUCKET_ACTIONS,
      Resource: stagingBucketArn,
      Condition: { StringLike: { 's3:prefix': [`${staged}*`] } },
    },
    {
      Sid: 'DownloadStagedFolder',
      Effect: 'Allow',
      Action: STAGED_FOLDER_OBJECT_ACTIONS,
      Resource: `${stagingBucketArn}/${staged}*`,
    },
    {
      Sid: 'FindBundleBucket',
      Effect: 'Allow',
      Action: UPLOAD_BUNDLE_BUCKET_ACTIONS,
      Resource: bundleBucketArn,
    },
    {
      Sid: 'UploadBundle',
      Effect: 'Allow',
      Action: UPLOAD_BUNDLE_OBJECT_ACTIONS,
      Resource: `${bundleBucketArn}/${bundleKeyPattern(build.config.bundle)}`,
    },
  ];
  if (ctx.commandLogGroup !== '') {
    const logGroups = `arn:${p}:logs:${ctx.region}:${ctx.account}:log-group:`;
    statements.push(
      {
        Sid: 'WriteCommandOutput',
        Effect: 'Allow',
        Action: COMMAND_LOG_ACTIONS,
        Resource: `${logGroups}${ctx.commandLogGroup}:*`,
      },
      {
        Sid: 'FindCommandLogGroup',
        Effect: 'Allow',
        Action: FIND_LOG_GROUP_ACTIONS,
        Resource: `${logGroups}*`,
      },
    );
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** `arn:<partition>:iam::<account>:policy/…` → partition and account (the boundary's ARN names both). */
export function parsePolicyArn(arn: string): { partition: string; account: string } | undefined {
  const match = /^arn:(aws[a-z-]*):iam::(\d{12}):policy\//.exec(arn);
  return match === null ? undefined : { partition: match[1]!, account: match[2]! };
}

/** Names of the role's inline policies. */
export const InstanceRolePolicyNames = {
  /** The build's own policy ({@link buildInstancePolicy}). */
  build: 'ami-builder-build',
  /** The template's `temporary_iam_instance_profile_policy_document`. */
  template: 'template-policy-document',
} as const;
