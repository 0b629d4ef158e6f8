import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { goJson, ManifestError, readManifest, writeManifest } from '../../cli/manifest.js';
import { writeBuildManifests } from '../../cli/outcome.js';
import { makeConfig } from '../lambdas/fixtures.js';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manifest-'));
  path = join(dir, 'packer-manifest.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const RUN_1 = '5f2c9a4e-7b1d-4c2e-9f00-0a1b2c3d4e5f';
const RUN_2 = '0d9e8f7a-6b5c-4d3e-8f21-9a8b7c6d5e4f';

const web = { name: 'web', artifactId: 'us-east-1:ami-0def,us-west-2:ami-0fed', buildTime: 1752570842 };

describe('writeManifest', () => {
  it('writes a new file byte for byte as Packer does', async () => {
    // Act
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Assess
    const text = await readFile(path, 'utf8');
    expect(text).toBe(
      [
        '{',
        '  "builds": [',
        '    {',
        '      "name": "web",',
        '      "builder_type": "amazon-instance",',
        '      "build_time": 1752570842,',
        '      "files": null,',
        '      "artifact_id": "us-east-1:ami-0def,us-west-2:ami-0fed",',
        `      "packer_run_uuid": "${RUN_1}",`,
        '      "custom_data": null',
        '    }',
        '  ],',
        `  "last_run_uuid": "${RUN_1}"`,
        '}',
      ].join('\n'),
    );
  });

  it('appends builds of the same run', async () => {
    // Prepare
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Act
    await writeManifest(path, {
      runUuid: RUN_1,
      builds: [{ ...web, name: 'db', artifactId: 'us-east-1:ami-0db' }],
    });

    // Assess
    const manifest = await readManifest(path);
    expect(manifest.builds.map((b) => [b.name, b.packer_run_uuid])).toEqual([
      ['web', RUN_1],
      ['db', RUN_1],
    ]);
    expect(manifest.last_run_uuid).toBe(RUN_1);
  });

  it('appends the builds of a new run and records it as the last run', async () => {
    // Prepare
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Act
    await writeManifest(path, { runUuid: RUN_2, builds: [web] });

    // Assess
    const manifest = await readManifest(path);
    expect(manifest.builds.map((b) => b.packer_run_uuid)).toEqual([RUN_1, RUN_2]);
    expect(manifest.last_run_uuid).toBe(RUN_2);
  });

  it('starts afresh with force when the file is another run’s, but not for the same run', async () => {
    // Prepare
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Act
    await writeManifest(path, { runUuid: RUN_2, builds: [web], force: true });
    await writeManifest(path, { runUuid: RUN_2, builds: [{ ...web, name: 'db' }], force: true });

    // Assess
    const manifest = await readManifest(path);
    expect(manifest.builds.map((b) => [b.name, b.packer_run_uuid])).toEqual([
      ['web', RUN_2],
      ['db', RUN_2],
    ]);
  });

  it('leaves build_time out with strip_time and records custom_data with sorted keys', async () => {
    // Act
    await writeManifest(path, {
      runUuid: RUN_1,
      builds: [{ ...web, customData: { team: 'web', env: 'prod' } }],
      stripTime: true,
    });

    // Assess
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('build_time');
    expect(text).toContain('"custom_data": {\n        "env": "prod",\n        "team": "web"\n      }');
  });

  it('keeps existing entries in Packer’s shape, dropping fields Packer does not know', async () => {
    // Prepare
    await writeFile(
      path,
      JSON.stringify({
        builds: [
          {
            name: 'old',
            builder_type: 'amazon-ebs',
            build_time: 1,
            files: [{ name: 'a.box', size: 3 }],
            artifact_id: 'us-east-1:ami-0old',
            packer_run_uuid: 'r0',
            custom_data: null,
            extra: true,
          },
        ],
        last_run_uuid: 'r0',
      }),
    );

    // Act
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Assess
    const manifest = JSON.parse(await readFile(path, 'utf8')) as { builds: Record<string, unknown>[] };
    expect(Object.keys(manifest.builds[0]!)).toEqual([
      'name',
      'builder_type',
      'build_time',
      'files',
      'artifact_id',
      'packer_run_uuid',
      'custom_data',
    ]);
    expect(manifest.builds[0]!.files).toEqual([{ name: 'a.box', size: 3 }]);
  });

  it('removes its lock file when done', async () => {
    // Act
    await writeManifest(path, { runUuid: RUN_1, builds: [web] });

    // Assess
    await expect(readFile(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails when another writer holds the lock, and leaves that lock alone', async () => {
    // Prepare
    await writeFile(`${path}.lock`, '');
    const waits: number[] = [];

    // Act
    const error = await writeManifest(path, {
      runUuid: RUN_1,
      builds: [web],
      sleep: async (ms) => {
        waits.push(ms);
      },
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain('Remove the lock file if no build is running');
    expect(waits).toEqual([0, 200, 400]);
    expect(await readFile(`${path}.lock`, 'utf8')).toBe('');
  });

  it('fails with Packer’s message when the file is not JSON', async () => {
    // Prepare
    await writeFile(path, '{ not json');

    // Act
    const error = await writeManifest(path, { runUuid: RUN_1, builds: [web] }).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toMatch(/^Unable to parse content from .*packer-manifest\.json: /);
  });
});

describe('writeBuildManifests', () => {
  it('records an unchanged build (skip_if_unchanged) with its AMIs and custom_data saying unchanged', async () => {
    // Prepare
    const output = {
      builds: [
        {
          name: 'amazon-instance',
          status: 'unchanged' as const,
          artifacts: { 'us-east-1': 'ami-0old' },
          artifactId: 'us-east-1:ami-0old',
          warnings: [],
          timings: { finished: '2025-07-15T09:14:02.000Z' },
        },
      ],
    };
    const config = makeConfig({
      postProcessors: {
        manifest: {
          type: 'manifest',
          output: path,
          stripPath: false,
          stripTime: false,
          customData: { team: 'web' },
        },
      },
    });

    // Act
    await writeBuildManifests(output, [config], { cwd: dir, now: new Date(), runUuid: RUN_1 });

    // Assess
    const written = JSON.parse(await readFile(path, 'utf8'));
    expect(written.builds).toEqual([
      expect.objectContaining({
        name: 'amazon-instance',
        artifact_id: 'us-east-1:ami-0old',
        custom_data: { ami_builder_status: 'unchanged', team: 'web' },
      }),
    ]);
  });
});

describe('goJson', () => {
  it('escapes <, > and & as Go’s encoder does', () => {
    expect(goJson({ a: '<b>&' })).toBe('{\n  "a": "\\u003cb\\u003e\\u0026"\n}');
  });
});
