/**
 * Runs the synthesized state machine locally: aws-local-stepfunctions executes the definition, each Lambda task
 * state calls the real handler module in-process, and the handlers' AWS calls go over HTTP to the emulator.
 */
import { createHash } from 'node:crypto';
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreatePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Emulator, RecordedExecution } from '../../emulator/index.js';
import { type TaskId, Tasks } from '../../infra/tasks.js';
import { fromLocalEvent, type LocalEventLog, type ProgressEvent } from '../progress/events.js';
import type { WorkflowOutput } from '../progress/printer.js';
import type { SynthesizedStack } from './synthesized.js';
import { type TaskCredentials, withTaskCredentials } from './task-roles.js';

type Handler = (event: unknown) => Promise<unknown>;

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

/** aws-local-stepfunctions needs Promise.withResolvers, which Node 20 lacks. */
function polyfillPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (typeof P.withResolvers === 'function') return;
  P.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** Creates, in the emulator, what `cdk deploy` would create and the tasks need at run time. */
export async function deployToEmulator(stack: SynthesizedStack, emulator: Emulator): Promise<void> {
  const region = stack.region;
  const s3 = new S3Client({ region, endpoint: emulator.endpoint, forcePathStyle: true });
  const ssm = new SSMClient({ region, endpoint: emulator.endpoint });
  const logs = new CloudWatchLogsClient({ region, endpoint: emulator.endpoint });
  const { stagingBucket, commandDocument, commandLogGroup, instanceRoleBoundary } = stack.resources;
  await s3
    .send(
      new CreateBucketCommand({
        Bucket: stagingBucket,
        ...(region === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
      }),
    )
    .catch(ignoreCode('BucketAlreadyOwnedByYou'));
  const content =
    typeof commandDocument.content === 'string'
      ? commandDocument.content
      : JSON.stringify(commandDocument.content);
  await ssm
    .send(
      new CreateDocumentCommand({
        Name: commandDocument.name,
        Content: content,
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
      }),
    )
    .catch(ignoreCode('DocumentAlreadyExists'));
  if (commandLogGroup) {
    await logs
      .send(new CreateLogGroupCommand({ logGroupName: commandLogGroup }))
      .catch(ignoreCode('ResourceAlreadyExistsException'));
  }
  if (instanceRoleBoundary !== undefined) {
    // The boundary every temporary build-instance role is created with, as `cdk deploy` creates it.
    const iam = new IAMClient({ region, endpoint: emulator.endpoint });
    await iam
      .send(
        new CreatePolicyCommand({
          PolicyName: instanceRoleBoundary.name,
          Path: instanceRoleBoundary.path,
          PolicyDocument: JSON.stringify(instanceRoleBoundary.document),
        }),
      )
      .catch(ignoreCode('EntityAlreadyExistsException', 'EntityAlreadyExists'));
    iam.destroy();
  }
  s3.destroy();
  ssm.destroy();
  logs.destroy();
}

function ignoreCode(...codes: string[]) {
  return (error: unknown) => {
    if (codes.includes((error as { name?: string }).name ?? '')) return undefined;
    throw error;
  };
}

/** Every Task and Wait state of the definition, including those inside Map and Parallel states. */
export function walkStates(
  definition: Record<string, unknown>,
  visit: (name: string, state: Record<string, unknown>) => void,
): void {
  const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const processor = (state.ItemProcessor ?? state.Iterator) as Record<string, unknown> | undefined;
    if (processor) walkStates(processor, visit);
    for (const branch of (state.Branches ?? []) as Record<string, unknown>[]) walkStates(branch, visit);
  }
}

