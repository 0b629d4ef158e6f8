/**
 * Register AMI (Packer's `StepRegisterAMI`, reference §1.1 step 18): registers the uploaded bundle as an
 * instance-store AMI in the build region. The description, launch permissions and the rest are applied by
 * Finish AMI, as Packer applies them after the wait.
 */
import {
  type ArchitectureValues,
  DescribeImagesCommand,
  type EbsBlockDevice,
  type BlockDeviceMapping as Ec2BlockDeviceMapping,
  type Image,
  RegisterImageCommand,
  type RegisterImageCommandInput,
  type VolumeType,
} from '@aws-sdk/client-ec2';
import type { BlockDeviceMapping } from '../shared/config.js';
import { AmiNameInUseError, RegisterImageError } from '../shared/errors.js';
import {
  type Clients,
  isTransient,
  ownershipTags,
  TagKeys,
  type TaskEnvironment,
} from '../shared/runtime.js';
import type { BuildState, ImageInfo } from '../shared/state.js';
import { familyTags } from '../shared/tags.js';
import { requireState } from '../shared/task-event.js';

export interface RegisterImageDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName'>;
  /** Where Packer's progress messages go (the function's log). */
  log: (message: string) => void;
}

/**
 * Packer's `BlockDevice.BuildEC2BlockDeviceMapping`: `no_device` wins, then an `ephemeral*` virtual name, else an
 * EBS volume; IOPS only for io1/io2/gp3, throughput only for gp3; `encrypted` only when set.
 */
export function toEc2BlockDeviceMapping(device: BlockDeviceMapping): Ec2BlockDeviceMapping {
  const mapping: Ec2BlockDeviceMapping = { DeviceName: device.deviceName };
  if (device.noDevice) return { ...mapping, NoDevice: '' };
  if (device.virtualName !== undefined && device.virtualName !== '') {
    if (device.virtualName.startsWith('ephemeral')) mapping.VirtualName = device.virtualName;
    return mapping;
  }
  const ebs: EbsBlockDevice = { DeleteOnTermination: device.deleteOnTermination ?? false };
  if (device.volumeType) ebs.VolumeType = device.volumeType as VolumeType;
  if (device.volumeSize !== undefined && device.volumeSize > 0) ebs.VolumeSize = device.volumeSize;
  if (
    device.iops !== undefined &&
    device.iops > 0 &&
    (device.volumeType === 'io1' || device.volumeType === 'io2' || device.volumeType === 'gp3')
  ) {
    ebs.Iops = device.iops;
  }
  if (device.throughput !== undefined && device.throughput > 0 && device.volumeType === 'gp3') {
    ebs.Throughput = device.throughput;
  }
  if (device.snapshotId) ebs.SnapshotId = device.snapshotId;
  if (device.encrypted !== undefined) ebs.Encrypted = device.encrypted;
  if (device.kmsKeyId) ebs.KmsKeyId = device.kmsKeyId;
  mapping.Ebs = ebs;
  return mapping;
}

/** The RegisterImage request for this build (reference §1.1 step 18), tagged so a retry can find the image. */
export function registerImageInput(
  build: BuildState,
  env: Pick<TaskEnvironment, 'stackName'>,
): RegisterImageCommandInput {
  const { config, execution } = build;
  const bucket = requireState(build, 'bucket');
  const source = requireState(build, 'source');

  const tags = new Map<string, string>(Object.entries(source.rendered.tags));
  // Ownership tags last: a template tag must not hide which execution registered the image.
  for (const tag of [...ownershipTags(env, execution.id, config.name, config.onError), ...familyTags(config)])
    tags.set(tag.Key, tag.Value);
  // skip_if_unchanged: the fingerprint a later build finds this AMI by; CopyImage copies it to each copy.
  if (build.fingerprint !== undefined) tags.set(TagKeys.fingerprint, build.fingerprint.value);

  const input: RegisterImageCommandInput = {
    ImageLocation: bucket.manifestLocation,
    Name: config.amiName,
    // Packer registers with the launched instance's architecture; the source's is the same unless unknown.
    Architecture: (build.instance?.architecture ?? source.architecture) as ArchitectureValues,
    TagSpecifications: [{ ResourceType: 'image', Tags: [...tags].map(([Key, Value]) => ({ Key, Value })) }],
  };
  if (config.amiVirtualizationType !== undefined) input.VirtualizationType = config.amiVirtualizationType;
  if (config.amiBlockDeviceMappings.length > 0) {
    input.BlockDeviceMappings = config.amiBlockDeviceMappings.map(toEc2BlockDeviceMapping);
  }
  if (config.enaSupport === true) input.EnaSupport = true;
  if (config.sriovSupport) input.SriovNetSupport = 'simple';
  if (config.tpmSupport !== undefined) input.TpmSupport = config.tpmSupport;
  return input;
}

