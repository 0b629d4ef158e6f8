/**
 * No secret travels through the workflow: neither the caller's credentials, nor credentials written in the
 * template, nor the X.509 private key appear in any state's input or output, or in any SSM command parameter.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalEventLog } from '../../cli/progress/events.js';
import { StateNames } from '../../infra/state-names.js';
import { BUILD_REGION, basicExample, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

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