export interface RunOptions {
  stack: SynthesizedStack;
  input: unknown;
  executionName: string;
  /**
   * The factor by which every Wait state's duration and every retry interval of the definition is multiplied:
   * time as on AWS, compressed. Backoff rates, jitter and attempt bounds are kept, so a poll loop waits the
   * same number of times, each wait its real length times this factor. 1 keeps real time.
   * @default {@link DEFAULT_TIME_SCALE}
   */
  timeScale?: number;
  /**
   * The shortest scaled Wait or retry interval, so that a poll loop never checks again at once.
   * @default {@link MIN_SCALED_WAIT_MS}
   */
  minWaitMs?: number;
  onEvent?: (event: ProgressEvent, raw: LocalEventLog) => void;
  /** Aborts the execution (like StopExecution); the abort cleanup then runs as the EventBridge rule would run it. */
  signal?: AbortSignal;
  /** Wraps each handler call, e.g. to count invocations or to invoke twice. */
  invoke?: (task: TaskId, handler: Handler, payload: unknown) => Promise<unknown>;
  startTime?: Date;
  /**
   * Each task's credentials (./task-roles.ts): its handler's AWS calls are signed with them, so the emulator
   * enforces the task's synthesized role. Without them the handlers use the process's credentials.
   */
  credentials?: ReadonlyMap<TaskId, TaskCredentials>;
  /** Each task's handler, in place of its TypeScript module (`--bundled`: the deployed bundle, ./bundled.ts). */
  handlers?: (task: TaskId) => Handler;
}

export interface RunResult {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  executionArn: string;
  output?: WorkflowOutput;
  error?: string;
  cause?: string;
  /** Every raw event of the run (state inputs and outputs included), for inspection by tests. */
  events: LocalEventLog[];
  /** What the abort-cleanup task did, when it ran (aborted or failed executions, as the EventBridge rule does). */
  abortCleanup?: unknown;
  /** States entered. A retry is not counted here (AWS bills it as a transition too). */
  stateTransitions: number;
  /** Handler calls by task, the abort cleanup included. */
  invocations: Record<string, number>;
  /** `$$.Execution.StartTime`, ISO 8601. */
  startTime?: string;
}

/**
 * The run as Step Functions' DescribeExecution and GetExecutionHistory report it, for the emulator's
 * `recordExecution`: the execution's input, status and error, and its history events (states entered with their
 * input, exited with their output), oldest first.
 */
export function executionRecord(
  stack: Pick<SynthesizedStack, 'stateMachineArn'>,
  input: unknown,
  result: RunResult,
): RecordedExecution {
  const seconds = (ms: number) => ms / 1000;
  const started = result.startTime === undefined ? Date.now() : Date.parse(result.startTime);
  const events: Record<string, unknown>[] = [];
  const push = (timestamp: number, type: string, details: Record<string, unknown>) => {
    const id = events.length + 1;
    events.push({ id, previousEventId: id - 1, timestamp: seconds(timestamp), type, ...details });
  };
  const json = (value: unknown) => JSON.stringify(value ?? null);
  for (const e of result.events) {
    if (e.type === 'ExecutionStarted') {
      push(e.timestamp, 'ExecutionStarted', { executionStartedEventDetails: { input: json(input) } });
    } else if ((e.type === 'StateEntered' || e.type === 'StateExited') && e.state) {
      const entered = e.type === 'StateEntered';
      push(e.timestamp, `${e.state.type}${entered ? 'StateEntered' : 'StateExited'}`, {
        [entered ? 'stateEnteredEventDetails' : 'stateExitedEventDetails']: entered
          ? { name: e.state.name, input: json(e.state.input) }
          : { name: e.state.name, output: json(e.state.output) },
      });
    } else if (e.type === 'ExecutionFailed') {
      push(e.timestamp, 'ExecutionFailed', {
        executionFailedEventDetails: { error: e.Error ?? result.error, cause: result.cause },
      });
    } else if (e.type === 'ExecutionSucceeded') {
      push(e.timestamp, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: json(e.output) } });
    }
  }
  const last = result.events.at(-1)?.timestamp ?? Date.now();
  return {
    executionArn: result.executionArn,
    stateMachineArn: stack.stateMachineArn,
    name: result.executionArn.split(':').pop() ?? '',
    status: result.status,
    startDate: seconds(started),
    stopDate: seconds(last),
    input: json(input),
    ...(result.status === 'SUCCEEDED' ? { output: json(result.output) } : {}),
    ...(result.error === undefined ? {} : { error: result.error }),
    ...(result.cause === undefined ? {} : { cause: result.cause }),
    events,
  };
}

