/**
 * The normalized build configuration: what one selected `amazon-instance` builder of a template becomes after
 * validation. It holds no secrets (credential keys are dropped), every default is filled, and every string that
 * can be rendered before the build starts is rendered. Strings that need the build variables
 * (`{{.SourceAMI}}`, `{{.BuildRegion}}`, …) are kept as template text and rendered by the Prevalidate task.
 *
 * Field names are camelCase; each JSDoc names the template key it comes from.
 */

import type { KeptState, ResumeStep } from './resume.js';
import type { BuildRetention } from './retention-policy.js';
import type { SensitiveLocation } from './sensitive.js';

/** A file the build needs, as the workflow can read it: an S3 object or an SSM SecureString parameter. */
export type FileRef =
  | { kind: 's3'; bucket: string; key: string; uri: string }
  | { kind: 'ssm'; name: string; uri: string }
  /** A local path: accepted only by the CLI, which uploads the file and rewrites the template before a build. */
  | { kind: 'local'; path: string; uri: string };

/** An IAM policy document, as IAM takes it (`Action`/`Resource` a string or a list). */
export interface IamPolicyDocument {
  Version: string;
  Statement: IamPolicyStatement[];
}

export interface IamPolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** One block-device mapping (`ami_block_device_mappings` / `launch_block_device_mappings` entry). */
/** Packer's `-on-error` values a workflow can follow (`ask` needs a person). */
export type OnError = 'cleanup' | 'abort' | 'run-cleanup-provisioner';

/** True when a failure keeps the instance and security group (`abort`, `run-cleanup-provisioner`). */
export function keepsResourcesOnError(onError: OnError): boolean {
  return onError !== 'cleanup';
}

export interface BlockDeviceMapping {
  deviceName: string;
  virtualName?: string;
  snapshotId?: string;
  volumeType?: string;
  volumeSize?: number;
  deleteOnTermination?: boolean;
  noDevice?: boolean;
  iops?: number;
  throughput?: number;
  encrypted?: boolean;
  kmsKeyId?: string;
}

/** EC2 filters, `name -> values` (CSV values already split), as in `source_ami_filter.filters`. */
export type Filters = Record<string, string[]>;

export interface SourceAmiFilter {
  filters: Filters;
  owners: string[];
  mostRecent: boolean;
  includeDeprecated: boolean;
}

export interface NetworkConfig {
  /** `vpc_id` */
  vpcId?: string;
  /** `vpc_filter.filters` */
  vpcFilter?: Filters;
  /** `subnet_id` */
  subnetId?: string;
  /** `subnet_filter` */
  subnetFilter?: { filters: Filters; mostFree: boolean; random: boolean };
  /** `availability_zone` */
  availabilityZone?: string;
  /** `associate_public_ip_address` (unset = the subnet's default) */
  associatePublicIpAddress?: boolean;
  /** `security_group_id` / `security_group_ids`, merged. Empty: a temporary group is created. */
  securityGroupIds: string[];
  /** `security_group_filter.filters` */
  securityGroupFilter?: Filters;
  /**
   * `temporary_security_group_source_cidrs`. Kept for compatibility: the temporary group gets no ingress rule
   * at all because SSM needs none.
   */
  temporarySecurityGroupSourceCidrs: string[];
}

/** `metadata_options`. Unlike Packer's amazon-instance builder, these ARE sent to RunInstances. */
export interface MetadataOptions {
  httpEndpoint?: 'enabled' | 'disabled';
  httpTokens?: 'optional' | 'required';
  httpPutResponseHopLimit?: number;
  instanceMetadataTags?: 'enabled' | 'disabled';
}

