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
  /** Packer flags that mean nothing here: why, and what to use instead (printed, never refused). */
  notes: string[];
}

/** A Packer flag this command has no use for, and why; `takesValue` when Packer's flag takes a value. */
export interface PackerOnlyFlag {
  takesValue: boolean;
  why: string;
}

/**
 * Packer's flags (`packer build`, `packer validate`) that have no meaning here. Each is accepted with a note saying
 * why, so that a command line written for Packer runs.
 */
export const PACKER_ONLY_FLAGS: Readonly<Record<string, PackerOnlyFlag>> = {
  debug: {
    takesValue: false,
    why: "a workflow cannot pause between steps for a person: use -on-error=abort to keep the instance after a failure, and `ami-builder logs <execution>` for the commands' output",
  },
  'warn-on-undeclared-var': {
    takesValue: false,
    why: 'a -var or -var-file value the template does not declare is always reported as an error',
  },
  'no-warn-undeclared-var': {
    takesValue: false,
    why: 'a -var or -var-file value the template does not declare is always reported as an error',
  },
  'ignore-prerelease-plugins': { takesValue: false, why: 'there are no plugins: the builder is built in' },
  'use-sequential-evaluation': {
    takesValue: false,
    why: 'only for HCL2 locals; the order is always sequential',
  },
  'evaluate-datasources': { takesValue: false, why: 'there are no data sources to evaluate' },
};

/** Packer flags that only `build` and `local` use: `validate` accepts and explains them. */
export const RUN_ONLY_FLAGS: Readonly<Record<string, PackerOnlyFlag>> = {
  force: { takesValue: false, why: 'it applies to `ami-builder build` and `local` (force_deregister)' },
  'on-error': { takesValue: true, why: 'it applies to `ami-builder build` and `local` (on_error)' },
  'parallel-builds': { takesValue: true, why: 'it applies to `ami-builder build` and `local`' },
  'timestamp-ui': { takesValue: false, why: 'it applies to `ami-builder build` and `local`' },
  color: { takesValue: false, why: 'validate prints no colours' },
};

/** Parses `argv` against the flags a command accepts. */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedArgs {
  const parsed: ParsedArgs = {
    booleans: new Map(),
    values: new Map(),
    positional: [],
    errors: [],
    notes: [],
  };
  const unused: Readonly<Record<string, PackerOnlyFlag>> = { ...RUN_ONLY_FLAGS, ...PACKER_ONLY_FLAGS };
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
      const packer = Object.hasOwn(unused, name) ? unused[name] : undefined;
      if (packer === undefined) {
        parsed.errors.push(`flag provided but not defined: -${name}`);
        continue;
      }
      parsed.notes.push(`Packer's -${name} has no effect here: ${packer.why}.`);
      if (packer.takesValue && inline === undefined) i += 1;
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
  only: { kind: 'repeatable', placeholder: 'a,b', description: 'Build only the named builds.' },
  except: { kind: 'repeatable', placeholder: 'a,b', description: 'Build every build but the named ones.' },
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

/** Packer's flags of `packer build`, with Packer's meaning, for `ami-builder build` and `ami-builder local`. */
export const RUN_FLAGS: Readonly<Record<string, FlagSpec>> = {
  force: {
    kind: 'boolean',
    description: 'Deregister existing AMIs of the same name first (force_deregister for this run).',
  },
  'on-error': {
    kind: 'string',
    placeholder: 'cleanup|abort|run-cleanup-provisioner',
    description:
      'After a failure: cleanup (default), abort (keep the instance and security group), or run-cleanup-provisioner (the error-cleanup-provisioner, then keep them). Overrides on_error.',
  },
  'parallel-builds': {
    kind: 'string',
    placeholder: 'N',
    description: 'Run at most N builds at once (0, the default: no limit).',
  },
  'timestamp-ui': { kind: 'boolean', description: 'Start each line with its UTC time (RFC 3339).' },
  color: {
    kind: 'boolean',
    description: 'Colours on a terminal (default true; -color=false turns them off).',
  },
};

/** The values Packer's `-on-error` takes here (`ask` needs a person at the terminal). */
export const ON_ERROR_VALUES = ['cleanup', 'abort', 'run-cleanup-provisioner'] as const;
export type OnError = (typeof ON_ERROR_VALUES)[number];

/** The run flags, checked. */
export interface RunFlags {
  force: boolean;
  onError?: OnError;
  parallelBuilds?: number;
  timestampUi: boolean;
  /** undefined: colours when standard output is a terminal. */
  color?: boolean;
}

/** Reads {@link RUN_FLAGS}; problems go to `parsed.errors` with what is allowed. */
export function runFlags(parsed: ParsedArgs): RunFlags {
  const flags: RunFlags = {
    force: parsed.booleans.get('force') === true,
    timestampUi: parsed.booleans.get('timestamp-ui') === true,
    color: parsed.booleans.get('color'),
  };
  const onError = parsed.values.get('on-error')?.[0];
  if (onError !== undefined) {
    if ((ON_ERROR_VALUES as readonly string[]).includes(onError)) flags.onError = onError as OnError;
    else if (onError === 'ask')
      parsed.errors.push(
        '-on-error=ask needs a person at the terminal, which a workflow does not have: use -on-error=abort to keep the instance for debugging',
      );
    else
      parsed.errors.push(
        `invalid value ${JSON.stringify(onError)} for flag -on-error: allowed values are ${ON_ERROR_VALUES.join(', ')}`,
      );
  }
  const parallel = parsed.values.get('parallel-builds')?.[0];
  if (parallel !== undefined) {
    if (/^\d+$/.test(parallel) && Number(parallel) <= 1000) flags.parallelBuilds = Number(parallel);
    else
      parsed.errors.push(
        `invalid value ${JSON.stringify(parallel)} for flag -parallel-builds: a whole number, 0 for no limit`,
      );
  }
  return flags;
}

/**
 * Applies `-force` and `-on-error` to a parsed template (in place), as Packer applies them to every builder:
 * `force_deregister: true`, `on_error: <value>`. A wrapped template (`{ "template": … }`) is changed inside.
 */
export function applyRunFlags(input: unknown, flags: Pick<RunFlags, 'force' | 'onError'>): void {
  if (!flags.force && flags.onError === undefined) return;
  const root = input as Record<string, unknown> | null;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return;
  if (Object.hasOwn(root, 'template')) {
    if (typeof root.template === 'string') {
      try {
        const inner = JSON.parse(root.template) as unknown;
        applyRunFlags(inner, flags);
        root.template = JSON.stringify(inner);
      } catch {
        // validation reports it
      }
    } else applyRunFlags(root.template, flags);
    return;
  }
  const builders = Array.isArray(root.builders)
    ? root.builders
    : Object.hasOwn(root, 'builders')
      ? []
      : [root];
  for (const builder of builders) {
    if (typeof builder !== 'object' || builder === null || Array.isArray(builder)) continue;
    const b = builder as Record<string, unknown>;
    if (b.type !== undefined && b.type !== 'amazon-instance') continue;
    if (flags.force) b.force_deregister = true;
    if (flags.onError !== undefined) b.on_error = flags.onError;
  }
}
