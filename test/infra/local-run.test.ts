/**
 * Runs the synthesized definition offline (aws-local-stepfunctions) with small in-test task doubles, to prove the
 * wiring: payloads, result paths, the poll loops, the Maps and the Parallel, the failure path and the final
 * Choice. The tasks themselves are tested in test/lambdas.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { markStateContext } from '../../cli/local/runner.js';
import { StateNames } from '../../infra/state-names.js';
import { type AslMachine, allStates, synth } from './synth.js';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22+).
const promiseStatics = Promise as unknown as { withResolvers?: unknown };
promiseStatics.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const S = StateNames;
let definition: AslMachine;
let waitStates: string[];
let taskStates: string[];

beforeAll(() => {
  definition = synth().definition;
  const states = allStates(definition);
  waitStates = states.filter((s) => s.state.Type === 'Wait').map((s) => s.name);
  taskStates = states.filter((s) => s.state.Type === 'Task').map((s) => s.name);
});

type Json = Record<string, unknown>;
interface TaskEvent {
  build: Json & {
    config: Json & { name: string; amiRegions: string[] };
    poll: Record<string, { attempt: number }>;
    image?: { region: string; imageId: string };
    copies?: { region: string; imageId: string }[];
    error?: { Error: string; Cause: string };
    cleanupError?: { Error: string };
    cleanup?: Json;
    instance?: Json;
  };
  args: Json;
  check?: { retryCount: number; enteredTime: string };
}
type Handler = (event: TaskEvent) => unknown;

class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function buildConfig(name: string, extra: Json = {}): Json {
  return {
    name,
    region: 'us-east-1',
    amiRegions: ['eu-west-1', 'ap-south-1'],
    forceDeregister: false,
    onError: 'cleanup',
    provisioners: [
      { type: 'shell', index: 0, pauseBeforeSeconds: 0 },
      { type: 'file', index: 1, pauseBeforeSeconds: 3 },
    ],
    ...extra,
  };
}

const done = (key: string, build: TaskEvent['build'], extra: Json = {}) => ({
  done: true,
  attempt: (build.poll[key]?.attempt ?? 0) + 1,
  waitSeconds: 1,
  ...extra,
});

/** Task doubles that behave like the real tasks' happy path, by state name. */
function happyTasks(): Record<string, Handler> {
  const check = (key: string) => (e: TaskEvent) => done(key, e.build);
  const command = (e: TaskEvent) => ({
    commandId: `cmd-${String(e.args.kind)}-${String(e.args.provisionerIndex ?? '')}`,
    kind: e.args.kind,
    attempt: 1,
    stagedPrefix: 'staging/x/',
    ...(e.args.provisionerIndex === undefined ? {} : { provisionerIndex: e.args.provisionerIndex }),
  });
  const cleanup = (e: TaskEvent) => ({
    terminatedInstances: e.args.reason === undefined ? [] : ['i-1'],
    deletedSecurityGroups: [],
    deletedStagedObjects: 0,
    deregisteredImages: [],
    kept: [],
  });
  const report = (e: TaskEvent) => ({
    name: e.build.config.name,
    status: e.args.status,
    artifacts: Object.fromEntries(
      [e.build.image, ...(e.build.copies ?? [])]
        .filter((i) => i !== undefined)
        .map((i) => [i.region, i.imageId]),
    ),
    error: e.build.error === undefined ? undefined : { Error: e.build.error.Error, Cause: 'cause' },
    cleanupError: e.build.cleanupError?.Error,
    cleanup: e.build.cleanup,
  });
  return {
    [S.Prevalidate]: () => ({ imageId: 'ami-source' }),
    [S.EnsureBundleBucket]: () => ({ name: 'ami-builder-bundles', region: 'us-east-1' }),
    [S.CreateSecurityGroup]: () => ({ securityGroupIds: ['sg-1'], temporarySecurityGroupId: 'sg-1' }),
    [S.CreateInstanceRole]: () => ({ instanceProfileName: 'build-first-1', temporary: true }),
    [S.LaunchInstance]: () => ({ instanceId: 'i-1' }),
    // Not running at the first check: the state's Retry checks once more.
    [S.CheckInstanceRunning]: (e) => {
      if (e.check?.retryCount === 0) throw new NamedError('PollPendingError', 'Instance i-1 is pending');
      return done('instanceRunning', e.build);
    },
    [S.CheckSsmAgent]: check('agent'),
    [S.SendProvisionerCommand]: command,
    [S.CheckProvisionerCommand]: check('command'),
    [S.UploadX509Certificate]: command,
    [S.CheckX509Upload]: check('command'),
    [S.BundleVolume]: command,
    [S.CheckBundleVolume]: check('command'),
    [S.UploadBundle]: command,
    [S.CheckUploadBundle]: check('command'),
    [S.ForceDeregister]: () => ({ deregistered: [] }),
    [S.RegisterAmi]: () => ({ region: 'us-east-1', imageId: 'ami-new' }),
    [S.CheckAmiAvailable]: check('image'),
    [S.FinishAmi]: (e) => ({ region: e.args.region, imageId: e.args.imageId }),
    [S.CopyAmi]: (e) => ({ region: e.args.region, imageId: `ami-copy-${String(e.args.region)}` }),
    [S.CheckAmiCopy]: check('copy'),
    [S.FinishAmiCopy]: (e) => ({ region: e.args.region, imageId: e.args.imageId }),
    [S.TerminateInstance]: cleanup,
    [S.CheckInstanceTerminated]: check('instanceTerminated'),
    [S.DeleteTemporaryResources]: cleanup,
    [S.FinishCleanup]: cleanup,
    [S.PublishAmiIds]: () => ({ published: [] }),
    [S.ReportBuild]: report,
    [S.SendErrorCleanupCommand]: command,
    [S.CheckErrorCleanupCommand]: check('command'),
    [S.CleanUpAfterFailure]: cleanup,
    [S.CheckInstanceTerminatedAfterFailure]: check('instanceTerminated'),
    [S.DeleteTemporaryResourcesAfterFailure]: cleanup,
    [S.FinishCleanupAfterFailure]: cleanup,
    [S.RollBackAmiIds]: cleanup,
    [S.ReportFailedBuild]: report,
  };
}

