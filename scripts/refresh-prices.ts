/**
 * `npm run prices:refresh`: rewrites lambdas/shared/cost/prices.json from the AWS Price List Query API
 * (pricing:GetProducts, endpoint api.pricing.us-east-1.amazonaws.com), with today's date. Needs AWS credentials
 * (the SDK's default chain) allowed `pricing:GetProducts`. Nothing else calls AWS.
 *
 * No pricing client is added: the request is one JSON-1.1 POST, signed with the SDK's own SigV4 signer
 * (@smithy/signature-v4) and credentials chain (@aws-sdk/credential-providers), both already installed with the
 * SDK clients; `@aws-sdk/client-pricing`'s latest release lags the other clients' and would pull a second copy of
 * the SDK core. Parsing is scripts/prices/parse.ts, tested on recorded responses.
 *
 * Queries: EC2 On-Demand for each instance type of the instance-store families (Linux, Shared tenancy, no
 * pre-installed software, Used capacity; every region), Step Functions, Lambda, S3 Standard storage and
 * inter-region transfer (every region).
 */
import { createHash, createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { priceTableSchema } from '../lambdas/shared/cost/prices.js';
import { type GetProductsPage, type PricingResponses, tableFromResponses } from './prices/parse.js';

/** Every instance type of the instance-store families (lambdas/shared/instance-families.ts) AWS has sold. */
export const INSTANCE_STORE_TYPES = [
  'c1.medium',
  'c1.xlarge',
  'c3.large',
  'c3.xlarge',
  'c3.2xlarge',
  'c3.4xlarge',
  'c3.8xlarge',
  'd2.xlarge',
  'd2.2xlarge',
  'd2.4xlarge',
  'd2.8xlarge',
  'i2.xlarge',
  'i2.2xlarge',
  'i2.4xlarge',
  'i2.8xlarge',
  'm1.small',
  'm1.medium',
  'm1.large',
  'm1.xlarge',
  'm2.xlarge',
  'm2.2xlarge',
  'm2.4xlarge',
  'm3.medium',
  'm3.large',
  'm3.xlarge',
  'm3.2xlarge',
  'r3.large',
  'r3.xlarge',
  'r3.2xlarge',
  'r3.4xlarge',
  'r3.8xlarge',
  'x1.16xlarge',
  'x1.32xlarge',
];

const ENDPOINT = 'api.pricing.us-east-1.amazonaws.com';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 (or its HMAC with a secret) for the signer, from node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

type Filter = { Type: 'TERM_MATCH'; Field: string; Value: string };
const term = (Field: string, Value: string): Filter => ({ Type: 'TERM_MATCH', Field, Value });

/** Every page of GetProducts for a service and filters. */
async function getProducts(
  signer: SignatureV4,
  ServiceCode: string,
  Filters: Filter[],
): Promise<GetProductsPage[]> {
  const pages: GetProductsPage[] = [];
  let NextToken: string | undefined;
  do {
    const body = JSON.stringify({
      ServiceCode,
      Filters,
      FormatVersion: 'aws_v1',
      MaxResults: 100,
      NextToken,
    });
    const request = await signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname: ENDPOINT,
      path: '/',
      headers: {
        host: ENDPOINT,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSPriceListService.GetProducts',
      },
      body,
    });
    const response = await fetch(`https://${ENDPOINT}/`, {
      method: 'POST',
      headers: request.headers as Record<string, string>,
      body,
    });
    if (!response.ok)
      throw new Error(`GetProducts ${ServiceCode}: HTTP ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as GetProductsPage;
    pages.push(page);
    NextToken = page.NextToken;
  } while (NextToken !== undefined && NextToken !== '');
  return pages;
}

export async function refreshPrices(out: string, today = new Date()): Promise<void> {
  const signer = new SignatureV4({
    service: 'pricing',
    region: 'us-east-1',
    credentials: fromNodeProviderChain(),
    sha256: Sha256,
  });
  const ec2: GetProductsPage[] = [];
  for (const type of INSTANCE_STORE_TYPES) {
    ec2.push(
      ...(await getProducts(signer, 'AmazonEC2', [
        term('instanceType', type),
        term('operatingSystem', 'Linux'),
        term('tenancy', 'Shared'),
        term('preInstalledSw', 'NA'),
        term('capacitystatus', 'Used'),
      ])),
    );
  }
  const responses: PricingResponses = {
    ec2,
    stepFunctions: await getProducts(signer, 'AWSStepFunctions', []),
    lambda: await getProducts(signer, 'AWSLambda', [term('group', 'AWS-Lambda-Duration-ARM')]).then(
      async (duration) => [
        ...duration,
        ...(await getProducts(signer, 'AWSLambda', [term('group', 'AWS-Lambda-Requests-ARM')])),
      ],
    ),
    s3: await getProducts(signer, 'AmazonS3', [term('volumeType', 'Standard')]),
    transfer: await getProducts(signer, 'AWSDataTransfer', [term('transferType', 'InterRegion Outbound')]),
  };
  const table = priceTableSchema.parse(
    tableFromResponses(
      responses,
      today.toISOString().slice(0, 10),
      'AWS Price List Query API (pricing:GetProducts), On-Demand list prices, first tier; written by npm run prices:refresh.',
    ),
  );
  await writeFile(out, `${JSON.stringify(table, null, 2)}\n`);
  const types = Object.values(table.ec2.linuxOnDemandHourly).reduce((n, r) => n + Object.keys(r).length, 0);
  console.log(
    `${out}: ${types} instance type prices in ${Object.keys(table.ec2.linuxOnDemandHourly).length} regions`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await refreshPrices(fileURLToPath(new URL('../lambdas/shared/cost/prices.json', import.meta.url)));
}
