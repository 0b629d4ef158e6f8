/**
 * Driver for the local AWS emulator (moto 5.2.1 patched by `emulator/launcher.py`): starts it on a loopback
 * port, talks to its control API under `/_ami-builder/`, and stops it. Used by the emulator and workflow tests
 * and by the CLI's `local` command. See `emulator/README.md` for what is emulated.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// From dist/emulator/ too (the compiled CLI): the launcher stays next to the source.
const LAUNCHER = fileURLToPath(
  new URL('./launcher.py', import.meta.url.replace(/\/dist\/(?=(cli|lambdas|infra|emulator)\/)/, '/')),
);
const CONTROL_PREFIX = '/_ami-builder';
/** Lines of stderr kept for the error message when the emulator does not start. */
const STDERR_TAIL_LINES = 40;

export interface EmulatorOptions {
  /** Port to listen on; 0 picks a free port. @default 0 */
  port?: number;
  /** Time from RunInstances until the instance's SSM agent is listed Online. @default 300 */
  agentOnlineDelayMs?: number;
  /**
   * Receives each line the emulator writes on stderr (its request log and any traceback). Without it the
   * request log is switched off and stderr is only kept for startup error messages.
   * @default no logging
   */
  log?: (line: string) => void;
  /** Python interpreter that runs the launcher. @default `AMI_BUILDER_PYTHON`, else `python3` */
  python?: string;
  /**
   * Leave the emulator running after this process exits (the CLI's `--keep-emulator`). Its stderr then goes to
   * {@link Emulator.logFile} instead of `log`.
   * @default false: the emulator exits with this process
   */
  detached?: boolean;
  /**
   * Load moto's ~1200 built-in AMIs in every region. They slow every reset by about 1.5 s per region and can
   * win a `source_ami_filter` over the seeded image.
   * @default false: only seeded and registered images exist
   */
  defaultAmis?: boolean;
  /** How long to wait for the emulator to accept requests. @default 30000 */
  startTimeoutMs?: number;
  /**
   * Run each instance in a sandbox where its commands really run (see `emulator/README.md`). `false` simulates
   * commands, as the emulator also does where no sandbox can be made.
   * @default true (`AMI_BUILDER_SANDBOX=0` makes it false)
   */
  sandbox?: boolean;
  /** Time an instance stays `pending` after RunInstances. @default 200 */
  instanceStartMs?: number;
  /** Time a terminated instance stays `shutting-down`. @default 200 */
  instanceStopMs?: number;
  /** Time a registered image or copy stays `pending` at least. @default 200 */
  imagePendingMs?: number;
}

/**
 * How the emulator runs commands: `sandbox`, for real in a sandbox per instance (Linux namespaces over a
 * copy-on-write view of the host's root), or `simulated` (nothing runs; statuses advance per observation).
 */
export type EmulatorMode = 'sandbox' | 'simulated';

/** A command on the emulated instance fails: the first command whose working directory, S3 folder URL or
 * `run.sh` text matches `match` ends `Failed` with `exitCode` (0 ends `Success`, with the given output). */
export interface CommandFault {
  type: 'command';
  /** Regular expression (Python syntax), searched in the working directory, the folder URL and `run.sh`. */
  match: string;
  /** @default 1 */
  exitCode?: number;
  /** @default '' */
  stdout?: string;
  /** @default '' */
  stderr?: string;
  /** How many matching commands fail. @default every matching command */
  times?: number;
}

/** The next `count` matching AWS calls fail with an AWS-shaped error. */
export interface ApiFault {
  type: 'api';
  /** Signing name of the service: `ec2`, `ssm`, `s3`, `sts`, `iam`, `events`, `states` (alias `sfn`), `logs`, `sns`, `cloudformation`. */
  service: string;
  /** Operation name as in the API (`RunInstances`, `SendCommand`, `PutObject`), or `*` for any. */
  operation: string;
  /** Only calls signed for this region. @default any region */
  region?: string;
  /**
   * `throttle`: EC2 `RequestLimitExceeded`/503, S3 `SlowDown`/503, query services `Throttling`/400, JSON services
   * `ThrottlingException`/400. `5xx`: `InternalError`/`InternalFailure` with 500. `permanent`: `code` with 400.
   * The SDK retries the first two.
   */
  error: 'throttle' | '5xx' | 'permanent';
  /** Error code; required for `permanent`. @default the code for the error kind and protocol above */
  code?: string;
  /** @default a message naming the injected fault */
  message?: string;
  /** How many matching calls fail. @default 1 */
  count?: number;
}

