import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'ami-builder.mjs');

/** Runs `ami-builder <args>` from the repository root, as `npm run local` does. */
function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        timeout: 280_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('ami-builder local with an HCL2 template', () => {
  it('builds examples/full.pkr.hcl offline: files staged, provisioners in order, the AMI in all four regions', async () => {
    // Act
    const run = await cli(['local', 'examples/full.pkr.hcl']);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Skipping build 'amazon-ebs.web-ebs' (amazon-ebs)");
    expect(run.stdout).toMatch(/ {4}amazon-instance\.web: Uploaded .*examples\/files\/motd to s3:\/\//);
    // Progress lines name the user's own files and commands, never the staged copies.
    const provisioning =
      run.stdout.match(/==> amazon-instance\.web: (Provisioning with .*|Uploading .*motd => .*)/g) ?? [];
    expect(provisioning).toEqual([
      expect.stringMatching(
        /^==> amazon-instance\.web: Provisioning with shell script: inline commands of provisioner 1: /,
      ),
      '==> amazon-instance.web: Provisioning with shell script: examples/scripts/install-ami-tools.sh',
      '==> amazon-instance.web: Uploading examples/files/motd => /tmp/motd',
      expect.stringMatching(
        /^==> amazon-instance\.web: Provisioning with shell script: inline commands of provisioner 4: /,
      ),
    ]);
    const listing = run.stdout.slice(run.stdout.indexOf('--> amazon-instance.web: AMIs were created:'));
    for (const region of ['ap-southeast-2', 'eu-west-1', 'us-east-1', 'us-west-2']) {
      expect(listing).toMatch(new RegExp(`\\n${region}: ami-[0-9a-f]+`));
    }
  }, 300_000);
});
