/** A plain `cdk deploy` into the emulator is refused at once with the command that works. */
import { describe, expect, it } from 'vitest';
import { ancestorCommandLines, emulatorDeployProblem } from '../../infra/emulator-deploy.js';

const CDK = ['node', '/repo/node_modules/.bin/cdk'];

describe('emulatorDeployProblem', () => {
  it('refuses cdk deploy against a loopback endpoint without --method=direct, naming the command that works', () => {
    // Act
    const problem = emulatorDeployProblem('http://127.0.0.1:4620', [
      ['sh', '-c', 'npx tsx infra/app.ts'],
      [...CDK, 'deploy'],
    ]);

    // Assess
    expect(problem).toContain('needs --method=direct');
    expect(problem).toContain('npx cdk deploy --method=direct');
  });

  it('lets --method=direct, synth, and real AWS endpoints through', () => {
    // Act & Assess
    expect(
      emulatorDeployProblem('http://localhost:4620', [[...CDK, 'deploy', '--method=direct']]),
    ).toBeUndefined();
    expect(
      emulatorDeployProblem('http://localhost:4620', [[...CDK, 'deploy', '--method', 'direct']]),
    ).toBeUndefined();
    expect(emulatorDeployProblem('http://localhost:4620', [[...CDK, 'synth']])).toBeUndefined();
    expect(emulatorDeployProblem(undefined, [[...CDK, 'deploy']])).toBeUndefined();
    expect(
      emulatorDeployProblem('https://cloudformation.us-east-1.amazonaws.com', [[...CDK, 'deploy']]),
    ).toBeUndefined();
  });

  it('reads this process’s ancestors from /proc', () => {
    // Act
    const lines = ancestorCommandLines();

    // Assess: on Linux the parent is found; elsewhere nothing is (and nothing is refused).
    if (process.platform === 'linux') expect(lines.length).toBeGreaterThan(0);
    else expect(lines).toEqual([]);
  });
});
