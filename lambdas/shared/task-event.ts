/**
 * Parsing of task payloads. The state machine is the only caller, so the check is about wiring, not users: the
 * envelope and the parts of the state a task needs must be there. A miss is a {@link TaskInputError} that names
 * the missing path.
 */
import * as z from 'zod/mini';
import './zod-english.js';
import { TaskInputError } from './errors.js';
import type { BuildState, TaskEvent } from './state.js';

const envelope = z.object({
  build: z.looseObject({
    config: z.looseObject({ name: z.string(), region: z.string() }),
    execution: z.object({ id: z.string(), name: z.string(), startTime: z.string() }),
    poll: z.optional(z.record(z.string(), z.unknown())),
  }),
  args: z.optional(z.record(z.string(), z.unknown())),
  state: z.optional(z.string()),
  check: z.optional(
    z.object({ retryCount: z.int().check(z.minimum(0)), enteredTime: z.optional(z.string()) }),
  ),
});

/**
 * Checks the `{ build, args }` envelope and returns it typed. `args` is checked by the given schema (default:
 * anything). The build state itself is trusted past its identifying fields: it was produced by earlier tasks.
 */
export function parseTaskEvent<A>(event: unknown, args?: z.ZodMiniType<A>): TaskEvent<A> {
  const parsed = envelope.safeParse(event);
  if (!parsed.success) {
    throw new TaskInputError(`task input is malformed: ${z.prettifyError(parsed.error)}`);
  }
  const build = parsed.data.build as unknown as BuildState;
  if (build.poll === undefined) build.poll = {};
  const rawArgs = parsed.data.args ?? {};
  const extra = {
    ...(parsed.data.state === undefined ? {} : { state: parsed.data.state }),
    ...(parsed.data.check === undefined ? {} : { check: parsed.data.check }),
  };
  if (args === undefined) return { build, args: rawArgs as A, ...extra };
  const a = args.safeParse(rawArgs);
  if (!a.success) throw new TaskInputError(`task args are malformed: ${z.prettifyError(a.error)}`);
  return { build, args: a.data, ...extra };
}

/** Returns `build[key]`, or throws a {@link TaskInputError} naming the missing state path. */
export function requireState<K extends keyof BuildState>(
  build: BuildState,
  key: K,
): NonNullable<BuildState[K]> {
  const value = build[key];
  if (value === undefined || value === null) {
    throw new TaskInputError(
      `task input lacks $.${String(key)}: the state machine must run the step that sets it first`,
    );
  }
  return value as NonNullable<BuildState[K]>;
}
