/**
 * Builds whose commands really run: the emulator's sandbox mode gives the build instance its own namespaces over
 * a copy-on-write root, an SSM agent that runs the stack's command document, and the AMI tool stand-ins. The
 * failures here come from what the commands do, not from injected faults.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  BASIC_BUCKET,
  BUILD_REGION,
  basicExample,
  provisionerOutputs,
  useWorkflowHarness,
  type WorkflowHarness,
  type X509Pair,
} from './harness.js';

const harness = useWorkflowHarness();

const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };
/** Every character a shell would interpret, in one environment_vars value. */
const WEIRD = `a'b"c $HOME $(touch /tmp/pwned) \`id\` ; & | < > * ? \\ {x,y} ~ # end`;
/** Written by a provisioner as the run-as user, read back by a later one, never on the host. */
const MARKER = '/home/ubuntu/ami-builder-marker.txt';

function withProvisioners(
  x509: X509Pair,
  provisioners: Record<string, unknown>[],
  builder: Record<string, unknown> = {},
): Record<string, unknown> {
  return { builders: [{ ...basicExample(x509), ...builder }], provisioners };
}

async function s3Text(h: WorkflowHarness, bucket: string, key: string): Promise<Uint8Array> {
  const out = await h.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
}

describe('a build whose commands run in the sandbox', () => {
  it('runs every provisioner for real, as the user, with Packer’s variables, and registers the bundle it made', async () => {
    // Prepare
    const h = harness();
    expect(h.emulator.mode).toBe('sandbox');
    const template = withProvisioners(h.x509, [
      { type: 'shell', inline: [`echo "written by $(id -un)" > ${MARKER}`, 'sudo -n id -u'] },
      {
        type: 'shell',
        inline: ['printf "weird=%s\\n" "$WEIRD"', 'echo "script=$0 args=$*"'],
        environment_vars: [`WEIRD=${WEIRD}`],
        execute_command: '{{.Vars}} /bin/bash {{.Path}} from-execute-command',
      },
      { type: 'shell', inline: [`cat ${MARKER}`, 'exit 3'], valid_exit_codes: [0, 3] },
    ]);

    // Act
    const result = await h.run(template, { label: 'sandbox' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const [first, second, third] = await provisionerOutputs(h);
    expect(first).toContain('0\n');
    expect(second).toContain(`weird=${WEIRD}\n`);
    expect(second).toMatch(/script=\/tmp\/script_\d+\.sh args=from-execute-command\n/);
    expect(third).toContain('written by ubuntu\n');
    expect(existsSync(MARKER)).toBe(false);
    expect(existsSync('/tmp/pwned')).toBe(false);

    // The bundle the stand-in wrote is the one the image was registered from.
    const [image] = (await h.images(BUILD_REGION)).filter((i) => i.ImageLocation?.startsWith(BASIC_BUCKET));
    expect(image).toMatchObject({
      RootDeviceType: 'instance-store',
      Architecture: 'x86_64',
      State: 'available',
    });
    const [bucket, ...rest] = (image?.ImageLocation ?? '').split('/');
    const manifestKey = rest.join('/');
    const manifest = Buffer.from(await s3Text(h, bucket!, manifestKey)).toString('utf8');
    expect(manifest).toContain('<user>012345670890</user>');
    expect(manifest).toContain('<architecture>x86_64</architecture>');
    const parts = [
      ...manifest.matchAll(/<filename>([^<]+)<\/filename><digest algorithm="SHA1">([0-9a-f]+)<\/digest>/g),
    ];
    expect(parts.length).toBeGreaterThan(0);
    const prefix = manifestKey.includes('/') ? manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1) : '';
    for (const [, name, digest] of parts) {
      const body = await s3Text(h, bucket!, `${prefix}${name}`);
      expect(createHash('sha1').update(body).digest('hex')).toBe(digest);
    }
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  const failures: {
    what: string;
    template: (x509: X509Pair) => Record<string, unknown>;
    error: string;
    cause: (string | RegExp)[];
  }[] = [
    {
      what: 'a provisioner exits with 3',
      template: (x509) =>
        withProvisioners(x509, [{ type: 'shell', inline: ['echo about to fail >&2', 'exit 3'] }]),
      error: 'ProvisionerFailedError',
      cause: [/Provisioner 1 \(shell\) failed with exit code 3/, /about to fail/],
    },
    {
      what: 'a file provisioner’s destination directory does not exist',
      template: (x509) =>
        withProvisioners(x509, [
          { type: 'file', content: 'hello\n', destination: '/nonexistent/directory/hello.txt' },
        ]),
      error: 'ProvisionerFailedError',
      cause: [/Provisioner 1 \(file\) failed with exit code 1/, /\/nonexistent\/directory/],
    },
    {
      what: 'the bundle command passes a flag ec2-bundle-vol rejects',
      template: (x509) =>
        withProvisioners(x509, [], {
          bundle_vol_command:
            'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} ' +
            '-e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter --compress-harder',
        }),
      error: 'VolumeBundleError',
      cause: [/ec2-bundle-vol: invalid option: --compress-harder/, /Volume bundling failed/],
    },
    {
      what: 'a custom bundle_vol_command writes the manifest somewhere other than bundle_destination',
      template: (x509) =>
        withProvisioners(x509, [], {
          bundle_vol_command:
            'mkdir -p /mnt/elsewhere && sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} ' +
            '-c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d /mnt/elsewhere -p {{.Prefix}} --batch',
        }),
      error: 'VolumeBundleError',
      cause: [
        /wrote its manifest to \/mnt\/elsewhere\/image-\d+\.manifest\.xml, but the upload and Register AMI expect it at \/tmp\/image-\d+\.manifest\.xml/,
      ],
    },
    {
      what: 'the upload goes to a bucket that does not exist (and that the build instance may not write)',
      template: (x509) =>
        withProvisioners(x509, [], {
          bundle_upload_command:
            'sudo -i -n ec2-upload-bundle -b ami-builder-wf-missing -m {{.ManifestPath}} -a {{.AccessKey}} ' +
            '-s {{.SecretKey}} -t {{.Token}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry',
        }),
      error: 'BundleUploadError',
      cause: [/ami-builder-wf-missing/],
    },
  ];

  for (const c of failures) {
    it(`fails with ${c.error} when ${c.what}, and cleans up`, async () => {
      // Prepare
      const h = harness();

      // Act
      const result = await h.run(c.template(h.x509), { label: 'sandbox-fail' });

      // Assess
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe(c.error);
      for (const expected of c.cause) {
        if (typeof expected === 'string') expect(result.cause).toContain(expected);
        else expect(result.cause).toMatch(expected);
      }
      expect(await h.emulator.faults()).toEqual([]);
      expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
    });
  }
});