/** SSM agents never register: instances stay off DescribeInstanceInformation and SendCommand refuses them. */
export interface AgentOfflineFault {
  type: 'agent-offline';
  /** @default every instance */
  instanceId?: string;
}

/** Every CopyImage into `region` ends in state `failed` with a StateReason. */
export interface CopyFailFault {
  type: 'copy-fail';
  region: string;
  /** StateReason message. @default 'Copying the image to <region> failed (injected fault).' */
  message?: string;
}

export type Fault = CommandFault | ApiFault | AgentOfflineFault | CopyFailFault;

/** An image to create as if it already existed (the template's source AMI). */
export interface SeedImage {
  region: string;
  /** A specific id such as `ami-d9d6a6b0`. @default a random id */
  imageId?: string;
  name: string;
  /** @default 123456789012 (the emulated account) */
  ownerId?: string;
  ownerAlias?: string;
  /** @default 'instance-store' */
  rootDeviceType?: 'instance-store' | 'ebs';
  /** @default 'x86_64' */
  architecture?: string;
  /** @default 'hvm' */
  virtualizationType?: 'hvm' | 'paravirtual';
  /** ISO 8601. @default now */
  creationDate?: string;
  tags?: Record<string, string>;
  /** @default 'available' ('pending' turns available after being described) */
  state?: 'available' | 'pending' | 'failed' | 'deregistered' | 'invalid' | 'error' | 'transient';
  description?: string;
  /** @default `<ownerAlias or ownerId>/<name>.manifest.xml` for instance-store images */
  imageLocation?: string;
  /** Launchable by everyone (`Public: true`). @default false */
  public?: boolean;
  enaSupport?: boolean;
  /** @default `/dev/xvda` for hvm, `/dev/sda1` for paravirtual */
  rootDeviceName?: string;
  bootMode?: string;
  /** As in RegisterImage, e.g. `[{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }]`. @default [] */
  blockDeviceMappings?: Record<string, unknown>[];
}

/** The S3 folder a command's `sourceInfo` named, as it was when the command was sent. */
export interface StagedFolder {
  url: string;
  bucket: string;
  prefix: string;
  /** Full keys of every object under the prefix. */
  keys: string[];
  /** Text of `<prefix>run.sh`, or null when there is none. Other staged files are not recorded. */
  runScript: string | null;
  /** Why the download step would fail (missing bucket, nothing staged). */
  error?: string;
}

/** One SendCommand call, as the emulator recorded it. */
export interface RecordedCommand {
  commandId: string;
  region: string;
  documentName: string;
  documentVersion: string;
  instanceIds: string[];
  parameters: Record<string, string[]>;
  comment: string;
  timeoutSeconds: number;
  cloudWatchOutputConfig: { CloudWatchLogGroupName?: string; CloudWatchOutputEnabled?: boolean } | null;
  outputS3BucketName: string | null;
  outputS3KeyPrefix: string | null;
  /** ISO 8601 */
  requestedAt: string;
  /** Plugin (step) names of the document, e.g. `['downloadFiles', 'runScript']`. */
  plugins: string[];
  staged: StagedFolder | null;
  /** Status of the command now (Pending, InProgress, Success, Failed, Cancelled). */
  status: string;
  /** The command fault that decided the outcome, if any. */
  fault: { match: string; exitCode: number } | null;
}

