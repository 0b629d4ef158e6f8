import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CancelCommandCommand,
  CreateDocumentCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import {
  COMMAND_STEP_DOWNLOAD,
  COMMAND_STEP_RUN,
  commandDocumentContent,
} from '../../lambdas/shared/command-document.js';
import { emulatorClients, rejectionOf, SIMULATED } from './clients.js';

const DOCUMENT = 'AmiBuilderStack-Command';
const BUCKET = 'amibuilder-staging';
const FOLDER = 'staging/exec-1/amazon-instance/commands/3-bundle/';
const RUN_SH =
  '#!/bin/bash\nset -euo pipefail\nsudo -n ec2-bundle-vol -k /tmp/x509/key.pem -u 123456789012\n';

let emulator: Emulator;
let aws: ReturnType<typeof emulatorClients>;
let instanceId: string;

beforeAll(async () => {
  emulator = await startEmulator({ agentOnlineDelayMs: 0, ...SIMULATED });
  aws = emulatorClients(emulator.endpoint, 'us-east-1');
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(async () => {
  await emulator.reset();
  await emulator.setOptions({ agentOnlineDelayMs: 0 });
  await emulator.seedImage({ region: 'us-east-1', imageId: 'ami-0a1b2c3d', name: 'source' });
  await emulator.createInstanceProfile('build-profile');
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0a1b2c3d',
      InstanceType: 'm3.medium',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Name: 'build-profile' },
    }),
  );
  instanceId = Instances![0]!.InstanceId!;
  await aws.ssm.send(
    new CreateDocumentCommand({
      Name: DOCUMENT,
      Content: JSON.stringify(commandDocumentContent),
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
    }),
  );
  await aws.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${FOLDER}run.sh`, Body: RUN_SH }));
  await aws.s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: `${FOLDER}x509/key.pem`, Body: 'PRIVATE KEY' }),
  );
});

function sendStaged(
  folderUrl = `https://s3.us-east-1.amazonaws.com/${BUCKET}/${FOLDER}`,
  extra: Partial<SendCommandCommandInput> = {},
) {
  return aws.ssm.send(
    new SendCommandCommand({
      DocumentName: DOCUMENT,
      InstanceIds: [instanceId],
      Comment: 'ami-builder bundle',
      TimeoutSeconds: 600,
      Parameters: {
        sourceInfo: [JSON.stringify({ path: folderUrl })],
        workingDirectory: ['/var/lib/ami-builder/3-bundle'],
        executionTimeout: ['7200'],
      },
      CloudWatchOutputConfig: {
        CloudWatchLogGroupName: '/ami-builder/commands',
        CloudWatchOutputEnabled: true,
      },
      ...extra,
    }),
  );
}

async function invocation(commandId: string, PluginName?: string) {
  return aws.ssm.send(
    new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId, PluginName }),
  );
}

