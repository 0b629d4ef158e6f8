/**
 * One `amazon-instance` builder object → the build's {@link BuildConfig} (without provisioners and
 * post-processors, which are template-level). Every check Packer's `Prepare` makes is made here with Packer's
 * message (packer-plugin-amazon `builder/instance/builder.go`, `builder/common/{access,ami,run}_config.go`,
 * `block_device.go`; SDK `communicator/config.go`), plus the checks this system needs: values that reach a
 * shell unquoted, files the workflow can read, and the state size.
 */
import type {
  BlockDeviceMapping,
  BuildConfig,
  FileRef,
  Filters,
  MetadataOptions,
  NetworkConfig,
  OnError,
  SourceAmiFilter,
} from '../config.js';
import { SHELL_SAFE } from '../shell.js';
import {
  BUNDLE_UPLOAD_VARIABLES,
  BUNDLE_VOL_VARIABLES,
  DEFAULT_BUNDLE_UPLOAD_COMMAND,
  DEFAULT_BUNDLE_VOL_COMMAND,
} from './bundle-commands.js';
import {
  type Decoded,
  decodeFields,
  describeValue,
  hasControlCharacter,
  type Path,
  type Renderer,
  type Report,
  truncate,
} from './decode.js';
import type { RawBuilder } from './input.js';
import { BUILDER_KEY_MAP, type FieldSpec, type KeySpec } from './keys.js';
import { BUILD_VARIABLE_NAMES } from './late.js';
import { checkLate, type RenderEnv, renderEarly } from './render.js';

/** What a builder needs besides its own keys. */
export interface BuilderContext {
  mode: 'workflow' | 'cli';
  env: RenderEnv;
  report: Report;
  /** CLI only: stats a local file; returns Go's error text (`stat x: no such file or directory`) or undefined. */
  checkLocalFile?: (path: string) => string | undefined;
}

/** The builder part of a build's configuration, and the user variables its late strings reference. */
export interface BuilderResult {
  config: Omit<BuildConfig, 'provisioners' | 'errorCleanupProvisioner' | 'postProcessors' | 'lateVariables'>;
  lateUserVariables: Set<string>;
}

/** Packer's `ami_name` alphabet (`templateCleanAMIName`). */
const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const ACCOUNT_ID = /^\d{12}$/;
const UNIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;
const INSTANCE_PROFILE = /^[\w+=,.@-]{1,128}$/;
const SSM_PARAMETER = /^\/[A-Za-z0-9_.\-/]{1,2047}$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** AWS limits: 50 tags per resource; run tags leave room for the ownership tags every resource gets. */
const MAX_TAGS = 50;
const RESERVED_RUN_TAGS = 4;
/** SSM commands run at most 48 hours. */
export const MAX_COMMAND_SECONDS = 172_800;
/** The agent wait counts toward the execution history (25,000 events): a few hours at most. */
const MAX_AGENT_WAIT_SECONDS = 3 * 3600;

const SHELL_SAFE_TEXT = 'letters, digits and _ . / : @ % + = , -';

/** Reports a value that would reach a shell unquoted but has other characters than {@link SHELL_SAFE}. */
export function checkShellSafe(value: string, key: string, path: Path, report: Report, why: string): boolean {
  if (SHELL_SAFE.test(value)) return true;
  report.error(path, `${key} ${describeValue(value)} may only contain ${SHELL_SAFE_TEXT}: ${why}`);
  return false;
}

const UNQUOTED = 'it is substituted unquoted into the bundle commands';
/** The reason the SSH keys are ignored (keys.ts), shared by `communicator`. */
const SSH_IGNORED = BUILDER_KEY_MAP.get('ssh_port')?.ignored ?? 'commands run through SSM Run Command';

function checkAbsoluteDirectory(value: string, key: string, path: Path, report: Report): boolean {
  if (!checkShellSafe(value, key, path, report, UNQUOTED)) return false;
  if (!value.startsWith('/') || value.split('/').includes('..')) {
    report.error(
      path,
      `${key} must be an absolute directory on the instance (e.g. /tmp), got ${describeValue(value)}`,
    );
    return false;
  }
  return true;
}

/** Why an S3 bucket name is invalid (AWS general-purpose bucket naming rules), or undefined. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'it must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'it may only contain lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit';
  }
  if (name.includes('..')) return 'it must not contain two adjacent periods';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'it must not look like an IP address';
  if (name.startsWith('xn--') || name.startsWith('sthree-'))
    return 'it must not start with "xn--" or "sthree-"';
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3'))
    return 'it must not end with "-s3alias" or "--ol-s3"';
  return undefined;
}

export interface FileRefOptions {
  mode: 'workflow' | 'cli';
  /** The key, for messages (`x509_cert_path`). */
  key: string;
  /** `ssm:/name` (SSM SecureString) is accepted. */
  allowSsm?: boolean;
  /** An S3 key ending in `/` names a folder. */
  allowFolder?: boolean;
  checkLocalFile?: (path: string) => string | undefined;
  /** Packer's message when the local file cannot be read (`x509_cert_path points to bad file: <err>`). */
  badLocal: (error: string) => string;
}

/**
 * `s3://bucket/key`, `ssm:/name` or (CLI only) a local path → a {@link FileRef}. In the workflow a local path
 * is an error that says what to do instead.
 */
