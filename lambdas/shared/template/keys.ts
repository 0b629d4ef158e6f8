/**
 * The one table of every key the template language knows: each `amazon-instance` builder key (Packer's own and
 * our extensions), the provisioner and post-processor keys, and the template's root keys. Validation (the
 * generic decode and the unknown-key check), the JSON Schema (`schema/template.schema.json`) and the key
 * reference in `docs/TEMPLATE.md` are all generated from it, so they cannot drift apart.
 *
 * Keys and defaults follow packer-plugin-amazon v1.8 (`builder/instance`, `builder/common`) and the Packer SDK's
 * communicator config.
 */

/** Where a builder key comes from in Packer, or `extension` for ours. */
export type Category = 'packer-instance' | 'ami' | 'access' | 'run' | 'communicator' | 'extension';

export type ValueType =
  | { kind: 'string'; allowed?: readonly string[]; trim?: boolean }
  | { kind: 'boolean' }
  /** true, false or unset (Packer's "trilean"): `""` is unset. */
  | { kind: 'trilean' }
  /** A whole number in `[min, max]`: every integer key has its range (AWS's, or a sane bound for ignored keys). */
  | { kind: 'integer'; min: number; max: number }
  /** A Go duration string (`"5m"`, `"1h30m"`), held in seconds, at most `maxSeconds`. */
  | { kind: 'duration'; maxSeconds: number }
  /** A list of strings, or a comma-separated string. `trim`: entries are trimmed and empty ones dropped. */
  | { kind: 'stringList'; trim?: boolean }
  | { kind: 'stringMap' }
  | { kind: 'object'; fields: readonly FieldSpec[] }
  | { kind: 'objectList'; fields: readonly FieldSpec[] }
  /** Any JSON object: credential blocks (dropped) and values with their own parser (policy documents). */
  | { kind: 'anyObject' };

/** The value types provisioner key tables use most, shared so that each module does not declare its own. */
export const FIELD_TYPE = {
  list: { kind: 'stringList' },
  str: { kind: 'string' },
  bool: { kind: 'boolean' },
} as const satisfies Record<string, ValueType>;

export interface FieldSpec {
  key: string;
  type: ValueType;
  /** The default as a user sees it (docs, JSON Schema). Absent: unset. */
  default?: string | number | boolean | readonly string[];
  /** What the key means in this system. */
  description: string;
  /** Values that are secrets: never rendered, never shown in a message. */
  secret?: boolean;
  /**
   * Packer's own message for a value outside `allowed`, or out of an integer's range (default: a generic one
   * listing what is allowed).
   */
  invalid?: (value: string) => string;
}

export interface KeySpec extends FieldSpec {
  category: Category;
  required?: boolean;
  /**
   * The key is accepted and type-checked but has no effect here; the validation warning gives this reason.
   */
  ignored?: string;
  /** Credentials: accepted for compatibility, dropped from the configuration, named (never shown) in a warning. */
  credential?: boolean;
  /** Kept as template text and rendered when the source AMI is known (the build variables are data). */
  late?: boolean;
  /** Retired key that Packer's fixer rewrites to another key: accepted as that key, with a warning. */
  fixedTo?: string;
  /** The `BuildConfig` field the key fills (docs only). */
  target?: string;
}

const str = (extra: { allowed?: readonly string[]; trim?: boolean } = {}): ValueType => ({
  kind: 'string',
  ...extra,
});
const id: ValueType = { kind: 'string', trim: true };
const bool: ValueType = { kind: 'boolean' };
const trilean: ValueType = { kind: 'trilean' };
const int = (min: number, max: number): ValueType => ({ kind: 'integer', min, max });
const dur = (maxSeconds: number): ValueType => ({ kind: 'duration', maxSeconds });
/** SSM Run Command's limit on a command (48h), and the bound of every other duration. */
const H48 = 172_800;
/** The wait for the SSM agent counts toward the execution's history (25,000 events): a few hours at most. */
const AGENT_WAIT = 3 * 3600;
const list: ValueType = { kind: 'stringList' };
const idList: ValueType = { kind: 'stringList', trim: true };
const map: ValueType = { kind: 'stringMap' };
const object = (fields: readonly FieldSpec[]): ValueType => ({ kind: 'object', fields });
const objectList = (fields: readonly FieldSpec[]): ValueType => ({ kind: 'objectList', fields });

const SPOT = 'spot instances are not used: the build instance is always on-demand';
const INSTANCE_STORE_SNAPSHOTS = 'an instance-store AMI has no EBS snapshots';
const INSTANCE_STORE_ENCRYPTION =
  'an instance-store AMI has no EBS root volume to encrypt; the bundle is encrypted by ec2-bundle-vol with the X.509 certificate';
const SDK_SETTING = "the workflow's AWS clients have their own settings";
const SSH = 'there is no SSH connection to configure: commands run through SSM Run Command';
const WINRM = 'WinRM is not used: builds are Linux only and commands run through SSM Run Command';

/** `ami_block_device_mappings` / `launch_block_device_mappings` entries (`builder/common/block_device.go`). */
export const BLOCK_DEVICE_FIELDS: readonly FieldSpec[] = [
  { key: 'device_name', type: str(), description: 'Device name, e.g. `/dev/sdb`. Required.' },
  {
    key: 'delete_on_termination',
    type: bool,
    description: 'Delete the EBS volume when the instance terminates.',
  },
  { key: 'encrypted', type: trilean, description: 'Encrypt the EBS volume.' },
  { key: 'iops', type: int(0, 256_000), description: 'Provisioned IOPS (io1, io2, gp3).' },
  {
    key: 'kms_key_id',
    type: str(),
    description: 'KMS key for an encrypted volume; needs `encrypted: true`.',
  },
  { key: 'no_device', type: bool, description: 'Suppress the device of the AMI mapping.' },
  { key: 'snapshot_id', type: id, description: 'Snapshot to create the volume from.' },
  { key: 'throughput', type: int(0, 2000), description: 'Throughput in MiB/s, gp3 only (125–1000).' },
  {
    key: 'virtual_name',
    type: str(),
    description: 'Instance-store volume name (`ephemeral0`…); only used when it starts with `ephemeral`.',
  },
  { key: 'volume_type', type: str(), description: 'EBS volume type (`gp2`, `gp3`, `io1`, `io2`, `st1`, …).' },
  { key: 'volume_size', type: int(0, 65_536), description: 'Volume size in GiB.' },
];