interface Run {
  output?: unknown;
  error?: { name: string; message: string };
  entered: string[];
  calls: { state: string; event: unknown }[];
}

async function run(
  builds: Json[],
  overrides: Record<string, Handler> = {},
  validate?: (event: { input: unknown }) => unknown,
): Promise<Run> {
  const tasks = { ...happyTasks(), ...overrides };
  const calls: Run['calls'] = [];
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const state of taskStates) {
    handlers[state] = async (raw: unknown) => {
      const input = withRetryCount(raw);
      calls.push({ state, event: input });
      if (state === S.ValidateTemplate) {
        const event = input as { input: unknown; execution: unknown };
        return (
          validate?.(event) ?? {
            builds,
            warnings: ['template warning'],
            skipped: [],
            execution: event.execution,
            parallelBuilds: 0,
          }
        );
      }
      if (state === S.SummarizeBuilds) {
        const event = input as { results: { status: string; error?: { Error: string } }[] };
        const failed = event.results.filter((r) => r.status === 'failed');
        return {
          builds: event.results,
          failed: failed.length,
          ...(failed.length === 0 ? {} : { error: failed[0]?.error?.Error, cause: 'what failed and why' }),
        };
      }
      if (state === S.NotifyBuildResult) {
        const event = input as { summary: { failed: number } };
        return { detailType: event.summary.failed === 0 ? 'AMI Build Succeeded' : 'AMI Build Failed' };
      }
      const handler = tasks[state];
      if (handler === undefined) throw new Error(`no task double for ${state}`);
      return handler(input as TaskEvent);
    };
  }
  // `$$.State` is not in aws-local-stepfunctions' context: the CLI's runner fills it per call (cli/local/runner.ts);
  // here each call of a state gets its retry count from the calls made with the same input object.
  const machine = new StateMachine(markedDefinition() as never);
  const entries = new WeakMap<object, number>();
  const withRetryCount = (input: unknown): unknown => {
    const event = input as { build?: object; check?: unknown };
    if (event.check === undefined || event.build === undefined) return input;
    const retryCount = entries.has(event.build) ? (entries.get(event.build) ?? 0) + 1 : 0;
    entries.set(event.build, retryCount);
    return { ...event, check: { retryCount, enteredTime: '2030-01-01T00:00:00.000Z' } };
  };
  const execution = machine.run(
    { builders: [] },
    {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        waitTimeOverrides: Object.fromEntries(waitStates.map((w) => [w, 0])),
        retryIntervalOverrides: Object.fromEntries(taskStates.map((t) => [t, 0])),
      },
      context: {
        Execution: {
          Id: 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilder-builds:run-1',
          Name: 'run-1',
          StartTime: '2030-01-01T00:00:00.000Z',
        },
      },
    },
  );
  const entered: string[] = [];
  const collect = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') entered.push(event.state.name);
    }
  })();
  const result: Run = { entered, calls };
  try {
    result.output = await execution.result;
  } catch (error) {
    const e = error as Error & { cause?: unknown };
    result.error = { name: e.name, message: e.message };
  }
  await collect;
  return result;
}

