/**
 * The parts of a RunInstances request that Launch Instance (the build instance) and Launch Test Instance
 * (`ami_test`) assemble the same way from the build's configuration: tag specifications, placement, metadata
 * options and the network. Type-only imports: the handlers that use it load no further module through it.
 */
import type { RunInstancesCommandInput, Tag, TagSpecification } from '@aws-sdk/client-ec2';
import type { BuildConfig } from './config.js';
import type { NetworkInfo } from './state.js';

/** The same tags on the instance, its volumes and its network interfaces. */
export function launchTagSpecifications(tags: Tag[]): TagSpecification[] {
  return (['instance', 'volume', 'network-interface'] as const).map((ResourceType) => ({
    ResourceType,
    Tags: tags,
  }));
}

/**
 * The instance's placement: the network's availability zone (else the template's), the tenancy and, where
 * `hostResourceGroup` is set, the host resource group. Undefined when none of them is set.
 */
export function launchPlacement(
  config: Pick<BuildConfig, 'network' | 'placement'>,
  network: Pick<NetworkInfo, 'availabilityZone'>,
  hostResourceGroup: boolean,
): RunInstancesCommandInput['Placement'] {
  const availabilityZone = network.availabilityZone ?? config.network.availabilityZone;
  const placement: NonNullable<RunInstancesCommandInput['Placement']> = {};
  if (availabilityZone !== undefined) placement.AvailabilityZone = availabilityZone;
  if (config.placement?.tenancy !== undefined) placement.Tenancy = config.placement.tenancy;
  if (hostResourceGroup && config.placement?.hostResourceGroupArn !== undefined) {
    placement.HostResourceGroupArn = config.placement.hostResourceGroupArn;
  }
  return Object.keys(placement).length > 0 ? placement : undefined;
}

/**
 * The template's `metadata_options` as RunInstances takes them; unset fields stay unset so the account defaults
 * apply. Undefined when none is set.
 */
export function launchMetadataOptions(
  md: BuildConfig['metadataOptions'],
): RunInstancesCommandInput['MetadataOptions'] {
  if (md === undefined) return undefined;
  const options: NonNullable<RunInstancesCommandInput['MetadataOptions']> = {};
  if (md.httpEndpoint !== undefined) options.HttpEndpoint = md.httpEndpoint;
  if (md.httpTokens !== undefined) options.HttpTokens = md.httpTokens;
  if (md.httpPutResponseHopLimit !== undefined) options.HttpPutResponseHopLimit = md.httpPutResponseHopLimit;
  if (md.instanceMetadataTags !== undefined) options.InstanceMetadataTags = md.instanceMetadataTags;
  return Object.keys(options).length > 0 ? options : undefined;
}

/**
 * Sets the instance's network on `input`: a network interface when the template sets
 * `associate_public_ip_address` (and there is a subnet), else the subnet and security groups.
 */
export function setLaunchNetwork(
  input: RunInstancesCommandInput,
  config: Pick<BuildConfig, 'network'>,
  network: Pick<NetworkInfo, 'subnetId' | 'securityGroupIds'>,
): void {
  const associate = config.network.associatePublicIpAddress;
  if (associate !== undefined && network.subnetId !== undefined) {
    input.NetworkInterfaces = [
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: associate,
        SubnetId: network.subnetId,
        Groups: network.securityGroupIds,
        DeleteOnTermination: true,
      },
    ];
  } else {
    if (network.subnetId !== undefined) input.SubnetId = network.subnetId;
    input.SecurityGroupIds = network.securityGroupIds;
  }
}

/**
 * RunInstances' answer to an instance profile IAM has not propagated yet: `InvalidParameterValue: Value (…) for
 * parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`. Packer retries it too.
 */
export function isProfileNotReady(error: { name?: string; message?: string }): boolean {
  return (
    error.name === 'InvalidParameterValue' &&
    /iamInstanceProfile|IAM Instance Profile/i.test(error.message ?? '')
  );
}