/** One EventBridge PutEvents entry. */
export interface RecordedEvent {
  eventId: string | null;
  errorCode: string | null;
  region: string;
  eventBusName: string;
  source: string;
  detailType: string;
  /** `Detail` parsed as JSON (the raw string when it is not JSON). */
  detail: unknown;
  resources: string[];
  time: string;
}

/** One instance launched by RunInstances, with the request's launch parameters. */
export interface RecordedLaunch {
  instanceId: string;
  reservationId: string;
  region: string;
  imageId: string;
  instanceType: string;
  clientToken: string | null;
  iamInstanceProfile: { Name?: string; Arn?: string } | null;
  metadataOptions: Record<string, unknown> | null;
  /** Decoded user data. */
  userData: string | null;
  /** The mappings as requested, ephemeral ones included. */
  blockDeviceMappings: Record<string, unknown>[];
  securityGroupIds: string[];
  subnetId: string | null;
  keyName: string | null;
  tags: Record<string, string>;
  launchedAt: string;
}

/** AWS calls served since the last reset, by operation. */
export interface ApiCallCount {
  service: string;
  operation: string;
  region: string;
  count: number;
}

export interface EmulatorTimings {
  /** Time from RunInstances until the agent is Online. */
  agentOnlineDelayMs: number;
  /** DescribeImages calls that still show a new image or copy `pending`. */
  imageDescribesUntilAvailable: number;
  /** GetCommandInvocation / ListCommandInvocations observations that report `InProgress` (simulated commands). */
  commandSteps: number;
  /** Time an instance stays `pending` after RunInstances (in sandbox mode, at least until its sandbox booted). */
  instanceStartMs: number;
  /** Time a terminated instance stays `shutting-down`. */
  instanceStopMs: number;
  /** Time a registered image or copy stays `pending` at least. */
  imagePendingMs: number;
}

export interface Emulator {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Process id of the emulator. */
  readonly pid: number;
  /** Whether commands really run (`sandbox`) or are simulated; the launcher decides at start. */
  readonly mode: EmulatorMode;
  /** Where stderr goes when started `detached`. */
  readonly logFile?: string;
  /** Stops the emulator and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Clears every resource, fault, recording and option change (moto's reset plus the emulator's own state). */
  reset(): Promise<void>;
  addFault(fault: Fault): Promise<void>;
  clearFaults(): Promise<void>;
  /** The faults still armed (counts decrease as they fire). */
  faults(): Promise<Fault[]>;
  /**
   * Creates an IAM role EC2 may assume and an instance profile holding it (idempotent), so RunInstances can
   * name the profile. The role name defaults to the profile name.
   */
  createInstanceProfile(
    name: string,
    roleName?: string,
  ): Promise<{ name: string; arn: string; roleName: string }>;
  /** Creates an image with the given (or a random) id; returns the id. */
  seedImage(image: SeedImage): Promise<string>;
  commands(): Promise<RecordedCommand[]>;
  events(): Promise<RecordedEvent[]>;
  launches(): Promise<RecordedLaunch[]>;
  calls(): Promise<ApiCallCount[]>;
  resetCalls(): Promise<void>;
  /**
   * Records an execution that ran outside the emulator (the local runner): Step Functions' DescribeExecution
   * and GetExecutionHistory then answer for it, as for a deployed execution. Cleared by reset.
   */
  recordExecution(record: RecordedExecution): Promise<void>;
  /** Changes timings until the next reset; returns the timings now in force. */
  setOptions(options: Partial<EmulatorTimings>): Promise<EmulatorTimings>;
}

/** An execution as DescribeExecution and GetExecutionHistory report it (dates in epoch seconds). */
export interface RecordedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  startDate: number;
  stopDate: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  /** History events, oldest first, shaped as GetExecutionHistory returns them. */
  events: Record<string, unknown>[];
}

/** The emulator did not start (no python3, wrong moto, port taken, timeout); the message carries its stderr. */
export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError' as const;
}

/** A control API request was refused (malformed fault or image, unknown route). */
export class EmulatorControlError extends Error {
  override readonly name = 'EmulatorControlError' as const;
}

