import { randomInt } from 'node:crypto';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { sendCommand, sendCommandArgsSchema } from './send-command.js';

const deps = {
  clients: createClients(),
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
