/**
 * Prevalidate: Packer's StepPreValidate and StepSourceAMIInfo (reference §1.1 steps 1–2), plus the checks that
 * are cheaper now than after a launch: the instance type against an instance-store source, the account id, and
 * the late-rendered template strings (`tags`, `run_tags`, `ami_description`), which need the source AMI.
 */
import { DescribeRegionsCommand, type Image } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { sameNameImages, validateAmiName } from '../shared/ami-name.js';
import type { BuildConfig } from '../shared/config.js';
import {
  AwsTransientError,
  ForeignImageError,
  InvalidRegionError,
  SourceAmiNotFoundError,
  TemplateValidationError,
  UnsupportedInstanceTypeError,
} from '../shared/errors.js';
import {
  INSTANCE_STORE_ROOT_FAMILIES,
  instanceFamily,
  supportsInstanceStoreRoot,
} from '../shared/instance-families.js';
import { describeImage, isOwnedByStack } from '../shared/ownership.js';
import { type Clients, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type { BuildState, SourceInfo, TaskEvent } from '../shared/state.js';
import { renderLate } from '../shared/template/late.js';
import { resolveSourceImage } from './source-ami.js';

export interface PrevalidateDeps {
  clients: Pick<Clients, 'ec2' | 'sts'>;
  /** The stack's name (ownership tag) and whether `force_deregister` may adopt images it did not build. */
  env: Pick<TaskEnvironment, 'stackName' | 'adoptForeignImages'>;
  /**
   * The stack's region (`AWS_REGION`). The SSM command document and its log group exist only there, so the
   * build instance must run there too.
   * @default - not checked
   */
  stackRegion?: string;
}

/**
 * Checks that the build region and every `ami_regions` entry are enabled regions of the account.
 *
 * @throws InvalidRegionError with Packer's message.
 */
async function validateRegions(deps: PrevalidateDeps, config: BuildConfig): Promise<void> {
  const out = await deps.clients.ec2(config.region).send(new DescribeRegionsCommand({}));
  const available = (out.Regions ?? []).map((r) => r.RegionName).filter((r): r is string => r !== undefined);
  const invalid = [config.region, ...config.amiRegions].filter((r) => r !== '' && !available.includes(r));
  if (invalid.length > 0) {
    // Go prints slices as `[a b]`.
    throw new InvalidRegionError(
      `error validating regions: Invalid region(s): [${invalid.join(' ')}], available regions: [${available.join(' ')}]`,
    );
  }
}

/**
 * With `force_deregister`, checks that every same-name AMI Force Deregister would remove was built by this stack
 * (tag `ami-builder:stack`), unless the stack allows adopting foreign images. Runs before anything is created.
 *
 * @throws ForeignImageError naming each foreign image (id, region, owner) and how to allow adopting it.
 */
async function validateForceDeregister(deps: PrevalidateDeps, build: BuildState): Promise<void> {
  if (deps.env.adoptForeignImages) return;
  const foreign = (await sameNameImages(deps, build)).filter(
    ({ image }) => !isOwnedByStack(image.Tags, deps.env.stackName),
  );
  if (foreign.length === 0) return;
  throw new ForeignImageError(
    `force_deregister: ${foreign.map(({ image, region }) => describeImage(image, region)).join('; ')}: ` +
      `not built by this stack (no ${TagKeys.stack}=${deps.env.stackName} tag), so it is not deregistered. ` +
      'Choose another ami_name, deregister it yourself, or let this stack adopt images it did not build ' +
      '(teams migrating from Packer) by deploying it with -c adoptForeignImages=true (see the README).',
  );
}

/**
 * Enhanced networking needs HVM, as Packer's `canEnableEnhancedNetworking`.
 *
 * @throws SourceAmiNotFoundError: the source AMI cannot be used with these settings.
 */
function validateEnhancedNetworking(config: BuildConfig, image: Image): void {
  if (config.enaSupport !== true && !config.sriovSupport) return;
  if (config.amiVirtualizationType === 'hvm') return;
  if (config.amiVirtualizationType !== undefined) {
    throw new SourceAmiNotFoundError(
      `Cannot enable enhanced networking, AMIVirtType '${config.amiVirtualizationType}' is not HVM`,
    );
  }
  if (image.VirtualizationType !== 'hvm') {
    throw new SourceAmiNotFoundError(
      `Cannot enable enhanced networking, source AMI '${image.ImageId}' is not HVM`,
    );
  }
}

/** An instance-store root device boots only on a few old families (facts file). */
function validateInstanceType(config: BuildConfig, image: Image): void {
  if (image.RootDeviceType !== 'instance-store' || supportsInstanceStoreRoot(config.instanceType)) return;
  const families = INSTANCE_STORE_ROOT_FAMILIES.map((f) => f.toUpperCase()).join(', ');
  throw new UnsupportedInstanceTypeError(
    `The source AMI ${image.ImageId} has an instance-store root device, which launches only on the instance ` +
      `families ${families}; instance_type "${config.instanceType}" is of family ` +
      `${instanceFamily(config.instanceType).toUpperCase()}. Choose an instance_type of one of those families ` +
      '(for example m3.medium or c3.large), or an EBS-backed source AMI.',
  );
}

async function accountId(deps: PrevalidateDeps, config: BuildConfig): Promise<string> {
  if (config.accountId !== undefined && config.accountId !== '') return config.accountId;
  const out = await deps.clients.sts(config.region).send(new GetCallerIdentityCommand({}));
  if (out.Account === undefined) throw new AwsTransientError('STS GetCallerIdentity returned no account');
  return out.Account;
}

function tagsOf(image: Image): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of image.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return tags;
}

