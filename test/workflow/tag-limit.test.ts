/**
 * AWS allows 50 tags per resource, and the tags this system adds count toward it: a template at the limit
 * builds with every resource at exactly 50 tags; one over it fails in the first state, before anything exists.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { BUILD_REGION, basicExample, enteredStates, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness();

const tagsOf = (count: number, prefix: string) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `value ${i}`]));

describe('the tag limit', () => {
  it('builds a template at the limit, every resource carrying exactly 50 tags', async () => {
    // Prepare: 44 tags + the 4 ownership tags + ami-builder:finished + ami-builder:family on the AMI; 45 run tags + Name + the 4 on the instance
    const h = harness();
    const template = { ...basicExample(h.x509), tags: tagsOf(44, 'tag'), run_tags: tagsOf(45, 'run') };

    // Act
    const result = await h.run(template, { label: 'tag-limit' });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    const [image] = await h.images(BUILD_REGION);
    expect(image?.Tags).toHaveLength(50);
    const [launch] = await h.emulator.launches();
    const described = await h
      .ec2()
      .send(new DescribeInstancesCommand({ InstanceIds: [launch?.instanceId ?? 'missing'] }));
    const tags = described.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    expect(tags).toHaveLength(50);
    expect(tags.map((t) => t.Key)).toContain('Name');
  });

  it('fails in Validate Template when tags and the stack’s own tags exceed 50, before anything is created', async () => {
    // Prepare
    const h = harness();
    const template = { ...basicExample(h.x509), tags: tagsOf(45, 'tag') };
    const bucketsBefore = await h.buckets();

    // Act
    const result = await h.run(template, { label: 'tag-over' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TemplateValidationError');
    expect(result.cause).toContain(
      'tags: 45 tags, plus the 6 this system adds to the AMI and its copies (ami-builder:stack, ami-builder:execution, ami-builder:build, ami-builder:on-error, ami-builder:finished, ami-builder:family), make 51; AWS allows at most 50 tags per resource, so tags may hold at most 44',
    );
    expect(enteredStates(result)).toEqual([StateNames.ValidateTemplate, StateNames.TemplateInvalid]);
    expect(await h.emulator.launches()).toEqual([]);
    expect(await h.buckets()).toEqual(bucketsBefore);
  });
});
