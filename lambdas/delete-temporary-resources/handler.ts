import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { emitCleanupPhase } from '../shared/build-metrics.js';
import { cleanupArgsSchema } from '../shared/cleanup-report.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { deleteTemporaryResources } from './delete-temporary-resources.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client, iam: IAMClient }),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
};

/**
 * States "Delete Temporary Resources" / "Delete Temporary Resources After Failure": `{ build, args: { reason } }`
 * → `$.cleanup` merged with this task's `CleanupReport`. Its end closes the cleanup phase.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, cleanupArgsSchema);
  const report = await deleteTemporaryResources(task, deps);
  emitCleanupPhase(task.build, systemClock.now());
  return report;
});
