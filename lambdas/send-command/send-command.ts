/**
 * Send Provisioner Command / Upload X509 Certificate / Bundle Volume / Upload Bundle / the error-cleanup command /
 * Send Test Command: stages one command folder in the staging bucket and sends the stack's command document to the
 * build instance (the test instance for `ami_test`)
 * (docs/ARCHITECTURE.md, "Staged files and commands"). The instance downloads the folder with its own role and
 * runs its `run.sh`; the command's parameters hold only the folder URL, the working directory and the timeout.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  GetParameterCommand,
  ListCommandsCommand,
  type ListCommandsCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import type { BuildConfig, FileRef } from '../shared/config.js';
import { ProvisionerFailedError, TaskInputError, X509UploadError } from '../shared/errors.js';
import type { Clients, TaskEnvironment } from '../shared/runtime.js';
import { listFileKeys } from '../shared/s3-list.js';
import { commandProvisioner, commandStepName, DELIVERY_TIMEOUT_SECONDS } from '../shared/scripts/command.js';
import { guestRefs } from '../shared/scripts/guest-provisioners.js';
import {
  type CommandKey,
  commandFolder,
  commandWorkingDirectory,
  stagedFolderUrl,
} from '../shared/staging.js';
import type { BuildState, CommandInfo, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';
import { type GuestProvisioner, isGuestProvisioner } from '../shared/template/provisioners/guest-types.js';
import type { GuestInputs } from './guest-plan.js';
import { type PlanInputs, planCommand, type ResolvedSource, refSource, type StagedFile } from './plan.js';

export const sendCommandArgsSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('provision'), provisionerIndex: z.int().check(z.minimum(0)) }),
  z.object({ kind: z.enum(['x509', 'bundle', 'upload', 'error-cleanup', 'test']) }),
]);
export type SendCommandArgs = z.infer<typeof sendCommandArgsSchema>;

export interface SendCommandDeps {
  clients: Pick<Clients, 'ssm' | 's3' | 'ec2'>;
  env: Pick<TaskEnvironment, 'stagingBucket' | 'commandDocument' | 'commandLogGroup'>;
  /** The stack's region, where the staging bucket is (`AWS_REGION` of the Lambda). */
  stagingRegion: string;
  /** Packer's `rand.Intn(9999)` for `script_<n>.sh`. */
  randomSuffix: () => number;
}

/** The marker written after SendCommand: a retried task returns it instead of sending again. */
export const SENT_MARKER = 'sent.json';

const sentSchema = z.object({
  commandId: z.string().check(z.minLength(1)),
  kind: z.enum(['provision', 'x509', 'bundle', 'upload', 'error-cleanup', 'test']),
  provisionerIndex: z.optional(z.int()),
  attempt: z.int().check(z.minimum(1)),
  stagedPrefix: z.string(),
});

/** Every staged object is encrypted at rest with S3-managed keys, whatever the bucket's default. */
const SSE = 'AES256' as const;

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { name?: string }).name : undefined;
}

/**
 * The attempt of this command: one more than `$.command`'s when `$.command` is the same command (the Choice
 * came back for a `max_retries` retry), else 1.
 */
export function commandAttempt(build: BuildState, args: SendCommandArgs): number {
  const previous = build.command;
  const index = args.kind === 'provision' ? args.provisionerIndex : undefined;
  if (previous !== undefined && previous.kind === args.kind && previous.provisionerIndex === index) {
    return previous.attempt + 1;
  }
  return 1;
}

async function readSentMarker(
  s3: S3Client,
  bucket: string,
  folder: string,
): Promise<CommandInfo | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${folder}${SENT_MARKER}` }));
    const text = (await out.Body?.transformToString('utf-8')) ?? '';
    const parsed = sentSchema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as CommandInfo) : undefined;
  } catch (error) {
    if (errorName(error) === 'NoSuchKey' || errorName(error) === 'NotFound') return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * A command already sent for this working directory, in case a previous try sent it but failed before writing
 * the marker (the working directory is unique per execution, build and attempt).
 */
async function findSentCommand(
  ssm: SSMClient,
  document: string,
  instanceId: string,
  workingDirectory: string,
): Promise<string | undefined> {
  let token: string | undefined;
  let pages = 0;
  do {
    const page: ListCommandsCommandOutput = await ssm.send(
      new ListCommandsCommand({ InstanceId: instanceId, MaxResults: 50, NextToken: token }),
    );
    const match = page.Commands?.find(
      (c) => c.DocumentName === document && c.Parameters?.workingDirectory?.[0] === workingDirectory,
    );
    if (match?.CommandId !== undefined) return match.CommandId;
    token = page.NextToken;
    pages += 1;
  } while (token !== undefined && pages < 10);
  return undefined;
}

function basename(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchKey') return false;
    throw error;
  }
}

/** Resolves a file provisioner's S3 source to a file, a folder's contents, or a folder (see {@link ResolvedSource}). */
async function resolveFileSource(
  s3: S3Client,
  ref: FileRef,
  step: string,
  what: string,
): Promise<ResolvedSource> {
  const source = refSource(ref, what, false);
  if (source.kind !== 's3') throw new TaskInputError(`${what} must be an s3:// reference`);
  const { bucket, key } = source;
  const name = basename(key);
  if (key.endsWith('/') || key === '') {
    const keys = await listFileKeys(s3, bucket, key);
    if (keys.length === 0)
      throw new ProvisionerFailedError(`${step}: the folder ${ref.uri} holds no objects`);
    return {
      uri: ref.uri,
      bucket,
      layout: 'contents',
      basename: name,
      objects: keys.map((k) => ({ key: k, relative: k.slice(key.length) })),
    };
  }
  if (await objectExists(s3, bucket, key)) {
    return { uri: ref.uri, bucket, layout: 'file', basename: name, objects: [{ key, relative: '' }] };
  }
  const keys = await listFileKeys(s3, bucket, `${key}/`);
  if (keys.length === 0) {
    throw new ProvisionerFailedError(`${step}: the source ${ref.uri} does not exist (no object, no folder)`);
  }
  return {
    uri: ref.uri,
    bucket,
    layout: 'directory',
    basename: name,
    objects: keys.map((k) => ({ key: k, relative: k.slice(key.length + 1) })),
  };
}

