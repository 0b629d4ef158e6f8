/**
 * `ami_test`: the new AMI is tested on an instance launched from it before it is copied, shared, published or
 * reported. The tasks run as their own synthesized roles (the emulator enforces each role's policies), and the
 * test instance really boots the bundle the build made: a provisioner's file is there for the test to read.
 * Every path ends with the test instance terminated: a passing test, a failing one, an agent that never comes
 * online, a timeout, a stopped execution, and a task that crashes in each state of the test.
 */
import { DescribeInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommandInvocationCommand, GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { RunOptions, RunResult } from '../../cli/local/runner.js';
import { StateNames } from '../../infra/state-names.js';
import type { TaskId } from '../../infra/tasks.js';
import { COMMAND_STEP_RUN } from '../../lambdas/shared/command-document.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';
import { TagKeys } from '../../lambdas/shared/tags.js';
import {
  BASIC_BUCKET,
  BUILD_REGION,
  basicExample,
  enteredStates,
  useWorkflowHarness,
  type WorkflowHarness,
} from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const S = StateNames;
const COPY_REGION = 'eu-west-1';
const PARAMETER = '/ami-builder/ami-ids/ami-test';
const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };
/** Written into the image by a provisioner; the test reads it on the instance launched from the AMI. */
const MARKER = '/etc/ami-builder-tested';

function template(
  h: WorkflowHarness,
  amiTest: Record<string, unknown>,
  builder: Record<string, unknown> = {},
) {
  return {
    builders: [
      {
        ...basicExample(h.x509),
        ami_name: 'ami-test {{timestamp}}',
        ami_regions: [COPY_REGION],
        ami_id_parameter: PARAMETER,
        ami_test: { instance_type: 'm3.medium', ...amiTest },
        ...builder,
      },
    ],
    provisioners: [{ type: 'shell', inline: [`echo built-by-provisioner | sudo -n tee ${MARKER}`] }],
  };
}

