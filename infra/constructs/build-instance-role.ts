import { Aws } from 'aws-cdk-lib';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  COMMAND_LOG_ACTIONS,
  FIND_LOG_GROUP_ACTIONS,
  SSM_AGENT_ACTIONS,
  STAGED_FOLDER_BUCKET_ACTIONS,
  STAGED_FOLDER_OBJECT_ACTIONS,
  stackRolePath,
  UPLOAD_BUNDLE_BUCKET_ACTIONS,
  UPLOAD_BUNDLE_OBJECT_ACTIONS,
} from '../../lambdas/shared/instance-role.js';
import { acknowledgeWildcardResources } from './nag.js';
import { STAGING_PREFIX } from './staging-bucket.js';

export interface BuildInstanceRoleProps {
  /** Value of the `ami-builder:stack` tag: the temporary roles live under `/ami-builder/<stackName>/`. */
  readonly stackName: string;
  /** The staging bucket the instance downloads its command folders from. */
  readonly stagingBucket: IBucket;
  /** Bucket-name globs of the allowed bundle buckets (`ec2-upload-bundle` writes there). */
  readonly bundleBucketPatterns: string[];
  /** The log group the SSM agent streams command output to. */
  readonly commandLogGroup: ILogGroup;
}

/** `arn:<partition>:s3:::<pattern>` for each bucket glob (IAM resource ARNs accept the same `*`). */
export function bucketArns(patterns: string[], partition: string = Aws.PARTITION): string[] {
  return patterns.map((p) => `arn:${partition}:s3:::${p}`);
}

/** `arn:<partition>:s3:::<pattern>/*` for each bucket glob. */
export function bucketObjectArns(patterns: string[], partition: string = Aws.PARTITION): string[] {
  return patterns.map((p) => `arn:${partition}:s3:::${p}/*`);
}

/**
 * The build instance's authority, as the stack bounds it. The stack has no standing build-instance role: Create
 * Instance Role gives each build a temporary role and instance profile under {@link rolePath}
 * (`/ami-builder/<stack>/`), whose inline policy names this build's staged folder, its bundle keys and the
 * command log group (`lambdas/shared/instance-role.ts`). Every such role is created with {@link boundary} as its
 * permissions boundary (IAM refuses the task any other `CreateRole`), so that neither the build's policy nor a
 * template's `temporary_iam_instance_profile_policy_document` can give an instance more than:
 * - the SSM agent's actions (`AmazonSSMManagedInstanceCore` is not used: it reads every SSM parameter);
 * - reading the staging bucket's `staging/` prefix (the build's policy narrows it to its own folder);
 * - what `ec2-upload-bundle` needs on the allowed bundle buckets (narrowed to the build's bundle keys);
 * - writing command output to the command log group.
 * Nothing else: no other S3 access, no Parameter Store read, no IAM, no EC2.
 */
export class BuildInstanceRole extends Construct {
  /** The permissions boundary of every temporary build-instance role. */
  readonly boundary: ManagedPolicy;
  /** `/ami-builder/<stack>/`: the path of every temporary role and instance profile. */
  readonly rolePath: string;

  constructor(scope: Construct, id: string, props: BuildInstanceRoleProps) {
    super(scope, id);
    this.rolePath = stackRolePath(props.stackName);
    const stagedObjects = props.stagingBucket.arnForObjects(`${STAGING_PREFIX}*`);
    const bundleBuckets = bucketArns(props.bundleBucketPatterns);
    const bundleObjects = bucketObjectArns(props.bundleBucketPatterns);
    const logGroups = `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`;
    this.boundary = new ManagedPolicy(this, 'Boundary', {
      description: `ami-builder: the most a temporary build-instance role under ${this.rolePath} may do`,
      path: this.rolePath,
      statements: [
        new PolicyStatement({ sid: 'SsmAgent', actions: SSM_AGENT_ACTIONS, resources: ['*'] }),
        new PolicyStatement({
          sid: 'ListStagedFolders',
          actions: STAGED_FOLDER_BUCKET_ACTIONS,
          resources: [props.stagingBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${STAGING_PREFIX}*`] } },
        }),
        new PolicyStatement({
          sid: 'DownloadStagedFolders',
          actions: STAGED_FOLDER_OBJECT_ACTIONS,
          resources: [stagedObjects],
        }),
        new PolicyStatement({
          sid: 'FindBundleBuckets',
          actions: UPLOAD_BUNDLE_BUCKET_ACTIONS,
          resources: bundleBuckets,
        }),
        new PolicyStatement({
          sid: 'UploadBundles',
          actions: UPLOAD_BUNDLE_OBJECT_ACTIONS,
          resources: bundleObjects,
        }),
        new PolicyStatement({
          sid: 'WriteCommandOutput',
          actions: COMMAND_LOG_ACTIONS,
          resources: [props.commandLogGroup.logGroupArn],
        }),
        new PolicyStatement({
          sid: 'FindCommandLogGroup',
          actions: FIND_LOG_GROUP_ACTIONS,
          resources: [logGroups],
        }),
      ],
    });
    acknowledgeWildcardResources(this.boundary, [
      {
        resources: ['*'],
        reason:
          'A permissions boundary grants nothing: it caps the temporary roles. The SSM agent actions (ssm:UpdateInstanceInformation, ssm:ListInstanceAssociations, ssmmessages and ec2messages channels) name the calling instance, which does not exist when the role is created.',
      },
      {
        resources: [stagedObjects],
        reason: `Each build's own policy narrows this to ${STAGING_PREFIX}<execution>/<build>/; the boundary caps every build at the staging prefix.`,
      },
      {
        resources: [...bundleBuckets, ...bundleObjects],
        reason:
          'Each build’s own policy narrows this to <s3_bucket>/<bundle_prefix>.*; the boundary caps every build at the bucket-name patterns the stack allows (allowedBucketPatterns).',
      },
      {
        resources: [props.commandLogGroup.logGroupArn, logGroups],
        reason:
          'The SSM agent streams to the command log group (log streams are named at run time) and calls logs:DescribeLogGroups, which authorizes on the account’s log-group namespace.',
      },
    ]);
  }

  /** ARN of {@link boundary}: the value `iam:PermissionsBoundary` must have. */
  get boundaryArn(): string {
    return this.boundary.managedPolicyArn;
  }
}