const KEY_VALUE_FIELDS: readonly FieldSpec[] = [
  { key: 'key', type: str(), description: 'Tag key.' },
  { key: 'value', type: str(), description: 'Tag value.' },
];

const FILTERS_FIELD: FieldSpec = {
  key: 'filters',
  type: map,
  description: 'EC2 filters, name → value; a value may be a comma-separated (CSV) list of values.',
};

/** Every key of an `amazon-instance` builder object. */
export const BUILDER_KEYS: readonly KeySpec[] = [
  // ---- amazon-instance (builder/instance/builder.go) ----
  {
    key: 'account_id',
    category: 'packer-instance',
    type: id,
    description:
      'AWS account id that owns the bundle (`ec2-bundle-vol -u`). Dashes are removed. Optional here: when absent it is taken from the caller identity at build time.',
    target: 'accountId',
  },
  {
    key: 's3_bucket',
    category: 'packer-instance',
    required: true,
    type: id,
    description:
      'Bucket the bundle is uploaded to, optionally with a key prefix (`bucket/path/prefix`). Created if missing. Must be in the build region.',
    target: 'bundle.bucket, bundle.keyPrefix',
  },
  {
    key: 'x509_cert_path',
    category: 'packer-instance',
    required: true,
    type: id,
    description:
      'X.509 certificate for ec2-bundle-vol: `s3://bucket/key` or `ssm:/parameter` (SecureString). A local path is accepted only by the CLI, which uploads it.',
    target: 'x509.cert',
  },
  {
    key: 'x509_key_path',
    category: 'packer-instance',
    required: true,
    type: id,
    description:
      "The certificate's private key: `s3://bucket/key` or `ssm:/parameter` (SecureString). A local path is accepted only by the CLI.",
    target: 'x509.key',
  },
  {
    key: 'x509_upload_path',
    category: 'packer-instance',
    type: str(),
    default: '/tmp',
    description:
      'Directory on the instance the certificate and key are written to (`cert.pem`, `key.pem`); excluded from the bundle.',
    target: 'x509.uploadPath',
  },
  {
    key: 'bundle_destination',
    category: 'packer-instance',
    type: str(),
    default: '/tmp',
    description: 'Directory on the instance where the bundle parts and manifest are written.',
    target: 'bundle.destination',
  },
  {
    key: 'bundle_prefix',
    category: 'packer-instance',
    type: str(),
    default: 'image-{{timestamp}}',
    description: 'File name prefix of the bundle; the manifest is `<prefix>.manifest.xml`.',
    target: 'bundle.prefix',
  },
  {
    key: 'bundle_vol_command',
    category: 'packer-instance',
    type: str(),
    late: true,
    default:
      'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
    description:
      'Command that bundles the root volume, a template over AccountId, Architecture, CertPath, Destination, KeyPath, Prefix, PrivatePath.',
    target: 'bundle.volCommand',
  },
  {
    key: 'bundle_upload_command',
    category: 'packer-instance',
    type: str(),
    late: true,
    default:
      'sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry',
    description:
      "Command that uploads the bundle, a template over AccessKey, BucketName, BundleDirectory, ManifestPath, Region, SecretKey, Token. The credentials are the instance profile's, read on the instance.",
    target: 'bundle.uploadCommand',
  },
  {
    key: 'ami_block_device_mappings',
    category: 'packer-instance',
    type: objectList(BLOCK_DEVICE_FIELDS),
    description: 'Block-device mappings registered with the AMI (RegisterImage).',
    target: 'amiBlockDeviceMappings',
  },
  {
    key: 'launch_block_device_mappings',
    category: 'packer-instance',
    type: objectList(BLOCK_DEVICE_FIELDS),
    description: 'Block-device mappings of the build instance (RunInstances).',
    target: 'launchBlockDeviceMappings',
  },
  {
    key: 'tpm_support',
    category: 'packer-instance',
    type: str({ allowed: ['v2.0'] }),
    invalid: () => 'The only valid tpm_support value is "v2.0"',
    description: 'NitroTPM support registered with the AMI.',
    target: 'tpmSupport',
  },

  // ---- AMI config (builder/common/ami_config.go, snapshot_config.go) ----
  {
    key: 'ami_name',
    category: 'ami',
    required: true,
    type: str(),
    description:
      "Name of the AMI: 3–128 characters of letters, digits, `( ) [ ] . / - ' @ _` and spaces. Rendered at validation (`{{timestamp}}`, `clean_resource_name`).",
    target: 'amiName',
  },
  {
    key: 'ami_description',
    category: 'ami',
    type: str(),
    late: true,
    description: 'Description of the AMI; may use the build variables (`{{.SourceAMIName}}`…).',
    target: 'amiDescription',
  },
  {
    key: 'ami_virtualization_type',
    category: 'ami',
    type: str({ allowed: ['hvm', 'paravirtual'] }),
    description: 'Virtualization type registered (AWS defaults to paravirtual).',
    target: 'amiVirtualizationType',
  },
  {
    key: 'ami_users',
    category: 'ami',
    type: idList,
    description: 'Account ids given launch permission.',
    target: 'amiUsers',
  },
  {
    key: 'ami_groups',
    category: 'ami',
    type: idList,
    description: 'Groups given launch permission; AWS only accepts `all` (public).',
    target: 'amiGroups',
  },
  {
    key: 'ami_org_arns',
    category: 'ami',
    type: idList,
    description: 'Organization ARNs given launch permission.',
    target: 'amiOrgArns',
  },
  {
    key: 'ami_ou_arns',
    category: 'ami',
    type: idList,
    description: 'Organizational-unit ARNs given launch permission.',
    target: 'amiOuArns',
  },
  {
    key: 'ami_product_codes',
    category: 'ami',
    type: idList,
    description: 'Product codes attached to the AMI.',
    target: 'amiProductCodes',
  },
  {
    key: 'ami_regions',
    category: 'ami',
    type: idList,
    description: 'Regions the AMI is copied to; de-duplicated, the build region removed.',
    target: 'amiRegions',
  },
  {
    key: 'skip_region_validation',
    category: 'ami',
    type: bool,
    default: false,
    description: 'Skip the check that `region` and `ami_regions` exist.',
    target: 'skipRegionValidation',
  },
  {
    key: 'tags',
    category: 'ami',
    type: map,
    late: true,
    description: 'Tags of the AMI (and its copies); keys and values may use the build variables.',
    target: 'tags',
  },
  {
    key: 'tag',
    category: 'ami',
    type: objectList(KEY_VALUE_FIELDS),
    late: true,
    description: 'Tags as `{ "key", "value" }` blocks, merged into `tags`.',
    target: 'tags',
  },
  {
    key: 'ena_support',
    category: 'ami',
    type: trilean,
    description: 'Register the AMI with ENA support (needs an HVM image). Unset: left to AWS.',
    target: 'enaSupport',
  },
  {
    key: 'enhanced_networking',
    category: 'ami',
    type: bool,
    fixedTo: 'ena_support',
    description:
      "Retired; Packer's fixer rewrites it to `ena_support`, and so does this validator (with a warning).",
    target: 'enaSupport',
  },
  {
    key: 'sriov_support',
    category: 'ami',
    type: bool,
    default: false,
    description: 'Register the AMI with `SriovNetSupport=simple` (needs an HVM image).',
    target: 'sriovSupport',
  },
  {
    key: 'force_deregister',
    category: 'ami',
    type: bool,
    default: false,
    description: 'Deregister AMIs of the same name (build region and `ami_regions`) before registering.',
    target: 'forceDeregister',
  },
  {
    key: 'force_delete_snapshot',
    category: 'ami',
    type: bool,
    default: false,
    description: 'With `force_deregister`, also delete what backs the deregistered AMIs.',
    target: 'forceDeleteSnapshot',
  },
  {
    key: 'encrypt_boot',
    category: 'ami',
    type: trilean,
    ignored: INSTANCE_STORE_ENCRYPTION,
    description: 'Accepted, no effect.',
  },
  {
    key: 'kms_key_id',
    category: 'ami',
    type: str(),
    ignored: INSTANCE_STORE_ENCRYPTION,
    description: 'Accepted (format checked), no effect.',
  },
  {
    key: 'region_kms_key_ids',
    category: 'ami',
    type: map,
    ignored: INSTANCE_STORE_ENCRYPTION,
    description: 'Accepted (checked against `ami_regions`), no effect.',
  },
  {
    key: 'skip_save_build_region',
    category: 'ami',
    type: bool,
    ignored:
      "the AMI is always registered in the build region (Packer's amazon-instance does the same in effect)",
    description: 'Accepted, no effect.',
  },
  {
    key: 'snapshot_copy_duration_minutes',
    category: 'ami',
    type: int(0, 2880),
    ignored: INSTANCE_STORE_SNAPSHOTS,
    description: 'Accepted, no effect.',
  },
  {
    key: 'imds_support',
    category: 'ami',
    type: str({ allowed: ['v2.0', ''] }),
    invalid: () => 'The only valid imds_support values are "v2.0" or the empty string',
    description: 'Set to `v2.0` to make instances launched from the AMI require IMDSv2.',
    target: 'imdsSupport',
  },
  {
    key: 'deprecate_at',
    category: 'ami',
    type: str(),
    description: 'RFC 3339 time at which the AMI is deprecated (`2030-01-02T15:04:05Z`).',
    target: 'deprecateAt',
  },
  {
    key: 'deregistration_protection',
    category: 'ami',
    type: object([
      { key: 'enabled', type: bool, default: false, description: 'Enable deregistration protection.' },
      {
        key: 'with_cooldown',
        type: bool,
        default: false,
        description: 'Add the 24-hour cooldown; implies `enabled`.',
      },
    ]),
    description: 'Deregistration protection of the AMI and its copies.',
    target: 'deregistrationProtection',
  },
  {
    key: 'snapshot_tags',
    category: 'ami',
    type: map,
    late: true,
    ignored: INSTANCE_STORE_SNAPSHOTS,
    description: 'Accepted, no effect.',
  },
  {
    key: 'snapshot_tag',
    category: 'ami',
    type: objectList(KEY_VALUE_FIELDS),
    late: true,
    ignored: INSTANCE_STORE_SNAPSHOTS,
    description: 'Accepted, no effect.',
  },
  {
    key: 'snapshot_users',
    category: 'ami',
    type: idList,
    ignored: INSTANCE_STORE_SNAPSHOTS,
    description: 'Accepted, no effect.',
  },
  {
    key: 'snapshot_groups',
    category: 'ami',
    type: idList,
    ignored: INSTANCE_STORE_SNAPSHOTS,
    description: 'Accepted, no effect.',
  },

  // ---- Access config (builder/common/access_config.go) ----
  {
    key: 'access_key',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'secret_key',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'token',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'profile',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'shared_credentials_file',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'mfa_code',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'assume_role',
    category: 'access',
    type: { kind: 'anyObject' },
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'vault_aws_engine',
    category: 'access',
    type: { kind: 'anyObject' },
    credential: true,
    secret: true,
    description: "Dropped: the build uses the workflow's IAM role.",
  },
  {
    key: 'custom_endpoint_ec2',
    category: 'access',
    type: str(),
    credential: true,
    secret: true,
    description: 'Dropped: the workflow calls the regional AWS endpoints with its own role.',
  },
  {
    key: 'decode_authorization_messages',
    category: 'access',
    type: bool,
    ignored: SDK_SETTING,
    description: 'Accepted, no effect.',
  },
  {
    key: 'insecure_skip_tls_verify',
    category: 'access',
    type: bool,
    ignored: SDK_SETTING,
    description: 'Accepted, no effect.',
  },
  {
    key: 'max_retries',
    category: 'access',
    type: int(0, 100),
    ignored: SDK_SETTING,
    description: 'Accepted, no effect.',
  },
  {
    key: 'skip_credential_validation',
    category: 'access',
    type: bool,
    ignored: SDK_SETTING,
    description: 'Accepted, no effect.',
  },
  {
    key: 'skip_metadata_api_check',
    category: 'access',
    type: bool,
    ignored: SDK_SETTING,
    description: 'Accepted, no effect.',
  },
  {
    key: 'region',
    category: 'access',
    required: true,
    type: id,
    description: 'Build region: the instance runs and the AMI is registered there.',
    target: 'region',
  },
  {
    key: 'aws_polling',
    category: 'access',
    type: object([
      {
        key: 'delay_seconds',
        type: int(0, 3600),
        default: 15,
        description: 'Seconds between two checks of the AMI state.',
      },
      {
        key: 'max_attempts',
        type: int(0, 2000),
        default: 120,
        description:
          'Checks before giving up. Default 120 when nothing is set, 40 when only `delay_seconds` is set (as Packer).',
      },
    ]),
    description: 'How the AMI (and copies) are waited for.',
    target: 'polling',
  },

  // ---- Run config (builder/common/run_config.go) ----
  {
    key: 'source_ami',
    category: 'run',
    type: id,
    description: 'AMI the build instance is launched from.',
    target: 'sourceAmi',
  },
  {
    key: 'source_ami_filter',
    category: 'run',
    type: object([
      FILTERS_FIELD,
      {
        key: 'owners',
        type: idList,
        description: 'Owner account ids or aliases (`self`, `amazon`…). Required.',
      },
      { key: 'most_recent', type: bool, default: false, description: 'Take the newest match.' },
      { key: 'include_deprecated', type: bool, default: false, description: 'Also match deprecated images.' },
    ]),
    description: 'Finds the source AMI with DescribeImages.',
    target: 'sourceAmiFilter',
  },
  {
    key: 'instance_type',
    category: 'run',
    type: id,
    description: 'Instance type of the build instance.',
    target: 'instanceType',
  },
  {
    key: 'spot_instance_types',
    category: 'run',
    type: idList,
    ignored: `${SPOT}; without instance_type the first type is used on-demand`,
    description: 'Accepted; the first entry is used as `instance_type` when that is absent.',
  },
  { key: 'spot_price', category: 'run', type: str(), ignored: SPOT, description: 'Accepted, no effect.' },
  {
    key: 'spot_allocation_strategy',
    category: 'run',
    type: str({
      allowed: [
        'lowest-price',
        'diversified',
        'capacity-optimized',
        'capacity-optimized-prioritized',
        'price-capacity-optimized',
      ],
    }),
    invalid: (v) => `Unknown spot_allocation_strategy: ${v}`,
    ignored: SPOT,
    description: 'Accepted (value checked), no effect.',
  },
  {
    key: 'spot_price_auto_product',
    category: 'run',
    type: str(),
    ignored: SPOT,
    description: 'Deprecated in Packer; accepted, no effect.',
  },
  {
    key: 'spot_tags',
    category: 'run',
    type: map,
    late: true,
    ignored: SPOT,
    description: 'Accepted, no effect.',
  },
  {
    key: 'spot_tag',
    category: 'run',
    type: objectList(KEY_VALUE_FIELDS),
    late: true,
    ignored: SPOT,
    description: 'Accepted, no effect.',
  },
  {
    key: 'fleet_tags',
    category: 'run',
    type: map,
    late: true,
    ignored: SPOT,
    description: 'Accepted, no effect.',
  },
  {
    key: 'fleet_tag',
    category: 'run',
    type: objectList(KEY_VALUE_FIELDS),
    late: true,
    ignored: SPOT,
    description: 'Accepted, no effect.',
  },
  {
    key: 'block_duration_minutes',
    category: 'run',
    type: int(0, 360),
    ignored: SPOT,
    description: 'Accepted (checked), no effect.',
  },
  {
    key: 'availability_zone',
    category: 'run',
    type: id,
    description: 'Availability zone of the build instance.',
    target: 'network.availabilityZone',
  },
  {
    key: 'subnet_id',
    category: 'run',
    type: id,
    description: 'Subnet of the build instance.',
    target: 'network.subnetId',
  },
  {
    key: 'subnet_filter',
    category: 'run',
    type: object([
      FILTERS_FIELD,
      {
        key: 'most_free',
        type: bool,
        default: false,
        description: 'Pick the subnet with the most free addresses.',
      },
      { key: 'random', type: bool, default: false, description: 'Pick a random matching subnet.' },
    ]),
    description: 'Finds the subnet with DescribeSubnets.',
    target: 'network.subnetFilter',
  },
  {
    key: 'vpc_id',
    category: 'run',
    type: id,
    description: 'VPC of the build instance.',
    target: 'network.vpcId',
  },
  {
    key: 'vpc_filter',
    category: 'run',
    type: object([FILTERS_FIELD]),
    description: 'Finds the VPC with DescribeVpcs; exactly one must match.',
    target: 'network.vpcFilter',
  },
  {
    key: 'security_group_id',
    category: 'run',
    type: id,
    description: 'Security group of the build instance.',
    target: 'network.securityGroupIds',
  },
  {
    key: 'security_group_ids',
    category: 'run',
    type: idList,
    description:
      'Security groups of the build instance. Absent: a temporary group without ingress rules is created.',
    target: 'network.securityGroupIds',
  },
  {
    key: 'security_group_filter',
    category: 'run',
    type: object([FILTERS_FIELD]),
    description: 'Finds the security groups with DescribeSecurityGroups.',
    target: 'network.securityGroupFilter',
  },
  {
    key: 'temporary_security_group_source_cidrs',
    category: 'run',
    type: idList,
    default: ['0.0.0.0/0'],
    description:
      'Checked and kept for compatibility; the temporary group gets no ingress rule at all (SSM needs none).',
    target: 'network.temporarySecurityGroupSourceCidrs',
  },
  {
    key: 'temporary_security_group_source_public_ip',
    category: 'run',
    type: bool,
    ignored: 'the temporary security group has no ingress rule (SSM needs none)',
    description: 'Accepted, no effect.',
  },
  {
    key: 'associate_public_ip_address',
    category: 'run',
    type: trilean,
    description: "Give the build instance a public address. Unset: the subnet's default.",
    target: 'network.associatePublicIpAddress',
  },
  {
    key: 'iam_instance_profile',
    category: 'run',
    type: id,
    description:
      "Instance profile of the build instance (one of the stack's `extraInstanceProfiles`); its role must allow the SSM agent and S3. Absent: a temporary role and instance profile are created for the build and removed after it.",
    target: 'iamInstanceProfile',
  },
  {
    key: 'skip_profile_validation',
    category: 'run',
    type: bool,
    ignored: "the profile is checked against the stack's allowed profiles",
    description: 'Accepted, no effect.',
  },
  {
    key: 'temporary_iam_instance_profile_policy_document',
    category: 'run',
    type: { kind: 'anyObject' },
    description:
      "`{ Version, Statement: [{ Effect, Action, Resource, Condition? }] }`: a further inline policy of the build's temporary instance role. The stack's permissions boundary caps it: it can grant nothing beyond the build's own staged folder, bundle keys, command log group and the SSM agent's actions. Ignored (with a warning) when `iam_instance_profile` is set.",
    target: 'temporaryIamPolicyDocument',
  },
  {
    key: 'run_tags',
    category: 'run',
    type: map,
    late: true,
    description: 'Tags of the build instance and the temporary security group; may use the build variables.',
    target: 'runTags',
  },
  {
    key: 'run_tag',
    category: 'run',
    type: objectList(KEY_VALUE_FIELDS),
    late: true,
    description: 'Run tags as `{ "key", "value" }` blocks, merged into `run_tags`.',
    target: 'runTags',
  },
  {
    key: 'user_data',
    category: 'run',
    type: str(),
    description: 'User data of the build instance (at most 16 KB).',
    target: 'userData',
  },
  {
    key: 'user_data_file',
    category: 'run',
    type: id,
    description:
      'User data from `s3://bucket/key`; a local path is accepted only by the CLI, which uploads it.',
    target: 'userDataFile',
  },
  {
    key: 'ebs_optimized',
    category: 'run',
    type: bool,
    default: false,
    description: 'Launch EBS-optimized.',
    target: 'ebsOptimized',
  },
  {
    key: 'enable_nitro_enclave',
    category: 'run',
    type: bool,
    default: false,
    description: 'Enable Nitro Enclaves on the build instance.',
    target: 'enableNitroEnclave',
  },
  {
    key: 'enable_unlimited_credits',
    category: 'run',
    type: bool,
    default: false,
    description: 'Unlimited CPU credits (T2, T3, T3a, T4g only).',
    target: 'enableUnlimitedCredits',
  },
  {
    key: 'enable_t2_unlimited',
    category: 'run',
    type: bool,
    default: false,
    description: 'Deprecated alias of `enable_unlimited_credits` (warning).',
    target: 'enableUnlimitedCredits',
  },
  {
    key: 'capacity_reservation_preference',
    category: 'run',
    type: str({ allowed: ['none', 'open'] }),
    invalid: () => "capacity_reservation_preference only accepts 'none' or 'open' values",
    description: 'Capacity reservation preference.',
    target: 'capacityReservation.preference',
  },
  {
    key: 'capacity_reservation_id',
    category: 'run',
    type: id,
    description: 'Capacity reservation to launch into.',
    target: 'capacityReservation.id',
  },
  {
    key: 'capacity_reservation_group_arn',
    category: 'run',
    type: id,
    description: 'Capacity reservation group to launch into.',
    target: 'capacityReservation.groupArn',
  },
  {
    key: 'placement',
    category: 'run',
    type: object([
      {
        key: 'host_resource_group_arn',
        type: str({ trim: true }),
        description: 'Host resource group to launch into.',
      },
      {
        key: 'host_id',
        type: str({ trim: true }),
        description: "Accepted, ignored (as by Packer's amazon-instance).",
      },
      {
        key: 'tenancy',
        type: str({ allowed: ['default', 'dedicated', 'host'] }),
        invalid: (v) => `Error: Unknown tenancy type ${v}`,
        description: 'Tenancy of the build instance.',
      },
    ]),
    description: 'Placement of the build instance.',
    target: 'placement',
  },
  {
    key: 'tenancy',
    category: 'run',
    type: str({ allowed: ['default', 'dedicated', 'host'] }),
    invalid: (v) => `Error: Unknown tenancy type ${v}`,
    description: 'Deprecated form of `placement.tenancy`.',
    target: 'placement.tenancy',
  },
  {
    key: 'license_specifications',
    category: 'run',
    type: objectList([
      {
        key: 'license_configuration_request',
        type: object([
          {
            key: 'license_configuration_arn',
            type: str({ trim: true }),
            description: 'License configuration ARN.',
          },
        ]),
        description: 'License configuration request.',
      },
    ]),
    description: 'License configurations of the build instance.',
    target: 'licenseConfigurationArns',
  },
  {
    key: 'metadata_options',
    category: 'run',
    type: object([
      {
        key: 'http_endpoint',
        type: str({ allowed: ['enabled', 'disabled'] }),
        invalid: () => 'http_endpoint requires either disabled or enabled as its value',
        description: 'IMDS endpoint.',
      },
      {
        key: 'http_tokens',
        type: str({ allowed: ['optional', 'required'] }),
        invalid: () => 'http_tokens requires either optional or required as its value',
        description: 'IMDSv2 tokens.',
      },
      {
        key: 'http_put_response_hop_limit',
        type: int(0, 64),
        invalid: () => 'http_put_response_hop_limit requires a number between 1 and 64',
        description: 'PUT response hop limit, 1–64.',
      },
      {
        key: 'instance_metadata_tags',
        type: str({ allowed: ['enabled', 'disabled'] }),
        invalid: () => 'instance_metadata_tags requires either disabled or enabled as its value',
        description: 'Tags in the instance metadata.',
      },
    ]),
    description:
      "Instance metadata options of the build instance. Unlike Packer's amazon-instance, they ARE sent to RunInstances; fields left out keep the account default.",
    target: 'metadataOptions',
  },
  {
    key: 'shutdown_behavior',
    category: 'run',
    type: str({ allowed: ['stop', 'terminate'] }),
    invalid: () => "shutdown_behavior only accepts 'stop' or 'terminate' values.",
    ignored: 'only used by Packer for EBS-backed instances; the build instance is always terminated',
    description: 'Accepted (value checked), no effect.',
  },
  {
    key: 'disable_stop_instance',
    category: 'run',
    type: bool,
    ignored: 'there is no stop step',
    description: 'Accepted, no effect.',
  },
  {
    key: 'windows_password_timeout',
    category: 'run',
    type: dur(H48),
    ignored: WINRM,
    description: 'Accepted, no effect.',
  },

  // ---- Communicator (packer-plugin-sdk communicator/config.go) ----
  {
    key: 'communicator',
    category: 'communicator',
    type: str({ allowed: ['ssh', 'none', 'winrm', 'docker', 'dockerWindowsContainer'] }),
    invalid: (v) => `Communicator type ${v} is invalid`,
    default: 'ssh',
    description:
      '`ssh` (or `none`) is accepted; commands always run through SSM. `winrm` is an error: Linux only.',
  },
  {
    key: 'ssh_username',
    category: 'communicator',
    type: id,
    description: 'The user provisioning commands run as. Absent: root.',
    target: 'runAsUser',
  },
  {
    key: 'ssh_timeout',
    category: 'communicator',
    type: dur(AGENT_WAIT),
    default: '5m',
    description: 'How long to wait for the SSM agent of the instance to come online.',
    target: 'agentTimeoutSeconds',
  },
  {
    key: 'ssh_wait_timeout',
    category: 'communicator',
    type: dur(AGENT_WAIT),
    description: 'Legacy alias of `ssh_timeout`.',
    target: 'agentTimeoutSeconds',
  },
  ...[
    ['pause_before_connecting', dur(H48)],
    ['ssh_host', str()],
    ['ssh_port', int(0, 65535)],
    ['ssh_password', str(), true],
    ['ssh_keypair_name', str()],
    ['temporary_key_pair_name', str()],
    [
      'temporary_key_pair_type',
      str({ allowed: ['rsa', 'ed25519'] }),
      false,
      () => 'temporary_key_pair_type requires either rsa or ed25519 as its value',
    ],
    ['temporary_key_pair_bits', int(0, 16_384)],
    ['ssh_ciphers', list],
    ['ssh_clear_authorized_keys', bool],
    ['ssh_key_exchange_algorithms', list],
    ['ssh_private_key_file', str()],
    ['ssh_certificate_file', str()],
    ['ssh_pty', bool],
    ['ssh_agent_auth', bool],
    ['ssh_disable_agent_forwarding', bool],
    ['ssh_handshake_attempts', int(0, 1000)],
    ['ssh_bastion_host', str()],
    ['ssh_bastion_port', int(0, 65535)],
    ['ssh_bastion_agent_auth', bool],
    ['ssh_bastion_username', str()],
    ['ssh_bastion_password', str(), true],
    ['ssh_bastion_interactive', bool],
    ['ssh_bastion_private_key_file', str()],
    ['ssh_bastion_certificate_file', str()],
    ['ssh_file_transfer_method', str({ allowed: ['scp', 'sftp'] })],
    ['ssh_proxy_host', str()],
    ['ssh_proxy_port', int(0, 65535)],
    ['ssh_proxy_username', str()],
    ['ssh_proxy_password', str(), true],
    ['ssh_keep_alive_interval', dur(H48)],
    ['ssh_read_write_timeout', dur(H48)],
    ['ssh_remote_tunnels', list],
    ['ssh_local_tunnels', list],
    ['ssh_public_key', str(), true],
    ['ssh_private_key', str(), true],
    [
      'ssh_interface',
      str({ allowed: ['public_ip', 'private_ip', 'public_dns', 'private_dns', 'ipv6', 'session_manager'] }),
      false,
      (v: string) => `Unknown interface type: ${v}`,
    ],
    ['ssh_private_ip', bool],
    ['pause_before_ssm', dur(H48)],
    ['session_manager_port', int(0, 65535)],
  ].map(
    ([key, type, secret, invalid]): KeySpec => ({
      key: key as string,
      category: 'communicator',
      type: type as ValueType,
      ignored: SSH,
      secret: secret === true ? true : undefined,
      invalid: invalid as ((value: string) => string) | undefined,
      description: 'Accepted (type checked), no effect.',
    }),
  ),
  ...[
    ['winrm_username', str()],
    ['winrm_password', str(), true],
    ['winrm_host', str()],
    ['winrm_no_proxy', bool],
    ['winrm_port', int(0, 65535)],
    ['winrm_timeout', dur(H48)],
    ['winrm_use_ssl', bool],
    ['winrm_insecure', bool],
    ['winrm_use_ntlm', bool],
  ].map(
    ([key, type, secret]): KeySpec => ({
      key: key as string,
      category: 'communicator',
      type: type as ValueType,
      ignored: WINRM,
      secret: secret === true ? true : undefined,
      description: 'Accepted (type checked), no effect.',
    }),
  ),

  // ---- Extensions (ours) ----
  {
    key: 'on_error',
    category: 'extension',
    type: str({ allowed: ['cleanup', 'abort', 'run-cleanup-provisioner'] }),
    default: 'cleanup',
    description:
      "What a failed build does: `cleanup` runs the error-cleanup-provisioner, then removes the instance and temporary security group; `abort` keeps them (tagged `ami-builder:on-error=keep`) for debugging, as Packer's `-on-error=abort`; `run-cleanup-provisioner` runs the error-cleanup-provisioner, then keeps them, as Packer's `-on-error=run-cleanup-provisioner`.",
    target: 'onError',
  },
  {
    key: 'command_timeout',
    category: 'extension',
    type: dur(H48),
    default: '2h',
    description: 'Bound on each SSM command (provisioners without `timeout`, bundling, upload). At most 48h.',
    target: 'commandTimeoutSeconds',
  },
  {
    key: 'ami_id_parameter',
    category: 'extension',
    type: str({ trim: true }),
    description:
      "SSM parameter name (starting with `/`) that receives the new AMI id in every region of the build; must lie under the stack's allowed prefix.",
    target: 'amiIdParameter',
  },
  {
    key: 'skip_if_unchanged',
    category: 'extension',
    type: bool,
    default: false,
    description:
      "Build only when something changed: the build's fingerprint (the normalized configuration, the resolved source AMI, the content of every S3 script, file and folder provisioning uses, the rendered bundle commands; names rendered from `{{timestamp}}`, `{{isotime}}` or `{{uuid}}` excepted) is tagged on the AMI and its copies (`ami-builder:fingerprint`). When an available AMI of this stack with the same fingerprint exists in the build region and every `ami_regions` region, nothing is launched and that AMI is the build's artifact, with status `unchanged`. An unchanged static `ami_name` is then no conflict.",
    target: 'skipIfUnchanged',
  },
  {
    key: 'ami_test',
    category: 'extension',
    type: object([
      { key: 'inline', type: list, description: 'Test commands, one per line of the generated script.' },
      {
        key: 'script',
        type: str({ trim: true }),
        description: 'Test script from `s3://bucket/key` (a local path: CLI only).',
      },
      {
        key: 'scripts',
        type: idList,
        description: 'Test scripts from `s3://…` (local paths: CLI only), run in order.',
      },
      {
        key: 'environment_vars',
        type: list,
        description: '`NAME=value` pairs, shell-quoted as for a shell provisioner.',
      },
      {
        key: 'timeout',
        type: dur(H48),
        description: "Bound on the test command; default: the build's `command_timeout`. At most 48h.",
      },
      {
        key: 'instance_type',
        type: id,
        description:
          "Type of the test instance; default: the build's `instance_type`. The new AMI is instance-store-backed: the type must boot an instance-store root (C1, C3, D2, I2, M1, M2, M3, R3, X1).",
      },
      {
        key: 'on_failure',
        type: str({ allowed: ['deregister', 'keep'] }),
        default: 'deregister',
        description:
          'What a failing test does to the new AMI (the build fails either way): `deregister` deregisters it and deletes its bundle; `keep` keeps it, tagged `ami-builder:ami-test=failed`, for inspection (Sweep Orphans leaves it; deregister it yourself).',
      },
    ]),
    description:
      "Tests the new AMI before anything uses it: after Register AMI, one instance is launched from it (the build's subnet, security group and instance profile), the commands run through SSM like a shell provisioner (output in the command log group), and the instance is terminated on every path. A failing test fails the build before any copy, share, publish or success notification.",
    target: 'amiTest',
  },
  {
    key: 'ami_retention',
    category: 'extension',
    type: object([
      {
        key: 'keep_latest',
        type: int(1, 1000),
        description: 'Keep the newest N builds of the family (each with its copies).',
      },
      {
        key: 'keep_days',
        type: int(1, 36_500),
        description:
          'Keep the builds younger than N days. With `keep_latest`, a build goes only when both let it go.',
      },
      {
        key: 'deprecate_first_days',
        type: int(0, 3650),
        default: 0,
        description:
          'Grace period: an image beyond the policy is deprecated first, and deregistered N days after its deprecation. 0: deregistered at once.',
      },
      {
        key: 'delete_bundles',
        type: bool,
        default: true,
        description: "Delete a deregistered image's S3 bundle (its manifest and parts).",
      },
      {
        key: 'family',
        type: str({ trim: true }),
        description:
          'The family name (tag `ami-builder:family`); default: the build name and `ami_name` as written, so every build of this builder is one family.',
      },
    ]),
    description:
      'Retention of the image family: after each successful build, and daily, the images of this stack’s family beyond the policy are deprecated, then deregistered in every region they were copied to, and their bundles deleted. Never touched: another stack’s images, an image an `ami_id_parameter` points to, an image a running instance or a launch template’s default version uses, the newest build. Overrides the stack’s `retention` default.',
    target: 'retention',
  },
];

