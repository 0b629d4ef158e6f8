/**
 * The cost estimate of one build (issue "Show the cost"): what was used, times the shipped list prices
 * (`prices.json`), item by item. Each item's `usd` is exactly `units × unitPriceUsd`; `totalUsd` is the sum of the
 * one-off items and `monthlyUsd` the sum of the recurring ones (the bundle kept in S3). An item whose price the
 * table lacks, or whose usage could not be measured, has no `usd`: the estimate is then `complete: false` and
 * `missing` says what is left out. README.md, "Cost estimate", gives the method and its limits.
 */
import { PRICE_TABLE, type PriceTable, prices } from './prices.js';

export const BYTES_PER_GB = 1024 ** 3;
/** EC2 bills Linux On-Demand per second, with a minimum of 60 seconds. */
export const MINIMUM_BILLED_INSTANCE_SECONDS = 60;

export type CostItemKind =
  | 'instance'
  | 'step-functions'
  | 'lambda-duration'
  | 'lambda-requests'
  | 'bundle-storage'
  | 'copy-transfer';

export interface CostItem {
  item: CostItemKind;
  /** The region billed; `<from>→<to>` for a transfer. */
  region: string;
  /** What was counted, for a person. */
  description: string;
  units: number;
  unit: 'hour' | 'transition' | 'GB-second' | 'request' | 'GB-month' | 'GB';
  /** `once` for this build; `monthly` for as long as the bundle is kept. */
  recurring: 'once' | 'monthly';
  /** Absent when the table has no price for it. */
  unitPriceUsd?: number;
  /** `units × unitPriceUsd`; absent when the price is. */
  usd?: number;
}

export interface CostEstimate {
  currency: 'USD';
  /** Sum of the one-off items that have a price. */
  totalUsd: number;
  /** Sum of the monthly items that have a price (bundle storage). */
  monthlyUsd: number;
  /** False when an item has no price or a usage figure is not known: the totals then leave it out. */
  complete: boolean;
  /** What the totals leave out, and why (absent when complete). */
  missing?: string[];
  /** The price table's date and source. */
  prices: { date: string; source: string };
  items: CostItem[];
}

/** What one build used. */
export interface BuildUsage {
  /** The build instance: its type, region and billed seconds (launch to termination). */
  instance?: { type: string; region: string; seconds: number };
  /** Step Functions: the build's state transitions, in the state machine's region. */
  stepFunctions: { region: string; transitions: number };
  /** Lambda: the build's task invocations and their GB-seconds, in the state machine's region. */
  lambda: { region: string; requests: number; gbSeconds: number };
  /** The bundle: its size and the regions holding a copy of it. */
  bundle?: { bytes: number; regions: string[] };
  /** Cross-region copies of the bundle: bytes sent from one region to another. */
  transfers: { from: string; to: string; bytes: number }[];
  /** Usage that could not be measured (each makes the estimate incomplete). */
  unknown: string[];
}

