/**
 * Time as on AWS, compressed: the local runner runs each Wait state and retry interval of the definition for its
 * real duration times the time scale, with the definition's backoff and jitter, never for zero.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIME_SCALE,
  MIN_SCALED_WAIT_MS,
  markStateContext,
  scaledTiming,
} from '../../cli/local/runner.js';
import { parseTimeScale } from '../../cli/local.js';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22+).
const promiseStatics = Promise as unknown as { withResolvers?: unknown };
promiseStatics.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

/** Waits 4 s (a path), then 2 s (fixed), then a branch that fails twice is retried 2 s × 2^n with no jitter. */
const definition = {
  StartAt: 'Wait From Path',
  States: {
    'Wait From Path': { Type: 'Wait', SecondsPath: '$.poll.waitSeconds', Next: 'Wait Fixed' },
    'Wait Fixed': { Type: 'Wait', Seconds: 2, Next: 'Flaky' },
    Flaky: {
      Type: 'Parallel',
      Branches: [
        {
          StartAt: 'Try',
          States: {
            Try: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:try', End: true },
          },
        },
      ],
      Retry: [{ ErrorEquals: ['FlakyError'], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 }],
      End: true,
    },
  },
};

interface Timed {
  type: string;
  name?: string;
  stateType?: string;
  at: number;
}

async function runScaled(scale: number, failures: number): Promise<{ events: Timed[]; output: unknown }> {
  const timing = scaledTiming(definition, scale);
  let calls = 0;
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {
    Try: async (input) => {
      calls += 1;
      if (calls <= failures) {
        const error = new Error(`failure ${calls}`);
        error.name = 'FlakyError';
        throw error;
      }
      return input;
    },
  };
  for (const [name, waitMs] of timing.waits) {
    handlers[name] = async (input) => {
      await new Promise((done) => setTimeout(done, waitMs(input)));
      return input;
    };
  }
  const machine = new StateMachine(timing.definition as never, { validationOptions: { noValidate: true } });
  const execution = machine.run({ poll: { waitSeconds: 4 } } as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
  });
  const events: Timed[] = [];
  const drain = (async () => {
    for await (const e of execution.eventLogs as AsyncIterable<{
      type: string;
      timestamp: number;
      state?: { name: string; type: string };
    }>) {
      events.push({ type: e.type, name: e.state?.name, stateType: e.state?.type, at: e.timestamp });
    }
  })();
  const output = await execution.result;
  await drain;
  return { events, output };
}

const at = (events: Timed[], type: string, name: string, nth = 0) =>
  events.filter((e) => e.type === type && e.name === name)[nth]?.at ?? Number.NaN;

describe('scaledTiming', () => {
  it('runs each Wait for its duration times the scale, and each retry for its backed-off interval times the scale', async () => {
    // Act: 1/50, so 4 s → 80 ms, 2 s → 40 ms, retries 2 s, 4 s → 40 ms, 80 ms
    const { events, output } = await runScaled(1 / 50, 2);

    // Assess
    expect(output).toEqual([{ poll: { waitSeconds: 4 } }]);
    const fromPath =
      at(events, 'StateExited', 'Wait From Path') - at(events, 'StateEntered', 'Wait From Path');
    const fixed = at(events, 'StateExited', 'Wait Fixed') - at(events, 'StateEntered', 'Wait Fixed');
    expect(fromPath).toBeGreaterThanOrEqual(75);
    expect(fromPath).toBeLessThan(400);
    expect(fixed).toBeGreaterThanOrEqual(35);
    expect(fixed).toBeLessThan(fromPath);
    const failed = events.filter((e) => e.type === 'StateFailed' && e.name === 'Flaky').map((e) => e.at);
    const retried = events.filter((e) => e.type === 'StateRetried' && e.name === 'Flaky').map((e) => e.at);
    expect(retried).toHaveLength(2);
    const firstDelay = (retried[0] ?? 0) - (failed[0] ?? 0);
    const secondDelay = (retried[1] ?? 0) - (failed[1] ?? 0);
    expect(firstDelay).toBeGreaterThanOrEqual(35);
    expect(secondDelay).toBeGreaterThanOrEqual(75);
    expect(secondDelay).toBeGreaterThan(firstDelay);
  });

  it('keeps the definition as it is apart from time: Wait states become local tasks of the same name and Next', () => {
    // Act
    const { definition: scaled, waits } = scaledTiming(definition, DEFAULT_TIME_SCALE);

    // Assess
    const states = scaled.States as Record<string, Record<string, unknown>>;
    expect(states['Wait Fixed']).toMatchObject({ Type: 'Task', Next: 'Flaky' });
    expect(states.Flaky?.Retry).toEqual([
      { ErrorEquals: ['FlakyError'], IntervalSeconds: 0.01, BackoffRate: 2, MaxAttempts: 3 },
    ]);
    expect([...waits.keys()]).toEqual(['Wait From Path', 'Wait Fixed']);
    expect(waits.get('Wait From Path')?.({ poll: { waitSeconds: 10 } })).toBe(50);
    expect(definition.States['Wait Fixed'].Type).toBe('Wait');
  });

  it('never waits less than the floor, and fails a Wait whose path is not a number of seconds', () => {
    // Act
    const { waits } = scaledTiming(definition, DEFAULT_TIME_SCALE);
    const wait = waits.get('Wait From Path');

    // Assess
    expect(wait?.({ poll: { waitSeconds: 0 } })).toBe(MIN_SCALED_WAIT_MS);
    expect(() => wait?.({ poll: { waitSeconds: 'soon' } })).toThrow(
      /'\$\.poll\.waitSeconds' evaluated to "soon", but expected an integer >= 0/,
    );
  });
});

describe('parseTimeScale', () => {
  it('reads a fraction or a decimal factor, and refuses zero, more than 1 and words', () => {
    expect(parseTimeScale(undefined)).toBe(DEFAULT_TIME_SCALE);
    expect(parseTimeScale('1/200')).toBe(1 / 200);
    expect(parseTimeScale('0.01')).toBe(0.01);
    expect(parseTimeScale('1')).toBe(1);
    expect(parseTimeScale('0')).toBeUndefined();
    expect(parseTimeScale('2')).toBeUndefined();
    expect(parseTimeScale('fast')).toBeUndefined();
  });
});

describe('markStateContext', () => {
  it('marks the $$.State paths of Task payloads for the runner to fill, and nothing else', () => {
    // Prepare
    const definition: Record<string, unknown> = {
      StartAt: 'Check',
      States: {
        Check: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:123456789012:function:f',
          Parameters: {
            'build.$': '$',
            check: { 'retryCount.$': '$$.State.RetryCount', 'enteredTime.$': '$$.State.EnteredTime' },
            'id.$': '$$.Execution.Id',
          },
          End: true,
        },
      },
    };

    // Act
    const names = markStateContext(definition);

    // Assess
    expect([...names]).toEqual(['Check']);
    expect((definition.States as Record<string, { Parameters: unknown }>).Check?.Parameters).toEqual({
      'build.$': '$',
      check: {
        retryCount: { 'local:$$.State': 'RetryCount' },
        enteredTime: { 'local:$$.State': 'EnteredTime' },
      },
      'id.$': '$$.Execution.Id',
    });
  });
});
