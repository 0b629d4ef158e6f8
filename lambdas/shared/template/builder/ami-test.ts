/**
 * Extension `ami_test`: the test of the new AMI. Its commands are a shell provisioner's (`inline`,
 * `script`/`scripts`, `environment_vars`, `timeout`), decoded by the shell provisioner's own code; its instance
 * type must boot the new AMI, which is always instance-store-backed (ec2-bundle-vol → RegisterImage).
 */
import type { AmiTestConfig } from '../../config.js';
import {
  INSTANCE_STORE_ROOT_FAMILIES,
  instanceFamily,
  supportsInstanceStoreRoot,
} from '../../instance-families.js';
import { describeValue } from '../decode.js';
import { type ProvisionerContext, shell } from '../provisioners.js';
import type { BuilderScope } from './common.js';

const FAMILIES = INSTANCE_STORE_ROOT_FAMILIES.map((f) => f.toUpperCase()).join(', ');

/**
 * Decodes `ami_test` (undefined when absent or invalid; problems are reported).
 *
 * @param buildInstanceType the build's `instance_type`, the test's default type
 * @param commandTimeoutSeconds the build's `command_timeout`, the default `timeout`
 */
export function decodeAmiTest(
  scope: BuilderScope,
  buildInstanceType: string | undefined,
  commandTimeoutSeconds: number,
): AmiTestConfig | undefined {
  const { d, ctx, report } = scope;
  const test = d.object('ami_test');
  if (test === undefined) return undefined;
  const before = report.problems.length;
  const pctx: ProvisionerContext = {
    mode: ctx.mode,
    env: ctx.env,
    report,
    checkLocalFile: ctx.checkLocalFile,
    commandTimeoutSeconds,
  };
  const commands = shell(test, -1, pctx, 'ami_test');

  const explicit = test.nonEmpty('instance_type');
  const instanceType = explicit ?? buildInstanceType;
  if (instanceType !== undefined && !supportsInstanceStoreRoot(instanceType)) {
    const where = explicit !== undefined ? test.at('instance_type') : d.at('ami_test');
    report.error(
      where,
      `ami_test: the new AMI is instance-store-backed and launches only on the instance families ${FAMILIES}; ` +
        `${explicit !== undefined ? 'ami_test.instance_type' : "the build's instance_type"} ${describeValue(instanceType)} is of family ` +
        `${instanceFamily(instanceType).toUpperCase()}. ` +
        (explicit !== undefined
          ? 'Choose one of those families (for example m3.medium or c3.large).'
          : 'Set ami_test.instance_type to one of those families (for example m3.medium or c3.large).'),
    );
  }
  if (commands === undefined || instanceType === undefined || report.problems.length > before)
    return undefined;
  return {
    commands: { ...commands, name: 'ami_test' },
    instanceType,
    onFailure: (test.nonEmpty('on_failure') ?? 'deregister') as AmiTestConfig['onFailure'],
  };
}
