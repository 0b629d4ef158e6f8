import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DescribeInstanceInformationCommand,
  GetParameterCommand,
  PutParameterCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Emulator,
  EmulatorStartError,
  parseFault,
  startEmulator,
  useEmulatorEnvironment,
} from '../../emulator/index.js';
import { emulatorClients, rejectionOf, SIMULATED } from './clients.js';

let emulator: Emulator;
let aws: ReturnType<typeof emulatorClients>;

beforeAll(async () => {
  emulator = await startEmulator(SIMULATED);
  aws = emulatorClients(emulator.endpoint, 'us-east-1', 3);
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(async () => {
  await emulator.reset();
});

describe('API faults', () => {
  it('throttles EC2 with RequestLimitExceeded (503), which the SDK retries until it succeeds', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'DescribeImages',
      error: 'throttle',
      count: 2,
    });

    // Act
    const result = await aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));

    // Assess
    expect(result.$metadata.attempts).toBe(3);
    expect(await emulator.faults()).toEqual([]);
  });

  it('surfaces the throttling error when it outlasts the SDK attempts', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'DescribeImages',
      error: 'throttle',
      count: 5,
    });

    // Act
    const error = await rejectionOf(aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'] })));

    // Assess
    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 503, attempts: 3 });
    expect(await emulator.faults()).toEqual([
      expect.objectContaining({ type: 'api', operation: 'DescribeImages', count: 2 }),
    ]);
  });

  it('throttles JSON services with ThrottlingException, retried by the SDK', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'ssm',
      operation: 'DescribeInstanceInformation',
      error: 'throttle',
    });

    // Act
    const result = await aws.ssm.send(new DescribeInstanceInformationCommand({}));

    // Assess
    expect(result.$metadata.attempts).toBe(2);
  });

  it('throttles S3 with SlowDown, retried by the SDK', async () => {
    // Prepare
    await aws.s3.send(new CreateBucketCommand({ Bucket: 'staging' }));
    await emulator.addFault({ type: 'api', service: 's3', operation: 'PutObject', error: 'throttle' });

    // Act
    const put = await aws.s3.send(
      new PutObjectCommand({ Bucket: 'staging', Key: 'a/run.sh', Body: 'echo hi' }),
    );
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: 'staging' }));

    // Assess
    expect(put.$metadata.attempts).toBe(2);
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['a/run.sh']);
  });

  it('throttles query services (STS) with Throttling, retried by the SDK', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'sts',
      operation: 'GetCallerIdentity',
      error: 'throttle',
    });

    // Act
    const identity = await aws.sts.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(identity.$metadata.attempts).toBe(2);
    expect(identity.Account).toBe('123456789012');
  });

  it('answers 5xx with InternalError before moto sees the call, so a retried launch makes one instance', async () => {
    // Prepare
    await emulator.seedImage({ region: 'us-east-1', imageId: 'ami-0a1b2c3d', name: 'src' });
    await emulator.addFault({ type: 'api', service: 'ec2', operation: 'RunInstances', error: '5xx' });

    // Act
    const launched = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0a1b2c3d',
        InstanceType: 'm3.medium',
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({}));

    // Assess
    expect(launched.$metadata.attempts).toBe(2);
    expect(Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(1);
  });

  it('fails at once with the given code for a permanent fault', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'CreateSecurityGroup',
      error: 'permanent',
      code: 'UnauthorizedOperation',
      message: 'You are not authorized to perform this operation.',
    });

    // Act
    const error = await rejectionOf(
      aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'd' })),
    );
    const retried = await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'd' }));

    // Assess
    expect(error.name).toBe('UnauthorizedOperation');
    expect(error.message).toBe('You are not authorized to perform this operation.');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect(retried.GroupId).toMatch(/^sg-/);
  });

  it('fails JSON calls with the given code for a permanent fault', async () => {
    // Prepare
    await emulator.addFault({
      type: 'api',
      service: 'ssm',
      operation: 'SendCommand',
      error: 'permanent',
      code: 'AccessDeniedException',
    });

    // Act
    const error = await rejectionOf(
      aws.ssm.send(
        new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-1234567890'] }),
      ),
    );

    // Assess
    expect(error.name).toBe('AccessDeniedException');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
  });

  it('only fails calls in the fault’s region', async () => {
    // Prepare
    const west = emulatorClients(emulator.endpoint, 'eu-west-1', 1);
    await emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'DescribeSecurityGroups',
      region: 'eu-west-1',
      error: 'permanent',
      code: 'UnauthorizedOperation',
    });
    const east = emulatorClients(emulator.endpoint, 'us-east-1', 1);

    // Act
    const inEast = await east.ec2.send(new DescribeSecurityGroupsCommand({}));
    const inWest = await rejectionOf(west.ec2.send(new DescribeSecurityGroupsCommand({})));

    // Assess
    expect(inEast.$metadata.httpStatusCode).toBe(200);
    expect(inWest.name).toBe('UnauthorizedOperation');
  });

  it('fails when a fault is malformed', async () => {
    // Act
    const error = await rejectionOf(
      emulator.addFault({ type: 'api', service: 'ec2', operation: 'RunInstances', error: 'permanent' }),
    );

    // Assess
    expect(error.name).toBe('EmulatorControlError');
    expect(error.message).toContain('needs a code');
  });
});

