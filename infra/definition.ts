/**
 * The state machine definition as Step Functions runs it, read back from a synthesized template: the
 * `DefinitionString` `Fn::Join` is resolved, and each Lambda ARN becomes a readable placeholder,
 * `arn:<partition>:lambda:<region>:<account>:function:<TaskId>`. The tests and the local runner use it.
 */
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TASK_ID_METADATA_KEY } from './constructs/task-function.js';
import { type TaskId, Tasks } from './tasks.js';

export interface ResolveOptions {
  region: string;
  account: string;
  /** @default 'aws' */
  partition?: string;
}

export interface ResolvedDefinition {
  /** The ASL definition (JSONPath), ready for `aws-local-stepfunctions` or `CreateStateMachine`. */
  definition: Record<string, unknown>;
  /** Every task function by its placeholder ARN: the task and the function's environment as synthesized. */
  functions: Record<string, { taskId: TaskId; environment: Record<string, unknown> }>;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

const isTaskId = (value: unknown): value is TaskId =>
  typeof value === 'string' && Object.hasOwn(Tasks, value);

/** The task a synthesized function implements: its `ami-builder:task` metadata, else its construct path. */
function taskIdOf(logicalId: string, resource: CfnResource): TaskId {
  const tagged = resource.Metadata?.[TASK_ID_METADATA_KEY];
  if (isTaskId(tagged)) return tagged;
  const path = resource.Metadata?.['aws:cdk:path'];
  if (typeof path === 'string') {
    const match = /\/([^/]+)\/Resource$/.exec(path);
    if (match !== null && isTaskId(match[1])) return match[1];
  }
  throw new Error(
    `function ${logicalId} names no task (no ${TASK_ID_METADATA_KEY} metadata or …/<TaskId>/Resource path)`,
  );
}

/**
 * Resolves the template's one `AWS::StepFunctions::StateMachine` definition.
 *
 * @throws Error when the template has no or several state machines, or the definition references something
 *   other than the pseudo parameters and the task functions' ARNs
 */
export function resolveDefinition(template: object, opts: ResolveOptions): ResolvedDefinition {
  const partition = opts.partition ?? 'aws';
  const resources = ((template as { Resources?: Record<string, CfnResource> }).Resources ?? {}) as Record<
    string,
    CfnResource
  >;
  const machines = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1)
    throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const [machineId, machine] = machines[0] as [string, CfnResource];

  const functions: ResolvedDefinition['functions'] = {};
  const arnOf = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    if (
      resource.Metadata?.[TASK_ID_METADATA_KEY] === undefined &&
      resource.Metadata?.['aws:cdk:path'] === undefined
    ) {
      continue;
    }
    const taskId = taskIdOf(logicalId, resource);
    const arn = `arn:${partition}:lambda:${opts.region}:${opts.account}:function:${taskId}`;
    arnOf.set(logicalId, arn);
    const variables = (
      resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
    )?.Variables;
    functions[arn] = { taskId, environment: { ...(variables ?? {}) } };
  }

  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': opts.region,
    'AWS::AccountId': opts.account,
    'AWS::URLSuffix': partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
  };
  const resolvePart = (part: unknown): string => {
    if (typeof part === 'string') return part;
    if (part !== null && typeof part === 'object') {
      const ref = (part as { Ref?: unknown }).Ref;
      if (typeof ref === 'string' && pseudo[ref] !== undefined) return pseudo[ref];
      const getAtt = (part as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
      if (Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string') {
        const arn = arnOf.get(getAtt[0]);
        if (arn !== undefined) return arn;
      }
    }
    throw new Error(`state machine ${machineId}: cannot resolve ${JSON.stringify(part)} in its definition`);
  };

  const body = machine.Properties?.DefinitionString;
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    const join = (body as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
    if (join === undefined)
      throw new Error(`state machine ${machineId}: DefinitionString is neither text nor Fn::Join`);
    text = join[1].map(resolvePart).join(join[0]);
  }
  return { definition: JSON.parse(text) as Record<string, unknown>, functions };
}

/** The definition of a stack's build state machine (synthesizes the stack). */
export function synthDefinition(
  stack: Stack,
  opts: ResolveOptions = { region: 'us-east-1', account: '123456789012' },
): ResolvedDefinition {
  return resolveDefinition(Template.fromStack(stack).toJSON(), opts);
}