export function parseFileRef(
  value: string,
  path: Path,
  report: Report,
  options: FileRefOptions,
): FileRef | undefined {
  const kinds = options.allowSsm === true ? 's3://bucket/key or ssm:/parameter-name' : 's3://bucket/key';
  if (value.startsWith('s3://')) {
    const rest = value.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1);
    const problem = bucketNameProblem(bucket);
    if (problem !== undefined) {
      report.error(
        path,
        `${options.key}: ${describeValue(bucket)} is not a valid S3 bucket name: ${problem}`,
      );
      return undefined;
    }
    if (key === '' || (key.endsWith('/') && options.allowFolder !== true)) {
      report.error(path, `${options.key}: ${describeValue(value)} names no object; expected ${kinds}`);
      return undefined;
    }
    if (key.length > 1024 || hasControlCharacter(key)) {
      report.error(
        path,
        `${options.key}: the S3 key of ${describeValue(value)} must be at most 1024 characters, without control characters`,
      );
      return undefined;
    }
    return { kind: 's3', bucket, key, uri: value };
  }
  if (value.startsWith('ssm:')) {
    const name = value.slice('ssm:'.length);
    if (options.allowSsm !== true) {
      report.error(
        path,
        `${options.key}: SSM parameters are only accepted for x509_cert_path and x509_key_path; expected ${kinds}`,
      );
      return undefined;
    }
    if (!SSM_PARAMETER.test(name) || /^\/(aws|ssm)/i.test(name)) {
      report.error(
        path,
        `${options.key}: ${describeValue(value)} is not an SSM parameter reference; expected ssm:/path/name (letters, digits, _ . - /)`,
      );
      return undefined;
    }
    return { kind: 'ssm', name, uri: value };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
    report.error(
      path,
      `${options.key}: ${describeValue(value)} uses an unsupported scheme; expected ${kinds}`,
    );
    return undefined;
  }
  if (value.includes('\u0000')) {
    report.error(path, `${options.key}: a path must not contain NUL characters`);
    return undefined;
  }
  if (options.mode === 'workflow') {
    report.error(
      path,
      `${options.key}: ${describeValue(value)} is a local path, but the workflow reads files only from S3 (${kinds}); \`ami-builder build\` uploads local files for you`,
    );
    return undefined;
  }
  const error = options.checkLocalFile?.(value);
  if (error !== undefined) {
    report.error(path, options.badLocal(error));
    return undefined;
  }
  return { kind: 'local', path: value, uri: value };
}

/** Go's `net.ParseCIDR`, enough to tell a CIDR from something else. */
export function isCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4 !== null) return v4.slice(1).every((o) => Number(o) <= 255 && !/^0\d/.test(o)) && Number(bits) <= 32;
  if (!address.includes(':') || Number(bits) > 128) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

/** Go's `time.Parse(time.RFC3339, v)`. */
function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

/** Packer's `ValidateKmsKey` (builder/common/ami_config.go). */
function isKmsKey(key: string): boolean {
  const keyId = '[a-f0-9]+[a-f0-9-]+$';
  const mrk = 'mrk-[a-f0-9]+[a-f0-9-]+$';
  const alias = 'alias/[a-zA-Z0-9:/_-]+$';
  const arn = '^arn:aws(-us-gov)?:kms:([a-z]{2}-(gov-)?[a-z]+-\\d{1})?:(\\d{12}):';
  return [
    `^${keyId}`,
    `^${mrk}`,
    `^${alias}`,
    `${arn}key/${keyId}`,
    `${arn}key/${mrk}`,
    `${arn}${alias}`,
  ].some((p) => new RegExp(p).test(key));
}

/** CSV as Go's `encoding/csv` reads one record with `TrimLeadingSpace` and `LazyQuotes`. */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i += 1;
    let field = '';
    if (text[i] === '"') {
      i += 1;
      for (; i < text.length; i += 1) {
        if (text[i] === '"' && text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else if (text[i] === '"' && (text[i + 1] === ',' || i + 1 === text.length)) {
          i += 1;
          break;
        } else {
          field += text[i];
        }
      }
    } else {
      const comma = text.indexOf(',', i);
      field = comma < 0 ? text.slice(i) : text.slice(i, comma);
      i = comma < 0 ? text.length : comma;
    }
    fields.push(field);
    if (text[i] !== ',') return fields;
    i += 1;
  }
}

