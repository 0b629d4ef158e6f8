/**
 * The amazon-instance keys (`builder/instance/builder.go`): account, bundle bucket, X.509 files and the bundle
 * commands.
 */
import { TemplateValidationError } from '../../errors.js';
import { SHELL_SAFE } from '../../shell.js';
import {
  BUNDLE_UPLOAD_VARIABLES,
  BUNDLE_VOL_VARIABLES,
  DEFAULT_BUNDLE_UPLOAD_COMMAND,
  DEFAULT_BUNDLE_VOL_COMMAND,
  renderBundleUploadCommand,
  renderBundleVolCommand,
} from '../bundle-commands.js';
import { type Decoded, describeValue, type Path } from '../decode.js';
import { checkLate, renderEarly } from '../render.js';
import type { AccessSection } from './access.js';
import {
  ACCOUNT_ID,
  type BuilderContext,
  type BuilderScope,
  bucketNameProblem,
  checkAbsoluteDirectory,
  checkShellSafe,
  parseFileRef,
  UNQUOTED,
} from './common.js';

/** The build's own values, as far as validation knows them, to compose the bundle commands with. */
export interface BundleSample {
  region: string;
  bucketName: string;
  destination: string;
  prefix: string;
  uploadPath: string;
}

export function checkBundleCommand(
  d: Decoded,
  key: 'bundle_vol_command' | 'bundle_upload_command',
  ctx: BuilderContext,
  lateUserVariables: Set<string>,
  sample: BundleSample,
): string {
  const allowed = key === 'bundle_vol_command' ? BUNDLE_VOL_VARIABLES : BUNDLE_UPLOAD_VARIABLES;
  const text =
    d.nonEmpty(key) ??
    (key === 'bundle_vol_command' ? DEFAULT_BUNDLE_VOL_COMMAND : DEFAULT_BUNDLE_UPLOAD_COMMAND);
  if (!d.has(key)) return text;
  const names = checkLate(text, d.at(key), ctx.report, ctx.env, { allowed, describe: key });
  if (names === undefined) return text;
  for (const name of names) lateUserVariables.add(name);
  composeBundleCommand(text, d.at(key), key, ctx, names, sample);
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

/**
 * Composes a bundle command as the send-command task will, with the user variables' values and the build's
 * own values as far as they are known (the instance's architecture and the account are plain words), so that
 * a value that cannot be quoted where the command puts it is reported now, before anything is created.
 */
export function composeBundleCommand(
  text: string,
  path: Path,
  key: 'bundle_vol_command' | 'bundle_upload_command',
  ctx: BuilderContext,
  names: readonly string[],
  sample: BundleSample,
): void {
  const plain = (value: string, fallback: string) =>
    SHELL_SAFE.test(value) && value !== '' ? value : fallback;
  const destination = plain(sample.destination, '/tmp');
  const uploadPath = plain(sample.uploadPath, '/tmp');
  const prefix = plain(sample.prefix, 'image');
  const context = {
    userVariables: Object.fromEntries(
      names
        .filter((n) => Object.hasOwn(ctx.env.userVariables, n))
        .map((n) => [n, ctx.env.userVariables[n] ?? '']),
    ),
    now: ctx.env.now,
  };
  try {
    if (key === 'bundle_vol_command') {
      renderBundleVolCommand(
        text,
        {
          AccountId: '123456789012',
          Architecture: 'x86_64',
          CertPath: `${uploadPath}/cert.pem`,
          KeyPath: `${uploadPath}/key.pem`,
          Destination: destination,
          Prefix: prefix,
          PrivatePath: uploadPath,
        },
        context,
      );
    } else {
      renderBundleUploadCommand(
        text,
        {
          BucketName: plain(sample.bucketName, 'bucket'),
          BundleDirectory: destination,
          ManifestPath: `${destination}/${prefix}.manifest.xml`,
          Region: plain(sample.region, 'us-east-1'),
        },
        context,
      );
    }
  } catch (error) {
    if (error instanceof TemplateValidationError) {
      for (const problem of error.problems) ctx.report.error(path, problem);
    } else {
      ctx.report.error(path, error instanceof Error ? error.message : String(error));
    }
  }
}

/** Decodes and checks this section's keys. */
export function decodeBundle(scope: BuilderScope, prev: Pick<AccessSection, 'region'>) {
  const { d, ctx, report, lateUserVariables, missing } = scope;
  const { region } = prev;
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
  const sample: BundleSample = {
    region,
    bucketName: keyPrefix === '' ? bucket : `${bucket}/${keyPrefix}`,
    destination,
    prefix: prefix ?? '',
    uploadPath,
  };
  const volCommand = checkBundleCommand(d, 'bundle_vol_command', ctx, lateUserVariables, sample);
  const uploadCommand = checkBundleCommand(d, 'bundle_upload_command', ctx, lateUserVariables, sample);
  return {
    accountId,
    bucket,
    keyPrefix,
    fileOptions,
    cert,
    key,
    uploadPath,
    destination,
    prefix,
    volCommand,
    uploadCommand,
  };
}

export type BundleSection = ReturnType<typeof decodeBundle>;
