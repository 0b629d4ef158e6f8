import { z } from 'zod';
import { createClients, lambdaHandler } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { prevalidate } from './prevalidate.js';

const deps = { clients: createClients(), stackRegion: process.env.AWS_REGION };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  prevalidate(parseTaskEvent(event, argsSchema), deps),
);
