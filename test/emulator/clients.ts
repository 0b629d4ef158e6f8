import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';

/** SDK v3 clients pointed at an emulator, as the handlers build them (explicit endpoint, dummy credentials). */
export function emulatorClients(endpoint: string, region = 'us-east-1', maxAttempts = 3) {
  const common = {
    endpoint,
    region,
    maxAttempts,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    ec2: new EC2Client(common),
    ssm: new SSMClient(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
    sts: new STSClient(common),
    events: new EventBridgeClient(common),
    cloudformation: new CloudFormationClient(common),
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * Emulator options for the tests of simulated behaviour: no sandbox (commands advance per observation), and
 * instances and images that change state without delay.
 */
export const SIMULATED = {
  sandbox: false,
  instanceStartMs: 0,
  instanceStopMs: 0,
  imagePendingMs: 0,
} as const;
