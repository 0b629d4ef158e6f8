/**
 * The command line `ami-builder build` and `ami-builder local` share: Packer's `packer build` flags (`-var`,
 * `-var-file`, `-only`, `-except`, `-force`, `-on-error`, `-parallel-builds`, `-machine-readable`,
 * `-timestamp-ui`, `-color`), `-manifest`, and the one TEMPLATE argument.
 */
import {
  type FlagSpec,
  listFlag,
  type ParsedArgs,
  type RunFlags,
  runFlags,
  TEMPLATE_FLAGS,
  varFlags,
} from './args.js';
import type { CliIo } from './io.js';
import { parseArgsWithManifest } from './outcome.js';
import type { OutputFlags } from './progress/printer.js';

export interface RunOptions extends RunFlags {
  file: string;
  vars: Map<string, string>;
  varFiles: string[];
  only?: string[];
  except?: string[];
  machineReadable: boolean;
  manifest?: string;
}

/**
 * Parses a run's argv with `specs` (which include {@link TEMPLATE_FLAGS} and the run flags). Prints the notes on
 * Packer-only flags, and on errors the errors and `usage`; returns undefined then.
 */
export function parseRunArgs(
  argv: readonly string[],
  io: CliIo,
  specs: Readonly<Record<string, FlagSpec>>,
  usage: string,
  name: string,
  extra: (parsed: ParsedArgs) => void = () => {},
): { options: RunOptions; parsed: ParsedArgs } | undefined {
  const { parsed, manifest } = parseArgsWithManifest(argv, specs);
  const vars = varFlags(parsed);
  if (parsed.positional.length !== 1) parsed.errors.push(`${name} expects exactly one TEMPLATE argument`);
  const only = listFlag(parsed, 'only');
  const except = listFlag(parsed, 'except');
  if ((only?.length ?? 0) > 0 && (except?.length ?? 0) > 0) {
    parsed.errors.push("Only one of '-only' or '-except' may be specified.");
  }
  const flags = runFlags(parsed);
  extra(parsed);
  for (const note of parsed.notes) io.err(`Note: ${note}`);
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) io.err(e);
    io.err('');
    io.err(usage);
    return undefined;
  }
  return {
    parsed,
    options: {
      ...flags,
      file: parsed.positional[0] ?? '',
      vars: new Map(vars),
      varFiles: parsed.values.get('var-file') ?? [],
      only,
      except,
      machineReadable: parsed.booleans.get('machine-readable') === true,
      manifest,
    },
  };
}

/** The printer's flags: colours only on a terminal, unless `-color` says otherwise, and never with NO_COLOR. */
export function outputFlags(options: RunOptions, io: CliIo): OutputFlags {
  const terminal = io.stdoutIsTerminal === true && (io.env.NO_COLOR ?? '') === '';
  return {
    machineReadable: options.machineReadable,
    timestampUi: options.timestampUi,
    color: !options.machineReadable && options.color !== false && terminal,
  };
}

export { TEMPLATE_FLAGS };
