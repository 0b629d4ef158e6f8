/** "The cost figures add up": each item is units × the shipped price, and the totals are the items' sums. */
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../../infra/state-names.js';
import { type BuildUsage, costCustomData, estimateCost } from '../../../lambdas/shared/cost/estimate.js';
import { countBuildPath, type PathMachine, pruneDefinition } from '../../../lambdas/shared/cost/path.js';
import { PRICE_TABLE } from '../../../lambdas/shared/cost/prices.js';
import shipped from '../../../lambdas/shared/cost/prices.json' with { type: 'json' };
import { retriedKey } from '../../../lambdas/shared/state.js';
import { synth } from '../../infra/synth.js';

const GB = 1024 ** 3;

const usage: BuildUsage = {
  instance: { type: 'm3.medium', region: 'us-east-1', seconds: 3600 * 1.25 },
  stepFunctions: { region: 'us-east-1', transitions: 412 },
  lambda: { region: 'us-east-1', requests: 130, gbSeconds: 130 * 0.3 * 0.25 },
  bundle: { bytes: 3 * GB, regions: ['us-east-1', 'us-west-2'] },
  transfers: [{ from: 'us-east-1', to: 'us-west-2', bytes: 3 * GB }],
  unknown: [],
};

describe('estimateCost', () => {
  it('prices each item as units × the shipped price, and the totals add up', () => {
    const cost = estimateCost(usage);
    const p = shipped;
    const expected: [string, string, number, number][] = [
      ['instance', 'us-east-1', 1.25, p.ec2.linuxOnDemandHourly['us-east-1']['m3.medium']],
      ['step-functions', 'us-east-1', 412, p.stepFunctions.standardTransition['us-east-1']],
      ['lambda-duration', 'us-east-1', 130 * 0.3 * 0.25, p.lambda.armGbSecond['us-east-1']],
      ['lambda-requests', 'us-east-1', 130, p.lambda.armRequest['us-east-1']],
      ['bundle-storage', 'us-east-1', 3, p.s3.standardGbMonth['us-east-1']],
      ['bundle-storage', 'us-west-2', 3, p.s3.standardGbMonth['us-west-2']],
      ['copy-transfer', 'us-east-1→us-west-2', 3, p.transfer.interRegionGb['us-east-1']['us-west-2']],
    ];
    expect(cost.items.map((i) => [i.item, i.region, i.units, i.unitPriceUsd])).toEqual(expected);
    for (const item of cost.items) expect(item.usd).toBe(item.units * (item.unitPriceUsd as number));
    const once = cost.items.filter((i) => i.recurring === 'once').reduce((a, i) => a + (i.usd ?? 0), 0);
    const monthly = cost.items.filter((i) => i.recurring === 'monthly').reduce((a, i) => a + (i.usd ?? 0), 0);
    expect(cost.totalUsd).toBe(once);
    expect(cost.monthlyUsd).toBe(monthly);
    // By hand: 1.25 h × $0.067 + 412 × $0.000025 + 9.75 GB-s × $0.0000133334 + 130 × $0.0000002 + 3 GB × $0.02.
    expect(cost.totalUsd).toBeCloseTo(0.08375 + 0.0103 + 0.00013000065 + 0.000026 + 0.06, 9);
    expect(cost.monthlyUsd).toBeCloseTo(2 * 3 * 0.023, 9);
    expect(cost).toMatchObject({ complete: true, prices: { date: PRICE_TABLE.date } });
    expect(cost.missing).toBeUndefined();
  });

  it('bills at least 60 seconds of instance time', () => {
    const cost = estimateCost({
      ...usage,
      instance: { type: 'm3.medium', region: 'us-east-1', seconds: 20 },
    });
    expect(cost.items[0]?.units).toBe(60 / 3600);
  });

  it('flags a type or region missing from the table as incomplete, leaving it out of the totals', () => {
    const cost = estimateCost({
      ...usage,
      instance: { type: 'm3.medium', region: 'ap-south-2', seconds: 3600 },
    });
    expect(cost.complete).toBe(false);
    expect(cost.items[0]).not.toHaveProperty('usd');
    expect(cost.missing).toEqual([
      `no price for m3.medium in ap-south-2 in the table of ${PRICE_TABLE.date}`,
    ]);
    expect(cost.totalUsd).toBe(
      cost.items.filter((i) => i.recurring === 'once').reduce((a, i) => a + (i.usd ?? 0), 0),
    );
  });

  it('flags unmeasured usage as incomplete', () => {
    const cost = estimateCost({ ...usage, unknown: ['instance time: i-1 was not found'] });
    expect(cost).toMatchObject({ complete: false, missing: ['instance time: i-1 was not found'] });
  });

  it('gives packer-manifest.json custom_data strings', () => {
    const cost = estimateCost(usage);
    expect(costCustomData(cost)).toEqual({
      estimated_cost_usd: cost.totalUsd.toFixed(6),
      estimated_monthly_cost_usd: cost.monthlyUsd.toFixed(6),
      estimated_cost_complete: 'true',
      estimated_cost_prices_date: PRICE_TABLE.date,
      estimated_cost_items: JSON.stringify(cost.items),
    });
  });
});

