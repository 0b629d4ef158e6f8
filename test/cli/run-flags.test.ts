/**
 * Packer's `packer build` flags on `ami-builder local`, each observed in an offline build run as a user runs it
 * (`node bin/ami-builder.mjs local …` against the emulator), and the live output of a provisioner that prints over
 * several seconds.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'ami-builder.mjs');
const ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const FAIL_BUNDLE =
  '{"type":"command","match":"ec2-bundle-vol","exitCode":127,"stderr":"sudo: ec2-bundle-vol: command not found"}';

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, env: ENV, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'run-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The basic example as a builder named `name`, with the example's X.509 pair by absolute path. */
function builder(name: string): Record<string, unknown> {
  return {
    type: 'amazon-instance',
    name,
    region: 'us-east-1',
    source_ami: 'ami-d9d6a6b0',
    instance_type: 'm1.small',
    account_id: '0123-4567-0890',
    s3_bucket: 'packer-images',
    x509_cert_path: join(ROOT, 'examples', 'x509', 'cert.pem'),
    x509_key_path: join(ROOT, 'examples', 'x509', 'key.pem'),
    ami_name: `flags-${name} {{timestamp}}`,
  };
}

function template(file: string, body: Record<string, unknown>): string {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

describe('Packer flags on an offline build', { timeout: 180_000 }, () => {
  it('-force deregisters same-named AMIs first instead of prevalidating the name', async () => {
    // Act (the basic example also creates the example's X.509 pair the other tests use)
    const run = await cli(['local', '-force', 'examples/basic.json']);

    // Assess
    expect(run.code, run.stdout.slice(-3000) + run.stderr.slice(-3000)).toBe(0);
    expect(run.stdout).toContain(
      '==> amazon-instance: Force Deregister flag found, skipping prevalidating AMI Name',
    );
    expect(run.stdout).toContain(
      '==> amazon-instance: Deregistering existing AMIs with the same name (force_deregister)...',
    );
    expect(run.stdout).not.toContain('Prevalidating AMI Name:');
  });

  it('-on-error=abort keeps the instance and never claims to terminate it', async () => {
    // Act
    const run = await cli(['local', '-on-error=abort', '--fault', FAIL_BUNDLE, 'examples/basic.json']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /==> amazon-instance: Kept instance i-[0-9a-f]+ \(us-east-1\): on_error is abort/,
    );
    expect(run.stdout).not.toContain('Terminating the source AWS instance');
    expect(run.stdout).not.toMatch(/Terminated instance i-/);
  });

  it('-on-error=run-cleanup-provisioner runs the error-cleanup-provisioner, then keeps the instance', async () => {
    // Prepare
    const path = template('cleanup.json', {
      builders: [builder('web')],
      'error-cleanup-provisioner': { type: 'shell', inline: ['echo collecting logs'] },
    });

    // Act
    const withFlag = await cli(['local', '-on-error=run-cleanup-provisioner', '--fault', FAIL_BUNDLE, path]);

    // Assess
    expect(withFlag.code).toBe(1);
    expect(withFlag.stdout).toContain('==> web: Running the error-cleanup-provisioner...');
    expect(withFlag.stdout).toMatch(
      /==> web: Provisioning with shell script: inline commands.*: echo collecting logs/,
    );
    expect(withFlag.stdout).toMatch(
      /==> web: Kept instance i-[0-9a-f]+ \(us-east-1\): on_error is run-cleanup-provisioner/,
    );
    expect(withFlag.stdout).not.toContain('Terminating the source AWS instance');
  });

  it('-parallel-builds=1 runs one build at a time', async () => {
    // Prepare
    const path = template('two.json', { builders: [builder('a'), builder('b')] });

    // Act
    const run = await cli(['local', '-parallel-builds=1', path]);

    // Assess: every line of the build that started first, its instance's output included, comes before the
    // other's first line.
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    const owner = (line: string) => /^(?:==>| {4})(a|b): /.exec(line)?.[1];
    const buildLines = lines
      .map((line, i) => ({ i, build: owner(line), line }))
      .filter(
        (l) =>
          l.build !== undefined &&
          !/Uploaded|Started|Seeded|Allowed|Deployed|Generated|Sandbox mode|Simulated mode/.test(l.line),
      );
    const first = buildLines[0]?.build;
    const switches = buildLines.filter((l, k) => k > 0 && l.build !== buildLines[k - 1]?.build).length;
    expect(first).toBeDefined();
    expect(switches).toBe(1);
    expect(run.stdout).toMatch(/--> a: AMIs were created/);
    expect(run.stdout).toMatch(/--> b: AMIs were created/);
  });
});

describe('live output of ami-builder local', () => {
  it('prints a provisioner’s lines as they are produced, before the command finishes', async (context) => {
    // Prepare: four lines, one second apart.
    const path = template('live.json', {
      builders: [builder('live')],
      provisioners: [
        { type: 'shell', inline: ['for i in 1 2 3 4; do echo "tick $i"; sleep 1; done', 'echo done >&2'] },
      ],
    });
    const arrivals: { text: string; at: number }[] = [];
    const started = Date.now();

    // Act
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'local', path], { cwd: ROOT, env: ENV });
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        for (const text of parts) arrivals.push({ text, at: Date.now() - started });
      });
      child.on('close', (exit) => resolve(exit ?? 1));
    });

    // Assess
    expect(code).toBe(0);
    const ticks = arrivals.filter((a) => /^ {4}live: tick \d$/.test(a.text));
    if (ticks.length === 0) {
      // The emulator answers SSM commands without running them (its simulated mode): nothing is ever written to
      // the command log group, so there is no output to follow.
      context.skip('the emulator runs commands in simulated mode: no command output reaches its log group');
    }
    expect(ticks.map((t) => t.text.trim())).toEqual([
      'live: tick 1',
      'live: tick 2',
      'live: tick 3',
      'live: tick 4',
    ]);
    // Printed while the command ran: spread over the seconds it slept, not all at once at its end.
    expect((ticks[3]?.at ?? 0) - (ticks[0]?.at ?? 0)).toBeGreaterThanOrEqual(1500);
    const finished = arrivals.find((a) => a.text.startsWith("Build 'live' finished"));
    expect(ticks[0]?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(finished?.at ?? 0);
    expect(arrivals.some((a) => a.text === '==> live: done')).toBe(true);
  }, 180_000);
});
