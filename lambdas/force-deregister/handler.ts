import { z } from 'zod';
import { createClients, lambdaHandler } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { forceDeregister } from './force-deregister.js';

const deps = { clients: createClients(), log: (message: string) => console.log(message) };
const argsSchema = z.object({});

/** State "Force Deregister": `{ build, args: {} }` → `{ deregistered: ImageInfo[] }` at `$.forceDeregister`. */
export const handler = lambdaHandler((event: unknown) =>
  forceDeregister(parseTaskEvent(event, argsSchema), deps),
);
