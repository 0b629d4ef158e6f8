/**
 * The errors tasks throw. Step Functions matches Retry/Catch `ErrorEquals` against an error's `name`, so every
 * class sets `name` to a string literal equal to its class name, and infra builds its Retry/Catch lists from
 * {@link ErrorNames}. Bundling keeps names (`keepNames: true`); a test checks each class against the constant.
 *
 * Messages say what was wrong, the value, and what to do. They never contain secrets.
 */

abstract class BuildError extends Error {
  abstract override readonly name: string;
}

/** The template is malformed: the message lists every problem (key path, value, what is allowed). */
export class TemplateValidationError extends BuildError {
  override readonly name = 'TemplateValidationError' as const;
  readonly problems: string[];
  constructor(problems: string[] | string) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(`${list.length} error(s) occurred:\n\n${list.map((p) => `* ${p}`).join('\n')}`);
    this.problems = list;
  }
}

/** A region named by `region` or `ami_regions` does not exist or is not enabled. */
export class InvalidRegionError extends BuildError {
  override readonly name = 'InvalidRegionError' as const;
}

/** An AMI with `ami_name` already exists and `force_deregister` is not set. */
export class AmiNameInUseError extends BuildError {
  override readonly name = 'AmiNameInUseError' as const;
}

/** `source_ami` / `source_ami_filter` matched no image (or the filter matched several without `most_recent`). */
export class SourceAmiNotFoundError extends BuildError {
  override readonly name = 'SourceAmiNotFoundError' as const;
}

/** The instance type cannot launch the source AMI (instance-store root needs C1, C3, D2, I2, M1, M2, M3, R3, X1). */
export class UnsupportedInstanceTypeError extends BuildError {
  override readonly name = 'UnsupportedInstanceTypeError' as const;
}

/** The bundle bucket is in another region than the build, or is owned by someone else / not accessible. */
export class BundleBucketError extends BuildError {
  override readonly name = 'BundleBucketError' as const;
}

/** The bucket is not allowed by the stack's configured bundle-bucket patterns. */
export class BucketNotAllowedError extends BuildError {
  override readonly name = 'BucketNotAllowedError' as const;
}

/** VPC / subnet / security group settings resolve to nothing usable. */
export class NetworkConfigError extends BuildError {
  override readonly name = 'NetworkConfigError' as const;
}

/** `iam_instance_profile` names a profile the stack does not allow builds to pass. */
export class InstanceProfileNotAllowedError extends BuildError {
  override readonly name = 'InstanceProfileNotAllowedError' as const;
}

/** Creating (or checking) the build's temporary instance role and profile failed. */
export class InstanceRoleError extends BuildError {
  override readonly name = 'InstanceRoleError' as const;
}

/**
 * RunInstances refused a new instance profile as invalid: IAM has not propagated it yet (eventual consistency,
 * usually seconds). The state machine retries Launch Instance with backoff, as Packer retries RunInstances.
 */
export class InstanceProfileNotReadyError extends BuildError {
  override readonly name = 'InstanceProfileNotReadyError' as const;
}

/** RunInstances failed for a reason retrying does not fix. */
export class InstanceLaunchError extends BuildError {
  override readonly name = 'InstanceLaunchError' as const;
}

/** The instance stopped or terminated instead of running, or did not run in time. */
export class InstanceNotRunningError extends BuildError {
  override readonly name = 'InstanceNotRunningError' as const;
}

/** The SSM agent did not report Online within `ssh_timeout`. */
export class AgentNotOnlineError extends BuildError {
  override readonly name = 'AgentNotOnlineError' as const;
}

/** A provisioner's command exited with a code outside `valid_exit_codes` after its retries. */
export class ProvisionerFailedError extends BuildError {
  override readonly name = 'ProvisionerFailedError' as const;
}

/** Fetching the X.509 certificate and key onto the instance failed. */
export class X509UploadError extends BuildError {
  override readonly name = 'X509UploadError' as const;
}

