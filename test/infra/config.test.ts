import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, scheduleInput } from '../../infra/config.js';

const template = JSON.stringify({
  builders: [
    {
      type: 'amazon-instance',
      region: 'us-east-1',
      source_ami: 'ami-0123456789abcdef0',
      instance_type: 'm3.medium',
      s3_bucket: 'ami-builder-nightly',
      x509_cert_path: 's3://ami-builder-nightly/x509/cert.pem',
      x509_key_path: 'ssm:/ami-builder/x509/key',
      ami_name: 'nightly-{{timestamp}}',
    },
  ],
});
/** A template only the CLI can build: its X.509 files are local paths. */
const localTemplate = JSON.stringify({
  builders: [
    { ...JSON.parse(template).builders[0], x509_cert_path: 'x509/cert.pem', x509_key_path: 'x509/key.pem' },
  ],
});
const readTemplate = (path: string) => {
  if (path === 'templates/nightly.json') return template;
  if (path === 'templates/local.json') return localTemplate;
  if (path === 'templates/broken.json') return '{ "builders": [';
  if (path === 'templates/list.json') return '[]';
  throw new Error(`ENOENT: no such file, open '${path}'`);
};

function problemsOf(context: Record<string, unknown>): string[] {
  try {
    parseConfig(context, readTemplate);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills every default when the context is empty', () => {
    // Act
    const config = parseConfig({}, readTemplate);

    // Assess
    expect(config).toEqual({
      stackName: 'AmiBuilder',
      allowedBucketPatterns: ['ami-builder-*'],
      extraInstanceProfiles: [],
      schedules: [],
      logRetentionDays: 30,
      stagedObjectExpirationDays: 7,
      executionTimeoutHours: 24,
      notificationEmails: [],
      amiParameterPrefix: '/ami-builder/ami-ids/',
      x509ParameterPrefix: '/ami-builder/x509/',
      adoptForeignImages: false,
      sweepSchedule: 'rate(1 day)',
      sweepGraceMinutes: 60,
      retentionSchedule: 'rate(1 day)',
      logLevel: 'INFO',
    });
  });

  it('reads the retention default, from JSON text too, and lists its problems', () => {
    expect(parseConfig({ retention: '{"keepLatest":3}' }, readTemplate).retention).toEqual({
      keepLatest: 3,
      deleteBundles: true,
    });
    expect(() => parseConfig({ retention: { deleteBundles: false } }, readTemplate)).toThrow(
      'needs keepLatest or keepDays (or both)',
    );
    expect(() => parseConfig({ retentionSchedule: 'daily' }, readTemplate)).toThrow('retentionSchedule');
  });

  it("reads the tasks' log level", () => {
    expect(parseConfig({ logLevel: 'DEBUG' }, readTemplate).logLevel).toBe('DEBUG');
  });

  it('fails when logLevel is not a level the tasks know', () => {
    expect(() => parseConfig({ logLevel: 'verbose' }, readTemplate)).toThrow(
      'logLevel = "verbose": must be one of DEBUG, INFO, WARN, ERROR',
    );
  });

  it('reads adoptForeignImages as a boolean, from JSON text too', () => {
    expect(parseConfig({ adoptForeignImages: 'true' }, readTemplate).adoptForeignImages).toBe(true);
    expect(parseConfig({ adoptForeignImages: false }, readTemplate).adoptForeignImages).toBe(false);
  });

  it('fails when adoptForeignImages is not a boolean', () => {
    expect(() => parseConfig({ adoptForeignImages: 'yes' }, readTemplate)).toThrow(
      'adoptForeignImages = "yes": must be true or false',
    );
  });

  it('reads JSON text for structured values, as `cdk synth -c key=value` passes them', () => {
    // Act
    const config = parseConfig(
      {
        allowedBucketPatterns: '["team-*-amis"]',
        logRetentionDays: '90',
        executionTimeoutHours: '6',
        extraInstanceProfiles: '[{"name":"ci","roleArn":"arn:aws:iam::123456789012:role/ci"}]',
        schedules:
          '[{"name":"nightly","expression":"cron(0 3 * * ? *)","templateFile":"templates/nightly.json"}]',
      },
      readTemplate,
    );

    // Assess
    expect(config.allowedBucketPatterns).toEqual(['team-*-amis']);
    expect(config.logRetentionDays).toBe(90);
    expect(config.executionTimeoutHours).toBe(6);
    expect(config.extraInstanceProfiles).toEqual([
      { name: 'ci', roleArn: 'arn:aws:iam::123456789012:role/ci' },
    ]);
    expect(config.schedules).toEqual([
      {
        name: 'nightly',
        expression: 'cron(0 3 * * ? *)',
        timezone: 'UTC',
        templateFile: 'templates/nightly.json',
        enabled: true,
      },
    ]);
  });

  it('accepts rate and at expressions and IANA time zones', () => {
    // Act
    const config = parseConfig(
      {
        schedules: [
          {
            name: 'hourly',
            expression: 'rate(1 hour)',
            templateFile: 'templates/nightly.json',
            enabled: false,
          },
          {
            name: 'once',
            expression: 'at(2030-01-31T12:00:00)',
            timezone: 'America/New_York',
            templateFile: 'templates/nightly.json',
          },
        ],
      },
      readTemplate,
    );

    // Assess
    expect(config.schedules.map((s) => [s.name, s.timezone, s.enabled])).toEqual([
      ['hourly', 'UTC', false],
      ['once', 'America/New_York', true],
    ]);
  });

  it('fails when the stack name is not a CloudFormation stack name', () => {
    expect(problemsOf({ stackName: '1-builder' })).toEqual([
      expect.stringMatching(/^stackName = "1-builder": must be a CloudFormation stack name/),
    ]);
  });

  it('fails when a bucket pattern matches every bucket or has characters bucket names cannot have', () => {
    expect(problemsOf({ allowedBucketPatterns: ['*', 'My_Bucket'] })).toEqual([
      expect.stringMatching(/^allowedBucketPatterns\.0 = "\*": matches every bucket/),
      expect.stringMatching(/^allowedBucketPatterns\.1 = "My_Bucket": must be a bucket name glob/),
    ]);
  });

  it('fails when no bucket pattern is given', () => {
    expect(problemsOf({ allowedBucketPatterns: [] })).toEqual([
      expect.stringMatching(/^allowedBucketPatterns = \[\]: must name at least one pattern/),
    ]);
  });

  it('fails when a scheduled template names local files, which only the CLI can upload', () => {
    // Prepare
    const schedules = [{ name: 'nightly', expression: 'rate(1 day)', templateFile: 'templates/local.json' }];

    // Act
    const problems = problemsOf({ schedules });

    // Assess
    expect(problems).toEqual([
      expect.stringMatching(
        /^schedules\.0\.templateFile = "templates\/local\.json": is not a template the workflow can build: .*x509_cert_path/,
      ),
    ]);
  });

  it('fails when the log retention is not one CloudWatch Logs offers', () => {
    expect(problemsOf({ logRetentionDays: 31 })).toEqual([
      expect.stringMatching(/^logRetentionDays = 31: must be one of 1, 3, 5, 7, 14, 30, 60/),
    ]);
  });

  it('fails when an extra instance profile has no valid role ARN', () => {
    expect(problemsOf({ extraInstanceProfiles: [{ name: 'ci', roleArn: 'ci-role' }] })).toEqual([
      expect.stringMatching(/^extraInstanceProfiles\.0\.roleArn = "ci-role": must be an IAM role ARN/),
    ]);
  });

  it('fails when an extra instance profile is listed twice', () => {
    const profile = { name: 'ci', roleArn: 'arn:aws:iam::123456789012:role/ci' };
    expect(problemsOf({ extraInstanceProfiles: [profile, profile] })).toEqual([
      'extraInstanceProfiles.1.name = "ci": must be unique; it is listed twice',
    ]);
  });

  it('fails when a schedule expression, time zone or template path is invalid', () => {
    expect(
      problemsOf({
        schedules: [
          { name: 'bad', expression: 'every day', timezone: 'Mars/Olympus', templateFile: '/etc/passwd' },
        ],
      }),
    ).toEqual([
      expect.stringMatching(/^schedules\.0\.expression = "every day": must be cron\(<6 fields>\), rate/),
      expect.stringMatching(/^schedules\.0\.timezone = "Mars\/Olympus": must be an IANA time zone/),
      expect.stringMatching(
        /^schedules\.0\.templateFile = "\/etc\/passwd": must be a path inside the repository/,
      ),
    ]);
  });

  it('fails when a schedule template is missing, not JSON or not an object', () => {
    expect(
      problemsOf({
        schedules: [
          { name: 'a', expression: 'rate(1 day)', templateFile: 'templates/missing.json' },
          { name: 'b', expression: 'rate(1 day)', templateFile: 'templates/broken.json' },
          { name: 'c', expression: 'rate(1 day)', templateFile: 'templates/list.json' },
        ],
      }),
    ).toEqual([
      expect.stringMatching(/^schedules\.0\.templateFile = "templates\/missing.json": ENOENT/),
      expect.stringMatching(/^schedules\.1\.templateFile = "templates\/broken.json": is not valid JSON/),
      'schedules.2.templateFile = "templates/list.json": must hold a JSON object (a Packer template)',
    ]);
  });

  it('fails when two schedules share a name', () => {
    const schedule = { name: 'nightly', expression: 'rate(1 day)', templateFile: 'templates/nightly.json' };
    expect(problemsOf({ schedules: [schedule, schedule] })).toEqual([
      'schedules.1.name = "nightly": must be unique; it is used twice',
    ]);
  });

  it('fails when a parameter prefix does not start and end with a slash, or an email is invalid', () => {
    expect(
      problemsOf({
        amiParameterPrefix: 'ami-builder',
        x509ParameterPrefix: '/x509',
        notificationEmails: ['ops'],
      }),
    ).toEqual([
      expect.stringMatching(/^notificationEmails\.0 = "ops": /),
      expect.stringMatching(/^amiParameterPrefix = "ami-builder": must be an SSM parameter path/),
      expect.stringMatching(/^x509ParameterPrefix = "\/x509": must be an SSM parameter path/),
    ]);
  });

  it('fails with one error that lists every problem', () => {
    // Act
    const act = () =>
      parseConfig({
        stackName: '',
        logRetentionDays: 2,
        stagedObjectExpirationDays: 0,
        executionTimeoutHours: 0.5,
      });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(
      /4 problem\(s\):\n {2}\* stackName = "": .*\n {2}\* logRetentionDays = 2: .*\n {2}\* stagedObjectExpirationDays = 0: .*\n {2}\* executionTimeoutHours = 0.5: /,
    );
  });
});