async function instanceArchitecture(
  deps: SendCommandDeps,
  build: BuildState,
  instanceId: string,
): Promise<string> {
  const known = build.instance?.architecture;
  if (known !== undefined && known !== '') return known;
  const out = await deps.clients
    .ec2(build.config.region)
    .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const architecture = out.Reservations?.[0]?.Instances?.[0]?.Architecture ?? build.source?.architecture;
  if (architecture === undefined) throw new TaskInputError(`the architecture of ${instanceId} is unknown`);
  return architecture;
}

/** A guest provisioner's uploads, resolved as file-provisioner sources, and chef-solo's config template text. */
async function resolveGuestInputs(
  s3: S3Client,
  provisioner: GuestProvisioner,
  step: string,
  keyPath: string,
): Promise<GuestInputs> {
  const uploads =
    provisioner.type === 'chef-solo' || provisioner.type === 'salt-masterless'
      ? provisioner.uploads.map((upload) => ({ ref: upload.ref, what: upload.key }))
      : guestRefs(provisioner).map((ref, i) => ({ ref, what: `${keyPath}.files[${i}]` }));
  const sources: ResolvedSource[] = [];
  for (const { ref, what } of uploads) {
    sources.push(await resolveFileSource(s3, ref, step, what));
  }
  if (provisioner.type !== 'chef-solo' || provisioner.configTemplate === undefined) return { sources };
  const source = refSource(provisioner.configTemplate, 'config_template', false);
  if (source.kind !== 's3') throw new TaskInputError('config_template must be an s3:// reference');
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }));
    return { sources, configTemplate: (await out.Body?.transformToString('utf-8')) ?? '' };
  } catch (error) {
    if (errorName(error) === 'NoSuchKey' || errorName(error) === 'NotFound') {
      throw new ProvisionerFailedError(
        `${step}: Bad config template path: ${provisioner.configTemplate.uri} does not exist`,
      );
    }
    throw error;
  }
}

async function planInputs(
  deps: SendCommandDeps,
  build: BuildState,
  key: CommandKey,
  instanceId: string,
): Promise<PlanInputs> {
  const inputs: PlanInputs = { key, scriptSuffix: deps.randomSuffix() };
  const provisioner = commandProvisioner(build.config, key);
  if (provisioner !== undefined && provisioner.type !== 'shell') {
    const s3 = deps.clients.s3(deps.stagingRegion);
    const step = commandStepName(build.config, key);
    const keyPath =
      key.kind === 'error-cleanup' ? 'error-cleanup-provisioner' : `provisioners[${provisioner.index}]`;
    if (isGuestProvisioner(provisioner)) {
      inputs.guest = await resolveGuestInputs(s3, provisioner, step, keyPath);
    } else {
      inputs.fileSources = [];
      for (const [i, ref] of provisioner.sources.entries()) {
        inputs.fileSources.push(await resolveFileSource(s3, ref, step, `${keyPath}.sources[${i}]`));
      }
    }
  }
  if (key.kind === 'bundle') inputs.architecture = await instanceArchitecture(deps, build, instanceId);
  return inputs;
}

