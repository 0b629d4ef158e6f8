import { createHash } from 'node:crypto';
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

const hash12 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
const uriOf = (content: string, name: string) =>
  `s3://${BUCKET}/staging/${PREFIX}/files/${hash12(content)}/${name}`;

function options(overrides: Partial<StageOptions> = {}): StageOptions {
  return {
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: BUCKET,
    prefix: PREFIX,
    templateDir: dir,
    vars: {},
    pwd: dir,
    ...overrides,
  };
}

function uploads(): Record<string, string> {
  return Object.fromEntries(
    s3Mock
      .commandCalls(PutObjectCommand)
      .map((c) => [c.args[0].input.Key ?? '', String(c.args[0].input.Body)]),
  );
}

beforeEach(async () => {
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
  dir = await mkdtemp(join(tmpdir(), 'stage-'));
  await writeFile(join(dir, 'cert.pem'), 'CERT');
  await writeFile(join(dir, 'key.pem'), 'KEY');
  await writeFile(join(dir, 'user-data.sh'), 'USERDATA');
  await writeFile(join(dir, 'install.sh'), 'INSTALL');
  await writeFile(join(dir, 'harden.sh'), 'HARDEN');
  await writeFile(join(dir, 'motd'), 'MOTD');
});

afterEach(async () => {
  s3Mock.reset();
  await rm(dir, { recursive: true, force: true });
});