describe('parseFault', () => {
  it('parses a JSON fault', () => {
    expect(parseFault('{"type":"command","match":"ec2-upload-bundle","exitCode":3}')).toEqual({
      type: 'command',
      match: 'ec2-upload-bundle',
      exitCode: 3,
    });
  });

  it.each([
    ['not JSON', 'command:exit=1'],
    ['an unknown type', '{"type":"reboot"}'],
    ['an unknown field', '{"type":"copy-fail","region":"eu-west-1","when":"now"}'],
    ['a permanent fault without code', '{"type":"api","service":"ec2","operation":"*","error":"permanent"}'],
  ])('fails when given %s', (_what, text) => {
    expect(() => parseFault(text)).toThrow(expect.objectContaining({ name: 'InvalidFaultError' }));
  });
});

describe('recordings and reset', () => {
  it('records EventBridge PutEvents entries', async () => {
    // Act
    await aws.events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'ami-builder',
            DetailType: 'AMI Build Succeeded',
            Detail: JSON.stringify({ artifacts: { 'us-east-1': 'ami-1' } }),
            Resources: ['arn:aws:states:us-east-1:123456789012:execution:sm:exec-1'],
          },
        ],
      }),
    );
    const events = await emulator.events();

    // Assess
    expect(events).toEqual([
      expect.objectContaining({
        region: 'us-east-1',
        eventBusName: 'default',
        source: 'ami-builder',
        detailType: 'AMI Build Succeeded',
        detail: { artifacts: { 'us-east-1': 'ami-1' } },
        resources: ['arn:aws:states:us-east-1:123456789012:execution:sm:exec-1'],
      }),
    ]);
  });

  it('counts AWS calls by operation', async () => {
    // Act
    await aws.ec2.send(new DescribeSecurityGroupsCommand({}));
    await aws.ec2.send(new DescribeSecurityGroupsCommand({}));
    await aws.sts.send(new GetCallerIdentityCommand({}));
    const calls = await emulator.calls();

    // Assess
    expect(calls).toEqual([
      { service: 'ec2', operation: 'DescribeSecurityGroups', region: 'us-east-1', count: 2 },
      { service: 'sts', operation: 'GetCallerIdentity', region: 'us-east-1', count: 1 },
    ]);
  });

  it('clears resources, faults, recordings and options on reset', async () => {
    // Prepare
    await emulator.seedImage({ region: 'us-east-1', imageId: 'ami-0a1b2c3d', name: 'src' });
    await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'd' }));
    await emulator.addFault({ type: 'agent-offline' });
    await emulator.setOptions({ commandSteps: 5 });
    await aws.events.send(
      new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] }),
    );

    // Act
    await emulator.reset();

    // Assess
    const images = await rejectionOf(aws.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0a1b2c3d'] })));
    const { SecurityGroups } = await aws.ec2.send(new DescribeSecurityGroupsCommand({}));
    expect(images.name).toBe('InvalidAMIID.NotFound');
    expect(SecurityGroups?.map((g) => g.GroupName)).toEqual(['default']);
    expect(await emulator.faults()).toEqual([]);
    expect(await emulator.events()).toEqual([]);
    expect(await emulator.commands()).toEqual([]);
    expect(await emulator.setOptions({})).toEqual({
      agentOnlineDelayMs: 300,
      imageDescribesUntilAvailable: 1,
      commandSteps: 1,
      instanceStartMs: 0,
      instanceStopMs: 0,
      imagePendingMs: 0,
    });
  });
});

