import { describe, expect, it } from 'vitest';
import { builder, cli, config, problems } from './helpers.js';

const withTest = (amiTest: unknown, changes: Record<string, unknown> = {}) => ({
  builders: [builder({ ami_test: amiTest, ...changes })],
});

describe('ami_test', () => {
  it('is absent unless the builder has it', () => {
    expect(config({ builders: [builder()] }).amiTest).toBeUndefined();
  });

  it("decodes the commands as a shell provisioner's, with the test's defaults", () => {
    // Act
    const result = config(withTest({ inline: ['test -f /etc/motd'], environment_vars: ["A=it's"] }));

    // Assess
    expect(result.amiTest).toEqual({
      commands: {
        type: 'shell',
        index: -1,
        name: 'ami_test',
        inline: ['test -f /etc/motd'],
        scripts: [],
        environmentVars: [{ name: 'A', value: "it's" }],
        executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
        inlineShebang: '/bin/sh -e',
        remoteFolder: '/tmp',
        validExitCodes: [0],
        maxRetries: 0,
        timeoutSeconds: 7200,
        pauseBeforeSeconds: 0,
      },
      instanceType: 'm3.medium',
      onFailure: 'deregister',
    });
  });

  it('reads scripts, timeout (default: command_timeout), instance_type and on_failure, and renders user variables', () => {
    // Act
    const result = config({
      variables: { suite: 'smoke' },
      builders: [
        builder({
          command_timeout: '30m',
          ami_test: {
            scripts: ['s3://tests-bucket/{{user `suite`}}.sh'],
            instance_type: 'c3.large',
            on_failure: 'keep',
          },
        }),
      ],
    });

    // Assess
    expect(result.amiTest).toMatchObject({
      commands: {
        scripts: [{ kind: 's3', bucket: 'tests-bucket', key: 'smoke.sh', uri: 's3://tests-bucket/smoke.sh' }],
        timeoutSeconds: 1800,
      },
      instanceType: 'c3.large',
      onFailure: 'keep',
    });
    expect(config(withTest({ inline: ['true'], timeout: '90s' })).amiTest?.commands.timeoutSeconds).toBe(90);
  });

  it('accepts a local script only in the CLI, which stages it', () => {
    expect(problems(withTest({ script: './test.sh' })).join('\n')).toMatch(
      /ami_test: script: "\.\/test\.sh" is a local path/,
    );
    expect(
      config(withTest({ script: './test.sh' }), { ...cli, checkLocalFile: () => undefined }).amiTest?.commands
        .scripts,
    ).toEqual([{ kind: 'local', path: './test.sh', uri: './test.sh' }]);
  });

  it('lists every problem: shell rules, unknown keys, on_failure, and a type that cannot boot the instance-store AMI', () => {
    // Act
    const found = problems(
      withTest({
        inline: ['true'],
        scripts: ['s3://tests-bucket/a.sh'],
        environment_vars: ['NOEQUALS'],
        on_failure: 'maybe',
        valid_exit_codes: [1],
        instance_type: 't3.micro',
      }),
    );

    // Assess
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ami_test: unknown configuration key: '"valid_exit_codes"'/),
        expect.stringMatching(/ami_test\.on_failure: "maybe" is not allowed; allowed: "deregister", "keep"/),
        expect.stringMatching(/Only a script file or an inline script can be specified, not both/),
        expect.stringMatching(/Environment variable not in format 'key=value': NOEQUALS/),
        expect.stringMatching(
          /ami_test: ami_test: the new AMI is instance-store-backed.*ami_test\.instance_type "t3\.micro" is of family T3/,
        ),
      ]),
    );
  });

  it('refuses a missing command and a build instance_type it would default to that cannot boot the AMI', () => {
    expect(problems(withTest({})).join('\n')).toContain(
      'Either a script file or inline script must be specified.',
    );
    expect(problems(withTest({ inline: ['true'] }, { instance_type: 't2.micro' })).join('\n')).toMatch(
      /the build's instance_type "t2\.micro" is of family T2\. Set ami_test\.instance_type/,
    );
  });
});
