/**
 * Shared test fixtures: a complete, valid {@link BuildConfig} and {@link BuildState} with every default filled,
 * so a test states only what it is about. Overrides are shallow, except `network`, `bundle`, `x509` and
 * `polling` in {@link makeConfig}, which are merged one level deep.
 */
import type { BuildConfig } from '../../lambdas/shared/config.js';
import type { TaskEnvironment } from '../../lambdas/shared/runtime.js';
import type { BuildState, ExecutionInfo } from '../../lambdas/shared/state.js';

export const EXECUTION_ID =
  'arn:aws:states:us-east-1:123456789012:execution:AmiBuilderStateMachine:build-2024-01-02';

export const ACCOUNT_ID = '123456789012';

/** Overrides for {@link makeConfig}: nested groups may be given in part. */
export type ConfigOverrides = Omit<Partial<BuildConfig>, 'network' | 'bundle' | 'x509' | 'polling'> & {
  network?: Partial<BuildConfig['network']>;
  bundle?: Partial<BuildConfig['bundle']>;
  x509?: Partial<BuildConfig['x509']>;
  polling?: Partial<BuildConfig['polling']>;
};

/** A complete BuildConfig as template validation produces it for a minimal amazon-instance builder. */
export function makeConfig(overrides: ConfigOverrides = {}): BuildConfig {
  const { network, bundle, x509, polling, ...rest } = overrides;
  return {
    name: 'amazon-instance',
    region: 'us-east-1',
    amiName: 'my-ami-1704153600',
    amiUsers: [],
    amiGroups: [],
    amiOrgArns: [],
    amiOuArns: [],
    amiProductCodes: [],
    amiRegions: [],
    amiBlockDeviceMappings: [],
    launchBlockDeviceMappings: [],
    tags: {},
    runTags: {},
    sriovSupport: false,
    deregistrationProtection: { enabled: false, withCooldown: false },
    forceDeregister: false,
    forceDeleteSnapshot: false,
    skipRegionValidation: false,
    sourceAmi: 'ami-0123456789abcdef0',
    instanceType: 'm3.medium',
    ebsOptimized: false,
    enableUnlimitedCredits: false,
    enableNitroEnclave: false,
    licenseConfigurationArns: [],
    agentTimeoutSeconds: 300,
    lateVariables: {},
    provisioners: [],
    postProcessors: {},
    onError: 'cleanup',
    commandTimeoutSeconds: 7200,
    ...rest,
    network: { securityGroupIds: [], temporarySecurityGroupSourceCidrs: [], ...network },
    x509: {
      cert: {
        kind: 's3',
        bucket: 'staging-bucket',
        key: 'x509/cert.pem',
        uri: 's3://staging-bucket/x509/cert.pem',
      },
      key: {
        kind: 's3',
        bucket: 'staging-bucket',
        key: 'x509/key.pem',
        uri: 's3://staging-bucket/x509/key.pem',
      },
      uploadPath: '/tmp',
      ...x509,
    },
    bundle: {
      bucket: 'my-bundles',
      keyPrefix: '',
      destination: '/tmp',
      prefix: 'image-1704153600',
      volCommand:
        'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
      uploadCommand:
        'sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} -s {{.SecretKey}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry',
      ...bundle,
    },
    polling: { delaySeconds: 15, maxAttempts: 120, ...polling },
  };
}

/** The execution every fixture state belongs to. */
export function makeExecution(overrides: Partial<ExecutionInfo> = {}): ExecutionInfo {
  return {
    id: EXECUTION_ID,
    name: 'build-2024-01-02',
    startTime: '2024-01-02T00:00:00.000Z',
    ...overrides,
  };
}

/** Overrides for {@link makeBuildState}: `config` may be given in part (merged through {@link makeConfig}). */
export type BuildStateOverrides = Omit<Partial<BuildState>, 'config' | 'execution'> & {
  config?: ConfigOverrides;
  execution?: Partial<ExecutionInfo>;
};

/** A BuildState as the Map's ItemSelector creates it (`poll: {}`), plus whatever the test adds. */
export function makeBuildState(overrides: BuildStateOverrides = {}): BuildState {
  const { config, execution, ...rest } = overrides;
  return {
    config: makeConfig(config),
    execution: makeExecution(execution),
    poll: {},
    ...rest,
  };
}

/** A complete task environment, as infra sets it. */
export function makeEnvironment(overrides: Partial<TaskEnvironment> = {}): TaskEnvironment {
  return {
    stackName: 'AmiBuilder',
    stagingBucket: 'staging-bucket',
    commandDocument: 'AmiBuilder-RunStagedCommand',
    commandLogGroup: '/ami-builder/commands',
    instanceRoleBoundary: 'arn:aws:iam::123456789012:policy/ami-builder/AmiBuilder-instance-role-boundary',
    allowedInstanceProfiles: [],
    allowedBucketPatterns: ['my-bundles', 'team-*'],
    eventBusName: 'default',
    amiParameterPrefix: '/ami-builder/',
    adoptForeignImages: false,
    ...overrides,
  };
}

/**
 * An error shaped like the SDK's service exceptions (`name`, `$fault`, `$metadata.httpStatusCode`), for
 * `mock.on(Command).rejects(awsError(...))`.
 */
export function awsError(name: string, message = name, httpStatusCode = 400): Error {
  const error = new Error(message) as Error & {
    $fault: 'client' | 'server';
    $metadata: { httpStatusCode: number };
  };
  error.name = name;
  error.$fault = httpStatusCode >= 500 ? 'server' : 'client';
  error.$metadata = { httpStatusCode };
  return error;
}

/** The region of the client that made a recorded call (`mock.commandCalls(...)[i]`). */
export async function regionOf(call: { thisValue: unknown }): Promise<string> {
  const client = call.thisValue as { config: { region: () => Promise<string> } };
  return client.config.region();
}
