/**
 * Packer-style flags: `-name value`, `-name=value`, and the same with `--`; boolean flags take no value
 * (`-syntax-only`, or `-syntax-only=false`); repeatable flags collect every occurrence in order. Arguments
 * after `--` are positional.
 */

export type FlagKind = 'boolean' | 'string' | 'repeatable';

export interface FlagSpec {
  kind: FlagKind;
  description: string;
  /** Shown in usage: `-var key=value`. */
  placeholder?: string;
}

export interface ParsedArgs {
  /** Boolean flags that were given. */
  booleans: Map<string, boolean>;
  /** String and repeatable flags: every value, in order. */
  values: Map<string, string[]>;
  positional: string[];
  /** Problems, in Packer's words where Packer has them. */
  errors: string[];
}

/** Parses `argv` against the flags a command accepts. */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedArgs {
  const parsed: ParsedArgs = { booleans: new Map(), values: new Map(), positional: [], errors: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      parsed.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      parsed.errors.push(`flag provided but not defined: -${name}`);
      continue;
    }
    if (spec.kind === 'boolean') {
      if (inline === undefined) parsed.booleans.set(name, true);
      else if (/^(1|t|true|TRUE|True)$/.test(inline)) parsed.booleans.set(name, true);
      else if (/^(0|f|false|FALSE|False)$/.test(inline)) parsed.booleans.set(name, false);
      else parsed.errors.push(`invalid boolean value ${JSON.stringify(inline)} for -${name}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) {
        parsed.errors.push(`flag needs an argument: -${name}`);
        continue;
      }
      i += 1;
    }
    const previous = parsed.values.get(name) ?? [];
    parsed.values.set(name, spec.kind === 'repeatable' ? [...previous, value] : [value]);
  }
  return parsed;
}

/** The flags every command that reads a template accepts (Packer's `-var`, `-var-file`, `-only`, `-except`). */
export const TEMPLATE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  var: {
    kind: 'repeatable',
    placeholder: 'key=value',
    description: 'Variable for the template (repeatable).',
  },
  'var-file': {
    kind: 'repeatable',
    placeholder: 'file',
    description: 'Variables file: JSON, or .pkrvars.hcl for HCL2 (repeatable).',
  },
  only: { kind: 'string', placeholder: 'a,b', description: 'Build only the named builds.' },
  except: { kind: 'string', placeholder: 'a,b', description: 'Build every build but the named ones.' },
  'machine-readable': { kind: 'boolean', description: "Packer's machine-readable output." },
};

/** `-only a,b` → `['a', 'b']` (undefined when not given). */
export function listFlag(parsed: ParsedArgs, name: string): string[] | undefined {
  const values = parsed.values.get(name);
  if (values === undefined) return undefined;
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** `-var k=v` values, in order; a value without `=` is an error in Packer's words. */
export function varFlags(parsed: ParsedArgs): [string, string][] {
  const result: [string, string][] = [];
  for (const text of parsed.values.get('var') ?? []) {
    const eq = text.indexOf('=');
    if (eq <= 0)
      parsed.errors.push(
        `invalid value ${JSON.stringify(text)} for flag -var: Variable needs to be in format 'key=value'`,
      );
    else result.push([text.slice(0, eq), text.slice(eq + 1)]);
  }
  return result;
}

/** Usage lines for a set of flags. */
export function flagUsage(specs: Readonly<Record<string, FlagSpec>>): string[] {
  return Object.entries(specs).map(([name, spec]) => {
    const left = `  -${name}${spec.placeholder === undefined ? '' : ` ${spec.placeholder}`}`;
    return `${left.padEnd(30)} ${spec.description}`;
  });
}
