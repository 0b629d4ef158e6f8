import { EC2Client } from '@aws-sdk/client-ec2';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { terminateInstance, terminateInstanceArgsSchema } from './terminate-instance.js';

const deps = { clients: createClients({ ec2: EC2Client }), env: readEnvironment() };

/**
 * States "Terminate Instance" / "Clean Up After Failure": `{ build, args: { reason } }` → `CleanupReport` at
 * `$.cleanup`; "Terminate Test Instance" / "Terminate Test Instance After Failure" (`instance: 'test'`) at
 * `$.testCleanup`.
 */
export const handler = lambdaHandler((event: unknown) =>
  terminateInstance(parseTaskEvent(event, terminateInstanceArgsSchema), deps),
);
