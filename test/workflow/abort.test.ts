/**
 * A build stopped mid-way (StopExecution) runs no Catch: the abort cleanup, which the deployed stack's
 * EventBridge rule invokes, must remove what the build had created by then.
 */
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { basicExample, enteredStates, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

/** Abort points: the state whose entry stops the execution, and what exists by then. */
const abortPoints = [
  { after: 'the instance is launched', state: StateNames.CheckInstanceRunning, commands: 0, images: 0 },
  { after: 'provisioning started', state: StateNames.CheckProvisionerCommand, commands: 1, images: 0 },
  { after: 'the AMI is registered', state: StateNames.CheckAmiAvailable, commands: 4, images: 1 },
];

describe('an aborted build', () => {
  for (const point of abortPoints) {
    it(`ends ABORTED with nothing left behind when stopped after ${point.after}`, async () => {
      // Prepare
      const h = harness();
      const template = {
        builders: [{ ...basicExample(h.x509), ami_regions: ['eu-west-1'] }],
        provisioners: [{ type: 'shell', inline: ['echo provisioning'] }],
      };
      const stop = new AbortController();

      // Act
      const result = await h.run(template, {
        label: 'abort',
        signal: stop.signal,
        onEvent: (event) => {
          if (event.kind === 'state-entered' && event.state === point.state) stop.abort();
        },
      });

      // Assess
      expect(result.status).toBe('ABORTED');
      const entered = enteredStates(result);
      expect(entered).toContain(point.state);
      expect(entered).not.toContain(StateNames.CleanUpAfterFailure);
      expect(entered).not.toContain(StateNames.ReportBuild);
      const [launch, ...others] = await h.emulator.launches();
      expect(others).toEqual([]);
      expect(await h.emulator.commands()).toHaveLength(point.commands);
      expect(result.abortCleanup).toMatchObject({
        terminatedInstances: [launch?.instanceId],
        deletedSecurityGroups: [expect.stringMatching(/^sg-/)],
        deletedInstanceRoles: [expect.stringMatching(/^build-amazon-instance-[0-9a-f]{12}$/)],
      });
      expect((result.abortCleanup as { deletedStagedObjects: number }).deletedStagedObjects > 0).toBe(
        point.commands > 0,
      );
      // Registered AMIs are kept, as Packer keeps them on cancel.
      expect(await h.images('us-east-1')).toHaveLength(point.images);
      expect(await h.leftovers(['us-east-1', 'eu-west-1'])).toEqual({
        instances: [],
        securityGroups: [],
        stagedObjects: [],
        instanceRoles: [],
      });
    });
  }
});
