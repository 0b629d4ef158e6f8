/**
 * Access configuration (Packer's `builder/common/access_config.go`): the region and the polling of AWS waiters.
 */
import { truncate } from '../decode.js';

import { type BuilderScope, REGION } from './common.js';

/** Decodes and checks this section's keys. */
export function decodeAccess(scope: BuilderScope) {
  const { d, report, missing } = scope;
  missing('region', 'region is required');
  const region = d.nonEmpty('region') ?? '';
  if (region !== '' && !REGION.test(region))
    report.error(d.at('region'), `Unknown region: ${truncate(region, 80)}`);
  if ((d.nonEmpty('access_key') !== undefined) !== (d.nonEmpty('secret_key') !== undefined)) {
    report.error(d.path, '`access_key` and `secret_key` must both be either set or not set.');
  }
  if (d.any('vault_aws_engine') !== undefined && d.nonEmpty('access_key') !== undefined) {
    report.error(d.path, 'If you have set vault_aws_engine, you must not set the access_key or secret_key.');
  }
  const polling = d.object('aws_polling');
  const delay = polling?.number('delay_seconds') || undefined;
  const attempts = polling?.number('max_attempts') || undefined;
  return { region, delay, attempts };
}

export type AccessSection = ReturnType<typeof decodeAccess>;
