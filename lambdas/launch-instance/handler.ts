import { z } from 'zod';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { launchInstance } from './launch-instance.js';

const deps = { clients: createClients(), env: readEnvironment() };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  launchInstance(parseTaskEvent(event, argsSchema), deps),
);
