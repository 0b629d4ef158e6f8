/**
 * The workflow coverage counts what the synthesized definition holds (not a hand-kept list) and reports each state
 * and Catch handler no execution went through.
 */
import { readdirSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestProject } from 'vitest/node';
import type { LocalEventLog } from '../../cli/progress/events.js';
import { StateNames } from '../../infra/state-names.js';
import {
  COVERAGE_EXCLUSIONS,
  catchKey,
  countEvents,
  coverageInventory,
  coverageReport,
  recordExecution,
  unexercised,
} from '../workflow/coverage.js';
import { setup, teardown } from '../workflow/coverage-check.js';
import { type AslMachine, allStates, synth } from './synth.js';

let definition: AslMachine;
beforeAll(() => {
  definition = synth().definition;
});

const entered = (name: string): LocalEventLog => ({
  type: 'StateEntered',
  timestamp: 0,
  state: { name, type: 'Task', input: {} },
});

describe('coverageInventory', () => {
  it('lists every state of the definition, Map and Parallel states included, and every Catch and Retry entry', () => {
    // Act
    const inventory = coverageInventory(definition as unknown as Record<string, unknown>);

    // Assess
    const states = allStates(definition);
    expect(new Set(inventory.states)).toEqual(new Set(states.map((s) => s.name)));
    expect(inventory.states).toEqual(expect.arrayContaining(Object.values(StateNames)));
    const catches = states.flatMap((s) => (s.state.Catch ?? []).map((c) => catchKey(s.name, c)));
    expect(inventory.catches).toEqual(catches);
    expect(inventory.catches).toContain(
      `${StateNames.CheckErrorCleanupCommand} → ${StateNames.InstanceLaunched} [States.ALL]`,
    );
    expect(inventory.retriers.length).toBe(states.reduce((n, s) => n + (s.state.Retry?.length ?? 0), 0));
  });
});

describe('coverageReport', () => {
  it('reports the states and Catch handlers no event went through, and counts caught and retried events', () => {
    // Prepare
    const inventory = coverageInventory(definition as unknown as Record<string, unknown>);
    const events: LocalEventLog[] = [
      ...inventory.states.filter((s) => s !== StateNames.TemplateInvalid).map(entered),
      {
        type: 'StateCaught',
        timestamp: 0,
        state: { name: StateNames.Prevalidate, type: 'Task', input: {} },
        catch: {
          catcher: { ErrorEquals: ['States.ALL'], Next: StateNames.RunErrorCleanupProvisionerChoice },
        },
      } as LocalEventLog,
    ];

    // Act
    const report = coverageReport(inventory, countEvents(events));

    // Assess
    expect(report.states.missed).toEqual([StateNames.TemplateInvalid]);
    expect(report.catches.covered).toEqual([
      `${StateNames.Prevalidate} → ${StateNames.RunErrorCleanupProvisionerChoice} [States.ALL]`,
    ]);
    const gaps = unexercised(report, COVERAGE_EXCLUSIONS);
    expect(gaps).toContain(`state ${StateNames.TemplateInvalid}`);
    // No retry on PollPendingError fired: the waits were not exercised.
    expect(gaps).toContain('retrier PollPendingError');
    expect(gaps).toHaveLength(1 + inventory.catches.length - 1 + 1);
    const polled = coverageReport(
      inventory,
      countEvents([
        ...events,
        {
          type: 'StateRetried',
          timestamp: 0,
          state: { name: StateNames.CheckSsmAgent, type: 'Task', input: {} },
          retry: { retrier: { ErrorEquals: ['PollPendingError'] }, attempt: 1 },
        } as LocalEventLog,
      ]),
    );
    expect(polled.retriers.covered).toEqual([`${StateNames.CheckSsmAgent} [PollPendingError]`]);
    expect(unexercised(polled, COVERAGE_EXCLUSIONS)).not.toContain('retrier PollPendingError');
    expect(unexercised(report, { [StateNames.TemplateInvalid]: 'why' })).not.toContain(
      `state ${StateNames.TemplateInvalid}`,
    );
  });
});

describe('the coverage check after a workflow run', () => {
  it('fails the run when a full workflow run left a state unexercised, and says nothing after a partial run', () => {
    // Prepare: a run whose every harness file recorded executions that entered all states but Template Invalid.
    const provided: Record<string, unknown> = {};
    setup({ provide: (key: string, value: unknown) => (provided[key] = value) } as unknown as TestProject);
    const runDir = provided.workflowCoverageDir as string;
    const all = definition as unknown as Record<string, unknown>;
    const inventory = coverageInventory(all);
    const events = inventory.states.filter((s) => s !== StateNames.TemplateInvalid).map(entered);
    const files = readdirSync('test/workflow').filter((f) => f.endsWith('.test.ts'));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const exitCode = process.exitCode;
    try {
      // Act: one file short of the tier, then the whole tier.
      for (const file of files.slice(1)) recordExecution(runDir, `test/workflow/${file}`, all, events);
      teardown();
      const afterPartial = process.exitCode;
      recordExecution(runDir, `test/workflow/${files[0]}`, all, events);
      teardown();

      // Assess
      expect(afterPartial).toBe(exitCode);
      expect(process.exitCode).toBe(1);
      expect(errors.mock.calls.flat().join('\n')).toContain(`state ${StateNames.TemplateInvalid}`);
    } finally {
      process.exitCode = exitCode;
      rmSync(runDir, { recursive: true, force: true });
      vi.restoreAllMocks();
    }
  });
});
