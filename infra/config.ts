/**
 * The stack's configuration: read from CDK context (`cdk.json`, `cdk.context.json` or `-c key=value`), typed and
 * validated here and nowhere else. A bad value fails the synth with one error that lists every problem, each with
 * its key path, the value and what is allowed.
 *
 * Values given on the command line arrive as strings; every non-string field also accepts its JSON text
 * (`-c logRetentionDays=90`, `-c allowedBucketPatterns='["my-amis-*"]'`).
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TemplateValidationError } from '../lambdas/shared/errors.js';
import {
  DEFAULT_AMI_PARAMETER_PREFIX,
  DEFAULT_X509_PARAMETER_PREFIX,
} from '../lambdas/shared/parameter-prefixes.js';
import { RETENTION_LIMITS, type RetentionPolicy } from '../lambdas/shared/retention-policy.js';
import { LOG_LEVELS, type LogLevelName } from '../lambdas/shared/telemetry-names.js';
import { validateTemplate } from '../lambdas/shared/template/validate.js';

/** The repository root: schedule template files are read relative to it. */
export const repoRoot = fileURLToPath(
  new URL('..', import.meta.url.replace(/\/dist\/(?=(cli|lambdas|infra|emulator)\/)/, '/')),
);

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** An instance profile, besides the stack's own, that builds may pass in `iam_instance_profile`. */
export interface ExtraInstanceProfile {
  /** The instance profile's name (what a template writes in `iam_instance_profile`). */
  name: string;
  /** The ARN of the profile's role: the only roles `iam:PassRole` covers besides the stack's build role. */
  roleArn: string;
}

/** A recurring (or one-off) build started by EventBridge Scheduler. */
export interface ScheduleConfig {
  /** Schedule name, unique in the stack: 1–64 of `A-Z a-z 0-9 . _ -`. */
  name: string;
  /** `cron(…)`, `rate(…)` or `at(yyyy-mm-ddThh:mm:ss)`, as EventBridge Scheduler writes them. */
  expression: string;
  /**
   * IANA time zone the expression is evaluated in.
   * @default 'UTC'
   */
  timezone: string;
  /** Path of a Packer JSON template, relative to the repository root. Read at synth and embedded as the input. */
  templateFile: string;
  /**
   * User variables for the template. When given, the execution input is `{ template, vars }`; otherwise it is the
   * template itself.
   * @default - none
   */
  vars?: Record<string, string>;
  /**
   * Whether the schedule is active.
   * @default true
   */
  enabled: boolean;
}

