/**
 * Validation limits (issue: a build touches only what it owns): the tag limit counts this system's own tags,
 * every numeric key has its range, `ami-builder:` keys are reserved in every tag map, and any key AWS accepts
 * is accepted, `constructor` and `__proto__` included.
 */
import { describe, expect, it } from 'vitest';
import { ownershipTags, TagKeys } from '../../../../lambdas/shared/runtime.js';
import { RESERVED_TAG_PREFIX } from '../../../../lambdas/shared/template/builder.js';
import {
  BLOCK_DEVICE_FIELDS,
  BUILDER_KEYS,
  FILE_KEYS,
  type FieldSpec,
  PROVISIONER_COMMON_KEYS,
  SHELL_KEYS,
} from '../../../../lambdas/shared/template/keys.js';
import { renderLate } from '../../../../lambdas/shared/template/late.js';
import { builder, config, NOW, problems } from './helpers.js';

const tagsOf = (count: number, prefix = 'k') =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `v${i}`]));
const STACK_TAGS = ownershipTags({ stackName: 's' }, 'e', 'b').length;

describe('the tag limit', () => {
  it('counts the tags this system adds to the AMI: 44 tags validate', () => {
    // The ownership tags, ami-builder:finished and ami-builder:family.
    expect(
      Object.keys(config({ builders: [builder({ tags: tagsOf(50 - STACK_TAGS - 2) })] }).tags),
    ).toHaveLength(44);
  });

  it('fails when tags and the stack’s own tags exceed 50, listing the counts', () => {
    expect(problems({ builders: [builder({ tags: tagsOf(45) })] })).toEqual([
      'builders[0]: tags: 45 tags, plus the 6 this system adds to the AMI and its copies (ami-builder:stack, ami-builder:execution, ami-builder:build, ami-builder:on-error, ami-builder:finished, ami-builder:family), make 51; AWS allows at most 50 tags per resource, so tags may hold at most 44',
    ]);
  });

  it('counts the retention policy tag when the template sets ami_retention: 43 tags validate, 44 do not', () => {
    const retention = { ami_retention: { keep_latest: 2 } };
    expect(
      Object.keys(config({ builders: [builder({ tags: tagsOf(43), ...retention })] }).tags),
    ).toHaveLength(43);
    expect(problems({ builders: [builder({ tags: tagsOf(44), ...retention })] })).toEqual([
      `builders[0]: tags: 44 tags, plus the 7 this system adds to the AMI and its copies (ami-builder:stack, ami-builder:execution, ami-builder:build, ami-builder:on-error, ami-builder:finished, ami-builder:family, ${TagKeys.retention}), make 51; AWS allows at most 50 tags per resource, so tags may hold at most 43`,
    ]);
  });

  it('counts ami-builder:fingerprint only with skip_if_unchanged: 43 tags then, 44 without', () => {
    // Prepare
    const at43 = builder({ skip_if_unchanged: true, tags: tagsOf(43) });
    const at44 = builder({ skip_if_unchanged: true, tags: tagsOf(44) });

    // Act
    const over = problems({ builders: [at44] });

    // Assess
    expect(Object.keys(config({ builders: [at43] }).tags)).toHaveLength(43);
    expect(over).toEqual([
      'builders[0]: tags: 44 tags, plus the 7 this system adds to the AMI and its copies (ami-builder:stack, ami-builder:execution, ami-builder:build, ami-builder:on-error, ami-builder:finished, ami-builder:family, ami-builder:fingerprint), make 51; AWS allows at most 50 tags per resource, so tags may hold at most 43',
    ]);
    expect(
      Object.keys(config({ builders: [builder({ skip_if_unchanged: false, tags: tagsOf(44) })] }).tags),
    ).toHaveLength(44);
  });

  it('counts both ami_retention and skip_if_unchanged: 42 tags then', () => {
    const both = (n: number) =>
      builder({ skip_if_unchanged: true, ami_retention: { keep_latest: 2 }, tags: tagsOf(n) });
    expect(Object.keys(config({ builders: [both(42)] }).tags)).toHaveLength(42);
    expect(problems({ builders: [both(43)] })[0]).toContain('so tags may hold at most 42');
  });

  it('counts tag blocks merged into tags', () => {
    const tag = [{ key: 'extra', value: 'x' }];
    expect(problems({ builders: [builder({ tags: tagsOf(44), tag })] })[0]).toContain('45 tags');
  });

  it('counts the default Name run tag unless run_tags sets Name', () => {
    // Prepare
    const withoutName = builder({ run_tags: tagsOf(46) });
    const withName = builder({ run_tags: { ...tagsOf(45), Name: 'builder' } });

    // Act
    const found = problems({ builders: [withoutName] });

    // Assess
    expect(found).toEqual([
      'builders[0]: run_tags: 46 tags, plus the 5 this system adds to the instance, its volumes and its security group (Name, ami-builder:stack, ami-builder:execution, ami-builder:build, ami-builder:on-error), make 51; AWS allows at most 50 tags per resource, so run_tags may hold at most 45',
    ]);
    expect(Object.keys(config({ builders: [withName] }).runTags)).toHaveLength(46);
  });
});

