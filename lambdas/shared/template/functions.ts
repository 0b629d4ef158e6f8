/**
 * Packer's template functions (hashicorp/packer-plugin-sdk template/interpolate/funcs.go, and the amazon
 * plugin's `clean_resource_name`), for the engine in ./engine.ts.
 *
 * Functions check their arguments as Go's text/template checks them against the Go signature, and fail with
 * Go's words (`wrong number of args for user: want 1 got 0`). Failures inside a function keep Packer's
 * messages (`Error: variable not set: name`); the engine prefixes them with `error calling NAME:`.
 */

import { TEMPLATE_LIMITS, type TemplateFunction, TemplateRenderError } from './engine.js';
import { goTypeName, isGoInt } from './go-fmt.js';
import { formatGoTime, RFC3339_LAYOUT } from './go-time.js';

/**
 * What `packer_version` returns by default: the Packer release whose template behaviour this system
 * follows. Override it with {@link FunctionOptions.packerVersion}.
 */
export const PACKER_VERSION = '1.16.0';

export interface FunctionOptions {
  /** Packer's InitTime: `timestamp` is its Unix seconds, `isotime` formats it (in UTC). */
  now: Date;
  /** `uuid`: a generator such as `seededUuid(executionId)` (./uuid.ts), so retries render the same names. */
  uuid: () => string;
  /** `user "name"`. A name that is not here fails with Packer's `Error: variable not set: name`. */
  userVariables: Record<string, string>;
  /**
   * `env "NAME"`: the value, or undefined for an unset variable (which renders as "", as Packer does).
   * @default absent: `env` fails, because only the CLI may read its environment.
   */
  env?: (name: string) => string | undefined;
  /** `template_dir`: the absolute directory of the template file. @default absent: `template_dir` fails. */
  templateDir?: string;
  /** `pwd`: the working directory. @default absent: `pwd` fails. */
  pwd?: string;
  /** `build "Name"`: a build variable such as `SourceAMIName`. @default absent: `build` fails. */
  build?: (name: string) => string;
  /** `build_name`: the build's name. @default absent: fails with Packer's `build_name not available`. */
  buildName?: string;
  /** `build_type`: the builder type. @default absent: fails with Packer's `build_type not available`. */
  buildType?: string;
  /** `packer_version`. @default {@link PACKER_VERSION} */
  packerVersion?: string;
}

type ArgType = 'string' | 'int';

/** Checks a call against a Go signature; throws the errors Go's text/template reports for bad calls. */
function expectArgs(name: string, args: readonly unknown[], types: readonly ArgType[]): void {
  if (args.length !== types.length) {
    throw new TemplateRenderError(
      `template: wrong number of args for ${name}: want ${types.length} got ${args.length}`,
    );
  }
  types.forEach((type, i) => {
    checkType(name, args[i], type, i);
  });
}

function checkType(name: string, value: unknown, type: ArgType, index: number): void {
  const ok = type === 'string' ? typeof value === 'string' : isGoInt(value);
  if (!ok) {
    throw new TemplateRenderError(
      `template: wrong type for value; expected ${type}; got ${goTypeName(value)} (argument ${index + 1} of ${name})`,
    );
  }
}

function cliOnly(name: string, inVariableDefaults: boolean): Error {
  const where = inVariableDefaults
    ? 'the ami-builder CLI (validate, build, local), in variable defaults'
    : 'the ami-builder CLI (validate, build, local)';
  return new Error(
    `{{${name}}} is resolved only by ${where}; inside the workflow pass the value as a variable instead`,
  );
}

const ALLOWED_IN_RESOURCE_NAME = new Set(['(', ')', '[', ']', ' ', '.', '/', '-', "'", '@', '_']);

/**
 * Packer amazon's `clean_resource_name` (and the older `clean_ami_name`): every byte that is not an ASCII
 * letter or digit and not one of `( ) [ ] space . / - ' @ _` becomes `-`. Packer works on the UTF-8 bytes,
 * so a non-ASCII character becomes one `-` per byte (`é` → `--`), which keeps names within what EC2 accepts.
 */
export function cleanResourceName(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) {
      const alphanumeric =
        (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
      out += alphanumeric || ALLOWED_IN_RESOURCE_NAME.has(char) ? char : '-';
    } else {
      out += '-'.repeat(Buffer.byteLength(char, 'utf8'));
    }
  }
  return out;
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Go's strings.ToUpper/ToLower map each rune to one rune (simple case mapping); JavaScript may expand. */
function mapCase(value: string, upper: boolean): string {
  if (isAscii(value)) return upper ? value.toUpperCase() : value.toLowerCase();
  let out = '';
  for (const char of value) {
    if (!upper && char === '\u0130') {
      out += 'i';
      continue;
    }
    const mapped = upper ? char.toUpperCase() : char.toLowerCase();
    out += mapped.length === char.length || [...mapped].length === 1 ? mapped : char;
  }
  return out;
}

function ensureLength(length: number): void {
  if (length > TEMPLATE_LIMITS.maxOutputLength) {
    throw new Error(
      `the result would be ${length} characters long; the limit is ${TEMPLATE_LIMITS.maxOutputLength}`,
    );
  }
}

/** Go's strings.Replace(src, old, new, n): n < 0 replaces all; an empty `old` matches before every rune. */
export function goReplace(src: string, old: string, replacement: string, n: number): string {
  if (old === replacement || n === 0) return src;
  if (old === '') {
    const runes = [...src];
    const count = n < 0 || n > runes.length + 1 ? runes.length + 1 : n;
    ensureLength(src.length + count * replacement.length);
    let out = '';
    for (let i = 0; i < runes.length; i++) out += i < count ? replacement + runes[i] : runes[i];
    return count > runes.length ? out + replacement : out;
  }
  const parts = src.split(old);
  const matches = parts.length - 1;
  if (matches === 0) return src;
  const count = n < 0 || n > matches ? matches : n;
  ensureLength(src.length + count * (replacement.length - old.length));
  return (
    parts.slice(0, count + 1).join(replacement) +
    (count < matches ? old + parts.slice(count + 1).join(old) : '')
  );
}

