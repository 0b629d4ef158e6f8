import { randomInt } from 'node:crypto';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { sendCommand, sendCommandArgsSchema } from './send-command.js';

const deps = {
  clients: createClients({ ec2: EC2Client, ssm: SSMClient, s3: S3Client }),
  env: readEnvironment(),
  stagingRegion: process.env.AWS_REGION ?? 'us-east-1',
  randomSuffix: () => randomInt(9999),
};

/**
 * States "Send Provisioner Command", "Upload X509 Certificate", "Bundle Volume", "Upload Bundle" and the
 * error-cleanup command: `{ build, args: { kind, provisionerIndex? } }` → `CommandInfo` at `$.command`.
 */
export const handler = lambdaHandler((event: unknown) =>
  sendCommand(parseTaskEvent(event, sendCommandArgsSchema), deps),
);
