import { Aws, Validations } from 'aws-cdk-lib';
import {
  CfnInstanceProfile,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from './nag.js';
import { STAGING_PREFIX } from './staging-bucket.js';

export interface BuildInstanceRoleProps {
  /** The staging bucket the instance downloads its command folders from. */
  readonly stagingBucket: IBucket;
  /** Bucket-name globs of the allowed bundle buckets (`ec2-upload-bundle` writes there). */
  readonly bundleBucketPatterns: string[];
  /** The log group the SSM agent streams command output to. */
  readonly commandLogGroup: ILogGroup;
}

/** The S3 actions `ec2-upload-bundle` needs on the bundle bucket (facts file, "Instance-store AMIs"). */
export const UPLOAD_BUNDLE_BUCKET_ACTIONS = ['s3:ListBucket', 's3:GetBucketLocation'];
export const UPLOAD_BUNDLE_OBJECT_ACTIONS = ['s3:PutObject', 's3:GetObject', 's3:PutObjectAcl'];

/** `arn:<partition>:s3:::<pattern>` for each bucket glob (IAM resource ARNs accept the same `*`). */
export function bucketArns(patterns: string[], partition: string = Aws.PARTITION): string[] {
  return patterns.map((p) => `arn:${partition}:s3:::${p}`);
}

/** `arn:<partition>:s3:::<pattern>/*` for each bucket glob. */
export function bucketObjectArns(patterns: string[], partition: string = Aws.PARTITION): string[] {
  return patterns.map((p) => `arn:${partition}:s3:::${p}/*`);
}

/**
 * The build instance's default role and instance profile (what Launch Instance passes when the template names
 * no `iam_instance_profile`). It grants:
 * - `AmazonSSMManagedInstanceCore`, so the SSM agent registers and runs commands;
 * - read access to the staging bucket's `staging/` prefix: the agent downloads each command folder (run.sh, the
 *   X.509 files, scripts) with this role, so no credential or presigned URL travels in command parameters;
 * - what `ec2-upload-bundle` needs on the allowed bundle buckets;
 * - writing command output to the command log group.
 */
export class BuildInstanceRole extends Construct {
  readonly role: Role;
  readonly instanceProfile: CfnInstanceProfile;

  constructor(scope: Construct, id: string, props: BuildInstanceRoleProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'ami-builder build instance: SSM agent, staged command folders, bundle upload',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'ListStagedCommandFolders',
        actions: ['s3:ListBucket'],
        resources: [props.stagingBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${STAGING_PREFIX}*`] } },
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'DownloadStagedCommandFolders',
        actions: ['s3:GetObject'],
        resources: [props.stagingBucket.arnForObjects(`${STAGING_PREFIX}*`)],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'UploadBundleBuckets',
        actions: UPLOAD_BUNDLE_BUCKET_ACTIONS,
        resources: bucketArns(props.bundleBucketPatterns),
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'UploadBundleObjects',
        actions: UPLOAD_BUNDLE_OBJECT_ACTIONS,
        resources: bucketObjectArns(props.bundleBucketPatterns),
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'WriteCommandOutput',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [props.commandLogGroup.logGroupArn],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'FindCommandLogGroup',
        actions: ['logs:DescribeLogGroups'],
        resources: [`arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`],
      }),
    );
    acknowledgeWildcardResources(this.role, [
      {
        resources: [props.stagingBucket.arnForObjects(`${STAGING_PREFIX}*`)],
        reason: `The agent downloads the command folder a build staged under ${STAGING_PREFIX}<execution>/<build>/; those keys are known only at run time.`,
      },
      {
        resources: [
          ...bucketArns(props.bundleBucketPatterns),
          ...bucketObjectArns(props.bundleBucketPatterns),
        ],
        reason:
          'ec2-upload-bundle writes the bundle to the template’s s3_bucket; access is limited to the bucket-name patterns the stack allows (allowedBucketPatterns).',
      },
      {
        resources: [`arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`],
        reason:
          'The SSM agent calls logs:DescribeLogGroups to find the command log group before streaming output; DescribeLogGroups authorizes on the account’s log-group namespace, not on one group.',
      },
    ]);
    this.instanceProfile = new CfnInstanceProfile(this, 'InstanceProfile', {
      roles: [this.role.roleName],
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        'AmazonSSMManagedInstanceCore is the policy AWS documents for instances managed by Systems Manager; the SSM agent on the build instance needs exactly its ssm/ssmmessages/ec2messages actions to register and run commands.',
    });
  }

  /** The instance profile's name (Ref). */
  get instanceProfileName(): string {
    return this.instanceProfile.ref;
  }

  /** `arn:…:iam::<account>:instance-profile/<name>`. */
  get instanceProfileArn(): string {
    return this.instanceProfile.attrArn;
  }
}
