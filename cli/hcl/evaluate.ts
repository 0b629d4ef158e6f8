/**
 * Evaluation of HCL expressions, from the syntax trees HCL's own parser gives (./hcl2json.ts), with HCL's
 * semantics: literals, templates (with `%{ if }` and `%{ for }` directives), references, indexes, splats,
 * function calls (with `...` expansion), operators, conditionals and `for` expressions. Errors carry HCL's
 * summary and detail (`Unknown variable`, `Call to unknown function`, `Unsupported attribute`).
 */
import type { AstNode } from './hcl2json.js';
import {
  BuildTimeValue,
  equal,
  HclEvalError,
  type HclValue,
  isObject,
  makeObject,
  toBool,
  toList,
  toNumber,
  toStr,
  typeName,
} from './values.js';

export type HclFunction = (args: HclValue[]) => HclValue;

/** What an expression can refer to. */
export interface Scope {
  /** Root names (`var`, `local`, `path`, `build`, `source`, `data`…): a value, or a resolver of attributes. */
  roots: ReadonlyMap<string, HclValue | ((name: string) => HclValue)>;
  functions: Readonly<Record<string, HclFunction>>;
  /** Iterator variables of enclosing `for` expressions. */
  locals?: ReadonlyMap<string, HclValue>;
  /** Why a known name is not available here (e.g. `build` outside a build block). */
  unavailable?: ReadonlyMap<string, string>;
}

const MAX_DEPTH = 200;

/** Evaluates a tree; `text` is the expression's source (for object keys written as bare names). */
export function evaluate(node: AstNode, text: string, scope: Scope): HclValue {
  return new Evaluator(text).eval(node, scope, 0);
}

/** The text of a node in its expression. */
function slice(text: string, node: AstNode): string {
  return Buffer.from(text, 'utf8').subarray(node.range.start.byte, node.range.end.byte).toString('utf8');
}

/** An HCL string literal's escapes (`\n`, `\"`, `\u00e9`, `$${`, `%%{`) resolved. */
export function unescapeLiteral(raw: string): string {
  return raw
    .replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt"\\])/g, (_, e: string) => {
      switch (e[0]) {
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case 'u':
        case 'U':
          return String.fromCodePoint(Number.parseInt(e.slice(1), 16));
        default:
          return e;
      }
    })
    .replaceAll('$${', '${')
    .replaceAll('%%{', '%{');
}

function templatePart(value: HclValue): string {
  if (value === null) {
    throw new HclEvalError(
      'Invalid template interpolation value',
      'The expression result is null. Cannot include a null value in a string template.',
    );
  }
  if (Array.isArray(value) || isObject(value)) {
    throw new HclEvalError(
      'Invalid template interpolation value',
      `Cannot include the given value in a string template: string required, got ${typeName(value)}.`,
    );
  }
  if (value instanceof BuildTimeValue) return `\uE000${value.toString()}\uE000`;
  return toStr(value);
}

function indexSegment(segment: string): HclValue {
  if (segment.startsWith('"')) return JSON.parse(segment) as string;
  const number = Number(segment);
  return Number.isFinite(number) ? number : segment;
}

function getAttribute(value: HclValue, name: string, near: string): HclValue {
  if (value instanceof BuildTimeValue) {
    throw new HclEvalError('Unsupported attribute', `${value.toString()} has no attribute "${name}".`, near);
  }
  if (isObject(value)) {
    if (Object.hasOwn(value, name)) return value[name] ?? null;
    throw new HclEvalError(
      'Unsupported attribute',
      `This object does not have an attribute named "${name}".`,
      near,
    );
  }
  if (value === null)
    throw new HclEvalError(
      'Attempt to get attribute from null value',
      'This value is null, so it does not have any attributes.',
      near,
    );
  throw new HclEvalError(
    'Unsupported attribute',
    `Can't access attributes on a primitive-typed value (${typeName(value)}).`,
    near,
  );
}

