import { describe, expect, it } from 'vitest';
import type { BuildConfig } from '../../../../lambdas/shared/config.js';
import { builder, cli, config, NOW_UNIX, problems, warnings } from './helpers.js';

/**
 * One row per key of the seed documentation (and the common AWS keys issue #2 lists): how a value is read
 * (including Packer's lenient forms), what an absent key means, and what an invalid value says.
 */
interface KeyCase {
  key: string;
  /** [given value, the normalized config reads as expected] */
  valid: [unknown, (c: BuildConfig) => unknown, unknown][];
  /** The normalized value when the key is absent, read from the config. */
  absent?: [(c: BuildConfig) => unknown, unknown];
  /** [given value, a problem that contains this text] */
  invalid: [unknown, string][];
}

const POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::assets/*'] }],
};

const CASES: KeyCase[] = [
  {
    key: 'temporary_iam_instance_profile_policy_document',
    valid: [
      [POLICY, (c) => c.temporaryIamPolicyDocument, POLICY],
      [
        {
          Statement: [
            {
              Effect: 'Deny',
              Action: 's3:*',
              Resource: '*',
              Condition: { Bool: { 'aws:SecureTransport': false } },
            },
          ],
        },
        (c) => c.temporaryIamPolicyDocument?.Version,
        '2012-10-17',
      ],
    ],
    absent: [(c) => c.temporaryIamPolicyDocument, undefined],
    invalid: [
      [
        { Version: '2012-10-17' },
        'temporary_iam_instance_profile_policy_document: Statement must be a non-empty list',
      ],
      [{ Statement: [{ Effect: 'Permit', Action: 'x', Resource: '*' }] }, 'Effect must be "Allow" or "Deny"'],
      [
        { Statement: [{ Effect: 'Allow', Resource: '*' }] },
        'Action must be a non-empty string or list of strings',
      ],
      [
        { Statement: [{ Effect: 'Allow', Action: 'x', Resource: '*', Principal: '*' }] },
        'unknown statement key(s) Principal',
      ],
      ['{}', 'expected an object'],
    ],
  },
  {
    key: 'account_id',
    valid: [
      ['0123-4567-0890', (c) => c.accountId, '012345670890'],
      [' 123456789012 ', (c) => c.accountId, '123456789012'],
      [123456789012, (c) => c.accountId, '123456789012'],
    ],
    absent: [(c) => c.accountId, undefined],
    invalid: [
      ['1234', 'account_id must be a 12-digit AWS account id (dashes are removed), got "1234"'],
      ['1234-5678-901x', 'account_id must be a 12-digit AWS account id'],
      [{}, 'account_id: expected a string, got an object'],
    ],
  },
  {
    key: 'ami_name',
    valid: [
      ['packer-quick-start {{timestamp}}', (c) => c.amiName, `packer-quick-start ${NOW_UNIX}`],
      ["My AMI (v1) [x] ./-'@_", (c) => c.amiName, "My AMI (v1) [x] ./-'@_"],
      ['{{ "a:b*c" | clean_resource_name }}', (c) => c.amiName, 'a-b-c'],
      ['{{isotime "2006-01-02"}}-x', (c) => c.amiName, '2025-07-15-x'],
    ],
    invalid: [
      ['', 'ami_name must be specified'],
      ['ab', 'ami_name must be between 3 and 128 characters long'],
      ['x'.repeat(129), 'ami_name must be between 3 and 128 characters long'],
      [
        'bad:name',
        "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
      ],
      ['{{.SourceAMI}}', '{{.SourceAMI}} cannot be used here'],
      ['{{ nope }}', 'function "nope" not defined'],
      ['{{', 'ami_name: template:'],
    ],
  },
  {
    key: 'instance_type',
    valid: [[' m1.small ', (c) => c.instanceType, 'm1.small']],
    invalid: [
      ['', 'either instance_type or spot_instance_types must be specified'],
      ['huge', 'instance_type must be an EC2 instance type such as m3.medium, got "huge"'],
    ],
  },
  {
    key: 'region',
    valid: [
      ['eu-west-1', (c) => c.region, 'eu-west-1'],
      [' us-gov-west-1 ', (c) => c.region, 'us-gov-west-1'],
    ],
    invalid: [
      ['', 'region is required'],
      [null, 'region is required'],
      ['Mars', 'Unknown region: Mars'],
      ['us-east-1;reboot', 'Unknown region: us-east-1;reboot'],
    ],
  },
  {
    key: 's3_bucket',
    valid: [
      ['packer-images', (c) => [c.bundle.bucket, c.bundle.keyPrefix], ['packer-images', '']],
      [
        'packer-images/amis/prod/',
        (c) => [c.bundle.bucket, c.bundle.keyPrefix],
        ['packer-images', 'amis/prod'],
      ],
    ],
    invalid: [
      ['', 's3_bucket is required'],
      ['Packer_Images', 's3_bucket: "Packer_Images" is not a valid S3 bucket name'],
      ['ab', 'it must be 3 to 63 characters long'],
      ['192.168.1.1', 'it must not look like an IP address'],
      ['bucket/a b', 's3_bucket "a b" may only contain letters, digits and _ . / : @ % + = , -'],
      ['bucket/a/../b', 'has an empty, "." or ".." segment'],
    ],
  },
  {
    key: 'source_ami',
    valid: [[' ami-d9d6a6b0 ', (c) => c.sourceAmi, 'ami-d9d6a6b0']],
    invalid: [
      ['', 'A source_ami or source_ami_filter must be specified'],
      ['', 'For security reasons, your source AMI filter must declare an owner.'],
      ['ubuntu', 'source_ami must be an AMI id like ami-0123456789abcdef0, got "ubuntu"'],
    ],
  },
  {
    key: 'ssh_username',
    valid: [
      ['ubuntu', (c) => c.runAsUser, 'ubuntu'],
      ['ec2-user', (c) => c.runAsUser, 'ec2-user'],
    ],
    absent: [(c) => c.runAsUser, undefined],
    invalid: [
      ['root; rm -rf /', 'ssh_username must be a Unix user name'],
      ['$(id)', 'ssh_username must be a Unix user name'],
      ['9lives', 'ssh_username must be a Unix user name'],
    ],
  },
  {
    key: 'x509_cert_path',
    valid: [
      [
        's3://certs/x509/cert.pem',
        (c) => c.x509.cert,
        { kind: 's3', bucket: 'certs', key: 'x509/cert.pem', uri: 's3://certs/x509/cert.pem' },
      ],
      [
        'ssm:/builds/x509-cert',
        (c) => c.x509.cert,
        { kind: 'ssm', name: '/builds/x509-cert', uri: 'ssm:/builds/x509-cert' },
      ],
    ],
    invalid: [
      ['', 'x509_cert_path is required'],
      ['x509.cert', 'x509_cert_path: "x509.cert" is a local path, but the workflow reads files only from S3'],
      ['s3://certs', 'names no object'],
      ['s3://certs/dir/', 'names no object'],
      ['s3://Bad_Bucket/cert.pem', 'is not a valid S3 bucket name'],
      ['https://example.com/cert.pem', 'uses an unsupported scheme'],
      ['ssm:nope', 'is not an SSM parameter reference'],
    ],
  },
  {
    key: 'x509_key_path',
    valid: [['s3://certs/key.pem', (c) => c.x509.key.uri, 's3://certs/key.pem']],
    invalid: [
      ['', 'x509_key_path is required'],
      ['/home/me/x509.key', '`ami-builder build` uploads local files for you'],
    ],
  },
  {
    key: 'x509_upload_path',
    valid: [['/var/tmp/x509', (c) => c.x509.uploadPath, '/var/tmp/x509']],
    absent: [(c) => c.x509.uploadPath, '/tmp'],
    invalid: [
      ['/tmp/my certs', 'x509_upload_path "/tmp/my certs" may only contain letters, digits'],
      ['/tmp/$(reboot)', 'may only contain'],
      ['tmp', 'x509_upload_path must be an absolute directory on the instance'],
    ],
  },
  {
    key: 'ami_block_device_mappings',
    valid: [
      [
        [
          { device_name: '/dev/sdb', virtual_name: 'ephemeral0' },
          {
            device_name: '/dev/sdc',
            volume_size: '20',
            volume_type: 'gp3',
            iops: 3000,
            delete_on_termination: 'true',
          },
        ],
        (c) => c.amiBlockDeviceMappings,
        [
          { deviceName: '/dev/sdb', virtualName: 'ephemeral0' },
          {
            deviceName: '/dev/sdc',
            volumeSize: 20,
            volumeType: 'gp3',
            iops: 3000,
            deleteOnTermination: true,
          },
        ],
      ],
      [
        { device_name: '/dev/sdb', no_device: true },
        (c) => c.amiBlockDeviceMappings,
        [{ deviceName: '/dev/sdb', noDevice: true }],
      ],
    ],
    absent: [(c) => c.amiBlockDeviceMappings, []],
    invalid: [
      [
        [{ volume_size: 10 }],
        'The `device_name` must be specified for every device in the block device mapping.',
      ],
      [
        [{ device_name: '/dev/sdb', volume_type: 'io1', volume_size: 10, iops: 1000 }],
        '/dev/sdb: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is 50:1 for io1 volumes',
      ],
      [
        [{ device_name: '/dev/sdb', volume_type: 'gp3', iops: 100 }],
        'IOPS must be between 3000 and 16000 for device /dev/sdb',
      ],
      [
        [{ device_name: '/dev/sdb', volume_type: 'gp3', throughput: 1500 }],
        'Throughput must be between 125 and 1000 for device /dev/sdb',
      ],
      [
        [{ device_name: '/dev/sdb', volume_type: 'gp2', throughput: 200 }],
        'Throughput is only valid for gp3 volumes, "/dev/sdb" is of type gp2',
      ],
      [
        [{ device_name: '/dev/sdb', kms_key_id: 'alias/x', encrypted: false }],
        'The device /dev/sdb, must also have `encrypted: true` when setting a kms_key_id.',
      ],
      [[{ device_name: '/dev/sdb', size: 1 }], `unknown configuration key: '"size"'`],
      ['sdb', 'expected an object, got "sdb"'],
    ],
  },
  {
    key: 'launch_block_device_mappings',
    valid: [
      [
        [{ device_name: '/dev/sda1', volume_size: 16 }],
        (c) => c.launchBlockDeviceMappings,
        [{ deviceName: '/dev/sda1', volumeSize: 16 }],
      ],
    ],
    absent: [(c) => c.launchBlockDeviceMappings, []],
    invalid: [[[{ device_name: '/dev/sda1', volume_size: 'big' }], 'cannot parse "big" as an integer']],
  },
  {
    key: 'ami_description',
    valid: [
      [
        'Built from {{.SourceAMIName}} in {{.BuildRegion}}',
        (c) => c.amiDescription,
        'Built from {{.SourceAMIName}} in {{.BuildRegion}}',
      ],
      ['plain', (c) => c.amiDescription, 'plain'],
    ],
    absent: [(c) => c.amiDescription, undefined],
    invalid: [
      [
        '{{.Nope}}',
        'unknown variable {{.Nope}} in ami_description; allowed: {{.BuildRegion}}, {{.SourceAMI}}',
      ],
      ['{{ .SourceAMI', 'template:'],
    ],
  },
  {
    key: 'ami_groups',
    valid: [
      [['all'], (c) => c.amiGroups, ['all']],
      ['all', (c) => c.amiGroups, ['all']],
    ],
    absent: [(c) => c.amiGroups, []],
    invalid: [[['admins'], 'ami_groups: "admins" is not accepted by AWS; the only group is "all"']],
  },
  {
    key: 'ami_product_codes',
    valid: [['abc123, def456', (c) => c.amiProductCodes, ['abc123', 'def456']]],
    absent: [(c) => c.amiProductCodes, []],
    invalid: [[{ a: 1 }, 'ami_product_codes: expected a list of strings, got an object']],
  },
  {
    key: 'ami_regions',
    valid: [
      [['us-west-2', 'eu-west-1', 'us-west-2'], (c) => c.amiRegions, ['us-west-2', 'eu-west-1']],
      ['us-west-2, us-east-1', (c) => c.amiRegions, ['us-west-2']],
    ],
    absent: [(c) => c.amiRegions, []],
    invalid: [[['us-west-2', 'atlantis'], 'ami_regions: Unknown region: atlantis']],
  },
  {
    key: 'ami_users',
    valid: [[['123456789012', ' 210987654321 '], (c) => c.amiUsers, ['123456789012', '210987654321']]],
    absent: [(c) => c.amiUsers, []],
    invalid: [[['12345'], 'ami_users: "12345" is not a 12-digit AWS account id']],
  },
  {
    key: 'ami_virtualization_type',
    valid: [['hvm', (c) => c.amiVirtualizationType, 'hvm']],
    absent: [(c) => c.amiVirtualizationType, undefined],
    invalid: [['xen', '"xen" is not allowed; allowed: "hvm", "paravirtual"']],
  },
  {
    key: 'associate_public_ip_address',
    valid: [
      [true, (c) => c.network.associatePublicIpAddress, true],
      ['false', (c) => c.network.associatePublicIpAddress, false],
      ['', (c) => c.network.associatePublicIpAddress, undefined],
    ],
    absent: [(c) => c.network.associatePublicIpAddress, undefined],
    invalid: [['maybe', 'cannot parse "maybe" as a boolean']],
  },
  {
    key: 'availability_zone',
    valid: [[' us-east-1a ', (c) => c.network.availabilityZone, 'us-east-1a']],
    absent: [(c) => c.network.availabilityZone, undefined],
    invalid: [[['a'], 'availability_zone: expected a string, got a list of 1 item(s)']],
  },
  {
    key: 'bundle_destination',
    valid: [['/mnt/bundle', (c) => c.bundle.destination, '/mnt/bundle']],
    absent: [(c) => c.bundle.destination, '/tmp'],
    invalid: [
      ['/mnt/my bundle', 'bundle_destination "/mnt/my bundle" may only contain'],
      ['/mnt/`id`', 'may only contain'],
    ],
  },
  {
    key: 'bundle_prefix',
    valid: [['web-{{timestamp}}', (c) => c.bundle.prefix, `web-${NOW_UNIX}`]],
    absent: [(c) => c.bundle.prefix, `image-${NOW_UNIX}`],
    invalid: [
      ['image;reboot', 'bundle_prefix "image;reboot" may only contain'],
      ['dir/image', 'bundle_prefix is a file name prefix and must not contain "/"'],
    ],
  },
  {
    key: 'bundle_upload_command',
    valid: [
      [
        'sudo ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}} --region {{.Region}}',
        (c) => c.bundle.uploadCommand,
        'sudo ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}} --region {{.Region}}',
      ],
    ],
    absent: [
      (c) => c.bundle.uploadCommand,
      'sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -t {{.Token}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry',
    ],
    invalid: [
      [
        'ec2-upload-bundle -b {{.Bucket}}',
        'unknown variable {{.Bucket}} in bundle_upload_command; allowed: {{.AccessKey}}, {{.BucketName}}',
      ],
      ['ec2-upload-bundle -k {{.KeyPath}}', 'unknown variable {{.KeyPath}} in bundle_upload_command'],
      ['ec2-upload-bundle {{if}}', 'template:'],
    ],
  },
  {
    key: 'bundle_vol_command',
    valid: [
      [
        'sudo -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch',
        (c) => c.bundle.volCommand,
        'sudo -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch',
      ],
    ],
    absent: [
      (c) => c.bundle.volCommand,
      'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
    ],
    invalid: [
      [
        'ec2-bundle-vol -b {{.BucketName}}',
        'unknown variable {{.BucketName}} in bundle_vol_command; allowed: {{.AccountId}}, {{.Architecture}}, {{.CertPath}}, {{.Destination}}, {{.KeyPath}}, {{.Prefix}}, {{.PrivatePath}}',
      ],
      ['ec2-bundle-vol --url {{.S3Endpoint}}', 'unknown variable {{.S3Endpoint}} in bundle_vol_command'],
    ],
  },
  {
    key: 'iam_instance_profile',
    valid: [['builder-profile', (c) => c.iamInstanceProfile, 'builder-profile']],
    absent: [(c) => c.iamInstanceProfile, undefined],
    invalid: [
      [
        'arn:aws:iam::123456789012:instance-profile/x',
        'iam_instance_profile must be an instance profile name (not an ARN)',
      ],
    ],
  },
  {
    key: 'run_tags',
    valid: [
      [
        { Owner: 'ci', Source: '{{.SourceAMIName}}', Count: 3 },
        (c) => c.runTags,
        { Owner: 'ci', Source: '{{.SourceAMIName}}', Count: '3' },
      ],
    ],
    absent: [(c) => c.runTags, {}],
    invalid: [
      [{ 'aws:x': 'y' }, 'run_tags: tag key "aws:x" uses the prefix "aws:", which AWS reserves'],
      [{ 'ami-builder:execution': 'y' }, 'uses the prefix "ami-builder:", which this system reserves'],
      [{ a: '{{.Nope}}' }, 'unknown variable {{.Nope}} in run_tags'],
      [{ '{{.Bad}}': 'x' }, 'unknown variable {{.Bad}} in run_tags'],
      [['a'], 'run_tags: expected an object of strings, got a list of 1 item(s)'],
    ],
  },
  {
    key: 'security_group_id',
    valid: [[' sg-0123abcd ', (c) => c.network.securityGroupIds, ['sg-0123abcd']]],
    absent: [(c) => c.network.securityGroupIds, []],
    invalid: [['default', 'security_group_id must look like sg-0123456789abcdef0, got "default"']],
  },
  {
    key: 'security_group_ids',
    valid: [
      [['sg-0123abcd', 'sg-4567efab'], (c) => c.network.securityGroupIds, ['sg-0123abcd', 'sg-4567efab']],
      ['sg-0123abcd,sg-4567efab', (c) => c.network.securityGroupIds, ['sg-0123abcd', 'sg-4567efab']],
    ],
    invalid: [[['sg-0123abcd', 'web'], 'security_group_ids: "web" must look like sg-0123456789abcdef0']],
  },
  {
    key: 'ssh_port',
    valid: [['2222', (c) => c.agentTimeoutSeconds, 300]],
    invalid: [
      [
        'abc',
        'ssh_port: cannot parse "abc" as an integer; allowed: a whole number between 0 and 65535, or a string holding one',
      ],
      [70000, 'ssh_port: 70000 is out of range'],
    ],
  },
  {
    key: 'ssh_private_key_file',
    valid: [['~/.ssh/id_rsa', (c) => c.name, 'amazon-instance']],
    invalid: [[{}, 'ssh_private_key_file: expected a string, got an object']],
  },
  {
    key: 'ssh_timeout',
    valid: [
      ['10m', (c) => c.agentTimeoutSeconds, 600],
      ['1h30m', (c) => c.agentTimeoutSeconds, 5400],
      ['90s', (c) => c.agentTimeoutSeconds, 90],
      ['1.5s', (c) => c.agentTimeoutSeconds, 2],
      [0, (c) => c.agentTimeoutSeconds, 300],
    ],
    absent: [(c) => c.agentTimeoutSeconds, 300],
    invalid: [
      ['5', 'time: missing unit in duration "5"'],
      ['5 minutes', 'time: unknown unit " minutes" in duration "5 minutes"'],
      ['soon', 'time: invalid duration "soon"'],
      [300, '300 has no unit (Packer would read it as nanoseconds)'],
      ['-5m', 'is negative'],
      ['4h', 'ssh_timeout: "4h" is longer than the maximum of 3h0m0s'],
    ],
  },
  {
    key: 'subnet_id',
    valid: [[' subnet-12345def ', (c) => c.network.subnetId, 'subnet-12345def']],
    absent: [(c) => c.network.subnetId, undefined],
    invalid: [['my-subnet', 'subnet_id must look like subnet-0123456789abcdef0, got "my-subnet"']],
  },
  {
    key: 'tags',
    valid: [
      [
        { Name: 'web {{.SourceAMIName}}', OS: '{{.SourceAMITags.os}}' },
        (c) => c.tags,
        { Name: 'web {{.SourceAMIName}}', OS: '{{.SourceAMITags.os}}' },
      ],
    ],
    absent: [(c) => c.tags, {}],
    invalid: [
      [{ Name: '{{.SourceAMIName' }, 'tags.Name: template:'],
      [
        Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
        'tags: 51 tags, plus the 6 this system adds to the AMI and its copies',
      ],
      [{ k: 'v'.repeat(257) }, 'the value of tag "k" is longer than 256 characters'],
    ],
  },
  {
    key: 'temporary_key_pair_name',
    valid: [['my-key', (c) => c.name, 'amazon-instance']],
    invalid: [[[], 'temporary_key_pair_name: expected a string, got an empty list']],
  },
  {
    key: 'user_data',
    valid: [['#!/bin/sh\necho hi', (c) => c.userData, '#!/bin/sh\necho hi']],
    absent: [(c) => c.userData, undefined],
    invalid: [['x'.repeat(16_385), 'user_data is 16385 bytes; EC2 accepts at most 16384']],
  },
  {
    key: 'user_data_file',
    valid: [['s3://configs/user-data.sh', (c) => c.userDataFile?.uri, 's3://configs/user-data.sh']],
    absent: [(c) => c.userDataFile, undefined],
    invalid: [
      [
        'user-data.sh',
        'user_data_file: "user-data.sh" is a local path, but the workflow reads files only from S3 (s3://bucket/key)',
      ],
      ['ssm:/x/y', 'SSM parameters are only accepted for x509_cert_path and x509_key_path'],
    ],
  },
  {
    key: 'vpc_id',
    valid: [['vpc-0a1b2c3d', (c) => c.network.vpcId, 'vpc-0a1b2c3d']],
    absent: [(c) => c.network.vpcId, undefined],
    invalid: [['default', 'vpc_id must look like vpc-0123456789abcdef0, got "default"']],
  },
  // ---- the common AWS keys issue #2 lists ----
  {
    key: 'source_ami_filter',
    valid: [
      [
        {
          filters: {
            name: 'ubuntu/*',
            'virtualization-type': 'hvm, paravirtual',
            'root-device-type': '"instance-store"',
          },
          owners: '099720109477',
          most_recent: 'true',
        },
        (c) => c.sourceAmiFilter,
        {
          filters: {
            name: ['ubuntu/*'],
            'virtualization-type': ['hvm', 'paravirtual'],
            'root-device-type': ['instance-store'],
          },
          owners: ['099720109477'],
          mostRecent: true,
          includeDeprecated: false,
        },
      ],
    ],
    absent: [(c) => c.sourceAmiFilter, undefined],
    invalid: [
      [{ owners: ['self'], newest: true }, `unknown configuration key: '"newest"'`],
      [{ owners: ['self'], filters: { name: '' } }, 'source_ami_filter: a filter needs at least one value'],
    ],
  },
  {
    key: 'aws_polling',
    valid: [
      [
        { delay_seconds: 30, max_attempts: 60 },
        (c) => c.polling,
        { delaySeconds: 30, maxAttempts: 60, explicit: true },
      ],
      [{ delay_seconds: '5' }, (c) => c.polling, { delaySeconds: 5, maxAttempts: 40, explicit: true }],
      [{ max_attempts: 200 }, (c) => c.polling, { delaySeconds: 15, maxAttempts: 200, explicit: true }],
    ],
    absent: [(c) => c.polling, { delaySeconds: 15, maxAttempts: 120 }],
    invalid: [
      [{ delay_seconds: -1 }, 'aws_polling.delay_seconds: -1 is out of range'],
      [{ max_attempts: 1e6 }, 'aws_polling.max_attempts: 1000000 is out of range'],
      [{ delay: 1 }, `unknown configuration key: '"delay"'`],
    ],
  },
  {
    key: 'force_deregister',
    valid: [['1', (c) => c.forceDeregister, true]],
    absent: [(c) => c.forceDeregister, false],
    invalid: [['yes', 'force_deregister: cannot parse "yes" as a boolean']],
  },
  {
    key: 'force_delete_snapshot',
    valid: [[true, (c) => c.forceDeleteSnapshot, true]],
    absent: [(c) => c.forceDeleteSnapshot, false],
    invalid: [[[true], 'force_delete_snapshot: expected a boolean, got a list of 1 item(s)']],
  },
  {
    key: 'ami_org_arns',
    valid: [
      [
        ['arn:aws:organizations::123456789012:organization/o-abcdefghij'],
        (c) => c.amiOrgArns,
        ['arn:aws:organizations::123456789012:organization/o-abcdefghij'],
      ],
    ],
    absent: [(c) => c.amiOrgArns, []],
    invalid: [[['o-abcdefghij'], 'ami_org_arns: "o-abcdefghij" is not an organization ARN']],
  },
  {
    key: 'ami_ou_arns',
    valid: [
      [
        ['arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34'],
        (c) => c.amiOuArns,
        ['arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34'],
      ],
    ],
    absent: [(c) => c.amiOuArns, []],
    invalid: [[['ou-ab12-cdefgh34'], 'is not an organizational-unit ARN']],
  },
  {
    key: 'deprecate_at',
    valid: [
      ['2030-01-02T15:04:05Z', (c) => c.deprecateAt, '2030-01-02T15:04:05Z'],
      ['2030-01-02T15:04:05.5+02:00', (c) => c.deprecateAt, '2030-01-02T15:04:05.5+02:00'],
    ],
    absent: [(c) => c.deprecateAt, undefined],
    invalid: [
      [
        '2030-01-02',
        'deprecate_at is not a valid time: "2030-01-02". Expect time format: YYYY-MM-DDTHH:MM:SSZ',
      ],
      ['2030-02-30T00:00:00Z', 'deprecate_at is not a valid time: "2030-02-30T00:00:00Z"'],
    ],
  },
  {
    key: 'deregistration_protection',
    valid: [
      [{ enabled: true }, (c) => c.deregistrationProtection, { enabled: true, withCooldown: false }],
      [{ with_cooldown: 'true' }, (c) => c.deregistrationProtection, { enabled: true, withCooldown: true }],
      [[{ enabled: true }], (c) => c.deregistrationProtection, { enabled: true, withCooldown: false }],
    ],
    absent: [(c) => c.deregistrationProtection, { enabled: false, withCooldown: false }],
    invalid: [
      [{ enable: true }, `unknown configuration key: '"enable"'`],
      ['on', 'deregistration_protection: expected an object, got "on"'],
    ],
  },
  {
    key: 'imds_support',
    valid: [
      ['v2.0', (c) => c.imdsSupport, 'v2.0'],
      ['', (c) => c.imdsSupport, undefined],
    ],
    absent: [(c) => c.imdsSupport, undefined],
    invalid: [['v1.0', 'The only valid imds_support values are "v2.0" or the empty string']],
  },
  {
    key: 'ena_support',
    valid: [
      [true, (c) => c.enaSupport, true],
      ['0', (c) => c.enaSupport, false],
    ],
    absent: [(c) => c.enaSupport, undefined],
    invalid: [['enabled', 'ena_support: cannot parse "enabled" as a boolean']],
  },
  {
    key: 'sriov_support',
    valid: [[1, (c) => c.sriovSupport, true]],
    absent: [(c) => c.sriovSupport, false],
    invalid: [['simple', 'sriov_support: cannot parse "simple" as a boolean']],
  },
  {
    key: 'tpm_support',
    valid: [['v2.0', (c) => c.tpmSupport, 'v2.0']],
    absent: [(c) => c.tpmSupport, undefined],
    invalid: [['v1.2', 'The only valid tpm_support value is "v2.0"']],
  },
  {
    key: 'metadata_options',
    valid: [
      [
        { http_tokens: 'required', http_put_response_hop_limit: '2' },
        (c) => c.metadataOptions,
        { httpTokens: 'required', httpPutResponseHopLimit: 2 },
      ],
      [
        { http_endpoint: 'disabled', instance_metadata_tags: 'enabled' },
        (c) => c.metadataOptions,
        { httpEndpoint: 'disabled', instanceMetadataTags: 'enabled' },
      ],
    ],
    absent: [(c) => c.metadataOptions, undefined],
    invalid: [
      [{ http_endpoint: 'on' }, 'http_endpoint requires either disabled or enabled as its value'],
      [{ http_tokens: 'always' }, 'http_tokens requires either optional or required as its value'],
      [{ http_put_response_hop_limit: 65 }, 'http_put_response_hop_limit requires a number between 1 and 64'],
      [
        { instance_metadata_tags: 'yes' },
        'instance_metadata_tags requires either disabled or enabled as its value',
      ],
    ],
  },
  {
    key: 'skip_region_validation',
    valid: [['t', (c) => c.skipRegionValidation, true]],
    absent: [(c) => c.skipRegionValidation, false],
    invalid: [['nope', 'skip_region_validation: cannot parse "nope" as a boolean']],
  },
  {
    key: 'subnet_filter',
    valid: [
      [
        { filters: { 'tag:Role': 'build' }, most_free: true },
        (c) => c.network.subnetFilter,
        { filters: { 'tag:Role': ['build'] }, mostFree: true, random: false },
      ],
    ],
    absent: [(c) => c.network.subnetFilter, undefined],
    invalid: [
      [
        { filters: 'tag:Role=build' },
        'subnet_filter.filters: expected an object of strings, got "tag:Role=build"',
      ],
    ],
  },
  {
    key: 'security_group_filter',
    valid: [
      [
        { filters: { 'group-name': 'build-*' } },
        (c) => c.network.securityGroupFilter,
        { 'group-name': ['build-*'] },
      ],
    ],
    absent: [(c) => c.network.securityGroupFilter, undefined],
    invalid: [[{ filters: { a: 'b' }, extra: 1 }, `unknown configuration key: '"extra"'`]],
  },
  {
    key: 'temporary_security_group_source_cidrs',
    valid: [
      [
        ['10.0.0.0/8', '2001:db8::/32'],
        (c) => c.network.temporarySecurityGroupSourceCidrs,
        ['10.0.0.0/8', '2001:db8::/32'],
      ],
    ],
    absent: [(c) => c.network.temporarySecurityGroupSourceCidrs, ['0.0.0.0/0']],
    invalid: [
      [
        ['10.0.0.0'],
        'Error parsing CIDR in temporary_security_group_source_cidrs: invalid CIDR address: 10.0.0.0',
      ],
      [['300.0.0.0/8'], 'invalid CIDR address: 300.0.0.0/8'],
    ],
  },
];

describe('builder keys', () => {
  describe.each(CASES)('$key', ({ key, valid, absent, invalid }) => {
    it.each(valid.map(([value, read, expected]) => ({ value, read, expected })))(
      'reads $value',
      ({ value, read, expected }) => {
        // Act
        const result = config(builder({ [key]: value }));

        // Assess
        expect(read(result)).toEqual(expected);
      },
    );

    if (absent !== undefined) {
      it('has its default when absent', () => {
        // Prepare
        const input = builder({ [key]: undefined });

        // Act
        const result = config(input);

        // Assess
        expect(absent[0](result)).toEqual(absent[1]);
      });
    }

    it.each(invalid.map(([value, message]) => ({ value, message })))(
      'fails when given $value',
      ({ value, message }) => {
        // Act
        const listed = problems(builder({ [key]: value }));

        // Assess
        expect(listed.join('\n')).toContain(message);
      },
    );
  });
});

describe('credentials', () => {
  it('drops access_key and secret_key and warns without their values', () => {
    // Prepare
    const input = builder({
      access_key: 'AKIAEXAMPLEKEY123456',
      secret_key: 'wJalrXUtnFEMI/K7MDENG',
      token: 'IQoJb3JpZ2luX2VjEXAMPLE',
    });

    // Act
    const result = config(input);
    const warned = warnings(input);

    // Assess
    expect(JSON.stringify(result)).not.toMatch(/AKIAEXAMPLE|wJalrX|IQoJb3/);
    expect(warned).toContainEqual(
      expect.stringContaining('access_key, secret_key, token: credentials in the template are not used'),
    );
    expect(warned.join('\n')).not.toMatch(/AKIAEXAMPLE|wJalrX|IQoJb3/);
  });

  it('fails when only one of access_key and secret_key is set, as Packer does', () => {
    expect(problems(builder({ access_key: 'AKIA' }))).toContain(
      '`access_key` and `secret_key` must both be either set or not set.',
    );
  });

  it('never shows a credential value in a message, even a badly typed one', () => {
    // Prepare
    const input = builder({
      secret_key: 'hunter2-very-secret',
      access_key: 'AKIA1234',
      token: ['x'],
      ami_name: 'hunter2-very-secret',
    });

    // Act
    const listed = problems(input).join('\n');

    // Assess
    expect(listed).toContain('token: expected a string, got a list of 1 item(s)');
    expect(listed).not.toContain('hunter2-very-secret');
  });

  it('accepts profile, assume_role, vault_aws_engine and custom_endpoint_ec2 and drops them', () => {
    // Prepare
    const input = builder({
      profile: 'prod',
      assume_role: { role_arn: 'arn:aws:iam::123456789012:role/x' },
      vault_aws_engine: { name: 'x' },
      custom_endpoint_ec2: 'https://ec2.example',
      shared_credentials_file: '~/.aws/credentials',
      mfa_code: '123456',
    });

    // Act
    const warned = warnings(input).join('\n');

    // Assess
    expect(warned).toContain(
      'assume_role, custom_endpoint_ec2, mfa_code, profile, shared_credentials_file, vault_aws_engine: credentials in the template are not used',
    );
    expect(JSON.stringify(config(input))).not.toContain('prod');
  });
});

describe('keys that do nothing for an instance-store AMI', () => {
  it('accepts encrypt_boot, kms_key_id and snapshot keys with a warning that says why', () => {
    // Prepare
    const input = builder({
      encrypt_boot: true,
      kms_key_id: 'alias/builds',
      snapshot_users: ['123456789012'],
      snapshot_tags: { a: 'b' },
    });

    // Act
    const warned = warnings(input).join('\n');

    // Assess
    expect(warned).toContain(
      'encrypt_boot, kms_key_id: accepted but ignored: an instance-store AMI has no EBS root volume to encrypt',
    );
    expect(warned).toContain(
      'snapshot_tags, snapshot_users: accepted but ignored: an instance-store AMI has no EBS snapshots',
    );
  });

  it("still applies Packer's KMS checks", () => {
    expect(problems(builder({ kms_key_id: 'alias/builds' }))).toContain(
      'If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.',
    );
    expect(problems(builder({ encrypt_boot: true, kms_key_id: 'not a key!' }))).toContain(
      '"not a key!" is not a valid KMS Key Id.',
    );
    expect(
      problems(
        builder({
          encrypt_boot: true,
          ami_regions: ['us-west-2'],
          region_kms_key_ids: { 'eu-west-1': 'alias/x' },
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        'Region us-west-2 is in ami_regions but not in region_kms_key_ids',
        'Region eu-west-1 is in region_kms_key_ids but not in ami_regions',
      ]),
    );
    expect(problems(builder({ encrypt_boot: true, ami_users: ['123456789012'] }))).toContain(
      'Cannot share AMI encrypted with default KMS key',
    );
  });

  it('accepts spot keys with a warning and uses the first spot type on-demand', () => {
    // Prepare
    const input = builder({
      instance_type: undefined,
      spot_instance_types: ['c3.large', 'm3.large'],
      spot_price: 'auto',
    });

    // Act
    const result = config(input);

    // Assess
    expect(result.instanceType).toBe('c3.large');
    expect(warnings(input)).toEqual(
      expect.arrayContaining([
        'spot_instance_types: accepted but ignored: spot instances are not used: the build instance is always on-demand; without instance_type the first type is used on-demand',
        'spot_price: accepted but ignored: spot instances are not used: the build instance is always on-demand',
      ]),
    );
  });

  it("keeps Packer's spot checks", () => {
    expect(problems(builder({ spot_tags: { a: 'b' } }))).toContain(
      'spot_tags should not be set when not requesting a spot instance',
    );
    expect(problems(builder({ fleet_tags: { a: 'b' } }))).toContain(
      'fleet_tags should not be set when not requesting a spot instance',
    );
    expect(problems(builder({ block_duration_minutes: 30 }))).toContain(
      'block_duration_minutes must be multiple of 60',
    );
    expect(problems(builder({ spot_price: '0.1', spot_allocation_strategy: 'cheapest' }))).toContain(
      'Unknown spot_allocation_strategy: cheapest',
    );
    expect(problems(builder({ spot_price: '0.1', ena_support: true }))).toContain(
      'Spot instances do not support modification, which is required when either `ena_support`, `sriov_support`, or `enable_nitro_enclave` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.',
    );
    expect(problems(builder({ instance_type: 'm3.large', spot_instance_types: ['c3.large'] }))).toContain(
      'either instance_type or spot_instance_types must be specified, not both',
    );
  });

  it('accepts shutdown_behavior and disable_stop_instance with a warning, checking the value as Packer does', () => {
    expect(
      warnings(builder({ shutdown_behavior: 'terminate', disable_stop_instance: true })).join('\n'),
    ).toContain('disable_stop_instance: accepted but ignored: there is no stop step');
    expect(problems(builder({ shutdown_behavior: 'halt' }))).toContain(
      "shutdown_behavior only accepts 'stop' or 'terminate' values.",
    );
  });

  it('reads the retired enhanced_networking as ena_support, with a warning', () => {
    // Prepare
    const input = builder({ enhanced_networking: true });

    // Act
    const result = config(input);

    // Assess
    expect(result.enaSupport).toBe(true);
    expect(warnings(input).join('\n')).toContain('enhanced_networking is retired; it is read as ena_support');
  });
});

describe('SSH and communicator keys', () => {
  it('accepts the other ssh keys with one warning that names them', () => {
    // Prepare
    const input = builder({
      ssh_port: 22,
      temporary_key_pair_name: 'k',
      ssh_interface: 'session_manager',
      pause_before_ssm: '10s',
    });

    // Act
    const warned = warnings(input).join('\n');

    // Assess
    expect(warned).toContain(
      'pause_before_ssm, ssh_interface, ssh_port, temporary_key_pair_name: accepted but ignored: there is no SSH connection to configure: commands run through SSM Run Command',
    );
  });

  it('fails when the communicator is winrm: builds are Linux only', () => {
    expect(problems(builder({ communicator: 'winrm' })).join('\n')).toContain(
      'communicator "winrm" is not supported: builds are Linux only',
    );
  });

  it("checks the filter's owner as Packer does when there is no source_ami", () => {
    expect(
      problems(builder({ source_ami: undefined, source_ami_filter: { filters: { name: 'x' } } })),
    ).toContain('For security reasons, your source AMI filter must declare an owner.');
  });

  it("checks ssh values with Packer's messages", () => {
    expect(problems(builder({ communicator: 'telnet' }))).toContain(
      'communicator: Communicator type telnet is invalid',
    );
    expect(problems(builder({ ssh_interface: 'wifi' }))).toContain(
      'ssh_interface: Unknown interface type: wifi',
    );
    expect(problems(builder({ temporary_key_pair_type: 'dsa' }))).toContain(
      'temporary_key_pair_type requires either rsa or ed25519 as its value',
    );
    expect(problems(builder({ ssh_keypair_name: 'k' }))).toContain(
      'ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.',
    );
  });

  it('reads the legacy ssh_wait_timeout as ssh_timeout', () => {
    expect(config(builder({ ssh_wait_timeout: '2m' })).agentTimeoutSeconds).toBe(120);
  });
});

describe('run keys', () => {
  it("keeps Packer's run checks", () => {
    expect(
      problems(builder({ security_group_id: 'sg-0123abcd', security_group_ids: ['sg-4567efab'] })),
    ).toContain('Only one of security_group_id or security_group_ids can be specified.');
    expect(problems(builder({ user_data: 'x', user_data_file: 's3://b-b/k' }))).toContain(
      'Only one of user_data or user_data_file can be specified.',
    );
    expect(problems(builder({ enable_unlimited_credits: true }))).toContain(
      'Error: Instance Type: m3.medium is not within the supported types for Unlimited credits. Supported instance types are T2, T3, and T4g',
    );
    expect(problems(builder({ instance_type: 't3.micro', enable_nitro_enclave: true }))).toContain(
      'Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: t3.micro',
    );
    expect(problems(builder({ capacity_reservation_preference: 'closed' }))).toContain(
      "capacity_reservation_preference only accepts 'none' or 'open' values",
    );
    expect(
      problems(builder({ capacity_reservation_id: 'cr-1', capacity_reservation_group_arn: 'arn:x' })),
    ).toContain(
      'capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used',
    );
    expect(problems(builder({ tenancy: 'shared' }))).toContain('Error: Unknown tenancy type shared');
    expect(problems(builder({ tenancy: 'default', placement: { tenancy: 'dedicated' } }))).toContain(
      'Error: Please set only one of placement.tenancy and tenancy (deprecated)',
    );
    expect(
      problems(builder({ placement: { host_id: 'h-1', host_resource_group_arn: 'arn:x', tenancy: 'host' } })),
    ).toContain(
      'placement: The `host_id` and `host_resource_group_arn` settings cannot be specified at the same time.',
    );
  });

  it('maps placement, capacity reservation and licenses', () => {
    // Act
    const result = config(
      builder({
        placement: { tenancy: 'dedicated' },
        capacity_reservation_preference: 'open',
        license_specifications: [
          { license_configuration_request: { license_configuration_arn: 'arn:aws:license-manager:x' } },
        ],
        ebs_optimized: 'true',
        enable_t2_unlimited: true,
        instance_type: 't2.micro',
      }),
    );

    // Assess
    expect(result.placement).toEqual({ tenancy: 'dedicated' });
    expect(result.capacityReservation).toEqual({ preference: 'open' });
    expect(result.licenseConfigurationArns).toEqual(['arn:aws:license-manager:x']);
    expect(result.ebsOptimized).toBe(true);
    expect(result.enableUnlimitedCredits).toBe(true);
  });

  it("removes the build region from ami_regions with Packer's log line as a warning", () => {
    expect(warnings(builder({ ami_regions: ['us-east-1', 'us-west-2'] }))).toContainEqual(
      "Cannot copy AMI to AWS session region 'us-east-1', deleting it from `ami_regions`.",
    );
  });
});

describe('extension keys', () => {
  it('defaults on_error, command_timeout and ami_id_parameter', () => {
    // Act
    const result = config(builder());

    // Assess
    expect(result.onError).toBe('cleanup');
    expect(result.commandTimeoutSeconds).toBe(7200);
    expect(result.amiIdParameter).toBeUndefined();
    expect(result.skipIfUnchanged).toBeUndefined();
  });

  it('reads skip_if_unchanged: true sets it, false leaves it out', () => {
    expect(config(builder({ skip_if_unchanged: true })).skipIfUnchanged).toBe(true);
    expect('skipIfUnchanged' in config(builder({ skip_if_unchanged: false }))).toBe(false);
  });

  it('reads them', () => {
    // Act
    const result = config(
      builder({ on_error: 'abort', command_timeout: '30m', ami_id_parameter: '/ami-builder/web/latest' }),
    );

    // Assess
    expect([result.onError, result.commandTimeoutSeconds, result.amiIdParameter]).toEqual([
      'abort',
      1800,
      '/ami-builder/web/latest',
    ]);
  });

  it.each([
    [{ on_error: 'ask' }, 'on_error: "ask" is not allowed; allowed: "cleanup", "abort"'],
    [{ command_timeout: '49h' }, 'command_timeout: "49h" is longer than the maximum of 48h0m0s'],
    [{ command_timeout: 3600 }, '3600 has no unit'],
    [
      { ami_id_parameter: 'ami-builder/latest' },
      'ami_id_parameter must be an SSM parameter name starting with "/"',
    ],
    [{ ami_id_parameter: '/aws/service/x' }, 'ami_id_parameter must be an SSM parameter name'],
    [{ skip_if_unchanged: 'often' }, 'skip_if_unchanged'],
  ])('fails when given %j', (change, message) => {
    expect(problems(builder(change)).join('\n')).toContain(message);
  });
});

describe('unknown keys', () => {
  it("fails in Packer's words, with the key path", () => {
    expect(problems(builder({ amiName: 'x' }))).toContain(`unknown configuration key: '"amiName"'`);
    expect(problems({ builders: [builder({ foo: 1 })] })).toContain(
      `builders[0]: unknown configuration key: '"foo"'`,
    );
  });

  it('rejects prototype-pollution keys as unknown keys without touching prototypes', () => {
    // Prepare
    const input = JSON.parse(
      '{"type":"amazon-instance","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    );

    // Act
    const listed = problems(input);

    // Assess
    expect(listed).toEqual(
      expect.arrayContaining([
        `unknown configuration key: '"__proto__"'`,
        `unknown configuration key: '"constructor"'`,
      ]),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('every problem at once', () => {
  it('reports all problems, each with its key path, not just the first', () => {
    // Act
    const listed = problems({
      builders: [{ type: 'amazon-instance', ssh_port: 'x', region: 'Mars', tags: [] }],
    });

    // Assess
    expect(listed).toEqual(
      expect.arrayContaining([
        'builders[0].ssh_port: cannot parse "x" as an integer; allowed: a whole number between 0 and 65535, or a string holding one',
        'builders[0]: Unknown region: Mars',
        'builders[0].tags: expected an object of strings, got an empty list',
        'builders[0]: s3_bucket is required',
        'builders[0]: ami_name must be specified',
        'builders[0]: x509_cert_path is required',
        'builders[0]: A source_ami or source_ami_filter must be specified',
        'builders[0]: either instance_type or spot_instance_types must be specified',
      ]),
    );
  });

  it('accepts local paths in the CLI as local file references', () => {
    // Act
    const result = config(builder({ x509_cert_path: 'certs/x509.cert', user_data_file: './ud.sh' }), cli);

    // Assess
    expect(result.x509.cert).toEqual({ kind: 'local', path: 'certs/x509.cert', uri: 'certs/x509.cert' });
    expect(result.userDataFile).toEqual({ kind: 'local', path: './ud.sh', uri: './ud.sh' });
  });

  it("reports an unreadable local file in the CLI with Packer's message", () => {
    // Prepare
    const options = { ...cli, checkLocalFile: (p: string) => `stat ${p}: no such file or directory` };

    // Act
    const listed = problems(builder({ x509_cert_path: 'x509.cert', user_data_file: 'ud.sh' }), options);

    // Assess
    expect(listed).toEqual(
      expect.arrayContaining([
        'x509_cert_path points to bad file: stat x509.cert: no such file or directory',
        'user_data_file not found: ud.sh',
      ]),
    );
  });
});

describe("Packer's internal keys", () => {
  it('ignores unknown packer_ keys with a warning, as Packer ignores them', () => {
    expect(warnings(builder({ packer_build_name: 'x' }))).toContainEqual(
      "packer_build_name: Packer's internal keys are ignored, as Packer ignores them",
    );
  });

  it('names an explicit ssh communicator among the ignored SSH keys', () => {
    expect(warnings(builder({ communicator: 'ssh', ssh_port: 22 }))).toContainEqual(
      'communicator, ssh_port: accepted but ignored: there is no SSH connection to configure: commands run through SSM Run Command',
    );
  });
});
