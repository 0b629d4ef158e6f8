/**
 * Launch Test Instance (`ami_test`): launches one instance from the AMI this build has just registered, in the
 * build's subnet and security groups, with the build's instance profile (so its SSM agent registers and it reads
 * this build's staged folder) and metadata options, tagged like every resource of the build plus
 * `ami-builder:role = test`. Abort Cleanup and Sweep Orphans find it by those tags; it is always tagged
 * `ami-builder:on-error = cleanup`, so nothing keeps it, whatever `on_error` says.
 *
 * Not passed on: `launch_block_device_mappings`, `user_data` and the build instance's capacity, credit, enclave
 * and license settings, which are the build instance's: the test instance boots the image as registered.
 */
import { createHash } from 'node:crypto';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  AwsTransientError,
  ImageNotAvailableError,
  InstanceLaunchError,
  InstanceProfileNotAllowedError,
  InstanceProfileNotReadyError,
  TaskInputError,
} from '../shared/errors.js';
import { checkImageOwnedByBuild } from '../shared/ownership.js';
import {
  isProfileNotReady,
  launchMetadataOptions,
  launchPlacement,
  launchTagSpecifications,
  setLaunchNetwork,
} from '../shared/run-instances.js';
import {
  type Clients,
  isTransient,
  ownershipTags,
  TagKeys,
  type TaskEnvironment,
} from '../shared/runtime.js';
import type { BuildState, InstanceInfo, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';

export interface LaunchTestInstanceDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName' | 'allowedInstanceProfiles'>;
}

/** RunInstances' idempotency token of the test instance: one per execution and build (retries, redrives). */
export function testLaunchClientToken(executionId: string, buildName: string): string {
  return createHash('sha256').update(`${executionId}/${buildName}/ami_test`).digest('hex');
}

/** The build's instance profile (Launch Instance checked it), which the test instance gets too. */
function testInstanceProfile(build: BuildState, env: LaunchTestInstanceDeps['env']): string {
  const role = requireState(build, 'instanceRole');
  if (role.temporary || env.allowedInstanceProfiles.includes(role.instanceProfileName)) {
    return role.instanceProfileName;
  }
  throw new InstanceProfileNotAllowedError(
    `iam_instance_profile "${role.instanceProfileName}" is not allowed by this stack (extraInstanceProfiles)`,
  );
}

/** The value of `ami-builder:role` on the test instance. */
export const TEST_INSTANCE_ROLE = 'test';

/** The test instance's tags: a Name, the ownership tags (never `on-error = keep`) and `ami-builder:role = test`. */
export function testInstanceTags(build: BuildState, env: { stackName: string }): Tag[] {
  return [
    { Key: 'Name', Value: `ami-builder ${build.config.name} ami_test` },
    ...ownershipTags(env, build.execution.id, build.config.name, 'cleanup'),
    { Key: TagKeys.role, Value: TEST_INSTANCE_ROLE },
  ];
}

/** Every RunInstances parameter of the test instance, without side effects. */
export function testRunInstancesInput(
  build: BuildState,
  profile: string,
  env: { stackName: string },
): RunInstancesCommandInput {
  const { config } = build;
  const amiTest = config.amiTest;
  if (amiTest === undefined) throw new TaskInputError('the build has no ami_test');
  const image = requireState(build, 'image');
  const network = requireState(build, 'network');
  const input: RunInstancesCommandInput = {
    ClientToken: testLaunchClientToken(build.execution.id, config.name),
    ImageId: image.imageId,
    InstanceType: amiTest.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    IamInstanceProfile: { Name: profile },
    TagSpecifications: launchTagSpecifications(testInstanceTags(build, env)),
  };
  // The build's network, placement (all but the host resource group) and metadata settings, as Launch Instance gives
  // them to the build instance.
  const placement = launchPlacement(config, network, false);
  if (placement !== undefined) input.Placement = placement;
  const metadataOptions = launchMetadataOptions(config.metadataOptions);
  if (metadataOptions !== undefined) input.MetadataOptions = metadataOptions;
  setLaunchNetwork(input, config, network);
  return input;
}

/**
 * Launches the test instance from `$.image`. Invoking it again for the same execution and build returns the same
 * instance (its own idempotency token).
 *
 * @throws ResourceNotOwnedError when the image is not this build's (stack, execution and build tags).
 * @throws ImageNotAvailableError when the image is not available (or gone).
 * @throws InstanceProfileNotReadyError / AwsTransientError as Launch Instance (retried with backoff).
 * @throws InstanceLaunchError for any other launch failure, with AWS's message.
 */
export async function launchTestInstance(
  event: TaskEvent,
  deps: LaunchTestInstanceDeps,
): Promise<InstanceInfo> {
  const { build } = event;
  const { config } = build;
  const image = requireState(build, 'image');
  const profile = testInstanceProfile(build, deps.env);
  const input = testRunInstancesInput(build, profile, deps.env);
  const ec2 = deps.clients.ec2(config.region);

  // The launch is limited to this build's image in IAM (the stack's tag) and here (this execution's tags too).
  const described = await ec2.send(new DescribeImagesCommand({ ImageIds: [image.imageId] }));
  const found = described.Images?.find((i) => i.ImageId === image.imageId);
  if (found === undefined || found.State !== 'available') {
    throw new ImageNotAvailableError(
      `The new AMI ${image.imageId} is ${found?.State ?? 'gone'} in ${image.region}: ami_test cannot launch it`,
    );
  }
  checkImageOwnedByBuild(found, image.region, {
    stackName: deps.env.stackName,
    executionId: build.execution.id,
    buildName: config.name,
  });

  let instanceId: string | undefined;
  try {
    const out = await ec2.send(new RunInstancesCommand(input));
    instanceId = out.Instances?.[0]?.InstanceId;
  } catch (error) {
    if (isTransient(error)) throw error;
    const e = error as Error;
    if (isProfileNotReady(e)) {
      throw new InstanceProfileNotReadyError(
        `RunInstances does not see the instance profile "${profile}" yet (retrying): ${e.message}`,
      );
    }
    if (e.name === 'InsufficientInstanceCapacity') {
      throw new AwsTransientError(`RunInstances: ${e.name}: ${e.message}`);
    }
    throw new InstanceLaunchError(
      `Launching the ami_test instance from the new AMI (${image.imageId}, ${input.InstanceType}) failed: ` +
        `${e.name}: ${e.message}`,
    );
  }
  if (instanceId === undefined) throw new InstanceLaunchError('RunInstances returned no instance');

  let architecture = found.Architecture;
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    architecture = out.Reservations?.[0]?.Instances?.[0]?.Architecture ?? architecture;
  } catch (error) {
    if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
  }
  return { instanceId, ...(architecture === undefined ? {} : { architecture }) };
}
