import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../../../lambdas/shared/errors.js';
import { checkTemplate, validateTemplate } from '../../../../lambdas/shared/template/validate.js';
import { BASE, builder, cli, config, NOW_UNIX, problems, validated, warnings, workflow } from './helpers.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'fixtures', 'templates', name), 'utf8'));

describe("the seed's Basic Example", () => {
  it('validates in the CLI, exactly as printed, with the credential warning', () => {
    // Prepare
    const input = fixture('seed-basic-example.json');

    // Act
    const result = validated(input, cli);

    // Assess
    const [build] = result.builds;
    expect(result.builds).toHaveLength(1);
    expect(build).toMatchObject({
      name: 'amazon-instance',
      region: 'us-east-1',
      sourceAmi: 'ami-d9d6a6b0',
      instanceType: 'm1.small',
      runAsUser: 'ubuntu',
      accountId: '012345670890',
      amiName: `packer-quick-start ${NOW_UNIX}`,
      x509: {
        cert: { kind: 'local', path: 'x509.cert', uri: 'x509.cert' },
        key: { kind: 'local', path: 'x509.key', uri: 'x509.key' },
        uploadPath: '/tmp',
      },
      bundle: { bucket: 'packer-images', keyPrefix: '', destination: '/tmp', prefix: `image-${NOW_UNIX}` },
    });
    expect(result.warnings).toEqual([
      "access_key, secret_key: credentials in the template are not used; the build runs with the workflow's IAM role and the instance profile. They are dropped from the build configuration and never logged.",
    ]);
    expect(JSON.stringify(result)).not.toContain('YOUR KEY HERE');
    expect(JSON.stringify(result)).not.toContain('YOUR SECRET KEY HERE');
  });

  it('fails in the workflow, whose tasks cannot read the local x509 files', () => {
    // Act
    const listed = problems(fixture('seed-basic-example.json'), workflow);

    // Assess
    expect(listed).toEqual([
      'x509_cert_path: "x509.cert" is a local path, but the workflow reads files only from S3 (s3://bucket/key or ssm:/parameter-name); `ami-builder build` uploads local files for you',
      'x509_key_path: "x509.key" is a local path, but the workflow reads files only from S3 (s3://bucket/key or ssm:/parameter-name); `ami-builder build` uploads local files for you',
    ]);
  });

  it('throws a TemplateValidationError whose message is in Packer’s format', () => {
    // Act
    const act = () => validateTemplate(fixture('seed-basic-example.json'), workflow);

    // Assess
    expect(act).toThrow(TemplateValidationError);
    expect(act).toThrow(/^2 error\(s\) occurred:\n\n\* x509_cert_path: /);
  });
});

