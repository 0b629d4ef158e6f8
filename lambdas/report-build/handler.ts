import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { emitBuildResult } from '../shared/build-metrics.js';
import type { PathMachine } from '../shared/cost/path.js';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { currentMasker } from '../shared/sensitive.js';
import type { BuildState } from '../shared/state.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { buildCost } from './cost.js';
import { reportBuild, reportBuildArgsSchema } from './report-build.js';

const clients = createClients({ ec2: EC2Client, s3: S3Client });
const deps = {
  clients,
  env: readEnvironment(),
  clock: systemClock,
  log: logInfo,
  cost: (build: BuildState, path: PathMachine | undefined, failed: boolean) =>
    buildCost(build, path, failed, {
      clients,
      workflowRegion: process.env.AWS_REGION ?? build.config.region,
      now: systemClock.now(),
    }),
};

/**
 * States "Report Build" / "Report Failed Build": `{ build, args: { status } }` → `BuildOutput`, the output of
 * one iteration of "Build Each Builder". Its sensitive values are masked: it is what the execution's output, the
 * EventBridge event and the SNS summary are made of. Emits the build's duration, result and resources left
 * behind.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, reportBuildArgsSchema);
  const output = currentMasker().maskDeep(await reportBuild(task, deps));
  emitBuildResult(task.build, output, deps.clock.now());
  return output;
});
