import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parsePrepareResumePayload, prepareResumeTask } from './prepare-resume.js';
import { awsResumeReader } from './resume.js';

const homeRegion = process.env.AWS_REGION ?? 'us-east-1';
const deps = {
  stackName: readEnvironment().stackName,
  reader: awsResumeReader(createClients({ sfn: SFNClient, ec2: EC2Client, iam: IAMClient }), homeRegion),
};

/**
 * State "Prepare Resume": Validate Template's result with `resume` → the same with every build resumed, which
 * replaces the state.
 */
export const handler = lambdaHandler((event: unknown) =>
  prepareResumeTask(parsePrepareResumePayload(event), deps),
);
