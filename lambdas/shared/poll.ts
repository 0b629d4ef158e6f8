/**
 * Polling (docs/ARCHITECTURE.md, "Poll loops"). A Check task that finds its target not ready throws
 * {@link PollPendingError}; the Check state's own Retry on that error runs it again after the delay of its
 * schedule ({@link pollSchedule}): one billed state transition per check, instead of the three of a Check → Choice → Wait
 * loop. The Step Functions payload carries `$$.State.RetryCount` and `$$.State.EnteredTime` (`check`), from which
 * a check knows how many checks were made and how long it has waited, so its bound and its timeout error keep
 * their meaning.
 *
 * The AMI and copy waits of a template that sets `aws_polling` keep Packer's fixed delay: their Check returns
 * `{ done: false, waitSeconds }` and the loop's Choice → Wait (SecondsPath) runs it again.
 */
import { PollPendingError } from './errors.js';
import type { BuildState, CheckContext, PollResult } from './state.js';

/** A Retry schedule, as the ASL Retrier fields say it (`JitterStrategy` NONE: the delays are as computed). */
export interface RetrySchedule {
  /** IntervalSeconds: the delay before the first retry. */
  readonly intervalSeconds: number;
  /** BackoffRate: each delay is the previous one times this. */
  readonly backoffRate: number;
  /** MaxDelaySeconds: no delay is longer. */
  readonly maxDelaySeconds: number;
  /**
   * MaxAttempts: a backstop only. Every check ends its wait with its own named error at its own bound, well
   * before this many retries for any bound the template allows; see {@link POLL_BACKSTOP_SECONDS}.
   */
  readonly maxAttempts: number;
}

/**
 * The retries cover at least this long (a provisioner's longest timeout, 48 h, plus SSM's delivery timeout and
 * slack): a check's own bound is shorter for every template.
 */
export const POLL_BACKSTOP_SECONDS = 49 * 3600;

/** The delays of a schedule (its ASL Retrier fields but MaxAttempts). */
export type RetryDelays = Omit<RetrySchedule, 'maxAttempts'>;

/** The delay before retry number `n` (1-based) of `schedule`, in seconds. */
export function retryDelaySeconds(schedule: RetryDelays, n: number): number {
  return Math.min(schedule.maxDelaySeconds, schedule.intervalSeconds * schedule.backoffRate ** (n - 1));
}

/** The seconds waited by the first `retries` retries of `schedule`. */
export function waitedSeconds(schedule: RetryDelays, retries: number): number {
  let total = 0;
  for (let n = 1; n <= retries; n += 1) total += retryDelaySeconds(schedule, n);
  return total;
}

/** The number of retries after which `schedule` has waited at least `seconds`. */
export function retriesFor(schedule: RetryDelays, seconds: number): number {
  let retries = 0;
  for (let waited = 0; waited < seconds; retries += 1) waited += retryDelaySeconds(schedule, retries + 1);
  return retries;
}

const withBackstop = (delays: RetryDelays): RetrySchedule => ({
  ...delays,
  maxAttempts: retriesFor(delays, POLL_BACKSTOP_SECONDS) + 1,
});

/**
 * The schedule of every wait but the AMI's: each delay 8 % longer than the one before, from 2 s, up to 5 min. A
 * step is noticed within about 8 % of the time it took once it took more than a minute or two, a short one within
 * seconds, and a step of hours costs a check every 5 minutes. `npm run bench` shows the checks and delays of a
 * realistic build against the targets (≤ 10 % of each step, ≤ $0.01 per build).
 */
export const POLL_SCHEDULE: RetrySchedule = withBackstop({
  intervalSeconds: 2,
  backoffRate: 1.08,
  maxDelaySeconds: 300,
});

/**
 * The schedule of the AMI and copy waits (no `aws_polling` in the template): from 4 s, 10 % longer each time, up
 * to 14 s, so that an AMI or a copy is always noticed sooner than by Packer's own wait (every 15 s).
 */
export const AMI_POLL_SCHEDULE: RetrySchedule = withBackstop({
  intervalSeconds: 4,
  backoffRate: 1.1,
  maxDelaySeconds: 14,
});

/** The `$.poll` keys of the AMI waits, which follow {@link AMI_POLL_SCHEDULE}. */
const AMI_POLL_KEYS: ReadonlySet<string> = new Set(['image', 'copy']);

/** The schedule of the wait stored at `$.poll.<key>`. */
export function pollSchedule(key: string): RetrySchedule {
  return AMI_POLL_KEYS.has(key) ? AMI_POLL_SCHEDULE : POLL_SCHEDULE;
}

/** What a check knows of its own wait: the checks made before it and how long they waited. */
export interface CheckProgress {
  /** This check's number: 1 for the first check of the target. */
  attempt: number;
  /** Seconds waited between the first check of this state entry and this one, by the schedule. */
  waitedSeconds: number;
  /** The delay before the next check, by the schedule. */
  nextDelaySeconds: number;
}

/**
 * Where this check stands in its Check state's retries (`check` absent: a first check), on the schedule of the
 * wait at `$.poll.<key>`.
 */
export function checkProgress(check: CheckContext | undefined, key: string): CheckProgress {
  const schedule = pollSchedule(key);
  const retries = check?.retryCount ?? 0;
  return {
    attempt: retries + 1,
    waitedSeconds: waitedSeconds(schedule, retries),
    nextDelaySeconds: retryDelaySeconds(schedule, retries + 1),
  };
}

/** The error that makes the Check state's Retry check again: what was seen, for the execution's history. */
export function pending(what: string, status: string, progress: CheckProgress): PollPendingError {
  return new PollPendingError(
    `${what} is ${status} (check ${progress.attempt}, next in ${Math.round(progress.nextDelaySeconds)} s).`,
  );
}

/**
 * Attempt number of this check in a Choice → Wait loop: previous attempt + 1 when
 * `build.poll[key].target === target`, else 1. A new target (another instance, command or image) restarts the
 * count, so a retried command or a second wait on the same key does not inherit the attempts of the previous
 * one.
 */
export function nextAttempt(build: BuildState, key: string, target: string): number {
  const previous = build.poll?.[key];
  if (previous === undefined || previous.target !== target) return 1;
  return previous.attempt + 1;
}

/** Builds the PollResult a check returns (done, attempt, waitSeconds, status, target). */
export function pollResult(p: {
  done: boolean;
  attempt: number;
  waitSeconds: number;
  status?: string;
  target: string;
  retry?: boolean;
}): PollResult {
  const result: PollResult = {
    done: p.done,
    attempt: p.attempt,
    waitSeconds: p.waitSeconds,
    target: p.target,
  };
  if (p.status !== undefined) result.status = p.status;
  if (p.retry !== undefined) result.retry = p.retry;
  return result;
}
