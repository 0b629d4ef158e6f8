import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/config.js';
import {
  defaultDefinition,
  iamMarkdown,
  mermaidFlowchart,
  stateMachineMarkdown,
} from '../../infra/diagram.js';
import { StateNames } from '../../infra/state-names.js';

const committed = (file: string) => readFileSync(join(repoRoot, 'docs', file), 'utf8');

describe('the generated docs', () => {
  it('docs/STATE-MACHINE.md is current (run `npx tsx infra/diagram.ts` after changing the workflow)', () => {
    expect(committed('STATE-MACHINE.md')).toBe(stateMachineMarkdown(defaultDefinition()));
  });

  it('docs/IAM.md is current (run `npx tsx infra/diagram.ts` after changing infra/permissions.ts)', () => {
    expect(committed('IAM.md')).toBe(iamMarkdown());
  });

  it('draws every state, the Maps and the Parallel as subgraphs, and the Catch edges dotted', () => {
    // Act
    const chart = mermaidFlowchart(defaultDefinition() as never);

    // Assess
    for (const name of Object.values(StateNames)) expect(chart).toContain(`"${name.replace(/"/g, "'")}`);
    expect(chart).toMatch(/subgraph s\d+ \["Build Each Builder \(Map\)"\]/);
    expect(chart).toMatch(/subgraph s\d+ \["Copy And Finish \(Parallel\)"\]/);
    expect(chart).toMatch(/-\.->\|"States\.ALL"\|/);
    expect(chart).toMatch(/-->\|"\$\.poll\.command\.done == true"\|/);
  });
});