function getIndex(value: HclValue, key: HclValue, near: string): HclValue {
  if (Array.isArray(value)) {
    const index = toNumber(key, 'index');
    if (!Number.isInteger(index) || index < 0 || index >= value.length) {
      throw new HclEvalError(
        'Invalid index',
        `The given key does not identify an element in this collection value: the collection has ${value.length} elements.`,
        near,
      );
    }
    return value[index] ?? null;
  }
  if (isObject(value)) {
    const name = toStr(key, 'key');
    if (Object.hasOwn(value, name)) return value[name] ?? null;
    throw new HclEvalError(
      'Invalid index',
      `The given key does not identify an element in this collection value.`,
      near,
    );
  }
  if (value === null)
    throw new HclEvalError(
      'Attempt to index null value',
      'This value is null, so it does not have any indices.',
      near,
    );
  throw new HclEvalError('Invalid index', `This value (${typeName(value)}) does not have any indices.`, near);
}

class Evaluator {
  constructor(private readonly text: string) {}

  eval(node: AstNode, scope: Scope, depth: number): HclValue {
    if (depth > MAX_DEPTH)
      throw new HclEvalError('Expression too complex', `Expressions may nest at most ${MAX_DEPTH} levels.`);
    const children = node.children ?? [];
    const next = (child: AstNode | undefined, s: Scope = scope) =>
      child === undefined ? null : this.eval(child, s, depth + 1);
    switch (node.type) {
      case 'literalValue': {
        const literal = node.meta as { type?: string; value?: string };
        if (literal.type === 'number') return Number(literal.value);
        if (literal.type === 'bool') return literal.value === 'true';
        if (literal.type === 'string') return unescapeLiteral(literal.value ?? '');
        return null;
      }
      case 'templateWrap':
        return next(children[0]);
      case 'template':
      case 'templateJoin': {
        if (children.length === 1 && children[0]?.type === 'literalValue') return toStr(next(children[0]));
        return children.map((child) => templatePart(next(child))).join('');
      }
      case '':
        return next(children[0]);
      case 'tuple':
        return children.map((child) => next(child));
      case 'object': {
        const entries: [string, HclValue][] = [];
        for (let i = 0; i + 1 < children.length; i += 2) {
          const keyNode = children[i] as AstNode;
          const key =
            (keyNode.children ?? []).length === 0
              ? slice(this.text, keyNode)
              : toStr(next(keyNode), 'object key');
          entries.push([key, next(children[i + 1])]);
        }
        return makeObject(entries);
      }
      case 'scopeTraversal':
        return this.traversal(node, scope);
      case 'relativeTraversal': {
        const meta = node.meta as { traversal?: { type: string; segment: string }[]; value?: string };
        let value = next(children[0]);
        for (const part of meta.traversal ?? []) {
          value =
            part.type === 'nameTraversal'
              ? getAttribute(value, part.segment, meta.value ?? part.segment)
              : getIndex(value, indexSegment(part.segment), meta.value ?? part.segment);
        }
        return value;
      }
      case 'index':
        return getIndex(next(children[0]), next(children[1]), (node.meta.value as string) ?? '');
      case 'splat': {
        const source = next(children[0]);
        const each = children[1];
        const items = source === null ? [] : Array.isArray(source) ? source : [source];
        return items.map((item) => (each === undefined ? item : this.withAnon(each, item, scope, depth)));
      }
      case 'function':
        return this.call(node, scope, depth);
      case 'conditional': {
        const condition = toBool(next(children[0]), 'condition');
        return condition ? next(children[1]) : children.length > 2 ? next(children[2]) : '';
      }
      case 'unaryOp': {
        const operator = node.meta.operator as string;
        const value = next(children[0]);
        if (operator === 'logicalNot') return !toBool(value, 'operand');
        return -toNumber(value, 'operand');
      }
      case 'binaryOp':
        return this.binary(node, scope, depth);
      case 'for':
        return this.forExpression(node, scope, depth);
      default:
        throw new HclEvalError(
          'Unsupported expression',
          `Expressions of type "${node.type}" are not supported here.`,
          node.meta.value,
        );
    }
  }

  /** A splat's `[*].attr` part, applied to one element. */
  private withAnon(each: AstNode, item: HclValue, scope: Scope, depth: number): HclValue {
    if (each.type !== 'relativeTraversal') return item;
    const meta = each.meta as { traversal?: { type: string; segment: string }[]; value?: string };
    let value = item;
    for (const part of meta.traversal ?? []) {
      value =
        part.type === 'nameTraversal'
          ? getAttribute(value, part.segment, part.segment)
          : getIndex(value, indexSegment(part.segment), part.segment);
    }
    void scope;
    void depth;
    return value;
  }

