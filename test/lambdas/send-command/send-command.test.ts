import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetParameterCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type SendCommandArgs,
  sendCommand,
  sendCommandArgsSchema,
} from '../../../lambdas/send-command/send-command.js';
import type { ShellProvisioner } from '../../../lambdas/shared/config.js';
import {
  ProvisionerFailedError,
  TaskInputError,
  TemplateValidationError,
  X509UploadError,
} from '../../../lambdas/shared/errors.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { CommandInfo, TaskEvent } from '../../../lambdas/shared/state.js';
import { parseTaskEvent } from '../../../lambdas/shared/task-event.js';
import {
  awsError,
  type BuildStateOverrides,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);
const ec2Mock = mockClient(EC2Client);

const INSTANCE_ID = 'i-0123456789abcdef0';
const COMMAND_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const KEY_PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecret\n-----END RSA PRIVATE KEY-----\n';

const deps = {
  clients: createClients({ ec2: EC2Client, ssm: SSMClient, s3: S3Client }),
  env: makeEnvironment(),
  stagingRegion: 'us-west-2',
  randomSuffix: () => 42,
};

const SOURCE = {
  imageId: 'ami-0123456789abcdef0',
  name: 'source',
  ownerId: '123456789012',
  creationDate: '2024-01-01T00:00:00.000Z',
  tags: {},
  rootDeviceType: 'instance-store',
  architecture: 'x86_64',
  virtualizationType: 'paravirtual',
  accountId: '123456789012',
  rendered: { tags: {}, runTags: {} },
};

function shell(overrides: Partial<ShellProvisioner> = {}): ShellProvisioner {
  return {
    type: 'shell',
    index: 0,
    name: 'shell',
    inline: ['echo hello'],
    scripts: [],
    environmentVars: [],
    executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
    inlineShebang: '/bin/sh -e',
    remoteFolder: '/tmp',
    validExitCodes: [0],
    maxRetries: 2,
    timeoutSeconds: 1800,
    pauseBeforeSeconds: 0,
    ...overrides,
  };
}

function event(args: SendCommandArgs, overrides: BuildStateOverrides = {}): TaskEvent<SendCommandArgs> {
  return {
    build: makeBuildState({
      instance: { instanceId: INSTANCE_ID, architecture: 'x86_64' },
      source: SOURCE,
      ...overrides,
      config: { provisioners: [shell()], ...overrides.config },
    }),
    args,
  };
}

function body(text: string): GetObjectCommandOutput['Body'] {
  return { transformToString: async () => text } as unknown as GetObjectCommandOutput['Body'];
}

function puts(): PutObjectCommandInput[] {
  return s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
}

const X509_FOLDER = 'staging/build-2024-01-02/amazon-instance/commands/02-x509/';