/** `bundle_vol_command` failed. */
export class VolumeBundleError extends BuildError {
  override readonly name = 'VolumeBundleError' as const;
}

/** `bundle_upload_command` failed. */
export class BundleUploadError extends BuildError {
  override readonly name = 'BundleUploadError' as const;
}

/** An SSM command did not finish within its timeout. */
export class CommandTimeoutError extends BuildError {
  override readonly name = 'CommandTimeoutError' as const;
}

/** RegisterImage failed. */
export class RegisterImageError extends BuildError {
  override readonly name = 'RegisterImageError' as const;
}

/** The AMI went to state `failed`, or did not become available within the polling bound. */
export class ImageNotAvailableError extends BuildError {
  override readonly name = 'ImageNotAvailableError' as const;
}

/** Copying the AMI to a region failed; the message names the region. */
export class ImageCopyError extends BuildError {
  override readonly name = 'ImageCopyError' as const;
}

/** Finishing the AMI (attributes, tags, deprecation, protection) failed in a region. */
export class ImageFinishError extends BuildError {
  override readonly name = 'ImageFinishError' as const;
}

/** The instance did not terminate in time during cleanup. */
export class InstanceNotTerminatedError extends BuildError {
  override readonly name = 'InstanceNotTerminatedError' as const;
}

/** The temporary security group is still in use; retried with backoff. */
export class SecurityGroupInUseError extends BuildError {
  override readonly name = 'SecurityGroupInUseError' as const;
}

/** An AWS call was throttled or failed with a 5xx after the SDK's own retries; retried with backoff. */
export class AwsTransientError extends BuildError {
  override readonly name = 'AwsTransientError' as const;
}

/**
 * A Check task's target is not there yet (the instance still pending, the command still running, the AMI still
 * pending): the Check state's own Retry runs it again on its poll schedule. It ends a build only if a bound
 * the check should have enforced was passed (a bug).
 */
export class PollPendingError extends BuildError {
  override readonly name = 'PollPendingError' as const;
}

/** The task received input it cannot use (a wiring bug, not a user error). */
export class TaskInputError extends BuildError {
  override readonly name = 'TaskInputError' as const;
}

/** `ami_id_parameter` names an SSM parameter outside the stack's configured prefix (`amiParameterPrefix`). */
export class AmiParameterNotAllowedError extends BuildError {
  override readonly name = 'AmiParameterNotAllowedError' as const;
}

/**
 * `force_deregister` met an AMI named `ami_name` that this stack did not build (it lacks the `ami-builder:stack`
 * tag with the stack's name), and the stack does not allow adopting such images (`adoptForeignImages`).
 */
export class ForeignImageError extends BuildError {
  override readonly name = 'ForeignImageError' as const;
}

/**
 * A resource a task was about to terminate, delete or modify does not carry this stack's (or this build's)
 * ownership tags; the task refused to touch it.
 */
export class ResourceNotOwnedError extends BuildError {
  override readonly name = 'ResourceNotOwnedError' as const;
}

/**
 * `ami_id_parameter` names an existing parameter this stack did not create as an AMI-id parameter (another type
 * or data type, or no `ami-builder:stack` tag with the stack's name); Publish AMI IDs refused to overwrite it.
 */
export class AmiParameterNotOwnedError extends BuildError {
  override readonly name = 'AmiParameterNotOwnedError' as const;
}

/** EventBridge refused a build notification for a reason retrying does not fix. */
export class NotificationError extends BuildError {
  override readonly name = 'NotificationError' as const;
}

/** The `ami_test` commands failed (or did not finish) on the instance launched from the new AMI. */
export class AmiTestFailedError extends BuildError {
  override readonly name = 'AmiTestFailedError' as const;
}

