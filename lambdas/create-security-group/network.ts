/**
 * Network resolution, as Packer's StepNetworkInfo (reference §1.1 step 3) and the VPC part of StepPreValidate:
 * from `vpc_id` / `vpc_filter`, `subnet_id` / `subnet_filter`, `availability_zone` and
 * `associate_public_ip_address` to the VPC, subnet and availability zone the instance launches in.
 */
import { createHash } from 'node:crypto';
import {
  DescribeInstanceTypeOfferingsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Filter,
  type Subnet,
} from '@aws-sdk/client-ec2';
import type { BuildConfig, Filters } from '../shared/config.js';
import { NetworkConfigError } from '../shared/errors.js';
import { isTransient } from '../shared/runtime.js';

export interface ResolvedNetwork {
  vpcId?: string;
  subnetId?: string;
  availabilityZone?: string;
}

/** `name -> values` to EC2's filter list, in the template's key order. */
export function toEc2Filters(filters: Filters): Filter[] {
  return Object.entries(filters).map(([Name, Values]) => ({ Name, Values }));
}

const describeFilters = (filters: Filter[]): string =>
  filters.map((f) => `${f.Name}=[${(f.Values ?? []).join(', ')}]`).join(', ');

/** The subnet with the most free addresses; the first of equals, as Packer's mostFreeSubnet. */
function mostFree(subnets: Subnet[]): Subnet | undefined {
  let best: Subnet | undefined;
  for (const s of subnets) {
    if (best === undefined || (s.AvailableIpAddressCount ?? 0) > (best.AvailableIpAddressCount ?? 0))
      best = s;
  }
  return best;
}

/**
 * Packer picks a random subnet with `rand.Intn`; here the pick is derived from the execution, so that a retry or
 * a redrive of the same execution lands in the same subnet (and the same availability zone).
 */
function seededPick(subnets: Subnet[], seed: string): Subnet | undefined {
  const sorted = [...subnets].sort((a, b) => (a.SubnetId ?? '').localeCompare(b.SubnetId ?? ''));
  if (sorted.length === 0) return undefined;
  const n = createHash('sha256').update(seed).digest().readUInt32BE(0);
  return sorted[n % sorted.length];
}

async function fromVpcFilter(ec2: EC2Client, vpcFilter: Filters): Promise<string> {
  const filters = toEc2Filters(vpcFilter);
  const out = await ec2.send(new DescribeVpcsCommand({ Filters: filters }));
  const vpcs = out.Vpcs ?? [];
  const vpcId = vpcs[0]?.VpcId;
  if (vpcs.length !== 1 || vpcId === undefined) {
    throw new NetworkConfigError(
      `Exactly one VPC should match the filter, but ${vpcs.length} VPC's was found matching filters: ` +
        `${describeFilters(filters)}. Make vpc_filter more specific, or set vpc_id.`,
    );
  }
  return vpcId;
}

async function fromSubnetFilter(
  ec2: EC2Client,
  subnetFilter: NonNullable<BuildConfig['network']['subnetFilter']>,
  vpcId: string | undefined,
  availabilityZone: string | undefined,
  seed: string,
): Promise<Subnet> {
  // As in Packer, the known state, VPC and zone replace the same keys of the user's filter.
  const forced: Filters = { state: ['available'] };
  if (vpcId !== undefined) forced['vpc-id'] = [vpcId];
  if (availabilityZone !== undefined) forced.availabilityZone = [availabilityZone];
  const filters = toEc2Filters({ ...subnetFilter.filters, ...forced });
  const out = await ec2.send(new DescribeSubnetsCommand({ Filters: filters }));
  const subnets = out.Subnets ?? [];
  if (subnets.length === 0) {
    throw new NetworkConfigError(`No Subnets was found matching filters: ${describeFilters(filters)}`);
  }
  if (subnets.length > 1 && !subnetFilter.random && !subnetFilter.mostFree) {
    throw new NetworkConfigError(
      `Your filter matched ${subnets.length} Subnets. Please try a more specific search, or set random or most_free to true.`,
    );
  }
  const subnet = subnetFilter.mostFree
    ? mostFree(subnets)
    : subnetFilter.random
      ? seededPick(subnets, seed)
      : subnets[0];
  if (subnet?.SubnetId === undefined) {
    throw new NetworkConfigError(`No Subnets was found matching filters: ${describeFilters(filters)}`);
  }
  return subnet;
}

/**
 * With `associate_public_ip_address` and no subnet, Packer looks for the most-free subnet of the default VPC in
 * an availability zone that offers the instance type. As in Packer, a failure only means "let EC2 choose".
 */