/** Keys every provisioner takes (Packer core: `only`, `except`, `override`, `pause_before`, `max_retries`, `timeout`). */
export const PROVISIONER_COMMON_KEYS: readonly FieldSpec[] = [
  {
    key: 'type',
    type: str(),
    description:
      '`shell`, `file`, `ansible-local`, `ansible`, `chef-solo`, `puppet-masterless` or `salt-masterless`.',
  },
  { key: 'name', type: str(), description: 'Display name in messages and the execution view.' },
  { key: 'only', type: list, description: 'Run only for these builds (by build name).' },
  { key: 'except', type: list, description: 'Run for every build but these.' },
  {
    key: 'override',
    type: { kind: 'anyObject' },
    description: "Per-build settings: build name → keys that replace this provisioner's keys for that build.",
  },
  {
    key: 'pause_before',
    type: dur(H48),
    default: '0s',
    description: 'Wait before running (a Step Functions Wait state).',
  },
  { key: 'max_retries', type: int(0, 100), default: 0, description: 'Retries after a failure.' },
  {
    key: 'timeout',
    type: dur(H48),
    description: "Bound on the command; default: the build's `command_timeout`. At most 48h.",
  },
];

/** `shell` provisioner keys (packer `provisioner/shell`). */
export const SHELL_KEYS: readonly FieldSpec[] = [
  ...PROVISIONER_COMMON_KEYS,
  { key: 'inline', type: list, description: 'Commands, one per line of the generated script.' },
  {
    key: 'script',
    type: str({ trim: true }),
    description: 'Script from `s3://bucket/key` (a local path: CLI only).',
  },
  {
    key: 'scripts',
    type: idList,
    description: 'Scripts from `s3://…` (local paths: CLI only), run in order.',
  },
  {
    key: 'environment_vars',
    type: list,
    description: '`NAME=value` pairs; values are shell-quoted as Packer quotes them, so any value is safe.',
  },
  {
    key: 'env',
    type: map,
    description: 'Environment variables as an object, merged after `environment_vars`.',
  },
  {
    key: 'execute_command',
    type: str(),
    default: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
    description: 'How each script is run, a template over `{{.Vars}}` and `{{.Path}}`.',
  },
  {
    key: 'inline_shebang',
    type: str(),
    default: '/bin/sh -e',
    description: 'Shebang of the script made from `inline`.',
  },
  {
    key: 'remote_folder',
    type: str(),
    default: '/tmp',
    description: 'Directory on the instance the scripts are written to.',
  },
  {
    key: 'valid_exit_codes',
    type: { kind: 'stringList' },
    default: ['0'],
    description: 'Exit codes that count as success.',
  },
  { key: 'binary', type: bool, description: 'Accepted, no effect (scripts are copied byte for byte).' },
  { key: 'remote_file', type: str(), description: 'Accepted, no effect (the script name is generated).' },
  { key: 'remote_path', type: str(), description: 'Accepted, no effect (the script path is generated).' },
  { key: 'skip_clean', type: bool, description: 'Accepted, no effect (staged scripts are always removed).' },
  {
    key: 'start_retry_timeout',
    type: dur(H48),
    description: 'Accepted, no effect (SSM does not need a connection retry).',
  },
  {
    key: 'expect_disconnect',
    type: bool,
    description: 'Accepted, no effect: a reboot ends the SSM command.',
  },
  { key: 'pause_after', type: dur(H48), description: 'Accepted, no effect.' },
  {
    key: 'use_env_var_file',
    type: bool,
    description: 'Accepted, no effect (variables are always written into the script).',
  },
  {
    key: 'env_var_format',
    type: str(),
    description: "Accepted, no effect: values are always quoted as `NAME='value'`.",
  },
];