describe('multi-builder templates', () => {
  const input = fixture('multi-builder.json');
  const options = { ...workflow, vars: { bucket: 'team-bundles' } };

  it('builds the amazon-instance builders and skips the others without validating them', () => {
    // Act
    const result = validated(input, options);

    // Assess
    expect(result.builds.map((b) => b.name)).toEqual(['web', 'worker']);
    expect(result.skipped).toEqual([
      {
        name: 'amazon-ebs',
        type: 'amazon-ebs',
        reason: 'builder type "amazon-ebs" is not built here (only amazon-instance builders are)',
      },
      {
        name: 'virtualbox-iso',
        type: 'virtualbox-iso',
        reason: 'builder type "virtualbox-iso" is not built here (only amazon-instance builders are)',
      },
    ]);
  });

  it('renders early strings and keeps late ones as template text', () => {
    // Act
    const [web] = validated(input, options).builds;

    // Assess
    expect(web?.amiName).toBe(`web 1.0 ${NOW_UNIX}`);
    expect(web?.bundle).toMatchObject({ bucket: 'team-bundles', keyPrefix: 'web' });
    expect(web?.amiDescription).toBe('web from {{.SourceAMIName}}');
    expect(web?.tags).toEqual({ Name: 'web', Source: '{{.SourceAMI}}', Version: '{{user `version`}}' });
    expect(web?.lateVariables).toEqual({ version: '1.0' });
    expect(web?.sourceAmiFilter).toEqual({
      filters: { name: ['ubuntu/images/*'], 'root-device-type': ['instance-store'] },
      owners: ['099720109477'],
      mostRecent: true,
      includeDeprecated: false,
    });
  });

  it('gives each build its provisioners, with only/except and override applied', () => {
    // Act
    const [web, worker] = validated(input, options).builds;

    // Assess
    expect(web?.provisioners.map((p) => [p.type, p.index])).toEqual([
      ['shell', 0],
      ['file', 2],
    ]);
    expect(worker?.provisioners.map((p) => [p.type, p.index])).toEqual([
      ['shell', 0],
      ['shell', 1],
    ]);
    expect(web?.provisioners[0]).toMatchObject({
      inline: ['echo building web'],
      environmentVars: [
        { name: 'VERSION', value: '1.0' },
        { name: 'GREETING', value: 'it\'s a "test"' },
      ],
    });
    expect(worker?.provisioners[1]).toMatchObject({ executeCommand: "sudo -E sh -c '{{.Vars}} {{.Path}}'" });
  });

  it('honours the manifest post-processor inside a sequence and skips the others with a warning', () => {
    // Act
    const result = validated(input, options);

    // Assess
    expect(result.builds[0]?.postProcessors.manifest).toEqual({
      type: 'manifest',
      output: 'manifest-1.0.json',
      stripPath: true,
      stripTime: false,
    });
    expect(result.warnings).toContainEqual(
      'post-processors: post-processor(s) "compress" skipped: they have no meaning for an AMI built in AWS (only "manifest" is honoured)',
    );
  });

  it('selects builds with only and except', () => {
    expect(validated(input, { ...options, only: ['worker'] }).builds.map((b) => b.name)).toEqual(['worker']);
    expect(validated(input, { ...options, except: ['worker'] }).builds.map((b) => b.name)).toEqual(['web']);
    expect(validated(input, { ...options, only: ['web'] }).skipped).toContainEqual({
      name: 'worker',
      type: 'amazon-instance',
      reason: 'excluded by only/except',
    });
  });

  it('fails when no amazon-instance builder is left, listing the builders the template has', () => {
    expect(problems(input, { ...options, only: ['amazon-ebs'] })).toContain(
      'builders: no amazon-instance builder left to build; the template has: amazon-ebs (amazon-ebs), web (amazon-instance), worker (amazon-instance), virtualbox-iso (virtualbox-iso)',
    );
  });

  it('fails when a required variable is not set', () => {
    expect(problems(input, workflow)).toEqual(['variables: required variable not set: bucket']);
  });

  it('fails when a required variable is not set, without the problems that follow from it', () => {
    // Prepare: ami_name and source_ami use the missing variable, directly and through another variable;
    // ami_virtualization_type has a problem of its own.
    const template = {
      variables: { name: null, ami: 'ami-{{user `name`}}' },
      builders: [
        builder({
          ami_name: 'img-{{user `name`}}',
          source_ami: '{{user `ami`}}',
          ami_virtualization_type: 'bogus',
        }),
      ],
    };

    // Act
    const listed = problems(template, workflow);

    // Assess
    expect(listed).toContain('variables: required variable not set: name');
    expect(listed.some((p) => p.includes('ami_virtualization_type'))).toBe(true);
    expect(listed.filter((p) => p.includes('ami_name') || p.includes('source_ami'))).toEqual([]);
  });
});

describe('the wrapper form', () => {
  it('takes vars over the template defaults, and the caller’s vars over the wrapper’s', () => {
    // Prepare
    const input = fixture('wrapped.json');

    // Act
    const fromWrapper = config(input);
    const fromCaller = config(input, { ...workflow, vars: { env: 'staging' } });

    // Assess
    expect(fromWrapper.amiName).toBe(`app-prod-${NOW_UNIX}`);
    expect(fromWrapper.bundle.bucket).toBe('prod-bundles');
    expect(fromWrapper.lateVariables).toEqual({ env: 'prod' });
    expect(fromCaller.amiName).toBe(`app-staging-${NOW_UNIX}`);
  });

  it('accepts the template as JSON text, and a bare builder inside', () => {
    // Prepare
    const input = { template: JSON.stringify(builder({ ami_name: 'x-{{user `v`}}' })), vars: { v: 'one' } };

    // Act
    const result = config(input);

    // Assess
    expect(result.amiName).toBe('x-one');
  });

  it('applies the wrapper’s only and except', () => {
    // Prepare
    const two = {
      builders: [
        { ...builder(), name: 'a' },
        { ...builder(), name: 'b' },
      ],
    };

    // Act
    const result = validated({ template: two, except: ['a'] });

    // Assess
    expect(result.builds.map((b) => b.name)).toEqual(['b']);
  });

  it('fails on unknown wrapper keys and bad JSON text', () => {
    expect(problems({ template: builder(), variables: {} })).toContain(
      'unknown key "variables" next to "template"; allowed: template, vars, only, except, parallel_builds, resume',
    );
    expect(problems({ template: '{ nope' }).join('\n')).toContain(
      'Failed to parse template: Error parsing JSON:',
    );
  });
});