/** Prices the build's usage with the table. */
export function estimateCost(usage: BuildUsage, table: PriceTable = PRICE_TABLE): CostEstimate {
  const price = prices(table);
  const items: CostItem[] = [];
  const missing = [...usage.unknown];
  const add = (item: Omit<CostItem, 'unitPriceUsd' | 'usd'>, unitPrice: number | undefined, what: string) => {
    const entry: CostItem = { ...item };
    if (unitPrice === undefined) {
      missing.push(`no price for ${what} in the table of ${table.date}`);
    } else {
      entry.unitPriceUsd = unitPrice;
      entry.usd = item.units * unitPrice;
    }
    items.push(entry);
  };

  if (usage.instance !== undefined) {
    const { type, region, seconds } = usage.instance;
    const billed = Math.max(seconds, MINIMUM_BILLED_INSTANCE_SECONDS);
    add(
      {
        item: 'instance',
        region,
        description: `${type} On-Demand (Linux), ${Math.round(seconds)} s from launch to termination`,
        units: billed / 3600,
        unit: 'hour',
        recurring: 'once',
      },
      price.instanceHour(region, type),
      `${type} in ${region}`,
    );
  }
  const sfn = usage.stepFunctions;
  add(
    {
      item: 'step-functions',
      region: sfn.region,
      description: `${sfn.transitions} state transitions (Standard workflow)`,
      units: sfn.transitions,
      unit: 'transition',
      recurring: 'once',
    },
    price.transition(sfn.region),
    `Step Functions transitions in ${sfn.region}`,
  );
  const fn = usage.lambda;
  add(
    {
      item: 'lambda-duration',
      region: fn.region,
      description: `${fn.requests} task invocations, arm64`,
      units: fn.gbSeconds,
      unit: 'GB-second',
      recurring: 'once',
    },
    price.lambdaGbSecond(fn.region),
    `Lambda GB-seconds in ${fn.region}`,
  );
  add(
    {
      item: 'lambda-requests',
      region: fn.region,
      description: `${fn.requests} task invocations`,
      units: fn.requests,
      unit: 'request',
      recurring: 'once',
    },
    price.lambdaRequest(fn.region),
    `Lambda requests in ${fn.region}`,
  );
  if (usage.bundle !== undefined) {
    const gb = usage.bundle.bytes / BYTES_PER_GB;
    for (const region of usage.bundle.regions) {
      add(
        {
          item: 'bundle-storage',
          region,
          description: `bundle of ${usage.bundle.bytes} bytes in S3 Standard`,
          units: gb,
          unit: 'GB-month',
          recurring: 'monthly',
        },
        price.storageGbMonth(region),
        `S3 Standard storage in ${region}`,
      );
    }
  }
  for (const t of usage.transfers) {
    add(
      {
        item: 'copy-transfer',
        region: `${t.from}→${t.to}`,
        description: `bundle of ${t.bytes} bytes copied from ${t.from} to ${t.to}`,
        units: t.bytes / BYTES_PER_GB,
        unit: 'GB',
        recurring: 'once',
      },
      price.transferGb(t.from, t.to),
      `data transfer from ${t.from} to ${t.to}`,
    );
  }

  const sum = (recurring: CostItem['recurring']) =>
    items.filter((i) => i.recurring === recurring).reduce((a, i) => a + (i.usd ?? 0), 0);
  const estimate: CostEstimate = {
    currency: 'USD',
    totalUsd: sum('once'),
    monthlyUsd: sum('monthly'),
    complete: missing.length === 0,
    prices: { date: table.date, source: table.source },
    items,
  };
  if (missing.length > 0) estimate.missing = missing;
  return estimate;
}

/** `$0.0123` (4 decimals; `<$0.0001` for a positive amount below that). */
export function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.00005) return '<$0.0001';
  return `$${usd.toFixed(4)}`;
}

/** One line for listings: `$0.0512 (+ $0.0034/month for the bundle)`, `estimate incomplete` noted. */
export function costLine(cost: CostEstimate): string {
  const monthly = cost.monthlyUsd > 0 ? ` + ${formatUsd(cost.monthlyUsd)}/month for the bundle` : '';
  const incomplete = cost.complete ? '' : ' (incomplete: see missing)';
  return `${formatUsd(cost.totalUsd)}${monthly}${incomplete}`;
}

/** A unit price in plain decimals (`0.0000002`, not `2e-7`). */
export function unitPrice(usd: number): string {
  return usd.toFixed(10).replace(/\.?0+$/, '');
}

/** A build's estimate for the summary: the total, then each item with its units and unit price. */
export function costLines(name: string, cost: CostEstimate): string[] {
  const lines = [`--> ${name}: ${costLine(cost)} (prices of ${cost.prices.date})`];
  for (const i of cost.items) {
    const priced =
      i.usd === undefined
        ? 'no price'
        : `${formatUsd(i.usd)}${i.recurring === 'monthly' ? '/month' : ''} (${i.units.toPrecision(4)} ${i.unit} × $${unitPrice(i.unitPriceUsd as number)})`;
    lines.push(`    ${i.item} ${i.region}: ${priced}: ${i.description}`);
  }
  for (const m of cost.missing ?? []) lines.push(`    not included: ${m}`);
  return lines;
}

/**
 * The estimate as `packer-manifest.json` `custom_data` entries (strings, as Packer's map is): the totals, whether
 * it is complete, the prices' date, and the items as JSON.
 */
export function costCustomData(cost: CostEstimate): Record<string, string> {
  return {
    estimated_cost_usd: cost.totalUsd.toFixed(6),
    estimated_monthly_cost_usd: cost.monthlyUsd.toFixed(6),
    estimated_cost_complete: String(cost.complete),
    estimated_cost_prices_date: cost.prices.date,
    estimated_cost_items: JSON.stringify(cost.items),
  };
}
