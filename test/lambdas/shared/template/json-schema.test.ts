import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  DOC_PATH,
  SCHEMA_PATH,
  templateSchema,
  templateSchemaText,
  withKeyReference,
} from '../../../../lambdas/shared/template/json-schema.js';
import { BUILDER_KEYS, FILE_KEYS, SHELL_KEYS } from '../../../../lambdas/shared/template/keys.js';
import { checkTemplate } from '../../../../lambdas/shared/template/validate.js';

const fixtures = join(__dirname, '..', '..', '..', 'fixtures', 'templates');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, name), 'utf8'));

describe('the JSON Schema', () => {
  it('is up to date: the committed file is what the generator produces', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(templateSchemaText());
  });

  it('describes every builder, shell and file key', () => {
    // Act
    const schema = templateSchema() as {
      definitions: Record<string, { properties: Record<string, unknown> }>;
    };

    // Assess
    expect(Object.keys(schema.definitions.amazonInstanceBuilder?.properties ?? {})).toEqual(
      expect.arrayContaining(BUILDER_KEYS.map((k) => k.key)),
    );
    expect(Object.keys(schema.definitions.shellProvisioner?.properties ?? {})).toEqual(
      SHELL_KEYS.map((k) => k.key),
    );
    expect(Object.keys(schema.definitions.fileProvisioner?.properties ?? {})).toEqual(
      FILE_KEYS.map((k) => k.key),
    );
  });

  it('accepts the fixtures and flags an unknown key', () => {
    // Prepare
    // ajv is CommonJS: its class is the module's `default` export (installed with aws-local-stepfunctions).
    const Ajv = AjvModule.default;
    const validate = new Ajv({ allowUnionTypes: true, strict: false }).compile(templateSchema());

    // Act
    const results = [
      'seed-basic-example.json',
      'multi-builder.json',
      'wrapped.json',
      'guest-provisioners.json',
      'remote-ansible.json',
    ].map((name) => validate(fixture(name)));
    const unknown = validate({
      type: 'amazon-instance',
      region: 'us-east-1',
      s3_bucket: 'b',
      x509_cert_path: 'x',
      x509_key_path: 'y',
      ami_name: 'abc',
      amiName: 'x',
    });

    // Assess
    expect(results).toEqual([true, true, true, true, true]);
    expect(unknown).toBe(false);
  });

  it('reports one misspelled key as exactly one error, at that key, as an editor shows it', () => {
    // Prepare: every error, as VS Code and JetBrains list them. ajv also reports each `if` whose `then` failed;
    // editors show only the failures inside, so those wrappers are left out.
    const Ajv = AjvModule.default;
    const validate = new Ajv({ allowUnionTypes: true, strict: false, allErrors: true }).compile(
      templateSchema(),
    );
    const editorErrors = (value: unknown) => {
      validate(value);
      return (validate.errors ?? []).filter((e) => e.keyword !== 'if');
    };
    const template = {
      $schema: '../schema/template.schema.json',
      variables: { region: 'us-east-1' },
      builders: [{ ...(fixture('seed-basic-example.json') as object), ami_descripton: 'typo' }],
      provisioners: [{ type: 'shell', inline: ['echo hi'] }],
    };
    const bare = { ...(fixture('seed-basic-example.json') as object), instance_typ: 'm1.small' };
    const wrapped = { template: { ...template, builders: [fixture('seed-basic-example.json')] }, varz: {} };

    // Act
    const inTemplate = editorErrors(template);
    const inBare = editorErrors(bare);
    const inWrapper = editorErrors(wrapped);

    // Assess
    expect(inTemplate).toHaveLength(1);
    expect(inTemplate[0]).toMatchObject({
      instancePath: '/builders/0',
      keyword: 'additionalProperties',
      params: { additionalProperty: 'ami_descripton' },
    });
    expect(inBare).toHaveLength(1);
    expect(inBare[0]?.params).toEqual({ additionalProperty: 'instance_typ' });
    expect(inWrapper).toHaveLength(1);
    expect(inWrapper[0]?.params).toEqual({ additionalProperty: 'varz' });
  });

  it('accepts $schema at the top level, and the validator ignores it', () => {
    // Prepare
    const Ajv = AjvModule.default;
    const validate = new Ajv({ allowUnionTypes: true, strict: false }).compile(templateSchema());
    const template = {
      $schema: 'https://example.com/template.schema.json',
      builders: [fixture('seed-basic-example.json')],
    };

    // Act
    const schemaOk = validate(template);
    const result = checkTemplate(template, {
      mode: 'cli',
      now: new Date(0),
      uuidSeed: 'seed',
      checkLocalFile: () => undefined,
    });

    // Assess
    expect(schemaOk).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.template?.builds).toHaveLength(1);
  });
});

describe('docs/TEMPLATE.md', () => {
  it('holds the key reference the generator produces', () => {
    // Prepare
    const doc = readFileSync(DOC_PATH, 'utf8');

    // Act
    const regenerated = withKeyReference(doc);

    // Assess
    expect(doc).toBe(regenerated);
  });

  it('lists every builder key', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    for (const key of BUILDER_KEYS) expect(doc).toContain(`| \`${key.key}\` |`);
  });
});
