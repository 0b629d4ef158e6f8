import type { BuildConfig } from './config.js';
import type { CostEstimate } from './cost/estimate.js';
import type { RetentionPolicy } from './retention-policy.js';

/**
 * The Step Functions state of one build (one iteration of the "Build Each Builder" Map). Every task receives
 * the whole state as `event.build` and returns one small piece, which the state machine stores at the path
 * named next to each field. Nothing here may hold secrets or command output.
 */
export interface BuildState {
  config: BuildConfig;
  execution: ExecutionInfo;
  /** `$.poll.<waitKey>`: the progress of each Wait → Check → Choice loop. Starts as `{}`. */
  poll: Record<string, PollResult>;
  /** `$.source` (Prevalidate) */
  source?: SourceInfo;
  /** `$.fingerprint` (Check Unchanged, only with `skip_if_unchanged`) */
  fingerprint?: FingerprintInfo;
  /** `$.bucket` (Ensure Bundle Bucket) */
  bucket?: BucketInfo;
  /** `$.network` (Create Security Group) */
  network?: NetworkInfo;
  /** `$.instanceRole` (Create Instance Role) */
  instanceRole?: InstanceRoleInfo;
  /** `$.instance` (Launch Instance) */
  instance?: InstanceInfo;
  /** `$.command` (each Send … Command task): the command being waited on. */
  command?: CommandInfo;
  /** `$.image` (Register AMI) */
  image?: ImageInfo;
  /** `$.testInstance` (Launch Test Instance): the instance launched from the new AMI for `ami_test`. */
  testInstance?: InstanceInfo;
  /**
   * `$.testCleanup` (Terminate Test Instance, and after a failed test Deregister/Keep Failed AMI): what the test's
   * cleanup did. Report Build merges it into the build's cleanup report.
   */
  testCleanup?: CleanupReport;
  /** `$.copies` (Copy To Regions Map output, then the finished list) */
  copies?: ImageInfo[];
  /** `$.error` (set by the failure Catch: Step Functions' `{ Error, Cause }`) */
  error?: { Error: string; Cause: string };
  /**
   * `$.cleanupError` (set when a failure-path state itself fails: the error-cleanup command, Clean Up After
   * Failure, its termination check or Delete Temporary Resources After Failure). `$.error` keeps the first error.
   */
  cleanupError?: { Error: string; Cause: string };
  /** `$.cleanup` (Clean Up / Clean Up After Failure) */
  cleanup?: CleanupReport;
  /** `$.provisioned` (Run Provisioners): each provisioner's last `$.poll.command`, for the cost estimate. */
  provisioned?: (PollResult | null)[];
  /** `$.retention` (Apply Retention): what the family's retention did. */
  retention?: FamilyRetentionReport;
  /** `$.retentionError` (set by Apply Retention's Catch): the build stays succeeded, the error is reported. */
  retentionError?: { Error: string; Cause: string };
}

export interface ExecutionInfo {
  /** `$$.Execution.Id`: the execution ARN. Tagged on every resource created. */
  id: string;
  /** `$$.Execution.Name` */
  name: string;
  /** `$$.Execution.StartTime`, ISO 8601. The clock for `{{timestamp}}`: stable across retries and redrives. */
  startTime: string;
}

export interface SourceInfo {
  imageId: string;
  name: string;
  ownerId: string;
  ownerAlias?: string;
  creationDate: string;
  tags: Record<string, string>;
  rootDeviceType: string;
  architecture: string;
  virtualizationType: string;
  /** The account that builds (from `account_id` or STS), digits only. */
  accountId: string;
  /** Template strings rendered with the build variables. */
  rendered: {
    tags: Record<string, string>;
    runTags: Record<string, string>;
    amiDescription?: string;
  };
}

