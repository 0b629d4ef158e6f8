/**
 * Generates, from the key table in ./keys.ts, the JSON Schema of the template (`schema/template.schema.json`,
 * for editor completion) and the key reference of `docs/TEMPLATE.md` (between the GENERATED markers).
 * A test fails when either committed file differs from what this produces.
 *
 * Regenerate both with: `npx tsx lambdas/shared/template/json-schema.ts --write`
 *
 * The schema is lenient where the validator is: numbers and booleans may be strings (they often come from
 * `{{user}}`), lists may be comma-separated strings, and constrained strings may be templates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatSeconds } from './decode.js';
import {
  BUILDER_KEYS,
  CATEGORY_TITLES,
  type Category,
  FILE_KEYS,
  type FieldSpec,
  type KeySpec,
  MANIFEST_KEYS,
  SHELL_KEYS,
  TEMPLATE_KEYS,
  type ValueType,
} from './keys.js';
import { GUEST_PROVISIONER_TYPES, guestType } from './provisioners/guest-types.js';

type Schema = Record<string, unknown>;

/** JSON Schema's `if`/`then`, built so that no object literal has a `then` key (lint flags those as thenables). */
function ifThen(condition: Schema, then: Schema): Schema {
  return Object.fromEntries([
    ['if', condition],
    ['then', then],
  ]);
}

const TEMPLATED = { type: 'string', pattern: '\\{\\{' };
const SCALAR = { type: ['string', 'number', 'boolean'] };

function typeSchema(type: ValueType): Schema {
  switch (type.kind) {
    case 'string':
      if (type.allowed === undefined) return { type: 'string' };
      return { anyOf: [{ type: 'string', enum: [...type.allowed] }, TEMPLATED] };
    case 'boolean':
    case 'trilean':
      return { anyOf: [{ type: 'boolean' }, { type: 'string' }] };
    case 'integer': {
      const number: Schema = { type: 'integer', minimum: type.min, maximum: type.max };
      return { anyOf: [number, { type: 'string' }] };
    }
    case 'duration':
      return { anyOf: [{ type: 'string', examples: ['90s', '5m', '1h30m'] }, { const: 0 }] };
    case 'stringList':
      return { anyOf: [{ type: 'array', items: SCALAR }, { type: 'string' }] };
    case 'stringMap':
      return { type: 'object', additionalProperties: SCALAR };
    case 'object':
      return objectSchema(type.fields);
    case 'objectList':
      return { type: 'array', items: objectSchema(type.fields) };
    case 'anyObject':
      return { type: 'object' };
  }
}

function fieldSchema(spec: FieldSpec | KeySpec): Schema {
  const schema: Schema = { ...typeSchema(spec.type) };
  const key = spec as KeySpec;
  let description = spec.description;
  if (key.ignored !== undefined) description = `Accepted but ignored: ${key.ignored}.`;
  if (key.credential === true) description = `Accepted for compatibility and dropped. ${spec.description}`;
  schema.description = description;
  if (spec.default !== undefined)
    schema.default = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  return schema;
}

function objectSchema(fields: readonly FieldSpec[], required: readonly string[] = []): Schema {
  const schema: Schema = {
    type: 'object',
    properties: Object.fromEntries(fields.map((f) => [f.key, fieldSchema(f)])),
    additionalProperties: false,
  };
  if (required.length > 0) schema.required = [...required];
  return schema;
}

function withType(schema: Schema, type: string, extra: Record<string, Schema> = {}): Schema {
  const properties = {
    type: { const: type, description: 'The type.' },
    ...extra,
    ...(schema.properties as Schema),
  };
  return { ...schema, properties };
}