/** The validated stack configuration. */
export interface BuilderConfig {
  /**
   * CloudFormation stack name. Also the value of the `ami-builder:stack` tag on everything builds create, which the
   * IAM conditions check.
   * @default 'AmiBuilder'
   */
  stackName: string;
  /**
   * Glob patterns (`*` matches any run of characters) of the bundle buckets (`s3_bucket`) builds may use. Tasks
   * refuse other buckets, and the build instance may write only to these.
   * @default ['ami-builder-*']
   */
  allowedBucketPatterns: string[];
  /**
   * Existing instance profiles builds may name in `iam_instance_profile`, with their roles' ARNs.
   * @default [] (only the stack's own build-instance profile)
   */
  extraInstanceProfiles: ExtraInstanceProfile[];
  /**
   * Builds started on a schedule.
   * @default []
   */
  schedules: ScheduleConfig[];
  /**
   * Retention of every log group the stack creates (Lambda tasks, state machine, SSM command output).
   * One of {@link LOG_RETENTION_DAYS}.
   * @default 30
   */
  logRetentionDays: number;
  /**
   * Days after which objects under `staging/` in the staging bucket expire (staged commands, X.509 copies,
   * scripts). Builds delete their own; this removes what an interrupted build left.
   * @default 7
   */
  stagedObjectExpirationDays: number;
  /**
   * Overall execution timeout of the state machine, in hours.
   * @default 24
   */
  executionTimeoutHours: number;
  /**
   * Email addresses subscribed to the build-notification topic. The topic (and `NOTIFICATION_TOPIC_ARN` in the
   * tasks' environment) exists only when at least one address is given.
   * @default []
   */
  notificationEmails: string[];
  /**
   * The SSM parameter path under which `ami_id_parameter` may publish AMI ids. Starts and ends with `/`. Kept
   * apart from `x509ParameterPrefix` by default, so that no publish can land on an X.509 parameter.
   * @default '/ami-builder/ami-ids/'
   */
  amiParameterPrefix: string;
  /**
   * The SSM parameter path of the SecureString X.509 material (`x509_cert_path: "ssm:…"`) the Send Command task
   * may read. Starts and ends with `/`.
   * @default '/ami-builder/x509/'
   */
  x509ParameterPrefix: string;
  /**
   * Lets `force_deregister` deregister (and `force_delete_snapshot` delete the bundles of) this account's AMIs
   * named `ami_name` that the stack did not build, for teams migrating from Packer. Off, such a build fails in
   * Prevalidate before anything is created, and IAM allows deregistering only images tagged by the stack; on,
   * the Force Deregister role may deregister any AMI of the account, so any template author can remove any AMI
   * by naming it.
   * @default false
   */
  adoptForeignImages: boolean;
  /**
   * When Sweep Orphans runs: an EventBridge schedule expression (`rate(1 day)`, `cron(0 3 * * ? *)`), or `off`.
   * It removes what ended builds left behind (instances, security groups, temporary roles, staged files, the
   * AMIs of failed builds); `ami-builder sweep` runs it on demand.
   * @default 'rate(1 day)'
   */
  sweepSchedule: string;
  /**
   * Minutes after an execution ended before Sweep Orphans takes its resources (Abort Cleanup runs first).
   * @default 60
   */
  sweepGraceMinutes: number;
  /**
   * The stack-wide retention of image families, for every build whose template has no `ami_retention` (which
   * overrides it): `{ keepLatest?, keepDays?, deprecateFirstDays?, deleteBundles? }` (at least one of the first
   * two; `deleteBundles` defaults to true). Absent: only templates with `ami_retention` retire images.
   * @default undefined
   */
  retention?: RetentionPolicy;
  /**
   * When the daily retention runs over every family: an EventBridge schedule expression, or `off`.
   * `ami-builder retention [--dry-run]` runs it on demand.
   * @default 'rate(1 day)'
   */
  retentionSchedule: string;
  /**
   * Level of the tasks' logs (`POWERTOOLS_LOG_LEVEL`): one of {@link LOG_LEVELS}. `DEBUG` adds detail for
   * troubleshooting; `WARN` and `ERROR` keep only problems.
   * @default 'INFO'
   */
  logLevel: LogLevelName;
}

/** The context keys read by {@link loadConfig}, for help texts and tests. */
export const CONFIG_KEYS = [
  'stackName',
  'allowedBucketPatterns',
  'extraInstanceProfiles',
  'schedules',
  'logRetentionDays',
  'stagedObjectExpirationDays',
  'executionTimeoutHours',
  'notificationEmails',
  'amiParameterPrefix',
  'x509ParameterPrefix',
  'adoptForeignImages',
  'sweepSchedule',
  'sweepGraceMinutes',
  'retention',
  'retentionSchedule',
  'logLevel',
] as const satisfies readonly (keyof BuilderConfig)[];

/** Synth-time configuration error: every problem found, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError' as const;
  readonly problems: string[];
  constructor(problems: string[]) {
    super(
      `Invalid ami-builder configuration (CDK context), ${problems.length} problem(s):\n${problems
        .map((p) => `  * ${p}`)
        .join('\n')}`,
    );
    this.problems = problems;
  }
}

/** Context values from `-c key=value` are strings: accept JSON text for structured fields. */
function jsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === '') return value;
  try {
    return JSON.parse(text);
  } catch {
    return value;
  }
}

/** Fields whose context value may be JSON text. */
const STRUCTURED_KEYS = new Set<string>([
  'allowedBucketPatterns',
  'extraInstanceProfiles',
  'schedules',
  'logRetentionDays',
  'stagedObjectExpirationDays',
  'executionTimeoutHours',
  'notificationEmails',
  'adoptForeignImages',
  'sweepGraceMinutes',
  'retention',
]);

const parameterPrefix = z
  .string()
  .regex(
    /^\/(?:[A-Za-z0-9_.-]+\/)*$/,
    'must be an SSM parameter path that starts and ends with "/", e.g. "/ami-builder/"',
  );

