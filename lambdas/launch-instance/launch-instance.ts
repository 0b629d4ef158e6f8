/**
 * Launch Instance: Packer's StepRunSourceInstance (reference §1.2) with an idempotency token, the build's
 * instance profile (`$.instanceRole`), the metadata options and the ownership tags.
 */
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  type EC2Client,
  type BlockDeviceMapping as Ec2BlockDeviceMapping,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { BlockDeviceMapping, BuildConfig } from '../shared/config.js';
import {
  AwsTransientError,
  InstanceLaunchError,
  InstanceProfileNotAllowedError,
  InstanceProfileNotReadyError,
  TaskInputError,
} from '../shared/errors.js';
import { isBurstable } from '../shared/instance-families.js';
import {
  isProfileNotReady,
  launchMetadataOptions,
  launchPlacement,
  launchTagSpecifications,
  setLaunchNetwork,
} from '../shared/run-instances.js';
import { type Clients, isTransient, ownershipTags, type TaskEnvironment } from '../shared/runtime.js';
import type { BuildState, InstanceInfo, NetworkInfo, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';

export interface LaunchInstanceDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  env: Pick<TaskEnvironment, 'stackName' | 'allowedInstanceProfiles'>;
}

/**
 * RunInstances' idempotency token: the same for every attempt of one execution's build (Lambda retries,
 * redrives), so a retried launch returns the instance the first attempt started instead of a second one.
 * Tokens are at most 64 ASCII characters: a hex SHA-256 is exactly that.
 */
export function launchClientToken(executionId: string, buildName: string): string {
  return createHash('sha256').update(`${executionId}/${buildName}`).digest('hex');
}

/**
 * The instance profile to launch with, from Create Instance Role (`$.instanceRole`): the build's temporary
 * profile, or the `iam_instance_profile` the template names, which must be one of the stack's extra profiles
 * because infra's `iam:PassRole` covers only their roles and the stack's temporary roles.
 */
export function instanceProfileName(
  build: Pick<BuildState, 'instanceRole'>,
  env: LaunchInstanceDeps['env'],
): string {
  const role = requireState(build as BuildState, 'instanceRole');
  const wanted = role.instanceProfileName;
  if (role.temporary || env.allowedInstanceProfiles.includes(wanted)) return wanted;
  const allowed = env.allowedInstanceProfiles;
  throw new InstanceProfileNotAllowedError(
    `iam_instance_profile "${wanted}" is not allowed by this stack. Allowed profiles: ` +
      `${allowed.length === 0 ? 'none' : allowed.join(', ')}. Leave iam_instance_profile unset to have the build ` +
      "create a temporary profile, or add the profile to the stack's extraInstanceProfiles context and redeploy.",
  );
}

/**
 * True when `text` decodes as standard base64, as Go's `base64.StdEncoding.DecodeString` decides: padding
 * required, line breaks ignored.
 */