/** `shell` keys accepted only for compatibility. */
export const SHELL_IGNORED_KEYS: ReadonlySet<string> = new Set([
  'binary',
  'remote_file',
  'remote_path',
  'skip_clean',
  'start_retry_timeout',
  'expect_disconnect',
  'pause_after',
  'use_env_var_file',
  'env_var_format',
]);

/** `file` provisioner keys (packer `provisioner/file`). */
export const FILE_KEYS: readonly FieldSpec[] = [
  ...PROVISIONER_COMMON_KEYS,
  {
    key: 'source',
    type: str({ trim: true }),
    description: 'File from `s3://bucket/key` (a key ending in `/` is a folder; a local path: CLI only).',
  },
  { key: 'sources', type: idList, description: 'Several sources, uploaded into `destination`.' },
  { key: 'content', type: str(), description: 'Literal content of the file, instead of a source.' },
  {
    key: 'destination',
    type: str(),
    description: 'Path on the instance (quoted by the script, so any characters work).',
  },
  {
    key: 'direction',
    type: str({ allowed: ['upload', 'download'] }),
    invalid: () => 'Direction must be one of: download, upload.',
    default: 'upload',
    description: 'Only `upload` is supported.',
  },
  { key: 'generated', type: bool, description: 'Not supported: sources must exist before the build.' },
];

