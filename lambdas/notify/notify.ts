/**
 * Notify: tells the world that a build finished, succeeded or failed. Every execution that reaches the end puts one
 * EventBridge event (teams route it to their own targets by detail-type); when the stack has a notification topic,
 * a readable plain-text summary goes to it too (email subscribers read the artifacts, or the errors).
 *
 * The event carries the artifacts in Packer's form (`artifactId` = `region:ami,…`) so that consumers of Packer's
 * manifest can read it the same way. Nothing here holds secrets: the build outputs never do.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { artifactString } from '../shared/artifact.js';
import { describeCleanup, describeLeak } from '../shared/cleanup-report.js';
import { executionConsoleUrl, parseArn } from '../shared/console.js';
import { type CostEstimate, costLines } from '../shared/cost/estimate.js';
import { AwsTransientError, NotificationError, TaskInputError } from '../shared/errors.js';
import { describeFamilyRetention } from '../shared/retention-policy.js';
import type { Clients, Clock, TaskEnvironment } from '../shared/runtime.js';
import {
  BUILD_STATUSES,
  type BuildOutput,
  type BuildStatus,
  type ExecutionInfo,
  isSuccessfulStatus,
  type LeakedResource,
} from '../shared/state.js';

/** The `source` of every event this system puts. */
export const EVENT_SOURCE = 'ami-builder';

/** The detail-types, one per outcome: rules match on them. */
export const DetailTypes = {
  succeeded: 'AMI Build Succeeded',
  failed: 'AMI Build Failed',
} as const;

/** SNS refuses a subject longer than this. */
export const MAX_SUBJECT_CHARS = 100;

/**
 * Largest event detail sent. An EventBridge entry may hold 256 KB in all; past this size each build's error cause
 * is shortened (the execution's own output keeps the whole text).
 * @default 200 KB
 */
export const MAX_DETAIL_BYTES = 200 * 1024;

/** Longest error cause kept per build when the detail is over {@link MAX_DETAIL_BYTES}. */
export const SHORT_CAUSE_CHARS = 500;

/**
 * Largest SNS message sent (SNS accepts 256 KB).
 * @default 200 KB
 */
export const MAX_MESSAGE_BYTES = 200 * 1024;

const NONEMPTY = z.string().check(z.minLength(1));

const buildSchema = z.looseObject({
  name: z.string(),
  status: z.enum(BUILD_STATUSES),
  artifacts: z.record(z.string(), z.string()),
  artifactId: z.string(),
  warnings: z._default(z.array(z.string()), []),
  timings: z._default(z.record(z.string(), z.string()), {}),
  error: z.optional(z.object({ Error: z.string(), Cause: z.string() })),
});

/**
 * The payload: the output of Summarize Builds (`summary`), the execution (`{ id, name, startTime }` from the
 * context object) and, optionally, the template's name.
 */
export const notifyPayloadSchema = z.object({
  summary: z.object({
    builds: z.array(buildSchema),
    warnings: z._default(z.array(z.string()), []),
    skipped: z._default(z.array(z.object({ name: z.string(), type: z.string(), reason: z.string() })), []),
    failed: z.int().check(z.minimum(0)),
    leaked: z._default(z.int().check(z.minimum(0)), 0),
    error: z.optional(z.string()),
    cause: z.optional(z.string()),
  }),
  execution: z.object({ id: NONEMPTY, name: NONEMPTY, startTime: NONEMPTY }),
  templateName: z.optional(NONEMPTY),
});

export interface NotifyPayload {
  summary: {
    builds: BuildOutput[];
    warnings: string[];
    skipped: { name: string; type: string; reason: string }[];
    failed: number;
    /** Resources left behind by all builds. @default 0 */
    leaked?: number;
    error?: string;
    cause?: string;
  };
  execution: ExecutionInfo;
  /**
   * How people call the template. Absent: taken from the execution name the CLI gives
   * (`<template>-<yyyymmdd-hhmmss>-<hex>`), else the first build's name.
   */
  templateName?: string;
}

