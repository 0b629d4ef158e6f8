/**
 * Every failure class of a build ends the execution with its named error, and the failure path (or, for the
 * template, the first state) leaves nothing behind: no instance, no security group, no staged object.
 */
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../emulator/index.js';
import { StateNames } from '../../infra/state-names.js';
import { AMI_TOOLS_HINT, packerBucketHint } from '../../lambdas/check-command/check-command.js';
import {
  BASIC_BUCKET,
  BUILD_REGION,
  basicExample,
  enteredStates,
  useWorkflowHarness,
  type X509Pair,
} from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };

/** The Basic Example with one shell provisioner, so that every command kind runs. */
function provisionedExample(x509: X509Pair, builder: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    builders: [{ ...basicExample(x509), ...builder }],
    // It really runs in sandbox mode (as ssh_username, offline): it must succeed there unless a fault says otherwise.
    provisioners: [{ type: 'shell', inline: ['echo installing ruby unzip'] }],
  };
}

interface FailureCase {
  what: string;
  template: (x509: X509Pair) => Record<string, unknown>;
  faults: Fault[];
  error: string;
  /** Text the cause contains, or matches. */
  cause: (string | RegExp)[];
  /** The state whose failure the build's Catch caught. */
  failedIn: string;
  /** False when the build fails before Launch Instance. @default true */
  launches?: boolean;
  regions?: string[];
}

const cases: FailureCase[] = [
  {
    what: 'the source AMI does not exist',
    template: (x509) => ({ ...basicExample(x509), source_ami: 'ami-0000000000000dead' }),
    faults: [],
    error: 'SourceAmiNotFoundError',
    cause: [/ami-0000000000000dead/],
    failedIn: StateNames.Prevalidate,
    launches: false,
  },
  {
    what: 'the SSM agent never comes online',
    template: (x509) => ({ ...basicExample(x509), ssh_timeout: '10s' }),
    faults: [{ type: 'agent-offline' }],
    error: 'AgentNotOnlineError',
    cause: [/did not report Online within 10 s \(ssh_timeout\)/],
    failedIn: StateNames.CheckSsmAgent,
  },
  {
    what: 'a provisioner exits with 1',
    template: (x509) => provisionedExample(x509),
    faults: [
      { type: 'command', match: '01-provision', exitCode: 1, stderr: 'E: Unable to locate package ruby' },
    ],
    error: 'ProvisionerFailedError',
    cause: [/exit code 1/, /Unable to locate package ruby/],
    failedIn: StateNames.CheckProvisionerCommand,
  },
  {
    what: 'the bundle command exits with 127',
    template: (x509) => provisionedExample(x509),
    faults: [
      {
        type: 'command',
        match: '03-bundle',
        exitCode: 127,
        stderr: 'sudo: ec2-bundle-vol: command not found',
      },
    ],
    error: 'VolumeBundleError',
    cause: [/exit code 127/, AMI_TOOLS_HINT],
    failedIn: StateNames.CheckBundleVolume,
  },
  {
    what: 'the upload command exits with 3',
    template: (x509) => provisionedExample(x509),
    faults: [
      {
        type: 'command',
        match: '04-upload',
        exitCode: 3,
        stderr: 'ERROR: Error talking to S3: Server.AccessDenied(403)',
      },
    ],
    error: 'BundleUploadError',
    cause: [/exit code 3/, packerBucketHint(BASIC_BUCKET)],
    failedIn: StateNames.CheckUploadBundle,
  },
  {
    what: 'EC2 refuses the registration',
    template: (x509) => basicExample(x509),
    faults: [
      {
        type: 'api',
        service: 'ec2',
        operation: 'RegisterImage',
        error: 'permanent',
        code: 'InvalidManifest',
        message: 'HTTP 403 (Forbidden) for URL packer-images/image.manifest.xml',
      },
    ],
    error: 'RegisterImageError',
    cause: [/InvalidManifest/],
    failedIn: StateNames.RegisterAmi,
  },
  {
    what: "one region's copy fails",
    template: (x509) => ({ ...basicExample(x509), ami_regions: ['eu-west-1', 'us-west-2'] }),
    faults: [{ type: 'copy-fail', region: 'us-west-2', message: 'Copy of the bundle failed (injected).' }],
    error: 'ImageCopyError',
    cause: [/us-west-2/],
    failedIn: StateNames.CheckAmiCopy,
    regions: [BUILD_REGION, 'eu-west-1', 'us-west-2'],
  },
];

describe('a failed build', () => {
  it('fails when the template is invalid, in Validate Template, before anything is created', async () => {
    // Prepare
    const h = harness();
    const template = {
      ...basicExample(h.x509),
      s3_bucket: undefined,
      instance_type: 't2.micro',
      ssh_timeout: 'soon',
    };
    const bucketsBefore = await h.buckets();

    // Act
    const result = await h.run(template, { label: 'invalid' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TemplateValidationError');
    expect(result.cause).toMatch(/s3_bucket is required/);
    expect(result.cause).toMatch(/ssh_timeout/);
    expect(enteredStates(result)).toEqual([StateNames.ValidateTemplate, StateNames.TemplateInvalid]);
    expect(await h.emulator.launches()).toEqual([]);
    expect(await h.emulator.commands()).toEqual([]);
    expect(await h.buckets()).toEqual(bucketsBefore);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  for (const c of cases) {
    it(`fails with ${c.error} when ${c.what}, leaving nothing behind`, async () => {
      // Prepare
      const h = harness();
      for (const fault of c.faults) await h.emulator.addFault(fault);

      // Act
      const result = await h.run(c.template(h.x509), { label: 'fail' });

      // Assess
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe(c.error);
      for (const expected of c.cause) {
        if (typeof expected === 'string') expect(result.cause).toContain(expected);
        else expect(result.cause).toMatch(expected);
      }
      const failedStates = result.events.flatMap((e) =>
        e.type === 'StateFailed' && e.state ? [e.state.name] : [],
      );
      expect(failedStates).toContain(c.failedIn);
      const entered = enteredStates(result);
      expect(entered).toContain(StateNames.ReportFailedBuild);
      expect(entered).not.toContain(StateNames.ReportBuild);
      const [build] = result.output?.builds ?? [];
      expect(build).toBeUndefined(); // a failed execution has no output
      // The build's own failure path cleaned up: the abort cleanup the rule runs afterwards finds nothing.
      const launches = await h.emulator.launches();
      if (c.launches === false) {
        expect(launches).toEqual([]);
      } else {
        expect(launches).toHaveLength(1);
        expect(result.cause).toContain(`terminated instance ${launches[0]?.instanceId}`);
      }
      expect(result.abortCleanup).toMatchObject({
        terminatedInstances: [],
        deletedSecurityGroups: [],
        deletedStagedObjects: 0,
      });
      expect(await h.leftovers(c.regions)).toEqual(NO_LEFTOVERS);
    });
  }
});
