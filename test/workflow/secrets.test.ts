/**
 * No secret travels through the workflow: neither the caller's credentials, nor credentials written in the
 * template, nor the X.509 private key appear in any state's input or output, or in any SSM command parameter.
 * Nothing the project writes shows a sensitive value: neither the Lambda logs of a whole build, nor its result,
 * nor the CLI's output, with `sensitive-variables` used where tasks log (tags, run_tags, ami_description, the
 * bundle commands, a shell provisioner's environment_vars).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalEventLog } from '../../cli/progress/events.js';
import { StateNames } from '../../infra/state-names.js';
import { setTelemetrySink } from '../../lambdas/shared/observability.js';
import { BUILD_REGION, basicExample, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'ami-builder.mjs');

/** The caller's (fake) credentials: the handlers sign every emulator request with them. */
const CALLER = {
  AWS_ACCESS_KEY_ID: 'AKIAWFSECRETCALLER01',
  AWS_SECRET_ACCESS_KEY: 'wf/CallerSecretAccessKey+DoNotLeak0000001',
  AWS_SESSION_TOKEN: 'wfCallerSessionTokenDoNotLeak00000000000001',
};
/** Credentials written in the template, as Packer users do: accepted, dropped, never shown. */
const TEMPLATE_SECRETS = {
  access_key: 'AKIAWFSECRETTEMPLATE',
  secret_key: 'wf/TemplateSecretKey+DoNotLeak00000000000001',
  token: 'wfTemplateSessionTokenDoNotLeak000000000001',
};

beforeAll(() => {
  // Set before the first run loads the handlers, so that their clients resolve these credentials.
  Object.assign(process.env, CALLER);
});

/**
 * The events with the execution's own input removed: the template as given is the execution's input (Step
 * Functions records it as such); the tier checks that nothing after Validate Template carries it on.
 */
function withoutExecutionInput(events: LocalEventLog[]): unknown[] {
  return events.map((event) => {
    if (event.type === 'ExecutionStarted') return { ...event, input: undefined };
    if (event.state?.name === StateNames.ValidateTemplate) {
      return { ...event, state: { ...event.state, input: undefined } };
    }
    return event;
  });
}

/** An SSM SecureString holding the X.509 key: the task reads it and stages it, never putting it into state. */
// Under the stack's x509ParameterPrefix: the only path whose SecureStrings the tasks may read.
const KEY_PARAMETER = '/ami-builder/x509/workflow-test-key';

describe('secrets', () => {
  for (const keySource of ['s3', 'ssm'] as const) {
    it(`appear in no state input or output and no command parameter of a whole build (key from ${keySource})`, async () => {
      // Prepare
      const h = harness();
      let keyPath = h.x509.keyUri;
      if (keySource === 'ssm') {
        await h
          .ssm(BUILD_REGION)
          .send(new PutParameterCommand({ Name: KEY_PARAMETER, Type: 'SecureString', Value: h.x509.keyPem }));
        keyPath = `ssm:${KEY_PARAMETER}`;
      }
      const template = {
        builders: [
          {
            ...basicExample(h.x509),
            x509_key_path: keyPath,
            ...TEMPLATE_SECRETS,
            ami_regions: ['eu-west-1'],
          },
        ],
        provisioners: [
          { type: 'shell', inline: ['echo provisioning'] },
          { type: 'file', content: 'not secret', destination: '/etc/ami-builder-note' },
        ],
      };
      const needles = [
        ...Object.values(CALLER),
        ...Object.values(TEMPLATE_SECRETS),
        ...h.x509.keyBodyLines,
        'PRIVATE KEY',
      ];

      // Act
      const result = await h.run(template, { label: 'secrets' });

      // Assess
      expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
        status: 'SUCCEEDED',
        error: undefined,
        cause: undefined,
      });
      const executionInput = JSON.stringify(result.events.find((e) => e.type === 'ExecutionStarted'));
      expect(executionInput).toContain(TEMPLATE_SECRETS.secret_key); // the search below can find it
      const events = JSON.stringify(withoutExecutionInput(result.events));
      const commands = await h.emulator.commands();
      expect(commands.length).toBeGreaterThanOrEqual(5);
      const parameters = JSON.stringify(commands.map((c) => c.parameters));
      const scripts = JSON.stringify(commands.map((c) => c.staged?.runScript));
      for (const needle of needles) {
        expect(events.includes(needle), `event log contains ${JSON.stringify(needle)}`).toBe(false);
        expect(parameters.includes(needle), `command parameters contain ${JSON.stringify(needle)}`).toBe(
          false,
        );
        expect(scripts.includes(needle), `run.sh scripts contain ${JSON.stringify(needle)}`).toBe(false);
      }
      expect(events.includes('BEGIN'), 'event log contains a PEM BEGIN marker').toBe(false);
      expect(parameters.includes('BEGIN'), 'command parameters contain a PEM BEGIN marker').toBe(false);
      // The template's credentials were dropped with a warning that names the keys, not the values.
      expect(result.output?.warnings?.join('\n')).toMatch(/secret_key/);
      const x509Files = commands.find((c) => c.staged?.prefix.endsWith('/02-x509/'))?.staged?.keys ?? [];
      expect(x509Files.map((k) => k.split('/').at(-1))).toEqual(['cert.pem', 'key.pem', 'run.sh']);
    });
  }
});