/** `manifest` post-processor keys (packer `post-processor/manifest`). */
export const MANIFEST_KEYS: readonly FieldSpec[] = [
  { key: 'type', type: str(), description: '`manifest`.' },
  { key: 'name', type: str(), description: 'Name of the post-processor.' },
  { key: 'only', type: list, description: 'Only for these builds.' },
  { key: 'except', type: list, description: 'For every build but these.' },
  { key: 'keep_input_artifact', type: bool, description: 'Accepted; the AMI is always kept.' },
  {
    key: 'output',
    type: str(),
    default: 'packer-manifest.json',
    description: 'Where the manifest is written.',
  },
  { key: 'strip_path', type: bool, default: false, description: 'Keep only file names in `files`.' },
  { key: 'strip_time', type: bool, default: false, description: 'Leave `build_time` out.' },
  { key: 'custom_data', type: map, description: 'Extra data recorded with each build.' },
];

/** Root keys of a Packer JSON template (`template/parse.go`); keys starting with `_` are comments. */
export const TEMPLATE_KEYS: readonly FieldSpec[] = [
  { key: 'description', type: str(), description: 'Free text.' },
  { key: 'min_packer_version', type: str(), description: 'Accepted; not checked (there is no Packer here).' },
  {
    key: 'variables',
    type: { kind: 'anyObject' },
    description: 'User variables: name → default (`null`: required).',
  },
  { key: 'sensitive-variables', type: list, description: 'Variables whose values never appear in messages.' },
  {
    key: 'builders',
    type: { kind: 'anyObject' },
    description: 'Builders; the `amazon-instance` ones are built.',
  },
  { key: 'provisioners', type: { kind: 'anyObject' }, description: '`shell` and `file` provisioners.' },
  {
    key: 'error-cleanup-provisioner',
    type: { kind: 'anyObject' },
    description: 'Provisioner run when provisioning fails.',
  },
  {
    key: 'post-processors',
    type: { kind: 'anyObject' },
    description: '`manifest` is honoured; others are skipped.',
  },
];

/** Builder keys by name (a Map, so that `constructor` or `__proto__` are never found on a prototype). */
export const BUILDER_KEY_MAP: ReadonlyMap<string, KeySpec> = new Map(
  BUILDER_KEYS.map((spec) => [spec.key, spec]),
);

/** The keys whose string values are rendered late, with the build variables (reference §2). */
export const LATE_KEYS: ReadonlySet<string> = new Set(
  BUILDER_KEYS.filter((k) => k.late === true).map((k) => k.key),
);

export const CATEGORY_TITLES: Record<Category, string> = {
  'packer-instance': 'amazon-instance keys',
  ami: 'AMI keys',
  access: 'Access keys',
  run: 'Run keys',
  communicator: 'Communicator keys',
  extension: 'Extension keys (ours)',
};
