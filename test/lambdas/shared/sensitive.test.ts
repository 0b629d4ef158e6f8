import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProvisionerFailedError } from '../../../lambdas/shared/errors.js';
import { logInfo, setTelemetrySink } from '../../../lambdas/shared/observability.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import {
  credentialValues,
  currentMasker,
  locateSensitive,
  MASK,
  Masker,
  maskerFor,
  sensitiveValues,
} from '../../../lambdas/shared/sensitive.js';
import { validateTemplate } from '../../../lambdas/shared/template/validate.js';
import { makeConfig } from '../fixtures.js';
import { BASE, workflow } from './template/helpers.js';

const SECRET = 'hunter2-TagValue';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Masker', () => {
  it('masks a value as written, inside JSON and inside single shell quotes', () => {
    // Prepare
    const masker = new Masker([`it's "${SECRET}"`]);

    // Act
    const lines = [
      `Adding tag: "Team": "it's "${SECRET}""`,
      JSON.stringify({ value: `it's "${SECRET}"` }),
      `export X='it'\\''s "${SECRET}"'`,
    ].map((line) => masker.mask(line));

    // Assess
    expect(lines).toEqual([`Adding tag: "Team": "${MASK}"`, `{"value":"${MASK}"}`, `export X='${MASK}'`]);
  });

  it('masks the longer of two overlapping values whole, and never values under 3 characters', () => {
    // Prepare
    const masker = new Masker(['abcdef', 'abcdefghij', 'ab']);

    // Act
    const masked = masker.mask('abcdefghij abcdef ab');

    // Assess
    expect(masked).toBe(`${MASK} ${MASK} ab`);
  });

  it('masks PEM private keys, whole or cut off, without being told their content', () => {
    // Prepare
    const masker = new Masker();
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----';

    // Act
    const whole = masker.mask(`key: ${key} done`);
    const tail = masker.mask('last lines: -----BEGIN PRIVATE KEY-----\nMIIEvQ');

    // Assess
    expect(whole).toBe(`key: ${MASK} done`);
    expect(tail).toBe(`last lines: ${MASK}`);
  });

  it('masks every string of a JSON value, keys included, and leaves other values alone', () => {
    // Prepare
    const masker = new Masker([SECRET]);

    // Act
    const masked = masker.maskDeep({ [SECRET]: [SECRET, 3, true, null], nested: { note: `x${SECRET}` } });

    // Assess
    expect(masked).toEqual({ [MASK]: [MASK, 3, true, null], nested: { note: `x${MASK}` } });
  });
});

describe('locateSensitive', () => {
  it('records one location per value the configuration holds, and finds the values again from it', () => {
    // Prepare
    const config = makeConfig({
      tags: { Team: '{{user `team`}}' },
      lateVariables: { team: SECRET },
      amiDescription: `built by ${SECRET}`,
    });

    // Act
    const locations = locateSensitive(config, [SECRET, 'not-in-the-config']);

    // Assess
    expect(locations).toHaveLength(1);
    expect(JSON.stringify(locations)).not.toContain(SECRET);
    expect(sensitiveValues(config, locations)).toEqual([SECRET]);
  });

  it('gives nothing for a location that points nowhere', () => {
    // Act
    const values = sensitiveValues(makeConfig(), [
      { path: ['tags', 'Missing'], start: 0, end: 4 },
      { path: ['amiName'], start: 5, end: 500 },
    ]);

    // Assess
    expect(values).toEqual([]);
  });
});

describe('validation records where sensitive values are', () => {
  it('locates sensitive variables used in tags, run_tags, the description, environment_vars and bundle commands', () => {
    // Prepare
    const names = ['tag', 'run_tag', 'desc', 'env', 'bundle'];
    const values = Object.fromEntries(names.map((n) => [n, `sv-${n}-0123456789`]));
    const input = {
      template: {
        variables: Object.fromEntries(names.map((n) => [n, ''])),
        'sensitive-variables': names,
        builders: [
          {
            ...BASE,
            tags: { Secret: '{{user `tag`}}' },
            run_tags: { Owner: 'x-{{user `run_tag`}}' },
            ami_description: 'Built {{user `desc`}}',
            bundle_vol_command:
              'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/*,/opt/{{user `bundle`}} -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
          },
        ],
        provisioners: [{ type: 'shell', inline: ['true'], environment_vars: ['SECRET={{user `env`}}'] }],
      },
      vars: values,
    };

    // Act
    const config = validateTemplate(input, workflow).builds[0];

    // Assess
    expect(config?.sensitive).toHaveLength(names.length);
    expect(sensitiveValues(config, config?.sensitive ?? []).sort()).toEqual(Object.values(values).sort());
    expect(JSON.stringify(config?.sensitive)).not.toContain('sv-');
  });

  it('records nothing when no sensitive value reaches the configuration', () => {
    // Act
    const config = validateTemplate({ builders: [BASE] }, workflow).builds[0];

    // Assess
    expect(config).not.toHaveProperty('sensitive');
  });
});

describe('a task invocation', () => {
  const config = makeConfig({
    tags: { Secret: '{{user `tag`}}' },
    lateVariables: { tag: SECRET },
    sensitive: [{ path: ['lateVariables', 'tag'], start: 0, end: SECRET.length }],
  });
  const event = { build: { config }, args: {} };

  it('masks the sensitive values of its configuration in each log line', async () => {
    // Prepare
    const lines: string[] = [];
    const restore = setTelemetrySink((line) => lines.push(line));
    const handler = lambdaHandler(async (_event: unknown) => {
      logInfo(`Adding tag: "Secret": "${SECRET}"`);
      return 'done';
    });

    // Act
    await handler(event).finally(restore);

    // Assess
    const messages = lines.map((line) => (JSON.parse(line) as { message?: string }).message);
    expect(messages).toContain(`Adding tag: "Secret": "${MASK}"`);
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('masks them in the message of the error it throws, keeping its name', async () => {
    // Prepare
    const handler = lambdaHandler(async (_event: unknown) => {
      throw new ProvisionerFailedError(`script exited with 1: echo ${SECRET}`);
    });

    // Act
    const error = await handler(event).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ProvisionerFailedError);
    expect((error as Error).message).toBe(`script exited with 1: echo ${MASK}`);
    expect((error as Error).stack).toContain(`echo ${MASK}`);
    expect((error as Error).stack).not.toContain(SECRET);
  });

  it('keeps each concurrent invocation’s own masker', async () => {
    // Prepare
    const other = makeConfig({
      lateVariables: { tag: 'other-secret-value' },
      sensitive: [{ path: ['lateVariables', 'tag'], start: 0, end: 18 }],
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((done) => {
      release = done;
    });
    const handler = lambdaHandler(async (_event: unknown) => {
      await gate;
      return currentMasker().mask(`${SECRET} other-secret-value`);
    });

    // Act
    const results = Promise.all([handler(event), handler({ build: { config: other } })]);
    release();

    // Assess
    expect(await results).toEqual([`${MASK} other-secret-value`, `${SECRET} ${MASK}`]);
  });

  it('masks the process’s own AWS credentials, with or without a configuration', () => {
    // Prepare
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');

    // Act
    const masked = maskerFor({}).mask('signed with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');

    // Assess
    expect(masked).toBe(`signed with ${MASK}`);
    expect(credentialValues({ AWS_ACCESS_KEY_ID: 'testing' })).toEqual([]);
    vi.unstubAllEnvs();
  });
});