/**
 * Registers the AMI, idempotently: an image named `ami_name` tagged with this execution is the one a previous
 * attempt registered, and is returned as is. RegisterImage has no client token, so a duplicate-name error is
 * resolved the same way.
 *
 * @throws AmiNameInUseError when another image took `ami_name` after Prevalidate (or Force Deregister) ran.
 * @throws RegisterImageError when EC2 refuses the registration; the message carries EC2's and a hint.
 */
export async function registerImage(
  event: { build: BuildState },
  deps: RegisterImageDeps,
): Promise<ImageInfo> {
  const { build } = event;
  const { config } = build;
  const region = config.region;
  const input = registerImageInput(build, deps.env);
  const ec2 = deps.clients.ec2(region);

  const existing = await findByName(build, deps);
  if (existing !== undefined) return existing;

  deps.log('Registering the AMI...');
  try {
    const response = await ec2.send(new RegisterImageCommand(input));
    const imageId = response.ImageId;
    if (imageId === undefined) throw new RegisterImageError('RegisterImage returned no image id');
    deps.log(`AMI: ${imageId}`);
    return { region, imageId };
  } catch (error) {
    if (error instanceof RegisterImageError) throw error;
    if (error instanceof Error && error.name === 'InvalidAMIName.Duplicate') {
      // A concurrent attempt of this task won the race: its image carries our execution tag.
      const ours = await findByName(build, deps);
      if (ours !== undefined) return ours;
      throw nameInUse(config.amiName, region, undefined);
    }
    if (isTransient(error) || !(error instanceof Error)) throw error;
    throw new RegisterImageError(describeFailure(error, build));
  }
}

async function findByName(build: BuildState, deps: RegisterImageDeps): Promise<ImageInfo | undefined> {
  const { config, execution } = build;
  const region = config.region;
  let images: Image[];
  try {
    const response = await deps.clients.ec2(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: [config.amiName] }],
      }),
    );
    images = response.Images ?? [];
  } catch (error) {
    if (isTransient(error) || !(error instanceof Error)) throw error;
    throw new RegisterImageError(
      `Error describing AMI '${config.amiName}' in ${region}: ${error.name}: ${error.message}`,
    );
  }
  const ours = images.find((i) =>
    i.Tags?.some((t) => t.Key === TagKeys.execution && t.Value === execution.id),
  );
  if (ours?.ImageId !== undefined) {
    deps.log(`AMI: ${ours.ImageId} (registered earlier by this execution)`);
    return { region, imageId: ours.ImageId };
  }
  const other = images[0];
  if (other !== undefined) throw nameInUse(config.amiName, region, other.ImageId);
  return undefined;
}

function nameInUse(amiName: string, region: string, imageId: string | undefined): AmiNameInUseError {
  // Packer's prevalidation message, plus why it can still happen here.
  return new AmiNameInUseError(
    `Error: AMI Name: '${amiName}' is used by an existing AMI: ${imageId ?? '(unknown id)'} in ${region}. ` +
      'It appeared after the name was checked. Choose another ami_name, or set force_deregister to replace it.',
  );
}

function describeFailure(error: Error, build: BuildState): string {
  const { config } = build;
  const location = build.bucket?.manifestLocation ?? '';
  const base = `Error registering AMI '${config.amiName}' from ${location} in ${config.region}: ${error.name}: ${error.message}`;
  if (error.name !== 'InvalidManifest') return base;

  // Reference §6 #4 (bucket in another region → HTTP 301) and #6 (s3_bucket as a path → HTTP 403).
  const hints: string[] = [];
  const text = error.message;
  const redirect = /\b301\b|redirect|region/i.test(text);
  const denied = /\b403\b|denied|forbidden/i.test(text);
  if (redirect || !denied) {
    hints.push(
      `The bundle bucket '${config.bundle.bucket}' must be in the build region ${config.region}: a bucket in another region gives HTTP 301 (packer#1424).`,
    );
  }
  if (denied || !redirect) {
    hints.push(
      'EC2 must be able to read the manifest and its parts: ec2-upload-bundle grants this with its default `aws-exec-read` ACL; a bucket that enforces object ownership (ACLs disabled) or a custom --acl breaks it.',
    );
    hints.push(
      `With a key prefix in s3_bucket the upload command must upload under that prefix (bundle_upload_command with -b ${config.bundle.bucket}${config.bundle.keyPrefix ? `/${config.bundle.keyPrefix}` : ''}), so the manifest is at ${location} (packer#5231).`,
    );
  }
  return `${base}\n${hints.join('\n')}`;
}
