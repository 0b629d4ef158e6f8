import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import type { CleanupReport } from '../shared/state.js';
import { parseTaskEvent } from '../shared/task-event.js';
import {
  type ForceDeregisterResult,
  forceDeregister,
  forceDeregisterArgsSchema,
  settleFailedTest,
} from './force-deregister.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client }),
  env: readEnvironment(),
  log: logInfo,
};

/**
 * State "Force Deregister": `{ build, args: {} }` → `{ deregistered: ImageInfo[] }` at `$.forceDeregister`.
 * States "Deregister Failed AMI" / "Keep Failed AMI": `{ build, args: { failedTest } }` → `CleanupReport` at
 * `$.testCleanup`.
 */
export const handler = lambdaHandler((event: unknown): Promise<ForceDeregisterResult | CleanupReport> => {
  const task = parseTaskEvent(event, forceDeregisterArgsSchema);
  if (task.args.failedTest !== undefined) return settleFailedTest(task, task.args.failedTest, deps);
  return forceDeregister(task, deps);
});