/** Every error name, for Retry/Catch lists and the error catalogue. */
export const ErrorNames = {
  TemplateValidation: 'TemplateValidationError',
  InvalidRegion: 'InvalidRegionError',
  AmiNameInUse: 'AmiNameInUseError',
  SourceAmiNotFound: 'SourceAmiNotFoundError',
  UnsupportedInstanceType: 'UnsupportedInstanceTypeError',
  BundleBucket: 'BundleBucketError',
  BucketNotAllowed: 'BucketNotAllowedError',
  NetworkConfig: 'NetworkConfigError',
  InstanceProfileNotAllowed: 'InstanceProfileNotAllowedError',
  InstanceRole: 'InstanceRoleError',
  InstanceProfileNotReady: 'InstanceProfileNotReadyError',
  InstanceLaunch: 'InstanceLaunchError',
  InstanceNotRunning: 'InstanceNotRunningError',
  AgentNotOnline: 'AgentNotOnlineError',
  ProvisionerFailed: 'ProvisionerFailedError',
  X509Upload: 'X509UploadError',
  VolumeBundle: 'VolumeBundleError',
  BundleUpload: 'BundleUploadError',
  CommandTimeout: 'CommandTimeoutError',
  RegisterImage: 'RegisterImageError',
  ImageNotAvailable: 'ImageNotAvailableError',
  ImageCopy: 'ImageCopyError',
  ImageFinish: 'ImageFinishError',
  InstanceNotTerminated: 'InstanceNotTerminatedError',
  SecurityGroupInUse: 'SecurityGroupInUseError',
  AwsTransient: 'AwsTransientError',
  PollPending: 'PollPendingError',
  TaskInput: 'TaskInputError',
  AmiParameterNotAllowed: 'AmiParameterNotAllowedError',
  ForeignImage: 'ForeignImageError',
  ResourceNotOwned: 'ResourceNotOwnedError',
  AmiParameterNotOwned: 'AmiParameterNotOwnedError',
  Notification: 'NotificationError',
  AmiTestFailed: 'AmiTestFailedError',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Every error class, keyed like {@link ErrorNames}; a test checks `new C('').name === ErrorNames[k]`. */
export const ErrorClasses = {
  TemplateValidation: TemplateValidationError,
  InvalidRegion: InvalidRegionError,
  AmiNameInUse: AmiNameInUseError,
  SourceAmiNotFound: SourceAmiNotFoundError,
  UnsupportedInstanceType: UnsupportedInstanceTypeError,
  BundleBucket: BundleBucketError,
  BucketNotAllowed: BucketNotAllowedError,
  NetworkConfig: NetworkConfigError,
  InstanceProfileNotAllowed: InstanceProfileNotAllowedError,
  InstanceRole: InstanceRoleError,
  InstanceProfileNotReady: InstanceProfileNotReadyError,
  InstanceLaunch: InstanceLaunchError,
  InstanceNotRunning: InstanceNotRunningError,
  AgentNotOnline: AgentNotOnlineError,
  ProvisionerFailed: ProvisionerFailedError,
  X509Upload: X509UploadError,
  VolumeBundle: VolumeBundleError,
  BundleUpload: BundleUploadError,
  CommandTimeout: CommandTimeoutError,
  RegisterImage: RegisterImageError,
  ImageNotAvailable: ImageNotAvailableError,
  ImageCopy: ImageCopyError,
  ImageFinish: ImageFinishError,
  InstanceNotTerminated: InstanceNotTerminatedError,
  SecurityGroupInUse: SecurityGroupInUseError,
  AwsTransient: AwsTransientError,
  PollPending: PollPendingError,
  TaskInput: TaskInputError,
  AmiParameterNotAllowed: AmiParameterNotAllowedError,
  ForeignImage: ForeignImageError,
  ResourceNotOwned: ResourceNotOwnedError,
  AmiParameterNotOwned: AmiParameterNotOwnedError,
  Notification: NotificationError,
  AmiTestFailed: AmiTestFailedError,
} as const;