describe('user variables', () => {
  const template = (variables: Record<string, unknown>, changes: Record<string, unknown> = {}) => ({
    variables,
    builders: [builder(changes)],
  });

  it('renders defaults that use other variables and functions', () => {
    // Prepare
    const input = template(
      { a: 'x', b: '{{user `a`}}-y', c: '{{user `b`}}-{{timestamp}}' },
      { ami_name: '{{user `c`}}' },
    );

    // Act
    const result = config(input);

    // Assess
    expect(result.amiName).toBe(`x-y-${NOW_UNIX}`);
  });

  it('lets -var override a default and renders it too', () => {
    expect(
      config(template({ name: 'x' }, { ami_name: 'ami-{{user `name`}}' }), {
        ...workflow,
        vars: { name: 'y{{timestamp}}' },
      }).amiName,
    ).toBe(`ami-y${NOW_UNIX}`);
  });

  it('accepts a -var for a variable the template does not declare', () => {
    expect(
      config(builder({ ami_name: 'ami-{{user `x`}}' }), { ...workflow, vars: { x: 'given' } }).amiName,
    ).toBe('ami-given');
  });

  it('renders an undefined user variable as empty, as Packer, with a warning', () => {
    // Prepare
    const input = builder({ ami_name: 'ami-{{user `missing`}}' });

    // Act
    const result = config(input);

    // Assess
    expect(result.amiName).toBe('ami-');
    expect(warnings(input)).toContainEqual(
      'ami_name: user variable "missing" is not defined; it renders as an empty string, as in Packer',
    );
  });

  it('fails when a variable refers to an undefined one or to itself', () => {
    expect(problems(template({ a: '{{user `nope`}}' })).join('\n')).toContain(
      'variables.a: references user variable "nope", which is not defined; Packer treats all variables used to interpolate other user variables as required',
    );
    expect(problems(template({ a: '{{user `b`}}', b: '{{user `a`}}' })).join('\n')).toContain(
      'refers to itself through a → b → a',
    );
  });

  it('resolves {{env}} in variable defaults only in the CLI', () => {
    // Prepare
    const input = template({ home: '{{env `HOME_DIR`}}' }, { ami_name: 'ami-{{user `home`}}' });

    // Act
    const inCli = config(input, { ...cli, env: (n) => (n === 'HOME_DIR' ? 'abc' : undefined) });
    const inWorkflow = problems(input, workflow);

    // Assess
    expect(inCli.amiName).toBe('ami-abc');
    expect(inWorkflow.join('\n')).toContain(
      'variables.home: {{env}} is resolved only by the CLI (ami-builder validate/build); in the workflow, pass the value in "vars" instead',
    );
  });

  it('fails when {{env}} is used outside variable defaults, as Packer does', () => {
    expect(problems(builder({ ami_name: 'ami-{{env `X`}}' }), cli)).toContain(
      'ami_name: env vars are not allowed here: {{env}} may only be used in variable defaults',
    );
  });

  it('allows {{template_dir}} and {{pwd}} only in the CLI', () => {
    expect(
      config(builder({ ami_name: 'ami {{template_dir}}' }), { ...cli, templateDir: '/work/t' }).amiName,
    ).toBe('ami /work/t');
    expect(problems(builder({ ami_name: 'ami {{pwd}}' }))).toContain(
      'ami_name: {{pwd}} is available only in the CLI: the workflow has no local directory',
    );
  });

  it('masks sensitive variables in every message and warns when their value enters the configuration', () => {
    // Prepare
    const input = {
      variables: { password: 's3cr3t-value' },
      'sensitive-variables': ['password'],
      builders: [builder({ ami_name: 'ami {{user `password`}}', ssh_port: '{{user `password`}}' })],
    };

    // Act
    const listed = problems(input);
    const report = checkTemplate(
      { ...input, builders: [builder({ user_data: 'pw={{user `password`}}' })] },
      workflow,
    );

    // Assess
    expect(listed).toContain(
      'builders[0].ssh_port: cannot parse "<sensitive>" as an integer; allowed: a whole number between 0 and 65535, or a string holding one',
    );
    expect(listed.join('\n')).not.toContain('s3cr3t-value');
    expect(report.template?.warnings).toContainEqual(
      'builders[0]: the value of sensitive variable "password" is used in the build configuration, so it is stored in the execution\'s state; pass secrets through SSM or S3 instead',
    );
  });
});

