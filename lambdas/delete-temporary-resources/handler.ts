import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { cleanupArgsSchema } from '../shared/cleanup-report.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { deleteTemporaryResources } from './delete-temporary-resources.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client, iam: IAMClient }),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
};

/**
 * States "Delete Temporary Resources" / "Delete Temporary Resources After Failure": `{ build, args: { reason } }`
 * → `$.cleanup` merged with this task's `CleanupReport`.
 */
export const handler = lambdaHandler((event: unknown) =>
  deleteTemporaryResources(parseTaskEvent(event, cleanupArgsSchema), deps),
);