/** Sensitive variables, each used where a task or the CLI writes it. */
const SENSITIVE = {
  tag_secret: 'sv-TagSecretValue-0001',
  run_tag_secret: 'sv-RunTagSecretValue-0002',
  description_secret: 'sv-DescriptionSecretValue-0003',
  bundle_secret: 'sv-BundleSecretValue-0004',
  env_secret: 'sv-EnvSecretValue-0005',
};

/** A template that puts every value of {@link SENSITIVE} where it gets logged. */
function sensitiveTemplate(builder: Record<string, unknown>): Record<string, unknown> {
  return {
    variables: Object.fromEntries(Object.keys(SENSITIVE).map((name) => [name, ''])),
    'sensitive-variables': Object.keys(SENSITIVE),
    builders: [
      {
        ...builder,
        tags: { Secret: '{{user `tag_secret`}}', Name: 'secret-scan' },
        run_tags: { Owner: 'owner-{{user `run_tag_secret`}}' },
        ami_description: 'Built with {{user `description_secret`}}',
        bundle_vol_command:
          'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/*,/opt/{{user `bundle_secret`}} -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
      },
    ],
    provisioners: [
      {
        type: 'shell',
        environment_vars: ['SCAN_SECRET={{user `env_secret`}}'],
        inline: ['echo "the secret is $SCAN_SECRET"'],
      },
    ],
  };
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

/** Every string in a parsed JSON value (log line or EMF record), escapes decoded. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [key, ...stringsOf(item)]);
  }
  return [];
}

/** The `message` of each JSON log line among `lines` (EMF records have none). */
function messagesOf(lines: readonly string[]): unknown[] {
  return lines
    .map((line) => (JSON.parse(line) as { message?: unknown }).message)
    .filter((m) => m !== undefined);
}

describe('sensitive values', () => {
  it('appear in no Lambda log line and no build result of a whole build', async () => {
    // Prepare
    const h = harness();
    // The handlers log JSON lines (and EMF records) through the telemetry sink; anything else would reach the
    // console.
    const spies = CONSOLE_METHODS.map((name) => vi.spyOn(console, name).mockImplementation(() => undefined));
    for (const spy of spies) spy.mockClear();
    const lines: string[] = [];
    const restoreSink = setTelemetrySink((line) => lines.push(line));
    const template = sensitiveTemplate(basicExample(h.x509));

    // Act
    const result = await h
      .run({ template, vars: SENSITIVE }, { label: 'sensitive' })
      .finally(() => restoreSink());

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const consoleLines = spies.flatMap((spy) => spy.mock.calls.map((args) => format(...args)));
    // Searched as written and with JSON escapes decoded.
    const decoded = lines.flatMap((line) => stringsOf(JSON.parse(line)));
    const written = [...consoleLines, ...lines, ...decoded, JSON.stringify(result.output)].join('\n');
    // The search can find them: the tag was logged, masked.
    expect(messagesOf(lines)).toContain('Adding tag: "Secret": "<sensitive>"');
    for (const value of [...Object.values(SENSITIVE), ...Object.values(CALLER)]) {
      expect(written.includes(value), `the Lambda logs or the result contain ${value}`).toBe(false);
    }
    const images = await h.images(BUILD_REGION);
    expect(images.find((i) => i.Tags?.some((t) => t.Key === 'Name'))?.Tags).toContainEqual({
      Key: 'Secret',
      Value: SENSITIVE.tag_secret,
    });
  });

  it('appear nowhere in the output of ami-builder local -debug', async () => {
    // Prepare
    const h = harness();
    const dir = await mkdtemp(join(tmpdir(), 'ami-builder-secrets-'));
    await writeFile(join(dir, 'cert.pem'), h.x509.certPem);
    await writeFile(join(dir, 'key.pem'), h.x509.keyPem);
    const template = sensitiveTemplate({
      ...basicExample(h.x509),
      x509_cert_path: '{{template_dir}}/cert.pem',
      x509_key_path: '{{template_dir}}/key.pem',
    });
    await writeFile(join(dir, 'template.json'), JSON.stringify(template));
    const vars = Object.entries(SENSITIVE).flatMap(([k, v]) => ['-var', `${k}=${v}`]);
    // The child starts its own emulator: none of this process's emulator settings go with it.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_ENDPOINT_URL')),
    );

    // Act
    const run = await new Promise<{ code: number; output: string }>((done) => {
      execFile(
        process.execPath,
        [CLI, 'local', '-debug', ...vars, join(dir, 'template.json')],
        { cwd: ROOT, env: { ...env, ...CALLER }, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          done({ code: error === null ? 0 : Number(error.code ?? 1), output: `${stdout}\n${stderr}` });
        },
      );
    }).finally(() => rm(dir, { recursive: true, force: true }));

    // Assess
    expect(run.code, run.output.slice(-3000)).toBe(0);
    // The search can find them: with -debug the tag line (a JSON log line) and each command's script are printed,
    // masked.
    const lambdaLines = run.output
      .split('\n')
      .flatMap((line) => (line.startsWith('[lambda] {') ? [line.slice('[lambda] '.length)] : []));
    expect(messagesOf(lambdaLines)).toContain('Adding tag: "Secret": "<sensitive>"');
    // Searched as written and with the log lines' JSON escapes decoded.
    const written = [run.output, ...lambdaLines.flatMap((line) => stringsOf(JSON.parse(line)))].join('\n');
    for (const value of [...Object.values(SENSITIVE), ...Object.values(CALLER), ...h.x509.keyBodyLines]) {
      expect(written.includes(value), `the CLI output contains ${value}`).toBe(false);
    }
  });
});
