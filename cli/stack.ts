/**
 * Finds a deployed ami-builder stack's outputs (the state machine, the staging bucket, the command log group, …)
 * with CloudFormation DescribeStacks, so that `build`, `status` and `logs` need nothing but the stack's name.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { StackLookupError } from './stack-errors.js';

export { StackLookupError };

/** The stack name `cdk deploy` uses unless configured otherwise. */
export const DEFAULT_STACK_NAME = 'AmiBuilder';

/** The stack's outputs the CLI reads, by the output key infra gives them. */
export const StackOutputKeys = {
  stateMachineArn: 'StateMachineArn',
  stagingBucketName: 'StagingBucketName',
  instanceRoleBoundaryArn: 'InstanceRoleBoundaryArn',
  commandLogGroupName: 'CommandLogGroupName',
  commandDocumentName: 'CommandDocumentName',
  sweepFunctionName: 'SweepFunctionName',
  retentionFunctionName: 'RetentionFunctionName',
} as const;

export type StackOutputName = keyof typeof StackOutputKeys;

export type StackOutputs = Record<StackOutputName, string>;

async function regionOf(cfn: CloudFormationClient): Promise<string> {
  try {
    return await cfn.config.region();
  } catch {
    return 'the configured region';
  }
}

/**
 * Reads the outputs `required` names (every output by default) from the stack.
 *
 * @throws StackLookupError when the stack does not exist in the client's region, or lacks a required output.
 *   Other errors (credentials, network) pass through unchanged.
 */
export async function findStackOutputs<K extends StackOutputName>(
  cfn: CloudFormationClient,
  stackName: string,
  required: readonly K[] = Object.keys(StackOutputKeys) as K[],
): Promise<Pick<StackOutputs, K>> {
  let response: DescribeStacksCommandOutput;
  try {
    response = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const e = error as { name?: unknown; message?: unknown };
    if (
      e.name === 'ValidationError' &&
      typeof e.message === 'string' &&
      e.message.includes('does not exist')
    ) {
      throw new StackLookupError(
        `stack "${stackName}" was not found in ${await regionOf(cfn)}: deploy it with "npx cdk deploy", ` +
          'or name the deployed stack with --stack NAME and its region with --region R',
      );
    }
    throw error;
  }
  const stack = response.Stacks?.[0];
  if (stack === undefined) {
    throw new StackLookupError(`stack "${stackName}" was not found in ${await regionOf(cfn)}`);
  }
  const byKey = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const missing = required.filter((name) => !byKey.get(StackOutputKeys[name]));
  if (missing.length > 0) {
    const names = missing.map((m) => StackOutputKeys[m]).join(', ');
    const status = stack.StackStatus ?? 'UNKNOWN';
    const available = [...byKey.keys()].sort().join(', ') || 'none';
    throw new StackLookupError(
      `stack "${stackName}" (status ${status}) has no output ${names} (outputs: ${available}): ` +
        'is it an ami-builder stack? Deploy the current version with "npx cdk deploy"',
    );
  }
  return Object.fromEntries(required.map((name) => [name, byKey.get(StackOutputKeys[name]) ?? ''])) as Pick<
    StackOutputs,
    K
  >;
}

/** The AWS clients the `build`, `status` and `logs` commands use. Tests pass mocked ones. */
export interface CliClients {
  cloudformation: CloudFormationClient;
  sfn: SFNClient;
  s3: S3Client;
  logs: CloudWatchLogsClient;
}

/**
 * Clients for `region` (`--region`), or for the SDK's own choice (`AWS_REGION`, the profile) when undefined.
 * `AWS_ENDPOINT_URL` (the SDK reads it) points them at an emulator; S3 then needs path-style addressing.
 */
export function cliClients(
  region: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): CliClients {
  const common = region === undefined ? {} : { region };
  return {
    cloudformation: new CloudFormationClient(common),
    sfn: new SFNClient(common),
    s3: new S3Client({ ...common, forcePathStyle: Boolean(env.AWS_ENDPOINT_URL) }),
    logs: new CloudWatchLogsClient(common),
  };
}
