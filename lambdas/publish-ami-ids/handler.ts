import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import type { CleanupReport } from '../shared/state.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { type PublishAmiIdsResult, publishAmiIds } from './publish-ami-ids.js';
import { rollBackAmiIds } from './roll-back-ami-ids.js';

const deps = { clients: createClients({ ssm: SSMClient }), env: readEnvironment() };

/** `publish` (the default) or `roll-back`: the two states share the function and its parameter permissions. */
const argsSchema = z.object({ action: z.optional(z.enum(['publish', 'roll-back'])) });

/**
 * State "Publish AMI IDs": `{ build, args: {} }` → `{ parameter?, published: [{ region, imageId, version,
 * changed }] }`. Writes each region's AMI id to `ami_id_parameter` in that region.
 *
 * State "Roll Back AMI IDs": `{ build, args: { action: 'roll-back' } }` → `$.cleanup` merged with the
 * parameters put back and those that could not be.
 */
export const handler = lambdaHandler(async (event: unknown): Promise<PublishAmiIdsResult | CleanupReport> => {
  const { build, args } = parseTaskEvent(event, argsSchema);
  return args.action === 'roll-back'
    ? rollBackAmiIds({ build, args: {} }, deps)
    : publishAmiIds({ build, args: {} }, deps);
});