export interface ShellProvisioner {
  type: 'shell';
  /** Position in the template's `provisioners` array (0-based), for messages. */
  index: number;
  /** Display name: `shell` or the provisioner's `name`. */
  name: string;
  /** `inline` commands; each a line of the generated script. */
  inline?: string[];
  /** `script` / `scripts`, as S3 (or, CLI only before staging, local) references. */
  scripts: FileRef[];
  /** `environment_vars`, split into name and value. Values are shell-quoted when rendered. */
  environmentVars: { name: string; value: string }[];
  /** `execute_command`, a template over `{{.Vars}}` and `{{.Path}}`. Default `chmod +x {{.Path}}; {{.Vars}} {{.Path}}`. */
  executeCommand: string;
  /** `inline_shebang`, default `/bin/sh -e`. */
  inlineShebang: string;
  /** `remote_folder`, default `/tmp`. */
  remoteFolder: string;
  /** `valid_exit_codes`, default `[0]`. */
  validExitCodes: number[];
  /** `max_retries`, default 0. */
  maxRetries: number;
  /** `timeout` in seconds; default: the build's `commandTimeoutSeconds`. */
  timeoutSeconds: number;
  /** `pause_before` in seconds, default 0. */
  pauseBeforeSeconds: number;
}

/** The core's `max_retries`, `timeout` and `pause_before`, which every provisioner type has. */
export interface ProvisionerTiming {
  /** `max_retries`, default 0. */
  maxRetries: number;
  /** `timeout` in seconds; default: the build's `commandTimeoutSeconds`. */
  timeoutSeconds: number;
  /** `pause_before` in seconds, default 0. */
  pauseBeforeSeconds: number;
}

export interface FileProvisioner extends ProvisionerTiming {
  type: 'file';
  index: number;
  name: string;
  /** `source` / `sources` (S3 references), or undefined when `content` is used. */
  sources: FileRef[];
  /** `content`: literal file content. */
  content?: string;
  /** `destination` on the instance. */
  destination: string;
  /** `generated` is not supported; `direction` must be `upload`. */
}

/**
 * Extension `ami_test`: commands run on an instance launched from the new AMI after it is available, before it is
 * copied, shared, published or reported as built.
 */
export interface AmiTestConfig {
  /**
   * The test commands in a shell provisioner's forms (`inline`, `script` / `scripts`, `environment_vars`,
   * `timeout`), decoded and rendered like one; `index` is -1 and `name` `ami_test`.
   */
  commands: ShellProvisioner;
  /** `ami_test.instance_type`; default: the build's `instance_type`. Always one that boots an instance-store root. */
  instanceType: string;
  /**
   * `ami_test.on_failure`: `deregister` (default) removes the new AMI and its bundle; `keep` keeps the AMI,
   * tagged `ami-builder:ami-test=failed`, for inspection (Sweep Orphans leaves it alone).
   */
  onFailure: 'deregister' | 'keep';
}

export type Provisioner =
  | ShellProvisioner
  | FileProvisioner
  | import('./template/provisioners/guest-types.js').GuestProvisioner;

/** `manifest` post-processor settings. */
export interface ManifestPostProcessor {
  type: 'manifest';
  output: string;
  stripPath: boolean;
  stripTime: boolean;
  customData?: Record<string, string>;
}

export interface BuildConfig {
  /** Packer's build name: the builder's `name`, or its type `amazon-instance`. */
  name: string;
  /** `region`: the build region. */
  region: string;
  /** `account_id`, digits only. Absent: taken from the caller identity at build time. */
  accountId?: string;