describe('reserved tag keys', () => {
  it('covers every tag this system adds', () => {
    for (const key of Object.values(TagKeys)) expect(key.startsWith(RESERVED_TAG_PREFIX)).toBe(true);
  });

  it.each([
    ['tags', { 'ami-builder:stack': 'other' }],
    ['run_tags', { 'ami-builder:execution': 'x' }],
    ['tags', { 'AMI-Builder:Build': 'x' }],
    ['snapshot_tags', { 'ami-builder:on-error': 'keep' }],
  ])('fails when %s sets an ami-builder: key', (mapKey, map) => {
    const [key] = Object.keys(map);
    expect(problems({ builders: [builder({ [mapKey]: map })] })).toContain(
      `builders[0]: ${mapKey}: tag key ${JSON.stringify(key)} uses the prefix "ami-builder:", which this system reserves for the tags it adds; allowed: any other key`,
    );
  });

  it('fails when a tag block sets an ami-builder: key', () => {
    expect(
      problems({ builders: [builder({ tag: [{ key: 'ami-builder:stack', value: 'x' }] })] })[0],
    ).toContain('uses the prefix "ami-builder:"');
  });
});

describe('keys named like Object.prototype members', () => {
  const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];
  /** JSON.parse keeps `__proto__` as an own key, as a template read from a file or an execution input has it. */
  const fromJson = (entries: [string, string][]) =>
    JSON.parse(JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, v])))) as Record<string, string>;
  const jsonMap = (suffix: string) =>
    JSON.parse(`{${NAMES.map((n) => `${JSON.stringify(n)}: ${JSON.stringify(`${n}${suffix}`)}`).join(',')}}`);

  it('accepts them as tag and run tag keys, as own keys of the configuration', () => {
    // Act
    const built = config({ builders: [builder({ tags: jsonMap('-tag'), run_tags: jsonMap('-run') })] });

    // Assess
    for (const name of NAMES) {
      expect(Object.hasOwn(built.tags, name)).toBe(true);
      expect(Object.getOwnPropertyDescriptor(built.tags, name)?.value).toBe(`${name}-tag`);
      expect(Object.getOwnPropertyDescriptor(built.runTags, name)?.value).toBe(`${name}-run`);
    }
    expect(Object.getPrototypeOf(built.tags)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts them as variable names, in variables, vars and overrides, and renders them', () => {
    // Prepare
    const input = {
      vars: fromJson([['toString', 'from-vars']]),
      template: {
        variables: jsonMap('-default'),
        builders: [
          builder({
            ami_name: 'image {{user `constructor`}} {{user `toString`}}',
            tags: { Name: '{{user `__proto__`}}' },
          }),
        ],
      },
    };

    // Act
    const built = config(input, {
      mode: 'workflow',
      now: NOW,
      uuidSeed: 'e',
      vars: fromJson([['constructor', 'override']]),
    });

    // Assess
    expect(built.amiName).toBe('image override from-vars');
    expect(Object.getOwnPropertyDescriptor(built.lateVariables, '__proto__')?.value).toBe(
      '__proto__-default',
    );
    expect(
      renderLate(built.tags.Name ?? '', {
        buildVariables: {
          BuildRegion: 'us-east-1',
          SourceAMI: 'ami-1',
          SourceAMIName: 'n',
          SourceAMIOwner: 'o',
          SourceAMIOwnerName: 'a',
          SourceAMICreationDate: 'd',
          SourceAMITags: {},
        },
        userVariables: built.lateVariables,
        now: NOW,
        uuidSeed: 'e',
      }),
    ).toBe('__proto__-default');
  });

  it('accepts them as source_ami_filter filter names and owners', () => {
    const filter = { filters: jsonMap(''), owners: ['self'] };
    const built = config({ builders: [builder({ source_ami: undefined, source_ami_filter: filter })] });
    expect(Object.keys(built.sourceAmiFilter?.filters ?? {})).toEqual(expect.arrayContaining(NAMES));
  });
});

