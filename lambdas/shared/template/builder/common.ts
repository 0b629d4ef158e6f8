/**
 * What the sections of an `amazon-instance` builder share: the decoded keys, the checks several sections make,
 * and the shapes of file references, filters and block devices.
 */
import type { BlockDeviceMapping, BuildConfig, FileRef, Filters } from '../../config.js';
import { SHELL_SAFE } from '../../shell.js';
import { ownershipTags } from '../../tags.js';
import {
  type Decoded,
  decodeFields,
  describeValue,
  hasControlCharacter,
  type Path,
  type Renderer,
  type Report,
} from '../decode.js';
import type { RawBuilder } from '../input.js';
import { BUILDER_KEY_MAP, type FieldSpec, type KeySpec } from '../keys.js';
import { BUILD_VARIABLE_NAMES } from '../late.js';
import { checkLate, type RenderEnv, renderEarly } from '../render.js';

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
export const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]*$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const ACCOUNT_ID = /^\d{12}$/;
export const UNIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
export const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
export const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;
export const INSTANCE_PROFILE = /^[\w+=,.@-]{1,128}$/;
export const SSM_PARAMETER = /^\/[A-Za-z0-9_.\-/]{1,2047}$/;
export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** AWS allows 50 tags per resource; the tags this system adds count toward it. */
export const MAX_TAGS = 50;
/** The prefix of every tag this system adds ({@link TagKeys}): reserved in every tag map of a template. */
export const RESERVED_TAG_PREFIX = 'ami-builder:';
/** The ownership tags every resource a build creates carries (`ownershipTags`). */
export const STACK_TAG_KEYS: readonly string[] = ownershipTags({ stackName: '' }, '', '').map((t) => t.Key);
/** A sane bound on a spot price in USD per hour (EC2 has no documented maximum; the largest on-demand price is far below). */
export const MAX_SPOT_PRICE = 1000;
/** SSM commands run at most 48 hours. */
export const MAX_COMMAND_SECONDS = 172_800;

export const SHELL_SAFE_TEXT = 'letters, digits and _ . / : @ % + = , -';

/** Reports a value that would reach a shell unquoted but has other characters than {@link SHELL_SAFE}. */
export function checkShellSafe(value: string, key: string, path: Path, report: Report, why: string): boolean {
  if (SHELL_SAFE.test(value)) return true;
  report.error(path, `${key} ${describeValue(value)} may only contain ${SHELL_SAFE_TEXT}: ${why}`);
  return false;
}

export const UNQUOTED =
  'it is a path or name that the bundle commands and scripts on the instance use as one plain word';
/** The reason the SSH keys are ignored (keys.ts), shared by `communicator`. */
export const SSH_IGNORED = BUILDER_KEY_MAP.get('ssh_port')?.ignored ?? 'commands run through SSM Run Command';

export function checkAbsoluteDirectory(value: string, key: string, path: Path, report: Report): boolean {
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
export function isRfc3339(value: string): boolean {
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
export function isKmsKey(key: string): boolean {
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

export function decodeFilters(d: Decoded | undefined, key: string, report: Report): Filters | undefined {
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

export function warnGrouped(keys: string[], path: Path, report: Report, reason: string) {
  if (keys.length === 0) return;
  report.warn(path, `${keys.join(', ')}: accepted but ignored: ${reason}`);
}

export function blockDevices(list: Decoded[] | undefined, report: Report): BlockDeviceMapping[] {
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

/** Renders and decodes the builder's keys: early keys rendered, late keys parsed, secrets untouched. */
export function decodeBuilder(
  builder: RawBuilder,
  ctx: BuilderContext,
  lateUserVariables: Set<string>,
): Decoded {
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

export function reportIgnoredKeys(d: Decoded, report: Report) {
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

/** What every section reads: the decoded builder, the context, and the user variables late strings use. */
export interface BuilderScope {
  d: Decoded;
  ctx: BuilderContext;
  report: Report;
  lateUserVariables: Set<string>;
  /** Reports `message` when `key` is absent or empty. */
  missing: (key: string, message: string) => void;
  /** The build's name. */
  name: string;
  /** `ami_name` as written, before rendering (the default family): undefined when it is not a string. */
  rawAmiName?: string;
}