describe('SendCommand with the stack document', () => {
  it('records the command and the staged folder, run.sh included', async () => {
    // Act
    const { Command } = await sendStaged();
    const [recorded] = await emulator.commands();

    // Assess
    expect(recorded).toMatchObject({
      commandId: Command?.CommandId,
      region: 'us-east-1',
      documentName: DOCUMENT,
      instanceIds: [instanceId],
      comment: 'ami-builder bundle',
      timeoutSeconds: 600,
      plugins: [COMMAND_STEP_DOWNLOAD, COMMAND_STEP_RUN],
      parameters: { workingDirectory: ['/var/lib/ami-builder/3-bundle'] },
      cloudWatchOutputConfig: {
        CloudWatchLogGroupName: '/ami-builder/commands',
        CloudWatchOutputEnabled: true,
      },
      staged: {
        bucket: BUCKET,
        prefix: FOLDER,
        keys: [`${FOLDER}run.sh`, `${FOLDER}x509/key.pem`],
        runScript: RUN_SH,
      },
      fault: null,
    });
  });

  it.each([
    ['path style without region', `https://s3.amazonaws.com/${BUCKET}/${FOLDER}`],
    ['dash region path style', `https://s3-us-east-1.amazonaws.com/${BUCKET}/${FOLDER}`],
    ['virtual-host style', `https://${BUCKET}.s3.us-east-1.amazonaws.com/${FOLDER}`],
    ['virtual-host style without region', `https://${BUCKET}.s3.amazonaws.com/${FOLDER}`],
  ])('reads the staged folder from a %s URL', async (_form, url) => {
    // Act
    await sendStaged(url);
    const [recorded] = await emulator.commands();

    // Assess
    expect(recorded?.staged?.runScript).toBe(RUN_SH);
  });

  it('goes Pending, InProgress, then Success, one step per observation', async () => {
    // Act
    const { Command } = await sendStaged();
    const first = await invocation(Command!.CommandId!);
    const second = await invocation(Command!.CommandId!);
    const third = await invocation(Command!.CommandId!);

    // Assess
    expect(Command?.Status).toBe('Pending');
    expect([first.Status, second.Status, third.Status]).toEqual(['InProgress', 'Success', 'Success']);
    expect(first.ResponseCode).toBe(-1);
    expect(second).toMatchObject({ ResponseCode: 0, StatusDetails: 'Success', StandardErrorContent: '' });
  });

  it('stays InProgress for as many observations as configured', async () => {
    // Prepare
    await emulator.setOptions({ commandSteps: 3 });
    const { Command } = await sendStaged();

    // Act
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await invocation(Command!.CommandId!)).Status);

    // Assess
    expect(statuses).toEqual(['InProgress', 'InProgress', 'InProgress', 'Success']);
  });

  it('reports each plugin of the document by name', async () => {
    // Prepare
    const { Command } = await sendStaged();
    await invocation(Command!.CommandId!);

    // Act
    const download = await invocation(Command!.CommandId!, COMMAND_STEP_DOWNLOAD);
    const run = await invocation(Command!.CommandId!, COMMAND_STEP_RUN);
    const unknown = await rejectionOf(invocation(Command!.CommandId!, 'aws:runShellScript'));

    // Assess
    expect(download).toMatchObject({ PluginName: COMMAND_STEP_DOWNLOAD, Status: 'Success', ResponseCode: 0 });
    expect(run).toMatchObject({ PluginName: COMMAND_STEP_RUN, Status: 'Success', ResponseCode: 0 });
    expect(unknown.name).toBe('InvalidPluginName');
  });

  it('fails with the fault exit code, stdout and stderr when a command fault matches run.sh', async () => {
    // Prepare
    await emulator.addFault({
      type: 'command',
      match: 'ec2-bundle-vol',
      exitCode: 127,
      stdout: 'bundling...',
      stderr: 'sudo: ec2-bundle-vol: command not found',
      times: 1,
    });
    const { Command } = await sendStaged();

    // Act
    await invocation(Command!.CommandId!);
    const failed = await invocation(Command!.CommandId!);
    const download = await invocation(Command!.CommandId!, COMMAND_STEP_DOWNLOAD);
    const { Command: next } = await sendStaged();
    await invocation(next!.CommandId!);
    const afterFaultSpent = await invocation(next!.CommandId!);

    // Assess
    expect(failed).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 127,
      StandardOutputContent: 'bundling...',
      StandardErrorContent: 'sudo: ec2-bundle-vol: command not found',
    });
    expect(download.Status).toBe('Success');
    expect(afterFaultSpent.Status).toBe('Success');
    const recorded = await emulator.commands();
    expect(recorded.map((c) => c.fault)).toEqual([{ match: 'ec2-bundle-vol', exitCode: 127 }, null]);
    expect(recorded.map((c) => c.status)).toEqual(['Failed', 'Success']);
  });

  it('matches command faults against the working directory too', async () => {
    // Prepare
    await emulator.addFault({ type: 'command', match: '/3-bundle$', exitCode: 3 });
    const { Command } = await sendStaged();

    // Act
    await invocation(Command!.CommandId!);
    const failed = await invocation(Command!.CommandId!);

    // Assess
    expect(failed).toMatchObject({ Status: 'Failed', ResponseCode: 3 });
  });

  it('fails in the download step when nothing is staged under the folder', async () => {
    // Prepare
    const { Command } = await sendStaged(`https://s3.us-east-1.amazonaws.com/${BUCKET}/staging/missing/`);
    await invocation(Command!.CommandId!);

    // Act
    const download = await invocation(Command!.CommandId!, COMMAND_STEP_DOWNLOAD);
    const run = await invocation(Command!.CommandId!, COMMAND_STEP_RUN);

    // Assess
    expect(download).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(download.StandardErrorContent).toContain('no objects under');
    expect(run.Status).toBe('Failed');
  });

  it('lists invocations with plugin details, advancing them as they are observed', async () => {
    // Prepare
    await emulator.addFault({ type: 'command', match: 'ec2-bundle-vol', exitCode: 2, stderr: 'bad args' });
    const { Command } = await sendStaged();
    const list = () =>
      aws.ssm.send(new ListCommandInvocationsCommand({ CommandId: Command!.CommandId!, Details: true }));

    // Act
    const first = await list();
    const second = await list();
    const { Commands } = await aws.ssm.send(new ListCommandsCommand({ CommandId: Command!.CommandId! }));

    // Assess
    expect(first.CommandInvocations?.[0]?.Status).toBe('InProgress');
    const done = second.CommandInvocations?.[0];
    expect(done?.Status).toBe('Failed');
    expect(done?.CommandPlugins?.map((p) => [p.Name, p.Status, p.ResponseCode])).toEqual([
      [COMMAND_STEP_DOWNLOAD, 'Success', 0],
      [COMMAND_STEP_RUN, 'Failed', 2],
    ]);
    expect(done?.CommandPlugins?.[1]?.Output).toContain('bad args');
    expect(Commands?.[0]).toMatchObject({
      Status: 'Failed',
      ErrorCount: 1,
      CompletedCount: 1,
      TargetCount: 1,
    });
  });

  it('cancels a command that has not finished', async () => {
    // Prepare
    const { Command } = await sendStaged();
    await invocation(Command!.CommandId!);

    // Act
    await aws.ssm.send(new CancelCommandCommand({ CommandId: Command!.CommandId! }));
    const cancelled = await invocation(Command!.CommandId!);

    // Assess
    expect(cancelled.Status).toBe('Cancelled');
  });

  it('fails when a parameter does not match the document’s allowed pattern', async () => {
    // Act
    const error = await rejectionOf(
      aws.ssm.send(
        new SendCommandCommand({
          DocumentName: DOCUMENT,
          InstanceIds: [instanceId],
          Parameters: {
            sourceInfo: ['{"path": "https://s3.amazonaws.com/b/p/"}'],
            workingDirectory: ['tmp; reboot'],
          },
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameters');
    expect(error.message).toContain('workingDirectory');
  });

  it('fails when a parameter is not declared by the document', async () => {
    // Act
    const error = await rejectionOf(
      sendStaged(undefined, {
        Parameters: {
          sourceInfo: ['{"path": "https://s3.amazonaws.com/b/p/"}'],
          workingDirectory: ['/w'],
          commands: ['id'],
        },
      }),
    );

    // Assess
    expect(error.name).toBe('InvalidParameters');
  });

  it('fails when the agent has not come online', async () => {
    // Prepare
    await emulator.addFault({ type: 'agent-offline', instanceId });

    // Act
    const error = await rejectionOf(sendStaged());

    // Assess
    expect(error.name).toBe('InvalidInstanceId');
    expect(await emulator.commands()).toEqual([]);
  });

  it('fails when the command id is unknown', async () => {
    // Act
    const error = await rejectionOf(invocation('00000000-0000-0000-0000-000000000000'));

    // Assess
    expect(error.name).toBe('InvocationDoesNotExist');
  });
});

describe('SendCommand with AWS-RunShellScript', () => {
  it('runs as a single aws:runShellScript plugin', async () => {
    // Act
    const { Command } = await aws.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instanceId],
        Parameters: { commands: ['uptime'] },
      }),
    );
    await invocation(Command!.CommandId!);
    const done = await invocation(Command!.CommandId!, 'aws:runShellScript');

    // Assess
    expect(done.Status).toBe('Success');
    expect((await emulator.commands())[0]?.parameters).toEqual({ commands: ['uptime'] });
  });
});
