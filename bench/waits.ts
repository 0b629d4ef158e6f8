/**
 * What the waits of a realistic build cost and how soon they notice (issue 13, "Waits that cost little and notice
 * soon"). Nothing here is copied from the workflow: each step of {@link REALISTIC_BUILD} names a Wait state; the
 * synthesized definition says which `$.poll.<key>` that Wait's `SecondsPath` reads and which Check task it loops
 * on, and the key's schedule is the one the Check Lambda returns (imported from the task modules). A step of
 * duration D is checked at once, then after each wait of the schedule, until a check falls at or after D:
 * - checks: that number (Lambda invocations; each check is Task + Choice, each wait one more transition);
 * - worst-case detection delay: the wait in progress when the step ends (a step that ends just after a check is
 *   seen one whole wait later).
 * The rest of the build (the states outside these waits) is the measured offline build's, less its own poll
 * iterations.
 */

import { StateNames } from '../infra/state-names.js';
import { AGENT_POLL_KEY, AGENT_POLL_SECONDS } from '../lambdas/check-agent/check-agent.js';
import { COMMAND_POLL_KEY, commandWaitSeconds } from '../lambdas/check-command/check-command.js';
import { ASSUMED_BILLED_MS, TASK_MEMORY_MB } from '../lambdas/report-build/cost.js';
import type { BuildConfig } from '../lambdas/shared/config.js';
import { BYTES_PER_GB, type CostEstimate, estimateCost } from '../lambdas/shared/cost/estimate.js';
import { PRICE_TABLE } from '../lambdas/shared/cost/prices.js';

export { ASSUMED_BILLED_MS };

/** The prices: the shipped table (lambdas/shared/cost/prices.json), the same one every build's estimate uses. */
export const PRICES = PRICE_TABLE;

/** Memory of every task function (infra/constructs/task-function.ts), GB. */
const LAMBDA_GB = TASK_MEMORY_MB / 1024;

/** The targets. */
export const WAIT_TARGETS = { costPerBuildUsd: 0.01, delayRatio: 0.1 };

/** Packer's own AMI wait (aws_polling defaults): 15 s between checks, 120 checks. */
export const PACKER_AMI_WAIT = { delaySeconds: 15, maxAttempts: 120 };

/** The realistic build of the issue: each step, the Wait state that waits for it, its duration and its count. */
export const REALISTIC_BUILD: readonly { step: string; wait: string; seconds: number; count: number }[] = [
  { step: 'agent online', wait: StateNames.WaitForSsmAgent, seconds: 120, count: 1 },
  { step: 'provisioning', wait: StateNames.WaitForProvisionerCommand, seconds: 600, count: 1 },
  { step: 'bundling', wait: StateNames.WaitForBundleVolume, seconds: 1200, count: 1 },
  { step: 'upload', wait: StateNames.WaitForUploadBundle, seconds: 600, count: 1 },
  { step: 'AMI available', wait: StateNames.WaitForAmi, seconds: 300, count: 1 },
  { step: 'AMI copy', wait: StateNames.WaitForAmiCopy, seconds: 900, count: 2 },
];

type Schedule = (attempt: number, config: BuildConfig) => number;

/** Seconds each Check Lambda asks to wait after check number `attempt`, by its `$.poll` key. */
const SCHEDULES: Record<string, Schedule> = {
  [AGENT_POLL_KEY]: () => AGENT_POLL_SECONDS,
  [COMMAND_POLL_KEY]: (attempt) => commandWaitSeconds(attempt),
  image: (_, config) => config.polling.delaySeconds,
  copy: (_, config) => config.polling.delaySeconds,
};

interface AslState {
  Type: string;
  Next?: string;
  SecondsPath?: string;
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

export interface StepWait {
  step: string;
  wait: string;
  check: string;
  pollKey: string;
  seconds: number;
  count: number;
  /** Checks made for one such step (the first at once). */
  checks: number;
  /** The wait in progress when the step ends: the longest it can go unnoticed. */
  worstDelaySeconds: number;
  /** The waits, in order, up to the detecting check (for the report). */
  waits: number[];
}

/** The realistic steps as the synthesized definition and the Check Lambdas' schedules wait for them. */
export function realisticWaits(definition: unknown, config: BuildConfig): StepWait[] {
  const states = allStates(definition as { States: Record<string, AslState> });
  return REALISTIC_BUILD.map(({ step, wait, seconds, count }) => {
    const state = states.get(wait);
    const key = /^\$\.poll\.([A-Za-z]+)\.waitSeconds$/.exec(state?.SecondsPath ?? '')?.[1];
    if (state?.Type !== 'Wait' || key === undefined || state.Next === undefined) {
      throw new Error(`${wait}: not a Wait on $.poll.<key>.waitSeconds in the definition`);
    }
    const schedule = SCHEDULES[key];
    if (schedule === undefined) throw new Error(`${wait}: no schedule for $.poll.${key}`);
    const waits: number[] = [];
    let at = 0;
    let checks = 1;
    while (at < seconds) {
      const w = schedule(checks, config);
      waits.push(w);
      at += w;
      checks += 1;
    }
    return {
      step,
      wait,
      check: state.Next,
      pollKey: key,
      seconds,
      count,
      checks,
      worstDelaySeconds: waits.at(-1) ?? 0,
      waits,
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
 * transitions and invocations, and how many times each Wait state was entered in it (each entry is one more
 * Wait → Check → Choice iteration, which the realistic figures replace).
 */
export function realisticCost(
  steps: StepWait[],
  measured: { transitions: number; invocations: number; waitEntries: number },
  region = 'us-east-1',
): WaitCost {
  const baseTransitions = measured.transitions - 3 * measured.waitEntries;
  const baseInvocations = measured.invocations - measured.waitEntries;
  const extraChecks = steps.reduce((a, s) => a + s.count * (s.checks - 1), 0);
  const transitions = baseTransitions + 3 * extraChecks;
  const invocations = baseInvocations + extraChecks;
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
