/** Error texts that say what to do next: unreadable templates, and the AWS SDK's set-up errors. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeRunError } from '../../cli/hints.js';
import { main } from '../../cli/main.js';
import { packageVersion } from '../../cli/version.js';
import { captureIo } from './execution-fakes.js';

describe('error hints', () => {
  it('says which template file is missing, once, instead of ENOENT', async () => {
    // Prepare
    const io = captureIo(mkdtempSync(`${tmpdir()}/hints-`));

    // Act
    const code = await main(['validate', 'nothere.json'], io);

    // Assess
    expect(code).toBe(1);
    expect(io.stderr).toHaveLength(1);
    expect(io.stderr[0]).toMatch(
      /^template file not found: nothere\.json \(relative paths start from .+\): check the path$/,
    );
    expect(io.text()).not.toContain('ENOENT');
  });

  it('turns "Region is missing" into one Error with the --region / AWS_REGION hint', () => {
    // Act
    const text = describeRunError(Object.assign(new Error('Region is missing'), { name: 'Error' }));

    // Assess
    expect(text).toBe(
      'Error: no AWS region is configured: pass --region R, or set AWS_REGION (or a region in your AWS profile)',
    );
    expect(describeRunError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))).toBe(
      'Error: ThrottlingException: Rate exceeded',
    );
    expect(describeRunError(new Error('boom'))).toBe('Error: boom');
  });
});

describe('ami-builder version', () => {
  it('prints the package version for version, --version and -v', async () => {
    // Prepare
    const runs = ['version', '--version', '-v'].map(async (arg) => {
      const io = captureIo(tmpdir());
      return { code: await main([arg], io), out: io.stdout };
    });

    // Act
    const results = await Promise.all(runs);

    // Assess
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.out).toEqual([`ami-builder v${packageVersion()}`]);
    }
  });

  it('explains a Packer flag that has no meaning here instead of refusing it', async () => {
    // Prepare
    const io = captureIo(process.cwd());

    // Act
    const code = await main(['validate', '-force', '-on-error=abort', 'examples/basic.json'], io);

    // Assess
    expect(code).toBe(0);
    expect(io.stderr).toContain(
      "Note: Packer's -force has no effect here: it applies to `ami-builder build` and `local` (force_deregister).",
    );
    expect(io.text()).not.toContain('flag provided but not defined');
  });
});
