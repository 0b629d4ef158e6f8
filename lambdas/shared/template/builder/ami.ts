/**
 * AMI configuration (`builder/common/ami_config.go`): name, sharing, regions, encryption keys, tags and
 * registration options.
 */
import { TagKeys } from '../../tags.js';
import { type Decoded, describeValue, type Report, truncate } from '../decode.js';
import { BUILD_VARIABLE_NAMES } from '../late.js';
import { checkLate } from '../render.js';
import type { AccessSection } from './access.js';
import {
  ACCOUNT_ID,
  AMI_NAME,
  type BuilderScope,
  isKmsKey,
  isRfc3339,
  MAX_TAGS,
  REGION,
  RESERVED_TAG_PREFIX,
  STACK_TAG_KEYS,
} from './common.js';

/** The tags this system adds to what it creates, and where; they count toward AWS's limit of 50 per resource. */
export interface StackTags {
  /** The resources, for the message ("the AMI"). */
  on: string;
  keys: readonly string[];
  /** Added only when the user's map lacks it (the instance's default `Name`). */
  unlessSet?: string;
}

/** Tags from a map and `{ key, value }` blocks (blocks win, as Packer's `CopyOn`), with AWS's limits. */
export function mergeTags(
  d: Decoded,
  mapKey: string,
  blockKey: string,
  report: Report,
  stack?: StackTags,
): Record<string, string> {
  const entries = new Map(Object.entries(d.map(mapKey) ?? {}));
  for (const block of d.objects(blockKey) ?? []) {
    const key = block.string('key');
    if (key === undefined || key === '') {
      if (!block.failed.has('key')) report.error(block.path, `${blockKey}: a tag needs a non-empty "key"`);
      continue;
    }
    entries.set(key, block.string('value') ?? '');
  }
  for (const [key, value] of entries) {
    const at = d.at(mapKey);
    if (key === '') report.error(at, `${mapKey}: tag keys must not be empty`);
    else if (!key.includes('{{') && key.toLowerCase().startsWith('aws:')) {
      report.error(
        at,
        `${mapKey}: tag key ${describeValue(key)} uses the prefix "aws:", which AWS reserves; allowed: any other key`,
      );
    } else if (key.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
      report.error(
        at,
        `${mapKey}: tag key ${describeValue(key)} uses the prefix "${RESERVED_TAG_PREFIX}", which this system reserves for the tags it adds; allowed: any other key`,
      );
    } else if (!key.includes('{{') && key.length > 128) {
      report.error(at, `${mapKey}: tag key ${describeValue(key)} is longer than 128 characters`);
    } else if (!value.includes('{{') && value.length > 256) {
      report.error(at, `${mapKey}: the value of tag ${describeValue(key)} is longer than 256 characters`);
    }
  }
  const added =
    stack === undefined
      ? []
      : stack.keys.filter((k) => k !== stack.unlessSet || !entries.has(stack.unlessSet));
  if (entries.size + added.length > MAX_TAGS) {
    const limit = MAX_TAGS - added.length;
    report.error(
      d.at(mapKey),
      added.length === 0
        ? `${mapKey}: ${entries.size} tags; AWS allows at most ${MAX_TAGS} tags per resource`
        : `${mapKey}: ${entries.size} tags, plus the ${added.length} this system adds to ${stack?.on} (${added.join(', ')}), make ${entries.size + added.length}; AWS allows at most ${MAX_TAGS} tags per resource, so ${mapKey} may hold at most ${limit}`,
    );
  }
  return Object.fromEntries(entries);
}