const bucketPattern = z
  .string()
  .regex(
    /^[a-z0-9.*-]{1,63}$/,
    'must be a bucket name glob: 1–63 of lowercase letters, digits, ".", "-" and "*" (any run of characters)',
  )
  .refine((p) => /[a-z0-9]/.test(p), {
    message: 'matches every bucket: name at least a prefix or suffix, e.g. "my-amis-*"',
  });

const scheduleExpression = z
  .string()
  .regex(
    /^(cron\(\S+( \S+){5}\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$/,
    'must be cron(<6 fields>), rate(<n> minute(s)|hour(s)|day(s)) or at(yyyy-mm-ddThh:mm:ss)',
  );

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const scheduleSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 of letters, digits, ".", "_" and "-"'),
  expression: scheduleExpression,
  timezone: z
    .string()
    .default('UTC')
    .refine(isTimeZone, { message: 'must be an IANA time zone, e.g. "UTC" or "Europe/Berlin"' }),
  templateFile: z
    .string()
    .min(1)
    .refine((p) => !isAbsolute(p) && !normalize(p).startsWith('..'), {
      message: 'must be a path inside the repository, relative to its root',
    }),
  vars: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean().default(true),
});

/** `sweepSchedule` and `retentionSchedule`: when the stack runs the task on its own, daily by default. */
const dailyTaskSchedule = z
  .string()
  .regex(
    /^(off|cron\(\S+( \S+){5}\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\))$/,
    'must be "off", cron(<6 fields>) or rate(<n> minute(s)|hour(s)|day(s))',
  )
  .default('rate(1 day)');

/** A whole number of `retention`, within the limits the policy tag accepts too. */
const retentionLimit = (limits: { min: number; max: number }) =>
  z.number().int().min(limits.min).max(limits.max).optional();

const schema = z.object({
  stackName: z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
      'must be a CloudFormation stack name: a letter, then up to 127 letters, digits or "-"',
    )
    .default('AmiBuilder'),
  allowedBucketPatterns: z
    .array(bucketPattern)
    .min(1, 'must name at least one pattern')
    .default(['ami-builder-*']),
  extraInstanceProfiles: z
    .array(
      z.object({
        name: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'must be an instance profile name'),
        roleArn: z
          .string()
          .regex(
            /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
            'must be an IAM role ARN, arn:<partition>:iam::<account>:role/<name>',
          ),
      }),
    )
    .default([]),
  schedules: z.array(scheduleSchema).default([]),
  logRetentionDays: z
    .number()
    .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  stagedObjectExpirationDays: z.number().int().min(1).max(365).default(7),
  executionTimeoutHours: z.number().int().min(1).max(8760).default(24),
  notificationEmails: z.array(z.email()).default([]),
  amiParameterPrefix: parameterPrefix.default(DEFAULT_AMI_PARAMETER_PREFIX),
  x509ParameterPrefix: parameterPrefix.default(DEFAULT_X509_PARAMETER_PREFIX),
  adoptForeignImages: z.boolean({ error: 'must be true or false' }).default(false),
  sweepSchedule: dailyTaskSchedule,
  sweepGraceMinutes: z.number().int().min(15).max(10_080).default(60),
  retention: z
    .object({
      keepLatest: retentionLimit(RETENTION_LIMITS.keepLatest),
      keepDays: retentionLimit(RETENTION_LIMITS.keepDays),
      deprecateFirstDays: retentionLimit(RETENTION_LIMITS.deprecateFirstDays),
      deleteBundles: z.boolean().default(true),
    })
    .strict()
    .refine((r) => r.keepLatest !== undefined || r.keepDays !== undefined, {
      message: 'needs keepLatest or keepDays (or both)',
    })
    .optional(),
  retentionSchedule: dailyTaskSchedule,
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('INFO'),
});

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * Validates raw context values (as `node.tryGetContext` returns them) and reads each schedule's template file.
 *
 * @param context the raw value of each key in {@link CONFIG_KEYS} (undefined: the default)
 * @param readTemplate reads a schedule's template file (tests pass a fake)
 * @throws ConfigError listing every problem
 */
