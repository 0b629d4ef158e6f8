import { z } from 'zod';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { ensureBundleBucket } from './ensure-bucket.js';

const deps = { clients: createClients(), env: readEnvironment() };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  ensureBundleBucket(parseTaskEvent(event, argsSchema), deps),
);
