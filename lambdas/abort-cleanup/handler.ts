import { setTimeout as sleep } from 'node:timers/promises';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { abortCleanup, parseStatusChange } from './abort-cleanup.js';

const deps = {
  clients: createClients(),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
  clock: systemClock,
  sleep: (milliseconds: number) => sleep(milliseconds),
  log: (line: string) => console.log(line),
};

/**
 * Target of the EventBridge rule on "Step Functions Execution Status Change" (ABORTED, TIMED_OUT, FAILED) →
 * `CleanupReport`. Needs a timeout of about 10 minutes: it waits for instances to terminate.
 */
export const handler = lambdaHandler((event: unknown) => abortCleanup(parseStatusChange(event), deps));
