/**
 * The workflow coverage counts what the synthesized definition holds (not a hand-kept list) and reports each state
 * and Catch handler no execution went through.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalEventLog } from '../../cli/progress/events.js';
import { StateNames } from '../../infra/state-names.js';
import {
  COVERAGE_EXCLUSIONS,
  catchKey,
  countEvents,
  coverageInventory,
  coverageReport,
  unexercised,
} from '../workflow/coverage.js';
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
    expect(gaps).toHaveLength(1 + inventory.catches.length - 1);
    expect(unexercised(report, { [StateNames.TemplateInvalid]: 'why' })).not.toContain(
      `state ${StateNames.TemplateInvalid}`,
    );
  });
});
