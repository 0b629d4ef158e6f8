/**
 * Counts one build's Step Functions state transitions and Lambda invocations from the synthesized definition and
 * the build's state (README.md, "Cost estimate"). Nothing is hard-coded per state:
 *
 * - {@link pruneDefinition} keeps, of the build's part of the definition (the "Build Each Builder" iteration), what
 *   decides the path: each state's type, Next/End, Choice rules and Default, Catch targets, ItemsPath, nested
 *   processors and branches, ResultPath, Retry errors, and whether it invokes Lambda. Report Build receives it
 *   with its arguments, from the same definition (infra/workflow.ts).
 * - {@link countBuildPath} walks it once with the build's final state: a Task whose result is missing from the
 *   state of a failed build is where it failed, and the walk goes on at its Catch (the failure path); a Choice
 *   is decided on the state, except that a branch going back to a state already entered (a poll loop's "not yet"
 *   or "retry" branch) is never taken; a Map runs its processor once per item of its ItemsPath.
 * - Each Check task records, in its `PollResult.counts`, how many times it ran (by state name), carried through
 *   the state and out of the Map iterations. Every check beyond those the walk entered costs the states of its
 *   loop — the cycle from the Check back to itself in the definition (Check, Choice, Wait), or one transition
 *   when the Check repeats through a Retry — and one invocation.
 */

import { retriedKey } from '../state.js';

export interface ChoiceRule {
  Variable?: string;
  IsPresent?: boolean;
  BooleanEquals?: boolean;
  StringEquals?: string;
  NumericEquals?: number;
  And?: ChoiceRule[];
  Or?: ChoiceRule[];
  Not?: ChoiceRule;
  Next?: string;
}

export interface PathState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: ChoiceRule[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  /** The error names a Retry re-runs the state for. */
  Retry?: string[];
  ResultPath?: string | null;
  ItemsPath?: string;
  ItemProcessor?: PathMachine;
  Branches?: PathMachine[];
  /** The state invokes a Lambda function. */
  Lambda?: boolean;
}

export interface PathMachine {
  StartAt: string;
  States: Record<string, PathState>;
}

type Asl = Record<string, unknown>;

/**
 * A Task invokes Lambda when its Resource is the Lambda integration or a function: anything but another service's
 * integration (`arn:aws:states:::<service>:…`) or an activity. A function ARN not yet resolved (a CDK token, or
 * CloudFormation's `Fn::GetAtt`) is a function: this workflow's tasks are all functions.
 */
const isLambda = (state: Asl): boolean => {
  const resource = typeof state.Resource === 'string' ? state.Resource : JSON.stringify(state.Resource ?? '');
  if (resource.includes(':lambda:')) return true;
  return !/arn:aws[\w-]*:states:::/.test(resource) && !resource.includes(':activity:');
};

function pruneRule(rule: Asl): ChoiceRule {
  const out: ChoiceRule = {};
  for (const key of [
    'Variable',
    'IsPresent',
    'BooleanEquals',
    'StringEquals',
    'NumericEquals',
    'Next',
  ] as const) {
    if (rule[key] !== undefined) (out as Record<string, unknown>)[key] = rule[key];
  }
  if (Array.isArray(rule.And)) out.And = (rule.And as Asl[]).map(pruneRule);
  if (Array.isArray(rule.Or)) out.Or = (rule.Or as Asl[]).map(pruneRule);
  if (rule.Not !== undefined) out.Not = pruneRule(rule.Not as Asl);
  return out;
}

/** What of an ASL state machine (or processor) decides the path a build takes through it. */
export function pruneDefinition(machine: Asl): PathMachine {
  const states: Record<string, PathState> = {};
  for (const [name, raw] of Object.entries(machine.States as Record<string, Asl>)) {
    const s: PathState = { Type: String(raw.Type) };
    if (typeof raw.Next === 'string') s.Next = raw.Next;
    if (raw.End === true) s.End = true;
    if (typeof raw.Default === 'string') s.Default = raw.Default;
    if (Array.isArray(raw.Choices)) s.Choices = (raw.Choices as Asl[]).map(pruneRule);
    if (Array.isArray(raw.Catch)) {
      s.Catch = (raw.Catch as Asl[]).map((c) => ({
        ErrorEquals: c.ErrorEquals as string[],
        Next: String(c.Next),
      }));
    }
    if (Array.isArray(raw.Retry)) s.Retry = (raw.Retry as Asl[]).flatMap((r) => r.ErrorEquals as string[]);
    if (raw.ResultPath !== undefined) s.ResultPath = raw.ResultPath as string | null;
    if (typeof raw.ItemsPath === 'string') s.ItemsPath = raw.ItemsPath;
    const processor = (raw.ItemProcessor ?? raw.Iterator) as Asl | undefined;
    if (processor !== undefined) s.ItemProcessor = pruneDefinition(processor);
    if (Array.isArray(raw.Branches)) s.Branches = (raw.Branches as Asl[]).map(pruneDefinition);
    if (raw.Type === 'Task' && isLambda(raw)) s.Lambda = true;
    states[name] = s;
  }
  return { StartAt: String(machine.StartAt), States: states };
}

