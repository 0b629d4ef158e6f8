/** The price refresh's parsing, on GetProducts responses recorded in the real API's shape. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRICE_TABLE, priceTableSchema } from '../../lambdas/shared/cost/prices.js';
import { INSTANCE_STORE_ROOT_FAMILIES, instanceFamily } from '../../lambdas/shared/instance-families.js';
import { type PricingResponses, parseOffer, tableFromResponses } from '../../scripts/prices/parse.js';
import { INSTANCE_STORE_TYPES } from '../../scripts/refresh-prices.js';

const responses = JSON.parse(
  readFileSync(new URL('./fixtures/pricing/get-products.json', import.meta.url), 'utf8'),
) as PricingResponses;

describe('tableFromResponses', () => {
  const table = tableFromResponses(responses, '2026-12-02', 'fixture');

  it('reads each On-Demand price, first tier, into a valid table', () => {
    expect(priceTableSchema.parse(table)).toEqual({
      date: '2026-12-02',
      source: 'fixture',
      currency: 'USD',
      stepFunctions: { standardTransition: { 'us-east-1': 0.000025, 'eu-west-1': 0.000025 } },
      lambda: {
        armGbSecond: { 'us-east-1': 0.0000133334, 'eu-west-1': 0.0000133334 },
        armRequest: { 'us-east-1': 0.0000002 },
      },
      s3: { standardGbMonth: { 'us-east-1': 0.023, 'us-west-2': 0.023 } },
      transfer: { interRegionGb: { 'us-east-1': { 'us-west-2': 0.02, 'us-east-2': 0.01 } } },
      ec2: {
        linuxOnDemandHourly: { 'us-east-1': { 'm3.medium': 0.067 }, 'eu-west-1': { 'm3.medium': 0.073 } },
      },
    });
  });

  it('reads only the On-Demand term of an offer (not its Reserved terms)', () => {
    const offer = parseOffer(responses.ec2[0]?.PriceList?.[0] as string);
    expect(offer.dimensions).toEqual([expect.objectContaining({ unit: 'Hrs', usd: 0.067, beginRange: 0 })]);
    expect(table.ec2.linuxOnDemandHourly['eu-west-1']?.['m3.medium']).toBe(0.073);
  });
});

describe('the refresh and the shipped table', () => {
  it('asks for every type of every instance-store family', () => {
    const families = new Set(INSTANCE_STORE_TYPES.map(instanceFamily));
    expect([...families].sort()).toEqual([...INSTANCE_STORE_ROOT_FAMILIES].sort());
  });

  it('ships prices only for types the refresh asks for', () => {
    for (const types of Object.values(PRICE_TABLE.ec2.linuxOnDemandHourly)) {
      for (const type of Object.keys(types)) expect(INSTANCE_STORE_TYPES).toContain(type);
    }
  });
});