export function parseConfig(
  context: Partial<Record<(typeof CONFIG_KEYS)[number], unknown>>,
  readTemplate: (relativePath: string) => string = (p) => readFileSync(join(repoRoot, p), 'utf8'),
  inspectHcl: HclInspector = inspectHclTemplate,
): BuilderConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = context[key];
    if (value !== undefined) raw[key] = STRUCTURED_KEYS.has(key) ? jsonText(value) : value;
  }
  const parsed = schema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join('.');
      problems.push(`${path || '(root)'} = ${describeValue(valueAt(raw, issue.path))}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const config = parsed.data;
  const seen = new Set<string>();
  config.schedules.forEach((s, i) => {
    if (seen.has(s.name))
      problems.push(`schedules.${i}.name = "${s.name}": must be unique; it is used twice`);
    seen.add(s.name);
    try {
      const input = scheduleInput(s, readTemplate, inspectHcl);
      // A scheduled build has no CLI to upload local files or resolve {{env}}: check it as the workflow will.
      validateTemplate(input, {
        mode: 'workflow',
        now: new Date(),
        uuidSeed: `schedule/${s.name}`,
      });
    } catch (error) {
      const detail =
        error instanceof TemplateValidationError
          ? `is not a template the workflow can build: ${error.problems.join('; ')}`
          : (error as Error).message;
      problems.push(`schedules.${i}.templateFile = "${s.templateFile}": ${detail}`);
    }
  });
  const profiles = new Set<string>();
  config.extraInstanceProfiles.forEach((p, i) => {
    if (profiles.has(p.name)) {
      problems.push(`extraInstanceProfiles.${i}.name = "${p.name}": must be unique; it is listed twice`);
    }
    profiles.add(p.name);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseTemplateFile(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not valid JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('must hold a JSON object (a Packer template)');
  }
  return value as Record<string, unknown>;
}

/** Turns an HCL2 template (and a schedule's `vars`) into the JSON execution input it stands for. */
export type HclInspector = (relativePath: string, vars: Record<string, string>) => Record<string, unknown>;

/** Whether a schedule's template is HCL2 (`.pkr.hcl`). */
export function isHclTemplateFile(relativePath: string): boolean {
  return relativePath.endsWith('.pkr.hcl');
}

/**
 * An HCL2 template as the JSON input it stands for, from `ami-builder inspect` run synchronously (the synth is
 * synchronous; the HCL2 parser is not). The schedule's `vars` are passed as `-var`; `PKR_VAR_*` variables of the
 * synth's environment are not, so that a schedule builds the same whatever shell synthesizes it.
 */
export function inspectHclTemplate(
  relativePath: string,
  vars: Record<string, string>,
): Record<string, unknown> {
  const args = [...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`]), relativePath];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PKR_VAR_')));
  let stdout: string;
  try {
    stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'cli', 'main.ts'), 'inspect', ...args],
      { cwd: repoRoot, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim();
    throw new Error(
      `is not an HCL2 template the workflow can build: ${stderr.replaceAll('\n', ' ').slice(0, 2000)}`,
    );
  }
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * The execution input a schedule starts its builds with: the template, or `{ template, vars }` when the schedule
 * gives variables; an HCL2 template (`.pkr.hcl`) is converted to the same JSON input.
 */
export function scheduleInput(
  schedule: ScheduleConfig,
  readTemplate: (relativePath: string) => string = (p) => readFileSync(join(repoRoot, p), 'utf8'),
  inspectHcl: HclInspector = inspectHclTemplate,
): Record<string, unknown> {
  if (isHclTemplateFile(schedule.templateFile)) return inspectHcl(schedule.templateFile, schedule.vars ?? {});
  const template = parseTemplateFile(readTemplate(schedule.templateFile));
  return schedule.vars === undefined ? template : { template, vars: schedule.vars };
}

/** Reads the configuration from a construct's context (`node.tryGetContext`). */
export function loadConfig(tryGetContext: (key: string) => unknown): BuilderConfig {
  const context: Partial<Record<(typeof CONFIG_KEYS)[number], unknown>> = {};
  for (const key of CONFIG_KEYS) context[key] = tryGetContext(key);
  return parseConfig(context);
}
