import { EC2Client } from '@aws-sdk/client-ec2';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { currentMasker, logMasked } from '../shared/sensitive.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { reportBuild, reportBuildArgsSchema } from './report-build.js';

const deps = {
  clients: createClients({ ec2: EC2Client }),
  env: readEnvironment(),
  clock: systemClock,
  log: logMasked,
};

/**
 * States "Report Build" / "Report Failed Build": `{ build, args: { status } }` → `BuildOutput`, the output of
 * one iteration of "Build Each Builder". Its sensitive values are masked: it is what the execution's output, the
 * EventBridge event and the SNS summary are made of.
 */
export const handler = lambdaHandler(async (event: unknown) =>
  currentMasker().maskDeep(await reportBuild(parseTaskEvent(event, reportBuildArgsSchema), deps)),
);
