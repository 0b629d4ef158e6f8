import { dirname, join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  Code,
  Function as LambdaFunction,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BUNDLE_FILE, taskBundles } from '../bundle.js';
import { repoRoot } from '../config.js';
import { type TaskId, Tasks } from '../tasks.js';

/** Lambda timeout of each task, in seconds; tasks not listed get {@link DEFAULT_TASK_TIMEOUT_SECONDS}. */
export const TASK_TIMEOUT_SECONDS: Partial<Record<TaskId, number>> = {
  // Stages every script, file source and X.509 file of a command by server-side copies.
  SendCommand: 120,
  // Cleanup and deregistration walk several regions and may delete many staged or bundle objects.
  ForceDeregister: 300,
  TerminateInstance: 300,
  DeleteTemporaryResources: 300,
  AbortCleanup: 300,
  // Walks the family's regions and may delete many bundle objects; the daily run walks every family.
  ApplyRetention: 300,
  // Cleans up after every ended execution it finds, each through Abort Cleanup (up to 5 minutes each).
  SweepOrphans: 900,
};

export const DEFAULT_TASK_TIMEOUT_SECONDS = 60;

/** The CloudFormation metadata key that names the task a function implements (read by `resolveDefinition`). */
export const TASK_ID_METADATA_KEY = 'ami-builder:task';

export interface TaskFunctionProps {
  /** The task; its handler module comes from `infra/tasks.ts`. */
  readonly taskId: TaskId;
  /** The environment every task shares (`lambdas/shared/runtime.ts`, `TaskEnvironment`). */
  readonly environment: Record<string, string>;
  /** Retention of the function's log group. */
  readonly logRetention: RetentionDays;
  /**
   * Function timeout.
   * @default TASK_TIMEOUT_SECONDS[taskId] ?? 60 seconds
   */
  readonly timeout?: Duration;
}

/**
 * One workflow task as a Lambda function. Its construct id is the task id, so the function's
 * `aws:cdk:path` ends in `/<TaskId>/Resource` (the local runner maps it back to `infra/tasks.ts`); the resource
 * also carries the task id in its CloudFormation metadata (`ami-builder:task`).
 *
 * Defaults, all here:
 * - runtime Node.js 22 (`NODEJS_22_X`), architecture ARM64, memory 256 MB, timeout 60 s (5 min for the cleanup
 *   and deregistration tasks, 2 min for Send Command);
 * - X-Ray tracing active;
 * - an explicit log group (`<TaskId>Logs`, sibling of the function) with the configured retention, removed with
 *   the stack; no Lambda-backed log-retention helper;
 * - its own role, allowed only to write to that log group (and X-Ray); `infra/permissions.ts` adds the task's
 *   AWS actions;
 * - code bundled offline with the local esbuild, every task in one pass (`infra/bundle.ts`: ESM, target node22,
 *   minified, `keepNames` since Step Functions matches error names, an external source map read through
 *   `NODE_OPTIONS=--enable-source-maps`, the AWS SDK v3 bundled so its version is the one in package-lock.json);
 *   each function's asset is its task's directory of that output (`index.mjs`, `index.mjs.map`), a standard CDK
 *   file asset hashed by its content. Stacks excluded from bundling (`aws:cdk:bundling-stacks`) skip the pass.
 */
export class TaskFunction extends LambdaFunction {
  readonly taskId: TaskId;
  /** The function's own role: `infra/permissions.ts` adds the task's statements to it. */
  readonly taskRole: Role;

  constructor(scope: Construct, id: TaskId, props: TaskFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `ami-builder task ${id}`,
    });
    role.addToPolicy(
      new PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const timeout =
      props.timeout ?? Duration.seconds(TASK_TIMEOUT_SECONDS[props.taskId] ?? DEFAULT_TASK_TIMEOUT_SECONDS);

    super(scope, id, {
      code: taskCode(scope, props.taskId),
      handler: `${BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout,
      tracing: Tracing.ACTIVE,
      logGroup,
      role,
      description: `ami-builder: ${props.taskId}`,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
    });
    this.taskId = props.taskId;
    this.taskRole = role;
    (this.node.defaultChild as CfnFunction).addMetadata(TASK_ID_METADATA_KEY, props.taskId);
  }
}

/**
 * The task's code: its directory of the one esbuild pass over every task (built on the first call, shared by
 * every stack of the process), as a plain directory asset. The pass runs outside CDK's bundling API, which would
 * print a line per function even under `cdk synth --quiet`. A stack excluded from bundling
 * (`aws:cdk:bundling-stacks`, as the tests and the local runner synthesize) gets the task's source folder instead,
 * unbundled, as CDK's own bundling would skip it.
 */
function taskCode(scope: Construct, taskId: TaskId): Code {
  if (!Stack.of(scope).bundlingRequired) return Code.fromAsset(join(repoRoot, dirname(Tasks[taskId])));
  return Code.fromAsset(join(taskBundles(repoRoot).outdir, taskId));
}
