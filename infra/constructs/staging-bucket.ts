import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The key prefix of everything builds stage; the lifecycle rule and every grant are limited to it. */
export const STAGING_PREFIX = 'staging/';

export interface StagingBucketProps {
  /** Days after which staged objects expire. */
  readonly expirationDays: number;
}

/**
 * The bucket where builds stage command folders (run.sh, copies of scripts, file sources and X.509 files) for
 * the instance to download with its own role. Defaults, all here:
 * - S3-managed encryption, TLS-only bucket policy, all public access blocked, bucket-owner-enforced ownership;
 * - no versioning: staged files are transient and a deleted X.509 copy must really be gone;
 * - objects under `staging/` expire after the configured days (builds delete their own; this catches the rest),
 *   and incomplete multipart uploads are aborted after 1 day;
 * - retained when the stack is deleted (no auto-delete: that needs a Lambda-backed custom resource).
 */
export class StagingBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: StagingBucketProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Resource', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'ExpireStagedObjects',
          prefix: STAGING_PREFIX,
          expiration: Duration.days(props.expirationDays),
        },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Server access logs are not kept for the staging bucket: it holds only short-lived, build-generated objects that expire within days, every object is written and read by this stack’s own roles, and a log bucket would outlive them by far. Enable CloudTrail S3 data events for an audit trail.',
    });
  }

  /** `arn:…:s3:::<bucket>/staging/*`. */
  stagedObjectsArn(): string {
    return this.bucket.arnForObjects(`${STAGING_PREFIX}*`);
  }
}
