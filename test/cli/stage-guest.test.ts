import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StageOptions, stageTemplateFiles } from '../../cli/stage.js';
import { TemplateValidationError } from '../../lambdas/shared/errors.js';

const s3Mock = mockClient(S3Client);
const BUCKET = 'amibuilder-staging';
const PREFIX = 'web-20240102-000000-a1b2';

let dir: string;

function options(): StageOptions {
  return {
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: BUCKET,
    prefix: PREFIX,
    templateDir: dir,
    vars: {},
    pwd: dir,
  };
}

/** Uploaded keys, below the per-build `files/` folder and its hash segment. */
function uploadedPaths(): string[] {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((c) =>
      (c.args[0].input.Key ?? '').replace(`staging/${PREFIX}/files/`, '').replace(/^[0-9a-f]{12}\//, ''),
    )
    .sort();
}

const template = (provisioners: unknown[]) => ({
  builders: [{ type: 'amazon-instance' }],
  provisioners,
});

beforeEach(async () => {
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
  dir = await mkdtemp(join(tmpdir(), 'stage-guest-'));
  await mkdir(join(dir, 'ansible', 'roles', 'web', 'tasks'), { recursive: true });
  await mkdir(join(dir, 'ansible', 'group_vars'), { recursive: true });
  await writeFile(join(dir, 'ansible', 'site.yml'), '- hosts: all\n');
  await writeFile(join(dir, 'ansible', 'roles', 'web', 'tasks', 'main.yml'), '- debug: {}\n');
  await writeFile(join(dir, 'ansible', 'group_vars', 'all.yml'), 'a: 1\n');
  await mkdir(join(dir, 'puppet', 'modules', 'base', 'manifests'), { recursive: true });
  await writeFile(join(dir, 'puppet', 'site.pp'), 'include base\n');
  await writeFile(join(dir, 'puppet', 'modules', 'base', 'manifests', 'init.pp'), 'class base {}\n');
});

afterEach(async () => {
  s3Mock.reset();
  await rm(dir, { recursive: true, force: true });
});

describe('stageTemplateFiles for guest-side provisioners', () => {
  it('uploads the files and whole directories that ansible-local and puppet-masterless name, layout intact', async () => {
    // Act
    const result = await stageTemplateFiles(
      template([
        {
          type: 'ansible-local',
          playbook_file: 'ansible/site.yml',
          role_paths: ['ansible/roles/web'],
          group_vars: 'ansible/group_vars',
        },
        { type: 'puppet-masterless', manifest_file: 'puppet/site.pp', module_paths: ['puppet/modules'] },
      ]),
      options(),
    );

    // Assess
    expect(uploadedPaths()).toEqual([
      'group_vars/all.yml',
      'modules/base/manifests/init.pp',
      'site.pp',
      'site.yml',
      'web/tasks/main.yml',
    ]);
    const [ansible, puppet] = (result.template as { provisioners: Record<string, unknown>[] }).provisioners;
    // A directory becomes the folder of its contents (`…/web/`), as Packer uploads `src/`.
    expect(ansible?.role_paths).toEqual([
      expect.stringMatching(/^s3:\/\/amibuilder-staging\/staging\/.+\/web\/$/),
    ]);
    expect(ansible?.group_vars).toMatch(/\/group_vars\/$/);
    expect(puppet?.manifest_file).toMatch(/\/site\.pp$/);
    expect(puppet?.module_paths).toEqual([expect.stringMatching(/\/modules\/$/)]);
  });

  it('uploads the remote ansible playbook with its folder, so that its roles are found beside it', async () => {
    // Act
    const result = await stageTemplateFiles(
      template([{ type: 'ansible', playbook_file: 'ansible/site.yml' }]),
      options(),
    );

    // Assess
    expect(uploadedPaths()).toEqual([
      'ansible/group_vars/all.yml',
      'ansible/roles/web/tasks/main.yml',
      'ansible/site.yml',
    ]);
    const [ansible] = (result.template as { provisioners: Record<string, unknown>[] }).provisioners;
    expect(ansible?.playbook_file).toMatch(/^s3:\/\/amibuilder-staging\/staging\/.+\/ansible\/site\.yml$/);
  });

  it("fails with Packer's messages for a path of the wrong kind, before uploading anything", async () => {
    // Act
    const error = await stageTemplateFiles(
      template([
        { type: 'ansible-local', playbook_file: 'ansible', role_paths: ['ansible/site.yml'] },
        { type: 'puppet-masterless', manifest_file: 'nope.pp', module_paths: ['puppet/site.pp'] },
      ]),
      options(),
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect((error as TemplateValidationError).problems).toEqual([
      'playbook_file: ansible must point to a file',
      'role_paths: ansible/site.yml must point to a directory',
      'module_path[0] must point to a directory',
      'manifest_file is invalid: stat nope.pp: no such file or directory',
    ]);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
