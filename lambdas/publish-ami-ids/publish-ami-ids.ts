/**
 * Publish AMI Ids: after a successful build, writes the new AMI id of each region into the SSM parameter the
 * template names in `ami_id_parameter`, in that region, with data type `aws:ec2:image` (so launch templates and
 * CloudFormation can resolve it). Teams then consume the build by parameter, as they do with the public
 * `/aws/service/…` AMI parameters.
 *
 * The name must lie under the stack's prefix (`AMI_PARAMETER_PREFIX`), the only path the task's role may write.
 * Writing twice is harmless: a parameter that already holds the AMI id is left as it is (no new version), so a
 * retry or a redrive does not grow the parameter's history.
 */
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { buildArtifacts } from '../report-build/report-build.js';
import { awsErrorCode } from '../shared/cleanup-report.js';
import { AmiParameterNotAllowedError } from '../shared/errors.js';
import type { Clients, TaskEnvironment } from '../shared/runtime.js';
import type { TaskEvent } from '../shared/state.js';

/** The SSM data type that makes SSM check the value is an AMI id in the parameter's region. */
export const AMI_DATA_TYPE = 'aws:ec2:image';

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
  env: Pick<TaskEnvironment, 'amiParameterPrefix'>;
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

async function publishInRegion(
  deps: PublishAmiIdsDeps,
  name: string,
  region: string,
  imageId: string,
): Promise<PublishedParameter> {
  const ssm = deps.clients.ssm(region);
  try {
    const current = await ssm.send(new GetParameterCommand({ Name: name }));
    const p = current.Parameter;
    if (p?.Value === imageId && p.DataType === AMI_DATA_TYPE && p.Type === 'String') {
      return { region, imageId, version: p.Version ?? 0, changed: false };
    }
  } catch (error) {
    if (awsErrorCode(error) !== 'ParameterNotFound') throw error;
  }
  const put = await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: imageId,
      Type: 'String',
      DataType: AMI_DATA_TYPE,
      Overwrite: true,
      Description: 'AMI id published by ami-builder',
    }),
  );
  return { region, imageId, version: put.Version ?? 0, changed: true };
}

/**
 * Publishes the build's AMI ids. Does nothing when the template has no `ami_id_parameter`.
 *
 * @throws AmiParameterNotAllowedError when the name is outside the stack's prefix (before anything is written).
 */
export async function publishAmiIds(event: TaskEvent, deps: PublishAmiIdsDeps): Promise<PublishAmiIdsResult> {
  const { build } = event;
  const name = build.config.amiIdParameter;
  if (name === undefined || name === '') return { published: [] };
  checkParameterName(name, deps.env.amiParameterPrefix);

  const artifacts = buildArtifacts(build);
  const regions = Object.keys(artifacts).sort();
  const published = await Promise.all(
    regions.map((region) => publishInRegion(deps, name, region, artifacts[region] ?? '')),
  );
  return { parameter: name, published };
}