describe('scheduleInput', () => {
  const schedule = {
    name: 'nightly',
    expression: 'rate(1 day)',
    timezone: 'UTC',
    templateFile: 'templates/nightly.json',
    enabled: true,
  };

  it('is the template itself when the schedule has no variables', () => {
    expect(scheduleInput(schedule, readTemplate)).toEqual(JSON.parse(template));
  });

  it('wraps the template as { template, vars } when the schedule has variables', () => {
    expect(scheduleInput({ ...schedule, vars: { release: '1.2' } }, readTemplate)).toEqual({
      template: JSON.parse(template),
      vars: { release: '1.2' },
    });
  });
});

describe('schedules of HCL2 templates', () => {
  const schedule = {
    name: 'nightly-hcl',
    expression: 'rate(1 day)',
    timezone: 'UTC',
    templateFile: 'examples/nightly.pkr.hcl',
    enabled: true,
  };

  it('starts with the JSON input ami-builder inspect gives, the schedule vars as -var', () => {
    // Act
    const input = scheduleInput({ ...schedule, vars: { release: 'weekly' } });

    // Assess
    const template = input.template as { builders: Record<string, unknown>[] };
    expect(template.builders[0]).toMatchObject({
      name: 'amazon-instance.nightly',
      ami_name: 'weekly-{{isotime `20060102-1504`}}',
      ami_id_parameter: '/ami-builder/weekly/latest',
    });
    expect(input.vars).toEqual({});
  }, 180_000);

  it('checks the converted template as the workflow will', () => {
    // Prepare: an inspector standing for one that converts to a template needing local files.
    const inspect = () => ({ template: JSON.parse(localTemplate) as unknown, vars: {} });

    // Act
    let problems: string[] = [];
    try {
      parseConfig({ schedules: [schedule] }, readTemplate, inspect);
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }

    // Assess
    expect(problems.join('\n')).toMatch(
      /^schedules\.0\.templateFile = "examples\/nightly\.pkr\.hcl": is not a template the workflow can build: /,
    );
  });
});