describe('template structure', () => {
  it("fails in Packer's words", () => {
    expect(problems({ builders: [] })).toContain('builders: at least one builder must be defined');
    expect(problems({ builders: [{ name: 'x' }] })).toContain("builders[0]: builder 1: missing 'type'");
    expect(problems({ builders: [builder(), builder()] })).toContain(
      "builders[1]: builder 2: builder with name 'amazon-instance' already exists",
    );
    expect(problems({ builders: [builder()], extra: 1 })).toContain(
      "Unknown root level key in template: 'extra'",
    );
    expect(problems({ builders: [builder()], _comment: 1 })).toContain(
      'Failed to cast root level comment value in comment "_comment" to string.',
    );
    expect(problems(42)).toEqual([
      'expected a JSON object (a Packer template, an amazon-instance builder, or { "template", "vars" }), got 42',
    ]);
  });

  it('accepts comments and the description', () => {
    expect(
      validated({ _comment: 'hi', description: 'd', min_packer_version: '1.0', builders: [builder()] })
        .builds,
    ).toHaveLength(1);
  });

  it('renders the build name and checks its characters', () => {
    expect(
      config({ variables: { n: 'web' }, builders: [{ ...builder(), name: '{{user `n`}}-1' }] }).name,
    ).toBe('web-1');
    expect(problems({ builders: [{ ...builder(), name: 'a;b' }] }).join('\n')).toContain(
      'build name "a;b" may only contain',
    );
  });

  it('fails when the configuration would not fit the workflow state', () => {
    // Prepare
    const inline = Array.from({ length: 30 }, () => 'x'.repeat(10_000));

    // Act
    const listed = problems({ builders: [builder()], provisioners: [{ type: 'shell', inline }] });

    // Assess
    expect(listed.join('\n')).toMatch(/the normalized configuration is \d+ bytes; at most 163840 fit/);
  });
});

describe('-syntax-only', () => {
  it('checks the structure and the template syntax, but not the keys', () => {
    // Prepare
    const options = { ...workflow, syntaxOnly: true };

    // Act
    const ok = validated({ builders: [{ type: 'amazon-instance', bogus: 1 }] }, options);
    const bad = problems({ builders: [{ type: 'amazon-instance', ami_name: '{{ if }}' }] }, options);

    // Assess
    expect(ok.builds).toEqual([]);
    expect(bad.join('\n')).toContain('builders[0].ami_name: template:');
  });
});

describe('determinism', () => {
  it('renders the same names for the same execution', () => {
    // Prepare
    const input = builder({ ami_name: 'ami-{{uuid}}' });

    // Act
    const first = config(input).amiName;
    const again = config(input).amiName;
    const other = config(input, { ...workflow, uuidSeed: 'execution-2' }).amiName;

    // Assess
    expect(first).toBe(again);
    expect(first).not.toBe(other);
    expect(first).toMatch(/^ami-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('never reports another exception than TemplateValidationError for a bare builder missing everything', () => {
    expect(() => validateTemplate({ type: 'amazon-instance' }, workflow)).toThrow(TemplateValidationError);
    expect(BASE.type).toBe('amazon-instance');
  });
});

describe('clean_ami_name, removed in Packer 1.5', () => {
  it('is accepted, with a warning that points to clean_resource_name', () => {
    // Prepare
    const input = { builders: [builder({ ami_name: 'image {{isotime | clean_ami_name}}' })] };

    // Act
    const built = config(input);
    const warned = warnings(input);

    // Assess
    expect(built.amiName).toMatch(/^image \d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(warned).toContain(
      'builders[0].ami_name: clean_ami_name was removed in Packer 1.5: use clean_resource_name, which does the same (`packer fix` rewrites it)',
    );
  });

  it('gives no warning for clean_resource_name', () => {
    const warned = warnings({ builders: [builder({ ami_name: 'image {{isotime | clean_resource_name}}' })] });
    expect(warned.join('\n')).not.toContain('clean_ami_name');
  });
});
