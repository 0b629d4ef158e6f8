/**
 * Roll Back AMI IDs: on the failure path of a build that sets `ami_id_parameter`, puts each region's parameter
 * back as it was before this build published, so that nothing launches the AMI of a failed build by name. Publish
 * AMI IDs may have written some regions before the build failed (one region refused, or a later step failed).
 *
 * In each region of the build's AMIs, and only where the parameter still holds this build's AMI id and carries
 * this stack's tag (a later build's value, or somebody else's parameter, is left alone):
 * - the last earlier value in the parameter's history that is not this AMI id is written back (a new version);
 * - without one, the parameter was created by this build, and it is deleted.
 *
 * Running it again finds the parameter no longer holding this AMI id and does nothing. A region that cannot be
 * rolled back does not stop the others: it is reported in `leaked`, with the command that fixes it.
 */
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  ListTagsForResourceCommand,
  type Parameter,
  type ParameterHistory,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  awsErrorCode,
  emptyCleanupReport,
  errorText,
  leakedAmiIdParameter,
  mergeCleanupReports,
} from '../shared/cleanup-report.js';
import { isOwnedByStack } from '../shared/ownership.js';
import { type Clients, isTransient, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type {
  BuildState,
  CleanupReport,
  ImageInfo,
  LeakedResource,
  RolledBackParameter,
  TaskEvent,
} from '../shared/state.js';

/** The data type Publish AMI IDs writes. */
const AMI_DATA_TYPE = 'aws:ec2:image';

export interface RollBackAmiIdsDeps {
  clients: Pick<Clients, 'ssm'>;
  env: Pick<TaskEnvironment, 'stackName'>;
}

/** The AMIs the failed build registered or copied, by region (the build region first). */
function buildImages(build: BuildState): ImageInfo[] {
  const images = new Map<string, string>();
  if (build.image !== undefined) images.set(build.image.region || build.config.region, build.image.imageId);
  for (const copy of build.copies ?? []) {
    if (typeof copy?.region === 'string' && typeof copy.imageId === 'string')
      images.set(copy.region, copy.imageId);
  }
  return [...images].map(([region, imageId]) => ({ region, imageId }));
}

async function currentParameter(ssm: SSMClient, name: string): Promise<Parameter | undefined> {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter;
  } catch (error) {
    if (awsErrorCode(error) === 'ParameterNotFound') return undefined;
    throw error;
  }
}

async function history(ssm: SSMClient, name: string): Promise<ParameterHistory[]> {
  const versions: ParameterHistory[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(new GetParameterHistoryCommand({ Name: name, NextToken: nextToken }));
    versions.push(...(page.Parameters ?? []));
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return versions.sort((a, b) => (a.Version ?? 0) - (b.Version ?? 0));
}

type RegionResult = { rolledBack?: RolledBackParameter; leaked?: LeakedResource };

async function rollBackRegion(
  deps: RollBackAmiIdsDeps,
  name: string,
  { region, imageId }: ImageInfo,
): Promise<RegionResult> {
  const ssm = deps.clients.ssm(region);
  let previous: string | undefined;
  try {
    const current = await currentParameter(ssm, name);
    // Never published here, or published over since: not this build's to change.
    if (current?.Value !== imageId) return {};
    const tags = await ssm.send(
      new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }),
    );
    if (!isOwnedByStack(tags.TagList, deps.env.stackName)) {
      return {
        leaked: leakedAmiIdParameter(
          region,
          name,
          `still names ${imageId} of this failed build, but does not carry ${TagKeys.stack}=${deps.env.stackName}: not rolled back`,
          undefined,
        ),
      };
    }
    const versions = await history(ssm, name);
    previous = versions
      .filter((v) => (v.Version ?? 0) < (current.Version ?? 0) && v.Value !== imageId)
      .at(-1)?.Value;
    if (previous === undefined) {
      await ssm.send(new DeleteParameterCommand({ Name: name }));
      return { rolledBack: { name, region } };
    }
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: previous,
        Type: 'String',
        DataType: AMI_DATA_TYPE,
        Overwrite: true,
      }),
    );
    return { rolledBack: { name, region, restored: previous } };
  } catch (error) {
    if (isTransient(error)) throw error;
    return {
      leaked: leakedAmiIdParameter(
        region,
        name,
        `still names ${imageId} of this failed build: roll-back failed: ${errorText(error)}`,
        previous,
      ),
    };
  }
}

/**
 * Rolls back the failed build's `ami_id_parameter` in every region of its AMIs and returns `$.cleanup` merged
 * with what was rolled back (`rolledBackParameters`) and what could not be (`leaked`).
 */
export async function rollBackAmiIds(event: TaskEvent, deps: RollBackAmiIdsDeps): Promise<CleanupReport> {
  const { build } = event;
  const name = build.config.amiIdParameter;
  const report = emptyCleanupReport();
  if (name === undefined || name === '') return mergeCleanupReports(build.cleanup, report);
  const results = await Promise.all(buildImages(build).map((image) => rollBackRegion(deps, name, image)));
  const rolledBack = results.flatMap((r) => (r.rolledBack === undefined ? [] : [r.rolledBack]));
  const leaked = results.flatMap((r) => (r.leaked === undefined ? [] : [r.leaked]));
  if (rolledBack.length > 0) report.rolledBackParameters = rolledBack;
  if (leaked.length > 0) report.leaked = leaked;
  return mergeCleanupReports(build.cleanup, report);
}
