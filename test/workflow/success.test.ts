/**
 * Whole builds that succeed: the synthesized state machine runs offline with the real handlers against the
 * emulator, and the AMIs are read back from the emulator.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../cli/local/runner.js';
import { BASIC_BUCKET, BUILD_REGION, basicExample, SOURCE_AMI, useWorkflowHarness } from './harness.js';

// Every task signs as its own synthesized role: a grant missing from infra/permissions.ts fails these builds.
const harness = useWorkflowHarness({ leastPrivilege: true });

const FULL_BUCKET = 'ami-builder-wf-full';
const FULL_AMI_NAME = 'ami-builder-wf-full';
const COPY_REGIONS = ['eu-west-1', 'ap-southeast-2', 'us-west-2'];
const PRODUCT_CODE = 'wfproductcode0000000000001';
const SETUP_SCRIPT = '#!/bin/sh\necho "setting up $GREETING"\n';
/** A 32-bit source: its architecture must reach ec2-bundle-vol and RegisterImage (the emulator's default is x86_64). */
const I386_SOURCE_AMI = 'ami-0f0f0f0f0f0f0f0f0';
/** Step Functions' limit on a state's input or output. */
const STATE_SIZE_LIMIT_BYTES = 262_144;

/** The full-featured template: provisioners, copies, permissions, tags with build variables, mappings. */
function fullTemplate(staging: string, x509: { certUri: string; keyUri: string }): Record<string, unknown> {
  return {
    variables: { bucket: FULL_BUCKET },
    builders: [
      {
        type: 'amazon-instance',
        name: 'full',
        region: BUILD_REGION,
        source_ami: I386_SOURCE_AMI,
        instance_type: 'm3.medium',
        account_id: '123456789012',
        s3_bucket: '{{user `bucket`}}/bundles',
        x509_cert_path: x509.certUri,
        x509_key_path: x509.keyUri,
        x509_upload_path: '/mnt/x509',
        ami_name: FULL_AMI_NAME,
        ami_description: 'Built from {{.SourceAMI}} in {{.BuildRegion}}',
        ami_virtualization_type: 'paravirtual',
        ami_regions: COPY_REGIONS,
        ami_users: ['111122223333', '444455556666'],
        ami_groups: ['all'],
        ami_product_codes: [PRODUCT_CODE],
        tags: { Name: 'full {{.BuildRegion}}', Source: '{{.SourceAMI}}', Team: 'images' },
        run_tags: { Purpose: 'workflow-test' },
        ami_block_device_mappings: [
          { device_name: '/dev/sdb', virtual_name: 'ephemeral0' },
          { device_name: '/dev/sdc', virtual_name: 'ephemeral1' },
        ],
        launch_block_device_mappings: [
          { device_name: '/dev/sdb', virtual_name: 'ephemeral0' },
          { device_name: '/dev/sdf', volume_size: 20, volume_type: 'gp3', delete_on_termination: true },
        ],
        force_deregister: true,
        // The template's own AMI polling: Packer's fixed delay, through the AMI waits' Choice → Wait loops.
        aws_polling: { delay_seconds: 5, max_attempts: 60 },
      },
    ],
    provisioners: [
      { type: 'shell', inline: ['echo inline-provisioner-ran > /tmp/inline'] },
      {
        type: 'shell',
        script: `s3://${staging}/workflow-test/scripts/setup.sh`,
        environment_vars: ['GREETING=hi'],
      },
      { type: 'file', source: `s3://${staging}/workflow-test/files/motd`, destination: '/etc/motd' },
    ],
  };
}

function succeeded(result: RunResult): void {
  expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
    status: 'SUCCEEDED',
    error: undefined,
    cause: undefined,
  });
}