/** Time as on AWS, 200 times faster: a 10 s poll interval lasts 50 ms, a 30 min bound 9 s. */
export const DEFAULT_TIME_SCALE = 1 / 200;
/** The floor of a scaled wait or retry interval. */
export const MIN_SCALED_WAIT_MS = 10;
/** A Wait state run as a local task: longer than any wait (setTimeout holds at most 2^31 − 1 ms). */
const WAIT_TASK_TIMEOUT_SECONDS = 2_000_000;

const handlerCache = new Map<TaskId, Handler>();

/** Loads a task's handler module (after the environment is set: handlers read it once at load). */
export async function loadHandler(task: TaskId): Promise<Handler> {
  const cached = handlerCache.get(task);
  if (cached) return cached;
  const url = new URL(`../../${Tasks[task].replace(/\.ts$/, '.js')}`, import.meta.url);
  const module = (await import(url.href)) as { handler: Handler };
  handlerCache.set(task, module.handler);
  return module.handler;
}

/** Sets the Lambda environment of the synthesized functions in this process. */
export function applyLambdaEnvironment(stack: SynthesizedStack): void {
  for (const [k, v] of Object.entries(stack.environment)) {
    if (k === 'NODE_OPTIONS') continue;
    process.env[k] = v;
  }
  process.env.AWS_REGION = stack.region;
}

/** Lambda passes JSON, not object references: each call gets and returns a fresh copy. */
const jsonCopy = (value: unknown): unknown =>
  value === undefined ? null : JSON.parse(JSON.stringify(value));

/**
 * Runs one execution of the synthesized definition to its end (or its abort) and, when it did not succeed, the
 * abort cleanup the deployed stack's EventBridge rule would run.
 */
