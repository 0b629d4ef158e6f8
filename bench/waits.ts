/**
 * What the waits of a realistic build cost and how soon they notice (issue 13, "Waits that cost little and notice
 * soon"). Nothing here is copied from the workflow: each step of {@link REALISTIC_BUILD} names the Check state
 * that waits for it; the synthesized definition gives that state's Retry on PollPendingError (IntervalSeconds,
 * BackoffRate, MaxDelaySeconds), which is the poll schedule. A step of duration D is checked at once (the state's
 * entry), then after each retry delay, until a check falls at or after D:
 * - checks: that number (Lambda invocations; each retry is one billed state transition, the entry one more);
 * - worst-case detection delay: the delay in progress when the step ends (a step that ends just after a check is
 *   seen one whole delay later).
 * The rest of the build (the states outside these waits) is the measured offline build's, less its own retries.
 */

import { StateNames } from '../infra/state-names.js';
import { ASSUMED_BILLED_MS, TASK_MEMORY_MB } from '../lambdas/report-build/cost.js';
import type { BuildConfig } from '../lambdas/shared/config.js';
import { BYTES_PER_GB, type CostEstimate, estimateCost } from '../lambdas/shared/cost/estimate.js';
import { PRICE_TABLE } from '../lambdas/shared/cost/prices.js';
import { ErrorNames } from '../lambdas/shared/errors.js';
import { type RetrySchedule, retriesFor, retryDelaySeconds } from '../lambdas/shared/poll.js';

export { ASSUMED_BILLED_MS };

/** The prices: the shipped table (lambdas/shared/cost/prices.json), the same one every build's estimate uses. */
export const PRICES = PRICE_TABLE;

/** Memory of every task function (infra/constructs/task-function.ts), GB. */
const LAMBDA_GB = TASK_MEMORY_MB / 1024;

/** The targets. */
export const WAIT_TARGETS = { costPerBuildUsd: 0.01, delayRatio: 0.1 };

/** Packer's own AMI wait (aws_polling defaults): 15 s between checks, 120 checks. */
export const PACKER_AMI_WAIT = { delaySeconds: 15, maxAttempts: 120 };

/** The realistic build of the issue: each step, the Check state that waits for it, its duration and its count. */
export const REALISTIC_BUILD: readonly { step: string; check: string; seconds: number; count: number }[] = [
  { step: 'agent online', check: StateNames.CheckSsmAgent, seconds: 120, count: 1 },
  { step: 'provisioning', check: StateNames.CheckProvisionerCommand, seconds: 600, count: 1 },
  { step: 'bundling', check: StateNames.CheckBundleVolume, seconds: 1200, count: 1 },
  { step: 'upload', check: StateNames.CheckUploadBundle, seconds: 600, count: 1 },
  { step: 'AMI available', check: StateNames.CheckAmiAvailable, seconds: 300, count: 1 },
  { step: 'AMI copy', check: StateNames.CheckAmiCopy, seconds: 900, count: 2 },
];

interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  MaxAttempts?: number;
  JitterStrategy?: string;
}

interface AslState {
  Type: string;
  Retry?: AslRetrier[];
  Parameters?: Record<string, unknown>;
  ItemProcessor?: { States: Record<string, AslState> };
  Iterator?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
}

/** Every state of the definition, nested Map and Parallel states included, by name. */
function allStates(definition: { States: Record<string, AslState> }): Map<string, AslState> {
  const states = new Map<string, AslState>();
  const walk = (machine: { States: Record<string, AslState> }) => {
    for (const [name, state] of Object.entries(machine.States)) {
      states.set(name, state);
      if (state.ItemProcessor !== undefined) walk(state.ItemProcessor);
      if (state.Iterator !== undefined) walk(state.Iterator);
      for (const branch of state.Branches ?? []) walk(branch);
    }
  };
  walk(definition);
  return states;
}

/** The poll schedule of a Check state: its Retry on PollPendingError, with ASL's defaults. */
export function pollRetrier(definition: unknown, check: string): RetrySchedule & { jitter: string } {
  const state = allStates(definition as { States: Record<string, AslState> }).get(check);
  const retrier = state?.Retry?.find((r) => r.ErrorEquals.includes(ErrorNames.PollPending));
  if (state?.Type !== 'Task' || retrier === undefined) {
    throw new Error(`${check}: not a Task with a Retry on ${ErrorNames.PollPending} in the definition`);
  }
  return {
    intervalSeconds: retrier.IntervalSeconds ?? 1,
    backoffRate: retrier.BackoffRate ?? 2,
    maxDelaySeconds: retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY,
    maxAttempts: retrier.MaxAttempts ?? 3,
    jitter: retrier.JitterStrategy ?? 'NONE',
  };
}