/** The JSON Schema (draft-07) of every input form. */
export function templateSchema(): Schema {
  const required = BUILDER_KEYS.filter((k) => k.required === true).map((k) => k.key);
  const schemaKey = {
    $schema: { type: 'string', description: 'The JSON Schema editors check this file against; ignored.' },
  };
  const builder = withType(objectSchema(BUILDER_KEYS, ['type', ...required]), 'amazon-instance', {
    name: {
      type: 'string',
      description: 'Build name (default: the type); selects the build with only/except.',
    },
    ...schemaKey,
  });
  // One form per input, told apart by its keys as the validator tells them apart (no anyOf/oneOf at the root:
  // an editor would report every form's errors for one misspelled key).
  const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
  const templateOrBuilder = {
    ...ifThen({ required: ['builders'] }, ref('template')),
    else: ref('amazonInstanceBuilder'),
  };
  const stringList = typeSchema({ kind: 'stringList' });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'ami-builder template',
    description:
      'A Packer JSON template for the amazon-instance builder, a bare amazon-instance builder object, or either wrapped as { "template", "vars" }. Generated from lambdas/shared/template/keys.ts; do not edit.',
    ...ifThen(
      { required: ['template'], not: { anyOf: [{ required: ['builders'] }, { required: ['type'] }] } },
      ref('wrapper'),
    ),
    else: templateOrBuilder,
    definitions: {
      wrapper: {
        type: 'object',
        required: ['template'],
        additionalProperties: false,
        properties: {
          template: {
            description: 'The template or builder object, or its JSON text.',
            ...ifThen({ type: 'string' }, { type: 'string' }),
            else: templateOrBuilder,
          },
          parallel_builds: {
            type: 'integer',
            minimum: 0,
            maximum: 1000,
            description: "Builds run at once (Packer's -parallel-builds); 0: no limit.",
          },
          ...schemaKey,
          vars: {
            type: 'object',
            description: 'User variable values, over the template defaults.',
            additionalProperties: SCALAR,
          },
          only: { ...stringList, description: 'Build only these builds (by name).' },
          resume: {
            type: 'string',
            description:
              'The ARN of a failed execution (on_error: abort) whose builds this execution resumes at their failed step.',
          },
          except: { ...stringList, description: 'Build every build but these.' },
        },
      },
      template: {
        type: 'object',
        required: ['builders'],
        additionalProperties: false,
        patternProperties: { '^_': { type: 'string', description: 'A comment.' } },
        properties: {
          ...Object.fromEntries(TEMPLATE_KEYS.map((k) => [k.key, { description: k.description }])),
          description: { type: 'string', description: 'Free text.' },
          ...schemaKey,
          min_packer_version: { type: 'string', description: 'Accepted; not checked.' },
          variables: {
            type: 'object',
            description: 'User variables: name → default; null marks a required variable.',
            additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
          },
          'sensitive-variables': {
            type: 'array',
            items: { type: 'string' },
            description: 'Variables never shown in messages.',
          },
          builders: {
            type: 'array',
            minItems: 1,
            items: ref('builder'),
            description: 'The amazon-instance builders are built; others are skipped.',
          },
          provisioners: { type: 'array', items: ref('provisioner') },
          'error-cleanup-provisioner': ref('provisioner'),
          'post-processors': {
            type: 'array',
            items: { anyOf: [ref('postProcessor'), { type: 'array', items: ref('postProcessor') }] },
          },
        },
      },
      builder: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string' }, name: { type: 'string' } },
        ...ifThen({ properties: { type: { const: 'amazon-instance' } } }, ref('amazonInstanceBuilder')),
      },
      amazonInstanceBuilder: builder,
      provisioner: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string', enum: ['shell', 'file', ...GUEST_PROVISIONER_TYPES] } },
        allOf: [
          ifThen({ properties: { type: { const: 'shell' } } }, ref('shellProvisioner')),
          ifThen({ properties: { type: { const: 'file' } } }, ref('fileProvisioner')),
          ...GUEST_PROVISIONER_TYPES.map((type) =>
            ifThen({ properties: { type: { const: type } } }, ref(`${type}Provisioner`)),
          ),
        ],
      },
      shellProvisioner: objectSchema(SHELL_KEYS),
      fileProvisioner: objectSchema(FILE_KEYS),
      ...Object.fromEntries(
        GUEST_PROVISIONER_TYPES.map((type) => [
          `${type}Provisioner`,
          objectSchema(guestType(type)?.keys ?? []),
        ]),
      ),
      postProcessor: {
        anyOf: [
          { type: 'string' },
          {
            type: 'object',
            required: ['type'],
            ...ifThen({ properties: { type: { const: 'manifest' } } }, objectSchema(MANIFEST_KEYS)),
          },
        ],
      },
    },
  };
}

/** The committed schema's text. */
export function templateSchemaText(): string {
  return `${JSON.stringify(templateSchema(), null, 2)}\n`;
}

