/**
 * The synthesized stack as the local runner uses it: the CloudFormation template of the real app, the state
 * machine definition taken from it with its intrinsics resolved, and the Lambda environment — no hand-written copy.
 */
import { App } from 'aws-cdk-lib';
import { createApp } from '../../infra/app.js';
import { resolveDefinition } from '../../infra/definition.js';
import type { TaskId } from '../../infra/tasks.js';
import { type CfnResource, type CfnTemplate, type ResolveContext, resolveIntrinsics } from './intrinsics.js';

export interface SynthesizedStack {
  stackName: string;
  region: string;
  account: string;
  template: CfnTemplate;
  /** The state machine definition (ASL, JSONPath), every intrinsic resolved. */
  definition: Record<string, unknown>;
  stateMachineArn: string;
  /** Lambda function ARN (as the definition names it) → task. */
  functions: Map<string, TaskId>;
  /** The Lambda environment shared by the tasks, resolved. */
  environment: Record<string, string>;
  /** Physical names of the resources a local "deployment" creates in the emulator. */
  resources: {
    stagingBucket: string;
    commandDocument: { name: string; content: unknown };
    commandLogGroup: string;
    /** The temporary build-instance roles' permissions boundary: its ARN and policy document. */
    instanceRoleBoundary?: { arn: string; name: string; path: string; document: unknown };
  };
}

export interface SynthOptions {
  region: string;
  account: string;
  /** CDK context overrides (stack name, allowed buckets, …). */
  context?: Record<string, unknown>;
}

function physicalName(logicalId: string, resource: CfnResource, stackName: string): string {
  const p = resource.Properties ?? {};
  const named =
    p.BucketName ??
    p.Name ??
    p.LogGroupName ??
    p.InstanceProfileName ??
    p.ManagedPolicyName ??
    p.RoleName ??
    p.TopicName ??
    p.StateMachineName;
  if (typeof named === 'string') return named;
  const base = `${stackName}-${logicalId}`.slice(0, 60);
  return resource.Type === 'AWS::S3::Bucket' ? base.toLowerCase() : base;
}

/** Synthesizes the app in-process (asset bundling skipped: handlers run in-process) and resolves what runs locally. */
export function synthesizeForLocalRun(options: SynthOptions): SynthesizedStack {
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [], ...(options.context ?? {}) },
    outdir: undefined,
  });
  const { stack } = createApp(app);
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  const stackName = stack.stackName;
  const { region, account } = options;
  const resources = template.Resources;

  const ctx: ResolveContext = {
    partition: 'aws',
    region,
    account,
    stackName,
    ref: (id) => {
      const r = resources[id];
      if (!r) throw new Error(`Ref to unknown resource ${id}`);
      if (r.Type === 'AWS::StepFunctions::StateMachine') {
        return `arn:aws:states:${region}:${account}:stateMachine:${physicalName(id, r, stackName)}`;
      }
      if (r.Type === 'AWS::SNS::Topic')
        return `arn:aws:sns:${region}:${account}:${physicalName(id, r, stackName)}`;
      if (r.Type === 'AWS::IAM::ManagedPolicy') {
        const path = typeof r.Properties?.Path === 'string' ? r.Properties.Path : '/';
        return `arn:aws:iam::${account}:policy${path}${physicalName(id, r, stackName)}`;
      }
      return physicalName(id, r, stackName);
    },
    getAtt: (id, attr) => {
      const r = resources[id];
      if (!r) throw new Error(`GetAtt on unknown resource ${id}`);
      const name = physicalName(id, r, stackName);
      switch (`${r.Type}.${attr}`) {
        case 'AWS::S3::Bucket.Arn':
          return `arn:aws:s3:::${name}`;
        case 'AWS::IAM::Role.Arn':
          return `arn:aws:iam::${account}:role/${name}`;
        case 'AWS::IAM::InstanceProfile.Arn':
          return `arn:aws:iam::${account}:instance-profile/${name}`;
        case 'AWS::Logs::LogGroup.Arn':
          return `arn:aws:logs:${region}:${account}:log-group:${name}:*`;
        case 'AWS::StepFunctions::StateMachine.Name':
          return name;
        default:
          return `${name}.${attr}`;
      }
    },
  };

  // The definition and its task functions: resolved the one way the infra tests resolve them.
  const resolved = resolveDefinition(template, { region, account });
  const definition = resolved.definition;
  const functions = new Map<string, TaskId>();
  const environment: Record<string, string> = {};
  for (const [arn, fn] of Object.entries(resolved.functions)) {
    functions.set(arn, fn.taskId);
    const vars = resolveIntrinsics(fn.environment, ctx) as Record<string, unknown>;
    for (const [k, v] of Object.entries(vars)) if (v !== undefined) environment[k] = String(v);
  }
  let stateMachineArn = '';
  let commandDocument: { name: string; content: unknown } | undefined;
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::StepFunctions::StateMachine') stateMachineArn = String(ctx.ref(id));
    if (r.Type === 'AWS::SSM::Document') {
      commandDocument = { name: physicalName(id, r, stackName), content: r.Properties?.Content };
    }
  }
  const stagingBucket = environment.STAGING_BUCKET ?? '';
  const commandLogGroup = environment.COMMAND_LOG_GROUP ?? '';
  let instanceRoleBoundary: SynthesizedStack['resources']['instanceRoleBoundary'];
  for (const [id, r] of Object.entries(resources)) {
    const arn = r.Type === 'AWS::IAM::ManagedPolicy' ? String(ctx.ref(id)) : undefined;
    if (arn !== undefined && arn === environment.INSTANCE_ROLE_BOUNDARY) {
      instanceRoleBoundary = {
        arn,
        name: physicalName(id, r, stackName),
        path: String(r.Properties?.Path ?? '/'),
        document: resolveIntrinsics(r.Properties?.PolicyDocument, ctx),
      };
    }
  }
  if (commandDocument && environment.COMMAND_DOCUMENT) commandDocument.name = environment.COMMAND_DOCUMENT;
  if (!commandDocument) throw new Error('the synthesized stack has no SSM command document');
  return {
    stackName,
    region,
    account,
    template,
    definition,
    stateMachineArn,
    functions,
    environment,
    resources: { stagingBucket, commandDocument, commandLogGroup, instanceRoleBoundary },
  };
}
