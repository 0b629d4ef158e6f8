import { EC2Client } from '@aws-sdk/client-ec2';
import { cleanupArgsSchema } from '../shared/cleanup-report.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { terminateInstance } from './terminate-instance.js';

const deps = { clients: createClients({ ec2: EC2Client }), env: readEnvironment() };

/**
 * States "Terminate Instance" / "Clean Up After Failure": `{ build, args: { reason } }` → `CleanupReport` at
 * `$.cleanup`.
 */
export const handler = lambdaHandler((event: unknown) =>
  terminateInstance(parseTaskEvent(event, cleanupArgsSchema), deps),
);
