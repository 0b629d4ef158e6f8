import { SSMClient } from '@aws-sdk/client-ssm';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { publishAmiIds } from './publish-ami-ids.js';

const deps = { clients: createClients({ ssm: SSMClient }), env: readEnvironment() };

/**
 * State "Publish AMI Ids": `{ build, args: {} }` → `{ parameter?, published: [{ region, imageId, version,
 * changed }] }`. Writes each region's AMI id to `ami_id_parameter` in that region.
 */
export const handler = lambdaHandler((event: unknown) => publishAmiIds(parseTaskEvent(event), deps));
