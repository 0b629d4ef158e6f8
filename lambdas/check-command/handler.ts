import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { timedCheck } from '../shared/build-metrics.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { COMMAND_POLL_KEY, checkCommand } from './check-command.js';

const deps = { clients: createClients({ ssm: SSMClient }), env: readEnvironment() };
const argsSchema = z.object({});

/**
 * States "Check Provisioner Command", "Check X509 Upload", "Check Bundle Volume", "Check Upload Bundle" (and the
 * error-cleanup command's check): `{ build, args: {} }` → `PollResult` at `$.poll.command`. Its end gives the
 * command's duration and closes the provision (last provisioner), bundle and upload phases.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, argsSchema);
  const result = await checkCommand(task, deps);
  return timedCheck(
    task.build,
    COMMAND_POLL_KEY,
    result,
    systemClock.now(),
    { command: true },
    task.state,
    task.check,
  );
});
