import { describe, expect, it } from 'vitest';
import {
  instanceFamily,
  isBurstable,
  supportsInstanceStoreRoot,
} from '../../../lambdas/shared/instance-families.js';

describe('instance families', () => {
  it('takes the family from the part before the dot', () => {
    expect(instanceFamily('m3.medium')).toBe('m3');
    expect(instanceFamily('X1.16XLARGE')).toBe('x1');
    expect(instanceFamily('t3a.nano')).toBe('t3a');
  });

  it('allows an instance-store root only on C1, C3, D2, I2, M1, M2, M3, R3 and X1', () => {
    for (const t of [
      'c1.medium',
      'c3.large',
      'd2.xlarge',
      'i2.xlarge',
      'm1.small',
      'm2.xlarge',
      'm3.medium',
      'r3.large',
      'x1.32xlarge',
    ]) {
      expect(supportsInstanceStoreRoot(t), t).toBe(true);
    }
    for (const t of ['c4.large', 'm5.large', 't2.micro', 'x1e.xlarge', 'i3.large', 'm3x.large']) {
      expect(supportsInstanceStoreRoot(t), t).toBe(false);
    }
  });

  it('recognizes the burstable families that take a credit specification', () => {
    expect(['t2.micro', 't3.small', 't3a.large', 't4g.nano'].map(isBurstable)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['m3.medium', 't1.micro', 'c3.large'].map(isBurstable)).toEqual([false, false, false]);
  });
});