  private traversal(node: AstNode, scope: Scope): HclValue {
    const meta = node.meta as { traversal?: { type: string; segment: string }[]; fullAccessor?: string };
    const parts = meta.traversal ?? [];
    const full = meta.fullAccessor ?? '';
    const [root, ...rest] = parts;
    if (root === undefined) return null;
    let value: HclValue;
    let restParts = rest;
    if (scope.locals?.has(root.segment)) {
      value = scope.locals.get(root.segment) ?? null;
    } else if (scope.roots.has(root.segment)) {
      const entry = scope.roots.get(root.segment);
      if (typeof entry === 'function') {
        const [first, ...others] = rest;
        if (first === undefined) {
          throw new HclEvalError(
            'Invalid reference',
            `The "${root.segment}" object must be followed by an attribute name.`,
            full,
          );
        }
        value = entry(first.type === 'nameTraversal' ? first.segment : String(indexSegment(first.segment)));
        restParts = others;
      } else value = entry ?? null;
    } else {
      const why = scope.unavailable?.get(root.segment);
      if (why !== undefined) throw new HclEvalError('Unsupported reference', why, full);
      throw new HclEvalError('Unknown variable', `There is no variable named "${root.segment}".`, full);
    }
    for (const part of restParts) {
      value =
        part.type === 'nameTraversal'
          ? getAttribute(value, part.segment, full)
          : getIndex(value, indexSegment(part.segment), full);
    }
    return value;
  }

  private call(node: AstNode, scope: Scope, depth: number): HclValue {
    const meta = node.meta as { name?: string; expandedFinalArgument?: boolean };
    const name = meta.name ?? '';
    // can() and try() evaluate their arguments themselves, to catch their errors.
    if (name === 'can' || name === 'try') return this.tryCall(name, node, scope, depth);
    const fn = Object.hasOwn(scope.functions, name) ? scope.functions[name] : undefined;
    if (fn === undefined) {
      const why = scope.unavailable?.get(`${name}()`);
      if (why !== undefined) throw new HclEvalError('Function not available here', why, `${name}(`);
      throw new HclEvalError('Call to unknown function', `There is no function named "${name}".`, `${name}(`);
    }
    let args = (node.children ?? []).map((child) => this.eval(child, scope, depth + 1));
    if (meta.expandedFinalArgument === true && args.length > 0) {
      const last = args[args.length - 1] ?? null;
      args = [...args.slice(0, -1), ...toList(last, 'expanded argument')];
    }
    try {
      return fn(args);
    } catch (error) {
      if (error instanceof HclEvalError) {
        throw new HclEvalError(error.summary, error.detail, error.near ?? `${name}(`);
      }
      // Not a failure of the function: the caller must do something first (parse a template file) and retry.
      if (error instanceof Error && error.name === 'NeedsParsing') throw error;
      throw new HclEvalError(
        'Error in function call',
        `Call to function "${name}" failed: ${error instanceof Error ? error.message : String(error)}.`,
        `${name}(`,
      );
    }
  }

  private tryCall(name: 'can' | 'try', node: AstNode, scope: Scope, depth: number): HclValue {
    const args = node.children ?? [];
    if (name === 'can' && args.length !== 1) {
      throw new HclEvalError('Invalid function argument', 'Function "can" expects 1 argument.', 'can(');
    }
    for (const arg of args) {
      try {
        const value = this.eval(arg, scope, depth + 1);
        return name === 'can' ? true : value;
      } catch (error) {
        if (!(error instanceof HclEvalError)) throw error;
        // Unknown functions and references are mistakes in the template, not failures to catch.
        if (error.summary === 'Call to unknown function' || error.summary === 'Unknown variable') throw error;
      }
    }
    if (name === 'can') return false;
    throw new HclEvalError(
      'Error in function call',
      'Call to function "try" failed: no expression succeeded.',
      'try(',
    );
  }