describe('the price table', () => {
  it('covers every instance-store family the tool allows in us-east-1', async () => {
    const { INSTANCE_STORE_ROOT_FAMILIES } = await import('../../../lambdas/shared/instance-families.js');
    const types = Object.keys(PRICE_TABLE.ec2.linuxOnDemandHourly['us-east-1'] ?? {});
    for (const family of INSTANCE_STORE_ROOT_FAMILIES) {
      expect(types.some((t) => t.startsWith(`${family}.`))).toBe(true);
    }
  });
});

describe('countBuildPath on the synthesized definition', () => {
  const { definition } = synth();
  const map = Object.values(definition.States).find((s) => s.ItemProcessor !== undefined);
  const processor = pruneDefinition(map?.ItemProcessor as unknown as Record<string, unknown>);

  it('is what Report Build receives', () => {
    const report = Object.entries(definition.States)
      .flatMap(([, s]) => Object.entries(s.ItemProcessor?.States ?? {}))
      .find(([name]) => name === StateNames.ReportBuild)?.[1];
    const args = (report?.Parameters as { args: { path: string } } | undefined)?.args;
    expect(args).toBeDefined();
    expect(JSON.parse(args?.path ?? 'null') as PathMachine).toEqual(processor);
  });

  const build = (provisioners: number, regions: string[]) => ({
    config: { provisioners: Array.from({ length: provisioners }, () => ({})), amiRegions: regions },
    poll: {
      instanceRunning: { done: true },
      agent: { done: true },
      command: { done: true },
      image: { done: true },
      instanceTerminated: { done: true },
    },
    source: {},
    bucket: {},
    network: {},
    instanceRole: {},
    instance: {},
    command: {},
    image: {},
    copies: regions.map((region) => ({ region })),
    provisioned: [],
    cleanup: { terminatedInstances: ['i-1'] },
  });
  const once = (names: string[]) => Object.fromEntries(names.map((n) => [n, 1]));
  const checks = once([
    StateNames.CheckInstanceRunning,
    StateNames.CheckSsmAgent,
    StateNames.CheckX509Upload,
    StateNames.CheckBundleVolume,
    StateNames.CheckUploadBundle,
    StateNames.CheckAmiAvailable,
    StateNames.CheckInstanceTerminated,
  ]);

  it('adds one transition and one invocation per retry of a Check state', () => {
    const base = countBuildPath(processor, build(0, []), checks, false);
    expect(base.unrecorded).toEqual([]);
    const more = countBuildPath(
      processor,
      build(0, []),
      { ...checks, [StateNames.CheckBundleVolume]: 11, [retriedKey(StateNames.CheckBundleVolume)]: 10 },
      false,
    );
    expect(more.transitions - base.transitions).toBe(10);
    expect(more.invocations - base.invocations).toBe(10);
  });

  it('adds the loop of each extra check through Choice and Wait (aws_polling), and one invocation', () => {
    const base = countBuildPath(processor, build(0, []), checks, false);
    const more = countBuildPath(
      processor,
      build(0, []),
      { ...checks, [StateNames.CheckAmiAvailable]: 11 },
      false,
    );
    // Check, AMI Available?, Wait For AMI.
    expect(more.transitions - base.transitions).toBe(10 * 3);
    expect(more.invocations - base.invocations).toBe(10);
  });

  it('adds each provisioner iteration and each copy iteration', () => {
    const base = countBuildPath(processor, build(0, []), checks, false);
    const one = countBuildPath(
      processor,
      build(1, []),
      { ...checks, [StateNames.CheckProvisionerCommand]: 1 },
      false,
    );
    // Provisioner Done Before?, Pause, Send, Check, Choice, Provisioner Finished; Send and Check invoke.
    expect([one.transitions - base.transitions, one.invocations - base.invocations]).toEqual([6, 2]);
    const copy = countBuildPath(
      processor,
      build(0, ['us-west-2']),
      { ...checks, [StateNames.CheckAmiCopy]: 1 },
      false,
    );
    // Copy AMI, Check, Choice, Finish AMI Copy; three invoke.
    expect([copy.transitions - base.transitions, copy.invocations - base.invocations]).toEqual([4, 3]);
  });

  it('says which checks were not recorded', () => {
    const count = countBuildPath(processor, build(0, []), {}, false);
    expect(count.unrecorded).toContain(StateNames.CheckBundleVolume);
  });
});