function decodeFilters(d: Decoded | undefined, key: string, report: Report): Filters | undefined {
  const filters = d?.map('filters');
  if (d === undefined || filters === undefined) return undefined;
  const result: Filters = {};
  for (const [name, value] of Object.entries(filters)) {
    if (value === '') {
      report.error([...d.at('filters'), name], `${key}: a filter needs at least one value`);
      continue;
    }
    Object.defineProperty(result, name, {
      value: splitCsv(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

function warnGrouped(keys: string[], path: Path, report: Report, reason: string) {
  if (keys.length === 0) return;
  report.warn(path, `${keys.join(', ')}: accepted but ignored: ${reason}`);
}

function blockDevices(list: Decoded[] | undefined, report: Report): BlockDeviceMapping[] {
  const result: BlockDeviceMapping[] = [];
  for (const d of list ?? []) {
    const deviceName = d.nonEmpty('device_name');
    if (deviceName === undefined) {
      if (!d.failed.has('device_name')) {
        report.error(
          d.path,
          'The `device_name` must be specified for every device in the block device mapping.',
        );
      }
      continue;
    }
    const volumeType = d.nonEmpty('volume_type');
    const iops = d.number('iops');
    const size = d.number('volume_size');
    const throughput = d.number('throughput');
    if (d.nonEmpty('kms_key_id') !== undefined && d.boolean('encrypted') === false) {
      report.error(
        d.path,
        `The device ${deviceName}, must also have \`encrypted: true\` when setting a kms_key_id.`,
      );
    }
    const ratio = volumeType === 'io1' ? 50 : volumeType === 'io2' ? 500 : undefined;
    if (ratio !== undefined && size !== undefined && size !== 0 && iops !== undefined) {
      if (Math.trunc(iops / size) > ratio) {
        report.error(
          d.path,
          `${deviceName}: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is ${ratio}:1 for ${volumeType} volumes`,
        );
      }
      if (iops < 100 || iops > 64000)
        report.error(d.path, `IOPS must be between 100 and 64000 for device ${deviceName}`);
    }
    if (volumeType === 'gp3') {
      if (throughput !== undefined && (throughput < 125 || throughput > 1000)) {
        report.error(d.path, `Throughput must be between 125 and 1000 for device ${deviceName}`);
      }
      if (iops !== undefined && (iops < 3000 || iops > 16000)) {
        report.error(d.path, `IOPS must be between 3000 and 16000 for device ${deviceName}`);
      }
    } else if (throughput !== undefined) {
      report.error(
        d.path,
        `Throughput is only valid for gp3 volumes, ${JSON.stringify(deviceName)} is of type ${volumeType ?? ''}`,
      );
    }
    const mapping: BlockDeviceMapping = { deviceName };
    const virtualName = d.nonEmpty('virtual_name');
    if (virtualName !== undefined) mapping.virtualName = virtualName;
    const snapshotId = d.nonEmpty('snapshot_id');
    if (snapshotId !== undefined) mapping.snapshotId = snapshotId;
    if (volumeType !== undefined) mapping.volumeType = volumeType;
    if (size !== undefined && size !== 0) mapping.volumeSize = size;
    const del = d.boolean('delete_on_termination');
    if (del !== undefined) mapping.deleteOnTermination = del;
    const noDevice = d.boolean('no_device');
    if (noDevice !== undefined) mapping.noDevice = noDevice;
    if (iops !== undefined && iops !== 0) mapping.iops = iops;
    if (throughput !== undefined && throughput !== 0 && volumeType === 'gp3') mapping.throughput = throughput;
    const encrypted = d.boolean('encrypted');
    if (encrypted !== undefined) mapping.encrypted = encrypted;
    const kms = d.nonEmpty('kms_key_id');
    if (kms !== undefined) mapping.kmsKeyId = kms;
    result.push(mapping);
  }
  return result;
}

/** Tags from a map and `{ key, value }` blocks (blocks win, as Packer's `CopyOn`), with AWS's limits. */
function mergeTags(
  d: Decoded,
  mapKey: string,
  blockKey: string,
  report: Report,
  limit: number,
  reservedPrefix?: string,
): Record<string, string> {
  const entries = new Map(Object.entries(d.map(mapKey) ?? {}));
  for (const block of d.objects(blockKey) ?? []) {
    const key = block.string('key');
    if (key === undefined || key === '') {
      if (!block.failed.has('key')) report.error(block.path, `${blockKey}: a tag needs a non-empty "key"`);
      continue;
    }
    entries.set(key, block.string('value') ?? '');
  }
  for (const [key, value] of entries) {
    const at = d.at(mapKey);
    if (key === '') report.error(at, `${mapKey}: tag keys must not be empty`);
    else if (!key.includes('{{') && key.toLowerCase().startsWith('aws:')) {
      report.error(at, `${mapKey}: tag key ${describeValue(key)} uses the prefix "aws:", which AWS reserves`);
    } else if (reservedPrefix !== undefined && key.startsWith(reservedPrefix)) {
      report.error(
        at,
        `${mapKey}: tag key ${describeValue(key)} uses the prefix "${reservedPrefix}", which this system reserves`,
      );
    } else if (!key.includes('{{') && key.length > 128) {
      report.error(at, `${mapKey}: tag key ${describeValue(key)} is longer than 128 characters`);
    } else if (!value.includes('{{') && value.length > 256) {
      report.error(at, `${mapKey}: the value of tag ${describeValue(key)} is longer than 256 characters`);
    }
  }
  if (entries.size > limit)
    report.error(d.at(mapKey), `${mapKey}: ${entries.size} tags; AWS allows at most ${limit} here`);
  return Object.fromEntries(entries);
}

/** Renders and decodes the builder's keys: early keys rendered, late keys parsed, secrets untouched. */
function decodeBuilder(builder: RawBuilder, ctx: BuilderContext, lateUserVariables: Set<string>): Decoded {
  const depth = builder.path.length;
  const rendererFor = (_spec: FieldSpec, path: Path): Renderer | undefined => {
    const top = BUILDER_KEY_MAP.get(String(path[depth]));
    if (top === undefined || top.secret === true) return undefined;
    if (top.late === true) {
      const isBundle = top.key === 'bundle_vol_command' || top.key === 'bundle_upload_command';
      if (isBundle) return undefined;
      return (text, at) => {
        const names = checkLate(text, at, ctx.report, ctx.env, {
          allowed: BUILD_VARIABLE_NAMES,
          describe: top.key,
        });
        if (names === undefined) return undefined;
        for (const name of names) lateUserVariables.add(name);
        return text;
      };
    }
    return (text, at) => renderEarly(text, at, ctx.report, ctx.env);
  };
  // Packer's decoder ignores unknown keys starting with `packer_` (its own internal keys).
  const internal = Object.keys(builder.record).filter(
    (k) => k.startsWith('packer_') && !BUILDER_KEY_MAP.has(k),
  );
  if (internal.length > 0) {
    ctx.report.warn(
      builder.path,
      `${internal.sort().join(', ')}: Packer's internal keys are ignored, as Packer ignores them`,
    );
  }
  const record = Object.fromEntries(
    Object.keys(builder.record)
      .filter((k) => !internal.includes(k))
      .map((k) => [k, builder.record[k]]),
  );
  if (Object.hasOwn(record, 'enhanced_networking')) {
    ctx.report.warn(
      [...builder.path, 'enhanced_networking'],
      'enhanced_networking is retired; it is read as ena_support, as `packer fix` rewrites it',
    );
  }
  return decodeFields(record, BUILDER_KEY_MAP, builder.path, ctx.report, { rendererFor });
}

function reportIgnoredKeys(d: Decoded, report: Report) {
  const credentials: string[] = [];
  const byReason = new Map<string, string[]>();
  for (const key of d.present) {
    const spec: KeySpec | undefined = BUILDER_KEY_MAP.get(key);
    if (spec === undefined) continue;
    // `communicator` is not ignored (winrm is an error), but ssh or none changes nothing either.
    const reason =
      key === 'communicator' && d.string('communicator') !== 'winrm' ? SSH_IGNORED : spec.ignored;
    if (spec.credential === true) credentials.push(key);
    else if (reason !== undefined) byReason.set(reason, [...(byReason.get(reason) ?? []), key]);
  }
  if (credentials.length > 0) {
    report.warn(
      d.path,
      `${credentials.sort().join(', ')}: credentials in the template are not used; the build runs with the workflow's IAM role and the instance profile. They are dropped from the build configuration and never logged.`,
    );
  }
  for (const [reason, keys] of byReason) warnGrouped(keys.sort(), d.path, report, reason);
}

function checkBundleCommand(
  d: Decoded,
  key: 'bundle_vol_command' | 'bundle_upload_command',
  ctx: BuilderContext,
  lateUserVariables: Set<string>,
): string {
  const allowed = key === 'bundle_vol_command' ? BUNDLE_VOL_VARIABLES : BUNDLE_UPLOAD_VARIABLES;
  const text =
    d.nonEmpty(key) ??
    (key === 'bundle_vol_command' ? DEFAULT_BUNDLE_VOL_COMMAND : DEFAULT_BUNDLE_UPLOAD_COMMAND);
  if (!d.has(key)) return text;
  const names = checkLate(text, d.at(key), ctx.report, ctx.env, { allowed, describe: key });
  if (names === undefined) return text;
  for (const name of names) lateUserVariables.add(name);
  if (key === 'bundle_upload_command') {
    if (text.includes('S3Endpoint')) {
      ctx.report.warn(
        d.at(key),
        '{{.S3Endpoint}} was retired by Packer in 2014 (it fails there); it renders as the regional endpoint https://s3.<region>.amazonaws.com — prefer --region {{.Region}}',
      );
    }
    if (/\.(AccessKey|SecretKey)\b/.test(text) && !/\.Token\b/.test(text)) {
      ctx.report.warn(
        d.at(key),
        "bundle_upload_command passes {{.AccessKey}}/{{.SecretKey}} without -t {{.Token}}: the instance profile's credentials are temporary, so ec2-upload-bundle needs the session token (packer#3114)",
      );
    }
  }
  return text;
}

/** Validates one builder and returns its part of the build configuration (undefined when it has errors). */
export function buildBuilderConfig(
  builder: RawBuilder,
  name: string,
  ctx: BuilderContext,
): BuilderResult | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  const lateUserVariables = new Set<string>();
  const d = decodeBuilder(builder, ctx, lateUserVariables);
  reportIgnoredKeys(d, report);
  const missing = (key: string, message: string) => {
    if (!d.present.has(key) || (d.string(key) === '' && !d.failed.has(key))) report.error(d.at(key), message);
  };

  // ---- Access ----
  missing('region', 'region is required');
  const region = d.nonEmpty('region') ?? '';
  if (region !== '' && !REGION.test(region))
    report.error(d.at('region'), `Unknown region: ${truncate(region, 80)}`);
  if ((d.nonEmpty('access_key') !== undefined) !== (d.nonEmpty('secret_key') !== undefined)) {
    report.error(d.path, '`access_key` and `secret_key` must both be either set or not set.');
  }
  if (d.any('vault_aws_engine') !== undefined && d.nonEmpty('access_key') !== undefined) {
    report.error(d.path, 'If you have set vault_aws_engine, you must not set the access_key or secret_key.');
  }
  const polling = d.object('aws_polling');
  const delay = polling?.number('delay_seconds') || undefined;
  const attempts = polling?.number('max_attempts') || undefined;

  // ---- amazon-instance ----
  let accountId: string | undefined;
  const rawAccount = d.nonEmpty('account_id');
  if (rawAccount !== undefined) {
    accountId = rawAccount.replaceAll('-', '');
    if (!ACCOUNT_ID.test(accountId)) {
      report.error(
        d.at('account_id'),
        `account_id must be a 12-digit AWS account id (dashes are removed), got ${describeValue(rawAccount)}`,
      );
    }
  }

  missing('s3_bucket', 's3_bucket is required');
  let bucket = '';
  let keyPrefix = '';
  const rawBucket = d.nonEmpty('s3_bucket');
  if (rawBucket !== undefined) {
    const slash = rawBucket.indexOf('/');
    bucket = slash < 0 ? rawBucket : rawBucket.slice(0, slash);
    keyPrefix = slash < 0 ? '' : rawBucket.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    const problem = bucketNameProblem(bucket);
    if (problem !== undefined) {
      report.error(
        d.at('s3_bucket'),
        `s3_bucket: ${describeValue(bucket)} is not a valid S3 bucket name: ${problem}`,
      );
    } else if (keyPrefix !== '') {
      const segments = keyPrefix.split('/');
      if (segments.some((s) => s === '' || s === '.' || s === '..')) {
        report.error(
          d.at('s3_bucket'),
          `s3_bucket: the key prefix ${describeValue(keyPrefix)} has an empty, "." or ".." segment`,
        );
      } else {
        checkShellSafe(keyPrefix, 's3_bucket', d.at('s3_bucket'), report, UNQUOTED);
      }
    }
  }

  const fileOptions = (key: string) => ({
    mode: ctx.mode,
    key,
    checkLocalFile: ctx.checkLocalFile,
  });
  missing('x509_cert_path', 'x509_cert_path is required');
  missing('x509_key_path', 'x509_key_path is required');
  const certText = d.nonEmpty('x509_cert_path');
  const keyText = d.nonEmpty('x509_key_path');
  const cert =
    certText === undefined
      ? undefined
      : parseFileRef(certText, d.at('x509_cert_path'), report, {
          ...fileOptions('x509_cert_path'),
          allowSsm: true,
          badLocal: (e) => `x509_cert_path points to bad file: ${e}`,
        });
  const key =
    keyText === undefined
      ? undefined
      : parseFileRef(keyText, d.at('x509_key_path'), report, {
          ...fileOptions('x509_key_path'),
          allowSsm: true,
          badLocal: (e) => `x509_key_path points to bad file: ${e}`,
        });
  const uploadPath = d.nonEmpty('x509_upload_path') ?? '/tmp';
  if (d.has('x509_upload_path'))
    checkAbsoluteDirectory(uploadPath, 'x509_upload_path', d.at('x509_upload_path'), report);
  const destination = d.nonEmpty('bundle_destination') ?? '/tmp';
  if (d.has('bundle_destination'))
    checkAbsoluteDirectory(destination, 'bundle_destination', d.at('bundle_destination'), report);
  let prefix = d.nonEmpty('bundle_prefix');
  if (prefix === undefined && !d.failed.has('bundle_prefix')) {
    prefix = renderEarly('image-{{timestamp}}', d.at('bundle_prefix'), report, ctx.env) ?? 'image';
  }
  if (prefix !== undefined && d.has('bundle_prefix')) {
    if (
      checkShellSafe(prefix, 'bundle_prefix', d.at('bundle_prefix'), report, UNQUOTED) &&
      prefix.includes('/')
    ) {
      report.error(
        d.at('bundle_prefix'),
        `bundle_prefix is a file name prefix and must not contain "/", got ${describeValue(prefix)}`,
      );
    }
  }
  const volCommand = checkBundleCommand(d, 'bundle_vol_command', ctx, lateUserVariables);
  const uploadCommand = checkBundleCommand(d, 'bundle_upload_command', ctx, lateUserVariables);

  // ---- AMI ----
  const amiName = d.string('ami_name');
  if (!d.failed.has('ami_name')) {
    if (amiName === undefined || amiName === '') report.error(d.at('ami_name'), 'ami_name must be specified');
    const length = amiName?.length ?? 0;
    if (length < 3 || length > 128)
      report.error(d.at('ami_name'), 'ami_name must be between 3 and 128 characters long');
    if (amiName !== undefined && !AMI_NAME.test(amiName)) {
      report.error(
        d.at('ami_name'),
        "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
      );
    }
  }
  const virtualization = d.nonEmpty('ami_virtualization_type') as 'hvm' | 'paravirtual' | undefined;
  const amiUsers = d.list('ami_users') ?? [];
  for (const user of amiUsers) {
    if (!ACCOUNT_ID.test(user))
      report.error(d.at('ami_users'), `ami_users: ${describeValue(user)} is not a 12-digit AWS account id`);
  }
  const amiGroups = d.list('ami_groups') ?? [];
  for (const group of amiGroups) {
    if (group !== 'all')
      report.error(
        d.at('ami_groups'),
        `ami_groups: ${describeValue(group)} is not accepted by AWS; the only group is "all"`,
      );
  }
  const orgArns = d.list('ami_org_arns') ?? [];
  for (const arn of orgArns) {
    if (!/^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/.test(arn)) {
      report.error(
        d.at('ami_org_arns'),
        `ami_org_arns: ${describeValue(arn)} is not an organization ARN (arn:aws:organizations::123456789012:organization/o-…)`,
      );
    }
  }
  const ouArns = d.list('ami_ou_arns') ?? [];
  for (const arn of ouArns) {
    if (
      !/^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/.test(
        arn,
      )
    ) {
      report.error(
        d.at('ami_ou_arns'),
        `ami_ou_arns: ${describeValue(arn)} is not an organizational-unit ARN (arn:aws:organizations::123456789012:ou/o-…/ou-…)`,
      );
    }
  }
  const regionKmsKeyIds = d.map('region_kms_key_ids') ?? {};
  const rawRegions = d.list('ami_regions') ?? [];
  const amiRegions: string[] = [];
  for (const r of rawRegions) {
    if (amiRegions.includes(r)) continue;
    if (!REGION.test(r)) {
      report.error(d.at('ami_regions'), `ami_regions: Unknown region: ${truncate(r, 80)}`);
      continue;
    }
    if (Object.keys(regionKmsKeyIds).length > 0 && !Object.hasOwn(regionKmsKeyIds, r)) {
      report.error(d.at('region_kms_key_ids'), `Region ${r} is in ami_regions but not in region_kms_key_ids`);
    }
    if (r === region) {
      report.warn(
        d.at('ami_regions'),
        `Cannot copy AMI to AWS session region '${r}', deleting it from \`ami_regions\`.`,
      );
      continue;
    }
    amiRegions.push(r);
  }
  for (const r of Object.keys(regionKmsKeyIds)) {
    if (!rawRegions.includes(r))
      report.error(d.at('region_kms_key_ids'), `Region ${r} is in region_kms_key_ids but not in ami_regions`);
  }
  // Packer's KMS and sharing checks still apply, so that a template valid here is valid in Packer.
  const encryptBoot = d.boolean('encrypt_boot') === true;
  const kmsKeyId = d.nonEmpty('kms_key_id');
  const kmsKeys = [
    ...(kmsKeyId === undefined ? [] : [kmsKeyId]),
    ...Object.values(regionKmsKeyIds).filter((k) => k !== ''),
  ];
  const hasRegionKeys = Object.keys(regionKmsKeyIds).length > 0;
  if (amiUsers.length > 0 || orgArns.length > 0 || ouArns.length > 0) {
    if (kmsKeyId === undefined && !hasRegionKeys && encryptBoot)
      report.error(d.path, 'Cannot share AMI encrypted with default KMS key');
    if (Object.values(regionKmsKeyIds).some((k) => k === '')) {
      report.error(d.path, 'Cannot share AMI encrypted with default KMS key for other regions');
    }
  }
  if (kmsKeys.length > 0 && !encryptBoot) {
    report.error(
      d.path,
      'If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.',
    );
  }
  for (const k of kmsKeys)
    if (!isKmsKey(k)) report.error(d.path, `${JSON.stringify(truncate(k, 100))} is not a valid KMS Key Id.`);
  if ((d.list('snapshot_users') ?? []).length > 0) {
    if (kmsKeyId === undefined && !hasRegionKeys && encryptBoot) {
      report.error(
        d.path,
        'Cannot share snapshot encrypted with default KMS key, see https://www.packer.io/docs/builders/amazon-ebs#region_kms_key_ids for more information',
      );
    }
    if (Object.values(regionKmsKeyIds).some((k) => k === ''))
      report.error(d.path, 'Cannot share snapshot encrypted with default KMS key');
  }
  const tags = mergeTags(d, 'tags', 'tag', report, MAX_TAGS);
  const runTags = mergeTags(d, 'run_tags', 'run_tag', report, MAX_TAGS - RESERVED_RUN_TAGS, 'ami-builder:');
  // Tag keys are templates too (Packer renders them with the tag values).
  for (const [mapKey, map] of [
    ['tags', tags],
    ['run_tags', runTags],
  ] as const) {
    for (const tagKey of Object.keys(map)) {
      const names = checkLate(tagKey, d.at(mapKey), report, ctx.env, {
        allowed: BUILD_VARIABLE_NAMES,
        describe: mapKey,
      });
      for (const n of names ?? []) lateUserVariables.add(n);
    }
  }
  const enaSupport = d.has('enhanced_networking')
    ? d.boolean('enhanced_networking')
    : d.boolean('ena_support');
  const sriovSupport = d.boolean('sriov_support') ?? false;
  const forceDeregister = d.boolean('force_deregister') ?? false;
  const forceDeleteSnapshot = d.boolean('force_delete_snapshot') ?? false;
  if (forceDeleteSnapshot && !forceDeregister) {
    report.warn(
      d.at('force_delete_snapshot'),
      'force_delete_snapshot has no effect without force_deregister',
    );
  }
  const deprecateAt = d.nonEmpty('deprecate_at');
  if (deprecateAt !== undefined && !isRfc3339(deprecateAt)) {
    report.error(
      d.at('deprecate_at'),
      `deprecate_at is not a valid time: ${JSON.stringify(truncate(deprecateAt, 80))}. Expect time format: YYYY-MM-DDTHH:MM:SSZ`,
    );
  }
  const protection = d.object('deregistration_protection');
  const withCooldown = protection?.boolean('with_cooldown') ?? false;
  const deregistrationProtection = {
    enabled: withCooldown || (protection?.boolean('enabled') ?? false),
    withCooldown,
  };

  // ---- Run ----
  const sourceAmi = d.nonEmpty('source_ami');
  if (sourceAmi !== undefined && !AMI_ID.test(sourceAmi)) {
    report.error(
      d.at('source_ami'),
      `source_ami must be an AMI id like ami-0123456789abcdef0, got ${describeValue(sourceAmi)}`,
    );
  }
  const filterObject = d.object('source_ami_filter');
  const filterFilters = decodeFilters(filterObject, 'source_ami_filter', report);
  const owners = filterObject?.list('owners') ?? [];
  const filterEmpty = owners.length === 0 && Object.keys(filterFilters ?? {}).length === 0;
  if (!d.failed.has('source_ami') && !d.failed.has('source_ami_filter')) {
    if (sourceAmi === undefined && filterEmpty)
      report.error(d.path, 'A source_ami or source_ami_filter must be specified');
    if (sourceAmi === undefined && owners.length === 0) {
      report.error(d.path, 'For security reasons, your source AMI filter must declare an owner.');
    }
  }
  let sourceAmiFilter: SourceAmiFilter | undefined;
  if (filterObject !== undefined && !filterEmpty) {
    sourceAmiFilter = {
      filters: filterFilters ?? {},
      owners,
      mostRecent: filterObject.boolean('most_recent') ?? false,
      includeDeprecated: filterObject.boolean('include_deprecated') ?? false,
    };
  }

  const spotTypes = d.list('spot_instance_types') ?? [];
  let instanceType = d.nonEmpty('instance_type');
  if (!d.failed.has('instance_type') && !d.failed.has('spot_instance_types')) {
    if (instanceType === undefined && spotTypes.length === 0) {
      report.error(d.path, 'either instance_type or spot_instance_types must be specified');
    }
    if (instanceType !== undefined && spotTypes.length > 0) {
      report.error(d.path, 'either instance_type or spot_instance_types must be specified, not both');
    }
  }
  instanceType ??= spotTypes[0];
  if (instanceType !== undefined && !INSTANCE_TYPE.test(instanceType)) {
    report.error(
      d.at('instance_type'),
      `instance_type must be an EC2 instance type such as m3.medium, got ${describeValue(instanceType)}`,
    );
  }
  const spotPrice = d.nonEmpty('spot_price');
  const isSpot = spotPrice !== undefined && spotPrice !== '0';
  if (d.present.has('fleet_tags') && !isSpot)
    report.error(d.path, 'fleet_tags should not be set when not requesting a spot instance');
  if (d.present.has('spot_tags') && !isSpot)
    report.error(d.path, 'spot_tags should not be set when not requesting a spot instance');
  if ((d.number('block_duration_minutes') ?? 0) % 60 !== 0)
    report.error(d.path, 'block_duration_minutes must be multiple of 60');
  const enableNitroEnclave = d.boolean('enable_nitro_enclave') ?? false;
  if (isSpot && (enaSupport === true || sriovSupport || enableNitroEnclave)) {
    report.error(
      d.path,
      'Spot instances do not support modification, which is required when either `ena_support`, `sriov_support`, or `enable_nitro_enclave` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.',
    );
  }
  if (d.nonEmpty('spot_price_auto_product') !== undefined) {
    report.warn(
      d.at('spot_price_auto_product'),
      'spot_price_auto_product is deprecated and no longer necessary for Packer builds. In future versions of Packer, inclusion of spot_price_auto_product will error your builds. Please take a look at our current documentation to understand how Packer requests Spot instances.',
    );
  }
  const t2Unlimited = d.boolean('enable_t2_unlimited') ?? false;
  if (t2Unlimited) {
    report.warn(
      d.at('enable_t2_unlimited'),
      'enable_t2_unlimited is deprecated please use enable_unlimited_credits. In future versions of Packer, inclusion of enable_t2_unlimited will error your builds.',
    );
  }
  const enableUnlimitedCredits = (d.boolean('enable_unlimited_credits') ?? false) || t2Unlimited;
  const type = instanceType ?? '';
  if (enableUnlimitedCredits) {
    if (!/^t(:?2|3a?|4g)\./.test(type)) {
      report.error(
        d.path,
        `Error: Instance Type: ${truncate(type, 60)} is not within the supported types for Unlimited credits. Supported instance types are T2, T3, and T4g`,
      );
    }
    if (spotPrice !== undefined && /^t2\./.test(type)) {
      report.error(d.path, 'Error: Unlimited credits cannot be used in conjunction with Spot Instances');
    }
  }
  if (enableNitroEnclave) {
    if (spotPrice !== undefined)
      report.error(d.path, 'Error: Nitro Enclave cannot be used in conjunction with Spot Instances');
    if (type.startsWith('t')) {
      report.error(
        d.path,
        `Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: ${truncate(type, 60)}`,
      );
    }
  }

  const network: NetworkConfig = { securityGroupIds: [], temporarySecurityGroupSourceCidrs: ['0.0.0.0/0'] };
  const idCheck = (key: string, pattern: RegExp, example: string): string | undefined => {
    const value = d.nonEmpty(key);
    if (value !== undefined && !pattern.test(value)) {
      report.error(d.at(key), `${key} must look like ${example}, got ${describeValue(value)}`);
    }
    return value;
  };
  const vpcId = idCheck('vpc_id', /^vpc-[0-9a-f]{8,17}$/, 'vpc-0123456789abcdef0');
  if (vpcId !== undefined) network.vpcId = vpcId;
  const subnetId = idCheck('subnet_id', /^subnet-[0-9a-f]{8,17}$/, 'subnet-0123456789abcdef0');
  if (subnetId !== undefined) network.subnetId = subnetId;
  const az = d.nonEmpty('availability_zone');
  if (az !== undefined) network.availabilityZone = az;
  const vpcFilter = decodeFilters(d.object('vpc_filter'), 'vpc_filter', report);
  if (vpcFilter !== undefined && Object.keys(vpcFilter).length > 0) network.vpcFilter = vpcFilter;
  const subnetFilterObject = d.object('subnet_filter');
  const subnetFilter = decodeFilters(subnetFilterObject, 'subnet_filter', report);
  if (
    subnetFilterObject !== undefined &&
    subnetFilter !== undefined &&
    Object.keys(subnetFilter).length > 0
  ) {
    network.subnetFilter = {
      filters: subnetFilter,
      mostFree: subnetFilterObject.boolean('most_free') ?? false,
      random: subnetFilterObject.boolean('random') ?? false,
    };
  }
  const sgFilter = decodeFilters(d.object('security_group_filter'), 'security_group_filter', report);
  if (sgFilter !== undefined && Object.keys(sgFilter).length > 0) network.securityGroupFilter = sgFilter;
  const sgId = idCheck('security_group_id', /^sg-[0-9a-f]{8,17}$/, 'sg-0123456789abcdef0');
  const sgIds = d.list('security_group_ids') ?? [];
  for (const sg of sgIds) {
    if (!/^sg-[0-9a-f]{8,17}$/.test(sg))
      report.error(
        d.at('security_group_ids'),
        `security_group_ids: ${describeValue(sg)} must look like sg-0123456789abcdef0`,
      );
  }
  if (sgId !== undefined && sgIds.length > 0) {
    report.error(d.path, 'Only one of security_group_id or security_group_ids can be specified.');
  }
  network.securityGroupIds = sgId !== undefined ? [sgId] : [...new Set(sgIds)];
  const cidrs = d.list('temporary_security_group_source_cidrs');
  if (cidrs !== undefined && cidrs.length > 0) {
    for (const cidr of cidrs) {
      if (!isCidr(cidr)) {
        report.error(
          d.at('temporary_security_group_source_cidrs'),
          `Error parsing CIDR in temporary_security_group_source_cidrs: invalid CIDR address: ${truncate(cidr, 80)}`,
        );
      }
    }
    network.temporarySecurityGroupSourceCidrs = cidrs;
    report.warn(
      d.at('temporary_security_group_source_cidrs'),
      'temporary_security_group_source_cidrs is kept for compatibility: the temporary security group gets no ingress rule at all, since SSM needs none',
    );
  }
  const publicIp = d.boolean('associate_public_ip_address');
  if (publicIp !== undefined) network.associatePublicIpAddress = publicIp;

  const iamInstanceProfile = d.nonEmpty('iam_instance_profile');
  if (iamInstanceProfile !== undefined && !INSTANCE_PROFILE.test(iamInstanceProfile)) {
    report.error(
      d.at('iam_instance_profile'),
      `iam_instance_profile must be an instance profile name (not an ARN): up to 128 letters, digits and + = , . @ _ -, got ${describeValue(iamInstanceProfile)}`,
    );
  }
  const userData = d.nonEmpty('user_data');
  const userDataText = d.nonEmpty('user_data_file');
  let userDataFile: FileRef | undefined;
  if (userData !== undefined && userDataText !== undefined) {
    report.error(d.path, 'Only one of user_data or user_data_file can be specified.');
  } else if (userDataText !== undefined) {
    userDataFile = parseFileRef(userDataText, d.at('user_data_file'), report, {
      ...fileOptions('user_data_file'),
      badLocal: () => `user_data_file not found: ${userDataText}`,
    });
  }
  if (userData !== undefined && Buffer.byteLength(userData, 'utf8') > 16_384) {
    report.error(
      d.at('user_data'),
      `user_data is ${Buffer.byteLength(userData, 'utf8')} bytes; EC2 accepts at most 16384`,
    );
  }

  const preference = d.nonEmpty('capacity_reservation_preference') as 'none' | 'open' | undefined;
  const reservationId = d.nonEmpty('capacity_reservation_id');
  const reservationGroup = d.nonEmpty('capacity_reservation_group_arn');
  if (reservationId !== undefined && reservationGroup !== undefined) {
    report.error(
      d.path,
      'capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used',
    );
  }
  if (preference !== undefined && (reservationId !== undefined || reservationGroup !== undefined)) {
    report.error(
      d.path,
      'capacity_reservation_preference and capacity_reservation_group_arn or capacity_reservation_id are mutually exclusive, only one should be used',
    );
  }
  let capacityReservation: BuildConfig['capacityReservation'];
  if (preference !== undefined || reservationId !== undefined || reservationGroup !== undefined) {
    capacityReservation = {};
    if (preference !== undefined) capacityReservation.preference = preference;
    if (reservationId !== undefined) capacityReservation.id = reservationId;
    if (reservationGroup !== undefined) capacityReservation.groupArn = reservationGroup;
  }

  const placementObject = d.object('placement');
  const placementTenancy = placementObject?.nonEmpty('tenancy');
  const legacyTenancy = d.nonEmpty('tenancy');
  if (placementTenancy !== undefined && legacyTenancy !== undefined) {
    report.error(d.path, 'Error: Please set only one of placement.tenancy and tenancy (deprecated)');
  }
  const tenancy = (placementTenancy ?? legacyTenancy) as 'default' | 'dedicated' | 'host' | undefined;
  const hostGroup = placementObject?.nonEmpty('host_resource_group_arn');
  const hostId = placementObject?.nonEmpty('host_id');
  if (hostGroup !== undefined && hostId !== undefined) {
    report.error(
      d.at('placement'),
      'The `host_id` and `host_resource_group_arn` settings cannot be specified at the same time.',
    );
  }
  if ((hostGroup !== undefined || hostId !== undefined) && tenancy !== undefined && tenancy !== 'host') {
    report.error(
      d.at('placement'),
      'placement.tenancy must be "host" when host_resource_group_arn or host_id is set',
    );
  }
  if (hostId !== undefined)
    report.warn(
      d.at('placement'),
      "placement.host_id: accepted but ignored, as by Packer's amazon-instance builder",
    );
  let placement: BuildConfig['placement'];
  if (tenancy !== undefined || hostGroup !== undefined) {
    placement = {};
    if (tenancy !== undefined) placement.tenancy = tenancy;
    if (hostGroup !== undefined) placement.hostResourceGroupArn = hostGroup;
  }
  const licenseConfigurationArns: string[] = [];
  for (const spec of d.objects('license_specifications') ?? []) {
    const arn = spec.object('license_configuration_request')?.nonEmpty('license_configuration_arn');
    if (arn === undefined)
      report.error(
        spec.path,
        'license_specifications: each entry needs license_configuration_request.license_configuration_arn',
      );
    else licenseConfigurationArns.push(arn);
  }

  let metadataOptions: MetadataOptions | undefined;
  const metadata = d.object('metadata_options');
  if (metadata !== undefined) {
    metadataOptions = {};
    const endpoint = metadata.nonEmpty('http_endpoint');
    if (endpoint !== undefined) metadataOptions.httpEndpoint = endpoint as 'enabled' | 'disabled';
    const tokens = metadata.nonEmpty('http_tokens');
    if (tokens !== undefined) metadataOptions.httpTokens = tokens as 'optional' | 'required';
    const hop = metadata.number('http_put_response_hop_limit');
    if (hop !== undefined && hop !== 0) {
      if (hop < 1 || hop > 64)
        report.error(
          metadata.at('http_put_response_hop_limit'),
          'http_put_response_hop_limit requires a number between 1 and 64',
        );
      else metadataOptions.httpPutResponseHopLimit = hop;
    }
    const metadataTags = metadata.nonEmpty('instance_metadata_tags');
    if (metadataTags !== undefined)
      metadataOptions.instanceMetadataTags = metadataTags as 'enabled' | 'disabled';
  }

  // ---- Communicator ----
  const communicator = d.nonEmpty('communicator');
  if (communicator !== undefined && communicator !== 'ssh' && communicator !== 'none') {
    report.error(
      d.at('communicator'),
      `communicator ${JSON.stringify(communicator)} is not supported: builds are Linux only and every command runs through SSM Run Command (use "ssh" or leave it out)`,
    );
  }
  const runAsUser = d.nonEmpty('ssh_username');
  if (runAsUser !== undefined && !UNIX_USER.test(runAsUser)) {
    report.error(
      d.at('ssh_username'),
      `ssh_username must be a Unix user name (up to 32 letters, digits, _ . -, starting with a letter or _), got ${describeValue(runAsUser)}`,
    );
  }
  if (
    d.nonEmpty('ssh_keypair_name') !== undefined &&
    d.nonEmpty('ssh_private_key_file') === undefined &&
    d.boolean('ssh_agent_auth') !== true
  ) {
    report.error(
      d.path,
      'ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.',
    );
  }
  const timeout = d.number('ssh_timeout') || d.number('ssh_wait_timeout') || 300;
  if (timeout > MAX_AGENT_WAIT_SECONDS) {
    report.error(
      d.at(d.has('ssh_timeout') ? 'ssh_timeout' : 'ssh_wait_timeout'),
      `ssh_timeout bounds the wait for the SSM agent and may be at most 3h (the wait counts toward the execution's history), got ${timeout}s`,
    );
  }

  // ---- Extensions ----
  const onError = (d.nonEmpty('on_error') ?? 'cleanup') as OnError;
  const commandTimeout = d.number('command_timeout') ?? 7200;
  if (commandTimeout === 0 || commandTimeout > MAX_COMMAND_SECONDS) {
    report.error(
      d.at('command_timeout'),
      `command_timeout must be more than 0s and at most 48h (SSM's limit), got ${commandTimeout}s`,
    );
  }
  const amiIdParameter = d.nonEmpty('ami_id_parameter');
  if (
    amiIdParameter !== undefined &&
    (!SSM_PARAMETER.test(amiIdParameter) || /^\/(aws|ssm)/i.test(amiIdParameter))
  ) {
    report.error(
      d.at('ami_id_parameter'),
      `ami_id_parameter must be an SSM parameter name starting with "/" (letters, digits, _ . - /; not under /aws or /ssm), got ${describeValue(amiIdParameter)}`,
    );
  }

  // Values substituted raw into the bundle commands must be shell-safe.
  if (region !== '' && REGION.test(region))
    checkShellSafe(region, 'region', d.at('region'), report, UNQUOTED);
  if (bucket !== '') checkShellSafe(bucket, 's3_bucket', d.at('s3_bucket'), report, UNQUOTED);

  if (
    report.problems.length > before ||
    cert === undefined ||
    key === undefined ||
    amiName === undefined ||
    instanceType === undefined ||
    prefix === undefined
  ) {
    return undefined;
  }
  const config: BuilderResult['config'] = {
    name,
    region,
    amiName,
    amiUsers,
    amiGroups,
    amiOrgArns: orgArns,
    amiOuArns: ouArns,
    amiProductCodes: d.list('ami_product_codes') ?? [],
    amiRegions,
    amiBlockDeviceMappings: blockDevices(d.objects('ami_block_device_mappings'), report),
    launchBlockDeviceMappings: blockDevices(d.objects('launch_block_device_mappings'), report),
    tags,
    runTags,
    sriovSupport,
    deregistrationProtection,
    forceDeregister,
    forceDeleteSnapshot,
    skipRegionValidation: d.boolean('skip_region_validation') ?? false,
    instanceType,
    network,
    ebsOptimized: d.boolean('ebs_optimized') ?? false,
    enableUnlimitedCredits,
    enableNitroEnclave,
    licenseConfigurationArns,
    agentTimeoutSeconds: Math.ceil(timeout),
    x509: { cert, key, uploadPath },
    bundle: { bucket, keyPrefix, destination, prefix, volCommand, uploadCommand },
    polling: { delaySeconds: delay ?? 15, maxAttempts: attempts ?? (delay === undefined ? 120 : 40) },
    onError,
    commandTimeoutSeconds: Math.ceil(commandTimeout),
  };
  if (report.problems.length > before) return undefined;
  const optional: Partial<BuilderResult['config']> = {
    accountId,
    amiDescription: d.nonEmpty('ami_description'),
    amiVirtualizationType: virtualization,
    enaSupport,
    tpmSupport: d.nonEmpty('tpm_support') as 'v2.0' | undefined,
    imdsSupport: d.nonEmpty('imds_support') as 'v2.0' | undefined,
    deprecateAt,
    sourceAmi,
    sourceAmiFilter,
    iamInstanceProfile,
    userData,
    userDataFile,
    metadataOptions,
    placement,
    capacityReservation,
    runAsUser,
    amiIdParameter,
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) Object.assign(config, { [k]: v });
  }
  return { config, lateUserVariables };
}