describe('sendCommand', () => {
  beforeEach(() => {
    for (const mock of [s3Mock, ssmMock, ec2Mock]) mock.reset();
    s3Mock.on(GetObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));
    s3Mock.on(PutObjectCommand).resolves({});
    s3Mock.on(CopyObjectCommand).resolves({});
    ssmMock.on(ListCommandsCommand).resolves({ Commands: [] });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  });
  afterEach(() => {
    for (const mock of [s3Mock, ssmMock, ec2Mock]) mock.reset();
  });

  it('sends the stack document with only the folder URL, the working directory and the timeout', async () => {
    // Act
    await sendCommand(event({ kind: 'x509' }, { config: { region: 'eu-west-1' } }), deps);

    // Assess
    const [call] = ssmMock.commandCalls(SendCommandCommand);
    expect(call?.args[0].input).toEqual({
      DocumentName: 'AmiBuilder-RunStagedCommand',
      InstanceIds: [INSTANCE_ID],
      Comment: 'amazon-instance: Upload X509 Certificate',
      TimeoutSeconds: 600,
      Parameters: {
        sourceInfo: [
          JSON.stringify({ path: `https://s3.us-west-2.amazonaws.com/staging-bucket/${X509_FOLDER}` }),
        ],
        workingDirectory: ['/var/lib/ami-builder/build-2024-01-02/02-x509'],
        executionTimeout: ['7200'],
      },
      CloudWatchOutputConfig: {
        CloudWatchLogGroupName: '/ami-builder/commands',
        CloudWatchOutputEnabled: true,
      },
    });
    expect(await regionOf(call!)).toBe('eu-west-1');
  });

  it('returns the command for $.command and records it in sent.json', async () => {
    // Act
    const info = await sendCommand(event({ kind: 'x509' }), deps);

    // Assess
    const expected: CommandInfo = {
      commandId: COMMAND_ID,
      kind: 'x509',
      attempt: 1,
      stagedPrefix: X509_FOLDER,
    };
    expect(info).toEqual(expected);
    const marker = puts().find((p) => p.Key === `${X509_FOLDER}sent.json`);
    expect(JSON.parse(String(marker?.Body))).toEqual(expected);
    expect(marker?.ServerSideEncryption).toBe('AES256');
  });

  it('stages run.sh and copies the X.509 files server-side into the staging bucket of the stack region', async () => {
    // Act
    await sendCommand(event({ kind: 'x509' }), deps);

    // Assess
    const copies = s3Mock.commandCalls(CopyObjectCommand);
    expect(copies.map((c) => c.args[0].input)).toEqual([
      {
        Bucket: 'staging-bucket',
        Key: `${X509_FOLDER}cert.pem`,
        CopySource: 'staging-bucket/x509/cert.pem',
        TaggingDirective: 'REPLACE',
        ServerSideEncryption: 'AES256',
      },
      {
        Bucket: 'staging-bucket',
        Key: `${X509_FOLDER}key.pem`,
        CopySource: 'staging-bucket/x509/key.pem',
        TaggingDirective: 'REPLACE',
        ServerSideEncryption: 'AES256',
      },
    ]);
    expect(await regionOf(copies[0]!)).toBe('us-west-2');
    const run = puts().find((p) => p.Key === `${X509_FOLDER}run.sh`);
    expect(String(run?.Body)).toContain("printf '==> %s\\n' 'Uploading X509 Certificate...'");
    expect(run?.ServerSideEncryption).toBe('AES256');
  });

  it('URL-encodes the copy source key', async () => {
    // Prepare
    const cert = {
      kind: 's3' as const,
      bucket: 'certs',
      key: 'team a/cert+1.pem',
      uri: 's3://certs/team a/cert+1.pem',
    };

    // Act
    await sendCommand(event({ kind: 'x509' }, { config: { x509: { cert } } }), deps);

    // Assess
    expect(s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input.CopySource).toBe(
      'certs/team%20a/cert%2B1.pem',
    );
  });

  it('reads an SSM SecureString key with decryption and writes it only into the staged folder', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: KEY_PEM } });
    const key = { kind: 'ssm' as const, name: '/build/x509-key', uri: 'ssm:/build/x509-key' };

    // Act
    const info = await sendCommand(
      event({ kind: 'x509' }, { config: { region: 'ap-south-1', x509: { key } } }),
      deps,
    );

    // Assess
    const [get] = ssmMock.commandCalls(GetParameterCommand);
    expect(get?.args[0].input).toEqual({ Name: '/build/x509-key', WithDecryption: true });
    expect(await regionOf(get!)).toBe('ap-south-1');
    const keyPut = puts().find((p) => p.Key === `${X509_FOLDER}key.pem`);
    expect(keyPut).toMatchObject({ Bucket: 'staging-bucket', Body: KEY_PEM, ServerSideEncryption: 'AES256' });
    const elsewhere = JSON.stringify([
      info,
      ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input),
      puts().filter((p) => p !== keyPut),
    ]);
    expect(elsewhere).not.toContain('MIIEsecretsecret');
  });

  it('reads a parameter given by ARN in the ARN’s region', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: KEY_PEM } });
    const name = 'arn:aws:ssm:eu-north-1:123456789012:parameter/x509/key';

    // Act
    await sendCommand(
      event({ kind: 'x509' }, { config: { x509: { key: { kind: 'ssm', name, uri: name } } } }),
      deps,
    );

    // Assess
    expect(await regionOf(ssmMock.commandCalls(GetParameterCommand)[0]!)).toBe('eu-north-1');
  });

  it('fails with X509UploadError when the SSM parameter does not exist', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    const key = { kind: 'ssm' as const, name: '/missing', uri: 'ssm:/missing' };

    // Act
    const act = sendCommand(event({ kind: 'x509' }, { config: { x509: { key } } }), deps);

    // Assess
    await expect(act).rejects.toThrow(X509UploadError);
    await expect(act).rejects.toThrow(
      'Upload X509 Certificate: the SSM parameter /missing does not exist in us-east-1',
    );
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('puts no secret, no presigned URL and no X.509 location in the command parameters', async () => {
    // Act
    await sendCommand(event({ kind: 'upload' }), deps);
    await sendCommand(event({ kind: 'x509' }), deps);

    // Assess
    for (const call of ssmMock.commandCalls(SendCommandCommand)) {
      const text = JSON.stringify(call.args[0].input);
      expect(text).not.toMatch(
        /X-Amz-|Signature|AMI_BUILDER_|PRIVATE KEY|x509\/key\.pem|AccessKey|SecretKey/i,
      );
      expect(Object.keys(call.args[0].input.Parameters ?? {}).sort()).toEqual([
        'executionTimeout',
        'sourceInfo',
        'workingDirectory',
      ]);
    }
  });

  it('returns the recorded command without staging or sending again when sent.json exists', async () => {
    // Prepare
    const recorded: CommandInfo = { commandId: 'earlier', kind: 'bundle', attempt: 1, stagedPrefix: 'p/' };
    s3Mock.on(GetObjectCommand).resolves({ Body: body(JSON.stringify(recorded)) });

    // Act
    const info = await sendCommand(event({ kind: 'bundle' }), deps);

    // Assess
    expect(info).toEqual(recorded);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'staging-bucket',
      Key: 'staging/build-2024-01-02/amazon-instance/commands/03-bundle/sent.json',
    });
  });

  it('adopts a command an earlier try sent for the same working directory before it could record it', async () => {
    // Prepare
    ssmMock.on(ListCommandsCommand).resolves({
      Commands: [
        {
          CommandId: 'other',
          DocumentName: 'AmiBuilder-RunStagedCommand',
          Parameters: { workingDirectory: ['/var/lib/ami-builder/build-2024-01-02/02-x509'] },
        },
        {
          CommandId: 'sent-before',
          DocumentName: 'AmiBuilder-RunStagedCommand',
          Parameters: { workingDirectory: ['/var/lib/ami-builder/build-2024-01-02/03-bundle'] },
        },
      ],
    });

    // Act
    const info = await sendCommand(event({ kind: 'bundle' }), deps);

    // Assess
    expect(info.commandId).toBe('sent-before');
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(ListCommandsCommand)[0]?.args[0].input).toMatchObject({
      InstanceId: INSTANCE_ID,
    });
    expect(puts().map((p) => p.Key)).toEqual([
      'staging/build-2024-01-02/amazon-instance/commands/03-bundle/sent.json',
    ]);
  });

  it('stages a provisioner as attempt 1 with its own timeout', async () => {
    // Act
    const info = await sendCommand(event({ kind: 'provision', provisionerIndex: 0 }), deps);

    // Assess
    expect(info).toEqual({
      commandId: COMMAND_ID,
      kind: 'provision',
      provisionerIndex: 0,
      attempt: 1,
      stagedPrefix: 'staging/build-2024-01-02/amazon-instance/commands/01-provision-00-a1/',
    });
    const input = ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input;
    expect(input?.Parameters?.executionTimeout).toEqual(['1800']);
    expect(input?.Comment).toBe('amazon-instance: Provisioner 1 (shell)');
    expect(puts().map((p) => p.Key?.split('/').pop())).toEqual(['run.sh', 'inline.sh', 'sent.json']);
    expect(String(puts()[0]?.Body)).toContain('/tmp/script_42.sh');
  });

  it('counts the next attempt when the Choice comes back to retry the same provisioner', async () => {
    // Prepare
    const previous: CommandInfo = {
      commandId: 'first',
      kind: 'provision',
      provisionerIndex: 0,
      attempt: 1,
      stagedPrefix: 'x/',
    };

    // Act
    const info = await sendCommand(
      event({ kind: 'provision', provisionerIndex: 0 }, { command: previous }),
      deps,
    );

    // Assess
    expect(info.attempt).toBe(2);
    expect(info.stagedPrefix).toMatch(/01-provision-00-a2\/$/);
    expect(ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input.Comment).toBe(
      'amazon-instance: Provisioner 1 (shell) (attempt 2)',
    );
  });

  it('starts at attempt 1 after another provisioner’s command', async () => {
    // Prepare
    const previous: CommandInfo = {
      commandId: 'first',
      kind: 'provision',
      provisionerIndex: 0,
      attempt: 3,
      stagedPrefix: 'x/',
    };
    const config = { provisioners: [shell(), shell({ index: 1 })] };

    // Act
    const info = await sendCommand(
      event({ kind: 'provision', provisionerIndex: 1 }, { command: previous, config }),
      deps,
    );

    // Assess
    expect(info.attempt).toBe(1);
  });

  it('cuts the comment to 100 characters', async () => {
    // Act
    await sendCommand(event({ kind: 'upload' }, { config: { name: 'n'.repeat(150) } }), deps);

    // Assess
    expect(ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input.Comment).toHaveLength(100);
  });

  it('leaves CloudWatch output off when no log group is configured', async () => {
    // Act
    await sendCommand(event({ kind: 'upload' }), { ...deps, env: makeEnvironment({ commandLogGroup: '' }) });

    // Assess
    expect(ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input.CloudWatchOutputConfig).toBeUndefined();
  });

  it('takes the bundle architecture from the instance state', async () => {
    // Act
    await sendCommand(
      event({ kind: 'bundle' }, { instance: { instanceId: INSTANCE_ID, architecture: 'arm64' } }),
      deps,
    );

    // Assess
    expect(String(puts()[0]?.Body)).toContain(' -r arm64 ');
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('asks EC2 for the architecture when the state lacks it', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ Architecture: 'i386' }] }] });

    // Act
    await sendCommand(event({ kind: 'bundle' }, { instance: { instanceId: INSTANCE_ID } }), deps);

    // Assess
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [INSTANCE_ID],
    });
    expect(String(puts()[0]?.Body)).toContain(' -r i386 ');
  });

  it('resolves a file provisioner’s S3 folder and copies each object into files/', async () => {
    // Prepare
    s3Mock.on(HeadObjectCommand).rejects(awsError('NotFound', 'NotFound', 404));
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: 'src/site/' }, { Key: 'src/site/index.html' }, { Key: 'src/site/css/a.css' }],
    });
    const provisioner = {
      type: 'file' as const,
      index: 2,
      name: 'file',
      sources: [{ kind: 's3' as const, bucket: 'assets', key: 'src/site', uri: 's3://assets/src/site' }],
      destination: '/var/www',
      maxRetries: 0,
      timeoutSeconds: 60,
      pauseBeforeSeconds: 0,
    };

    // Act
    await sendCommand(
      event({ kind: 'provision', provisionerIndex: 0 }, { config: { provisioners: [provisioner] } }),
      deps,
    );

    // Assess
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: 'assets',
      Prefix: 'src/site/',
    });
    expect(s3Mock.commandCalls(CopyObjectCommand).map((c) => c.args[0].input.CopySource)).toEqual([
      'assets/src/site/index.html',
      'assets/src/site/css/a.css',
    ]);
    const run = String(puts()[0]?.Body);
    expect(run).toContain('ami_builder_install files/0 /var/www/site/index.html 0644');
    expect(run).toContain('ami_builder_ensure_dir /var/www/site/css');
  });

  it('fails with ProvisionerFailedError when a file source does not exist', async () => {
    // Prepare
    s3Mock.on(HeadObjectCommand).rejects(awsError('NotFound', 'NotFound', 404));
    s3Mock.on(ListObjectsV2Command).resolves({});
    const provisioner = {
      type: 'file' as const,
      index: 0,
      name: 'file',
      sources: [{ kind: 's3' as const, bucket: 'assets', key: 'nope', uri: 's3://assets/nope' }],
      destination: '/tmp/x',
      maxRetries: 0,
      timeoutSeconds: 60,
      pauseBeforeSeconds: 0,
    };

    // Act
    const act = sendCommand(
      event({ kind: 'provision', provisionerIndex: 0 }, { config: { provisioners: [provisioner] } }),
      deps,
    );

    // Assess
    await expect(act).rejects.toThrow(ProvisionerFailedError);
    await expect(act).rejects.toThrow('Provisioner 1 (file): the source s3://assets/nope does not exist');
  });

  it('fails with ProvisionerFailedError when a script object does not exist, and sends nothing', async () => {
    // Prepare
    s3Mock.on(CopyObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));
    const config = {
      provisioners: [
        shell({
          inline: undefined,
          scripts: [{ kind: 's3', bucket: 'b', key: 'gone.sh', uri: 's3://b/gone.sh' }],
        }),
      ],
    };

    // Act
    const act = sendCommand(event({ kind: 'provision', provisionerIndex: 0 }, { config }), deps);

    // Assess
    await expect(act).rejects.toThrow('Provisioner 1 (shell): s3://b/gone.sh does not exist');
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails with X509UploadError when the certificate object does not exist', async () => {
    // Prepare
    s3Mock.on(CopyObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));

    // Act
    const act = sendCommand(event({ kind: 'x509' }), deps);

    // Assess
    await expect(act).rejects.toThrow(X509UploadError);
  });

  it('fails with TaskInputError when an X.509 file is still local, before staging anything', async () => {
    // Prepare
    const cert = { kind: 'local' as const, path: 'x509.cert', uri: 'x509.cert' };

    // Act
    const act = sendCommand(event({ kind: 'x509' }, { config: { x509: { cert } } }), deps);

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails with TemplateValidationError for an environment variable name that is shell syntax', async () => {
    // Prepare
    const config = { provisioners: [shell({ environmentVars: [{ name: 'A;reboot', value: '1' }] })] };

    // Act
    const act = sendCommand(event({ kind: 'provision', provisionerIndex: 0 }, { config }), deps);

    // Assess
    await expect(act).rejects.toThrow(TemplateValidationError);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails with TaskInputError when the task environment lacks the staging bucket', async () => {
    // Act
    const act = sendCommand(event({ kind: 'x509' }), {
      ...deps,
      env: makeEnvironment({ stagingBucket: '' }),
    });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fails with TaskInputError when the state has no instance', async () => {
    // Act
    const act = sendCommand(event({ kind: 'x509' }, { instance: undefined }), deps);

    // Assess
    await expect(act).rejects.toThrow('task input lacks $.instance');
  });
});

describe('sendCommandArgsSchema', () => {
  it('needs a provisioner index for provision', () => {
    // Prepare
    const build = makeBuildState();

    // Act
    const act = () => parseTaskEvent({ build, args: { kind: 'provision' } }, sendCommandArgsSchema);

    // Assess
    expect(act).toThrow(TaskInputError);
    expect(parseTaskEvent({ build, args: { kind: 'upload' } }, sendCommandArgsSchema).args).toEqual({
      kind: 'upload',
    });
  });
});