/** A `--fault` value is not a valid fault. */
export class InvalidFaultError extends Error {
  override readonly name = 'InvalidFaultError' as const;
}

const faultSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('command'),
    match: z.string().min(1),
    exitCode: z.number().int().optional(),
    stdout: z.string().optional(),
    stderr: z.string().optional(),
    times: z.number().int().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('api'),
    service: z.string().min(1),
    operation: z.string().min(1),
    region: z.string().min(1).optional(),
    error: z.enum(['throttle', '5xx', 'permanent']),
    code: z.string().min(1).optional(),
    message: z.string().optional(),
    count: z.number().int().min(1).optional(),
  }),
  z.strictObject({ type: z.literal('agent-offline'), instanceId: z.string().min(1).optional() }),
  z.strictObject({ type: z.literal('copy-fail'), region: z.string().min(1), message: z.string().optional() }),
]);

/**
 * Parses a fault given as JSON text (the CLI's `--fault`), e.g.
 * `{"type":"command","match":"ec2-bundle-vol","exitCode":127,"stderr":"command not found"}`.
 */
export function parseFault(text: string): Fault {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidFaultError(`A fault must be a JSON object; ${(error as Error).message}: ${text}`);
  }
  const parsed = faultSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(fault)'}: ${i.message}`);
    throw new InvalidFaultError(`Invalid fault ${text}: ${problems.join('; ')}`);
  }
  const fault = parsed.data;
  if (fault.type === 'api' && fault.error === 'permanent' && fault.code === undefined) {
    throw new InvalidFaultError(
      `Invalid fault ${text}: a permanent api fault needs a code, e.g. "UnauthorizedOperation"`,
    );
  }
  return fault;
}