async function inferPublicSubnet(
  ec2: EC2Client,
  instanceType: string,
  availabilityZone: string | undefined,
): Promise<Subnet | undefined> {
  try {
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    const vpcId = vpcs.Vpcs?.[0]?.VpcId;
    if (vpcId === undefined) return undefined;
    const filters: Filter[] = [
      { Name: 'vpc-id', Values: [vpcId] },
      { Name: 'state', Values: ['available'] },
    ];
    if (availabilityZone !== undefined)
      filters.push({ Name: 'availabilityZone', Values: [availabilityZone] });
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: filters }))).Subnets ?? [];
    const zones = [
      ...new Set(subnets.map((s) => s.AvailabilityZone).filter((z): z is string => z !== undefined)),
    ];
    if (zones.length === 0) return undefined;
    const offerings = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [
          { Name: 'location', Values: zones },
          { Name: 'instance-type', Values: [instanceType] },
        ],
      }),
    );
    const offered = new Set((offerings.InstanceTypeOfferings ?? []).map((o) => o.Location));
    return mostFree(subnets.filter((s) => offered.has(s.AvailabilityZone)));
  } catch (error) {
    if (isTransient(error)) throw error;
    return undefined;
  }
}

/**
 * Resolves the VPC, subnet and availability zone of the build, in Packer's order: VPC filter, subnet filter,
 * public-IP subnet inference, then the subnet's own VPC and zone.
 *
 * @param seed makes `subnet_filter.random` deterministic for one execution and build.
 * @throws NetworkConfigError when a filter matches nothing (or several where one is needed), or when `vpc_id`
 *   names a non-default VPC without a subnet.
 */
export async function resolveNetwork(
  ec2: EC2Client,
  config: BuildConfig,
  seed: string,
): Promise<ResolvedNetwork> {
  const net = config.network;
  let vpcId = net.vpcId;
  let subnetId = net.subnetId;
  let availabilityZone = net.availabilityZone;

  if (vpcId === undefined && net.vpcFilter !== undefined && Object.keys(net.vpcFilter).length > 0) {
    vpcId = await fromVpcFilter(ec2, net.vpcFilter);
  }

  if (net.vpcId !== undefined && subnetId === undefined && net.subnetFilter === undefined) {
    // Packer's StepPreValidate: without a subnet EC2 launches into the default VPC's subnets only.
    const out = await ec2.send(new DescribeVpcsCommand({ VpcIds: [net.vpcId] })).catch((error: unknown) => {
      if (isTransient(error)) throw error;
      const e = error as Error;
      throw new NetworkConfigError(
        `Error retrieving VPC information for vpc_id ${net.vpcId}: ${e.name}: ${e.message}`,
      );
    });
    const vpc = out.Vpcs?.[0];
    if (vpc === undefined) {
      throw new NetworkConfigError(`Error retrieving VPC information for vpc_id ${net.vpcId}: no such VPC`);
    }
    if (vpc.IsDefault !== true) {
      throw new NetworkConfigError(
        `Error: subnet_id or subnet_filter must be provided for non-default VPCs (${net.vpcId})`,
      );
    }
  }

  if (subnetId === undefined && net.subnetFilter !== undefined) {
    const subnet = await fromSubnetFilter(ec2, net.subnetFilter, vpcId, availabilityZone, seed);
    subnetId = subnet.SubnetId;
    availabilityZone ??= subnet.AvailabilityZone;
    vpcId ??= subnet.VpcId;
  }

  if (subnetId === undefined && net.associatePublicIpAddress !== undefined) {
    const subnet = await inferPublicSubnet(ec2, config.instanceType, availabilityZone);
    if (subnet !== undefined) {
      subnetId = subnet.SubnetId;
      availabilityZone ??= subnet.AvailabilityZone;
      vpcId ??= subnet.VpcId;
    }
  }

  if (subnetId !== undefined && (availabilityZone === undefined || vpcId === undefined)) {
    const id = subnetId;
    const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] })).catch((error: unknown) => {
      if (isTransient(error)) throw error;
      const e = error as Error;
      throw new NetworkConfigError(`Describing the subnet: ${id} returned error: ${e.name}: ${e.message}.`);
    });
    const subnet = out.Subnets?.[0];
    if (subnet === undefined)
      throw new NetworkConfigError(`Describing the subnet: ${id} returned no subnet.`);
    availabilityZone ??= subnet.AvailabilityZone;
    vpcId ??= subnet.VpcId;
  }

  const resolved: ResolvedNetwork = {};
  if (vpcId !== undefined) resolved.vpcId = vpcId;
  if (subnetId !== undefined) resolved.subnetId = subnetId;
  if (availabilityZone !== undefined) resolved.availabilityZone = availabilityZone;
  return resolved;
}