/** The instance launched from the new AMI (tagged `ami-builder:role=test`), as EC2 describes it now. */
async function testInstance(h: WorkflowHarness): Promise<Instance | undefined> {
  const launch = (await h.emulator.launches()).find((l) => l.tags[TagKeys.role] === 'test');
  if (launch === undefined) return undefined;
  const out = await h.ec2().send(new DescribeInstancesCommand({ InstanceIds: [launch.instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0];
}

/** The state of the test instance once its termination (started by the workflow or the abort) has finished. */
async function testInstanceState(h: WorkflowHarness): Promise<string | undefined> {
  for (let i = 0; i < 50; i += 1) {
    const state = (await testInstance(h))?.State?.Name;
    if (state !== 'shutting-down') return state;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return (await testInstance(h))?.State?.Name;
}

/** The output (stdout) of the ami_test command on the test instance. */
async function testOutput(h: WorkflowHarness): Promise<string> {
  const command = (await h.emulator.commands()).find((c) =>
    c.parameters.workingDirectory?.[0]?.endsWith('06-test'),
  );
  if (command === undefined) return '';
  const invocation = await h.ssm().send(
    new GetCommandInvocationCommand({
      CommandId: command.commandId,
      InstanceId: command.instanceIds[0],
      PluginName: COMMAND_STEP_RUN,
    }),
  );
  return invocation.StandardOutputContent ?? '';
}

/** Images this test's builds registered (or copied) in a region. */
async function builtImages(h: WorkflowHarness, region: string) {
  return (await h.images(region)).filter((i) => i.Name?.startsWith('ami-test '));
}

async function bundleKeys(h: WorkflowHarness): Promise<string[]> {
  const out = await h.s3.send(new ListObjectsV2Command({ Bucket: BASIC_BUCKET }));
  return (out.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
}

async function parameterExists(h: WorkflowHarness): Promise<boolean> {
  try {
    await h.ssm().send(new GetParameterCommand({ Name: PARAMETER }));
    return true;
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return false;
    throw error;
  }
}

interface Payload {
  build?: { testInstance?: { instanceId?: string } };
  args?: { kind?: string; instance?: string; failedTest?: string };
}

/** Crashes the first invocation of `task` whose payload matches, as Lambda reports a runtime that died. */
function crashAt(task: TaskId, when: (p: Payload) => boolean = () => true): RunOptions['invoke'] {
  let done = false;
  return async (t, handler, payload) => {
    if (!done && t === task && when(payload as Payload)) {
      done = true;
      const error = new Error('RequestId: local Error: Runtime exited with error: signal: killed');
      error.name = 'Runtime.ExitError';
      throw error;
    }
    return handler(payload);
  };
}

/** Crashes the first invocation matching each entry. */
function crashesAt(list: [TaskId, (p: Payload) => boolean][]): RunOptions['invoke'] {
  const wrappers = list.map(([task, when]) => crashAt(task, when));
  return async (task, handler, payload) => {
    let call = (p: unknown) => handler(p);
    for (const wrap of wrappers) {
      const inner = call;
      call = (p) => (wrap as NonNullable<RunOptions['invoke']>)(task, (q) => inner(q), p);
    }
    return call(payload);
  };
}

/** What Report Build (or Report Failed Build) returned: the build's entry of the execution output. */
type BuildEntry = NonNullable<RunResult['output']>['builds'][number];

/** Runs the build; the build's entry is taken from Report Build (a failed execution has no output). */
async function runBuild(
  h: WorkflowHarness,
  input: unknown,
  options: Partial<RunOptions> & { label: string },
): Promise<{ result: RunResult; build: BuildEntry | undefined }> {
  let build: BuildEntry | undefined;
  const inner = options.invoke;
  const result = await h.run(input, {
    ...options,
    invoke: async (task, handler, payload) => {
      const out = inner === undefined ? await handler(payload) : await inner(task, handler, payload);
      if (task === 'ReportBuild') build = out as BuildEntry;
      return out;
    },
  });
  return { result, build };
}

describe('ami_test', () => {
  it('tests the new AMI on an instance booted from its bundle, terminates it, then copies and publishes', async () => {
    // Prepare
    const h = harness();
    expect(h.emulator.mode).toBe('sandbox');
    const input = template(h, {
      inline: [
        `sudo -n cat ${MARKER}`,
        'echo "greeting=$GREETING"',
        'curl -s http://169.254.169.254/latest/meta-data/ami-id || true',
      ],
      environment_vars: ["GREETING=it's tested"],
    });

    // Act
    const { result, build } = await runBuild(h, input, { label: 'ami-test-pass' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const entered = enteredStates(result);
    const order = [
      S.CheckAmiAvailable,
      S.LaunchTestInstance,
      S.CheckTestInstanceRunning,
      S.CheckTestSsmAgent,
      S.SendTestCommand,
      S.CheckTestCommand,
      S.TerminateTestInstance,
      S.CopyAndFinish,
      S.PublishAmiIds,
    ].map((state) => entered.indexOf(state));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const [image] = await builtImages(h, BUILD_REGION);
    const launch = (await h.emulator.launches()).find((l) => l.tags[TagKeys.role] === 'test');
    expect(launch).toMatchObject({ imageId: image?.ImageId, instanceType: 'm3.medium' });
    expect(launch?.tags).toMatchObject({
      [TagKeys.stack]: 'AmiBuilder',
      [TagKeys.execution]: result.executionArn,
      [TagKeys.onError]: 'cleanup',
    });
    const output = await testOutput(h);
    expect(output).toContain('built-by-provisioner\n');
    expect(output).toContain("greeting=it's tested\n");
    expect(await testInstanceState(h)).toBe('terminated');

    expect(build?.cleanup?.terminatedInstances).toContain(launch?.instanceId);
    expect(await builtImages(h, COPY_REGION)).toHaveLength(1);
    expect(await parameterExists(h)).toBe(true);
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
  });

  it('fails the build on a failing test and, with on_failure deregister, leaves no AMI, bundle, instance, copy or parameter', async () => {
    // Prepare
    const h = harness();
    const input = template(h, { inline: ['echo "the image is broken"', 'exit 7'] });

    // Act
    const { result, build } = await runBuild(h, input, { label: 'ami-test-fail' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(build?.error?.Error).toBe(ErrorNames.AmiTestFailed);
    expect(build?.error?.Cause).toContain('exit code 7');
    expect(build?.error?.Cause).toContain('the image is broken');
    const entered = enteredStates(result);
    expect(entered).toContain(S.DeregisterFailedAmi);
    expect(entered).not.toContain(S.CopyAndFinish);
    expect(entered).not.toContain(S.PublishAmiIds);
    expect(await builtImages(h, BUILD_REGION)).toEqual([]);
    expect(await builtImages(h, COPY_REGION)).toEqual([]);
    expect(await bundleKeys(h)).toEqual([]);
    expect(await parameterExists(h)).toBe(false);
    expect(await testInstanceState(h)).toBe('terminated');
    expect(build?.cleanup?.deregisteredImages).toHaveLength(1);
    expect(build?.manifestLocation).toBeUndefined();
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
  });

  it('keeps the AMI of a failing test with on_failure keep, tagged so that Sweep Orphans leaves it', async () => {
    // Prepare
    const h = harness();
    const input = template(h, { inline: ['exit 1'], on_failure: 'keep' });

    // Act
    const { result, build } = await runBuild(h, input, { label: 'ami-test-keep' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(build?.error?.Error).toBe(ErrorNames.AmiTestFailed);
    expect(enteredStates(result)).toContain(S.KeepFailedAmi);
    const images = await builtImages(h, BUILD_REGION);
    expect(images).toHaveLength(1);
    expect(images[0]?.Tags).toContainEqual({ Key: TagKeys.amiTest, Value: 'failed' });
    expect(build?.cleanup?.kept).toContainEqual({
      resource: `AMI ${images[0]?.ImageId} (${BUILD_REGION})`,
      reason: expect.stringContaining('on_failure is keep'),
    });
    expect(await builtImages(h, COPY_REGION)).toEqual([]);
    expect(await parameterExists(h)).toBe(false);
    expect(await testInstanceState(h)).toBe('terminated');
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
  });

  it('terminates the test instance when its SSM agent never comes online', async () => {
    // Prepare
    const h = harness();
    const input = template(h, { inline: ['true'] }, { ssh_timeout: '30s' });
    const invoke: RunOptions['invoke'] = async (task, handler, payload) => {
      const p = payload as Payload;
      const id = p.build?.testInstance?.instanceId;
      if (task === 'CheckAgent' && p.args?.instance === 'test' && id !== undefined) {
        await h.emulator.addFault({ type: 'agent-offline', instanceId: id });
      }
      return handler(payload);
    };

    // Act
    const { result, build } = await runBuild(h, input, { label: 'ami-test-agent', invoke });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(build?.error?.Error).toBe(ErrorNames.AgentNotOnline);
    expect(build?.error?.Cause).toContain('the ami_test instance');
    expect(enteredStates(result)).toContain(S.CheckTestSsmAgent);
    expect(await testInstanceState(h)).toBe('terminated');
    expect(await builtImages(h, BUILD_REGION)).toEqual([]);
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
  });

  it('terminates the test instance after a test timeout even when on_error abort keeps the build instance', async () => {
    // Prepare
    const h = harness();
    const input = template(h, { inline: ['sleep 60'], timeout: '2s' }, { on_error: 'abort' });

    // Act
    const { result, build } = await runBuild(h, input, { label: 'ami-test-timeout' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(build?.error?.Error).toBe(ErrorNames.AmiTestFailed);
    expect(build?.error?.Cause).toContain('raise ami_test.timeout');
    expect(await testInstanceState(h)).toBe('terminated');
    // on_error: abort keeps the build instance (and its group and role) for debugging, never the test instance.
    const leftovers = await h.leftovers([BUILD_REGION, COPY_REGION]);
    const buildLaunch = (await h.emulator.launches()).find((l) => l.tags[TagKeys.role] === undefined);
    expect(leftovers.instances).toEqual([buildLaunch?.instanceId]);
    expect(await builtImages(h, BUILD_REGION)).toEqual([]);
  });

  it('terminates the test instance when the execution is stopped during the test (Abort Cleanup)', async () => {
    // Prepare
    const h = harness();
    const input = template(h, { inline: ['sleep 30'] });
    const stop = new AbortController();

    // Act
    const { result } = await runBuild(h, input, {
      label: 'ami-test-abort',
      signal: stop.signal,
      onEvent: (event) => {
        if (event.kind === 'state-entered' && event.state === S.CheckTestCommand) stop.abort();
      },
    });

    // Assess
    expect(result.status).toBe('ABORTED');
    const launch = (await h.emulator.launches()).find((l) => l.tags[TagKeys.role] === 'test');
    expect(result.abortCleanup).toMatchObject({
      terminatedInstances: expect.arrayContaining([launch?.instanceId]),
    });
    expect(await testInstanceState(h)).toBe('terminated');
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
  });

  const crashes: {
    what: string;
    onFailure: 'deregister' | 'keep';
    crashes: [TaskId, (p: Payload) => boolean][];
    entered: string[];
    images: number;
  }[] = [
    {
      what: 'Launch Test Instance, then Deregister Failed AMI',
      onFailure: 'deregister',
      crashes: [
        ['LaunchTestInstance', () => true],
        ['ForceDeregister', (p) => p.args?.failedTest === 'deregister'],
      ],
      entered: [S.LaunchTestInstance, S.AmiTestFailedChoice, S.DeregisterFailedAmi],
      images: 1,
    },
    {
      what: 'Check Test Instance Running, then Keep Failed AMI',
      onFailure: 'keep',
      crashes: [
        ['CheckInstance', (p) => p.args?.instance === 'test'],
        ['ForceDeregister', (p) => p.args?.failedTest === 'keep'],
      ],
      entered: [S.CheckTestInstanceRunning, S.KeepFailedAmi],
      images: 1,
    },
    {
      what: 'Send Test Command',
      onFailure: 'deregister',
      crashes: [['SendCommand', (p) => p.args?.kind === 'test']],
      entered: [S.SendTestCommand, S.DeregisterFailedAmi],
      images: 0,
    },
    {
      what: 'Terminate Test Instance (after a passing test)',
      onFailure: 'deregister',
      crashes: [['TerminateInstance', (p) => p.args?.instance === 'test']],
      entered: [S.TerminateTestInstance, S.CleanUpAfterFailure],
      images: 1,
    },
  ];

  for (const c of crashes) {
    it(`terminates the test instance when ${c.what} crashes`, async () => {
      // Prepare
      const h = harness();
      const input = template(h, { inline: ['true'], on_failure: c.onFailure });

      // Act
      const { result, build } = await runBuild(h, input, {
        label: 'ami-test-crash',
        invoke: crashesAt(c.crashes),
      });

      // Assess
      expect(result.status).toBe('FAILED');
      const entered = enteredStates(result);
      for (const state of c.entered) expect(entered).toContain(state);
      expect(entered).not.toContain(S.CopyAndFinish);
      expect(build?.error?.Error).toBe('Runtime.ExitError');
      // Launched or not (a crash of Launch Test Instance launches nothing), it is not running.
      expect(['terminated', undefined]).toContain(await testInstanceState(h));
      expect(await builtImages(h, BUILD_REGION)).toHaveLength(c.images);
      expect(await builtImages(h, COPY_REGION)).toEqual([]);
      expect(await parameterExists(h)).toBe(false);
      expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual(NO_LEFTOVERS);
    });
  }
});
