import { describe, expect, it } from 'vitest';
import { artifactId, artifactString } from '../../../lambdas/shared/artifact.js';

describe('artifactId', () => {
  it('joins sorted region:ami pairs with commas, as Packer does', () => {
    // Prepare
    const artifacts = { 'us-west-2': 'ami-0fed', 'eu-west-1': 'ami-0abc', 'us-east-1': 'ami-0def' };

    // Act
    const id = artifactId(artifacts);

    // Assess
    expect(id).toBe('eu-west-1:ami-0abc,us-east-1:ami-0def,us-west-2:ami-0fed');
  });

  it('sorts by bytes, not by locale', () => {
    // Prepare: upper case sorts before lower case in Go's sort.Strings.
    const artifacts = { 'us-east-1': 'ami-b', 'US-EAST-1': 'ami-a' };

    // Act
    const id = artifactId(artifacts);

    // Assess
    expect(id).toBe('US-EAST-1:ami-a,us-east-1:ami-b');
  });

  it('is empty when no AMI was created', () => {
    expect(artifactId({})).toBe('');
  });

  it('parses back the way consumers parse it (split on "," then ":")', () => {
    // Prepare
    const artifacts = { 'ap-southeast-2': 'ami-1', 'us-east-1': 'ami-2' };

    // Act
    const parsed = Object.fromEntries(
      artifactId(artifacts)
        .split(',')
        .map((pair) => pair.split(':')),
    );

    // Assess
    expect(parsed).toEqual(artifacts);
  });
});

describe('artifactString', () => {
  it('lists sorted region: ami lines under Packer’s heading, with its trailing newline', () => {
    // Prepare
    const artifacts = { 'us-west-2': 'ami-0fed', 'us-east-1': 'ami-0def' };

    // Act
    const text = artifactString(artifacts);

    // Assess
    expect(text).toBe('AMIs were created:\nus-east-1: ami-0def\nus-west-2: ami-0fed\n');
  });

  it('is empty when no AMI was created', () => {
    expect(artifactString({})).toBe('');
  });
});