export interface StepWait {
  step: string;
  check: string;
  seconds: number;
  count: number;
  /** The schedule, as `interval × rate^n ≤ cap`. */
  schedule: string;
  /** Checks made for one such step (the first at once). */
  checks: number;
  /** The delay in progress when the step ends: the longest it can go unnoticed. */
  worstDelaySeconds: number;
}

/** The realistic steps as the synthesized definition's poll retriers wait for them. */
export function realisticWaits(definition: unknown): StepWait[] {
  return REALISTIC_BUILD.map(({ step, check, seconds, count }) => {
    const schedule = pollRetrier(definition, check);
    if (schedule.jitter !== 'NONE') throw new Error(`${check}: a jittered schedule has no fixed worst case`);
    const retries = retriesFor(schedule, seconds);
    if (retries > schedule.maxAttempts) throw new Error(`${check}: ${retries} retries exceed MaxAttempts`);
    return {
      step,
      check,
      seconds,
      count,
      schedule: `${schedule.intervalSeconds} s × ${schedule.backoffRate}^n ≤ ${schedule.maxDelaySeconds} s`,
      checks: retries + 1,
      worstDelaySeconds: Math.round(10 * retryDelaySeconds(schedule, retries)) / 10,
    };
  });
}

export interface WaitCost {
  steps: StepWait[];
  transitions: number;
  invocations: number;
  stepFunctionsUsd: number;
  lambdaUsd: number;
  totalUsd: number;
}

/**
 * The realistic build's transitions, invocations and cost. `measured` is the offline build (waits zeroed): its
 * transitions (states entered: the local runner does not count retries), its invocations, and the retries on
 * PollPendingError in it (each one more invocation, which the realistic figures replace).
 */
export function realisticCost(
  steps: StepWait[],
  measured: { transitions: number; invocations: number; pollRetries: number },
  region = 'us-east-1',
): WaitCost {
  const baseTransitions = measured.transitions;
  const baseInvocations = measured.invocations - measured.pollRetries;
  const retries = steps.reduce((a, s) => a + s.count * (s.checks - 1), 0);
  // Each retry is billed as a state transition and is one more invocation.
  const transitions = baseTransitions + retries;
  const invocations = baseInvocations + retries;
  const cost = estimateCost({
    stepFunctions: { region, transitions },
    lambda: { region, requests: invocations, gbSeconds: lambdaGbSeconds(invocations) },
    transfers: [],
    unknown: [],
  });
  const usd = (...kinds: string[]) =>
    cost.items.filter((i) => kinds.includes(i.item)).reduce((a, i) => a + (i.usd ?? Number.NaN), 0);
  const stepFunctionsUsd = usd('step-functions');
  const lambdaUsd = usd('lambda-duration', 'lambda-requests');
  return {
    steps,
    transitions,
    invocations,
    stepFunctionsUsd,
    lambdaUsd,
    totalUsd: stepFunctionsUsd + lambdaUsd,
  };
}

/** GB-seconds of `invocations` task invocations at the assumed billed duration. */
export function lambdaGbSeconds(invocations: number): number {
  return invocations * (ASSUMED_BILLED_MS / 1000) * LAMBDA_GB;
}

/** The bundle size the projection assumes: the 10 GiB an instance-store root volume holds at most. */
export const PROJECTED_BUNDLE_BYTES = 10 * BYTES_PER_GB;

/**
 * The projected estimate of a build of `minutes` at today's polling: the instance for that long (the template's
 * type and region), the realistic build's transitions and invocations, and a bundle of
 * {@link PROJECTED_BUNDLE_BYTES} stored in the build region and each `ami_regions` region, copied there.
 */
export function projectedCost(
  waits: WaitCost,
  config: BuildConfig,
  region: string,
  minutes = 60,
): CostEstimate {
  const copies = config.amiRegions.filter((r) => r !== config.region);
  return estimateCost({
    instance: { type: config.instanceType, region: config.region, seconds: minutes * 60 },
    stepFunctions: { region, transitions: waits.transitions },
    lambda: { region, requests: waits.invocations, gbSeconds: lambdaGbSeconds(waits.invocations) },
    bundle: { bytes: PROJECTED_BUNDLE_BYTES, regions: [config.region, ...copies] },
    transfers: copies.map((to) => ({ from: config.region, to, bytes: PROJECTED_BUNDLE_BYTES })),
    unknown: [],
  });
}

/**
 * The worst-case delay of Packer's own AMI wait (a fixed delay): a whole delay. It notices an AMI of any duration
 * up to 15 s late; the bench compares each step's delay of the schedule with it.
 */
export function packerWorstDelaySeconds(): number {
  return PACKER_AMI_WAIT.delaySeconds;
}
