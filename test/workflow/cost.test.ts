/**
 * The cost estimate of a real offline build: in the build result, the EventBridge event and the manifest's
 * custom_data; its Step Functions and Lambda figures are the states the runner entered and the tasks it invoked.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkStates } from '../../cli/local/runner.js';
import { writeBuildManifests } from '../../cli/outcome.js';
import { StateNames } from '../../infra/state-names.js';
import { DetailTypes } from '../../lambdas/notify/notify.js';
import type { CostEstimate } from '../../lambdas/shared/cost/estimate.js';
import { BUILD_REGION, basicExample, useWorkflowHarness } from './harness.js';

// Least privilege: Report Build reads the instance and lists the bundle as its own role allows.
const harness = useWorkflowHarness({ leastPrivilege: true });
const COPY_REGION = 'us-west-2';

describe('cost estimate', () => {
  it('carries the itemised estimate of a build in its result, event and manifest, counted as the run went', async () => {
    // Prepare
    const h = harness();
    const template = {
      builders: [{ ...basicExample(h.x509), instance_type: 'm3.medium', ami_regions: [COPY_REGION] }],
      provisioners: [
        { type: 'shell', inline: ['echo one'] },
        { type: 'shell', inline: ['echo two'] },
      ],
    };

    // Act
    const result = await h.run(template, { label: 'cost' });

    // Assess
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const build = result.output?.builds[0];
    const cost = build?.cost as CostEstimate;
    expect(cost).toBeDefined();
    const item = (kind: string, region?: string) =>
      cost.items.find((i) => i.item === kind && (region === undefined || i.region === region));

    // Step Functions and Lambda: what the runner entered and invoked inside the build's iteration.
    const buildStates = new Set<string>();
    const lambdaStates = new Set<string>();
    const map = Object.values(h.stack.definition.States as Record<string, Record<string, unknown>>).find(
      (s) => s.ItemProcessor !== undefined,
    );
    walkStates(map?.ItemProcessor as Record<string, unknown>, (name, state) => {
      buildStates.add(name);
      if (state.Type === 'Task') lambdaStates.add(name);
    });
    const entered = result.events.filter(
      (e) => e.type === 'StateEntered' && buildStates.has(e.state?.name ?? ''),
    );
    const invoked = entered.filter((e) => lambdaStates.has(e.state?.name ?? ''));
    // A retry (a check not done yet) is one more billed transition and one more invocation of the same state.
    const retried = result.events.filter(
      (e) => e.type === 'StateRetried' && lambdaStates.has(e.state?.name ?? ''),
    );
    expect(retried.length).toBeGreaterThan(0);
    expect(item('step-functions')?.units).toBe(entered.length + retried.length);
    expect(item('lambda-requests')?.units).toBe(invoked.length + retried.length);
    expect(
      entered.filter((e) => e.state?.name === StateNames.CheckProvisionerCommand).length,
    ).toBeGreaterThan(1);

    // The instance: m3.medium in the build region, from launch to termination.
    expect(item('instance')).toMatchObject({ region: BUILD_REGION, unit: 'hour' });
    expect(item('instance')?.description).toMatch(/^m3\.medium On-Demand/);
    // The bundle: stored in the build region and copied to the copy's region.
    const storage = cost.items.filter((i) => i.item === 'bundle-storage').map((i) => i.region);
    expect(storage).toEqual([BUILD_REGION, COPY_REGION]);
    expect(item('copy-transfer')?.region).toBe(`${BUILD_REGION}→${COPY_REGION}`);
    expect(item('bundle-storage', BUILD_REGION)?.units).toBeGreaterThan(0);

    // Every item is units × its price; the totals add up.
    for (const i of cost.items) expect(i.usd).toBe(i.units * (i.unitPriceUsd as number));
    const sum = (r: string) =>
      cost.items.filter((i) => i.recurring === r).reduce((a, i) => a + (i.usd ?? 0), 0);
    expect(cost.totalUsd).toBe(sum('once'));
    expect(cost.monthlyUsd).toBe(sum('monthly'));
    expect(cost.complete).toBe(true);

    // The event carries it.
    const events = await h.emulator.events();
    expect(events[0]).toMatchObject({ detailType: DetailTypes.succeeded, detail: { builds: [{ cost }] } });

    // So does the manifest's custom_data.
    const dir = await mkdtemp(join(tmpdir(), 'ami-builder-cost-'));
    try {
      const path = join(dir, 'packer-manifest.json');
      await writeBuildManifests(result.output as never, [], {
        manifest: path,
        cwd: dir,
        now: new Date(),
        runUuid: 'run',
      });
      const manifest = JSON.parse(await readFile(path, 'utf8')) as {
        builds: { custom_data: Record<string, string> }[];
      };
      expect(manifest.builds[0]?.custom_data).toMatchObject({
        estimated_cost_usd: cost.totalUsd.toFixed(6),
        estimated_monthly_cost_usd: cost.monthlyUsd.toFixed(6),
        estimated_cost_complete: 'true',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
