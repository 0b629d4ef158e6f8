/**
 * Run configuration (`builder/common/run_config.go`): source AMI, instance type, network, profile, user data, placement, metadata.
 */
import type { BuildConfig, FileRef, MetadataOptions, NetworkConfig, SourceAmiFilter } from '../../config.js';
import { describeValue, truncate } from '../decode.js';
import { parsePolicyDocument } from '../policy-document.js';
import type { AmiSection } from './ami.js';
import type { BundleSection } from './bundle.js';
import {
  AMI_ID,
  type BuilderScope,
  decodeFilters,
  INSTANCE_PROFILE,
  INSTANCE_TYPE,
  isCidr,
  MAX_SPOT_PRICE,
  parseFileRef,
} from './common.js';

/** Decodes and checks this section's keys. */
export function decodeRun(
  scope: BuilderScope,
  prev: Pick<BundleSection, 'fileOptions'> & Pick<AmiSection, 'enaSupport' | 'sriovSupport'>,
) {
  const { d, report } = scope;
  const { fileOptions, enaSupport, sriovSupport } = prev;
  const sourceAmi = d.nonEmpty('source_ami');
  if (sourceAmi !== undefined && !AMI_ID.test(sourceAmi)) {
    report.error(
      d.at('source_ami'),
      `source_ami must be an AMI id like ami-0123456789abcdef0, got ${describeValue(sourceAmi)}`,
    );
  }
  const filterObject = d.object('source_ami_filter');
  const filterFilters = decodeFilters(filterObject, 'source_ami_filter', report);
  const owners = filterObject?.list('owners') ?? [];
  const filterEmpty = owners.length === 0 && Object.keys(filterFilters ?? {}).length === 0;
  if (!d.failed.has('source_ami') && !d.failed.has('source_ami_filter')) {
    if (sourceAmi === undefined && filterEmpty)
      report.error(d.path, 'A source_ami or source_ami_filter must be specified');
    if (sourceAmi === undefined && owners.length === 0) {
      report.error(d.path, 'For security reasons, your source AMI filter must declare an owner.');
    }
  }
  let sourceAmiFilter: SourceAmiFilter | undefined;
  if (filterObject !== undefined && !filterEmpty) {
    sourceAmiFilter = {
      filters: filterFilters ?? {},
      owners,
      mostRecent: filterObject.boolean('most_recent') ?? false,
      includeDeprecated: filterObject.boolean('include_deprecated') ?? false,
    };
  }

  const spotTypes = d.list('spot_instance_types') ?? [];
  let instanceType = d.nonEmpty('instance_type');
  if (!d.failed.has('instance_type') && !d.failed.has('spot_instance_types')) {
    if (instanceType === undefined && spotTypes.length === 0) {
      report.error(d.path, 'either instance_type or spot_instance_types must be specified');
    }
    if (instanceType !== undefined && spotTypes.length > 0) {
      report.error(d.path, 'either instance_type or spot_instance_types must be specified, not both');
    }
  }
  instanceType ??= spotTypes[0];
  if (instanceType !== undefined && !INSTANCE_TYPE.test(instanceType)) {
    report.error(
      d.at('instance_type'),
      `instance_type must be an EC2 instance type such as m3.medium, got ${describeValue(instanceType)}`,
    );
  }
  const spotPrice = d.nonEmpty('spot_price');
  const isSpot = spotPrice !== undefined && spotPrice !== '0';
  // EC2's SpotPrice is a decimal string in USD per hour; Packer also takes "auto".
  if (
    spotPrice !== undefined &&
    spotPrice !== 'auto' &&
    !(/^\d{1,6}(\.\d{1,8})?$/.test(spotPrice) && Number(spotPrice) <= MAX_SPOT_PRICE)
  ) {
    report.error(
      d.at('spot_price'),
      `spot_price ${describeValue(spotPrice)} is not a price; allowed: "auto", or a price in USD per hour from 0 to ${MAX_SPOT_PRICE} (such as "0.05")`,
    );
  }
  if (d.present.has('fleet_tags') && !isSpot)
    report.error(d.path, 'fleet_tags should not be set when not requesting a spot instance');
  if (d.present.has('spot_tags') && !isSpot)
    report.error(d.path, 'spot_tags should not be set when not requesting a spot instance');
  if ((d.number('block_duration_minutes') ?? 0) % 60 !== 0)
    report.error(d.path, 'block_duration_minutes must be multiple of 60');
  const enableNitroEnclave = d.boolean('enable_nitro_enclave') ?? false;
  if (isSpot && (enaSupport === true || sriovSupport || enableNitroEnclave)) {
    report.error(
      d.path,
      'Spot instances do not support modification, which is required when either `ena_support`, `sriov_support`, or `enable_nitro_enclave` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.',
    );
  }
  if (d.nonEmpty('spot_price_auto_product') !== undefined) {
    report.warn(
      d.at('spot_price_auto_product'),
      'spot_price_auto_product is deprecated and no longer necessary for Packer builds. In future versions of Packer, inclusion of spot_price_auto_product will error your builds. Please take a look at our current documentation to understand how Packer requests Spot instances.',
    );
  }
  const t2Unlimited = d.boolean('enable_t2_unlimited') ?? false;
  if (t2Unlimited) {
    report.warn(
      d.at('enable_t2_unlimited'),
      'enable_t2_unlimited is deprecated please use enable_unlimited_credits. In future versions of Packer, inclusion of enable_t2_unlimited will error your builds.',
    );
  }
  const enableUnlimitedCredits = (d.boolean('enable_unlimited_credits') ?? false) || t2Unlimited;
  const type = instanceType ?? '';
  if (enableUnlimitedCredits) {
    if (!/^t(:?2|3a?|4g)\./.test(type)) {
      report.error(
        d.path,
        `Error: Instance Type: ${truncate(type, 60)} is not within the supported types for Unlimited credits. Supported instance types are T2, T3, and T4g`,
      );
    }
    if (spotPrice !== undefined && /^t2\./.test(type)) {
      report.error(d.path, 'Error: Unlimited credits cannot be used in conjunction with Spot Instances');
    }
  }
  if (enableNitroEnclave) {
    if (spotPrice !== undefined)
      report.error(d.path, 'Error: Nitro Enclave cannot be used in conjunction with Spot Instances');
    if (type.startsWith('t')) {
      report.error(
        d.path,
        `Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: ${truncate(type, 60)}`,
      );
    }
  }

  const network: NetworkConfig = { securityGroupIds: [], temporarySecurityGroupSourceCidrs: ['0.0.0.0/0'] };
  const idCheck = (key: string, pattern: RegExp, example: string): string | undefined => {
    const value = d.nonEmpty(key);
    if (value !== undefined && !pattern.test(value)) {
      report.error(d.at(key), `${key} must look like ${example}, got ${describeValue(value)}`);
    }
    return value;
  };
  const vpcId = idCheck('vpc_id', /^vpc-[0-9a-f]{8,17}$/, 'vpc-0123456789abcdef0');
  if (vpcId !== undefined) network.vpcId = vpcId;
  const subnetId = idCheck('subnet_id', /^subnet-[0-9a-f]{8,17}$/, 'subnet-0123456789abcdef0');
  if (subnetId !== undefined) network.subnetId = subnetId;
  const az = d.nonEmpty('availability_zone');
  if (az !== undefined) network.availabilityZone = az;
  const vpcFilter = decodeFilters(d.object('vpc_filter'), 'vpc_filter', report);
  if (vpcFilter !== undefined && Object.keys(vpcFilter).length > 0) network.vpcFilter = vpcFilter;
  const subnetFilterObject = d.object('subnet_filter');
  const subnetFilter = decodeFilters(subnetFilterObject, 'subnet_filter', report);
  if (
    subnetFilterObject !== undefined &&
    subnetFilter !== undefined &&
    Object.keys(subnetFilter).length > 0
  ) {
    network.subnetFilter = {
      filters: subnetFilter,
      mostFree: subnetFilterObject.boolean('most_free') ?? false,
      random: subnetFilterObject.boolean('random') ?? false,
    };
  }
  const sgFilter = decodeFilters(d.object('security_group_filter'), 'security_group_filter', report);
  if (sgFilter !== undefined && Object.keys(sgFilter).length > 0) network.securityGroupFilter = sgFilter;
  const sgId = idCheck('security_group_id', /^sg-[0-9a-f]{8,17}$/, 'sg-0123456789abcdef0');
  const sgIds = d.list('security_group_ids') ?? [];
  for (const sg of sgIds) {
    if (!/^sg-[0-9a-f]{8,17}$/.test(sg))
      report.error(
        d.at('security_group_ids'),
        `security_group_ids: ${describeValue(sg)} must look like sg-0123456789abcdef0`,
      );
  }
  if (sgId !== undefined && sgIds.length > 0) {
    report.error(d.path, 'Only one of security_group_id or security_group_ids can be specified.');
  }
  network.securityGroupIds = sgId !== undefined ? [sgId] : [...new Set(sgIds)];
  const cidrs = d.list('temporary_security_group_source_cidrs');
  if (cidrs !== undefined && cidrs.length > 0) {
    for (const cidr of cidrs) {
      if (!isCidr(cidr)) {
        report.error(
          d.at('temporary_security_group_source_cidrs'),
          `Error parsing CIDR in temporary_security_group_source_cidrs: invalid CIDR address: ${truncate(cidr, 80)}`,
        );
      }
    }
    network.temporarySecurityGroupSourceCidrs = cidrs;
    report.warn(
      d.at('temporary_security_group_source_cidrs'),
      'temporary_security_group_source_cidrs is kept for compatibility: the temporary security group gets no ingress rule at all, since SSM needs none',
    );
  }
  const publicIp = d.boolean('associate_public_ip_address');
  if (publicIp !== undefined) network.associatePublicIpAddress = publicIp;

  const iamInstanceProfile = d.nonEmpty('iam_instance_profile');
  if (iamInstanceProfile !== undefined && !INSTANCE_PROFILE.test(iamInstanceProfile)) {
    report.error(
      d.at('iam_instance_profile'),
      `iam_instance_profile must be an instance profile name (not an ARN): up to 128 letters, digits and + = , . @ _ -, got ${describeValue(iamInstanceProfile)}`,
    );
  }
  const policyDocument = d.any('temporary_iam_instance_profile_policy_document');
  let temporaryIamPolicyDocument: BuildConfig['temporaryIamPolicyDocument'];
  if (policyDocument !== undefined) {
    const at = d.at('temporary_iam_instance_profile_policy_document');
    temporaryIamPolicyDocument = parsePolicyDocument(policyDocument, at, report);
    if (iamInstanceProfile !== undefined && temporaryIamPolicyDocument !== undefined) {
      report.warn(
        at,
        'temporary_iam_instance_profile_policy_document is ignored because iam_instance_profile is set, as in Packer: no temporary role is created',
      );
      temporaryIamPolicyDocument = undefined;
    }
  }
  const userData = d.nonEmpty('user_data');
  const userDataText = d.nonEmpty('user_data_file');
  let userDataFile: FileRef | undefined;
  if (userData !== undefined && userDataText !== undefined) {
    report.error(d.path, 'Only one of user_data or user_data_file can be specified.');
  } else if (userDataText !== undefined) {
    userDataFile = parseFileRef(userDataText, d.at('user_data_file'), report, {
      ...fileOptions('user_data_file'),
      badLocal: () => `user_data_file not found: ${userDataText}`,
    });
  }
  if (userData !== undefined && Buffer.byteLength(userData, 'utf8') > 16_384) {
    report.error(
      d.at('user_data'),
      `user_data is ${Buffer.byteLength(userData, 'utf8')} bytes; EC2 accepts at most 16384`,
    );
  }

  const preference = d.nonEmpty('capacity_reservation_preference') as 'none' | 'open' | undefined;
  const reservationId = d.nonEmpty('capacity_reservation_id');
  const reservationGroup = d.nonEmpty('capacity_reservation_group_arn');
  if (reservationId !== undefined && reservationGroup !== undefined) {
    report.error(
      d.path,
      'capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used',
    );
  }
  if (preference !== undefined && (reservationId !== undefined || reservationGroup !== undefined)) {
    report.error(
      d.path,
      'capacity_reservation_preference and capacity_reservation_group_arn or capacity_reservation_id are mutually exclusive, only one should be used',
    );
  }
  let capacityReservation: BuildConfig['capacityReservation'];
  if (preference !== undefined || reservationId !== undefined || reservationGroup !== undefined) {
    capacityReservation = {};
    if (preference !== undefined) capacityReservation.preference = preference;
    if (reservationId !== undefined) capacityReservation.id = reservationId;
    if (reservationGroup !== undefined) capacityReservation.groupArn = reservationGroup;
  }

  const placementObject = d.object('placement');
  const placementTenancy = placementObject?.nonEmpty('tenancy');
  const legacyTenancy = d.nonEmpty('tenancy');
  if (placementTenancy !== undefined && legacyTenancy !== undefined) {
    report.error(d.path, 'Error: Please set only one of placement.tenancy and tenancy (deprecated)');
  }
  const tenancy = (placementTenancy ?? legacyTenancy) as 'default' | 'dedicated' | 'host' | undefined;
  const hostGroup = placementObject?.nonEmpty('host_resource_group_arn');
  const hostId = placementObject?.nonEmpty('host_id');
  if (hostGroup !== undefined && hostId !== undefined) {
    report.error(
      d.at('placement'),
      'The `host_id` and `host_resource_group_arn` settings cannot be specified at the same time.',
    );
  }
  if ((hostGroup !== undefined || hostId !== undefined) && tenancy !== undefined && tenancy !== 'host') {
    report.error(
      d.at('placement'),
      'placement.tenancy must be "host" when host_resource_group_arn or host_id is set',
    );
  }
  if (hostId !== undefined)
    report.warn(
      d.at('placement'),
      "placement.host_id: accepted but ignored, as by Packer's amazon-instance builder",
    );
  let placement: BuildConfig['placement'];
  if (tenancy !== undefined || hostGroup !== undefined) {
    placement = {};
    if (tenancy !== undefined) placement.tenancy = tenancy;
    if (hostGroup !== undefined) placement.hostResourceGroupArn = hostGroup;
  }
  const licenseConfigurationArns: string[] = [];
  for (const spec of d.objects('license_specifications') ?? []) {
    const arn = spec.object('license_configuration_request')?.nonEmpty('license_configuration_arn');
    if (arn === undefined)
      report.error(
        spec.path,
        'license_specifications: each entry needs license_configuration_request.license_configuration_arn',
      );
    else licenseConfigurationArns.push(arn);
  }

  let metadataOptions: MetadataOptions | undefined;
  const metadata = d.object('metadata_options');
  if (metadata !== undefined) {
    metadataOptions = {};
    const endpoint = metadata.nonEmpty('http_endpoint');
    if (endpoint !== undefined) metadataOptions.httpEndpoint = endpoint as 'enabled' | 'disabled';
    const tokens = metadata.nonEmpty('http_tokens');
    if (tokens !== undefined) metadataOptions.httpTokens = tokens as 'optional' | 'required';
    const hop = metadata.number('http_put_response_hop_limit');
    if (hop !== undefined && hop !== 0) {
      if (hop < 1 || hop > 64)
        report.error(
          metadata.at('http_put_response_hop_limit'),
          'http_put_response_hop_limit requires a number between 1 and 64',
        );
      else metadataOptions.httpPutResponseHopLimit = hop;
    }
    const metadataTags = metadata.nonEmpty('instance_metadata_tags');
    if (metadataTags !== undefined)
      metadataOptions.instanceMetadataTags = metadataTags as 'enabled' | 'disabled';
  }
  return {
    sourceAmi,
    sourceAmiFilter,
    instanceType,
    enableNitroEnclave,
    enableUnlimitedCredits,
    network,
    iamInstanceProfile,
    temporaryIamPolicyDocument,
    userData,
    userDataFile,
    capacityReservation,
    placement,
    licenseConfigurationArns,
    metadataOptions,
  };
}

export type RunSection = ReturnType<typeof decodeRun>;