/** `CopySource` of CopyObject: `bucket/key`, the key URL-encoded segment by segment. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function readSecureString(deps: SendCommandDeps, config: BuildConfig, name: string, step: string) {
  // A parameter ARN names its region; a plain name is looked up in the build region.
  const arnRegion = /^arn:aws[a-z-]*:ssm:([a-z0-9-]+):/.exec(name)?.[1];
  try {
    const out = await deps.clients
      .ssm(arnRegion ?? config.region)
      .send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = out.Parameter?.Value;
    if (value === undefined || value === '')
      throw new X509UploadError(`${step}: the parameter ${name} is empty`);
    return value;
  } catch (error) {
    if (errorName(error) === 'ParameterNotFound') {
      throw new X509UploadError(
        `${step}: the SSM parameter ${name} does not exist in ${arnRegion ?? config.region}`,
      );
    }
    throw error;
  }
}

async function stageFile(
  deps: SendCommandDeps,
  config: BuildConfig,
  folder: string,
  file: StagedFile,
  step: string,
): Promise<void> {
  const s3 = deps.clients.s3(deps.stagingRegion);
  const Bucket = deps.env.stagingBucket;
  const Key = `${folder}${file.name}`;
  const { source } = file;
  switch (source.kind) {
    case 'text':
      await s3.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: source.body,
          ContentType: 'text/plain',
          ServerSideEncryption: SSE,
        }),
      );
      return;
    case 'ssm': {
      const body = await readSecureString(deps, config, source.name, step);
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ServerSideEncryption: SSE }));
      return;
    }
    case 's3':
      try {
        await s3.send(
          new CopyObjectCommand({
            Bucket,
            Key,
            CopySource: copySource(source.bucket, source.key),
            // Not copying the source's tags means the task needs no tagging permissions on either bucket.
            TaggingDirective: 'REPLACE',
            ServerSideEncryption: SSE,
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'NoSuchKey') throw error;
        const uri = `s3://${source.bucket}/${source.key}`;
        const message = `${step}: ${uri} does not exist`;
        throw file.name.endsWith('.pem') ? new X509UploadError(message) : new ProvisionerFailedError(message);
      }
      return;
  }
}

/**
 * Stages and sends one command; returns its {@link CommandInfo} for `$.command`.
 *
 * Idempotent: the folder is named by execution, build, command and attempt. When its `sent.json` exists (a retry
 * after a send), or the instance already has a command for its working directory, that command is returned and
 * nothing is sent again.
 *
 * @throws TaskInputError when the state lacks `$.instance` (or `$.source` for `bundle`), or a file is local.
 * @throws TemplateValidationError when a value cannot be placed in a script safely.
 * @throws ProvisionerFailedError / X509UploadError when a file to stage does not exist.
 */
export async function sendCommand(
  event: TaskEvent<SendCommandArgs>,
  deps: SendCommandDeps,
): Promise<CommandInfo> {
  const { build, args } = event;
  const { config } = build;
  if (deps.env.stagingBucket === '' || deps.env.commandDocument === '') {
    throw new TaskInputError('STAGING_BUCKET and COMMAND_DOCUMENT must be set in the task environment');
  }
  // The ami_test commands run on the instance launched from the new AMI; every other command on the build's.
  const { instanceId } = requireState(build, args.kind === 'test' ? 'testInstance' : 'instance');
  const key: CommandKey = {
    kind: args.kind,
    ...(args.kind === 'provision' ? { provisionerIndex: args.provisionerIndex } : {}),
    attempt: commandAttempt(build, args),
  };
  // Fail on a bad index before anything is staged.
  const step = commandStepName(config, key);
  const folder = commandFolder(build, key);
  const workingDirectory = commandWorkingDirectory(build.execution.name, key);
  const s3 = deps.clients.s3(deps.stagingRegion);
  const ssm = deps.clients.ssm(config.region);
  const bucket = deps.env.stagingBucket;
  const info = (commandId: string): CommandInfo => ({
    commandId,
    kind: key.kind,
    ...(key.provisionerIndex === undefined ? {} : { provisionerIndex: key.provisionerIndex }),
    attempt: key.attempt,
    stagedPrefix: folder,
  });
  const writeMarker = (value: CommandInfo) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${folder}${SENT_MARKER}`,
        Body: JSON.stringify(value),
        ContentType: 'application/json',
        ServerSideEncryption: SSE,
      }),
    );

  const sent = await readSentMarker(s3, bucket, folder);
  if (sent !== undefined) return sent;
  const earlier = await findSentCommand(ssm, deps.env.commandDocument, instanceId, workingDirectory);
  if (earlier !== undefined) {
    await writeMarker(info(earlier));
    return info(earlier);
  }

  const plan = planCommand(build, await planInputs(deps, build, key, instanceId));
  for (const file of plan.files) await stageFile(deps, config, folder, file, step);

  const out = await ssm.send(
    new SendCommandCommand({
      DocumentName: deps.env.commandDocument,
      InstanceIds: [instanceId],
      Comment: plan.comment,
      TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
      Parameters: {
        sourceInfo: [JSON.stringify({ path: stagedFolderUrl(deps.stagingRegion, bucket, folder) })],
        workingDirectory: [workingDirectory],
        executionTimeout: [String(plan.timeoutSeconds)],
      },
      ...(deps.env.commandLogGroup === ''
        ? {}
        : {
            CloudWatchOutputConfig: {
              CloudWatchLogGroupName: deps.env.commandLogGroup,
              CloudWatchOutputEnabled: true,
            },
          }),
    }),
  );
  const commandId = out.Command?.CommandId;
  if (commandId === undefined) throw new Error('SendCommand returned no command id');
  const result = info(commandId);
  await writeMarker(result);
  return result;
}