describe('a successful build', () => {
  it('registers the Basic Example as an instance-store AMI in the build region', async () => {
    // Prepare
    const h = harness();
    const started = Date.now();

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'basic' });

    // Assess
    const wallMilliseconds = Date.now() - started;
    succeeded(result);
    const images = (await h.images(BUILD_REGION)).filter((i) => i.ImageId !== SOURCE_AMI);
    expect(images).toHaveLength(1);
    const image = images[0]!;
    expect(image.Name).toMatch(/^packer-quick-start \d+$/);
    expect(image.ImageLocation).toMatch(new RegExp(`^${BASIC_BUCKET}/image-\\d+\\.manifest\\.xml$`));
    expect(image).toMatchObject({
      RootDeviceType: 'instance-store',
      Architecture: 'x86_64',
      State: 'available',
    });
    const [build] = result.output?.builds ?? [];
    expect(build).toMatchObject({
      name: 'amazon-instance',
      status: 'succeeded',
      artifacts: { [BUILD_REGION]: image.ImageId },
      artifactId: `${BUILD_REGION}:${image.ImageId}`,
      sourceAmi: SOURCE_AMI,
      manifestLocation: `s3://${image.ImageLocation}`,
    });
    expect(result.output?.failed).toBe(0);
    // The instance ran with the build's temporary profile, which is gone afterwards.
    const [launch] = await h.emulator.launches();
    const roleName = build?.cleanup?.deletedInstanceRoles?.[0];
    expect(roleName).toMatch(/^build-amazon-instance-[0-9a-f]{12}$/);
    expect(launch?.iamInstanceProfile?.Name).toBe(roleName);
    expect(await h.leftovers()).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
    // The figures the benchmark targets (no more than 60 transitions, under 3 s), kept visible in the log.
    console.info(
      `basic example: ${result.stateTransitions} state transitions, ${wallMilliseconds} ms wall time, ` +
        `${Object.values(result.invocations).reduce((a, b) => a + b, 0)} Lambda invocations`,
    );
    // With simulated commands each poll loop turns once, as a fast command on AWS does. In sandbox mode commands
    // really run for seconds while the loops poll every 100 ms, so the count measures the machine, not the design.
    if (h.emulator.mode === 'simulated') expect(result.stateTransitions).toBeLessThanOrEqual(60);
  });

  it('builds the full-featured template into AMIs in all four regions with their attributes and tags', async () => {
    // Prepare
    const h = harness();
    const staging = h.stack.resources.stagingBucket;
    await h.s3.send(
      new PutObjectCommand({ Bucket: staging, Key: 'workflow-test/scripts/setup.sh', Body: SETUP_SCRIPT }),
    );
    await h.s3.send(
      new PutObjectCommand({
        Bucket: staging,
        Key: 'workflow-test/files/motd',
        Body: 'Built by ami-builder\n',
      }),
    );
    await h.emulator.seedImage({
      region: BUILD_REGION,
      imageId: I386_SOURCE_AMI,
      name: 'debian-7-i386-instance-store',
      ownerId: '379101102735',
      rootDeviceType: 'instance-store',
      architecture: 'i386',
      virtualizationType: 'paravirtual',
    });
    // Earlier builds of this stack (force_deregister replaces only the stack's own AMIs).
    const earlierBuild = { 'ami-builder:stack': h.stack.stackName };
    const previous = {
      [BUILD_REGION]: await h.emulator.seedImage({
        region: BUILD_REGION,
        name: FULL_AMI_NAME,
        rootDeviceType: 'instance-store',
        tags: earlierBuild,
      }),
      'eu-west-1': await h.emulator.seedImage({
        region: 'eu-west-1',
        name: FULL_AMI_NAME,
        rootDeviceType: 'instance-store',
        tags: earlierBuild,
      }),
    };

    // Act
    const result = await h.run(fullTemplate(staging, h.x509), { label: 'full' });

    // Assess
    succeeded(result);
    const regions = [BUILD_REGION, ...COPY_REGIONS];
    const artifacts: Record<string, string> = {};
    for (const region of regions) {
      const named = (await h.images(region)).filter((i) => i.Name === FULL_AMI_NAME);
      expect(
        named.map((i) => i.ImageId),
        `AMIs named ${FULL_AMI_NAME} in ${region}`,
      ).toHaveLength(1);
      const image = named[0]!;
      expect(image.ImageId).not.toBe(previous[region as keyof typeof previous]);
      artifacts[region] = image.ImageId!;
      expect(image).toMatchObject({
        State: 'available',
        RootDeviceType: 'instance-store',
        Architecture: 'i386',
        VirtualizationType: 'paravirtual',
        Description: `Built from ${I386_SOURCE_AMI} in ${BUILD_REGION}`,
        Public: true,
      });
      expect(image.ImageLocation).toMatch(new RegExp(`^${FULL_BUCKET}/bundles/image-\\d+\\.manifest\\.xml$`));
      expect(image.ProductCodes?.map((c) => c.ProductCodeId)).toEqual([PRODUCT_CODE]);
      expect(
        (image.BlockDeviceMappings ?? [])
          .filter((m) => m.VirtualName)
          .map((m) => [m.DeviceName, m.VirtualName]),
      ).toEqual([
        ['/dev/sdb', 'ephemeral0'],
        ['/dev/sdc', 'ephemeral1'],
      ]);
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({ Name: `full ${BUILD_REGION}`, Source: I386_SOURCE_AMI, Team: 'images' });
      expect(await h.launchPermissions(region, image.ImageId!)).toEqual({
        users: ['111122223333', '444455556666'],
        groups: ['all'],
      });
    }
    const [build] = result.output?.builds ?? [];
    expect(build).toMatchObject({ name: 'full', status: 'succeeded', artifacts, sourceAmi: I386_SOURCE_AMI });
    expect(build?.artifactId).toBe(
      Object.entries(artifacts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([region, id]) => `${region}:${id}`)
        .join(','),
    );
    // Force Deregister removed the same-named images that existed before the build.
    for (const [region, imageId] of Object.entries(previous)) {
      expect((await h.images(region)).map((i) => i.ImageId)).not.toContain(imageId);
    }

    const [launch, ...otherLaunches] = await h.emulator.launches();
    expect(otherLaunches).toEqual([]);
    expect(launch).toMatchObject({ imageId: I386_SOURCE_AMI, instanceType: 'm3.medium' });
    expect(launch?.tags).toMatchObject({ Purpose: 'workflow-test' });
    expect(launch?.blockDeviceMappings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }),
        expect.objectContaining({ DeviceName: '/dev/sdf', Ebs: expect.objectContaining({ VolumeSize: 20 }) }),
      ]),
    );

    const commands = await h.emulator.commands();
    const scripts = commands.map((c) => c.staged?.runScript ?? '');
    expect(commands.map((c) => c.staged?.prefix.split('/').at(-2))).toEqual([
      expect.stringMatching(/^01-provision-00/),
      expect.stringMatching(/^01-provision-01/),
      expect.stringMatching(/^01-provision-02/),
      '02-x509',
      '03-bundle',
      '04-upload',
    ]);
    const files = commands.map((c) =>
      (c.staged?.keys ?? []).map((k) => k.slice((c.staged?.prefix ?? '').length)),
    );
    expect(files.slice(0, 4)).toEqual([
      ['inline.sh', 'run.sh'],
      ['run.sh', 'scripts/0'],
      ['files/0', 'run.sh'],
      ['cert.pem', 'key.pem', 'run.sh'],
    ]);
    expect(scripts[1]).toContain('workflow-test/scripts/setup.sh');
    expect(scripts[1]).toContain('GREETING=');
    expect(scripts[2]).toContain('/etc/motd');
    expect(scripts[4]).toContain('ec2-bundle-vol');
    expect(scripts[4]).toContain('-r i386');
    expect(scripts[4]).toContain('-e /mnt/x509/*');
    expect(scripts[5]).toContain('ec2-upload-bundle');
    expect(scripts[5]).toContain(FULL_BUCKET);

    // aws_polling is set: each AMI wait ended through its Choice; the other waits polled by retries.
    const entered = result.events.filter((e) => e.type === 'StateEntered').map((e) => e.state?.name);
    expect(entered).toContain('AMI Available?');
    // The emulator keeps a new image pending for 200 ms: the first checks wait delay_seconds (scaled) and check again.
    expect(entered).toContain('Wait For AMI');
    expect(entered).toContain('Wait For AMI Copy');
    expect(entered.filter((n) => n === 'AMI Copy Available?').length).toBeGreaterThanOrEqual(
      COPY_REGIONS.length,
    );
    expect(result.events.some((e) => e.type === 'StateRetried')).toBe(true);

    // Every state's input and output stays within Step Functions' 256 KB (command output never grows the state).
    const sizes = result.events.flatMap((e) =>
      [e.state?.input, e.state?.output].map((v) => Buffer.byteLength(JSON.stringify(v ?? null), 'utf8')),
    );
    expect(Math.max(...sizes)).toBeLessThan(STATE_SIZE_LIMIT_BYTES);

    expect(await h.leftovers(regions)).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
  });
});