describe('numeric ranges', () => {
  /** Every integer and duration key, with its path. */
  function numericKeys(prefix: string, fields: readonly FieldSpec[]): [string, FieldSpec][] {
    return fields.flatMap((f): [string, FieldSpec][] => {
      if (f.type.kind === 'integer' || f.type.kind === 'duration') return [[`${prefix}${f.key}`, f]];
      if (f.type.kind === 'object' || f.type.kind === 'objectList')
        return numericKeys(`${prefix}${f.key}.`, f.type.fields);
      return [];
    });
  }
  const ALL = [
    ...numericKeys('', BUILDER_KEYS),
    ...numericKeys('block device: ', BLOCK_DEVICE_FIELDS),
    ...numericKeys('provisioner: ', PROVISIONER_COMMON_KEYS),
    ...numericKeys('shell: ', SHELL_KEYS),
    ...numericKeys('file: ', FILE_KEYS),
  ];

  it('gives every integer key a finite range and every duration key a maximum', () => {
    expect(ALL.length).toBeGreaterThan(30);
    for (const [path, field] of ALL) {
      const type = field.type;
      if (type.kind === 'integer') {
        expect(Number.isFinite(type.min) && Number.isFinite(type.max) && type.min <= type.max, path).toBe(
          true,
        );
      } else if (type.kind === 'duration') {
        expect(type.maxSeconds > 0 && type.maxSeconds <= 172_800, path).toBe(true);
      }
    }
  });

  it.each([
    [
      { launch_block_device_mappings: [{ device_name: '/dev/sdb', volume_type: 'gp2', volume_size: 1e308 }] },
      'builders[0].launch_block_device_mappings[0].volume_size: 1e+308 is out of range; allowed: a whole number between 0 and 65536',
    ],
    [
      { ami_block_device_mappings: [{ device_name: '/dev/sdb', volume_type: 'io2', iops: 1e9 }] },
      'builders[0].ami_block_device_mappings[0].iops: 1000000000 is out of range; allowed: a whole number between 0 and 256000',
    ],
    [
      {
        launch_block_device_mappings: [{ device_name: '/dev/sdb', volume_type: 'gp3', throughput: '99999' }],
      },
      'builders[0].launch_block_device_mappings[0].throughput: 99999 is out of range; allowed: a whole number between 0 and 2000',
    ],
    [
      { aws_polling: { delay_seconds: 1e12 } },
      'builders[0].aws_polling.delay_seconds: 1000000000000 is out of range; allowed: a whole number between 0 and 3600',
    ],
    [
      { metadata_options: { http_put_response_hop_limit: 1e6 } },
      'builders[0].metadata_options: http_put_response_hop_limit requires a number between 1 and 64',
    ],
    [
      { command_timeout: '100000h' },
      'builders[0].command_timeout: "100000h" is longer than the maximum of 48h0m0s; allowed: a Go duration from "0s" to "48h0m0s"',
    ],
    [
      { ssh_timeout: '4h' },
      'builders[0].ssh_timeout: "4h" is longer than the maximum of 3h0m0s; allowed: a Go duration from "0s" to "3h0m0s"',
    ],
    [
      { max_retries: 1e300 },
      'builders[0].max_retries: 1e+300 is out of range; allowed: a whole number between 0 and 100',
    ],
    [
      { spot_price: '1e308' },
      'builders[0]: spot_price "1e308" is not a price; allowed: "auto", or a price in USD per hour from 0 to 1000 (such as "0.05")',
    ],
  ])('fails in Validate Template on %j', (changes, message) => {
    expect(problems({ builders: [builder(changes)] })).toContain(message);
  });

  it('fails when a provisioner number is out of range', () => {
    const found = problems({
      builders: [builder()],
      provisioners: [{ type: 'shell', inline: ['true'], max_retries: 1e9, pause_before: '9999h' }],
    });
    expect(found).toContain(
      'provisioners[0].max_retries: 1000000000 is out of range; allowed: a whole number between 0 and 100',
    );
    expect(found).toContain(
      'provisioners[0].pause_before: "9999h" is longer than the maximum of 48h0m0s; allowed: a Go duration from "0s" to "48h0m0s"',
    );
  });

  it('accepts the bounds themselves', () => {
    const built = config({
      builders: [
        builder({
          launch_block_device_mappings: [
            { device_name: '/dev/sdb', volume_type: 'io2', volume_size: 65536, iops: 64000 },
          ],
          spot_price: '0.05',
          command_timeout: '48h',
        }),
      ],
    });
    expect(built.launchBlockDeviceMappings[0]?.volumeSize).toBe(65536);
    expect(built.commandTimeoutSeconds).toBe(172_800);
  });
});

describe('ami_retention', () => {
  it('becomes the build’s retention and family; the family defaults to the build name and ami_name as written', () => {
    const built = config({
      builders: [
        builder({
          ami_name: 'web {{timestamp}}',
          ami_retention: { keep_latest: 3, deprecate_first_days: 7 },
        }),
      ],
    });
    expect(built.retention).toEqual({
      source: 'template',
      keepLatest: 3,
      deprecateFirstDays: 7,
      deleteBundles: true,
    });
    expect(built.family).toBe('amazon-instance:web {{timestamp}}');
    expect(config({ builders: [builder({ ami_retention: { keep_days: 30, family: 'web' } })] }).family).toBe(
      'web',
    );
    expect(config({ builders: [builder({})] }).retention).toBeUndefined();
  });

  it('lists every problem: no rule, numbers out of range, unknown keys', () => {
    expect(problems({ builders: [builder({ ami_retention: { delete_bundles: false } })] })).toEqual([
      'builders[0]: ami_retention needs keep_latest or keep_days (or both): without either it would keep every image',
    ]);
    const many = problems({
      builders: [
        builder({ ami_retention: { keep_latest: 0, keep_days: 'soon', deprecate_first_days: -1, keep: 1 } }),
      ],
    });
    expect(many.length).toBeGreaterThanOrEqual(4);
    expect(many.join('\n')).toContain('keep_latest');
    expect(many.join('\n')).toContain('keep_days');
    expect(many.join('\n')).toContain('deprecate_first_days');
    expect(many.join('\n')).toContain('keep');
  });
});
