import { describe, expect, it } from 'vitest';
import { StateNames } from '../../../infra/state-names.js';
import type { Provisioner } from '../../../lambdas/shared/config.js';
import { changedSteps, failedStep, ResumeStateNames, stepDigests } from '../../../lambdas/shared/resume.js';
import { makeConfig } from '../fixtures.js';

const shell = (index: number, inline: string[], extra: Partial<Provisioner> = {}): Provisioner => ({
  type: 'shell',
  index,
  name: 'shell',
  inline,
  scripts: [],
  environmentVars: [],
  executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
  inlineShebang: '/bin/sh -e',
  remoteFolder: '/tmp',
  validExitCodes: [0],
  maxRetries: 0,
  timeoutSeconds: 0,
  pauseBeforeSeconds: 0,
  ...(extra as object),
});

const staged = (execution: string, hash: string) => {
  const key = `staging/${execution}/files/${hash}/setup.sh`;
  return { kind: 's3' as const, bucket: 'staging', key, uri: `s3://staging/${key}` };
};

describe('changedSteps', () => {
  const failed = makeConfig({
    amiName: 'web 1700000000',
    provisioners: [shell(0, ['apt-get update']), shell(1, ['broken'])],
  });

  it('accepts a changed failed step, later steps and the {{timestamp}} of the names', () => {
    const fixed = makeConfig({
      amiName: 'web 1700003600',
      bundle: { prefix: 'image-1700003600', uploadCommand: 'ec2-upload-bundle --retry -b {{.BucketName}}' },
      tags: { Release: 'new' },
      provisioners: [shell(0, ['apt-get update']), shell(1, ['fixed'])],
    });
    expect(changedSteps(failed, fixed, { step: 'provision', provisionerIndex: 1 })).toEqual([]);
  });

  it('names each changed step before the failed one', () => {
    const changed = makeConfig({
      instanceType: 'm3.large',
      provisioners: [shell(0, ['apt-get upgrade']), shell(1, ['fixed'])],
    });
    expect(changedSteps(failed, changed, { step: 'provision', provisionerIndex: 1 })).toEqual([
      expect.objectContaining({
        key: 'launch',
        message: expect.stringMatching(/^the template changed the instance launch/),
      }),
      { key: 'provisioner 0', message: 'the template changed provisioner 0 (shell)' },
    ]);
  });

  it('compares the content of staged files, not the execution folder they were staged in', () => {
    const a = makeConfig({
      provisioners: [
        { ...shell(0, []), inline: undefined, scripts: [staged('exec-1', 'aaaaaaaaaaaa')] } as Provisioner,
      ],
    });
    const same = makeConfig({
      provisioners: [
        { ...shell(0, []), inline: undefined, scripts: [staged('exec-2', 'aaaaaaaaaaaa')] } as Provisioner,
      ],
    });
    const edited = makeConfig({
      provisioners: [
        { ...shell(0, []), inline: undefined, scripts: [staged('exec-2', 'bbbbbbbbbbbb')] } as Provisioner,
      ],
    });
    const point = { step: 'x509' as const };
    expect(changedSteps(a, same, point)).toEqual([]);
    expect(changedSteps(a, edited, point).map((c) => c.key)).toEqual(['provisioner 0']);
  });

  it('at a later step, compares every provisioner, their number, the X.509 upload and the bundle', () => {
    const more = makeConfig({
      provisioners: [...failed.provisioners, shell(2, ['extra'])],
      bundle: { volCommand: 'ec2-bundle-vol --other' },
    });
    expect(changedSteps(failed, more, { step: 'register' }).map((c) => c.key)).toEqual([
      'provisioners',
      'bundle',
      'provisioner 2',
    ]);
    // The failed step itself may change.
    expect(changedSteps(failed, more, { step: 'bundle' }).map((c) => c.key)).toEqual([
      'provisioners',
      'provisioner 2',
    ]);
  });

  it('digests only the steps before the resume point', () => {
    const keys = (point: Parameters<typeof stepDigests>[1]) => stepDigests(failed, point).map((s) => s.key);
    expect(keys({ step: 'provision', provisionerIndex: 0 })).toEqual(['launch']);
    expect(keys({ step: 'provision', provisionerIndex: 1 })).toEqual(['launch', 'provisioner 0']);
    expect(keys({ step: 'register' })).toEqual([
      'launch',
      'provisioner 0',
      'provisioner 1',
      'provisioners',
      'x509',
      'bundle',
      'upload',
    ]);
  });
});

describe('failedStep', () => {
  const input = (name: string, extra: Record<string, unknown> = {}) => ({ config: { name }, ...extra });

  it('finds the provisioner the build was in, ignoring other builds and the failure path', () => {
    const entered = [
      { name: StateNames.LaunchInstance, input: input('a') },
      { name: StateNames.SendProvisionerCommand, input: input('a', { provisionerIndex: 0 }) },
      { name: StateNames.SendProvisionerCommand, input: input('a', { provisionerIndex: 1 }) },
      { name: StateNames.CheckProvisionerCommand, input: input('a', { provisionerIndex: 1 }) },
      { name: StateNames.UploadX509Certificate, input: input('b') },
      { name: StateNames.InstanceLaunched, input: input('a') },
      { name: StateNames.ReportFailedBuild, input: input('a') },
    ];
    expect(failedStep(entered, 'a')).toEqual({ step: 'provision', provisionerIndex: 1 });
    expect(failedStep(entered, 'b')).toEqual({ step: 'x509' });
  });

  it('maps the bundle, upload and registration states', () => {
    for (const [state, step] of [
      [StateNames.CheckBundleVolume, 'bundle'],
      [StateNames.CheckUploadBundle, 'upload'],
      [StateNames.RegisterAmi, 'register'],
      [StateNames.ForceDeregister, 'register'],
    ] as const) {
      expect(failedStep([{ name: state, input: input('a') }], 'a')).toEqual({ step });
    }
  });

  it('refuses a build that failed before provisioning or after registering', () => {
    expect(failedStep([{ name: StateNames.CheckSsmAgent, input: input('a') }], 'a')).toMatch(
      /failed in "Check SSM Agent", before provisioning started/,
    );
    expect(failedStep([{ name: StateNames.CheckAmiAvailable, input: input('a') }], 'a')).toMatch(
      /after the AMI was registered/,
    );
    expect(failedStep([], 'a')).toMatch(/no step of this build/);
  });

  it('reads the history by the workflow’s state names', () => {
    expect(ResumeStateNames.reportFailedBuild).toBe(StateNames.ReportFailedBuild);
    expect(ResumeStateNames.reportBuild).toBe(StateNames.ReportBuild);
  });
});