/** Packer's `split`: strings.Split(value, separator)[index], failing with Packer's message when too short. */
function split(value: string, separator: string, index: number): string {
  if (index < 0) throw new Error(`runtime error: index out of range [${index}]`);
  const parts = separator === '' ? [...value] : value.split(separator);
  const part = parts[index];
  if (part === undefined) {
    throw new Error(
      `the substring ${index} was unavailable using the separator value, ${separator}, only ${parts.length} values were found`,
    );
  }
  return part;
}

/**
 * Packer's template functions bound to one build's context: `timestamp isotime uuid user env template_dir
 * pwd build build_name build_type packer_version clean_resource_name clean_ami_name upper lower replace
 * replace_all split sed`, plus `consul_key vault aws_secretsmanager aws_secretsmanager_raw`, which (as in
 * Packer outside the variables section) always fail. `strftime` is not provided.
 */
export function packerFunctions(options: FunctionOptions): Record<string, TemplateFunction> {
  const unixSeconds = Math.floor(options.now.getTime() / 1000);
  const variablesOnly = (name: string, message: string): TemplateFunction => {
    return (...args: unknown[]) => {
      args.forEach((arg, i) => {
        checkType(name, arg, 'string', i);
      });
      throw new Error(message);
    };
  };
  return {
    timestamp: (...args) => {
      expectArgs('timestamp', args, []);
      return String(unixSeconds);
    },
    isotime: (...args) => {
      args.forEach((arg, i) => {
        checkType('isotime', arg, 'string', i);
      });
      if (args.length > 1) throw new Error(`too many values, 1 needed: [${args.join(' ')}]`);
      return formatGoTime(options.now, args.length === 0 ? RFC3339_LAYOUT : (args[0] as string));
    },
    uuid: (...args) => {
      expectArgs('uuid', args, []);
      return options.uuid();
    },
    user: (...args) => {
      expectArgs('user', args, ['string']);
      const name = args[0] as string;
      if (!Object.hasOwn(options.userVariables, name)) throw new Error(`Error: variable not set: ${name}`);
      return options.userVariables[name];
    },
    env: (...args) => {
      expectArgs('env', args, ['string']);
      if (!options.env) throw cliOnly('env', true);
      return options.env(args[0] as string) ?? '';
    },
    template_dir: (...args) => {
      expectArgs('template_dir', args, []);
      if (options.templateDir === undefined) throw cliOnly('template_dir', false);
      return options.templateDir;
    },
    pwd: (...args) => {
      expectArgs('pwd', args, []);
      if (options.pwd === undefined) throw cliOnly('pwd', false);
      return options.pwd;
    },
    build: (...args) => {
      expectArgs('build', args, ['string']);
      const name = args[0] as string;
      if (!options.build) {
        throw new Error(
          `the build variable ${name} is not available here; build variables exist only while a build runs`,
        );
      }
      return options.build(name);
    },
    build_name: (...args) => {
      expectArgs('build_name', args, []);
      if (!options.buildName) throw new Error('build_name not available');
      return options.buildName;
    },
    build_type: (...args) => {
      expectArgs('build_type', args, []);
      if (!options.buildType) throw new Error('build_type not available');
      return options.buildType;
    },
    packer_version: (...args) => {
      expectArgs('packer_version', args, []);
      return options.packerVersion ?? PACKER_VERSION;
    },
    clean_resource_name: (...args) => {
      expectArgs('clean_resource_name', args, ['string']);
      return cleanResourceName(args[0] as string);
    },
    clean_ami_name: (...args) => {
      expectArgs('clean_ami_name', args, ['string']);
      return cleanResourceName(args[0] as string);
    },
    upper: (...args) => {
      expectArgs('upper', args, ['string']);
      return mapCase(args[0] as string, true);
    },
    lower: (...args) => {
      expectArgs('lower', args, ['string']);
      return mapCase(args[0] as string, false);
    },
    replace: (...args) => {
      expectArgs('replace', args, ['string', 'string', 'int', 'string']);
      return goReplace(args[3] as string, args[0] as string, args[1] as string, args[2] as number);
    },
    replace_all: (...args) => {
      expectArgs('replace_all', args, ['string', 'string', 'string']);
      return goReplace(args[2] as string, args[0] as string, args[1] as string, -1);
    },
    split: (...args) => {
      expectArgs('split', args, ['string', 'string', 'int']);
      return split(args[0] as string, args[1] as string, args[2] as number);
    },
    sed: (...args) => {
      expectArgs('sed', args, ['string', 'string']);
      throw new Error(
        'template function `sed` is deprecated use `replace` or `replace_all` instead.' +
          'Documentation: https://www.packer.io/docs/templates/engine',
      );
    },
    consul_key: variablesOnly('consul_key', 'consul_key is not allowed here'),
    vault: variablesOnly('vault', 'Vault vars are only allowed in the variables section'),
    aws_secretsmanager: variablesOnly(
      'aws_secretsmanager',
      'AWS Secrets Manager is only allowed in the variables section',
    ),
    aws_secretsmanager_raw: variablesOnly(
      'aws_secretsmanager_raw',
      'AWS Secrets Manager is only allowed in the variables section',
    ),
  };
}
