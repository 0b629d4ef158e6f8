/**
 * Attempt counting for the Wait → Check → Choice loops (docs/ARCHITECTURE.md, "Poll loops"). Every Check task
 * returns a {@link PollResult} into `$.poll.<waitKey>`; the next check reads it back to know how many checks were
 * made for the same target, so the bound survives the round trip through the state machine.
 */
import type { BuildState, PollResult } from './state.js';

/**
 * Attempt number of this check: previous attempt + 1 when `build.poll[key].target === target`, else 1.
 * A new target (another instance, command or image) restarts the count, so a retried command or a second wait
 * on the same key does not inherit the attempts of the previous one.
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