  /** `ami_name`, rendered (`{{timestamp}}`, `clean_resource_name`, …). */
  amiName: string;
  /** `ami_description`, template text: rendered with the build variables by Prevalidate. */
  amiDescription?: string;
  /** `ami_virtualization_type`. */
  amiVirtualizationType?: 'hvm' | 'paravirtual';
  /** `ami_users` */
  amiUsers: string[];
  /** `ami_groups` */
  amiGroups: string[];
  /** `ami_org_arns` */
  amiOrgArns: string[];
  /** `ami_ou_arns` */
  amiOuArns: string[];
  /** `ami_product_codes` */
  amiProductCodes: string[];
  /** `ami_regions`, de-duplicated, the build region removed. */
  amiRegions: string[];
  /** `ami_block_device_mappings` */
  amiBlockDeviceMappings: BlockDeviceMapping[];
  /** `launch_block_device_mappings` */
  launchBlockDeviceMappings: BlockDeviceMapping[];
  /** `tags` (+ `tag` blocks), template text for values and keys. */
  tags: Record<string, string>;
  /** `run_tags` (+ `run_tag` blocks), template text. */
  runTags: Record<string, string>;
  /** `ena_support` (unset = leave to AWS). */
  enaSupport?: boolean;
  /** `sriov_support` */
  sriovSupport: boolean;
  /** `tpm_support` */
  tpmSupport?: 'v2.0';
  /** `imds_support` */
  imdsSupport?: 'v2.0';
  /** `deprecate_at`, RFC 3339. */
  deprecateAt?: string;
  /** `deregistration_protection` */
  deregistrationProtection: { enabled: boolean; withCooldown: boolean };
  /** `force_deregister` */
  forceDeregister: boolean;
  /** `force_delete_snapshot`: with force_deregister, also deletes the old AMIs' bundles. */
  forceDeleteSnapshot: boolean;
  /** `skip_region_validation` */
  skipRegionValidation: boolean;

  /** `source_ami` */
  sourceAmi?: string;
  /** `source_ami_filter` */
  sourceAmiFilter?: SourceAmiFilter;

  /** `instance_type` */
  instanceType: string;
  /** `iam_instance_profile`; absent: a temporary role and instance profile are created for the build. */
  iamInstanceProfile?: string;
  /**
   * `temporary_iam_instance_profile_policy_document`: a further inline policy of the temporary role, capped by
   * the stack's permissions boundary. Dropped (with a warning) when `iam_instance_profile` is set, as by Packer.
   */
  temporaryIamPolicyDocument?: IamPolicyDocument;
  /** `user_data` (literal). */
  userData?: string;
  /** `user_data_file`, as an S3 reference. */
  userDataFile?: FileRef;
  network: NetworkConfig;
  metadataOptions?: MetadataOptions;
  /** `ebs_optimized` */
  ebsOptimized: boolean;
  /** `enable_unlimited_credits` (or the deprecated `enable_t2_unlimited`). */
  enableUnlimitedCredits: boolean;
  /** `enable_nitro_enclave` */
  enableNitroEnclave: boolean;
  /** `placement` / `tenancy` */
  placement?: { tenancy?: 'default' | 'dedicated' | 'host'; hostResourceGroupArn?: string };
  /** `capacity_reservation_preference` / `_id` / `_group_arn` */
  capacityReservation?: { preference?: 'none' | 'open'; id?: string; groupArn?: string };
  /** `license_specifications[].license_configuration_request.license_configuration_arn` */
  licenseConfigurationArns: string[];

  /** `ssh_username`: the user provisioning commands run as. Absent: root. */
  runAsUser?: string;
  /** `ssh_timeout` in seconds (default 300): bounds the wait for the SSM agent. */
  agentTimeoutSeconds: number;

  /** `x509_cert_path`, `x509_key_path` and `x509_upload_path`. */
  x509: { cert: FileRef; key: FileRef; uploadPath: string };
  bundle: {
    /** `s3_bucket` without any key prefix. */
    bucket: string;
    /** Key prefix from `s3_bucket` (`bucket/path/to` gives `path/to`), no leading or trailing slash; "" if none. */
    keyPrefix: string;
    /** `bundle_destination`, default `/tmp`. */
    destination: string;
    /** `bundle_prefix`, rendered, default `image-{{timestamp}}`. */
    prefix: string;
    /** `bundle_vol_command`, template text over the bundle-volume variables. */
    volCommand: string;
    /** `bundle_upload_command`, template text over the upload variables. */
    uploadCommand: string;
  };

  /**
   * The user variables that the late-rendered strings (`tags`, `run_tags`, `ami_description`) reference, and no
   * others, so that Prevalidate can render them with the build variables. Variables not referenced there never
   * enter the state.
   */
  lateVariables: Record<string, string>;