/**
 * Renders the strings Packer renders after the source AMI is known, with the build variables of the build
 * region. Keys are rendered too, as Packer does for `tags` and `run_tags`.
 */
export function renderLateStrings(
  build: BuildState,
  image: {
    imageId: string;
    name: string;
    ownerId: string;
    ownerAlias?: string;
    creationDate: string;
    tags: Record<string, string>;
  },
): SourceInfo['rendered'] {
  const { config, execution } = build;
  const context = {
    buildVariables: {
      BuildRegion: config.region,
      SourceAMI: image.imageId,
      SourceAMIName: image.name,
      SourceAMIOwner: image.ownerId,
      SourceAMIOwnerName: image.ownerAlias ?? '',
      SourceAMICreationDate: image.creationDate,
      SourceAMITags: image.tags,
    },
    userVariables: config.lateVariables,
    // The execution's start, not the clock: a retry or a redrive renders the same {{timestamp}} and {{uuid}}.
    now: new Date(execution.startTime),
    uuidSeed: `${execution.id}/${config.name}`,
  };
  const render = (text: string, path: string): string => {
    try {
      return renderLate(text, context);
    } catch (error) {
      // Validation checked the syntax; what fails here depends on the source AMI (a build variable's value).
      throw new TemplateValidationError(`${path}: ${(error as Error).message}`);
    }
  };
  const renderMap = (map: Record<string, string>, key: string) =>
    Object.fromEntries(
      Object.entries(map).map(([k, v]) => [render(k, `${key} key "${k}"`), render(v, `${key}["${k}"]`)]),
    );
  const rendered: SourceInfo['rendered'] = {
    tags: renderMap(config.tags, 'tags'),
    runTags: renderMap(config.runTags, 'run_tags'),
  };
  if (config.amiDescription !== undefined) {
    rendered.amiDescription = render(config.amiDescription, 'ami_description');
  }
  return rendered;
}

/**
 * Validates what can be validated before anything is created and resolves the source AMI.
 *
 * @throws InvalidRegionError unless `skip_region_validation`.
 * @throws AmiNameInUseError unless `force_deregister` (or `skip_if_unchanged`: Check Unchanged checks then).
 * @throws ForeignImageError with `force_deregister`, when a same-name AMI was not built by this stack and the
 *   stack does not adopt foreign images.
 * @throws SourceAmiNotFoundError when the source AMI does not resolve to exactly one usable image.
 * @throws UnsupportedInstanceTypeError when an instance-store source meets an instance type that cannot boot it.
 * @throws TemplateValidationError when `tags`, `run_tags` or `ami_description` fail to render.
 */
export async function prevalidate(event: TaskEvent, deps: PrevalidateDeps): Promise<SourceInfo> {
  const { build } = event;
  const { config } = build;

  if (deps.stackRegion !== undefined && deps.stackRegion !== config.region) {
    throw new InvalidRegionError(
      `region ${JSON.stringify(config.region)}: this stack builds in ${deps.stackRegion} only (its SSM command document and command log group live there). Set "region": "${deps.stackRegion}" and list other regions in ami_regions, or deploy the stack in ${config.region} too.`,
    );
  }
  if (!config.skipRegionValidation) await validateRegions(deps, config);
  if (config.forceDeregister) await validateForceDeregister(deps, build);
  // With skip_if_unchanged, Check Unchanged makes this check when it finds no unchanged AMI: an unchanged AMI
  // with a name that has no {{timestamp}} is what the build reports, not a conflict.
  else if (config.skipIfUnchanged !== true) await validateAmiName(deps, build);

  const image = await resolveSourceImage(deps.clients.ec2(config.region), config);
  validateEnhancedNetworking(config, image);
  validateInstanceType(config, image);

  const source = {
    imageId: image.ImageId ?? '',
    name: image.Name ?? '',
    ownerId: image.OwnerId ?? '',
    creationDate: image.CreationDate ?? '',
    tags: tagsOf(image),
  };
  const ownerAlias = image.ImageOwnerAlias;
  const info: SourceInfo = {
    ...source,
    ...(ownerAlias === undefined ? {} : { ownerAlias }),
    rootDeviceType: image.RootDeviceType ?? '',
    architecture: image.Architecture ?? '',
    virtualizationType: image.VirtualizationType ?? '',
    accountId: await accountId(deps, config),
    rendered: renderLateStrings(build, { ...source, ...(ownerAlias === undefined ? {} : { ownerAlias }) }),
  };
  return info;
}