/** The value at a simple JSONPath (`$.a.b`, `$.a[0]`), or undefined. */
export function valueAt(data: unknown, path: string): unknown {
  if (path === '$') return data;
  if (!path.startsWith('$.')) return undefined;
  let value: unknown = data;
  for (const part of path.slice(2).match(/[^.[\]]+/g) ?? []) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function matches(rule: ChoiceRule, data: unknown): boolean {
  if (rule.And !== undefined) return rule.And.every((r) => matches(r, data));
  if (rule.Or !== undefined) return rule.Or.some((r) => matches(r, data));
  if (rule.Not !== undefined) return !matches(rule.Not, data);
  const value = rule.Variable === undefined ? undefined : valueAt(data, rule.Variable);
  if (rule.IsPresent !== undefined) return (value !== undefined) === rule.IsPresent;
  if (rule.BooleanEquals !== undefined) return value === rule.BooleanEquals;
  if (rule.StringEquals !== undefined) return value === rule.StringEquals;
  if (rule.NumericEquals !== undefined) return value === rule.NumericEquals;
  return false;
}

export interface PathCount {
  transitions: number;
  invocations: number;
  /** Check states whose recorded count was missing (each counted as entered once). */
  unrecorded: string[];
}

/** The number of states on the loop from `check` back to itself (Check, Choice, Wait), or 1 through a Retry. */
export function loopLength(machine: PathMachine, check: string): number {
  const start = machine.States[check];
  if (start?.Next === undefined) return 1;
  // Breadth-first from the Check's successor back to the Check, through Next, Choice branches and Default.
  const queue: { name: string; length: number }[] = [{ name: start.Next, length: 2 }];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { name, length } = queue.shift() as { name: string; length: number };
    if (name === check) return length - 1;
    if (seen.has(name)) continue;
    seen.add(name);
    const s = machine.States[name];
    if (s === undefined || s.Type === 'Task') continue;
    const targets = [s.Next, s.Default, ...(s.Choices ?? []).map((c) => c.Next)];
    for (const t of targets) if (t !== undefined) queue.push({ name: t, length: length + 1 });
  }
  return 1;
}

/** The states a branch reaches through Next alone before the next Task or Choice (Wait, Pass…), then that one. */
function leadsBack(machine: PathMachine, target: string, entered: Set<string>): boolean {
  let name: string | undefined = target;
  for (let i = 0; name !== undefined && i < 20; i += 1) {
    if (entered.has(name)) return true;
    const s: PathState | undefined = machine.States[name];
    if (s === undefined || s.Type === 'Task' || s.Type === 'Choice') return false;
    name = s.Next;
  }
  return false;
}

/**
 * Counts the transitions and invocations of one build. `data` is the build's final state; `counts` how many
 * times each Check state ran (by name), from the state's poll results and the Map iterations' outputs.
 */
export function countBuildPath(
  machine: PathMachine,
  data: unknown,
  counts: Record<string, number>,
  failed: boolean,
): PathCount {
  const total: PathCount = { transitions: 0, invocations: 0, unrecorded: [] };
  const entered = new Map<string, { machine: PathMachine; times: number }>();
  const failure = { pending: failed };
  /** The Catch-all target of a state of a failed build whose result is missing: where the failure path starts. */
  const failedAt = (s: PathState): string | undefined => {
    const target: string | undefined = s.Catch?.find((c) => c.ErrorEquals.includes('States.ALL'))?.Next;
    if (!failure.pending || target === undefined) return undefined;
    failure.pending = false;
    return target;
  };

  const walk = (m: PathMachine, item: unknown) => {
    const here = new Set<string>();
    let name: string | undefined = m.StartAt;
    for (let guard = 0; name !== undefined && guard < 10_000; guard += 1) {
      const s: PathState | undefined = m.States[name];
      if (s === undefined) return;
      total.transitions += 1;
      here.add(name);
      const seen = entered.get(name);
      entered.set(name, { machine: m, times: (seen?.times ?? 0) + 1 });
      let next: string | undefined = s.End ? undefined : s.Next;
      switch (s.Type) {
        case 'Task': {
          if (s.Lambda) total.invocations += 1;
          const path = s.ResultPath;
          const result = typeof path === 'string' && path !== '$' ? valueAt(data, path) : true;
          if (result === undefined) next = failedAt(s) ?? next;
          break;
        }
        case 'Choice': {
          const open = (target: string | undefined) => target !== undefined && !leadsBack(m, target, here);
          const rule = (s.Choices ?? []).find((c) => open(c.Next) && matches(c, data));
          // A loop's Choice whose exit rule the final state does not match (a check never done): leave the loop.
          next =
            rule?.Next ?? (open(s.Default) ? s.Default : (s.Choices ?? []).find((c) => open(c.Next))?.Next);
          break;
        }
        case 'Map': {
          const items = s.ItemsPath === undefined ? undefined : valueAt(data, s.ItemsPath);
          if (s.ItemProcessor !== undefined && Array.isArray(items)) {
            for (const it of items) walk(s.ItemProcessor, it);
          }
          if (typeof s.ResultPath === 'string' && valueAt(data, s.ResultPath) === undefined) {
            next = failedAt(s) ?? next;
          }
          break;
        }
        case 'Parallel':
          for (const branch of s.Branches ?? []) walk(branch, item);
          break;
        case 'Succeed':
        case 'Fail':
          next = undefined;
          break;
        default:
          break;
      }
      name = next;
    }
  };
  walk(machine, data);

  for (const [name, { machine: m, times }] of entered) {
    const s = m.States[name];
    if (s?.Type !== 'Task' || typeof s.ResultPath !== 'string' || !s.ResultPath.startsWith('$.poll.'))
      continue;
    const recorded = counts[name];
    if (recorded === undefined) {
      total.unrecorded.push(name);
      continue;
    }
    // Runs through the state's own Retry are one transition each; the other extra runs went round its loop.
    const retried = counts[retriedKey(name)] ?? 0;
    const extra = Math.max(0, recorded - retried - times);
    total.transitions += extra * loopLength(m, name) + retried;
    if (s.Lambda) total.invocations += extra + retried;
  }
  total.unrecorded.sort();
  return total;
}
