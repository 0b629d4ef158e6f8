/**
 * One `amazon-instance` builder object → the build's {@link BuildConfig} part (without provisioners and
 * post-processors, which are template-level). Every check Packer's `Prepare` makes is made with Packer's message
 * (packer-plugin-amazon `builder/instance/builder.go`, `builder/common/{access,ami,run}_config.go`,
 * `block_device.go`; SDK `communicator/config.go`), plus the checks this system needs. The sections follow
 * Packer's: ./access.ts, ./bundle.ts (the amazon-instance keys), ./ami.ts, ./run.ts, ./communicator.ts; a new key
 * goes in the section Packer declares it in. ./common.ts holds what several sections share.
 */
import type { RawBuilder } from '../input.js';
import { decodeAccess } from './access.js';
import { decodeAmi } from './ami.js';
import { decodeAmiTest } from './ami-test.js';
import { decodeBundle } from './bundle.js';
import {
  type BuilderContext,
  type BuilderResult,
  type BuilderScope,
  blockDevices,
  checkShellSafe,
  decodeBuilder,
  REGION,
  reportIgnoredKeys,
  UNQUOTED,
} from './common.js';
import { decodeCommunicator } from './communicator.js';
import { decodeRun } from './run.js';

export * from './common.js';

/** Validates one builder and returns its part of the build configuration (undefined when it has errors). */
export function buildBuilderConfig(
  builder: RawBuilder,
  name: string,
  ctx: BuilderContext,
): BuilderResult | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  const lateUserVariables = new Set<string>();
  const d = decodeBuilder(builder, ctx, lateUserVariables);
  reportIgnoredKeys(d, report);
  const missing = (key: string, message: string) => {
    if (!d.present.has(key) || (d.string(key) === '' && !d.failed.has(key))) report.error(d.at(key), message);
  };
  const rawAmiName = typeof builder.record.ami_name === 'string' ? builder.record.ami_name : undefined;
  const scope: BuilderScope = { d, ctx, report, lateUserVariables, missing, name, rawAmiName };
  const { region, delay, attempts } = decodeAccess(scope);
  const {
    accountId,
    bucket,
    keyPrefix,
    fileOptions,
    cert,
    key,
    uploadPath,
    destination,
    prefix,
    volCommand,
    uploadCommand,
  } = decodeBundle(scope, { region });
  const {
    amiName,
    virtualization,
    amiUsers,
    amiGroups,
    orgArns,
    ouArns,
    amiRegions,
    tags,
    runTags,
    enaSupport,
    sriovSupport,
    forceDeregister,
    forceDeleteSnapshot,
    deprecateAt,
    deregistrationProtection,
  } = decodeAmi(scope, { region });
  const {
    sourceAmi,
    sourceAmiFilter,
    instanceType,
    enableNitroEnclave,
    enableUnlimitedCredits,
    network,
    iamInstanceProfile,
    temporaryIamPolicyDocument,
    userData,
    userDataFile,
    capacityReservation,
    placement,
    licenseConfigurationArns,
    metadataOptions,
  } = decodeRun(scope, { fileOptions, enaSupport, sriovSupport });
  const { runAsUser, timeout, onError, commandTimeout, amiIdParameter, skipIfUnchanged, family, retention } =
    decodeCommunicator(scope);
  const amiTest = decodeAmiTest(scope, instanceType, Math.ceil(commandTimeout));

  // Values substituted raw into the bundle commands must be shell-safe.
  if (region !== '' && REGION.test(region))
    checkShellSafe(region, 'region', d.at('region'), report, UNQUOTED);
  if (bucket !== '') checkShellSafe(bucket, 's3_bucket', d.at('s3_bucket'), report, UNQUOTED);

  if (
    report.problems.length > before ||
    cert === undefined ||
    key === undefined ||
    amiName === undefined ||
    instanceType === undefined ||
    prefix === undefined
  ) {
    return undefined;
  }
  const config: BuilderResult['config'] = {
    name,
    region,
    amiName,
    amiUsers,
    amiGroups,
    amiOrgArns: orgArns,
    amiOuArns: ouArns,
    amiProductCodes: d.list('ami_product_codes') ?? [],
    amiRegions,
    amiBlockDeviceMappings: blockDevices(d.objects('ami_block_device_mappings'), report),
    launchBlockDeviceMappings: blockDevices(d.objects('launch_block_device_mappings'), report),
    tags,
    runTags,
    sriovSupport,
    deregistrationProtection,
    forceDeregister,
    forceDeleteSnapshot,
    skipRegionValidation: d.boolean('skip_region_validation') ?? false,
    instanceType,
    network,
    ebsOptimized: d.boolean('ebs_optimized') ?? false,
    enableUnlimitedCredits,
    enableNitroEnclave,
    licenseConfigurationArns,
    agentTimeoutSeconds: Math.ceil(timeout),
    x509: { cert, key, uploadPath },
    bundle: { bucket, keyPrefix, destination, prefix, volCommand, uploadCommand },
    polling: {
      delaySeconds: delay ?? 15,
      maxAttempts: attempts ?? (delay === undefined ? 120 : 40),
      ...(delay === undefined && attempts === undefined ? {} : { explicit: true as const }),
    },
    onError,
    commandTimeoutSeconds: Math.ceil(commandTimeout),
    family,
  };
  if (report.problems.length > before) return undefined;
  const optional: Partial<BuilderResult['config']> = {
    accountId,
    amiDescription: d.nonEmpty('ami_description'),
    amiVirtualizationType: virtualization,
    enaSupport,
    tpmSupport: d.nonEmpty('tpm_support') as 'v2.0' | undefined,
    imdsSupport: d.nonEmpty('imds_support') as 'v2.0' | undefined,
    deprecateAt,
    sourceAmi,
    sourceAmiFilter,
    iamInstanceProfile,
    temporaryIamPolicyDocument,
    userData,
    userDataFile,
    metadataOptions,
    placement,
    capacityReservation,
    runAsUser,
    amiIdParameter,
    // Only when on: a config without the key stays as it was.
    skipIfUnchanged: skipIfUnchanged ? true : undefined,
    amiTest,
    retention,
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) Object.assign(config, { [k]: v });
  }
  return { config, lateUserVariables };
}