  private binary(node: AstNode, scope: Scope, depth: number): HclValue {
    const operator = node.meta.operator as string;
    const [left, right] = node.children ?? [];
    const l = left === undefined ? null : this.eval(left, scope, depth + 1);
    if (operator === 'logicalAnd' && !toBool(l, 'operand')) return false;
    if (operator === 'logicalOr' && toBool(l, 'operand')) return true;
    const r = right === undefined ? null : this.eval(right, scope, depth + 1);
    switch (operator) {
      case 'logicalAnd':
      case 'logicalOr':
        return toBool(r, 'operand');
      case 'equal':
        return equal(l, r);
      case 'notEqual':
        return !equal(l, r);
      case 'add':
        return toNumber(l, 'operand') + toNumber(r, 'operand');
      case 'subtract':
        return toNumber(l, 'operand') - toNumber(r, 'operand');
      case 'multiply':
        return toNumber(l, 'operand') * toNumber(r, 'operand');
      case 'divide': {
        const divisor = toNumber(r, 'operand');
        if (divisor === 0)
          throw new HclEvalError('Operation failed', "Error during operation: can't divide by zero.");
        return toNumber(l, 'operand') / divisor;
      }
      case 'modulo': {
        const divisor = toNumber(r, 'operand');
        if (divisor === 0)
          throw new HclEvalError('Operation failed', "Error during operation: can't divide by zero.");
        return toNumber(l, 'operand') % divisor;
      }
      case 'greaterThan':
        return toNumber(l, 'operand') > toNumber(r, 'operand');
      case 'greaterThanOrEqual':
        return toNumber(l, 'operand') >= toNumber(r, 'operand');
      case 'lessThan':
        return toNumber(l, 'operand') < toNumber(r, 'operand');
      case 'lessThanOrEqual':
        return toNumber(l, 'operand') <= toNumber(r, 'operand');
      default:
        throw new HclEvalError('Unsupported operator', `The operator "${operator}" is not supported.`);
    }
  }

  private forExpression(node: AstNode, scope: Scope, depth: number): HclValue {
    const meta = node.meta as {
      keyVar?: string;
      valVar?: string;
      keyExpression?: string;
      conditionalExpression?: string;
      groupedValue?: boolean;
    };
    const children = node.children ?? [];
    let i = 0;
    const collection = children[i++];
    const keyNode = meta.keyExpression ? children[i++] : undefined;
    const valueNode = children[i++];
    const conditionNode = meta.conditionalExpression ? children[i++] : undefined;
    const source = collection === undefined ? null : this.eval(collection, scope, depth + 1);
    let pairs: [HclValue, HclValue][];
    if (Array.isArray(source)) pairs = source.map((v, index) => [index, v]);
    else if (isObject(source))
      pairs = Object.keys(source)
        .sort()
        .map((k) => [k, source[k] ?? null]);
    else
      throw new HclEvalError(
        'Iteration over non-iterable value',
        `A value of type ${source === null ? 'null' : typeName(source)} cannot be used as the collection in a 'for' expression.`,
      );
    const isTemplate =
      node.type === 'for' &&
      valueNode?.type === 'template' &&
      keyNode === undefined &&
      children.length > 0 &&
      this.inTemplate(node);
    const results: [HclValue, HclValue][] = [];
    for (const [key, value] of pairs) {
      const locals = new Map(scope.locals ?? []);
      if (meta.keyVar) locals.set(meta.keyVar, key);
      if (meta.valVar) locals.set(meta.valVar, value);
      const inner: Scope = { ...scope, locals };
      if (conditionNode !== undefined && !toBool(this.eval(conditionNode, inner, depth + 1), 'condition'))
        continue;
      const k = keyNode === undefined ? null : this.eval(keyNode, inner, depth + 1);
      results.push([k, valueNode === undefined ? null : this.eval(valueNode, inner, depth + 1)]);
    }
    if (isTemplate) return results.map(([, v]) => templatePart(v)).join('');
    if (keyNode === undefined) return results.map(([, v]) => v);
    const grouped = new Map<string, HclValue[]>();
    const object: [string, HclValue][] = [];
    for (const [k, v] of results) {
      const key = toStr(k, 'object key');
      if (meta.groupedValue === true) grouped.set(key, [...(grouped.get(key) ?? []), v]);
      else {
        if (object.some(([existing]) => existing === key)) {
          throw new HclEvalError(
            'Duplicate object key',
            `Two different items produced the key "${key}" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.`,
          );
        }
        object.push([key, v]);
      }
    }
    return makeObject(meta.groupedValue === true ? grouped : object);
  }

  /** A `%{ for }` directive (inside a template) rather than a `[for …]` expression. */
  private inTemplate(node: AstNode): boolean {
    return typeof node.meta.value === 'string' && node.meta.value.startsWith('%{');
  }
}