export async function runExecution(options: RunOptions): Promise<RunResult> {
  polyfillPromiseWithResolvers();
  const { StateMachine, ExecutionAbortedError } = await import('aws-local-stepfunctions');
  const { stack } = options;
  const definition = stack.definition;
  const executionArn = `arn:aws:states:${stack.region}:${stack.account}:execution:${stack.stateMachineArn.split(':').pop()}:${options.executionName}`;
  const invocations: Record<string, number> = {};

  const taskHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const timing = scaledTiming(definition, options.timeScale ?? DEFAULT_TIME_SCALE, options.minWaitMs);
  // Scaled waits end early when the execution ends (an abort, a failure elsewhere).
  const waits = new AbortController();
  // Invocations still running when the execution stops: like a Lambda invocation on AWS, each runs to its end.
  const inFlight = new Set<Promise<unknown>>();
  const callHandler = async (functionName: string, payload: unknown): Promise<unknown> => {
    const task = stack.functions.get(functionName);
    if (!task) throw new Error(`no local handler for ${functionName}`);
    invocations[task] = (invocations[task] ?? 0) + 1;
    const handler = options.handlers?.(task) ?? (await loadHandler(task));
    const event = jsonCopy(payload);
    const call = withTaskCredentials(options.credentials?.get(task), () =>
      options.invoke ? options.invoke(task, handler, event) : handler(event),
    );
    inFlight.add(call);
    try {
      return jsonCopy(await call);
    } finally {
      inFlight.delete(call);
    }
  };
  // `$$.State` is not in aws-local-stepfunctions' context: the copy marks where the payloads read it, and the
  // handlers fill it in (see stateContextOf).
  const stateContext = new WeakMap<object, { retries: number; enteredTime: string }>();
  const withStateContext = (name: string, input: unknown): unknown => {
    if (!usesStateContext.has(name)) return input;
    return fillStateContext(input, name, stateContextOf(stateContext, input));
  };
  const usesStateContext = markStateContext(timing.definition);
  walkStates(definition, (name, state) => {
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      const resource = state.Resource;
      if (resource === LAMBDA_INVOKE) {
        // The optimized integration wraps the call: `{ FunctionName, Payload }` in, `{ Payload, … }` out.
        taskHandlers[name] = async (raw: unknown) => {
          const { FunctionName, Payload } = withStateContext(name, raw) as {
            FunctionName: string;
            Payload: unknown;
          };
          return {
            Payload: await callHandler(FunctionName, Payload),
            StatusCode: 200,
            ExecutedVersion: '$LATEST',
          };
        };
      } else if (stack.functions.has(resource)) {
        // A function ARN as the resource (CDK's `payloadResponseOnly`): the input is the event, the result is
        // the function's return value.
        taskHandlers[name] = (input: unknown) => callHandler(resource, withStateContext(name, input));
      } else {
        // aws-local-stepfunctions would call the real AWS service for it.
        throw new Error(`state "${name}" runs ${resource}, which has no local handler`);
      }
    }
  });
  for (const [name, waitMs] of timing.waits) {
    taskHandlers[name] = async (input: unknown) => {
      await sleep(waitMs(input), waits.signal);
      return input;
    };
  }

  // The synthesized definition is validated as it is; the run uses its time-scaled copy.
  new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const machine = new StateMachine(timing.definition as never, { validationOptions: { noValidate: true } });
  const startTime = options.startTime ?? new Date();
  const execution = machine.run(options.input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers as never,
    },
    context: {
      Execution: {
        Id: executionArn,
        Name: options.executionName,
        StartTime: startTime.toISOString(),
        Input: options.input,
        RoleArn: `arn:aws:iam::${stack.account}:role/${stack.stackName}-StateMachineRole`,
        RedriveCount: 0,
      },
      StateMachine: { Id: stack.stateMachineArn, Name: stack.stateMachineArn.split(':').pop() },
    } as never,
  });
  const onAbort = () => execution.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const events: LocalEventLog[] = [];
  let transitions = 0;
  const drain = (async () => {
    for await (const raw of execution.eventLogs as AsyncIterable<LocalEventLog>) {
      // A Wait state runs as a local task (see scaledTiming): its events say Wait, as the definition does.
      if (raw.state && timing.waits.has(raw.state.name)) raw.state.type = 'Wait';
      events.push(raw);
      if (raw.type === 'StateEntered') transitions += 1;
      const event = fromLocalEvent(raw);
      if (event) options.onEvent?.(event, raw);
    }
  })();

  const result: RunResult = {
    status: 'SUCCEEDED',
    executionArn,
    events,
    stateTransitions: 0,
    invocations,
    startTime: startTime.toISOString(),
  };
  let failure: unknown;
  try {
    result.output = (await execution.result) as unknown as WorkflowOutput;
  } catch (error) {
    if (error instanceof ExecutionAbortedError) result.status = 'ABORTED';
    else {
      result.status = 'FAILED';
      failure = error;
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    waits.abort();
  }
  // The ExecutionFailed event may still be on its way when the result rejects: read the whole log first.
  await drain.catch(() => undefined);
  if (result.status === 'FAILED') {
    // ExecutionError wraps the error that ended the execution (a Fail state's Error and Cause) as its cause.
    const inner = (failure as { cause?: { name?: string; message?: string } } | undefined)?.cause;
    const failed = [...events].reverse().find((x) => x.type === 'ExecutionFailed');
    result.error = failed?.Error ?? inner?.name ?? (failure as Error | undefined)?.name ?? 'States.Failed';
    result.cause =
      typeof failed?.Cause === 'string'
        ? failed.Cause
        : (inner?.message ?? (failure as Error | undefined)?.message ?? '');
  }
  result.stateTransitions = transitions;

  {
    // An abort does not stop a running task. Let it finish first, so that the cleanup sees what it created (on
    // AWS the status-change event usually arrives after a short task ends; a long one may race the cleanup).
    await Promise.allSettled([...inFlight]);
    // The deployed stack's EventBridge rule invokes Abort Cleanup when an execution ends: a full sweep after
    // ABORTED, TIMED_OUT and FAILED, the execution's staged files after SUCCEEDED.
    const cleanup = options.handlers?.('AbortCleanup') ?? (await loadHandler('AbortCleanup'));
    const handler = (event: unknown) =>
      withTaskCredentials(options.credentials?.get('AbortCleanup'), () => cleanup(event));
    invocations.AbortCleanup = (invocations.AbortCleanup ?? 0) + 1;
    result.abortCleanup = await handler({
      version: '0',
      id: createHash('sha256').update(executionArn).digest('hex').slice(0, 32),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: stack.account,
      time: new Date().toISOString(),
      region: stack.region,
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn: stack.stateMachineArn,
        name: options.executionName,
        status: result.status,
        startDate: startTime.getTime(),
        stopDate: Date.now(),
        input: JSON.stringify(options.input),
      },
    });
  }
  return result;
}

