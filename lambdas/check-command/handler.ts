import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkCommand } from './check-command.js';

const deps = { clients: createClients({ ssm: SSMClient }), env: readEnvironment() };
const argsSchema = z.object({});

/**
 * States "Check Provisioner Command", "Check X509 Upload", "Check Bundle Volume", "Check Upload Bundle" (and the
 * error-cleanup command's check): `{ build, args: {} }` → `PollResult` at `$.poll.command`.
 */
export const handler = lambdaHandler((event: unknown) =>
  checkCommand(parseTaskEvent(event, argsSchema), deps),
);