function typeText(type: ValueType): string {
  switch (type.kind) {
    case 'string':
      return type.allowed === undefined
        ? 'string'
        : `one of ${type.allowed.map((a) => (a === '' ? '""' : `\`${a}\``)).join(', ')}`;
    case 'boolean':
      return 'boolean';
    case 'trilean':
      return 'boolean or unset';
    case 'integer':
      return `integer ${type.min}–${type.max}`;
    case 'duration':
      return `duration ≤ ${formatSeconds(type.maxSeconds)}`;
    case 'stringList':
      return 'list of strings';
    case 'stringMap':
      return 'object of strings';
    case 'object':
      return `object (${type.fields.map((f) => `\`${f.key}\``).join(', ')})`;
    case 'objectList':
      return `list of objects (${type.fields.map((f) => `\`${f.key}\``).join(', ')})`;
    case 'anyObject':
      return 'object';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function defaultText(spec: FieldSpec): string {
  if (spec.default === undefined) return '';
  if (Array.isArray(spec.default)) return `\`${JSON.stringify(spec.default)}\``;
  return `\`${String(spec.default)}\``;
}

function meaning(spec: FieldSpec | KeySpec): string {
  const key = spec as KeySpec;
  const parts: string[] = [];
  if (key.required === true) parts.push('**Required.**');
  if (key.ignored !== undefined) parts.push(`Accepted, ignored with a warning: ${key.ignored}.`);
  else parts.push(spec.description);
  if (key.late === true && !key.key.startsWith('bundle_'))
    parts.push('Rendered late, with the build variables.');
  if (key.late === true && key.key.startsWith('bundle_')) parts.push('Rendered on the instance side.');
  if (key.target !== undefined) parts.push(`→ \`${key.target}\``);
  return parts.join(' ');
}

function table(specs: readonly (FieldSpec | KeySpec)[]): string[] {
  return [
    '| Key | Type | Default | Meaning here |',
    '| --- | --- | --- | --- |',
    ...specs.map(
      (s) => `| \`${s.key}\` | ${cell(typeText(s.type))} | ${cell(defaultText(s))} | ${cell(meaning(s))} |`,
    ),
  ];
}

/** The generated key reference (Markdown) for docs/TEMPLATE.md. */
export function keyReferenceMarkdown(): string {
  const lines: string[] = [];
  const categories = Object.keys(CATEGORY_TITLES) as Category[];
  for (const category of categories) {
    lines.push(
      `### ${CATEGORY_TITLES[category]}`,
      '',
      ...table(BUILDER_KEYS.filter((k) => k.category === category)),
      '',
    );
  }
  lines.push('### `shell` provisioner', '', ...table(SHELL_KEYS), '');
  lines.push('### `file` provisioner', '', ...table(FILE_KEYS), '');
  for (const type of GUEST_PROVISIONER_TYPES) {
    lines.push(`### \`${type}\` provisioner`, '', ...table(guestType(type)?.keys ?? []), '');
  }
  lines.push('### `manifest` post-processor', '', ...table(MANIFEST_KEYS));
  return lines.join('\n');
}

export const DOC_BEGIN =
  '<!-- BEGIN GENERATED KEYS (npx tsx lambdas/shared/template/json-schema.ts --write) -->';
export const DOC_END = '<!-- END GENERATED KEYS -->';

/** Replaces the generated part of the template reference. */
export function withKeyReference(doc: string): string {
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END);
  if (begin < 0 || end < begin)
    throw new Error(`docs/TEMPLATE.md lacks the markers ${DOC_BEGIN} … ${DOC_END}`);
  return `${doc.slice(0, begin + DOC_BEGIN.length)}\n\n${keyReferenceMarkdown()}\n\n${doc.slice(end)}`;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SCHEMA_PATH = join(root, 'schema', 'template.schema.json');
export const DOC_PATH = join(root, 'docs', 'TEMPLATE.md');

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--write')) {
    writeFileSync(SCHEMA_PATH, templateSchemaText());
    writeFileSync(DOC_PATH, withKeyReference(readFileSync(DOC_PATH, 'utf8')));
    console.log(`wrote ${SCHEMA_PATH} and ${DOC_PATH}`);
  } else {
    process.stdout.write(templateSchemaText());
  }
}
