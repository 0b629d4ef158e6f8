/**
 * The retention policy of an image family (`ami_retention`, or the stack's `retention` default), apart from the
 * task runtime so that template validation can use it. The policy a template sets travels with its images as the
 * tag `ami-builder:retention` (see {@link encodeRetentionPolicy}), so that the daily run applies each family's
 * own policy without the template.
 */
import type { FamilyRetentionReport } from './state.js';

/** What a family keeps. An image goes only when every rule set lets it go. */
export interface RetentionPolicy {
  /** `keep_latest`: the newest N builds of the family are kept. */
  keepLatest?: number;
  /** `keep_days`: builds younger than N days are kept. */
  keepDays?: number;
  /**
   * `deprecate_first_days`: an image beyond the policy is deprecated first (EnableImageDeprecation) and
   * deregistered only N days after its deprecation. 0 or absent: deregistered at once.
   */
  deprecateFirstDays?: number;
  /** `delete_bundles` (default true): the deregistered image's S3 bundle (manifest and parts) is deleted. */
  deleteBundles: boolean;
}

/** The policy a build applies, and where it comes from. */
export interface BuildRetention extends RetentionPolicy {
  /** `template`: the template's `ami_retention`; `stack`: the stack's `retention` default. */
  source: 'template' | 'stack';
}

/** Bounds of the policy's numbers (validation and the stack's context). */
export const RETENTION_LIMITS = {
  keepLatest: { min: 1, max: 1000 },
  keepDays: { min: 1, max: 36_500 },
  deprecateFirstDays: { min: 0, max: 3650 },
} as const;

/** The environment variable that carries the stack's `retention` default, encoded as the tag writes it. */
export const RETENTION_DEFAULT_ENV = 'RETENTION_DEFAULT';

/** Longest family name: the value of the `ami-builder:family` tag (AWS allows 256 characters). */
export const MAX_FAMILY_LENGTH = 256;

/**
 * The default family of a build: its builder name and its `ami_name` as written (before `{{timestamp}}` and
 * friends are rendered), so that every build of one template builder belongs to one family.
 */
export function defaultFamily(buildName: string, rawAmiName: string): string {
  return `${buildName}:${rawAmiName}`.slice(0, MAX_FAMILY_LENGTH);
}

/** The policy as a tag value: `keep_latest=2;keep_days=30;deprecate_first_days=7;delete_bundles=true`. */
export function encodeRetentionPolicy(policy: RetentionPolicy): string {
  const parts: string[] = [];
  if (policy.keepLatest !== undefined) parts.push(`keep_latest=${policy.keepLatest}`);
  if (policy.keepDays !== undefined) parts.push(`keep_days=${policy.keepDays}`);
  if (policy.deprecateFirstDays !== undefined && policy.deprecateFirstDays > 0)
    parts.push(`deprecate_first_days=${policy.deprecateFirstDays}`);
  parts.push(`delete_bundles=${policy.deleteBundles}`);
  return parts.join(';');
}

function inRange(value: number, limits: { min: number; max: number }): boolean {
  return Number.isInteger(value) && value >= limits.min && value <= limits.max;
}

/**
 * Reads a policy tag back; undefined for anything that is not exactly what {@link encodeRetentionPolicy} writes
 * with numbers in range (a tag edited by hand to something else is ignored, and the stack's default applies).
 */
export function decodeRetentionPolicy(value: string | undefined): RetentionPolicy | undefined {
  if (value === undefined || value === '') return undefined;
  const policy: RetentionPolicy = { deleteBundles: true };
  let sawDeleteBundles = false;
  for (const part of value.split(';')) {
    const match = /^([a-z_]+)=(\S+)$/.exec(part);
    if (match === null) return undefined;
    const [, key, raw] = match as unknown as [string, string, string];
    if (key === 'delete_bundles') {
      if (raw !== 'true' && raw !== 'false') return undefined;
      policy.deleteBundles = raw === 'true';
      sawDeleteBundles = true;
      continue;
    }
    if (!/^\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    if (key === 'keep_latest' && inRange(n, RETENTION_LIMITS.keepLatest)) policy.keepLatest = n;
    else if (key === 'keep_days' && inRange(n, RETENTION_LIMITS.keepDays)) policy.keepDays = n;
    else if (key === 'deprecate_first_days' && inRange(n, RETENTION_LIMITS.deprecateFirstDays))
      policy.deprecateFirstDays = n;
    else return undefined;
  }
  if (!sawDeleteBundles || (policy.keepLatest === undefined && policy.keepDays === undefined))
    return undefined;
  return policy;
}

/** The policy in words, for reports: `keep the 2 newest builds, deprecate 7 days before deregistering`. */
export function describeRetentionPolicy(policy: RetentionPolicy): string {
  const keep: string[] = [];
  if (policy.keepLatest !== undefined) keep.push(`the ${policy.keepLatest} newest build(s)`);
  if (policy.keepDays !== undefined) keep.push(`builds younger than ${policy.keepDays} day(s)`);
  const deprecate =
    policy.deprecateFirstDays !== undefined && policy.deprecateFirstDays > 0
      ? `deprecate, then deregister ${policy.deprecateFirstDays} day(s) later`
      : 'deregister at once';
  return `keep ${keep.join(' and ')}; ${deprecate}; ${policy.deleteBundles ? 'delete' : 'keep'} the bundles`;
}

/** A family's lines: its policy, then one line per image. */
export function describeFamilyRetention(f: FamilyRetentionReport): string[] {
  const lines = [`Family ${f.family} (${f.summary}; policy from ${f.policy.source}): ${f.builds} build(s)`];
  if (f.actions.length === 0) lines.push('  nothing beyond the policy');
  for (const a of f.actions) {
    lines.push(
      `  ${a.action}: ${a.imageId} (${a.region}${a.name === undefined ? '' : `, ${a.name}`}): ${a.reason}` +
        (a.bundle === undefined ? '' : `; bundle ${a.bundle}`),
    );
  }
  return lines;
}
