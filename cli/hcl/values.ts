/**
 * HCL values as JavaScript values (strings, numbers, booleans, null, lists, objects), with cty's conversions
 * and the errors Packer reports for them. A value only known at build time (an attribute of a data source) is
 * a {@link BuildTimeValue}.
 */

/** An attribute of a data source that is resolved when the build runs, such as `data.amazon-ami.x.id`. */
export class BuildTimeValue {
  constructor(
    /** `data.amazon-ami.<name>` */
    readonly source: string,
    readonly attribute: string,
  ) {}

  toString(): string {
    return `${this.source}.${this.attribute}`;
  }
}

export type HclValue =
  | string
  | number
  | boolean
  | null
  | HclValue[]
  | { [key: string]: HclValue }
  | BuildTimeValue;

/** An evaluation error: HCL's summary and detail, and the text in the expression it is about. */
export class HclEvalError extends Error {
  override readonly name = 'HclEvalError' as const;
  constructor(
    readonly summary: string,
    readonly detail: string,
    /** Source text to point at (a function name, a reference), when known. */
    readonly near?: string,
  ) {
    super(`${summary}: ${detail}`);
  }
}

export function isObject(value: HclValue | undefined): value is { [key: string]: HclValue } {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof BuildTimeValue)
  );
}

/** cty's friendly name of a value's type, for messages. */
export function typeName(value: HclValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'tuple';
  if (value instanceof BuildTimeValue) return 'string';
  return 'object';
}

/** A number as HCL prints it in a string: integers without a decimal point. */
export function numberText(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(0);
  return String(value);
}

/** A value converted to a string, as cty converts primitives; `what` names it in the error. */
export function toStr(value: HclValue, what = 'value'): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return numberText(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof BuildTimeValue) {
    throw new HclEvalError(
      'Value known only at build time',
      `${value.toString()} is resolved when the build runs: use data.amazon-ami.<name>.id as a source's source_ami (its filter becomes the source_ami_filter), or .id/.name inside strings of that source.`,
    );
  }
  if (value === null) throw new HclEvalError('Invalid value', `The ${what} is null; a string is required.`);
  throw new HclEvalError('Incorrect value type', `Invalid ${what}: string required, got ${typeName(value)}.`);
}

export function toNumber(value: HclValue, what = 'value'): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  throw new HclEvalError(
    'Incorrect value type',
    `Invalid ${what}: a number is required, got ${value === null ? 'null' : typeName(value)}.`,
  );
}

export function toBool(value: HclValue, what = 'value'): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new HclEvalError(
    'Incorrect value type',
    `Invalid ${what}: a bool is required, got ${value === null ? 'null' : typeName(value)}.`,
  );
}

export function toList(value: HclValue, what = 'value'): HclValue[] {
  if (Array.isArray(value)) return value;
  throw new HclEvalError(
    'Incorrect value type',
    `Invalid ${what}: a list is required, got ${value === null ? 'null' : typeName(value)}.`,
  );
}

export function toMap(value: HclValue, what = 'value'): { [key: string]: HclValue } {
  if (isObject(value)) return value;
  throw new HclEvalError(
    'Incorrect value type',
    `Invalid ${what}: a map or object is required, got ${value === null ? 'null' : typeName(value)}.`,
  );
}

/** Deep equality, as HCL's `==`. */
export function equal(a: HclValue, b: HclValue): boolean {
  if (a instanceof BuildTimeValue || b instanceof BuildTimeValue) return String(a) === String(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, i) => equal(v, b[i] ?? null))
    );
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && equal(a[k] ?? null, b[k] ?? null))
    );
  }
  return a === b;
}

/** An object with keys that cannot reach Object.prototype. */
export function makeObject(entries: Iterable<[string, HclValue]>): { [key: string]: HclValue } {
  const result: { [key: string]: HclValue } = {};
  for (const [key, value] of entries) {
    Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return result;
}