describe('services', () => {
  it('serves the services the workflow calls, in any region', async () => {
    // Prepare
    const region = 'ap-southeast-2';
    const config = {
      endpoint: emulator.endpoint,
      region,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    const clients = emulatorClients(emulator.endpoint, region);

    // Act
    const identity = await new STSClient(config).send(new GetCallerIdentityCommand({}));
    await clients.ssm.send(
      new PutParameterCommand({
        Name: '/ami-builder/latest',
        Value: 'ami-0a1b2c3d',
        Type: 'String',
        DataType: 'aws:ec2:image',
      }),
    );
    const parameter = await clients.ssm.send(new GetParameterCommand({ Name: '/ami-builder/latest' }));
    const topic = await new SNSClient(config).send(new CreateTopicCommand({ Name: 'builds' }));
    await new CloudWatchLogsClient(config).send(
      new CreateLogGroupCommand({ logGroupName: '/ami-builder/commands' }),
    );
    const groups = await new CloudWatchLogsClient(config).send(new DescribeLogGroupsCommand({}));
    const machines = await new SFNClient(config).send(new ListStateMachinesCommand({}));
    const stacks = await clients.cloudformation.send(new DescribeStacksCommand({}));

    // Assess
    expect(identity.Account).toBe('123456789012');
    expect(parameter.Parameter).toMatchObject({ Value: 'ami-0a1b2c3d', DataType: 'aws:ec2:image' });
    expect(topic.TopicArn).toBe(`arn:aws:sns:${region}:123456789012:builds`);
    expect(groups.logGroups?.map((g) => g.logGroupName)).toEqual(['/ami-builder/commands']);
    expect(machines.stateMachines).toEqual([]);
    expect(stacks.Stacks).toEqual([]);
  });

  it('lets SDK clients reach it through the environment alone', async () => {
    // Prepare
    const before = { ...process.env };
    process.env.AWS_SESSION_TOKEN = 'a-real-looking-token';

    // Act
    const restore = useEmulatorEnvironment(emulator.endpoint);
    const during = { ...process.env };
    const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    restore();

    // Assess
    expect(identity.Account).toBe('123456789012');
    expect(during).toMatchObject({
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    });
    expect(during.AWS_SESSION_TOKEN).toBeUndefined();
    expect(process.env.AWS_SESSION_TOKEN).toBe('a-real-looking-token');
    delete process.env.AWS_SESSION_TOKEN;
    expect(process.env).toEqual(before);
  });
});

describe('startEmulator', () => {
  it('fails with the emulator’s stderr when it cannot listen', async () => {
    // Act
    const error = await rejectionOf(startEmulator({ port: emulator.port }));

    // Assess
    expect(error).toBeInstanceOf(EmulatorStartError);
    expect(error.message).toContain(`Port ${emulator.port} is in use`);
  });

  it('fails when the interpreter does not exist', async () => {
    // Act
    const error = await rejectionOf(startEmulator({ python: '/nonexistent/python3' }));

    // Assess
    expect(error.name).toBe('EmulatorStartError');
    expect(error.message).toContain('could not be started');
  });

  it('fails with a clear message when moto is not the pinned version', async () => {
    // Prepare: a moto 9.9.9 distribution found first on the path.
    const shadow = mkdtempSync(join(tmpdir(), 'fake-moto-'));
    mkdirSync(join(shadow, 'moto-9.9.9.dist-info'));
    writeFileSync(
      join(shadow, 'moto-9.9.9.dist-info', 'METADATA'),
      'Metadata-Version: 2.1\nName: moto\nVersion: 9.9.9\n',
    );
    const previous = process.env.PYTHONPATH;
    process.env.PYTHONPATH = shadow;

    // Act
    const error = await rejectionOf(startEmulator()).finally(() => {
      if (previous === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = previous;
      rmSync(shadow, { recursive: true, force: true });
    });

    // Assess
    expect(error.name).toBe('EmulatorStartError');
    expect(error.message).toContain('moto 9.9.9 is installed');
    expect(error.message).toContain('moto[server]==5.2.1');
  });

  it('stops the process, and a second stop is harmless', async () => {
    // Prepare
    const second = await startEmulator();

    // Act
    await second.stop();
    await second.stop();

    // Assess
    expect(() => process.kill(second.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(fetch(`${second.endpoint}/_ami-builder/health`)).rejects.toThrow();
  });

  it('runs detached with its log in a file, until stopped', async () => {
    // Prepare
    const detached = await startEmulator({ detached: true });

    // Act
    const health = await fetch(`${detached.endpoint}/_ami-builder/health`).then((r) => r.json());
    await detached.stop();

    // Assess
    expect(health).toMatchObject({ ok: true, moto: '5.2.1', mode: detached.mode });
    expect(detached.logFile).toBeDefined();
    expect(readFileSync(detached.logFile!, 'utf8')).not.toContain('Traceback');
    expect(() => process.kill(detached.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    rmSync(detached.logFile!, { force: true });
  });
});