export function isBase64(text: string): boolean {
  const compact = text.replace(/[\r\n]/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/** User data as Packer sends it: base64-encoded, unless it already is. */
export function encodeUserData(data: Buffer): string {
  const text = data.toString('utf8');
  if (isBase64(text)) return text;
  return data.toString('base64');
}

async function readUserData(config: BuildConfig, deps: LaunchInstanceDeps): Promise<string | undefined> {
  if (config.userDataFile !== undefined) {
    const ref = config.userDataFile;
    if (ref.kind !== 's3') {
      throw new TaskInputError(
        `user_data_file must be an S3 object by the time of the build, got ${ref.uri}`,
      );
    }
    const out = await deps.clients
      .s3(config.region)
      .send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    if (out.Body === undefined) return encodeUserData(Buffer.alloc(0));
    return encodeUserData(Buffer.from(await out.Body.transformToByteArray()));
  }
  if (config.userData === undefined || config.userData === '') return undefined;
  return encodeUserData(Buffer.from(config.userData, 'utf8'));
}

/** Packer's BuildEC2BlockDeviceMappings. */
export function toLaunchMapping(m: BlockDeviceMapping): Ec2BlockDeviceMapping {
  if (m.noDevice === true) return { DeviceName: m.deviceName, NoDevice: '' };
  if (m.virtualName?.startsWith('ephemeral')) return { DeviceName: m.deviceName, VirtualName: m.virtualName };
  const ebs: NonNullable<Ec2BlockDeviceMapping['Ebs']> = {
    // Packer sends false when unset, which leaves the volume behind after the instance is terminated; a build
    // must leave nothing behind, so an unset value deletes it.
    DeleteOnTermination: m.deleteOnTermination ?? true,
  };
  if (m.volumeType !== undefined) ebs.VolumeType = m.volumeType as NonNullable<typeof ebs.VolumeType>;
  if (m.volumeSize !== undefined && m.volumeSize > 0) ebs.VolumeSize = m.volumeSize;
  if (m.iops !== undefined && ['io1', 'io2', 'gp3'].includes(m.volumeType ?? '')) ebs.Iops = m.iops;
  if (m.throughput !== undefined && m.volumeType === 'gp3') ebs.Throughput = m.throughput;
  // EC2 rejects Encrypted together with a snapshot: the snapshot decides.
  if (m.snapshotId !== undefined) ebs.SnapshotId = m.snapshotId;
  else if (m.encrypted !== undefined) ebs.Encrypted = m.encrypted;
  if (m.kmsKeyId !== undefined) ebs.KmsKeyId = m.kmsKeyId;
  return { DeviceName: m.deviceName, Ebs: ebs };
}

/** Name default, then run tags, then the ownership tags, which no run tag may override. */
export function instanceTags(build: BuildState, env: Pick<TaskEnvironment, 'stackName'>): Tag[] {
  const runTags = build.source?.rendered.runTags ?? {};
  const ownership = ownershipTags(env, build.execution.id, build.config.name, build.config.onError);
  const owned = new Set(ownership.map((t) => t.Key));
  const tags: Tag[] = [];
  if (runTags.Name === undefined) tags.push({ Key: 'Name', Value: `ami-builder ${build.config.name}` });
  for (const [Key, Value] of Object.entries(runTags)) if (!owned.has(Key)) tags.push({ Key, Value });
  return [...tags, ...ownership];
}

/** Every RunInstances parameter of the build, without side effects. */
export function runInstancesInput(
  build: BuildState,
  network: NetworkInfo,
  profile: string,
  userData: string | undefined,
  env: Pick<TaskEnvironment, 'stackName'>,
): RunInstancesCommandInput {
  const { config } = build;
  const source = requireState(build, 'source');
  const input: RunInstancesCommandInput = {
    ClientToken: launchClientToken(build.execution.id, config.name),
    ImageId: source.imageId,
    InstanceType: config.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    EbsOptimized: config.ebsOptimized,
    EnclaveOptions: { Enabled: config.enableNitroEnclave },
    TagSpecifications: launchTagSpecifications(instanceTags(build, env)),
  };
  input.IamInstanceProfile = { Name: profile };
  if (userData !== undefined) input.UserData = userData;
  if (config.launchBlockDeviceMappings.length > 0) {
    input.BlockDeviceMappings = config.launchBlockDeviceMappings.map(toLaunchMapping);
  }

  const placement = launchPlacement(config, network, true);
  if (placement !== undefined) input.Placement = placement;

  if (isBurstable(config.instanceType)) {
    input.CreditSpecification = { CpuCredits: config.enableUnlimitedCredits ? 'unlimited' : 'standard' };
  }

  const reservation = config.capacityReservation;
  if (reservation !== undefined && (reservation.preference ?? reservation.id ?? reservation.groupArn)) {
    const spec: NonNullable<RunInstancesCommandInput['CapacityReservationSpecification']> = {};
    if (reservation.preference !== undefined) spec.CapacityReservationPreference = reservation.preference;
    if (reservation.id !== undefined || reservation.groupArn !== undefined) {
      spec.CapacityReservationTarget = {};
      if (reservation.id !== undefined) spec.CapacityReservationTarget.CapacityReservationId = reservation.id;
      if (reservation.groupArn !== undefined) {
        spec.CapacityReservationTarget.CapacityReservationResourceGroupArn = reservation.groupArn;
      }
    }
    input.CapacityReservationSpecification = spec;
  }

  if (config.licenseConfigurationArns.length > 0) {
    input.LicenseSpecifications = config.licenseConfigurationArns.map((LicenseConfigurationArn) => ({
      LicenseConfigurationArn,
    }));
  }

  // Packer's amazon-instance builder accepts metadata_options but never sends them (reference §1.2), so an
  // account whose SCP requires IMDSv2 at launch rejects the build (packer-plugin-amazon#163), and the user's
  // settings silently do nothing. They are sent here; unset fields stay unset so the account defaults apply.
  const metadataOptions = launchMetadataOptions(config.metadataOptions);
  if (metadataOptions !== undefined) input.MetadataOptions = metadataOptions;

  setLaunchNetwork(input, config, network);
  return input;
}

/** Errors a later attempt can fix: capacity, and EC2's eventual consistency right after creation. */
function isRetryableLaunchError(error: { name?: string; message?: string }): boolean {
  if (error.name === 'InsufficientInstanceCapacity') return true;
  // The temporary security group may not be visible to RunInstances yet (Packer waits for it explicitly).
  return error.name === 'InvalidGroup.NotFound';
}

async function describeArchitecture(ec2: EC2Client, instanceId: string): Promise<string | undefined> {
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.[0]?.Instances?.[0]?.Architecture;
  } catch (error) {
    // A new instance may not be describable yet; its architecture is the source AMI's anyway.
    if ((error as Error).name === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
}

/**
 * Launches the build instance. Invoking it again for the same execution and build returns the same instance.
 *
 * @throws InstanceProfileNotAllowedError when `iam_instance_profile` is not one the stack allows.
 * @throws InstanceProfileNotReadyError when RunInstances does not see the new profile yet (retried with backoff).
 * @throws AwsTransientError on insufficient capacity or a security group not visible yet (retried with backoff).
 * @throws InstanceLaunchError for any other launch failure, with AWS's message.
 */
export async function launchInstance(event: TaskEvent, deps: LaunchInstanceDeps): Promise<InstanceInfo> {
  const { build } = event;
  const { config } = build;
  const source = requireState(build, 'source');
  const network = requireState(build, 'network');
  const profile = instanceProfileName(build, deps.env);
  const userData = await readUserData(config, deps);
  const ec2 = deps.clients.ec2(config.region);
  const input = runInstancesInput(build, network, profile, userData, deps.env);

  let instanceId: string | undefined;
  try {
    const out = await ec2.send(new RunInstancesCommand(input));
    instanceId = out.Instances?.[0]?.InstanceId;
  } catch (error) {
    if (isTransient(error)) throw error;
    const e = error as Error;
    if (isProfileNotReady(e)) {
      throw new InstanceProfileNotReadyError(
        `RunInstances does not see the instance profile "${profile}" yet (IAM propagates new profiles within ` +
          `seconds; retrying): ${e.message}`,
      );
    }
    if (isRetryableLaunchError(e)) throw new AwsTransientError(`RunInstances: ${e.name}: ${e.message}`);
    if (e.name === 'IdempotentParameterMismatch') {
      throw new InstanceLaunchError(
        'RunInstances was retried for this execution with different parameters (for example a changed ' +
          `user_data_file object), so EC2 refused the idempotency token: ${e.message} Start a new execution.`,
      );
    }
    throw new InstanceLaunchError(
      `Launching the source instance (${source.imageId}, ${config.instanceType}) failed: ${e.name}: ${e.message}`,
    );
  }
  if (instanceId === undefined) throw new InstanceLaunchError('RunInstances returned no instance');

  return { instanceId, architecture: (await describeArchitecture(ec2, instanceId)) ?? source.architecture };
}