/** The definition with each `$$.State.*` payload path marked for {@link run} to fill (cli/local/runner.ts). */
function markedDefinition(): AslMachine {
  const copy = JSON.parse(JSON.stringify(definition)) as AslMachine;
  markStateContext(copy as unknown as Record<string, unknown>);
  return copy;
}

const callsTo = (r: Run, state: string) =>
  r.calls.filter((c) => c.state === state).map((c) => c.event as TaskEvent);

describe('the synthesized workflow, run offline', () => {
  it('builds every builder through provisioners, registration, copies and cleanup, and succeeds', async () => {
    // Act
    const result = await run([buildConfig('first'), buildConfig('second', { amiRegions: [] })]);

    // Assess
    expect(result.error).toBeUndefined();
    expect(result.output).toEqual({
      builds: [
        {
          name: 'first',
          status: 'succeeded',
          artifacts: {
            'us-east-1': 'ami-new',
            'eu-west-1': 'ami-copy-eu-west-1',
            'ap-south-1': 'ami-copy-ap-south-1',
          },
          cleanup: expect.objectContaining({ terminatedInstances: ['i-1'] }),
        },
        {
          name: 'second',
          status: 'succeeded',
          artifacts: { 'us-east-1': 'ami-new' },
          cleanup: expect.objectContaining({ terminatedInstances: ['i-1'] }),
        },
      ],
      failed: 0,
      notification: { detailType: 'AMI Build Succeeded' },
    });
    // Checked twice (a retry on PollPendingError), entered once per build.
    expect(callsTo(result, S.CheckInstanceRunning)).toHaveLength(4);
    expect(result.entered.filter((s) => s === S.CheckInstanceRunning)).toHaveLength(2);
    expect(result.entered.filter((s) => s === S.SendProvisionerCommand)).toHaveLength(4);
    expect(result.entered).not.toContain(S.ForceDeregister);
    expect(result.entered).not.toContain(S.RunErrorCleanupProvisionerChoice);
    expect(result.entered).toContain(S.BuildSucceeded);
    expect(result.entered).not.toContain(S.BuildFailed);
  });

  it('hands each task the build state its contract names', async () => {
    // Act
    const result = await run([buildConfig('first')]);

    // Assess
    const validate = callsTo(result, S.ValidateTemplate)[0] as unknown as Json;
    expect(validate).toEqual({
      input: { builders: [] },
      execution: {
        id: 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilder-builds:run-1',
        name: 'run-1',
        startTime: expect.any(String),
      },
      state: S.ValidateTemplate,
    });
    const [launch] = callsTo(result, S.LaunchInstance);
    // Every payload names its state, for the task's logs.
    expect((launch as unknown as Json).state).toBe(S.LaunchInstance);
    expect(launch?.build).toMatchObject({
      config: { name: 'first' },
      execution: { name: 'run-1' },
      poll: {},
      source: { imageId: 'ami-source' },
      bucket: { name: 'ami-builder-bundles' },
      network: { securityGroupIds: ['sg-1'] },
    });
    const sends = callsTo(result, S.SendProvisionerCommand);
    expect(sends.map((e) => e.args)).toEqual([
      { kind: 'provision', provisionerIndex: 0 },
      { kind: 'provision', provisionerIndex: 1 },
    ]);
    expect(sends[1]?.build).toMatchObject({ provisioner: { index: 1 }, instance: { instanceId: 'i-1' } });
    const [x509] = callsTo(result, S.UploadX509Certificate);
    expect(x509?.build.command).toBeUndefined();
    expect(callsTo(result, S.CheckAmiAvailable)[0]?.args).toEqual({
      key: 'image',
      region: 'us-east-1',
      imageId: 'ami-new',
    });
    expect(callsTo(result, S.CheckAmiCopy).map((e) => e.args)).toEqual(
      expect.arrayContaining([{ key: 'copy', region: 'eu-west-1', imageId: 'ami-copy-eu-west-1' }]),
    );
    const [terminate] = callsTo(result, S.TerminateInstance);
    expect(terminate?.build.copies).toEqual([
      { region: 'eu-west-1', imageId: 'ami-copy-eu-west-1' },
      { region: 'ap-south-1', imageId: 'ami-copy-ap-south-1' },
    ]);
    expect(terminate?.build.image).toEqual({ region: 'us-east-1', imageId: 'ami-new' });
    expect(terminate?.build).not.toHaveProperty('region');
    expect(callsTo(result, S.SummarizeBuilds)[0]).toMatchObject({
      warnings: ['template warning'],
      skipped: [],
      execution: { name: 'run-1' },
    });
  });

  it('sends a command again when its check asks for a retry', async () => {
    // Prepare: the first provisioner's first attempt fails with retries left
    let checks = 0;
    const overrides: Record<string, Handler> = {
      [S.CheckProvisionerCommand]: (e) => {
        checks += 1;
        return checks === 1
          ? { done: false, retry: true, attempt: 1, waitSeconds: 1 }
          : done('command', e.build);
      },
    };

    // Act
    const result = await run([buildConfig('first', { amiRegions: [] })], overrides);

    // Assess
    expect(result.error).toBeUndefined();
    expect(callsTo(result, S.SendProvisionerCommand).map((e) => e.args.provisionerIndex)).toEqual([0, 0, 1]);
  });

  it('forces deregistration only when the build asks for it', async () => {
    // Act
    const result = await run([buildConfig('first', { forceDeregister: true, amiRegions: [] })]);

    // Assess
    const i = result.entered.indexOf(S.ForceDeregister);
    expect(i).toBeGreaterThan(0);
    expect(result.entered[i + 1]).toBe(S.RegisterAmi);
  });

  it('cleans up a failed build after launch, reports it, lets the other build finish, and fails', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.BundleVolume]: (e) => {
        if (e.build.config.name === 'broken')
          throw new NamedError('VolumeBundleError', 'ec2-bundle-vol exited 1');
        return { commandId: 'c', kind: 'bundle', attempt: 1, stagedPrefix: 'p' };
      },
    };

    // Act
    const result = await run(
      [buildConfig('broken', { errorCleanupProvisioner: { type: 'shell', index: 0 } }), buildConfig('fine')],
      overrides,
    );

    // Assess
    expect(result.error?.message ?? result.error?.name).toMatch(/VolumeBundleError|what failed/);
    const failure: string[] = [
      S.RunErrorCleanupProvisionerChoice,
      S.SendErrorCleanupCommand,
      S.CheckErrorCleanupCommand,
      S.ErrorCleanupCommandDone,
      S.InstanceLaunched,
      S.CleanUpAfterFailure,
      S.InstanceTerminating,
      S.CheckInstanceTerminatedAfterFailure,
      S.DeleteTemporaryResourcesAfterFailure,
      S.ReportFailedBuild,
    ];
    const start = result.entered.indexOf(S.RunErrorCleanupProvisionerChoice);
    expect(result.entered.filter((s, i) => i >= start && failure.includes(s))).toEqual(failure);
    const [report] = callsTo(result, S.ReportFailedBuild);
    expect(report?.build.error?.Error).toBe('VolumeBundleError');
    expect(report?.build.instance).toEqual({ instanceId: 'i-1' });
    expect(callsTo(result, S.ReportBuild).map((e) => e.build.config.name)).toEqual(['fine']);
    expect(result.entered).toContain(S.BuildFailed);
  });

  it('reports a failure before launch without terminating anything', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.Prevalidate]: () => {
        throw new NamedError('AmiNameInUseError', 'AMI name is already in use');
      },
    };

    // Act
    const result = await run(
      [buildConfig('first', { errorCleanupProvisioner: { type: 'shell' } })],
      overrides,
    );

    // Assess
    expect(result.entered.slice(result.entered.indexOf(S.Prevalidate))).toEqual([
      S.Prevalidate,
      S.RunErrorCleanupProvisionerChoice,
      S.InstanceLaunched,
      S.DeleteTemporaryResourcesAfterFailure,
      S.RollBackAmiIdsChoice,
      S.ReportFailedBuild,
      S.SummarizeBuilds,
      S.NotifyBuildResult,
      S.AllBuildsSucceeded,
      S.BuildFailed,
    ]);
    expect(result.error).toBeDefined();
  });

  it('does not wait for a termination that did not happen (on_error: abort keeps the instance)', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.UploadBundle]: () => {
        throw new NamedError('BundleUploadError', 'exit 3');
      },
      [S.CleanUpAfterFailure]: () => ({
        terminatedInstances: [],
        deletedSecurityGroups: [],
        deletedStagedObjects: 0,
        deregisteredImages: [],
        kept: [{ resource: 'i-1', reason: 'on_error: abort' }],
      }),
    };

    // Act
    const result = await run(
      [buildConfig('first', { onError: 'abort', errorCleanupProvisioner: {} })],
      overrides,
    );

    // Assess
    expect(result.entered).not.toContain(S.SendErrorCleanupCommand);
    expect(result.entered).toContain(S.CleanUpAfterFailure);
    expect(result.entered).not.toContain(S.CheckInstanceTerminatedAfterFailure);
    expect(callsTo(result, S.DeleteTemporaryResourcesAfterFailure)[0]?.build.cleanup).toMatchObject({
      kept: [{ resource: 'i-1' }],
    });
  });

  it('deletes the other resources without waiting when the termination was refused, and the build succeeds', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.TerminateInstance]: () => ({
        terminatedInstances: [],
        deletedSecurityGroups: [],
        deletedStagedObjects: 0,
        deregisteredImages: [],
        kept: [],
        leaked: [{ type: 'instance', id: 'i-1', region: 'us-east-1', reason: 'denied', hint: 'terminate' }],
      }),
    };

    // Act
    const result = await run([buildConfig('first')], overrides);

    // Assess
    expect(result.entered).toContain(S.InstanceTerminationRequested);
    expect(result.entered).not.toContain(S.CheckInstanceTerminated);
    expect(result.entered).toContain(S.DeleteTemporaryResources);
    expect(callsTo(result, S.ReportBuild)).toHaveLength(1);
    expect(result.entered).toContain(S.BuildSucceeded);
  });

  it('goes on to the next cleanup step when one fails, and rolls back the published AMI ids', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.CheckInstanceTerminated]: () => {
        throw new NamedError('InstanceNotTerminatedError', 'still shutting down');
      },
      [S.CleanUpAfterFailure]: () => {
        throw new NamedError('ResourceNotOwnedError', 'not ours');
      },
      [S.DeleteTemporaryResourcesAfterFailure]: () => {
        throw new NamedError('SecurityGroupInUseError', 'in use');
      },
    };

    // Act
    const result = await run(
      [buildConfig('first', { amiIdParameter: '/ami-builder/ami-ids/web' })],
      overrides,
    );

    // Assess
    const failure: string[] = [
      S.CleanUpAfterFailure,
      S.DeleteTemporaryResourcesAfterFailure,
      S.FinishCleanupAfterFailure,
      S.RollBackAmiIdsChoice,
      S.RollBackAmiIds,
      S.ReportFailedBuild,
    ];
    const start = result.entered.indexOf(S.CleanUpAfterFailure);
    expect(result.entered.filter((s, i) => i >= start && failure.includes(s))).toEqual(failure);
    const [report] = callsTo(result, S.ReportFailedBuild);
    expect(report?.build.error?.Error).toBe('InstanceNotTerminatedError');
  });

  it('still terminates the instance when the error-cleanup provisioner fails, and keeps the first error', async () => {
    // Prepare
    const overrides: Record<string, Handler> = {
      [S.UploadX509Certificate]: () => {
        throw new NamedError('X509UploadError', 'no such key');
      },
      [S.CheckErrorCleanupCommand]: () => {
        throw new NamedError('ProvisionerFailedError', 'cleanup script exited 2');
      },
    };

    // Act
    const result = await run([buildConfig('first', { errorCleanupProvisioner: {} })], overrides);

    // Assess
    expect(result.entered).toContain(S.CleanUpAfterFailure);
    const [report] = callsTo(result, S.ReportFailedBuild);
    expect(report?.build.error?.Error).toBe('X509UploadError');
    expect(report?.build.cleanupError?.Error).toBe('ProvisionerFailedError');
  });

  it('retries AwsTransientError and then goes on', async () => {
    // Prepare
    let launches = 0;
    const overrides: Record<string, Handler> = {
      [S.LaunchInstance]: () => {
        launches += 1;
        if (launches < 3) throw new NamedError('AwsTransientError', 'RequestLimitExceeded');
        return { instanceId: 'i-1' };
      },
    };

    // Act
    const result = await run([buildConfig('first', { amiRegions: [] })], overrides);

    // Assess
    expect(launches).toBe(3);
    expect(result.error).toBeUndefined();
  });

  it('fails at once with TemplateValidationError when the template is invalid', async () => {
    // Act
    const result = await run([], {}, () => {
      throw new NamedError('TemplateValidationError', '1 error(s) occurred:\n\n* ami_name must be specified');
    });

    // Assess
    expect(result.entered).toEqual([S.ValidateTemplate, S.TemplateInvalid]);
    expect(result.error?.name).toMatch(/TemplateValidationError|ExecutionError|FailState/);
  });
});