/** A payload value the copy of the definition puts where a Task's Parameters read `$$.State.<field>`. */
const STATE_CONTEXT_MARK = 'local:$$.State';
const STATE_CONTEXT_PATH = /^\$\$\.State\.(RetryCount|EnteredTime|Name)$/;

/**
 * Replaces, in the Parameters of each Task state of `definition` (a copy: changed in place), every
 * `"<key>.$": "$$.State.RetryCount|EnteredTime|Name"` by `"<key>": { "local:$$.State": "<field>" }`, which
 * {@link fillStateContext} resolves when the task runs. aws-local-stepfunctions 3 has no `$$.State` in its
 * context object (the path would fail), and it could not know the retry count anyway.
 * @returns the names of the states changed
 */
export function markStateContext(definition: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  const mark = (value: unknown, name: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => mark(v, name));
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const field = typeof v === 'string' && key.endsWith('.$') ? STATE_CONTEXT_PATH.exec(v)?.[1] : undefined;
      if (field !== undefined) {
        out[key.slice(0, -2)] = { [STATE_CONTEXT_MARK]: field };
        names.add(name);
      } else out[key] = mark(v, name);
    }
    return out;
  };
  walkStates(definition, (name, state) => {
    if (state.Type === 'Task' && state.Parameters !== undefined)
      state.Parameters = mark(state.Parameters, name);
  });
  return names;
}

/**
 * The retry count and entry time of the state entry a Task call belongs to. aws-local-stepfunctions runs a retry
 * with the very input object of the entry (a new entry gets a new object): the payload's `$` reference (`build`,
 * the state's input) identifies the entry, and each call after the first is a retry.
 */
function stateContextOf(
  entries: WeakMap<object, { retries: number; enteredTime: string }>,
  payload: unknown,
): { retries: number; enteredTime: string } {
  const record = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const key = [record.build, record.Payload && (record.Payload as Record<string, unknown>).build].find(
    (v): v is object => typeof v === 'object' && v !== null,
  );
  if (key === undefined) return { retries: 0, enteredTime: new Date().toISOString() };
  const previous = entries.get(key);
  const current =
    previous === undefined
      ? { retries: 0, enteredTime: new Date().toISOString() }
      : { retries: previous.retries + 1, enteredTime: previous.enteredTime };
  entries.set(key, current);
  return current;
}