  /**
   * `aws_polling` (or Packer's defaults): AMI and copy waits. `explicit` when the template sets it: the checks are
   * then `delaySeconds` apart (a Choice → Wait loop), else they follow the poll schedule (lambdas/shared/poll.ts)
   * within the same bound, `maxAttempts × delaySeconds`.
   */
  polling: { delaySeconds: number; maxAttempts: number; explicit?: true };
  provisioners: Provisioner[];
  /** `error-cleanup-provisioner`, run when a provisioner fails (before cleanup). */
  errorCleanupProvisioner?: Provisioner;
  postProcessors: { manifest?: ManifestPostProcessor };

  /**
   * Extension `on_error`: `cleanup` (default), `abort` (keep the instance and security group), or
   * `run-cleanup-provisioner` (run the error-cleanup-provisioner, then keep them), as Packer's `-on-error`.
   */
  onError: OnError;
  /** Extension `command_timeout`, in seconds (default 7200): bound on each SSM command. */
  commandTimeoutSeconds: number;
  /** Extension `ami_id_parameter`: SSM parameter name to publish the AMI id to in every region. */
  amiIdParameter?: string;
  /** Extension `ami_test`: test the new AMI on an instance of its own before anything else uses it. */
  amiTest?: AmiTestConfig;
  /**
   * Extension `skip_if_unchanged` (present only when true): fingerprint the build and, when an available AMI of
   * this stack with the same fingerprint exists in every target region, launch nothing and report that AMI.
   */
  skipIfUnchanged?: true;
  /**
   * With `skip_if_unchanged`: `ami_name` and `bundle_prefix` rendered with a fixed clock and a fixed `{{uuid}}`
   * seed (set by Validate Template), so that the fingerprint leaves out what changes every run. Absent when that
   * second rendering failed: the fingerprint then uses the names of this run.
   */
  fingerprintNames?: { amiName: string; bundlePrefix: string };
  /**
   * The image family (tag `ami-builder:family` on the AMI and each copy): `ami_retention.family`, else the build
   * name and `ami_name` as written. Absent in configs made before families existed: the build name.
   */
  family?: string;
  /**
   * Extension `ami_retention`, or the stack's `retention` default (filled in by Validate Template): what Apply
   * Retention keeps of the family after the build. Absent: retention does not run after the build.
   */
  retention?: BuildRetention;
  /**
   * Where the values of `sensitive-variables` and credentials sit in this configuration (set by validation,
   * absent when none does): the tasks mask those values in their logs, errors and results (../sensitive.ts).
   * Locations, not values: the values themselves are already here, nowhere else.
   */
  sensitive?: SensitiveLocation[];
  /**
   * Set by Validate Template when the execution input names `resume`: this build adopts what the failed build
   * kept and enters the workflow at its failed step (README, "Resume a failed build").
   */
  resume?: ResumeConfig;
}

/** A resumed build: which execution it resumes, where it enters, and what it adopts. */
export interface ResumeConfig {
  /** The failed execution's ARN. */
  from: string;
  /**
   * The execution whose build created the kept resources (the failed one, or the first of a chain of resumes):
   * the temporary instance role's name and path derive from it.
   */
  origin: { id: string; name: string };
  /** The failed step, run again: `provision` (with `provisionerIndex`), `x509`, `bundle`, `upload`, `register`. */
  step: ResumeStep;
  provisionerIndex?: number;
  /** The failed build's state that the skipped steps had produced. */
  kept: KeptState;
}

/** The result of validating a template: one config per selected builder. */
export interface ValidatedTemplate {
  builds: BuildConfig[];
  warnings: string[];
  /** Builders skipped (other types, or filtered out by only/except), with the reason. */
  skipped: { name: string; type: string; reason: string }[];
  /** The input's `parallel_builds` (Packer's `-parallel-builds`): builds run at once, 0 for no limit. */
  parallelBuilds?: number;
}
