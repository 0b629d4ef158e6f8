/**
 * Publish AMI Ids: after a successful build, writes the new AMI id of each region into the SSM parameter the
 * template names in `ami_id_parameter`, in that region, with data type `aws:ec2:image` (so launch templates and
 * CloudFormation can resolve it). Teams then consume the build by parameter, as they do with the public
 * `/aws/service/…` AMI parameters.
 *
 * The name must lie under the stack's prefix (`AMI_PARAMETER_PREFIX`), the only path the task's role may write.
 * Only a parameter that does not exist yet, or one this stack created (tag `ami-builder:stack`) as a `String`
 * of data type `aws:ec2:image`, is written: IAM allows no other overwrite either. Writing twice is harmless: a
 * parameter that already holds the AMI id is left as it is (no new version), so a retry or a redrive does not
 * grow the parameter's history.
 */
import {
  GetParameterCommand,
  ListTagsForResourceCommand,
  type Parameter,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { buildArtifacts } from '../shared/build-artifacts.js';
import { awsErrorCode } from '../shared/cleanup-report.js';
import { AmiParameterNotAllowedError, AmiParameterNotOwnedError } from '../shared/errors.js';
import { isOwnedByStack, tagValue } from '../shared/ownership.js';
import { type Clients, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type { TaskEvent } from '../shared/state.js';

/** The SSM data type that makes SSM check the value is an AMI id in the parameter's region. */
export const AMI_DATA_TYPE = 'aws:ec2:image';
const DESCRIPTION = 'AMI id published by ami-builder';

export interface PublishedParameter {
  region: string;
  imageId: string;
  /** The parameter's version holding this AMI id. */
  version: number;
  /** False when the parameter already held this AMI id and nothing was written. */
  changed: boolean;
}

export interface PublishAmiIdsResult {
  /** The parameter name, when the template sets `ami_id_parameter`. */
  parameter?: string;
  /** One entry per region (build region and every copy), sorted by region. */
  published: PublishedParameter[];
}

export interface PublishAmiIdsDeps {
  clients: Pick<Clients, 'ssm'>;
  env: Pick<TaskEnvironment, 'amiParameterPrefix' | 'stackName'>;
}

/**
 * Checks that `name` lies strictly under `prefix` (which ends in `/`).
 *
 * @throws AmiParameterNotAllowedError naming the parameter, the allowed prefix and how to change it.
 */
export function checkParameterName(name: string, prefix: string): void {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (!name.startsWith(base) || name.length === base.length) {
    throw new AmiParameterNotAllowedError(
      `ami_id_parameter ${JSON.stringify(name)} is not under the stack's AMI parameter prefix "${base}": ` +
        `name a parameter such as "${base}<name>", or deploy the stack with -c amiParameterPrefix=<path>`,
    );
  }
}

async function currentParameter(ssm: SSMClient, name: string): Promise<Parameter | undefined> {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter;
  } catch (error) {
    if (awsErrorCode(error) === 'ParameterNotFound') return undefined;
    throw error;
  }
}

/**
 * Checks that an existing parameter is one this stack may overwrite: a `String` of data type `aws:ec2:image`
 * carrying `ami-builder:stack = <stack>`.
 *
 * @throws AmiParameterNotOwnedError naming the parameter, the region and what does not match
 */
async function checkOwned(
  ssm: SSMClient,
  deps: PublishAmiIdsDeps,
  parameter: Parameter,
  name: string,
  region: string,
): Promise<void> {
  const refuse = (why: string) =>
    new AmiParameterNotOwnedError(
      `ami_id_parameter ${JSON.stringify(name)} in ${region} already exists ${why}; this stack overwrites only ` +
        `parameters it created (type String, data type ${AMI_DATA_TYPE}, tag ${TagKeys.stack}=${deps.env.stackName}). ` +
        'Name another parameter, or delete this one if it may be replaced.',
    );
  if (parameter.Type !== 'String' || parameter.DataType !== AMI_DATA_TYPE) {
    throw refuse(`as a ${parameter.Type ?? 'parameter'} of data type ${parameter.DataType ?? 'text'}`);
  }
  const tags = await ssm.send(
    new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }),
  );
  if (!isOwnedByStack(tags.TagList, deps.env.stackName)) {
    const found = tagValue(tags.TagList, TagKeys.stack);
    throw refuse(
      found === undefined ? `without the tag ${TagKeys.stack}` : `with the tag ${TagKeys.stack}=${found}`,
    );
  }
}