describe('stageTemplateFiles', () => {
  it('uploads every local file of the builder and the provisioners, and rewrites them to s3:// URIs', async () => {
    // Prepare
    const template = {
      variables: { cert: 'cert.pem' },
      builders: [
        {
          type: 'amazon-instance',
          x509_cert_path: '{{user `cert`}}',
          x509_key_path: '{{template_dir}}/key.pem',
          user_data_file: 'user-data.sh',
        },
      ],
      provisioners: [
        { type: 'shell', script: 'install.sh' },
        { type: 'shell', scripts: ['harden.sh', 's3://team-scripts/base.sh'] },
        { type: 'file', source: 'motd', destination: '/etc/motd' },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options({ vars: { cert: 'cert.pem' } }));

    // Assess
    const staged = result.template as typeof template;
    expect(staged.builders[0]).toEqual({
      type: 'amazon-instance',
      x509_cert_path: uriOf('CERT', 'cert.pem'),
      x509_key_path: uriOf('KEY', 'key.pem'),
      user_data_file: uriOf('USERDATA', 'user-data.sh'),
    });
    expect(staged.provisioners).toEqual([
      { type: 'shell', script: uriOf('INSTALL', 'install.sh') },
      { type: 'shell', scripts: [uriOf('HARDEN', 'harden.sh'), 's3://team-scripts/base.sh'] },
      { type: 'file', source: uriOf('MOTD', 'motd'), destination: '/etc/motd' },
    ]);
    expect(result.staged.map((s) => s.localPath)).toEqual(
      ['cert.pem', 'key.pem', 'user-data.sh', 'install.sh', 'harden.sh', 'motd'].map((f) => join(dir, f)),
    );
    expect(uploads()).toEqual({
      [`staging/${PREFIX}/files/${hash12('CERT')}/cert.pem`]: 'CERT',
      [`staging/${PREFIX}/files/${hash12('KEY')}/key.pem`]: 'KEY',
      [`staging/${PREFIX}/files/${hash12('USERDATA')}/user-data.sh`]: 'USERDATA',
      [`staging/${PREFIX}/files/${hash12('INSTALL')}/install.sh`]: 'INSTALL',
      [`staging/${PREFIX}/files/${hash12('HARDEN')}/harden.sh`]: 'HARDEN',
      [`staging/${PREFIX}/files/${hash12('MOTD')}/motd`]: 'MOTD',
    });
    for (const call of s3Mock.commandCalls(PutObjectCommand)) {
      const input = call.args[0].input;
      expect(input).toMatchObject({ Bucket: BUCKET, ServerSideEncryption: 'AES256' });
      // The content's SHA-256, which S3 verifies and keeps (skip_if_unchanged digests objects by it).
      expect(input.ChecksumSHA256).toBe(
        createHash('sha256')
          .update(input.Body as Buffer)
          .digest('base64'),
      );
    }
  });

  it('leaves the input untouched and never puts file contents into the rewritten template', async () => {
    // Prepare
    const template = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 'cert.pem', x509_key_path: 'key.pem' }],
    };
    const before = JSON.stringify(template);

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    expect(JSON.stringify(template)).toBe(before);
    expect(JSON.stringify(result.template)).not.toMatch(/CERT|KEY"/);
  });

  it('leaves s3:// and ssm: references alone', async () => {
    // Prepare
    const template = {
      builders: [
        {
          type: 'amazon-instance',
          x509_cert_path: 's3://certs/cert.pem',
          x509_key_path: 'ssm:/ami-builder/x509-key',
          user_data_file: 's3://certs/user-data.sh',
        },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    expect(result.template).toEqual(template);
    expect(result.staged).toEqual([]);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('stages a file referenced twice once', async () => {
    // Prepare
    const template = {
      builders: [
        { type: 'amazon-instance', name: 'a', x509_cert_path: 'cert.pem', x509_key_path: 'key.pem' },
        { type: 'amazon-instance', name: 'b', x509_cert_path: './cert.pem', x509_key_path: 'key.pem' },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    expect(result.staged).toHaveLength(2);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(2);
  });

  it('stages the files of per-build override blocks for the builds being built', async () => {
    // Prepare
    await writeFile(join(dir, 'web.sh'), 'WEB');
    await writeFile(join(dir, 'db.sh'), 'DB');
    const template = {
      builders: [
        { type: 'amazon-instance', name: 'web', x509_cert_path: 's3://c/c', x509_key_path: 's3://c/k' },
      ],
      provisioners: [
        { type: 'shell', inline: ['true'], override: { web: { script: 'web.sh' }, db: { script: 'db.sh' } } },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    const provisioner = (result.template as typeof template).provisioners[0]!;
    expect(provisioner.override.web.script).toBe(uriOf('WEB', 'web.sh'));
    expect(provisioner.override.db.script).toBe('db.sh');
  });

  it('skips the builders excluded by only/except and builders of other types', async () => {
    // Prepare
    const template = {
      builders: [
        { type: 'amazon-instance', name: 'web', x509_cert_path: 'cert.pem', x509_key_path: 'key.pem' },
        { type: 'amazon-instance', name: 'db', x509_cert_path: 'missing.pem', x509_key_path: 'missing.pem' },
        { type: 'docker', user_data_file: 'missing.sh' },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options({ only: ['web'] }));

    // Assess
    const builders = (result.template as typeof template).builders;
    expect(builders[0]!.x509_cert_path).toBe(uriOf('CERT', 'cert.pem'));
    expect(builders[1]!.x509_cert_path).toBe('missing.pem');
    expect(builders[2]).toEqual({ type: 'docker', user_data_file: 'missing.sh' });
  });

  it('stages the template inside the { template, vars } wrapper, also when given as JSON text', async () => {
    // Prepare
    const inner = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 'cert.pem', x509_key_path: 's3://c/k' }],
    };
    const wrapper = { template: JSON.stringify(inner), vars: { a: 'b' } };

    // Act
    const result = await stageTemplateFiles(wrapper, options());

    // Assess
    expect(result.template).toEqual({
      template: {
        builders: [
          { type: 'amazon-instance', x509_cert_path: uriOf('CERT', 'cert.pem'), x509_key_path: 's3://c/k' },
        ],
      },
      vars: { a: 'b' },
    });
  });

  it('stages the bare builder form', async () => {
    // Act
    const result = await stageTemplateFiles(
      { type: 'amazon-instance', x509_cert_path: 'cert.pem', x509_key_path: 'key.pem' },
      options(),
    );

    // Assess
    expect(result.template).toMatchObject({ x509_cert_path: uriOf('CERT', 'cert.pem') });
  });

  it('stages a directory source as a folder, keeping Packer’s trailing-slash meaning', async () => {
    // Prepare
    await mkdir(join(dir, 'conf', 'sub'), { recursive: true });
    await writeFile(join(dir, 'conf', 'a.conf'), 'A');
    await writeFile(join(dir, 'conf', 'sub', 'b.conf'), 'B');
    const template = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 's3://c/c', x509_key_path: 's3://c/k' }],
      provisioners: [
        { type: 'file', source: 'conf', destination: '/etc/app' },
        { type: 'file', source: 'conf/', destination: '/etc/app' },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    const [whole, contents] = (result.template as typeof template).provisioners;
    expect(whole!.source).toMatch(new RegExp(`^s3://${BUCKET}/staging/${PREFIX}/files/[0-9a-f]{12}/$`));
    expect(contents!.source).toBe(`${whole!.source}conf/`);
    expect(Object.keys(uploads()).sort()).toEqual(
      [
        `${whole!.source.slice(`s3://${BUCKET}/`.length)}conf/a.conf`,
        `${whole!.source.slice(`s3://${BUCKET}/`.length)}conf/sub/b.conf`,
      ].sort(),
    );
  });

  it('stages the directories of chef-solo and salt-masterless as prefixes of their contents, layout intact', async () => {
    // Prepare
    await mkdir(join(dir, 'cookbooks', 'web', 'recipes'), { recursive: true });
    await writeFile(join(dir, 'cookbooks', 'web', 'recipes', 'default.rb'), 'log "hi"');
    await mkdir(join(dir, 'salt', 'web'), { recursive: true });
    await writeFile(join(dir, 'salt', 'web', 'init.sls'), 'x: {}');
    const template = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 's3://c/c', x509_key_path: 's3://c/k' }],
      provisioners: [
        { type: 'chef-solo', cookbook_paths: ['cookbooks', 's3://team/cookbooks/'], config_template: 'motd' },
        { type: 'chef-solo', cookbook_paths: 'cookbooks' },
        { type: 'salt-masterless', local_state_tree: 'salt', grains_file: 'motd' },
      ],
    };

    // Act
    const result = await stageTemplateFiles(template, options());

    // Assess
    const [chef, chefCsv, salt] = (result.template as { provisioners: Record<string, unknown>[] })
      .provisioners;
    const cookbooks = (chef!.cookbook_paths as string[])[0]!;
    expect(cookbooks).toMatch(new RegExp(`^s3://${BUCKET}/staging/${PREFIX}/files/[0-9a-f]{12}/cookbooks/$`));
    expect((chef!.cookbook_paths as string[])[1]).toBe('s3://team/cookbooks/');
    expect(chef!.config_template).toBe(uriOf('MOTD', 'motd'));
    expect(chefCsv!.cookbook_paths).toEqual([cookbooks]);
    expect(salt!.local_state_tree).toMatch(/\/salt\/$/);
    expect(salt!.grains_file).toBe(uriOf('MOTD', 'motd'));
    expect(Object.keys(uploads())).toContain(
      `${cookbooks.slice(`s3://${BUCKET}/`.length)}web/recipes/default.rb`,
    );
    expect(Object.keys(uploads())).toContain(
      `${(salt!.local_state_tree as string).slice(`s3://${BUCKET}/`.length)}web/init.sls`,
    );
  });

  it('fails when a chef-solo or salt-masterless directory is a file, or a file a directory', async () => {
    // Prepare
    await mkdir(join(dir, 'minion.d'));
    const template = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 's3://c/c', x509_key_path: 's3://c/k' }],
      provisioners: [
        { type: 'chef-solo', cookbook_paths: ['motd'] },
        { type: 'salt-masterless', local_state_tree: 'gone', minion_config: 'minion.d' },
      ],
    };

    // Act
    const error = await stageTemplateFiles(template, options()).catch((e: unknown) => e);

    // Assess
    expect((error as TemplateValidationError).problems).toEqual([
      "Bad cookbook path 'motd': stat motd: not a directory",
      "local_state_tree: path 'gone' is invalid: stat gone: no such file or directory",
      "minion_config: path 'minion.d' is invalid: minion.d is a directory, not a file",
    ]);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fails with Packer’s messages for every unreadable file, before uploading anything', async () => {
    // Prepare
    const template = {
      builders: [
        {
          type: 'amazon-instance',
          x509_cert_path: 'nope.pem',
          x509_key_path: 'key.pem',
          user_data_file: 'nope.sh',
        },
      ],
      provisioners: [
        { type: 'shell', scripts: ['install.sh', 'gone.sh'] },
        { type: 'file', sources: ['gone.txt'], destination: '/tmp' },
      ],
    };

    // Act
    const error = await stageTemplateFiles(template, options()).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect((error as TemplateValidationError).problems).toEqual([
      'x509_cert_path points to bad file: stat nope.pem: no such file or directory',
      'user_data_file not found: nope.sh',
      "Bad script 'gone.sh': stat gone.sh: no such file or directory",
      "Bad source 'gone.txt': stat gone.txt: no such file or directory",
    ]);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fails when an X.509 path is a directory', async () => {
    // Prepare
    await mkdir(join(dir, 'certs'));
    const template = {
      builders: [{ type: 'amazon-instance', x509_cert_path: 'certs', x509_key_path: 'key.pem' }],
    };

    // Act
    const error = await stageTemplateFiles(template, options()).catch((e: unknown) => e);

    // Assess
    expect((error as TemplateValidationError).problems).toEqual([
      'x509_cert_path points to bad file: certs is a directory, not a file',
    ]);
  });
});