/** The build's fingerprint and, when nothing changed, the AMI that this build reports instead of building. */
export interface FingerprintInfo {
  /** `v1:<sha256 hex>`: tagged `ami-builder:fingerprint` on the new AMI and its copies. */
  value: string;
  /** The available AMI of this stack with the same fingerprint in every target region, when there is one. */
  unchanged?: {
    /** The AMI in the build region. */
    image: ImageInfo;
    /** Its copies, one per `ami_regions` region. */
    copies: ImageInfo[];
    /** The execution that built it. */
    executionId: string;
    name?: string;
  };
}

export interface BucketInfo {
  name: string;
  keyPrefix: string;
  region: string;
  /** `<bucket>/<keyPrefix/><bundle prefix>.manifest.xml`: RegisterImage's ImageLocation. */
  manifestLocation: string;
  created: boolean;
}

export interface NetworkInfo {
  vpcId?: string;
  subnetId?: string;
  availabilityZone?: string;
  securityGroupIds: string[];
  /** Set when this build created the group; cleanup deletes only this one. */
  temporarySecurityGroupId?: string;
}

/**
 * The instance profile Launch Instance passes. `temporary`: the build created the role and profile (named
 * `roleName`, under `path`), and cleanup deletes them; otherwise the template named its own profile.
 */
export interface InstanceRoleInfo {
  instanceProfileName: string;
  temporary: boolean;
  roleName?: string;
  path?: string;
}

export interface InstanceInfo {
  instanceId: string;
  architecture?: string;
}

/** `test`: the `ami_test` commands, on `$.testInstance`; every other kind runs on `$.instance`. */
export type CommandKind = 'provision' | 'x509' | 'bundle' | 'upload' | 'error-cleanup' | 'test';

export interface CommandInfo {
  commandId: string;
  kind: CommandKind;
  /** Provisioner index for `provision`. */
  provisionerIndex?: number;
  /** 1-based attempt number (max_retries). */
  attempt: number;
  /** S3 prefix holding the staged files of this command (deleted at cleanup). */
  stagedPrefix: string;
}

export interface ImageInfo {
  region: string;
  imageId: string;
  /** Finish AMI Copy: how many times each Check state ran for this copy (its `$.poll.copy.counts`). */
  counts?: Record<string, number>;
}

/** What each Check task returns into `$.poll.<waitKey>`. */
export interface PollResult {
  done: boolean;
  /** Checks made so far, this one included. */
  attempt: number;
  /**
   * How long the Wait state waits before the next check (the AMI waits of a template that sets `aws_polling`);
   * for the others, the delay of the schedule after this check.
   */
  waitSeconds: number;
  /** Last observed status, for the execution view. */
  status?: string;
  /** Identity of the thing waited on (instance id, command id, image id), so a new target restarts the count. */
  target?: string;
  /** True when the command failed and `max_retries` allows another attempt: the Choice goes back to Send. */
  retry?: boolean;
  /** When the loop's first check for this target was made (ISO 8601): the start of the loop's durations. */
  startedAt?: string;
  /** When this check was made (ISO 8601). */
  checkedAt?: string;
  /**
   * How many times each Check state has run so far under this key, by state name, across targets (the cost
   * estimate's count of poll iterations; README.md, "Cost estimate").
   */
  counts?: Record<string, number>;
}

export interface CleanupReport {
  terminatedInstances: string[];
  deletedSecurityGroups: string[];
  deletedStagedObjects: number;
  deregisteredImages: string[];
  /** Temporary instance roles deleted with their instance profiles (absent when none). */
  deletedInstanceRoles?: string[];
  /** Resources kept on purpose (`on_error: abort`) or that could not be removed, with the reason. */
  kept: { resource: string; reason: string }[];
  /**
   * Resources this build created that cleanup could not remove (a refused or failed deletion), each with why
   * and how to remove it by hand (absent when none).
   */
  leaked?: LeakedResource[];
  /** `ami_id_parameter` values of a failed build that Roll Back AMI IDs restored or deleted (absent when none). */
  rolledBackParameters?: RolledBackParameter[];
}

