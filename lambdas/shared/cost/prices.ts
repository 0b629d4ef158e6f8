/**
 * The price table shipped with the repository (`prices.json`): list prices in USD, with the date they were taken
 * and where from. `npm run prices:refresh` (scripts/refresh-prices.ts) rewrites it from the AWS Price List API.
 * A price the table does not have is `undefined`, never a guess: the estimate then says it is incomplete.
 */
import * as z from 'zod/mini';
import '../zod-english.js';
import shipped from './prices.json' with { type: 'json' };

const byRegion = z.record(z.string(), z.number().check(z.nonnegative()));

export const priceTableSchema = z.object({
  /** The day the prices were taken (YYYY-MM-DD). */
  date: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  /** Where they come from. */
  source: z.string(),
  currency: z.literal('USD'),
  /** Standard workflows: per state transition (retries included), by region. */
  stepFunctions: z.object({ standardTransition: byRegion }),
  /** Arm (Graviton) functions: per GB-second of billed duration and per request, by region. */
  lambda: z.object({ armGbSecond: byRegion, armRequest: byRegion }),
  /** S3 Standard, first tier: per GB-month, by region. */
  s3: z.object({ standardGbMonth: byRegion }),
  /** Inter-region data transfer out: per GB, by source region, then destination region. */
  transfer: z.object({ interRegionGb: z.record(z.string(), byRegion) }),
  /** EC2 On-Demand, Linux, shared tenancy, no pre-installed software: per hour, by region, then instance type. */
  ec2: z.object({ linuxOnDemandHourly: z.record(z.string(), byRegion) }),
});

export type PriceTable = z.infer<typeof priceTableSchema>;

/** The shipped table, checked. */
export const PRICE_TABLE: PriceTable = priceTableSchema.parse(shipped);

/** Unit prices, each `undefined` when the table lacks it for the region (or region pair, or instance type). */
export const prices = (table: PriceTable = PRICE_TABLE) => ({
  transition: (region: string) => table.stepFunctions.standardTransition[region],
  lambdaGbSecond: (region: string) => table.lambda.armGbSecond[region],
  lambdaRequest: (region: string) => table.lambda.armRequest[region],
  storageGbMonth: (region: string) => table.s3.standardGbMonth[region],
  transferGb: (from: string, to: string) => table.transfer.interRegionGb[from]?.[to],
  instanceHour: (region: string, instanceType: string) =>
    table.ec2.linuxOnDemandHourly[region]?.[instanceType],
});
