import { describe, expect, it } from 'vitest';
import { BUILDER_KEY_MAP, BUILDER_KEYS, LATE_KEYS } from '../../../../lambdas/shared/template/keys.js';

describe('the key table', () => {
  it('has each key once', () => {
    expect(BUILDER_KEY_MAP.size).toBe(BUILDER_KEYS.length);
  });

  it("renders late exactly Packer's excluded keys that exist on amazon-instance", () => {
    // Packer's RenderFilter.Exclude in builder/instance/builder.go, minus run_volume_tags (no such key here).
    expect([...LATE_KEYS].sort()).toEqual(
      [
        'ami_description',
        'bundle_upload_command',
        'bundle_vol_command',
        'fleet_tag',
        'fleet_tags',
        'run_tag',
        'run_tags',
        'snapshot_tag',
        'snapshot_tags',
        'spot_tag',
        'spot_tags',
        'tag',
        'tags',
      ].sort(),
    );
  });

  it('has every key of the seed documentation', () => {
    const seed = [
      'access_key',
      'account_id',
      'ami_name',
      'instance_type',
      'region',
      's3_bucket',
      'secret_key',
      'source_ami',
      'ssh_username',
      'x509_cert_path',
      'x509_key_path',
      'ami_block_device_mappings',
      'ami_description',
      'ami_groups',
      'ami_product_codes',
      'ami_regions',
      'ami_users',
      'ami_virtualization_type',
      'associate_public_ip_address',
      'availability_zone',
      'bundle_destination',
      'bundle_prefix',
      'bundle_upload_command',
      'bundle_vol_command',
      'iam_instance_profile',
      'launch_block_device_mappings',
      'run_tags',
      'security_group_id',
      'security_group_ids',
      'ssh_port',
      'ssh_private_key_file',
      'ssh_timeout',
      'subnet_id',
      'tags',
      'temporary_key_pair_name',
      'user_data',
      'user_data_file',
      'vpc_id',
      'x509_upload_path',
    ];
    expect(seed.filter((key) => !BUILDER_KEY_MAP.has(key))).toEqual([]);
  });

  it('marks every credential as a secret, and says why each ignored key is ignored', () => {
    for (const spec of BUILDER_KEYS) {
      if (spec.credential === true) expect(spec.secret, spec.key).toBe(true);
      if (spec.ignored !== undefined) expect(spec.ignored.length, spec.key).toBeGreaterThan(10);
    }
  });

  it('is a Map, so prototype names are never keys', () => {
    expect(BUILDER_KEY_MAP.has('constructor')).toBe(false);
    expect(BUILDER_KEY_MAP.has('__proto__')).toBe(false);
  });
});
