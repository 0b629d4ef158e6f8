/**
 * Reading the AWS Price List Query API's GetProducts responses into the shipped price table
 * (lambdas/shared/cost/prices.json). A response is `{ FormatVersion: "aws_v1", PriceList: string[], NextToken? }`;
 * each PriceList entry is a JSON text `{ product: { productFamily, attributes, sku }, serviceCode, terms: { OnDemand:
 * { "<sku>.<offerTermCode>": { priceDimensions: { "<rateCode>": { unit, pricePerUnit: { USD }, beginRange,
 * endRange, description } } } } }, version, publicationDate }`. Only On-Demand terms are read; of tiered prices,
 * the first tier (beginRange "0").
 */
import type { PriceTable } from '../../lambdas/shared/cost/prices.js';

export interface GetProductsPage {
  FormatVersion?: string;
  PriceList?: string[];
  NextToken?: string;
}

export interface Offer {
  sku: string;
  productFamily?: string;
  attributes: Record<string, string>;
  /** The On-Demand price dimensions. */
  dimensions: { unit: string; usd: number; beginRange: number; description?: string }[];
  publicationDate?: string;
}

interface RawDimension {
  unit?: string;
  pricePerUnit?: Record<string, string>;
  beginRange?: string;
  description?: string;
}

/** One PriceList entry (a JSON text) as an {@link Offer}. */
export function parseOffer(text: string): Offer {
  const raw = JSON.parse(text) as {
    product?: { sku?: string; productFamily?: string; attributes?: Record<string, string> };
    terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, RawDimension> }> };
    publicationDate?: string;
  };
  const dimensions: Offer['dimensions'] = [];
  for (const term of Object.values(raw.terms?.OnDemand ?? {})) {
    for (const d of Object.values(term.priceDimensions ?? {})) {
      const usd = Number(d.pricePerUnit?.USD);
      if (d.pricePerUnit?.USD === undefined || Number.isNaN(usd)) continue;
      dimensions.push({
        unit: d.unit ?? '',
        usd,
        beginRange: Number(d.beginRange ?? '0'),
        ...(d.description === undefined ? {} : { description: d.description }),
      });
    }
  }
  const offer: Offer = {
    sku: raw.product?.sku ?? '',
    attributes: raw.product?.attributes ?? {},
    dimensions,
  };
  if (raw.product?.productFamily !== undefined) offer.productFamily = raw.product.productFamily;
  if (raw.publicationDate !== undefined) offer.publicationDate = raw.publicationDate;
  return offer;
}

/** Every offer of a set of pages. */
export function offersOf(pages: readonly GetProductsPage[]): Offer[] {
  return pages.flatMap((p) => (p.PriceList ?? []).map(parseOffer));
}

/** The first tier's price (beginRange 0), or undefined. */
export function firstTier(offer: Offer): number | undefined {
  return offer.dimensions.find((d) => d.beginRange === 0)?.usd;
}

const put = (target: Record<string, number>, key: string | undefined, usd: number | undefined) => {
  if (key === undefined || key === '' || usd === undefined) return;
  // Two offers for one key (should not happen with the filters used): keep the higher, never understate.
  target[key] = Math.max(target[key] ?? 0, usd);
};

/** The responses of each query the refresh makes, by what it asked for. */
export interface PricingResponses {
  /** AmazonEC2, one instance type each: Linux, Shared tenancy, no pre-installed software, Used capacity. */
  ec2: GetProductsPage[];
  /** AWSStepFunctions. */
  stepFunctions: GetProductsPage[];
  /** AWSLambda. */
  lambda: GetProductsPage[];
  /** AmazonS3, volumeType Standard. */
  s3: GetProductsPage[];
  /** AWSDataTransfer, transferType "InterRegion Outbound". */
  transfer: GetProductsPage[];
}

/** The price table from the responses. */
export function tableFromResponses(responses: PricingResponses, date: string, source: string): PriceTable {
  const table: PriceTable = {
    date,
    source,
    currency: 'USD',
    stepFunctions: { standardTransition: {} },
    lambda: { armGbSecond: {}, armRequest: {} },
    s3: { standardGbMonth: {} },
    transfer: { interRegionGb: {} },
    ec2: { linuxOnDemandHourly: {} },
  };
  for (const o of offersOf(responses.ec2)) {
    const a = o.attributes;
    if (
      a.operatingSystem !== 'Linux' ||
      a.tenancy !== 'Shared' ||
      a.preInstalledSw !== 'NA' ||
      a.capacitystatus !== 'Used' ||
      (a.operation !== undefined && a.operation !== 'RunInstances') ||
      a.regionCode === undefined ||
      a.instanceType === undefined
    )
      continue;
    const hourly = o.dimensions.find((d) => d.unit === 'Hrs')?.usd;
    if (hourly === undefined || hourly === 0) continue;
    table.ec2.linuxOnDemandHourly[a.regionCode] ??= {};
    put(table.ec2.linuxOnDemandHourly[a.regionCode] as Record<string, number>, a.instanceType, hourly);
  }
  for (const o of offersOf(responses.stepFunctions)) {
    // Standard workflows bill state transitions (usagetype `<prefix>-StateTransition`); Express ones do not.
    if (!/(^|-)StateTransition$/.test(o.attributes.usagetype ?? '')) continue;
    put(table.stepFunctions.standardTransition, o.attributes.regionCode, firstTier(o));
  }
  for (const o of offersOf(responses.lambda)) {
    const usage = o.attributes.usagetype ?? '';
    if (/(^|-)Lambda-GB-Second-ARM$/.test(usage))
      put(table.lambda.armGbSecond, o.attributes.regionCode, firstTier(o));
    if (/(^|-)Request-ARM$/.test(usage)) put(table.lambda.armRequest, o.attributes.regionCode, firstTier(o));
  }
  for (const o of offersOf(responses.s3)) {
    const a = o.attributes;
    if (a.volumeType !== 'Standard' || !/(^|-)TimedStorage-ByteHrs$/.test(a.usagetype ?? '')) continue;
    put(table.s3.standardGbMonth, a.regionCode, firstTier(o));
  }
  for (const o of offersOf(responses.transfer)) {
    const a = o.attributes;
    if (a.transferType !== 'InterRegion Outbound' || a.fromRegionCode === undefined) continue;
    table.transfer.interRegionGb[a.fromRegionCode] ??= {};
    put(
      table.transfer.interRegionGb[a.fromRegionCode] as Record<string, number>,
      a.toRegionCode,
      firstTier(o),
    );
  }
  return table;
}
