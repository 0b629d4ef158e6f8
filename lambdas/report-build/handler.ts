import { EC2Client } from '@aws-sdk/client-ec2';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { reportBuild, reportBuildArgsSchema } from './report-build.js';

const deps = {
  clients: createClients({ ec2: EC2Client }),
  env: readEnvironment(),
  clock: systemClock,
  log: (message: string) => console.log(message),
};

/**
 * States "Report Build" / "Report Failed Build": `{ build, args: { status } }` → `BuildOutput`, the output of
 * one iteration of "Build Each Builder".
 */
export const handler = lambdaHandler((event: unknown) =>
  reportBuild(parseTaskEvent(event, reportBuildArgsSchema), deps),
);
