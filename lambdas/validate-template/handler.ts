import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { SFNClient } from '@aws-sdk/client-sfn';
import { decodeRetentionPolicy, RETENTION_DEFAULT_ENV } from '../shared/retention-policy.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { validateTemplate } from '../shared/template/validate.js';
import { awsResumeReader } from './resume.js';
import { parseValidatePayload, validateTemplateTask } from './validate-template.js';

const homeRegion = process.env.AWS_REGION ?? 'us-east-1';
const deps = {
  validate: validateTemplate,
  retentionDefault: decodeRetentionPolicy(process.env[RETENTION_DEFAULT_ENV]),
  resume: {
    stackName: readEnvironment().stackName,
    reader: awsResumeReader(createClients({ sfn: SFNClient, ec2: EC2Client, iam: IAMClient }), homeRegion),
  },
};

/**
 * State "Validate Template": `{ input: $, execution: { id, name, startTime } }` →
 * `{ builds, warnings, skipped, execution }`, which replaces the state.
 */
export const handler = lambdaHandler((event: unknown) =>
  validateTemplateTask(parseValidatePayload(event), deps),
);