/** `payload` with each mark of {@link markStateContext} replaced by its `$$.State` value. */
function fillStateContext(
  payload: unknown,
  name: string,
  context: { retries: number; enteredTime: string },
): unknown {
  if (Array.isArray(payload)) return payload.map((v) => fillStateContext(v, name, context));
  if (typeof payload !== 'object' || payload === null) return payload;
  const record = payload as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === STATE_CONTEXT_MARK) {
    const field = record[STATE_CONTEXT_MARK];
    return field === 'RetryCount' ? context.retries : field === 'EnteredTime' ? context.enteredTime : name;
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(record)) out[key] = fillStateContext(v, name, context);
  return out;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The value of a simple JSONPath (`$.a.b.c`) in `input`. */
function pathValue(path: string, input: unknown): unknown {
  if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(path))
    throw new Error(`unsupported path ${path} in a Wait state`);
  let value: unknown = input;
  for (const key of path.split('.').slice(1)) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/** A States.Runtime error, as Step Functions raises for a Wait path that is not a valid number of seconds. */
function runtimeError(message: string): Error {
  const error = new Error(message);
  error.name = 'States.Runtime';
  return error;
}

/**
 * The definition's time, scaled: a copy of the definition whose Retry intervals (and MaxDelaySeconds) are
 * multiplied by `scale`, and, per Wait state, the scaled duration for its input. aws-local-stepfunctions
 * overrides a Wait state only with one fixed time, so in the copy each Wait state is a Task state (same name,
 * same Next, a local handler that sleeps the scaled time and passes its input on); its events are reported as the
 * Wait state's.
 */
export function scaledTiming(
  definition: Record<string, unknown>,
  scale: number,
  minWaitMs: number = MIN_SCALED_WAIT_MS,
): { definition: Record<string, unknown>; waits: Map<string, (input: unknown) => number> } {
  if (!(scale > 0)) throw new Error(`the time scale must be a positive number, not ${scale}`);
  const waits = new Map<string, (input: unknown) => number>();
  const scaled = (ms: number) => Math.max(minWaitMs, ms * scale);
  const copy = JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;
  walkStates(copy, (name, state) => {
    for (const retrier of (state.Retry ?? []) as Record<string, unknown>[]) {
      const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1;
      retrier.IntervalSeconds = scaled(interval * 1000) / 1000;
      if (typeof retrier.MaxDelaySeconds === 'number') {
        retrier.MaxDelaySeconds = scaled(retrier.MaxDelaySeconds * 1000) / 1000;
      }
    }
    if (state.Type !== 'Wait') return;
    if (state.InputPath !== undefined)
      throw new Error(`Wait state "${name}" has an InputPath: not supported`);
    const wait = { ...state };
    const seconds = (input: unknown): number => {
      if (typeof wait.Seconds === 'number') return wait.Seconds;
      if (typeof wait.SecondsPath === 'string') {
        const value = pathValue(wait.SecondsPath, input);
        if (!Number.isInteger(value) || (value as number) < 0) {
          throw runtimeError(
            `Path expression '${wait.SecondsPath}' evaluated to ${JSON.stringify(value)}, but expected an integer >= 0`,
          );
        }
        return value as number;
      }
      const timestamp =
        typeof wait.Timestamp === 'string' ? wait.Timestamp : pathValue(String(wait.TimestampPath), input);
      const at = Date.parse(String(timestamp));
      if (Number.isNaN(at))
        throw runtimeError(`Wait state "${name}": ${JSON.stringify(timestamp)} is not a timestamp`);
      return Math.max(0, at - Date.now()) / 1000;
    };
    waits.set(name, (input) => scaled(seconds(input) * 1000));
    const { Next, End, OutputPath, Comment } = state;
    for (const key of Object.keys(state)) delete state[key];
    Object.assign(state, {
      Type: 'Task',
      Resource: `arn:aws:states:::local:wait`,
      TimeoutSeconds: WAIT_TASK_TIMEOUT_SECONDS,
      ...(Comment === undefined ? {} : { Comment }),
      ...(OutputPath === undefined ? {} : { OutputPath }),
      ...(Next === undefined ? {} : { Next }),
      ...(End === undefined ? {} : { End }),
    });
  });
  return { definition: copy, waits };
}
