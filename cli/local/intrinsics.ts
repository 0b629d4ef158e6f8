/**
 * Resolves the CloudFormation intrinsics the synthesized stack uses (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split`) to the values a local "deployment" into the emulator gives them, so that the local run
 * uses exactly the synthesized definition and environment.
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, { Default?: unknown }>;
  Outputs?: Record<string, { Value: unknown }>;
}

export interface ResolveContext {
  partition: string;
  region: string;
  account: string;
  stackName: string;
  /** The physical id a `Ref` to the resource returns. */
  ref(logicalId: string): string;
  /** The value of `Fn::GetAtt [logicalId, attribute]`. */
  getAtt(logicalId: string, attribute: string): string;
}

export class UnresolvableError extends Error {
  override readonly name = 'UnresolvableError';
}

const pseudo = (name: string, ctx: ResolveContext): string | undefined => {
  switch (name) {
    case 'AWS::Partition':
      return ctx.partition;
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.account;
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::NoValue':
      return undefined;
    default:
      return undefined;
  }
};

/** Resolves every intrinsic inside `value`, recursively. */
export function resolveIntrinsics(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, ctx));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = obj[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        if (name.startsWith('AWS::')) return pseudo(name, ctx);
        return ctx.ref(name);
      }
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return ctx.getAtt(String(id), String(attr));
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolveIntrinsics(parts, ctx) as unknown[]).map((p) => String(p)).join(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = resolveIntrinsics(list, ctx) as unknown[];
        return items[Number(resolveIntrinsics(index, ctx))];
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, unknown];
        return String(resolveIntrinsics(source, ctx)).split(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg)
          ? (arg as [string, Record<string, unknown>])
          : [String(arg), {}];
        const resolvedVars = resolveIntrinsics(vars, ctx) as Record<string, unknown>;
        return text.replace(/\$\{([^}]+)\}/g, (_m, expr: string) => {
          if (expr in resolvedVars) return String(resolvedVars[expr]);
          if (expr.startsWith('AWS::')) return String(pseudo(expr, ctx) ?? '');
          const [id, attr] = expr.split('.');
          return attr ? ctx.getAtt(String(id), attr) : ctx.ref(String(id));
        });
      }
      default:
        if (key.startsWith('Fn::')) throw new UnresolvableError(`intrinsic ${key} is not supported locally`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = resolveIntrinsics(obj[k], ctx);
  return out;
}
