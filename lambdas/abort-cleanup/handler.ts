import { setTimeout as sleep } from 'node:timers/promises';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { emitResourcesLeftBehind } from '../shared/build-metrics.js';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { abortCleanup, parseStatusChange } from './abort-cleanup.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client, sfn: SFNClient, iam: IAMClient }),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
  clock: systemClock,
  sleep: (milliseconds: number) => sleep(milliseconds),
  log: logInfo,
};

/**
 * Target of the EventBridge rule on "Step Functions Execution Status Change" (ABORTED, TIMED_OUT, FAILED) →
 * `CleanupReport`. Needs a timeout of about 10 minutes: it waits for instances to terminate.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const report = await abortCleanup(parseStatusChange(event), deps);
  emitResourcesLeftBehind('abort-cleanup', report);
  return report;
});
