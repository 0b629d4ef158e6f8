/**
 * cdk-nag (v3) acknowledgements. cdk-nag 3 reports each IAM wildcard as its own finding,
 * `AwsSolutions-IAM5[Resource::<flattened ARN>]`, and an acknowledgement must name that exact finding; these
 * helpers compute the names the same way cdk-nag does, so a grant and the reason for its wildcard stay together.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Flattens a resolved CloudFormation value the way cdk-nag does (`Fn::Join` joined, `Ref` → `<Name>`,
 * `Fn::GetAtt` → `<Resource.Attribute>`, `${x}` → `<x>`).
 */
export function flattenCfnReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (value !== null && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    const join = v['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (v['Fn::Sub'] !== undefined) return flattenCfnReference(v['Fn::Sub']);
    const getAtt = v['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenCfnReference(getAtt[0])}.${flattenCfnReference(getAtt[1])}>`;
    }
    if (v['Fn::ImportValue'] !== undefined) return flattenCfnReference(v['Fn::ImportValue']);
    if (v.Ref !== undefined) return `<${flattenCfnReference(v.Ref)}>`;
  }
  return JSON.stringify(value);
}

/** The IAM5 finding names of the wildcard resources among `resources` (tokens resolved in `scope`'s stack). */
export function wildcardFindings(scope: IConstruct, resources: readonly string[]): string[] {
  const stack = Stack.of(scope);
  return resources
    .map((r) => flattenCfnReference(stack.resolve(r)))
    .filter((r) => r.includes('*'))
    .map((r) => `AwsSolutions-IAM5[Resource::${r}]`);
}

/**
 * Acknowledges the IAM5 findings of each grant's wildcard resources on `scope` (a role: its default policy is
 * covered), once per finding, with the reasons of every grant that produced it.
 */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  grants: readonly { resources: readonly string[]; reason: string }[],
): void {
  const reasons = new Map<string, string[]>();
  for (const grant of grants) {
    for (const id of wildcardFindings(scope, grant.resources)) {
      const list = reasons.get(id) ?? [];
      if (!list.includes(grant.reason)) list.push(grant.reason);
      reasons.set(id, list);
    }
  }
  for (const [id, list] of reasons) Validations.of(scope).acknowledge({ id, reason: list.join(' ') });
}