/** Starts the emulator and resolves once it accepts requests. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const python = options.python ?? process.env.AMI_BUILDER_PYTHON ?? 'python3';
  const args = [LAUNCHER, '--port', String(options.port ?? 0)];
  if (options.agentOnlineDelayMs !== undefined) {
    args.push('--agent-online-delay-ms', String(options.agentOnlineDelayMs));
  }
  if (options.defaultAmis) args.push('--default-amis');
  const sandbox = options.sandbox ?? process.env.AMI_BUILDER_SANDBOX !== '0';
  if (!sandbox) args.push('--no-sandbox');
  for (const [flag, value] of [
    ['--instance-start-ms', options.instanceStartMs],
    ['--instance-stop-ms', options.instanceStopMs],
    ['--image-pending-ms', options.imagePendingMs],
  ] as const) {
    if (value !== undefined) args.push(flag, String(value));
  }
  if (options.log === undefined || options.detached) args.push('--quiet');

  let logFile: string | undefined;
  let child: ChildProcess;
  if (options.detached) {
    logFile = join(tmpdir(), `ami-builder-emulator-${process.pid}-${Date.now()}.log`);
    const fd = openSync(logFile, 'a');
    child = spawn(python, args, { stdio: ['ignore', 'pipe', fd], detached: true });
    closeSync(fd);
  } else {
    // The launcher exits when its stdin closes, so it dies with this process even on SIGKILL.
    args.push('--exit-on-stdin-eof');
    child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  const stderrTail: string[] = [];
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
      options.log?.(line);
    });
  }

  const { port, mode } = await waitForReady(child, options.startTimeoutMs ?? 30_000, () =>
    logFile ? `(see ${logFile})` : stderrTail.join('\n'),
  );

  const killOnExit = () => {
    child.kill('SIGKILL');
  };
  if (options.detached) {
    child.stdout?.destroy();
    child.unref();
  } else {
    process.once('exit', killOnExit);
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const control = controlClient(endpoint);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    mode,
    pid: child.pid ?? -1,
    logFile,
    stop() {
      stopping ??= stopProcess(child).finally(() => process.removeListener('exit', killOnExit));
      return stopping;
    },
    reset: async () => {
      await control('POST', 'reset');
    },
    addFault: async (fault) => {
      await control('POST', 'faults', fault);
    },
    clearFaults: async () => {
      await control('DELETE', 'faults');
    },
    faults: () => control('GET', 'faults') as Promise<Fault[]>,
    createInstanceProfile: (name, roleName) =>
      control('POST', 'instance-profiles', { name, ...(roleName ? { roleName } : {}) }) as Promise<{
        name: string;
        arn: string;
        roleName: string;
      }>,
    seedImage: async (image) => ((await control('POST', 'images', image)) as { imageId: string }).imageId,
    commands: () => control('GET', 'commands') as Promise<RecordedCommand[]>,
    events: () => control('GET', 'events') as Promise<RecordedEvent[]>,
    launches: () => control('GET', 'instances') as Promise<RecordedLaunch[]>,
    recordExecution: async (record) => {
      await control('POST', 'executions', record);
    },
    calls: () => control('GET', 'calls') as Promise<ApiCallCount[]>,
    resetCalls: async () => {
      await control('DELETE', 'calls');
    },
    setOptions: (o) => control('POST', 'options', o) as Promise<EmulatorTimings>,
  };
}

function waitForReady(
  child: ChildProcess,
  timeoutMs: number,
  stderr: () => string,
): Promise<{ port: number; mode: EmulatorMode }> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const settle = () => {
      clearTimeout(timer);
      lines.close();
      child.removeListener('error', onError);
      child.removeListener('exit', onExit);
    };
    const fail = (why: string) => {
      settle();
      child.kill('SIGKILL');
      // Let the last stderr lines arrive before quoting them.
      setTimeout(() => reject(new EmulatorStartError(`The emulator ${why}.\n${stderr()}`.trimEnd())), 50);
    };
    const onError = (error: Error) => fail(`could not be started (${error.message})`);
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited before it was ready (code ${code}, signal ${signal})`);
    const timer = setTimeout(() => fail(`did not print READY within ${timeoutMs} ms`), timeoutMs);
    lines.on('line', (line) => {
      const match = /^READY (\d+)(?: (sandbox|simulated))?$/.exec(line.trim());
      if (match) {
        settle();
        resolve({ port: Number(match[1]), mode: (match[2] as EmulatorMode | undefined) ?? 'simulated' });
      }
    });
    child.once('error', onError);
    child.once('exit', onExit);
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
  });
}

type Control = (method: 'GET' | 'POST' | 'DELETE', route: string, body?: unknown) => Promise<unknown>;

function controlClient(endpoint: string): Control {
  return async (method, route, body) => {
    const response = await fetch(`${endpoint}${CONTROL_PREFIX}/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload: unknown = await response.json();
    if (!response.ok) {
      const message = (payload as { error?: string }).error ?? JSON.stringify(payload);
      throw new EmulatorControlError(
        `${method} ${CONTROL_PREFIX}/${route} failed (${response.status}): ${message}`,
      );
    }
    return payload;
  };
}

/** Variables {@link useEmulatorEnvironment} sets (or removes, when undefined). */
const emulatorVariables = (endpoint: string): Record<string, string | undefined> => ({
  AWS_ENDPOINT_URL: endpoint,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  // Real credentials from the shell must not leak into requests to the emulator.
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION ?? process.env.AWS_REGION ?? 'us-east-1',
  // No instance metadata lookups for credentials or region.
  AWS_EC2_METADATA_DISABLED: 'true',
});

/**
 * Points every AWS SDK v3 client created afterwards at the emulator: sets `AWS_ENDPOINT_URL`, dummy credentials
 * (`testing`), and `AWS_REGION` / `AWS_DEFAULT_REGION` when unset (`us-east-1`). S3 clients still need
 * `forcePathStyle: true` (`lambdas/shared/runtime.ts` sets it when `AWS_ENDPOINT_URL` is set).
 * @returns a function that restores the previous environment exactly
 */
export function useEmulatorEnvironment(endpoint: string): () => void {
  const variables = emulatorVariables(endpoint);
  const previous = Object.fromEntries(Object.keys(variables).map((k) => [k, process.env[k]]));
  const assign = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  assign(variables);
  return () => assign(previous);
}
