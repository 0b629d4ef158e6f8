import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs, TEMPLATE_FLAGS } from '../../cli/args.js';
import type { CliIo } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const root = join(__dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'templates');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-validate-'));
  for (const name of [
    'seed-basic-example.json',
    'multi-builder.json',
    'wrapped.json',
    'vars.json',
    'invalid.json',
  ]) {
    copyFileSync(join(fixtures, name), join(dir, name));
  }
  writeFileSync(join(dir, 'x509.cert'), 'certificate');
  writeFileSync(join(dir, 'x509.key'), 'key');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], options: { cwd?: string; stdin?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: options.cwd ?? dir,
    env: { BUCKET_FROM_ENV: 'env-bundles' },
    readStdin: async () => options.stdin ?? '',
  };
  const code = await main(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('ami-builder validate', () => {
  it("validates the seed's Basic Example, printing the warning and Packer's success line", async () => {
    // Act
    const result = await run(['validate', 'seed-basic-example.json']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        'Template validation succeeded, but there were some warnings.',
        'These are ONLY WARNINGS, and ami-builder will attempt to build the',
        'template despite them, but they should be paid attention to.\n',
        "Warnings for build 'amazon-instance':\n",
        "* access_key, secret_key: credentials in the template are not used; the build runs with the workflow's IAM role and the instance profile. They are dropped from the build configuration and never logged.",
        '',
        'Template validated successfully.',
      ].join('\n'),
    );
  });

  it("fails with Packer's message when a local x509 file is missing", async () => {
    // Prepare
    const elsewhere = mkdtempSync(join(tmpdir(), 'ami-builder-empty-'));

    // Act
    const result = await run(['validate', join(dir, 'seed-basic-example.json')], { cwd: elsewhere });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'Template validation failed. Errors are shown below.\n',
        "Errors validating build 'amazon-instance'. 2 error(s) occurred:",
        '',
        '* x509_cert_path points to bad file: stat x509.cert: no such file or directory',
        '* x509_key_path points to bad file: stat x509.key: no such file or directory',
      ].join('\n'),
    );
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('prints the errors of each build in Packer’s format and exits 1', async () => {
    // Act
    const result = await run(['validate', 'invalid.json']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Errors validating build 'amazon-instance'. 2 error(s) occurred:");
    expect(result.stderr).toContain('* builders[0]: ami_name must be between 3 and 128 characters long');
    expect(result.stderr).toContain('* builders[0].ssh_port: cannot parse "twenty-two" as an integer');
  });

  it('takes -var and -var-file, -var winning, and lists skipped builders', async () => {
    // Act
    const withFile = await run(['validate', '-var-file', 'vars.json', 'multi-builder.json']);
    const withVar = await run([
      'validate',
      '--var-file=vars.json',
      '-var',
      'bucket=flag-bundles',
      '-only',
      'web',
      'multi-builder.json',
    ]);
    const missing = await run(['validate', 'multi-builder.json']);

    // Assess
    expect(withFile.code).toBe(0);
    expect(withFile.stdout).toContain(
      'Skipping build \'amazon-ebs\' (amazon-ebs): builder type "amazon-ebs" is not built here',
    );
    expect(withFile.stdout).toContain('Template validated successfully.');
    expect(withVar.code).toBe(0);
    expect(withVar.stdout).toContain("Skipping build 'worker' (amazon-instance): excluded by only/except");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('* variables: required variable not set: bucket');
  });

  it('checks only the syntax with -syntax-only', async () => {
    // Prepare
    writeFileSync(
      join(dir, 'syntax.json'),
      JSON.stringify({ builders: [{ type: 'amazon-instance', not_a_key: 1 }] }),
    );
    writeFileSync(
      join(dir, 'broken.json'),
      JSON.stringify({ builders: [{ type: 'amazon-instance', ami_name: '{{ if }' }] }),
    );

    // Act
    const ok = await run(['validate', '-syntax-only', 'syntax.json']);
    const broken = await run(['validate', '-syntax-only', 'broken.json']);

    // Assess
    expect([ok.code, ok.stdout]).toEqual([0, 'Syntax-only check passed. Everything looks okay.']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('builders[0].ami_name: template:');
  });

  it('reports JSON syntax errors as Packer does, with the line', async () => {
    // Prepare
    writeFileSync(join(dir, 'bad.json'), '{\n  "type": "amazon-instance",\n  "region" "x"\n}');

    // Act
    const result = await run(['validate', 'bad.json']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^Failed to parse template: Error parsing JSON: .*\nAt line 3, column \d+ \(offset \d+\):/,
    );
  });

  it('reads the template from stdin with -', async () => {
    expect(
      (await run(['validate', '-'], { stdin: JSON.stringify({ builders: [{ type: 'virtualbox-iso' }] }) }))
        .stderr,
    ).toContain(
      'no amazon-instance builder left to build; the template has: virtualbox-iso (virtualbox-iso)',
    );
  });

  it('prints machine-readable lines with -machine-readable', async () => {
    // Act
    const result = await run(['validate', '-machine-readable', 'wrapped.json']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+,,ui,say,Template validated successfully\.$/m);
  });

  it('fails on unknown flags and a missing template, with the usage', async () => {
    // Act
    const unknown = await run(['validate', '-nope', 'x.json']);
    const none = await run(['validate']);

    // Assess
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('flag provided but not defined: -nope');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('Usage: ami-builder validate [options] TEMPLATE');
  });
});

describe('ami-builder', () => {
  it('lists the commands and fails on an unknown one', async () => {
    // Act
    const unknown = await run(['frobnicate']);
    const help = await run(['--help']);

    // Assess
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ami-builder: unknown command "frobnicate"');
    expect(help.code).toBe(0);
    expect(help.stderr).toMatch(/validate\s+check that a template is valid/);
  });

  it('parses Packer-style flags in both - and -- forms', () => {
    // Act
    const parsed = parseArgs(
      ['-var', 'a=1', '--var=b=2', '-only=x,y', '--machine-readable', 't.json'],
      TEMPLATE_FLAGS,
    );

    // Assess
    expect(parsed.values.get('var')).toEqual(['a=1', 'b=2']);
    expect(parsed.values.get('only')).toEqual(['x,y']);
    expect(parsed.booleans.get('machine-readable')).toBe(true);
    expect(parsed.positional).toEqual(['t.json']);
    expect(parsed.errors).toEqual([]);
  });

  it('runs as a child process through bin/ami-builder.mjs', async () => {
    // Act
    const exec = promisify(execFile);
    const ok = await exec(
      process.execPath,
      [join(root, 'bin', 'ami-builder.mjs'), 'validate', 'seed-basic-example.json'],
      { cwd: dir },
    );
    const failed = await exec(
      process.execPath,
      [join(root, 'bin', 'ami-builder.mjs'), 'validate', 'invalid.json'],
      { cwd: dir },
    ).catch((error: { code: number; stderr: string }) => error);

    // Assess
    expect(ok.stdout).toMatch(/Template validated successfully\.\n$/);
    expect('code' in failed ? failed.code : 0).toBe(1);
    expect('stderr' in failed ? failed.stderr : '').toContain(
      'Template validation failed. Errors are shown below.',
    );
  });

  it('starts from the bundle without loading the AWS SDK, the telemetry libraries or compiling TypeScript', async () => {
    // Prepare: a module hook that reports every module the process loads.
    const hook = `data:text/javascript,${encodeURIComponent(
      "export async function load(url, context, next) { process.stderr.write('loaded ' + url + '\\n'); return next(url, context); }",
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(
      `import { register } from 'node:module'; register(${JSON.stringify(hook)});`,
    )}`;

    // Act
    const run = await promisify(execFile)(
      process.execPath,
      ['--import', register, join(root, 'bin', 'ami-builder.mjs'), 'validate', 'seed-basic-example.json'],
      { cwd: dir },
    );

    // Assess
    const loaded = run.stderr
      .split('\n')
      .filter((line) => line.startsWith('loaded '))
      .map((line) => line.slice('loaded '.length));
    expect(loaded.some((url) => url.includes('/dist/quick/'))).toBe(true);
    expect(
      loaded.filter(
        (url) => url.includes('@aws-sdk') || url.includes('@aws-lambda-powertools') || url.endsWith('.ts'),
      ),
    ).toEqual([]);
    expect(loaded.filter((url) => url.includes('/dist/cli/'))).toEqual([]);
  });
});