/** One build in the event detail. */
export interface BuildNotice {
  name: string;
  /** `unchanged`: nothing changed (`skip_if_unchanged`); the artifacts are the AMIs an earlier build made. */
  status: BuildStatus;
  artifacts: Record<string, string>;
  artifactId: string;
  error?: { Error: string; Cause: string };
  /** What this build's cleanup could not remove (id, type, region, why, the command that removes it). */
  leaked?: LeakedResource[];
  /** What the build cost, estimated, item by item (README.md, "Cost estimate"). */
  cost?: CostEstimate;
  /** What the family's retention did after the build: each image retired or kept, or its error. */
  retention?: {
    family: string;
    actions: { imageId: string; region: string; action: string; reason: string; bundle?: string }[];
    error?: { Error: string; Cause: string };
  };
}

/** The event detail (`detail`). */
export interface BuildEventDetail {
  executionArn: string;
  templateName: string;
  builds: BuildNotice[];
  failed: number;
  /** How many resources the builds left behind; rules may match `leaked > 0` (numeric matching). */
  leaked: number;
}

export interface NotifyResult {
  detailType: string;
  eventId: string;
  /** The SNS message id, when a topic is configured. */
  messageId?: string;
}

export interface NotifyDeps {
  clients: Pick<Clients, 'events' | 'sns'>;
  env: Pick<TaskEnvironment, 'eventBusName' | 'notificationTopicArn'>;
  clock: Clock;
  /** The function's region (`AWS_REGION`): used when an ARN does not name one. */
  region: string;
}

