import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import type { CleanupReport } from '../shared/state.js';
import { announceSweep, parseSweepRequest, sweepOrphans } from './sweep-orphans.js';

const env = readEnvironment();
const homeRegion = process.env.AWS_REGION ?? 'us-east-1';
const clients = createClients({
  ec2: EC2Client,
  s3: S3Client,
  sfn: SFNClient,
  iam: IAMClient,
  ssm: SSMClient,
  sts: STSClient,
  events: EventBridgeClient,
  sns: SNSClient,
  lambda: LambdaClient,
});
const abortCleanupFunction = process.env.ABORT_CLEANUP_FUNCTION ?? '';
const graceMinutes = Number(process.env.SWEEP_GRACE_MINUTES ?? '60');

/** Runs Abort Cleanup (the stack's function) for one ended execution and returns its report. */
async function cleanExecution(change: unknown): Promise<CleanupReport> {
  const result = await clients.lambda(homeRegion).send(
    new InvokeCommand({
      FunctionName: abortCleanupFunction,
      Payload: new TextEncoder().encode(JSON.stringify(change)),
    }),
  );
  const text = new TextDecoder().decode(result.Payload ?? new Uint8Array());
  if (result.FunctionError !== undefined) throw new Error(`Abort Cleanup failed: ${text.slice(0, 1000)}`);
  return JSON.parse(text) as CleanupReport;
}

/**
 * Target of the sweep schedule (`{}`) and of `ami-builder sweep` (`{ "dryRun": true }`) → `SweepReport`.
 * Needs a timeout of 15 minutes: each ended execution's cleanup may wait for instances to terminate.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const report = await sweepOrphans(parseSweepRequest(event), {
    clients,
    env: { ...env, stateMachineName: process.env.STATE_MACHINE_NAME ?? '' },
    homeRegion,
    clock: systemClock,
    graceMinutes: Number.isFinite(graceMinutes) ? graceMinutes : undefined,
    cleanExecution,
    log: (line) => console.log(line),
  });
  await announceSweep(report, { clients, env, homeRegion });
  return report;
});