/** What publishing does in one region, decided before anything is written in any region. */
type Plan = { region: string; imageId: string } & (
  | { action: 'create' }
  | { action: 'overwrite' }
  | { action: 'keep'; version: number }
);

async function planRegion(
  deps: PublishAmiIdsDeps,
  name: string,
  region: string,
  imageId: string,
): Promise<Plan> {
  const ssm = deps.clients.ssm(region);
  const current = await currentParameter(ssm, name);
  if (current === undefined) return { region, imageId, action: 'create' };
  if (current.Value === imageId && current.DataType === AMI_DATA_TYPE && current.Type === 'String') {
    return { region, imageId, action: 'keep', version: current.Version ?? 0 };
  }
  await checkOwned(ssm, deps, current, name, region);
  return { region, imageId, action: 'overwrite' };
}

async function publishInRegion(
  deps: PublishAmiIdsDeps,
  name: string,
  plan: Plan,
): Promise<PublishedParameter> {
  const { region, imageId } = plan;
  if (plan.action === 'keep') return { region, imageId, version: plan.version, changed: false };
  const ssm = deps.clients.ssm(region);
  const put = (overwrite: boolean) =>
    ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: imageId,
        Type: 'String',
        DataType: AMI_DATA_TYPE,
        Description: DESCRIPTION,
        // Creating: no Overwrite, so PutParameter fails with ParameterAlreadyExists rather than change a
        // parameter created meanwhile; the tag marks the parameter as this stack's for later overwrites.
        ...(overwrite ? { Overwrite: true } : { Tags: [{ Key: TagKeys.stack, Value: deps.env.stackName }] }),
      }),
    );
  if (plan.action === 'overwrite') {
    return { region, imageId, version: (await put(true)).Version ?? 0, changed: true };
  }
  try {
    return { region, imageId, version: (await put(false)).Version ?? 0, changed: true };
  } catch (error) {
    if (awsErrorCode(error) !== 'ParameterAlreadyExists') throw error;
    // Created meanwhile (a retry after a lost response, or someone else): decide again, with the checks.
    const again = await planRegion(deps, name, region, imageId);
    if (again.action === 'create') throw error;
    return publishInRegion(deps, name, again);
  }
}

/**
 * Publishes the build's AMI ids. Does nothing when the template has no `ami_id_parameter`.
 *
 * @throws AmiParameterNotAllowedError when the name is outside the stack's prefix (before anything is written).
 * @throws AmiParameterNotOwnedError when the parameter exists and this stack did not create it as an AMI-id
 *   parameter.
 */
export async function publishAmiIds(event: TaskEvent, deps: PublishAmiIdsDeps): Promise<PublishAmiIdsResult> {
  const { build } = event;
  const name = build.config.amiIdParameter;
  if (name === undefined || name === '') return { published: [] };
  checkParameterName(name, deps.env.amiParameterPrefix);

  const artifacts = buildArtifacts(build);
  const regions = Object.keys(artifacts).sort();
  // Every region is checked before any is written, so a refused parameter leaves the others unchanged.
  const plans = await Promise.all(
    regions.map((region) => planRegion(deps, name, region, artifacts[region] ?? '')),
  );
  const published = await Promise.all(plans.map((plan) => publishInRegion(deps, name, plan)));
  return { parameter: name, published };
}