/** Checks the payload the state machine sends. */
export function parseNotifyPayload(payload: unknown): NotifyPayload {
  const parsed = notifyPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    throw new TaskInputError(`Notify input is malformed: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data as NotifyPayload;
}

// The CLI names executions `<first build or template stem>-<UTC yyyymmdd-hhmmss>-<4 hex>` (cli/build.ts).
const CLI_EXECUTION_NAME = /^(.+)-\d{8}-\d{6}-[0-9a-f]{4}$/;

/** The template's name: given, or read back from a CLI execution name, or the first build's name. */
export function templateNameOf(payload: NotifyPayload): string {
  if (payload.templateName !== undefined) return payload.templateName;
  const fromName = CLI_EXECUTION_NAME.exec(payload.execution.name)?.[1];
  if (fromName !== undefined) return fromName;
  return payload.summary.builds[0]?.name ?? payload.execution.name;
}

/** Whether the execution succeeded: every build did, and there was at least one. */
function succeeded(payload: NotifyPayload): boolean {
  return payload.summary.failed === 0 && payload.summary.builds.every((b) => isSuccessfulStatus(b.status));
}

/** The event detail; error causes are shortened when the whole would not fit in an event. */
export function eventDetail(payload: NotifyPayload): BuildEventDetail {
  const notice = (b: BuildOutput, causeLimit?: number): BuildNotice => {
    const entry: BuildNotice = {
      name: b.name,
      status: b.status,
      artifacts: b.artifacts,
      artifactId: b.artifactId,
    };
    if (b.error !== undefined) {
      const cause =
        causeLimit !== undefined && b.error.Cause.length > causeLimit
          ? `${b.error.Cause.slice(0, causeLimit)}… (cut; the execution output has the rest)`
          : b.error.Cause;
      entry.error = { Error: b.error.Error, Cause: cause };
    }
    const leaked = b.cleanup?.leaked ?? [];
    if (leaked.length > 0) entry.leaked = leaked;
    if (b.cost !== undefined) entry.cost = b.cost;
    if (b.retention !== undefined) {
      entry.retention = {
        family: b.retention.family,
        actions: b.retention.actions.map(({ imageId, region, action, reason, bundle }) => ({
          imageId,
          region,
          action,
          reason,
          ...(bundle === undefined ? {} : { bundle }),
        })),
        ...(b.retention.error === undefined ? {} : { error: b.retention.error }),
      };
    }
    return entry;
  };
  const detail = (causeLimit?: number): BuildEventDetail => ({
    executionArn: payload.execution.id,
    templateName: templateNameOf(payload),
    builds: payload.summary.builds.map((b) => notice(b, causeLimit)),
    failed: payload.summary.failed,
    leaked: payload.summary.leaked ?? 0,
  });
  const full = detail();
  if (Buffer.byteLength(JSON.stringify(full), 'utf8') <= MAX_DETAIL_BYTES) return full;
  return detail(SHORT_CAUSE_CHARS);
}

/**
 * An SNS subject: printable ASCII on one line (SNS refuses anything else), at most {@link MAX_SUBJECT_CHARS}.
 */
export function snsSubject(text: string): string {
  const clean = text
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  if (clean.length <= MAX_SUBJECT_CHARS) return clean;
  return `${clean.slice(0, MAX_SUBJECT_CHARS - 3)}...`;
}

/** The subject: outcome and template name (`AMI build succeeded: web-base`). */
export function notificationSubject(payload: NotifyPayload): string {
  const name = templateNameOf(payload);
  if (succeeded(payload)) return snsSubject(`AMI build succeeded: ${name}`);
  const total = payload.summary.builds.length;
  const count = total > 1 ? ` (${payload.summary.failed} of ${total} builds)` : '';
  return snsSubject(`AMI build failed${count}: ${name}`);
}

function cutBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const marker = '\n… (cut: the execution output in the console has the rest)\n';
  const budget = maxBytes - Buffer.byteLength(marker, 'utf8');
  // A character takes 1 to 4 bytes: shrink until the UTF-8 length fits.
  let cut = text.slice(0, budget);
  while (Buffer.byteLength(cut, 'utf8') > budget) cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return cut + marker;
}

/**
 * The readable summary, in Packer's closing words (reference §7.1): the errors of failed builds (with what
 * cleanup did and what it kept), then the artifacts of successful builds.
 */
export function notificationMessage(payload: NotifyPayload, region: string): string {
  const { summary, execution } = payload;
  const ok = succeeded(payload);
  const lines = [
    `AMI build ${ok ? 'succeeded' : 'failed'}: ${templateNameOf(payload)}`,
    '',
    `Execution: ${execution.name}`,
    `Started:   ${execution.startTime}`,
    `Console:   ${executionConsoleUrl(execution.id, region)}`,
  ];
  const failed = summary.builds.filter((b) => b.status === 'failed');
  if (failed.length > 0) {
    lines.push('', "==> Some builds didn't complete successfully and had errors:");
    for (const b of failed) {
      const error = b.error ?? { Error: 'BuildFailed', Cause: 'unknown error' };
      lines.push(`--> ${b.name}: ${error.Error}: ${error.Cause}`);
      if (b.cleanup !== undefined) {
        lines.push(`    cleanup: ${describeCleanup(b.cleanup)}`);
        for (const kept of b.cleanup.kept) lines.push(`    kept ${kept.resource}: ${kept.reason}`);
      }
    }
  } else if (!ok && summary.cause !== undefined) {
    lines.push('', summary.cause);
  }
  const leaks = summary.builds.flatMap((b) => (b.cleanup?.leaked ?? []).map((l) => ({ build: b.name, l })));
  if (leaks.length > 0) {
    lines.push('', '==> Resources left behind: cleanup could not remove them; remove them by hand:');
    for (const { build, l } of leaks) lines.push(`--> ${build}: ${describeLeak(l)}`, `    ${l.hint}`);
  }
  const retained = summary.builds.filter((b) => b.retention !== undefined);
  if (retained.length > 0) {
    lines.push('', '==> Retention:');
    for (const b of retained) {
      const r = b.retention as NonNullable<BuildOutput['retention']>;
      lines.push(`--> ${b.name}: ${describeFamilyRetention(r)[0]}`);
      if (r.error !== undefined) lines.push(`    failed: ${r.error.Error}: ${r.error.Cause}`);
      lines.push(
        ...describeFamilyRetention(r)
          .slice(1)
          .map((l) => `  ${l}`),
      );
    }
  }
  const withArtifacts = summary.builds.filter(
    (b) => isSuccessfulStatus(b.status) && Object.keys(b.artifacts).length > 0,
  );
  lines.push('');
  if (withArtifacts.length === 0) {
    lines.push('==> Builds finished but no artifacts were created.');
  } else {
    lines.push('==> Builds finished. The artifacts of successful builds are:');
    for (const b of withArtifacts) {
      if (b.status === 'unchanged')
        lines.push(`--> ${b.name}: unchanged, nothing was built; it reports the AMIs of an earlier build.`);
      lines.push(`--> ${b.name}: ${artifactString(b.artifacts).trimEnd()}`);
    }
  }
  const warnings = [...summary.warnings, ...summary.builds.flatMap((b) => b.warnings)];
  if (warnings.length > 0) {
    lines.push('', 'Warnings:', ...warnings.map((w) => `  * ${w}`));
  }
  for (const s of summary.skipped) lines.push(`Skipped ${s.name} (${s.type}): ${s.reason}`);
  const costed = summary.builds.filter((b) => b.cost !== undefined);
  if (costed.length > 0) {
    lines.push('', '==> Estimated cost (list prices; README.md, "Cost estimate"):');
    for (const b of costed) lines.push(...costLines(b.name, b.cost as CostEstimate));
  }
  return cutBytes(`${lines.join('\n')}\n`, MAX_MESSAGE_BYTES);
}

// PutEvents reports failures per entry, in the response, not as an exception.
const TRANSIENT_ENTRY_CODES = new Set(['InternalFailure', 'InternalException', 'ThrottlingException']);

/**
 * Puts the event and, when the stack has a topic, publishes the summary.
 *
 * @throws AwsTransientError when EventBridge throttled or failed internally (the state machine retries).
 * @throws NotificationError when EventBridge refused the event for another reason.
 */
export async function notify(payload: NotifyPayload, deps: NotifyDeps): Promise<NotifyResult> {
  const region = parseArn(payload.execution.id)?.region || deps.region;
  const detailType = succeeded(payload) ? DetailTypes.succeeded : DetailTypes.failed;
  const response = await deps.clients.events(region).send(
    new PutEventsCommand({
      Entries: [
        {
          Source: EVENT_SOURCE,
          DetailType: detailType,
          Detail: JSON.stringify(eventDetail(payload)),
          Resources: [payload.execution.id],
          EventBusName: deps.env.eventBusName,
          Time: deps.clock.now(),
        },
      ],
    }),
  );
  const entry = response.Entries?.[0];
  if ((response.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
    const code = entry?.ErrorCode ?? 'UnknownError';
    const text = `EventBridge did not accept the "${detailType}" event on bus "${deps.env.eventBusName}": ${code}: ${entry?.ErrorMessage ?? 'no event id returned'}`;
    throw TRANSIENT_ENTRY_CODES.has(code) ? new AwsTransientError(text) : new NotificationError(text);
  }

  const result: NotifyResult = { detailType, eventId: entry.EventId };
  const topicArn = deps.env.notificationTopicArn;
  if (topicArn !== undefined) {
    const topicRegion = parseArn(topicArn)?.region || region;
    const published = await deps.clients.sns(topicRegion).send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: notificationSubject(payload),
        Message: notificationMessage(payload, region),
      }),
    );
    if (published.MessageId !== undefined) result.messageId = published.MessageId;
  }
  return result;
}