/** Decodes and checks this section's keys. */
export function decodeAmi(scope: BuilderScope, prev: Pick<AccessSection, 'region'>) {
  const { d, ctx, report, lateUserVariables } = scope;
  const { region } = prev;
  const amiName = d.string('ami_name');
  if (!d.failed.has('ami_name')) {
    if (amiName === undefined || amiName === '') report.error(d.at('ami_name'), 'ami_name must be specified');
    const length = amiName?.length ?? 0;
    if (length < 3 || length > 128)
      report.error(d.at('ami_name'), 'ami_name must be between 3 and 128 characters long');
    if (amiName !== undefined && !AMI_NAME.test(amiName)) {
      report.error(
        d.at('ami_name'),
        "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
      );
    }
  }
  const virtualization = d.nonEmpty('ami_virtualization_type') as 'hvm' | 'paravirtual' | undefined;
  const amiUsers = d.list('ami_users') ?? [];
  for (const user of amiUsers) {
    if (!ACCOUNT_ID.test(user))
      report.error(d.at('ami_users'), `ami_users: ${describeValue(user)} is not a 12-digit AWS account id`);
  }
  const amiGroups = d.list('ami_groups') ?? [];
  for (const group of amiGroups) {
    if (group !== 'all')
      report.error(
        d.at('ami_groups'),
        `ami_groups: ${describeValue(group)} is not accepted by AWS; the only group is "all"`,
      );
  }
  const orgArns = d.list('ami_org_arns') ?? [];
  for (const arn of orgArns) {
    if (!/^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/.test(arn)) {
      report.error(
        d.at('ami_org_arns'),
        `ami_org_arns: ${describeValue(arn)} is not an organization ARN (arn:aws:organizations::123456789012:organization/o-…)`,
      );
    }
  }
  const ouArns = d.list('ami_ou_arns') ?? [];
  for (const arn of ouArns) {
    if (
      !/^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/.test(
        arn,
      )
    ) {
      report.error(
        d.at('ami_ou_arns'),
        `ami_ou_arns: ${describeValue(arn)} is not an organizational-unit ARN (arn:aws:organizations::123456789012:ou/o-…/ou-…)`,
      );
    }
  }
  const regionKmsKeyIds = d.map('region_kms_key_ids') ?? {};
  const rawRegions = d.list('ami_regions') ?? [];
  const amiRegions: string[] = [];
  for (const r of rawRegions) {
    if (amiRegions.includes(r)) continue;
    if (!REGION.test(r)) {
      report.error(d.at('ami_regions'), `ami_regions: Unknown region: ${truncate(r, 80)}`);
      continue;
    }
    if (Object.keys(regionKmsKeyIds).length > 0 && !Object.hasOwn(regionKmsKeyIds, r)) {
      report.error(d.at('region_kms_key_ids'), `Region ${r} is in ami_regions but not in region_kms_key_ids`);
    }
    if (r === region) {
      report.warn(
        d.at('ami_regions'),
        `Cannot copy AMI to AWS session region '${r}', deleting it from \`ami_regions\`.`,
      );
      continue;
    }
    amiRegions.push(r);
  }
  for (const r of Object.keys(regionKmsKeyIds)) {
    if (!rawRegions.includes(r))
      report.error(d.at('region_kms_key_ids'), `Region ${r} is in region_kms_key_ids but not in ami_regions`);
  }
  // Packer's KMS and sharing checks still apply, so that a template valid here is valid in Packer.
  const encryptBoot = d.boolean('encrypt_boot') === true;
  const kmsKeyId = d.nonEmpty('kms_key_id');
  const kmsKeys = [
    ...(kmsKeyId === undefined ? [] : [kmsKeyId]),
    ...Object.values(regionKmsKeyIds).filter((k) => k !== ''),
  ];
  const hasRegionKeys = Object.keys(regionKmsKeyIds).length > 0;
  if (amiUsers.length > 0 || orgArns.length > 0 || ouArns.length > 0) {
    if (kmsKeyId === undefined && !hasRegionKeys && encryptBoot)
      report.error(d.path, 'Cannot share AMI encrypted with default KMS key');
    if (Object.values(regionKmsKeyIds).some((k) => k === '')) {
      report.error(d.path, 'Cannot share AMI encrypted with default KMS key for other regions');
    }
  }
  if (kmsKeys.length > 0 && !encryptBoot) {
    report.error(
      d.path,
      'If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.',
    );
  }
  for (const k of kmsKeys)
    if (!isKmsKey(k)) report.error(d.path, `${JSON.stringify(truncate(k, 100))} is not a valid KMS Key Id.`);
  if ((d.list('snapshot_users') ?? []).length > 0) {
    if (kmsKeyId === undefined && !hasRegionKeys && encryptBoot) {
      report.error(
        d.path,
        'Cannot share snapshot encrypted with default KMS key, see https://www.packer.io/docs/builders/amazon-ebs#region_kms_key_ids for more information',
      );
    }
    if (Object.values(regionKmsKeyIds).some((k) => k === ''))
      report.error(d.path, 'Cannot share snapshot encrypted with default KMS key');
  }
  const tags = mergeTags(d, 'tags', 'tag', report, {
    on: 'the AMI and its copies',
    // The family tag always; the policy tag when the template sets ami_retention (../../tags.ts, familyTags); the
    // fingerprint tag only when skip_if_unchanged adds it.
    keys: [
      ...STACK_TAG_KEYS,
      TagKeys.finished,
      TagKeys.family,
      ...(d.object('ami_retention') === undefined ? [] : [TagKeys.retention]),
      ...(d.boolean('skip_if_unchanged') === true ? [TagKeys.fingerprint] : []),
    ],
  });
  const runTags = mergeTags(d, 'run_tags', 'run_tag', report, {
    on: 'the instance, its volumes and its security group',
    keys: ['Name', ...STACK_TAG_KEYS],
    unlessSet: 'Name',
  });
  // Ignored here (no snapshots, no spot requests), but checked as Packer's maps.
  for (const [mapKey, blockKey] of [
    ['snapshot_tags', 'snapshot_tag'],
    ['spot_tags', 'spot_tag'],
    ['fleet_tags', 'fleet_tag'],
  ] as const) {
    if (d.present.has(mapKey) || d.present.has(blockKey)) mergeTags(d, mapKey, blockKey, report);
  }
  // Tag keys are templates too (Packer renders them with the tag values).
  for (const [mapKey, map] of [
    ['tags', tags],
    ['run_tags', runTags],
  ] as const) {
    for (const tagKey of Object.keys(map)) {
      const names = checkLate(tagKey, d.at(mapKey), report, ctx.env, {
        allowed: BUILD_VARIABLE_NAMES,
        describe: mapKey,
      });
      for (const n of names ?? []) lateUserVariables.add(n);
    }
  }
  const enaSupport = d.has('enhanced_networking')
    ? d.boolean('enhanced_networking')
    : d.boolean('ena_support');
  const sriovSupport = d.boolean('sriov_support') ?? false;
  const forceDeregister = d.boolean('force_deregister') ?? false;
  const forceDeleteSnapshot = d.boolean('force_delete_snapshot') ?? false;
  if (forceDeleteSnapshot && !forceDeregister) {
    report.warn(
      d.at('force_delete_snapshot'),
      'force_delete_snapshot has no effect without force_deregister',
    );
  }
  const deprecateAt = d.nonEmpty('deprecate_at');
  if (deprecateAt !== undefined && !isRfc3339(deprecateAt)) {
    report.error(
      d.at('deprecate_at'),
      `deprecate_at is not a valid time: ${JSON.stringify(truncate(deprecateAt, 80))}. Expect time format: YYYY-MM-DDTHH:MM:SSZ`,
    );
  }
  const protection = d.object('deregistration_protection');
  const withCooldown = protection?.boolean('with_cooldown') ?? false;
  const deregistrationProtection = {
    enabled: withCooldown || (protection?.boolean('enabled') ?? false),
    withCooldown,
  };
  return {
    amiName,
    virtualization,
    amiUsers,
    amiGroups,
    orgArns,
    ouArns,
    amiRegions,
    tags,
    runTags,
    enaSupport,
    sriovSupport,
    forceDeregister,
    forceDeleteSnapshot,
    deprecateAt,
    deregistrationProtection,
  };
}

export type AmiSection = ReturnType<typeof decodeAmi>;