/** A resource a build left behind because its cleanup failed. */
export interface LeakedResource {
  type: 'instance' | 'security group' | 'instance role' | 'staged objects' | 'AMI id parameter';
  /** The instance or group id, the role name, the `s3://` prefix or the parameter name. */
  id: string;
  /** The resource's region; `global` for IAM. */
  region: string;
  /** Why it is still there: the cleanup step's own error. */
  reason: string;
  /** The AWS CLI command (or step) that removes it. */
  hint: string;
}

/** An `ami_id_parameter` that Roll Back AMI IDs put back as it was before the failed build published. */
export interface RolledBackParameter {
  name: string;
  region: string;
  /** The AMI id it holds again, or absent when the build had created it and it was deleted. */
  restored?: string;
}

/** The payload every build task receives. `args` carries the few values a task needs beyond the state. */
export interface TaskEvent<A = Record<string, never>> {
  build: BuildState;
  args: A;
  /** The state's name (the payload's `state`). */
  state?: string;
  /** A Check task's place in its state's retries (lambdas/shared/poll.ts); absent for other tasks. */
  check?: CheckContext;
}

/** How a build ended. `unchanged` succeeded too: its artifact is an AMI an earlier build made. */
export type BuildStatus = 'succeeded' | 'unchanged' | 'failed';
export const BUILD_STATUSES = ['succeeded', 'unchanged', 'failed'] as const;

/** True for a build that has artifacts: it succeeded, or nothing changed since an earlier build. */
export function isSuccessfulStatus(status: BuildStatus): boolean {
  return status !== 'failed';
}

/**
 * The key, in a poll result's `counts`, of the runs of `checkState` that its own Retry made (each one billed
 * transition and one invocation), apart from the runs the state's entries made.
 */
export function retriedKey(checkState: string): string {
  return `${checkState} (retries)`;
}

/** `$$.State.RetryCount` and `$$.State.EnteredTime` of a Check state, passed in its payload as `check`. */
export interface CheckContext {
  /** Retries of the state so far: 0 at the first check. */
  retryCount: number;
  /** When the state was entered (ISO 8601): the first check of this entry. */
  enteredTime?: string;
}

/** One build's entry in the execution output. */
export interface BuildOutput {
  name: string;
  /** `unchanged`: `skip_if_unchanged` found the AMI already built; it is the artifact, nothing was launched. */
  status: BuildStatus;
  artifacts: Record<string, string>;
  /** Packer's artifact id: `region:ami,…`, sorted. */
  artifactId: string;
  manifestLocation?: string;
  sourceAmi?: string;
  warnings: string[];
  timings: Record<string, string>;
  error?: { Error: string; Cause: string };
  cleanup?: CleanupReport;
  /** What the build cost, estimated (README.md, "Cost estimate"). */
  cost?: CostEstimate;
  /** With `skip_if_unchanged`: the build's fingerprint (tagged on the AMI). */
  fingerprint?: string;
  /**
   * What the family's retention did after the build (absent when the build has no retention policy); `error`
   * when it failed (the build still succeeded).
   */
  retention?: FamilyRetentionReport & { error?: { Error: string; Cause: string } };
}

/** One image Apply Retention acted on, or kept although beyond the policy. */
export interface RetentionAction {
  imageId: string;
  region: string;
  name?: string;
  /** The execution that built it. */
  execution?: string;
  created?: string;
  action: 'deprecated' | 'deregistered' | 'would deprecate' | 'would deregister' | 'kept' | 'failed';
  reason: string;
  /** The bundle deleted with the image (`s3://…manifest.xml (n object(s))`), or that would be. */
  bundle?: string;
}

/** One family's retention: its policy and every image acted on, or kept although beyond the policy. */
export interface FamilyRetentionReport {
  family: string;
  /** `source`: the template's `ami_retention`, the stack's default, or (daily run) the newest build's tag. */
  policy: RetentionPolicy & { source: 'template' | 'stack' | 'tag' };
  /** The policy in words. */
  summary: string;
  dryRun: boolean;
  regions: string[];
  /** Builds (executions) of the family found. */
  builds: number;
  actions: RetentionAction[];
}
