/**
 * Variable type constraints (`string`, `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([…])`,
 * `object({…})`, `optional(T)`), read from the `type` expression's syntax tree, and cty's conversion of a
 * value to one of them.
 */
import type { AstNode } from './hcl2json.js';
import {
  HclEvalError,
  type HclValue,
  isObject,
  makeObject,
  toBool,
  toNumber,
  toStr,
  typeName,
} from './values.js';

export type TypeSpec =
  | { kind: 'string' | 'number' | 'bool' | 'any' }
  | { kind: 'list' | 'set' | 'map'; element: TypeSpec }
  | { kind: 'tuple'; elements: TypeSpec[] }
  | { kind: 'object'; attributes: Map<string, { type: TypeSpec; optional: boolean }> };

export const ANY: TypeSpec = { kind: 'any' };

function slice(text: string, node: AstNode): string {
  return Buffer.from(text, 'utf8').subarray(node.range.start.byte, node.range.end.byte).toString('utf8');
}

/** Reads a type constraint; throws an HclEvalError for anything that is not one. */
export function readType(node: AstNode, text: string): TypeSpec {
  if (node.type === 'templateWrap' || node.type === '') return readType(node.children[0] as AstNode, text);
  if (node.type === 'scopeTraversal') {
    const name = String(node.meta.fullAccessor ?? '');
    if (name === 'string' || name === 'number' || name === 'bool' || name === 'any') return { kind: name };
    throw new HclEvalError(
      'Invalid type specification',
      `The keyword "${name}" is not a valid type specification.`,
      name,
    );
  }
  if (node.type === 'function') {
    const name = String(node.meta.name ?? '');
    const [arg] = node.children;
    if (arg === undefined)
      throw new HclEvalError(
        'Invalid type specification',
        `The ${name} type constructor requires one argument.`,
        name,
      );
    if (name === 'list' || name === 'set' || name === 'map')
      return { kind: name, element: readType(arg, text) };
    if (name === 'optional') return readType(arg, text);
    if (name === 'tuple') {
      if (arg.type !== 'tuple')
        throw new HclEvalError(
          'Invalid type specification',
          'The tuple type constructor requires a list of element types.',
          name,
        );
      return { kind: 'tuple', elements: arg.children.map((c) => readType(c, text)) };
    }
    if (name === 'object') {
      if (arg.type !== 'object')
        throw new HclEvalError(
          'Invalid type specification',
          'The object type constructor requires an object of attribute types.',
          name,
        );
      const attributes = new Map<string, { type: TypeSpec; optional: boolean }>();
      for (let i = 0; i + 1 < arg.children.length; i += 2) {
        const keyNode = arg.children[i] as AstNode;
        const valueNode = arg.children[i + 1] as AstNode;
        const key =
          keyNode.children.length === 0
            ? slice(text, keyNode)
            : String(keyNode.children[0]?.meta.value ?? '').replace(/^"|"$/g, '');
        const optional = valueNode.type === 'function' && valueNode.meta.name === 'optional';
        attributes.set(key, { type: readType(valueNode, text), optional });
      }
      return { kind: 'object', attributes };
    }
    throw new HclEvalError(
      'Invalid type specification',
      `Keyword "${name}" is not a valid type constructor.`,
      name,
    );
  }
  throw new HclEvalError(
    'Invalid type specification',
    'A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).',
  );
}

/** `list(string)`, as HCL writes a type. */
export function typeText(type: TypeSpec): string {
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'map':
      return `${type.kind}(${typeText(type.element)})`;
    case 'tuple':
      return `tuple([${type.elements.map(typeText).join(', ')}])`;
    case 'object':
      return `object({${[...type.attributes].map(([k, v]) => `${k}=${typeText(v.type)}`).join(', ')}})`;
    default:
      return type.kind;
  }
}

/** Whether a value given as text (`-var`, `PKR_VAR_`) is taken as it is: a primitive type, as in Packer. */
export function takesRawText(type: TypeSpec): boolean {
  return type.kind === 'string' || type.kind === 'number' || type.kind === 'bool';
}

/** Converts a value to a type, as cty does; throws an HclEvalError with cty's words otherwise. */
export function convert(value: HclValue, type: TypeSpec, path = ''): HclValue {
  const at = path === '' ? '' : `${path}: `;
  if (value === null) return null;
  switch (type.kind) {
    case 'any':
      return value;
    case 'string':
      if (Array.isArray(value) || isObject(value))
        throw new HclEvalError('Invalid value for variable', `${at}string required.`);
      return toStr(value);
    case 'number':
      try {
        return toNumber(value);
      } catch {
        throw new HclEvalError('Invalid value for variable', `${at}a number is required.`);
      }
    case 'bool':
      try {
        return toBool(value);
      } catch {
        throw new HclEvalError('Invalid value for variable', `${at}a bool is required.`);
      }
    case 'list':
    case 'set': {
      if (!Array.isArray(value))
        throw new HclEvalError(
          'Invalid value for variable',
          `${at}${type.kind} of ${typeText(type.element)} required, got ${typeName(value)}.`,
        );
      const items = value.map((v, i) => convert(v, type.element, `element ${i}`));
      return type.kind === 'set'
        ? items.filter((v, i) => items.findIndex((o) => JSON.stringify(o) === JSON.stringify(v)) === i)
        : items;
    }
    case 'map': {
      if (!isObject(value))
        throw new HclEvalError(
          'Invalid value for variable',
          `${at}map of ${typeText(type.element)} required, got ${typeName(value)}.`,
        );
      return makeObject(
        Object.entries(value).map(([k, v]) => [k, convert(v, type.element, `element "${k}"`)]),
      );
    }
    case 'tuple': {
      if (!Array.isArray(value) || value.length !== type.elements.length) {
        throw new HclEvalError(
          'Invalid value for variable',
          `${at}tuple required with ${type.elements.length} elements.`,
        );
      }
      return value.map((v, i) => convert(v, type.elements[i] ?? ANY, `element ${i}`));
    }
    case 'object': {
      if (!isObject(value)) throw new HclEvalError('Invalid value for variable', `${at}object required.`);
      const entries: [string, HclValue][] = [];
      for (const [key, attribute] of type.attributes) {
        if (!Object.hasOwn(value, key)) {
          if (attribute.optional) {
            entries.push([key, null]);
            continue;
          }
          throw new HclEvalError('Invalid value for variable', `${at}attribute "${key}" is required.`);
        }
        entries.push([key, convert(value[key] ?? null, attribute.type, `attribute "${key}"`)]);
      }
      return makeObject(entries);
    }
  }
}
