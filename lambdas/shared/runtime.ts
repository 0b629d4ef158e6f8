/**
 * What every task shares at run time: the Lambda environment (read once at load), AWS clients (created once per
 * region and reused across invocations), the tags that tie resources to a stack and an execution, and the
 * wrapper that turns a plain task function into a Lambda handler.
 */
// Type-only imports: each handler passes the client classes it uses, so a bundle holds only those SDK clients.
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { AwsTransientError } from './errors.js';
import { captureClient, observeInvocation, setLogMask } from './observability.js';
import { DEFAULT_AMI_PARAMETER_PREFIX } from './parameter-prefixes.js';
import { currentMasker, runMasked } from './sensitive.js';

/** The Lambda environment every task may read. Set by infra; the local runner sets the same names. */
export interface TaskEnvironment {
  /** `STACK_NAME`: tagged on every resource as `ami-builder:stack`; IAM conditions use it. */
  stackName: string;
  /** `STAGING_BUCKET`: holds staged template files and per-command files. */
  stagingBucket: string;
  /** `COMMAND_DOCUMENT`: name of the stack's SSM command document (download staged files, run a script). */
  commandDocument: string;
  /** `COMMAND_LOG_GROUP`: CloudWatch log group for SSM command output. */
  commandLogGroup: string;
  /**
   * `INSTANCE_ROLE_BOUNDARY`: ARN of the managed policy every temporary build-instance role is created with as
   * its permissions boundary.
   */
  instanceRoleBoundary: string;
  /** `ALLOWED_INSTANCE_PROFILES`: comma-separated extra profile names builds may pass. */
  allowedInstanceProfiles: string[];
  /** `ALLOWED_BUCKET_PATTERNS`: comma-separated glob patterns (`*` wildcard) of allowed bundle buckets. */
  allowedBucketPatterns: string[];
  /** `EVENT_BUS_NAME`: bus for build notifications (default `default`). */
  eventBusName: string;
  /** `NOTIFICATION_TOPIC_ARN`: optional SNS topic for readable summaries. */
  notificationTopicArn?: string;
  /** `AMI_PARAMETER_PREFIX`: the only SSM parameter path `ami_id_parameter` may name (e.g. `/ami-builder/ami-ids/`). */
  amiParameterPrefix: string;
  /**
   * `ADOPT_FOREIGN_IMAGES` (`true`): `force_deregister` may deregister same-name AMIs this stack did not build
   * (the stack's `adoptForeignImages` setting). Anything but `true` is off.
   */
  adoptForeignImages: boolean;
}

export { DEFAULT_AMI_PARAMETER_PREFIX, DEFAULT_X509_PARAMETER_PREFIX } from './parameter-prefixes.js';

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);

/** Reads the task environment from `process.env` (or the given record). */
export function readEnvironment(env: Record<string, string | undefined> = process.env): TaskEnvironment {
  return {
    stackName: env.STACK_NAME ?? 'AmiBuilder',
    stagingBucket: env.STAGING_BUCKET ?? '',
    commandDocument: env.COMMAND_DOCUMENT ?? '',
    commandLogGroup: env.COMMAND_LOG_GROUP ?? '',
    instanceRoleBoundary: env.INSTANCE_ROLE_BOUNDARY ?? '',
    allowedInstanceProfiles: list(env.ALLOWED_INSTANCE_PROFILES),
    allowedBucketPatterns: list(env.ALLOWED_BUCKET_PATTERNS),
    eventBusName: env.EVENT_BUS_NAME ?? 'default',
    notificationTopicArn: env.NOTIFICATION_TOPIC_ARN || undefined,
    amiParameterPrefix: env.AMI_PARAMETER_PREFIX ?? DEFAULT_AMI_PARAMETER_PREFIX,
    adoptForeignImages: env.ADOPT_FOREIGN_IMAGES === 'true',
  };
}

