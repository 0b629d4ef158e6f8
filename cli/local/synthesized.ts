/**
 * The synthesized stack as the local runner uses it: the CloudFormation template of the real app, the state
 * machine definition taken from it with its intrinsics resolved, and the Lambda environment — no hand-written copy.
 */
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { createApp } from '../../infra/app.js';
import { TASK_ID_METADATA_KEY } from '../../infra/constructs/task-function.js';
import { resolveDefinition } from '../../infra/definition.js';
import { type TaskId, Tasks } from '../../infra/tasks.js';
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
  /** Each task function's role as the template defines it, intrinsics resolved. */
  taskRoles: Map<TaskId, TaskRole>;
  /** Each task function's `Handler` and `Code.S3Key` (the asset hash of its bundle), as synthesized. */
  taskCode: Map<TaskId, { handler: string; assetKey: string }>;
  /** The cloud assembly's directory, and its asset manifests (paths): where the bundled code is. */
  assembly: { directory: string; assetManifests: string[] };
  /** Physical names of the resources a local "deployment" creates in the emulator. */
  resources: {
    stagingBucket: string;
    commandDocument: { name: string; content: unknown };
    commandLogGroup: string;
    /** The temporary build-instance roles' permissions boundary: its ARN and policy document. */
    instanceRoleBoundary?: { arn: string; name: string; path: string; document: unknown };
  };
}

/** A Lambda task's execution role: what `cdk deploy` creates for it. */
export interface TaskRole {
  roleName: string;
  arn: string;
  trustPolicy: unknown;
  /** Inline policies: the role's `Policies` and every `AWS::IAM::Policy` attached to it. */
  policies: { name: string; document: unknown }[];
  managedPolicyArns: string[];
}

export interface SynthOptions {
  region: string;
  account: string;
  /** CDK context overrides (stack name, allowed buckets, …). */
  context?: Record<string, unknown>;
  /**
   * Bundle the task functions as `cdk synth` does, into a cloud assembly in this directory (`--bundled`).
   * @default the handlers run from their sources: bundling is skipped and the assembly goes to a temporary folder
   */
  bundleInto?: string;
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
    context: {
      ...(options.bundleInto === undefined ? { 'aws:cdk:bundling-stacks': [] } : {}),
      ...(options.context ?? {}),
    },
    outdir: options.bundleInto,
  });
  const { stack } = createApp(app);
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  const assetManifests = assembly.artifacts.flatMap((artifact) => {
    const file = (artifact.manifest.properties as { file?: unknown } | undefined)?.file;
    return artifact.manifest.type === 'cdk:asset-manifest' && typeof file === 'string'
      ? [join(assembly.directory, file)]
      : [];
  });
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
        case 'AWS::StepFunctions::StateMachine.Arn':
          return `arn:aws:states:${region}:${account}:stateMachine:${name}`;
        case 'AWS::SQS::Queue.Arn':
          return `arn:aws:sqs:${region}:${account}:${name}`;
        case 'AWS::SNS::Topic.TopicArn':
          return `arn:aws:sns:${region}:${account}:${name}`;
        case 'AWS::Events::Rule.Arn':
          return `arn:aws:events:${region}:${account}:rule/${name}`;
        case 'AWS::Lambda::Function.Arn': {
          // As resolveDefinition names the task functions in the definition.
          const task = r.Metadata?.[TASK_ID_METADATA_KEY];
          return `arn:aws:lambda:${region}:${account}:function:${typeof task === 'string' ? task : name}`;
        }
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
  const { taskRoles, taskCode } = taskRolesAndCode(resources, ctx);
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
    taskRoles,
    taskCode,
    assembly: { directory: assembly.directory, assetManifests },
    resources: { stagingBucket, commandDocument, commandLogGroup, instanceRoleBoundary },
  };
}

/** The roles of the task functions and the policies attached to them, resolved. */
function taskRolesAndCode(
  resources: CfnTemplate['Resources'],
  ctx: ResolveContext,
): { taskRoles: Map<TaskId, TaskRole>; taskCode: SynthesizedStack['taskCode'] } {
  const taskRoles = new Map<TaskId, TaskRole>();
  const taskCode: SynthesizedStack['taskCode'] = new Map();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const tagged = r.Metadata?.[TASK_ID_METADATA_KEY];
    const task = typeof tagged === 'string' && tagged in Tasks ? (tagged as TaskId) : undefined;
    if (task === undefined) continue;
    const p = r.Properties ?? {};
    const code = p.Code as { S3Key?: unknown } | undefined;
    taskCode.set(task, {
      handler: String(p.Handler ?? 'index.handler'),
      assetKey: String(code?.S3Key ?? ''),
    });
    const roleRef = (p.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    const role = roleRef === undefined ? undefined : resources[roleRef];
    if (roleRef === undefined || role === undefined) continue;
    const rp = role.Properties ?? {};
    const policies: TaskRole['policies'] = [];
    for (const inline of (rp.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]) {
      policies.push({ name: inline.PolicyName, document: resolveIntrinsics(inline.PolicyDocument, ctx) });
    }
    for (const [policyId, policy] of Object.entries(resources)) {
      if (policy.Type !== 'AWS::IAM::Policy') continue;
      const roles = (policy.Properties?.Roles ?? []) as { Ref?: string }[];
      if (!roles.some((x) => x.Ref === roleRef)) continue;
      policies.push({
        name: String(policy.Properties?.PolicyName ?? policyId),
        document: resolveIntrinsics(policy.Properties?.PolicyDocument, ctx),
      });
    }
    taskRoles.set(task, {
      roleName: physicalName(roleRef, role, ctx.stackName),
      arn: ctx.getAtt(roleRef, 'Arn'),
      trustPolicy: resolveIntrinsics(rp.AssumeRolePolicyDocument, ctx),
      policies,
      managedPolicyArns: ((rp.ManagedPolicyArns ?? []) as unknown[]).map((a) =>
        String(resolveIntrinsics(a, ctx)),
      ),
    });
  }
  return { taskRoles, taskCode };
}
