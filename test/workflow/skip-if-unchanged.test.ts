/**
 * skip_if_unchanged (issue 12, point 2): a second build with nothing changed launches nothing and reports the
 * first AMI with status `unchanged` (output, event, ami_id_parameter); one byte more in a script makes it build.
 * Runs with each task's own synthesized role, so the new task's IAM grants are exercised too.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { TagKeys } from '../../lambdas/shared/tags.js';
import { BUILD_REGION, basicExample, enteredStates, SOURCE_AMI, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const COPY_REGION = 'eu-west-1';
const PARAMETER = '/ami-builder/ami-ids/workflow-test/unchanged';
const SCRIPT_KEY = 'workflow-test/unchanged/install.sh';
const FILES_KEY = 'workflow-test/unchanged/files/';

/** Uploads the script as the CLI stages it (with its SHA-256 checksum) and a folder without checksums. */
async function upload(script: string): Promise<void> {
  const h = harness();
  const Bucket = h.stack.resources.stagingBucket;
  await h.s3.send(
    new PutObjectCommand({
      Bucket,
      Key: SCRIPT_KEY,
      Body: script,
      ChecksumSHA256: createHash('sha256').update(script).digest('base64'),
    }),
  );
  await h.s3.send(new PutObjectCommand({ Bucket, Key: `${FILES_KEY}motd`, Body: 'hello\n' }));
}

function template(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const h = harness();
  const staging = h.stack.resources.stagingBucket;
  return {
    builders: [
      {
        ...basicExample(h.x509),
        skip_if_unchanged: true,
        ami_regions: [COPY_REGION],
        ami_id_parameter: PARAMETER,
        ...extra,
      },
    ],
    provisioners: [
      { type: 'shell', script: `s3://${staging}/${SCRIPT_KEY}` },
      { type: 'file', source: `s3://${staging}/${FILES_KEY}`, destination: '/tmp/files/' },
    ],
  };
}

const launchCalls = async () =>
  (await harness().emulator.calls()).filter((c) =>
    [
      'RunInstances',
      'CreateSecurityGroup',
      'CreateRole',
      'SendCommand',
      'RegisterImage',
      'CopyImage',
    ].includes(c.operation),
  );

const ownImages = async (region: string) =>
  (await harness().images(region)).filter((i) => i.ImageId !== SOURCE_AMI);

const tagOf = (tags: { Key?: string; Value?: string }[] | undefined, key: string) =>
  tags?.find((t) => t.Key === key)?.Value;

describe('skip_if_unchanged', () => {
  it('reports the first AMI, launching nothing, when nothing changed; one byte more in a script builds', async () => {
    // Prepare: a first build tags its AMI and the copy with the fingerprint.
    const h = harness();
    await upload('echo one\n');
    const first = await h.run(template(), { label: 'unchanged-1' });
    expect({ status: first.status, cause: first.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const built = first.output?.builds[0];
    expect(built?.status).toBe('succeeded');
    const [image] = await ownImages(BUILD_REGION);
    const [copy] = await ownImages(COPY_REGION);
    const fingerprint = tagOf(image?.Tags, TagKeys.fingerprint);
    expect(fingerprint).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(tagOf(copy?.Tags, TagKeys.fingerprint)).toBe(fingerprint);
    expect(built?.fingerprint).toBe(fingerprint);
    await h.emulator.resetCalls();
    const eventsBefore = (await h.emulator.events()).length;

    // Act: the same template later (another {{timestamp}} in ami_name), nothing changed.
    const second = await h.run(template(), { label: 'unchanged-2' });

    // Assess
    expect({ status: second.status, cause: second.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const unchanged = second.output?.builds[0];
    expect(unchanged).toMatchObject({
      status: 'unchanged',
      artifacts: built?.artifacts,
      artifactId: built?.artifactId,
      fingerprint,
    });
    expect(await launchCalls()).toEqual([]);
    expect(await h.emulator.launches()).toHaveLength(1);
    expect(await ownImages(BUILD_REGION)).toHaveLength(1);
    const states = enteredStates(second);
    expect(states).toEqual(
      expect.arrayContaining([
        StateNames.SkipIfUnchangedChoice,
        StateNames.CheckUnchanged,
        StateNames.UnchangedChoice,
        StateNames.PublishAmiIds,
        StateNames.ReportBuild,
      ]),
    );
    expect(states).not.toContain(StateNames.EnsureBundleBucket);
    expect(states).not.toContain(StateNames.LaunchInstance);
    // The event and the parameter name the first AMI, as for a new build.
    const events = (await h.emulator.events()).slice(eventsBefore);
    expect(events).toHaveLength(1);
    expect(events[0]?.detail).toMatchObject({
      failed: 0,
      builds: [{ status: 'unchanged', artifacts: built?.artifacts }],
    });
    for (const region of [BUILD_REGION, COPY_REGION]) {
      const parameter = await h.ssm(region).send(new GetParameterCommand({ Name: PARAMETER }));
      expect(parameter.Parameter?.Value).toBe(built?.artifacts[region]);
    }
    expect(await h.leftovers([BUILD_REGION, COPY_REGION])).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });

    // Act: one byte more in the script.
    await upload('echo one!\n');
    await h.emulator.resetCalls();
    const third = await h.run(template(), { label: 'unchanged-3' });

    // Assess: it builds, with another fingerprint.
    expect({ status: third.status, cause: third.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const rebuilt = third.output?.builds[0];
    expect(rebuilt?.status).toBe('succeeded');
    expect(rebuilt?.artifacts[BUILD_REGION]).not.toBe(built?.artifacts[BUILD_REGION]);
    expect(rebuilt?.fingerprint).not.toBe(fingerprint);
    expect((await launchCalls()).filter((c) => c.operation === 'RunInstances')).toHaveLength(1);
    expect(await ownImages(BUILD_REGION)).toHaveLength(2);
  });

  it('with a fixed ami_name, a changed build whose name is taken fails in Check Unchanged, launching nothing', async () => {
    // Prepare
    const h = harness();
    await upload('echo one\n');
    const first = await h.run(template({ ami_name: 'unchanged-static' }), { label: 'static-1' });
    expect({ status: first.status, cause: first.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    await upload('echo two\n');
    await h.emulator.resetCalls();

    // Act
    const second = await h.run(template({ ami_name: 'unchanged-static' }), { label: 'static-2' });

    // Assess
    expect(second.status).toBe('FAILED');
    expect(second.error).toBe('AmiNameInUseError');
    expect(enteredStates(second)).toContain(StateNames.CheckUnchanged);
    expect(enteredStates(second)).not.toContain(StateNames.UnchangedChoice);
    expect(await launchCalls()).toEqual([]);
  });
});