/** AWS clients by region. Created lazily, once per region, and reused by later invocations. */
export interface Clients {
  ec2(region: string): EC2Client;
  ssm(region: string): SSMClient;
  s3(region: string): S3Client;
  sts(region: string): STSClient;
  sfn(region: string): SFNClient;
  events(region: string): EventBridgeClient;
  logs(region: string): CloudWatchLogsClient;
  sns(region: string): SNSClient;
  /** IAM is global: the region only picks the endpoint (the stack's region). */
  iam(region: string): IAMClient;
  /** Sweep Orphans invokes Abort Cleanup. */
  lambda(region: string): LambdaClient;
}

function cached<T>(make: (region: string) => T): (region: string) => T {
  const byRegion = new Map<string, T>();
  return (region) => {
    let client = byRegion.get(region);
    if (client === undefined) {
      client = make(region);
      byRegion.set(region, client);
    }
    return client;
  };
}

/** A client class: constructed with a region and SDK options. */
export type ClientClass<C> = new (config: {
  region: string;
  maxAttempts?: number;
  forcePathStyle?: boolean;
}) => C;

/**
 * Creates the client factory for the services a handler uses (`createClients({ ec2: EC2Client })`): only those
 * SDK clients are imported, so each Lambda bundle stays small and starts fast. Endpoints come from the SDK's own
 * `AWS_ENDPOINT_URL` handling, so the same code reaches AWS or the local emulator; S3 uses path-style
 * addressing when an endpoint override is set. Every client is captured by the tracer, so each AWS call is a
 * subsegment of the invocation's trace.
 */
export function createClients<K extends keyof Clients>(
  classes: { [P in K]: ClientClass<ReturnType<Clients[P]>> },
): Pick<Clients, K> {
  const endpointOverride = Boolean(process.env.AWS_ENDPOINT_URL);
  const factories = {} as Pick<Clients, K>;
  for (const service of Object.keys(classes) as K[]) {
    const Client = classes[service] as ClientClass<unknown>;
    const options = service === 's3' ? { forcePathStyle: endpointOverride } : {};
    (factories as Record<string, unknown>)[service] = cached((region) =>
      captureClient(new Client({ maxAttempts: 4, region, ...options })),
    );
  }
  return factories;
}

export { ownershipTags, TagKeys } from './tags.js';

/** A clock, passed in so tests can pin time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

interface SdkErrorLike {
  name?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const transientNames = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'SlowDown',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** True for throttling and 5xx errors that a later retry may fix. */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorLike;
  if (e.name !== undefined && transientNames.has(e.name)) return true;
  if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/**
 * Wraps a task function as a Lambda handler: throttling and 5xx errors that survived the SDK's retries become
 * {@link AwsTransientError} (which the state machine retries with backoff); other errors pass through with
 * their names intact. The message of a wrapped error names the operation's error, never request data.
 *
 * Each invocation runs with the masker of its build configuration (./sensitive.ts): every log line and metric
 * record (through the logger's mask) and the message of every error thrown have their sensitive values masked.
 * It also runs with its correlation keys (execution, build, state, instance, command, image) set for the logger
 * and the metrics, in a trace subsegment annotated with the build and the execution.
 */
export function lambdaHandler<E, R>(
  task: (event: E) => Promise<R>,
): (event: E, context?: Context) => Promise<R> {
  return (event: E, context?: Context) =>
    runMasked(event, () =>
      observeInvocation(
        event,
        async () => {
          try {
            return await task(event);
          } catch (error) {
            const masker = currentMasker();
            if (isTransient(error)) {
              const e = error as Error;
              throw new AwsTransientError(masker.mask(`${e.name}: ${e.message}`));
            }
            if (error instanceof Error) {
              error.message = masker.mask(error.message);
              // Lambda reports the stack too (the cause's `stackTrace`); its first line repeats the message.
              if (error.stack !== undefined) error.stack = masker.mask(error.stack);
            }
            throw error;
          }
        },
        context,
      ),
    );
}

// Every log line and metric record of a task passes through the masker of the invocation it belongs to.
setLogMask((text) => currentMasker().mask(text));
