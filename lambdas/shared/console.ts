/**
 * Links to an execution in the Step Functions console, shared by the CLI (`build`, `status`) and the Notify task,
 * so that a terminal, an email and an event point to the same page.
 */

/** The parts of an ARN this code reads: `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** Splits an ARN; `undefined` when the text is not one. */
export function parseArn(arn: string): ArnParts | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition = '', service = '', region = '', account = ''] = parts;
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

// The console lives on another domain in the China and GovCloud partitions.
const CONSOLE_DOMAINS: Record<string, string> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/**
 * The console page of one execution:
 * `https://<region>.console.aws.amazon.com/states/home?region=<region>#/v2/executions/details/<arn>`.
 * The region comes from the ARN, or from `region` when the ARN has none.
 */
export function executionConsoleUrl(executionArn: string, region?: string): string {
  const parts = parseArn(executionArn);
  const r = parts?.region || region || 'us-east-1';
  const domain = CONSOLE_DOMAINS[parts?.partition ?? 'aws'] ?? CONSOLE_DOMAINS.aws;
  return `https://${r}.${domain}/states/home?region=${r}#/v2/executions/details/${executionArn}`;
}
